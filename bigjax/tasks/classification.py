"""Image/sequence classification: softmax cross-entropy or mean squared error on softmax outputs.

Batches are ``{"image": [b, ...] float32, "label": [b] int32}`` or, for text, ``{"tokens": [b, t] int32,
"label": [b] int32}`` or vectorised text's bags ``{"bag_ids": [b, m] int32, "bag_weights": [b, m] float32,
"label": [b] int32}`` (+ ``"mask": [b]`` for evaluation).
``task_config.random_shift = n`` translates training images by up to n pixels (on device, drawn
from the step's rng, so a resumed run draws the same shifts).
"""

from typing import Any

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from bigjax import tasks
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


parts = tasks.no_parts


def make(config: Any, model: nn.Module, optimizer: Any, context: tasks.Context = tasks.Context()) -> tasks.Task:
  tasks.check_loss(config, LOSSES)
  predictor = tasks.Predictor(lambda params, inputs: predict(model, params, inputs), predict_inputs,
                              outputs="logits [b, num_classes] float32 (softmax gives the class probabilities)")
  return tasks.supervised(model, config.task, optimizer, init=init, loss=loss, evaluate=evaluate, predict=predictor)
