"""Implicit-feedback recommendation: score (user, item) pairs, rank each user's held-out item.

Training batches (``data/movielens/``):
  pointwise  ``{"user": [b], "item": [b], "label": [b]}``, positives and their redrawn negatives as separate
             rows; ``task.loss = "log_loss"``: binary cross-entropy of the pair's logit (NCF's objective).
  pairwise   ``{"user": [b], "item": [b], "negative": [b, n]}`` (``config.data.pairs=True``);
             ``task.loss = "bpr"``: ``-log sigmoid(s(u, i) - s(u, j))`` averaged over the n negatives j
             (Rendle et al. 2009).
             ``task.loss = "softmax"``: cross-entropy of the positive among every item,
             ``-s(u, i) + log sum_j exp s(u, j)`` (the full softmax of e.g. Covington et al. 2016; the batch's
             sampled negatives are not used, so ``config.data.num_negatives = 1`` keeps the batches small).
  sequential ``{"user": [b], "sequence": [b, L + 1]}`` (``config.data.history_len = L``, a sequential model such
             as ``sasrec.SASRec``); ``task.loss = "softmax"``: at each position t < L, the cross-entropy of item
             t + 1 among all items given items 0..t, averaged over the positions whose next item is real (not
             padding).
Evaluation batches: ``{"user": [b], "candidates": [b, 100]}`` (held-out item first, then 99 items the user
never interacted with), plus ``"seen": [b, num_items]`` when ``config.data.full_ranking``.

Metrics (``evals/ranking.py``, expected values over random tie-breaking), for each K in ``task.top_k``:
  ``hr@K``, ``ndcg@K``                  leave-one-out, the held-out item among its 100 candidates (NCF; a
                                        candidate equal to the held-out item is not a negative: NCF's own
                                        negatives file lists it for 156 users, and NCF's code merges it)
  ``full_recall@K``, ``full_ndcg@K``    the held-out item among every item the user did not train on
                                        (one relevant item per user, so recall@K is its hit ratio)

``task.embedding_l2 = λ`` adds ``λ * sum over id tables of mean_b ||e_b||^2`` to the log or BPR loss: an L2
penalty on the embedding rows each example reads (Rendle et al. 2020), not on whole tables. A penalty on whole
tables (``config.optim.weight_decay``) also shrinks, every step, the rows a batch does not read; at 1e-5 it
collapsed GMF-64 on ML-1M to chance (experiments/ncf/RESULTS.md).

``task.pretrained_gmf`` and ``task.pretrained_mlp`` (workdirs) start a NeuMF from a trained GMF and a trained
MLP run (He et al. 2017, Sec. 3.4.1), joined with weight ``task.pretrained_alpha``. ``task.pretrained_checkpoint``
picks each run's checkpoint: ``latest``, or ``best``, the one at the step of its best logged ``hr@K`` (the first
``task.top_k``) on its own evaluation split. NCF's code keeps that one (it saves a part's weights whenever its test
HR@10 improves), a choice on the test set; here ``best`` reads parts evaluated on a validation split only, and a
part run evaluated on a test split is refused (``bigjax.selection``). The part runs must keep that checkpoint
(``config.train.keep_checkpoints`` at least their number of checkpoints).
"""

from typing import Any

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from bigjax import tasks
from bigjax.evals import ranking
from bigjax.models import ncf, precision

LOSSES = ("log_loss", "bpr", "softmax")
PRETRAINED_CHECKPOINTS = ("latest", "best")


def init(model: nn.Module, rng: jax.Array, batch: dict[str, jnp.ndarray]) -> Any:
  items = batch["item"] if "item" in batch else jnp.zeros_like(batch["user"])  # sequential batches: users only
  return model.init({"params": rng}, batch["user"], items, train=False)["params"]


