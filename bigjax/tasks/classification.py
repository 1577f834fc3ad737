"""Image/sequence classification: softmax cross-entropy or mean squared error on softmax outputs.

Batches are ``{"image": [b, ...] float32, "label": [b] int32}`` or, for text, ``{"tokens": [b, t] int32,
"label": [b] int32}`` or vectorised text's bags ``{"bag_ids": [b, m] int32, "bag_weights": [b, m] float32,
"label": [b] int32}`` (+ ``"mask": [b]`` for evaluation).
``task_config.random_shift = n`` translates training images by up to n pixels (on device, drawn
from the step's rng, so a resumed run draws the same shifts).

``task.word_vectors`` (a trained Word2Vec or GloVe run's workdir) starts a text model's embedding table from
those vectors, as Kim (2014)'s CNN-static and CNN-non-static start from word2vec's (``embeddings_from_vectors``).
"""

import logging
from typing import Any, Sequence

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from bigjax import tasks
from bigjax.tasks import word2vec
from bigjax.evals import classification as metrics

LOSSES = ("softmax_xent", "mse")


def per_example_loss(logits: jnp.ndarray, labels: jnp.ndarray, loss: str) -> jnp.ndarray:
  """``[b, k], [b] -> [b]``.

  ``softmax_xent``: -log softmax(logits)[label] (Keras' softmax + sparse categorical cross-entropy).
  ``mse``: mean over classes of (softmax(logits) - one_hot(label))^2 (Keras' ``mean_squared_error`` on
  a softmax output against one-hot targets).
  """
  if loss == "softmax_xent":
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  if loss == "mse":
    probs = jax.nn.softmax(logits)
    return jnp.mean((probs - jax.nn.one_hot(labels, logits.shape[-1])) ** 2, axis=-1)
  raise ValueError(f"unknown classification loss {loss!r}; choose one of {LOSSES}")


def random_shift(images: jnp.ndarray, rng: jax.Array, max_shift: int) -> jnp.ndarray:
  """Translates each image by its own random (dy, dx) in [-max_shift, max_shift], zero-filled; ``[b,h,w,c]``."""
  b, h, w, c = images.shape
  padded = jnp.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)))
  offsets = jax.random.randint(rng, (b, 2), 0, 2 * max_shift + 1)
  crop = lambda image, o: jax.lax.dynamic_slice(image, (o[0], o[1], 0), (h, w, c))
  return jax.vmap(crop)(padded, offsets)


BAGS = ("bag_ids", "bag_weights")


def inputs_of(batch: dict[str, jnp.ndarray]) -> jnp.ndarray | dict[str, jnp.ndarray]:
  """What the model reads: the images, the token ids of a text dataset, or its bags (a dict of both arrays)."""
  if BAGS[0] in batch:
    return {name: batch[name] for name in BAGS}
  return batch["image"] if "image" in batch else batch["tokens"]


def init(model: nn.Module, rng: jax.Array, batch: dict[str, jnp.ndarray]) -> Any:
  return model.init({"params": rng}, inputs_of(batch), train=False)["params"]


def loss(model: nn.Module, params: Any, batch: dict[str, jnp.ndarray], rng: jax.Array,
         task_config: Any) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
  inputs = inputs_of(batch)
  if task_config.random_shift:
    if "image" not in batch:
      raise ValueError("config.task.random_shift translates images; this dataset has token ids")
    rng, augment_rng = jax.random.split(rng)
    inputs = random_shift(inputs, augment_rng, task_config.random_shift)
  logits = model.apply({"params": params}, inputs, train=True, rngs={"dropout": rng})
  chex.assert_rank(logits, 2)
  chex.assert_shape(batch["label"], (logits.shape[0],))
  losses = per_example_loss(logits, batch["label"], task_config.loss)
  value = losses.mean()
  return value, {"loss": value, "accuracy": metrics.accuracy(logits, batch["label"])}


def evaluate(model: nn.Module, params: Any, batch: dict[str, jnp.ndarray],
             task_config: Any) -> dict[str, jnp.ndarray]:
  logits = model.apply({"params": params}, inputs_of(batch), train=False)
  valid = batch["mask"] > 0
  # where(), not a product: a NaN in a padding row must not leak into the sums.
  return {
      "loss": jnp.where(valid, per_example_loss(logits, batch["label"], task_config.loss), 0.0).sum(),
      "accuracy": jnp.where(valid, metrics.correct(logits, batch["label"]), 0.0).sum(),
      "count": valid.sum().astype(jnp.float32),
  }


def predict(model: nn.Module, params: Any, inputs: dict[str, jnp.ndarray]) -> jnp.ndarray:
  """``{"image": [b, ...]}``, ``{"tokens": [b, t]}`` or the bags -> logits ``[b, num_classes]`` float32, in
  inference mode."""
  return model.apply({"params": params}, inputs_of(inputs), train=False).astype(jnp.float32)


