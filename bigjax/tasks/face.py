"""Face recognition: an embedding trained with a margin on the hypersphere, scored by who the nearest face is.

Batches are ``{"image": float32 [b, h, w, c], "label": int32 [b]}`` (``+ "mask"`` in evaluation); the model is a
``models.face.FaceNet`` (``images -> (embeddings, cosines to the class centres)``).

Training: each face, where the task asks, mirrored left-right at random (``task.flip``) and moved by up to
``task.shift`` pixels each way (``bigjax.data.augment.shift_image``); then cross-entropy on ``margin_logits``
(``task.margin``: arcface, cosface or none; ``task.scale`` s, ``task.margin_value`` m, negative for the paper's).

Evaluation, batch by batch: that loss and the closed-set accuracy of the nearest class centre (``accuracy``); then on the split whole (``evaluate_split``) what recognition is judged by: the rank-1
``identification`` accuracy (each face's nearest training face by cosine similarity names it; the training
split is the gallery) and the ``verification_auc``, the area under the ROC curve of cosine similarity over all
pairs of the split's faces, same person or not (``bigjax.evals.faces``; left out on a split of one face per
person, which has no same-person pair). Its image ``nearest_faces`` shows the
first faces of the split beside the training face nearest each.
"""

from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from bigjax import tasks
from bigjax.data import augment
from bigjax.evals import faces
from bigjax.models import face as face_models

GALLERY_SHOWN = 8  # faces in the nearest_faces image


def init(model: nn.Module, rng: jax.Array, batch: dict[str, jnp.ndarray]) -> Any:
  return model.init({"params": rng}, batch["image"], train=False)["params"]


def margin_value(task_config: Any) -> float:
  """``task.margin_value``, or where it is negative the paper's m of ``task.margin``."""
  m = task_config.margin_value
  return face_models.PAPER_MARGINS[task_config.margin] if m < 0 else m


def margin_loss(cosines: jnp.ndarray, labels: jnp.ndarray, task_config: Any) -> jnp.ndarray:
  """``[b, k], [b] -> [b]``: cross-entropy on the margin logits."""
  logits = face_models.margin_logits(cosines, labels, task_config.margin, task_config.scale,
                                     margin_value(task_config))
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels)


def loss(model: nn.Module, params: Any, batch: dict[str, jnp.ndarray], rng: jax.Array,
         task_config: Any) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
  images = batch["image"]
  flip, shift = task_config.get("flip", False), task_config.get("shift", 0)  # absent in runs made before them
  if flip or shift:
    def one(image, key):
      flip_key, shift_key = jax.random.split(key)
      if flip:
        image = jnp.where(jax.random.bernoulli(flip_key), image[:, ::-1], image)
      return augment.shift_image(image, shift_key, shift) if shift else image
    images = jax.vmap(one)(images, jax.random.split(rng, images.shape[0]))
  _, cosines = model.apply({"params": params}, images, train=True)
  value = margin_loss(cosines, batch["label"], task_config).mean()
  return value, {"loss": value, "accuracy": jnp.mean(jnp.argmax(cosines, -1) == batch["label"])}


def evaluate(model: nn.Module, params: Any, batch: dict[str, jnp.ndarray], task_config: Any) -> dict[str, jnp.ndarray]:
  _, cosines = model.apply({"params": params}, batch["image"], train=False)
  valid = batch["mask"] > 0
  return {"loss": jnp.where(valid, margin_loss(cosines, batch["label"], task_config), 0.0).sum(),
          "accuracy": jnp.where(valid, jnp.argmax(cosines, -1) == batch["label"], False).sum().astype(jnp.float32),
          "count": valid.sum().astype(jnp.float32)}


def nearest_faces_image(probes: np.ndarray, gallery: np.ndarray, nearest: np.ndarray, correct: np.ndarray) -> np.ndarray:
  """uint8 ``[2h + 4, n (w + 4), 3]``: each probe face above the gallery face nearest it, framed green where the
  nearest face is the same person, red where not."""
  n, h, w = len(probes), probes.shape[1], probes.shape[2]
  out = np.zeros((2 * h + 4, n * (w + 4), 3), np.uint8)
  for i in range(n):
    colour = np.array([0, 200, 0] if correct[i] else [220, 0, 0], np.uint8)
    x = i * (w + 4)
    out[:, x:x + w + 4] = colour
    for row, face in ((0, probes[i]), (1, gallery[nearest[i]])):
      grey = np.clip(np.asarray(face)[..., 0] * 255.0, 0, 255).astype(np.uint8)
      out[row * (h + 2) + 1:row * (h + 2) + 1 + h, x + 2:x + 2 + w] = grey[..., None]
  return out


def embed(apply: Any, params: Any, images: np.ndarray, batch_size: int) -> np.ndarray:
  """float32 ``[N, embed_dim]``: the embeddings ``apply(params, images)`` (a jitted ``FaceNet`` call returning
  the embeddings) of ``images``, ``batch_size`` at a time (host side)."""
  return np.concatenate([np.asarray(apply(params, images[i:i + batch_size]))
                         for i in range(0, len(images), batch_size)])


def make(config: Any, model: nn.Module, optimizer: Any, context: tasks.Context = tasks.Context()) -> tasks.Task:
  t = config.task
  if t.margin not in face_models.MARGINS:
    raise ValueError(f"config.task.margin={t.margin!r} is unknown; choose one of {face_models.MARGINS}")
  if t.scale <= 0:
    raise ValueError(f"config.task.scale={t.scale} must be > 0")
  if t.get("shift", 0) < 0:
    raise ValueError(f"config.task.shift={t.shift} must be >= 0 (pixels)")
  gallery = context.train_arrays
  apply = jax.jit(lambda p, x: model.apply({"params": p}, x, train=False)[0])  # compiled once per batch shape

  def score_split(params: Any, arrays: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
    size = config.data.eval_batch_size
    gallery_embeddings = embed(apply, params, np.asarray(gallery["image"]), size)
    probe_embeddings = embed(apply, params, np.asarray(arrays["image"]), size)
    labels, gallery_labels = np.asarray(arrays["label"]), np.asarray(gallery["label"])
    nearest = np.argmax(probe_embeddings @ gallery_embeddings.T, axis=1)  # unit vectors: cosine similarity
    scores, same = faces.verification_scores(probe_embeddings, labels, "cosine")
    shown = min(GALLERY_SHOWN, len(labels))
    picture = nearest_faces_image(np.asarray(arrays["image"][:shown]), np.asarray(gallery["image"]),
                                  nearest[:shown], gallery_labels[nearest[:shown]] == labels[:shown])
    metrics = {"identification": faces.identification_accuracy(gallery_embeddings, gallery_labels,
                                                                probe_embeddings, labels, "cosine")}
    if same.any() and not same.all():  # a split of one face per person (validation) has no same-person pair
      metrics["verification_auc"] = faces.roc_auc(scores, same)
    return metrics, {"nearest_faces": picture}

  return tasks.supervised(model, t, optimizer, init=init, loss=loss, evaluate=evaluate,
                          evaluate_split=score_split if gallery else None)


parts = tasks.no_parts