def _mode(rng: jax.Array | None) -> dict[str, Any]:
  """``apply``'s keywords: training (dropout drawn from ``rng``) when a key is given, else evaluation."""
  return {"train": False} if rng is None else {"train": True, "rngs": {"dropout": rng}}


def scores(model: nn.Module, params: Any, users: jnp.ndarray, items: jnp.ndarray,
           rng: jax.Array | None = None) -> jnp.ndarray:
  """Logits of the pairs; ``rng`` given, as in training (a model's dropout drawn from it)."""
  return model.apply({"params": params}, users, items, **_mode(rng)).astype(jnp.float32)


def scores_and_l2(model: nn.Module, params: Any, users: jnp.ndarray, items: jnp.ndarray,
                  rng: jax.Array | None = None) -> tuple[jnp.ndarray, jnp.ndarray]:
  """``(scores, l2)``: ``l2`` sums, over the embedding tables the scores read, the mean squared norm of the rows
  they read (``embedding_sq`` in the model's ``losses`` collection, models/ncf.py)."""
  logits, state = model.apply({"params": params}, users, items, mutable=["losses"], **_mode(rng))
  sown = jax.tree.leaves(state.get("losses", {}))
  if not sown:
    raise ValueError(f"config.task.embedding_l2 > 0 regularises the id embeddings a score reads; "
                     f"{type(model).__name__} records none: set config.task.embedding_l2=0")
  return logits.astype(jnp.float32), sum(jnp.mean(x) for x in sown)


def all_item_scores(model: nn.Module, params: Any, users: jnp.ndarray) -> jnp.ndarray:
  """``[b, num_items]``: the model's ``all_items`` method where it has one (one matmul), else every pair."""
  if hasattr(model, "all_items"):
    return model.apply({"params": params}, users, method="all_items").astype(jnp.float32)
  return scores(model, params, users[:, None], jnp.arange(model.num_items)[None, :])


def sequence_loss(model: nn.Module, params: Any, sequence: jnp.ndarray, rng: jax.Array):
  """``(mean cross-entropy of each next item, {"loss", "top10"})`` over a ``[b, L + 1]`` batch of histories."""
  if not hasattr(model, "sequence_logits"):
    raise ValueError(f"config.data.history_len > 0 trains a sequential model (e.g. sasrec.SASRec); "
                     f"{type(model).__name__} scores (user, item) pairs: set config.data.history_len=0")
  inputs, targets = sequence[:, :-1], sequence[:, 1:]
  logits = model.apply({"params": params}, inputs, train=True, method="sequence_logits",
                       rngs={"dropout": rng}).astype(jnp.float32)
  real = targets != model.num_items
  safe = jnp.where(real, targets, 0)
  weight = real.astype(jnp.float32) / jnp.maximum(real.sum(), 1)
  value = jnp.sum(optax.softmax_cross_entropy_with_integer_labels(logits, safe) * weight)
  higher = (logits > jnp.take_along_axis(logits, safe[..., None], axis=-1)).sum(-1)
  return value, {"loss": value, "top10": jnp.sum((higher < 10) * weight)}