def predict_inputs(example: dict[str, tuple]) -> dict[str, tuple]:
  """What ``predict`` reads of a training example: its image, its token ids, or its bag."""
  names = BAGS if BAGS[0] in example else ("image",) if "image" in example else ("tokens",)
  return {name: example[name] for name in names}


def parts(config: Any) -> dict[str, tasks.PartSpec]:
  """The word-vector run a text model's embeddings start from (``task.word_vectors``), or none."""
  workdir = config.task.get("word_vectors", "")
  if not workdir:
    return {}
  return {"word_vectors": tasks.PartSpec(
      "config.task.word_vectors", workdir,
      hint=f"train one: python -m bigjax.main --config=configs/word2vec_text_corpus.py --workdir={workdir}")}


def embeddings_from_vectors(initial: np.ndarray, itos: Sequence[str], words: Sequence[str], vectors: np.ndarray,
                            pad_id: int = 0) -> tuple[np.ndarray, int]:
  """``(table [len(itos), d], found)``: a text model's first embedding table from trained word vectors.

  Row ``i`` is the vector of word ``itos[i]`` where ``words`` has it (exactly: both sides are lowercased by
  their readers); the others (words the vectors lack, ``<unk>``) keep their random ``initial`` row, rescaled so
  that its spread equals the vectors' (Kim (2014) drew them uniform with the variance of word2vec's vectors):
  the standard deviation of ``initial``'s entries becomes the root mean of the vectors' per-dimension variances.
  The padding row ``pad_id`` is zero. ``found``: the words given a vector.
  """
  initial = np.asarray(initial, np.float32)
  vectors = np.asarray(vectors, np.float32)
  if initial.shape[1] != vectors.shape[1]:
    raise ValueError(f"the embedding table is {initial.shape[1]}-dimensional but the word vectors are "
                     f"{vectors.shape[1]}-dimensional")
  index = {w: i for i, w in enumerate(words)}
  rows = np.array([index.get(w, -1) for w in itos])
  known = rows >= 0
  spread = np.sqrt(np.mean(np.var(vectors.astype(np.float64), axis=0)))
  table = initial * np.float32(spread / max(float(np.std(initial.astype(np.float64))), 1e-12))
  table[known] = vectors[rows[known]]
  table[pad_id] = 0.0
  return table, int(known.sum())


def warm_start(params: Any, words: Sequence[str], vectors: np.ndarray, source: str, itos: Sequence[str]) -> Any:
  """``params`` with ``embed/embedding`` started from the word vectors of the run ``source``
  (``embeddings_from_vectors``), the vocabulary's words ``itos`` looked up in ``words``."""
  initial = np.asarray(jax.device_get(params["embed"]["embedding"]))
  table, found = embeddings_from_vectors(initial, itos, words, vectors)
  logging.info("embeddings from %s: %d of %d words have a vector (%.1f%%)", source, found, len(itos),
               100 * found / len(itos))
  return {**params, "embed": {**params["embed"], "embedding": jnp.asarray(table, initial.dtype)}}


def make(config: Any, model: nn.Module, optimizer: Any, context: tasks.Context = tasks.Context()) -> tasks.Task:
  tasks.check_loss(config, LOSSES)
  predictor = tasks.Predictor(lambda params, inputs: predict(model, params, inputs), predict_inputs,
                              outputs="logits [b, num_classes] float32 (softmax gives the class probabilities)")
  start = None
  if "word_vectors" in context.parts:
    part = context.parts["word_vectors"]  # checked here, before anything is compiled
    if not isinstance(part.model, word2vec.WORD_VECTOR_MODELS):
      raise ValueError(f"config.task.word_vectors: {part.workdir} trained a {type(part.model).__name__}, not word "
                       f"vectors (Word2Vec or GloVe)")
    words, vectors = word2vec.word_vectors(part)
    if not hasattr(model, "embed_dim") or not hasattr(context.vocab, "itos"):
      raise ValueError(f"config.task.word_vectors: {config.model.name} on {config.data.name} has no word embedding "
                       f"table to start from word vectors")
    if model.embed_dim != vectors.shape[1]:
      raise ValueError(f"config.model.embed_dim={model.embed_dim} but the word vectors of {part.workdir} have "
                       f"{vectors.shape[1]} dimensions: set config.model.embed_dim={vectors.shape[1]}")
    start = lambda params: warm_start(params, words, vectors, part.workdir, context.vocab.itos)
  return tasks.supervised(model, config.task, optimizer, init=init, loss=loss, evaluate=evaluate,
                          warm_start=start, predict=predictor)
