"""Semantic segmentation: a label for every pixel, trained by per-pixel cross-entropy.

Batches are ``{"image": float32 [b, h, w, c], "segmentation": int32 [b, h, w] in [0, num_classes)}`` (+ ``"mask"``
``[b]`` in evaluation); the model maps images to logits ``[b, h, w, num_classes]`` (``models.unet.UNet``). Class 1
is the foreground: the cell interior of an EM slice, a pedestrian.

Training (``loss``): each example is augmented on device from the step's rng (``bigjax.data.augment``), in this
order: a flip (``task.flips``: "dihedral", one of the 8 flips/rotations by 90 degrees; "horizontal", left-right
or not; "none"), a ``task.crop`` x ``task.crop`` window at a random place
(0: the whole image) of the image displaced by a smooth random field (``task.elastic_sigma`` pixels on a
``task.elastic_grid`` lattice; 0: none), a grey-value change (``task.grey_jitter``); then the mean cross-entropy
over the window's pixels.

Evaluation on whole images: batch by batch, the mean cross-entropy and the ``pixel_error`` (1 - pixel accuracy)
of each image, averaged over images, and each class's intersection and union pooled over the split, which
``finalize`` turns into ``foreground_iou`` (class 1) and ``mean_iou`` (over classes; ``bigjax.evals.segmentation``'s
definitions). Then on the split whole (``evaluate_split``): with ``task.rand_error``, the ISBI 2012 Rand error
of each image's foreground segments, averaged over images, and the picture ``predictions`` (input, target,
prediction; errors red where foreground was predicted on background, blue where foreground was missed).
"""

from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from bigjax import tasks
from bigjax.data import augment
from bigjax.evals import segmentation as seg_metrics

FLIPS = ("dihedral", "horizontal", "none")
SHOWN, PANEL = 2, 256  # images in the predictions picture, and the most pixels of a side shown (a centre crop)


def init(model: nn.Module, rng: jax.Array, batch: dict[str, jnp.ndarray]) -> Any:
  return model.init({"params": rng}, batch["image"], train=False)["params"]


def augment_example(image: jnp.ndarray, target: jnp.ndarray, rng: jax.Array, task_config: Any
                    ) -> tuple[jnp.ndarray, jnp.ndarray]:
  """One training example ``image [h, w, c]``, ``target [h, w]`` -> its augmented window ``[s, s, c]``, ``[s, s]``
  (``s = task.crop`` or the image's size), as the module docstring orders it."""
  t = task_config
  flip_rng, field_rng, corner_rng, grey_rng = jax.random.split(rng, 4)
  h, w = target.shape
  if t.flips != "none":  # dihedral's elements 0 and 4 are the identity and the left-right flip
    k = jax.random.randint(flip_rng, (), 0, 8) if t.flips == "dihedral" else 4 * jax.random.randint(flip_rng, (), 0, 2)
    image, target = augment.dihedral(image, target, k)
  size_h, size_w = (t.crop, t.crop) if t.crop else (h, w)
  corner = jnp.stack([jax.random.randint(corner_rng, (), 0, h - size_h + 1),
                      jax.random.randint(jax.random.fold_in(corner_rng, 1), (), 0, w - size_w + 1)])
  if t.elastic_sigma > 0:
    field = augment.elastic_field(field_rng, (h, w), t.elastic_grid, t.elastic_sigma)
    image, target = augment.warp_crop(image, target, field, corner, size_h)
  else:
    image = jax.lax.dynamic_slice(image, (corner[0], corner[1], 0), (size_h, size_w, image.shape[-1]))
    target = jax.lax.dynamic_slice(target, (corner[0], corner[1]), (size_h, size_w))
  if t.grey_jitter > 0:
    image = augment.grey_jitter(image, grey_rng, t.grey_jitter)
  return image, target


def pixel_losses(logits: jnp.ndarray, target: jnp.ndarray) -> jnp.ndarray:
  """``[b, h, w, k], [b, h, w] -> [b]``: each image's mean cross-entropy over its pixels."""
  return optax.softmax_cross_entropy_with_integer_labels(logits, target).mean(axis=(1, 2))


def loss(model: nn.Module, params: Any, batch: dict[str, jnp.ndarray], rng: jax.Array,
         task_config: Any) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
  augment_rng, dropout_rng = jax.random.split(rng)
  keys = jax.random.split(augment_rng, batch["image"].shape[0])
  images, targets = jax.vmap(lambda i, t, k: augment_example(i, t, k, task_config))(
      batch["image"], batch["segmentation"], keys)
  logits = model.apply({"params": params}, images, train=True, rngs={"dropout": dropout_rng})
  value = pixel_losses(logits, targets).mean()
  return value, {"loss": value, "pixel_error": jnp.mean(jnp.argmax(logits, -1) != targets)}


def evaluate(model: nn.Module, params: Any, batch: dict[str, jnp.ndarray], task_config: Any,
             num_classes: int) -> dict[str, jnp.ndarray]:
  logits = model.apply({"params": params}, batch["image"], train=False)
  target, pred = batch["segmentation"], jnp.argmax(logits, -1)
  valid = batch["mask"] > 0
  out = {"loss": jnp.where(valid, pixel_losses(logits, target), 0.0).sum(),
         "pixel_error": jnp.where(valid, jnp.mean(pred != target, axis=(1, 2)), 0.0).sum(),
         "count": valid.sum().astype(jnp.float32)}
  real = valid[:, None, None]
  for k in range(num_classes):
    out[f"intersection_{k}"] = jnp.sum(real & (pred == k) & (target == k)).astype(jnp.float32)
    out[f"union_{k}"] = jnp.sum(real & ((pred == k) | (target == k))).astype(jnp.float32)
  return out


