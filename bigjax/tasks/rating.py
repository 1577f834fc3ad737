"""Explicit ratings: predict a user's rating of an item; scored by RMSE and MAE, over all users and cold-start ones.

Batches (``bigjax/data/social.py``): ``{"user": [b], "item": [b], "rating": [b] float32}``, plus in evaluation
``"cold"`` (1 where the user has fewer than ``social.COLD_START`` training ratings) and ``"mask"``.

Training: the model's objective (``models/social.py``: ``objective(users, items, ratings) -> (per_rating,
whole, predicted)``) as ``mean_b per_rating + whole / N``, N the training ratings (``num_ratings``, from the data): an
unbiased minibatch estimate of the paper's summed objective divided by N. Logged: ``loss``, and the batch's
``rmse`` of the unclipped predictions.

Evaluation: predictions clipped to the data's rating scale (as LibRec does), then ``rmse`` and ``mae`` over the
split and ``cold_rmse`` / ``cold_mae`` over its cold-start users' ratings (``cold_count`` of them, a fraction of
the split's ratings; NaN when there are none).

Ranking (``ranking``, host side, for a trained run on a held-out split): each held-out rating (u, i) ranks its
item among every item u did not rate in training, u's other held-out items left out, by the model's predicted
rating (``evals/ranking.py``: HR@K and NDCG@K, ties at their expected value), averaged over the held-out ratings.
"""

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from bigjax import tasks
from bigjax.evals import ranking as ranking_metrics


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
  per_rating, whole, predicted = model.apply(variables, batch["user"], batch["item"], batch["rating"],
                                             method=type(model).objective)
  value = jnp.mean(per_rating) + whole / num_ratings
  error = predicted - batch["rating"]
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


def ranking(model: nn.Module, params: Any, users: np.ndarray, items: np.ndarray, top_k: tuple[int, ...] = (10,),
            chunk: int = 64) -> dict[str, float]:
  """``{"hr@K": mean, "ndcg@K": mean}`` over the held-out ratings ``(users[r], items[r])`` (module docstring); the
  training ratings are the model's ``rated`` relation."""
  rated, num_items = model.rated, model.num_items
  if rated is None:
    raise ValueError(f"{type(model).__name__}: ranking leaves out each user's training items; its rated is None")
  users, items = np.asarray(users, np.int64), np.asarray(items, np.int64)
  seen = {}  # user -> the items ranking leaves out: training items and every held-out item
  for u, i in zip(np.asarray(rated.rows), np.asarray(rated.cols)):
    seen.setdefault(int(u), []).append(int(i))
  for u, i in zip(users, items):
    seen.setdefault(int(u), []).append(int(i))
  all_items = jnp.arange(num_items)
  score = jax.jit(lambda p, u: model.apply({"params": p}, u[:, None], all_items[None, :]))

  @jax.jit
  def metrics(scores, target, exclude):
    higher, tied = ranking_metrics.rank_counts(scores, target, exclude)
    return {f"{name}@{k}": fn(higher, tied, k) for k in top_k
            for name, fn in (("hr", ranking_metrics.hit_ratio), ("ndcg", ranking_metrics.ndcg))}

  sums: dict[str, float] = {}
  for start in range(0, len(users), chunk):
    u, i = users[start:start + chunk], items[start:start + chunk]
    real = len(u)
    u, i = np.pad(u, (0, chunk - real)), np.pad(i, (0, chunk - real))
    exclude = np.zeros((chunk, num_items), bool)
    for row in range(real):
      exclude[row, seen[int(u[row])]] = True  # the held-out item itself is the target, never an "other"
    values = metrics(score(params, jnp.asarray(u, jnp.int32)), jnp.asarray(i, jnp.int32), jnp.asarray(exclude))
    for name, value in values.items():
      sums[name] = sums.get(name, 0.0) + float(np.asarray(value)[:real].sum())
  return {name: total / max(len(users), 1) for name, total in sums.items()}


def make(config: Any, model: nn.Module, optimizer: Any, context: tasks.Context = tasks.Context()) -> tasks.Task:
  del context
  if not hasattr(model, "objective"):
    raise ValueError(f"config.model.name={config.model.name!r}: task 'rating' needs a model with an objective "
                     f"(bigjax/models/social.py)")
  return tasks.supervised(model, config.task, optimizer, init=init, loss=loss, evaluate=evaluate,
                          finalize=finalize)


parts = tasks.no_parts
