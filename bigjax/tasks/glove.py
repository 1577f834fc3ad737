"""GloVe (Pennington et al. 2014): weighted least squares on log co-occurrence counts, as the GloVe tool trains it,
batched.

A batch is ``{"row": int32 [B], "col": int32 [B], "count": float32 [B]}``, nonzero entries ``X_ij`` of the
co-occurrence matrix (``bigjax/data/cooccurrence.py``). The cost of an entry is the GloVe tool's

  ``J_ij = 1/2 f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2``,  ``f(x) = min(1, (x / x_max)^alpha)``

(``task.x_max`` = 100, ``task.alpha`` = 3/4, the paper's), with ``w`` the ``input`` table, ``w~`` the ``context``
table and ``b``, ``b~`` their biases (``bigjax/models/word2vec.py``'s ``GloVe``; its output vectors are
``w + w~``, as the paper publishes).

**Update: AdaGrad per element, on the rows a batch reads** (``config.optim.name="adagrad"`` at a constant
``optim.lr``, the tool's ``eta`` 0.05; ``optim.initial_accumulator`` the tool's 1). A row that several entries
of one batch read takes the sum of their gradients as its ``g`` (one minibatch AdaGrad step), where the tool's
threads would apply them one after another. As in the tool the accumulator sums squares of the rate-scaled
gradient, but it takes the new gradient *before* the step divides by its root: ``G += (eta g)^2``, then
``step = eta g / sqrt(G)``, so no element moves by more than ``eta`` in one step. (The tool divides by the
accumulator before adding: harmless one entry at a time, but a frequent word's summed gradient over thousands
of entries would then move its row by thousands of times ``eta`` in the first steps.) Nothing else of the
tables moves, so a step costs the batch's rows, not the vocabulary's.

``evaluate`` is the same cost on the held-out text's co-occurrences (its ``loss``: per entry).
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from bigjax import tasks

TABLES = ("input", "context", "input_bias", "context_bias")


def weight(counts: jnp.ndarray, x_max: float, alpha: float) -> jnp.ndarray:
  """``f(x) = min(1, (x / x_max)^alpha)``."""
  return jnp.minimum(1.0, (counts / x_max) ** alpha)


def cost(rows: dict, counts: jnp.ndarray, weights: jnp.ndarray, x_max: float, alpha: float) -> jnp.ndarray:
  """Summed ``J_ij`` (module docstring) over the entries whose gathered rows are ``rows``: ``input`` and
  ``context`` ``[B, d]``, the biases ``[B]``; ``weights`` [B] (0 drops an entry, e.g. padding)."""
  diff = (jnp.sum(rows["input"] * rows["context"], axis=-1) + rows["input_bias"] + rows["context_bias"]
          - jnp.log(jnp.maximum(counts, 1e-30)))
  return 0.5 * jnp.sum(weights * weight(counts, x_max, alpha) * diff ** 2)


def make(config: Any, model: nn.Module, optimizer: optax.GradientTransformation,
         context: tasks.Context = tasks.Context()) -> tasks.Task:
  del optimizer  # AdaGrad on the rows a batch reads; its accumulators are this task's optimizer state
  t, o = config.task, config.optim
  if t.x_max <= 0 or t.alpha < 0:
    raise ValueError(f"config.task: x_max={t.x_max} must be > 0 and alpha={t.alpha} >= 0")
  if o.name != "adagrad" or o.schedule != "constant" or o.weight_decay or o.ema_decay or o.clip_norm:
    raise ValueError(f"config.optim: GloVe trains with AdaGrad at a constant rate on the rows a batch reads; got "
                     f"name={o.name!r}, schedule={o.schedule!r}, weight_decay={o.weight_decay}, ema_decay="
                     f"{o.ema_decay}, clip_norm={o.clip_norm}")
  if o.initial_accumulator <= 0:
    raise ValueError(f"config.optim.initial_accumulator={o.initial_accumulator} must be > 0 (the GloVe tool: 1)")
  lr = o.lr

  def gather(params, batch):
    return {"input": params["input"][batch["row"]], "context": params["context"][batch["col"]],
            "input_bias": params["input_bias"][batch["row"]], "context_bias": params["context_bias"][batch["col"]]}

  def init(rng, batch):
    return model.init(rng, batch["row"][:1])["params"]

  def init_opt_state(params):  # leaf by leaf: a table's accumulator keeps its logical axes, so it shards alike
    return jax.tree.map(lambda table: jnp.full_like(table, o.initial_accumulator), {k: params[k] for k in TABLES})

  def update(params, opt_state, batch, rng):
    del rng
    weights = jnp.ones_like(batch["count"])
    value, grads = jax.value_and_grad(cost)(gather(params, batch), batch["count"], weights, t.x_max, t.alpha)
    finite = jnp.isfinite(value)
    grads = jax.tree.map(lambda g: jnp.where(finite, g, 0.0), grads)  # a bad step moves nothing
    new_params, new_state = {}, {}
    size = batch["row"].shape[0]
    for side in ("row", "col"):
      # The batch's distinct rows (id 0, the sentence end, which never co-occurs, pads the list), and each
      # entry's place among them: gradients are summed per row without touching the rest of the table.
      rows, slot = jnp.unique(batch[side], size=size, fill_value=0, return_inverse=True)
      for name in (("input", "input_bias") if side == "row" else ("context", "context_bias")):
        summed = lr * jax.ops.segment_sum(grads[name], slot.reshape(-1), num_segments=size)  # eta g per row
        accumulator = opt_state[name][rows] + summed ** 2
        new_params[name] = params[name].at[rows].set(params[name][rows] - summed / jnp.sqrt(accumulator))
        new_state[name] = opt_state[name].at[rows].set(accumulator)
    count = jnp.asarray(batch["count"].shape[0], jnp.float32)
    return new_params, new_state, {"loss": value / count, "examples": count}, finite

  def evaluate(params, batch):
    value = cost(gather(params, batch), batch["count"], batch["mask"], t.x_max, t.alpha)
    return {"loss": value, "count": batch["mask"].sum()}

  return tasks.Task(init=init, init_opt_state=init_opt_state, update=update, evaluate=evaluate,
                    masks_bad_steps=True)


parts = tasks.no_parts