def finalize(means: dict[str, float]) -> dict[str, float]:
  """The pooled intersections and unions -> ``foreground_iou`` (class 1) and ``mean_iou`` over the classes
  present in prediction or target (`bigjax.evals.segmentation.mean_iou`)."""
  out = {k: v for k, v in means.items() if not k.startswith(("intersection_", "union_"))}
  classes = sorted(int(k.split("_")[1]) for k in means if k.startswith("union_"))
  ious = {k: means[f"intersection_{k}"] / means[f"union_{k}"] for k in classes if means[f"union_{k}"] > 0}
  out["foreground_iou"] = ious.get(1, 1.0)
  out["mean_iou"] = float(np.mean(list(ious.values()))) if ious else 1.0
  return out


def predictions_image(images: np.ndarray, targets: np.ndarray, preds: np.ndarray) -> np.ndarray:
  """uint8 ``[n (s + 4), 3 (s + 4), 3]``: for each image a row of the input, its target (foreground white) and the
  prediction (right foreground white, right background black, foreground predicted on background red, foreground
  missed blue), each the centre ``s`` x ``s`` (at most ``PANEL``) of the image."""
  n, h, w = targets.shape
  sh, sw = min(h, PANEL), min(w, PANEL)
  y, x = (h - sh) // 2, (w - sw) // 2
  out = np.full((n * (sh + 4), 3 * (sw + 4), 3), 64, np.uint8)
  for i in range(n):
    image = np.clip(np.asarray(images[i, y:y + sh, x:x + sw]) * 255.0, 0, 255).astype(np.uint8)
    image = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]
    target, pred = targets[i, y:y + sh, x:x + sw] == 1, preds[i, y:y + sh, x:x + sw] == 1
    truth = np.repeat(target[..., None] * np.uint8(255), 3, axis=-1)
    shown = np.where(pred[..., None], np.uint8(255), np.uint8(0)) * np.ones(3, np.uint8)
    shown[pred & ~target] = (220, 0, 0)
    shown[~pred & target] = (0, 90, 255)
    for j, panel in enumerate((image, truth, shown)):
      out[i * (sh + 4) + 2:i * (sh + 4) + 2 + sh, j * (sw + 4) + 2:j * (sw + 4) + 2 + sw] = panel
  return out


def make(config: Any, model: nn.Module, optimizer: Any, context: tasks.Context = tasks.Context()) -> tasks.Task:
  t = config.task
  num_classes = model.num_classes
  if t.flips not in FLIPS:
    raise ValueError(f"config.task.flips={t.flips!r} is unknown; choose one of {FLIPS}")
  for name in ("crop", "elastic_grid"):
    if t[name] < 0:
      raise ValueError(f"config.task.{name}={t[name]} must be >= 0")
  if t.elastic_sigma < 0 or t.grey_jitter < 0:
    raise ValueError(f"config.task.elastic_sigma={t.elastic_sigma} and grey_jitter={t.grey_jitter} must be >= 0")
  if "image" in context.train_arrays:
    _, h, w, _ = context.train_arrays["image"].shape
    if t.crop > min(h, w):
      raise ValueError(f"config.task.crop={t.crop} exceeds the {h} x {w} training images")
    if t.flips == "dihedral" and not t.crop and h != w:
      raise ValueError(f"config.task.flips='dihedral' rotates square images; the training images are {h} x {w}")
    if t.elastic_sigma > 0 and not t.crop and h != w:
      raise ValueError(f"config.task.elastic_sigma warps square windows; set config.task.crop (images {h} x {w})")
  apply = jax.jit(lambda p, x: jnp.argmax(model.apply({"params": p}, x, train=False), -1))

  def score_split(params: Any, arrays: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
    images, targets = np.asarray(arrays["image"]), np.asarray(arrays["segmentation"])
    size = config.data.eval_batch_size
    preds = np.concatenate([np.asarray(apply(params, images[i:i + size])) for i in range(0, len(images), size)])
    metrics = {}
    if t.rand_error:
      metrics["rand_error"] = float(np.mean([seg_metrics.rand_error(p == 1, g == 1) for p, g in zip(preds, targets)]))
    return metrics, {"predictions": predictions_image(images[:SHOWN], targets[:SHOWN], preds[:SHOWN])}

  predictor = tasks.Predictor(
      lambda params, inputs: model.apply({"params": params}, inputs["image"], train=False).astype(jnp.float32),
      lambda example: {"image": example["image"]},
      outputs="logits [b, h, w, num_classes] float32 of each pixel (argmax: its class; 1 = foreground)")
  return tasks.supervised(model, t, optimizer, init=init, loss=loss, finalize=finalize, predict=predictor,
                          evaluate=lambda m, p, b, tc: evaluate(m, p, b, tc, num_classes),
                          evaluate_split=score_split)


parts = tasks.no_parts
