"""Explicit ratings: predict a user's rating of an item; scored by RMSE and MAE, over all users and cold-start ones.

Batches (``bigjax/data/social.py``): ``{"user": [b], "item": [b], "rating": [b] float32}``, plus in evaluation
``"cold"`` (1 where the user has fewer than ``social.COLD_START`` training ratings) and ``"mask"``.

Training: the model's objective (``models/social.py``: ``objective(users, items, ratings) -> (per_rating,
whole)``) as ``mean_b per_rating + whole / N``, N the training ratings (``num_ratings``, from the data): an
unbiased minibatch estimate of the paper's summed objective divided by N. Logged: ``loss``, and the batch's
``rmse`` of the unclipped predictions.

Evaluation: predictions clipped to the data's rating scale (as LibRec does), then ``rmse`` and ``mae`` over the
split and ``cold_rmse`` / ``cold_mae`` over its cold-start users' ratings (``cold_count`` of them, a fraction of
the split's ratings; NaN when there are none).
"""

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from bigjax import tasks


def init(model: nn.Module, rng: jax.Array, batch: dict[str, jnp.ndarray]) -> Any:
  return model.init({"params": rng}, batch["user"], batch["item"])["params"]


def loss(model: nn.Module, params: Any, batch: dict[str, jnp.ndarray], rng: jax.Array,
         task_config: Any) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
  del rng, task_config
  num_ratings = model.num_ratings
  if num_ratings <= 0:
    raise ValueError(f"{type(model).__name__}.num_ratings={num_ratings}: the task divides the objective's whole "
                     f"terms by the training ratings, which the data gives (bigjax/data/social.py)")
  variables = {"params": params}
  per_rating, whole = model.apply(variables, batch["user"], batch["item"], batch["rating"],
                                  method=type(model).objective)
  value = jnp.mean(per_rating) + whole / num_ratings
  error = model.apply(variables, batch["user"], batch["item"]) - batch["rating"]
  return value, {"loss": value, "rmse": jnp.sqrt(jnp.mean(jnp.square(error)))}


def evaluate(model: nn.Module, params: Any, batch: dict[str, jnp.ndarray], task_config: Any) -> dict[str, jnp.ndarray]:
  del task_config
  predicted = jnp.clip(model.apply({"params": params}, batch["user"], batch["item"]), model.rating_min,
                       model.rating_max)
  error = predicted - batch["rating"]
  real = batch["mask"] > 0
  cold = real & (batch["cold"] > 0)
  sums = lambda where, x: jnp.where(where, x, 0.0).sum()  # noqa: E731
  return {"squared_error": sums(real, jnp.square(error)), "absolute_error": sums(real, jnp.abs(error)),
          "cold_squared_error": sums(cold, jnp.square(error)), "cold_absolute_error": sums(cold, jnp.abs(error)),
          "cold_count": cold.sum().astype(jnp.float32), "count": real.sum().astype(jnp.float32)}


def finalize(means: dict[str, float]) -> dict[str, float]:
  """Per-rating means of the sums -> ``rmse``, ``mae`` and their cold-start counterparts."""
  cold = means["cold_count"]
  return {"rmse": math.sqrt(means["squared_error"]), "mae": means["absolute_error"],
          "cold_rmse": math.sqrt(means["cold_squared_error"] / cold) if cold > 0 else float("nan"),
          "cold_mae": means["cold_absolute_error"] / cold if cold > 0 else float("nan"),
          "cold_fraction": cold}


def make(config: Any, model: nn.Module, optimizer: Any, context: tasks.Context = tasks.Context()) -> tasks.Task:
  del context
  if not hasattr(model, "objective"):
    raise ValueError(f"config.model.name={config.model.name!r}: task 'rating' needs a model with an objective "
                     f"(bigjax/models/social.py)")
  return tasks.supervised(model, config.task, optimizer, init=init, loss=loss, evaluate=evaluate,
                          finalize=finalize)


parts = tasks.no_parts