def loss(model: nn.Module, params: Any, batch: dict[str, jnp.ndarray], rng: jax.Array,
         task_config: Any) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
  if "sequence" in batch:
    if task_config.loss != "softmax":
      raise ValueError(f"config.task.loss={task_config.loss!r}: sequential training (config.data.history_len > 0) "
                       f"takes the full softmax over the next item: set config.task.loss='softmax'")
    return sequence_loss(model, params, batch["sequence"], rng)
  l2 = task_config.embedding_l2
  if l2 < 0:
    raise ValueError(f"config.task.embedding_l2={l2}: a penalty weight is >= 0")
  if task_config.loss == "bpr":
    if "negative" not in batch:
      raise ValueError("config.task.loss='bpr' ranks a positive against its negatives: set config.data.pairs=True")
    chex.assert_rank(batch["negative"], 2)
    positive_rng, negative_rng = (None, None) if rng is None else jax.random.split(rng)
    positive, l2_positive = _scored(model, params, batch["user"], batch["item"], l2, positive_rng)
    negative, l2_negative = _scored(model, params, batch["user"][:, None], batch["negative"], l2, negative_rng)
    fit = -jax.nn.log_sigmoid(positive[:, None] - negative).mean()
    return _with_penalty(fit, l2, l2_positive + l2_negative, {"pair_accuracy": (positive[:, None] > negative).mean()})
  if task_config.loss == "softmax":
    if l2:
      raise ValueError("config.task.embedding_l2 penalises the rows a pairwise or pointwise batch reads; the "
                       "softmax loss reads every item's: use config.optim.weight_decay")
    if "label" in batch:
      raise ValueError("config.task.loss='softmax' ranks each positive among all items: set config.data.pairs=True "
                       "(positives only)")
    logits = all_item_scores(model, params, batch["user"])
    value = optax.softmax_cross_entropy_with_integer_labels(logits, batch["item"]).mean()
    top = (logits > jnp.take_along_axis(logits, batch["item"][:, None], axis=1)).sum(-1)
    return value, {"loss": value, "top10": (top < 10).mean()}
  if task_config.loss != "log_loss":
    raise ValueError(f"unknown recommendation loss {task_config.loss!r}; choose one of {LOSSES}")
  if "label" not in batch:
    raise ValueError("config.task.loss='log_loss' scores labelled rows: set config.data.pairs=False")
  logits, penalty = _scored(model, params, batch["user"], batch["item"], l2, rng)
  fit = optax.sigmoid_binary_cross_entropy(logits, batch["label"]).mean()
  return _with_penalty(fit, l2, penalty, {"accuracy": ((logits > 0) == (batch["label"] > 0.5)).mean()})


def _scored(model: nn.Module, params: Any, users, items, l2: float, rng: jax.Array | None
            ) -> tuple[jnp.ndarray, Any]:
  """Training ``(scores, penalty)`` (``rng`` None: as in evaluation, no dropout); the embedding penalty is computed only when ``l2`` weighs it (0.0 otherwise)."""
  if l2:
    return scores_and_l2(model, params, users, items, rng)
  return scores(model, params, users, items, rng), 0.0


def _with_penalty(fit: jnp.ndarray, l2: float, penalty: Any,
                  metrics: dict[str, jnp.ndarray]) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
  """``fit + l2 * penalty`` and its metrics; ``fit_loss`` is logged apart only when a penalty is added."""
  if not l2:
    return fit, {"loss": fit, **metrics}
  value = fit + l2 * penalty
  return value, {"loss": value, "fit_loss": fit, **metrics}


def evaluate(model: nn.Module, params: Any, batch: dict[str, jnp.ndarray], task_config: Any) -> dict[str, jnp.ndarray]:
  """Sums over the real (mask 1) users of each metric; the loop divides by ``count``."""
  valid = batch["mask"] > 0
  users = batch["user"]
  target = jnp.zeros(users.shape, jnp.int32)  # the held-out item is candidate 0
  candidates = batch["candidates"]
  # A candidate that is the held-out item itself (NCF's negatives file has some) is not a negative.
  sampled = ranking.rank_counts(scores(model, params, users[:, None], candidates), target,
                                exclude=candidates == candidates[:, :1])
  out = {"count": valid.sum().astype(jnp.float32)}
  cuts = tuple(task_config.top_k)
  for k in cuts:
    out[f"hr@{k}"] = jnp.where(valid, ranking.hit_ratio(*sampled, k), 0.0).sum()
    out[f"ndcg@{k}"] = jnp.where(valid, ranking.ndcg(*sampled, k), 0.0).sum()
  if "seen" in batch:
    everything = all_item_scores(model, params, users)
    full = ranking.rank_counts(everything, batch["candidates"][:, 0], exclude=batch["seen"])
    for k in cuts:
      out[f"full_recall@{k}"] = jnp.where(valid, ranking.hit_ratio(*full, k), 0.0).sum()
      out[f"full_ndcg@{k}"] = jnp.where(valid, ranking.ndcg(*full, k), 0.0).sum()
  return out


def parts(config: Any) -> dict[str, tasks.PartSpec]:
  """NeuMF's trained GMF and MLP runs (``task.pretrained_gmf`` / ``task.pretrained_mlp``), or none."""
  tc = config.task
  runs = [tc.pretrained_gmf, tc.pretrained_mlp]
  if not any(runs):
    return {}
  if not all(runs):
    raise ValueError(f"config.task.pretrained_gmf={runs[0]!r}, pretrained_mlp={runs[1]!r}: a NeuMF starts from both "
                     f"a GMF and an MLP run")
  which = tc.pretrained_checkpoint
  if which not in PRETRAINED_CHECKPOINTS:
    raise ValueError(f"config.task.pretrained_checkpoint={which!r}: choose one of {PRETRAINED_CHECKPOINTS}")
  best = f"hr@{tc.top_k[0]}" if which == "best" else None
  return {"gmf": tasks.PartSpec("config.task.pretrained_gmf", runs[0], best),
          "mlp": tasks.PartSpec("config.task.pretrained_mlp", runs[1], best)}


def warm_start(model: nn.Module, gmf: tasks.Part, mlp: tasks.Part, alpha: float) -> Any:
  """``params -> params`` that starts a NeuMF from trained GMF and MLP parts (He et al. 2017, Sec. 3.4.1)."""
  if not isinstance(model, ncf.NeuMF):
    raise ValueError(f"config.task.pretrained_gmf, pretrained_mlp: a NeuMF starts from a GMF and an MLP run; this "
                     f"model is a {type(model).__name__}")
  for part, kind, field in ((gmf, ncf.GMF, "pretrained_gmf"), (mlp, ncf.MLP, "pretrained_mlp")):
    if precision.family(part.model) is not kind:
      raise ValueError(f"config.task.{field}: {part.workdir} trained a {type(part.model).__name__}, expected a {kind.__name__}")
    if (part.model.num_users, part.model.num_items) != (model.num_users, model.num_items):
      raise ValueError(f"config.task.{field}: {part.workdir} has {part.model.num_users} users and {part.model.num_items} "
                       f"items, this run {model.num_users} and {model.num_items}: not the same data")
  loaded = [jax.device_get(part.params) for part in (gmf, mlp)]
  return lambda params: ncf.neumf_from_pretrained(jax.device_get(params), *loaded, alpha=alpha)


def predict(model: nn.Module, params: Any, inputs: dict[str, jnp.ndarray]) -> jnp.ndarray:
  """``{"user": [b], "item": [b]}`` int32 ids -> ``[b]`` float32 scores of the pairs (logits; higher ranks first)."""
  return scores(model, params, inputs["user"], inputs["item"])


def predict_inputs(example: dict[str, tuple]) -> dict[str, tuple]:
  """One user id and one item id per pair, of the id type of the training batches."""
  _, dtype = example["user"]
  return {"user": ((), dtype), "item": ((), dtype)}


def make(config: Any, model: nn.Module, optimizer: Any, context: tasks.Context = tasks.Context()) -> tasks.Task:
  tasks.check_loss(config, LOSSES)
  start = None
  if "gmf" in context.parts:
    start = warm_start(model, context.parts["gmf"], context.parts["mlp"], config.task.pretrained_alpha)
  predictor = tasks.Predictor(lambda params, inputs: predict(model, params, inputs), predict_inputs,
                              outputs="scores [b] float32 of the (user, item) pairs: logits, higher ranks first")
  return tasks.supervised(model, config.task, optimizer, init=init, loss=loss, evaluate=evaluate, warm_start=start,
                          predict=predictor)
