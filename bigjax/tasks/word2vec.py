"""Word2Vec by negative sampling (Mikolov et al. 2013), as the word2vec C tool and gensim train it, batched.

A batch is ``{"tokens": int32 [b, L]}``, chunks of the corpus' id stream (``bigjax/data/word_corpus.py``: 0 ends
a sentence). Each update, on device:

1. **Subsampling.** Each word stays with probability ``min(1, (sqrt(f / t) + 1) t / f)`` (``f`` its share of the
   corpus, ``t`` = ``task.sample``); the kept words close up, so windows reach past the dropped ones.
2. **Dynamic window.** Each centre word draws ``b`` uniformly in ``1..window``; its contexts are the words at most
   ``b`` away in the same sentence (nearer words are so used more often).
3. **Negatives.** ``task.negatives`` words per (centre, context) pair from the unigram distribution raised to
   ``task.negative_power`` (0.75); a negative equal to the word it stands against is skipped, as in the C tool.
4. **Loss** ``-log s(u.v) - sum_k log s(-u.v_k)`` (``s`` the logistic function), summed over pairs: skip-gram
   predicts the centre word (``output`` row) from each context word's ``input`` row, the C tool's orientation;
   CBOW predicts it from the mean of the context words' ``input`` rows, and gives each context word the whole
   error of that mean (the C tool's and gensim's ``cbow_mean`` update, not the mean's gradient).
5. **Sparse update.** Only the rows a batch read change: ``config.optim`` must be plain SGD (its schedule: linear
   decay to a floor, ``optim.schedule="linear"`` with ``end_lr_factor`` 1e-4 as the C tool), applied to the rows'
   gradients and scattered back (rows read twice get both updates, as Hogwild threads would give them).

A batch's pairs are updated together, not one after another as the C tool does: the batch is a larger
Hogwild step. ``evaluate`` is the same objective on held-out text with a fixed draw (its ``loss``: per pair).
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from bigjax import tasks

MODES = ("skipgram", "cbow")
DUPLICATES = ("mean", "sum")
EVAL_SEED = 0  # the fixed draw of subsampling, windows and negatives that evaluation scores


def keep_probability(word_counts: jnp.ndarray, sample: float) -> jnp.ndarray:
  """``[V + 1]``: each id's chance to stay (module docstring, step 1); 0 for the sentence end (id 0, count 0)."""
  f = word_counts / jnp.sum(word_counts)
  keep = jnp.minimum(1.0, (jnp.sqrt(f / sample) + 1.0) * sample / jnp.maximum(f, 1e-30)) if sample > 0 else 1.0
  return jnp.where(word_counts > 0, keep, 0.0)


def negative_cdf(word_counts: jnp.ndarray, power: float) -> jnp.ndarray:
  """``[V + 1]`` float32: the cumulative negative-sampling distribution ``count^power`` normalised."""
  weights = jnp.where(word_counts > 0, word_counts.astype(jnp.float32) ** power, 0.0)
  return jnp.cumsum(weights) / jnp.sum(weights)


def sample_negatives(cdf: jnp.ndarray, rng: jax.Array, shape: tuple[int, ...]) -> jnp.ndarray:
  """int32 ``shape``: ids drawn from the distribution whose cumulative is ``cdf`` (never 0, the sentence end)."""
  ids = jnp.searchsorted(cdf, jax.random.uniform(rng, shape), side="right")
  return jnp.clip(ids, 1, cdf.shape[0] - 1).astype(jnp.int32)


def subsample(tokens: jnp.ndarray, keep_prob: jnp.ndarray, rng: jax.Array) -> jnp.ndarray:
  """``[b, L]``: each row's kept ids moved to its front in order, sentence ends always kept, zeros after."""
  kept = (tokens == 0) | (jax.random.uniform(rng, tokens.shape) < keep_prob[tokens])
  length = tokens.shape[1]
  position = jnp.where(kept, jnp.cumsum(kept, axis=1) - 1, length)  # dropped words go past the end
  rows = jnp.arange(tokens.shape[0])[:, None]
  return jnp.zeros_like(tokens).at[rows, position].set(tokens, mode="drop")


def windows(tokens: jnp.ndarray, window: int, rng: jax.Array) -> tuple[jnp.ndarray, jnp.ndarray]:
  """``(context [b, L, 2 window], mask [b, L, 2 window])``: for each position, the ids at offsets -window..-1,
  1..window and whether each is a context of it (both words real, one sentence, within its drawn ``b``)."""
  length = tokens.shape[1]
  sentence = jnp.cumsum(tokens == 0, axis=1)
  reach = window - jax.random.randint(rng, tokens.shape, 0, window)  # b in 1..window
  pad = lambda x, value: jnp.pad(x, ((0, 0), (window, window)), constant_values=value)
  padded, padded_sentence = pad(tokens, 0), pad(sentence, -1)
  offsets = [o for o in range(-window, window + 1) if o]
  context = jnp.stack([padded[:, window + o:window + o + length] for o in offsets], axis=-1)
  same = jnp.stack([padded_sentence[:, window + o:window + o + length] for o in offsets], axis=-1) == sentence[..., None]
  near = jnp.abs(jnp.array(offsets)) <= reach[..., None]
  return context, (tokens[..., None] > 0) & (context > 0) & same & near


def pair_loss(inputs: jnp.ndarray, outputs: jnp.ndarray, weights: jnp.ndarray) -> jnp.ndarray:
  """Summed negative-sampling loss: ``inputs [n, d]`` against ``outputs [n, 1 + K, d]``, the first the true
  word, the rest negatives; ``weights [n, 1 + K]`` (0 drops a term)."""
  scores = jnp.einsum("nd,nkd->nk", inputs, outputs)
  signs = jnp.concatenate([jnp.ones_like(scores[:, :1]), -jnp.ones_like(scores[:, 1:])], axis=1)
  return -jnp.sum(weights * jax.nn.log_sigmoid(signs * scores))


def _examples(model: nn.Module, task_config: Any, tokens: jnp.ndarray, rng: jax.Array):
  """What one batch trains: ``(input ids [n, m], input weights [n, m], targets [n, 1 + K], target weights)``:
  skip-gram's n pairs (m = 1: the context word) or CBOW's n centre words (m = 2 window: their contexts)."""
  keep_rng, window_rng, negative_rng = jax.random.split(rng, 3)
  counts = jnp.asarray(model.word_counts, jnp.float32)
  tokens = subsample(tokens, keep_probability(counts, task_config.sample), keep_rng)
  context, mask = windows(tokens, task_config.window, window_rng)
  cdf = negative_cdf(counts, task_config.negative_power)
  if task_config.mode == "skipgram":
    inputs, in_weights = context.reshape(-1, 1), mask.reshape(-1, 1).astype(jnp.float32)
    centre = jnp.broadcast_to(tokens[..., None], context.shape).reshape(-1)
  else:
    inputs, in_weights = context.reshape(-1, context.shape[-1]), mask.reshape(-1, context.shape[-1]).astype(jnp.float32)
    centre = tokens.reshape(-1)
  real = in_weights.max(axis=1)  # a centre word with no context trains nothing
  negatives = sample_negatives(cdf, negative_rng, (centre.shape[0], task_config.negatives))
  targets = jnp.concatenate([centre[:, None], negatives], axis=1)
  out_weights = real[:, None] * jnp.concatenate([jnp.ones_like(real)[:, None], (negatives != centre[:, None])], axis=1)
  return inputs, in_weights, targets, out_weights


def _hidden(input_rows: jnp.ndarray, in_weights: jnp.ndarray) -> jnp.ndarray:
  """``[n, d]``: the weighted mean of each example's input rows ``[n, m, d]`` (skip-gram's m = 1: the row)."""
  return jnp.einsum("nm,nmd->nd", in_weights, input_rows) / jnp.maximum(in_weights.sum(1, keepdims=True), 1.0)


def objective(model: nn.Module, params: Any, task_config: Any, tokens: jnp.ndarray, rng: jax.Array):
  """``(summed loss, number of examples, (inputs, in_weights, targets, out_weights, d loss / d hidden,
  d loss / d output rows))``: the loss of one batch and its gradient with respect to the rows it read."""
  inputs, in_weights, targets, out_weights = _examples(model, task_config, tokens, rng)
  hidden = _hidden(params["input"][inputs], in_weights)
  output_rows = params["output"][targets]
  value, (d_hidden, d_output) = jax.value_and_grad(pair_loss, argnums=(0, 1))(hidden, output_rows, out_weights)
  return value, out_weights[:, 0].sum(), (inputs, in_weights, targets, out_weights, d_hidden, d_output)


def make(config: Any, model: nn.Module, optimizer: optax.GradientTransformation,
         context: tasks.Context = tasks.Context()) -> tasks.Task:
  t = config.task
  if t.mode not in MODES:
    raise ValueError(f"config.task.mode={t.mode!r} is unknown; choose one of {MODES}")
  for field, low in (("window", 1), ("negatives", 1)):
    if getattr(t, field) < low:
      raise ValueError(f"config.task.{field}={getattr(t, field)} must be >= {low}")
  if t.duplicates not in DUPLICATES:
    raise ValueError(f"config.task.duplicates={t.duplicates!r} is unknown; choose one of {DUPLICATES}")
  if t.sample < 0:
    raise ValueError(f"config.task.sample={t.sample} must be >= 0 (0: no subsampling)")
  if config.optim.name != "sgd" or config.optim.momentum or config.optim.weight_decay or config.optim.ema_decay:
    raise ValueError(f"config.optim: word2vec updates only the rows a batch reads, with plain SGD; got "
                     f"name={config.optim.name!r}, momentum={config.optim.momentum}, weight_decay="
                     f"{config.optim.weight_decay}, ema_decay={config.optim.ema_decay}")

  def scatter(table, rows, weights, steps):
    """``table`` with each step ``[..., d]`` added at its row; under ``task.duplicates="mean"`` a row that
    ``k`` terms of the batch moved gets the mean of their steps, not their sum."""
    rows, weights, steps = rows.reshape(-1), weights.reshape(-1), steps.reshape(-1, steps.shape[-1])
    if t.duplicates == "mean":
      hits = jnp.zeros(table.shape[0], steps.dtype).at[rows].add((weights > 0).astype(steps.dtype))
      steps = steps / jnp.maximum(hits[rows], 1.0)[:, None]
    return table.at[rows].add(steps)

  def init(rng, batch):
    return model.init(rng, batch["tokens"][:, :1])["params"]

  def update(params, opt_state, batch, rng):
    value, pairs, (inputs, in_weights, targets, out_weights, d_hidden, d_output) = objective(
        model, params, t, batch["tokens"], rng)
    # Each input row takes the whole error of the hidden vector (skip-gram: its own; CBOW: the C tool's rule).
    d_input = in_weights[..., None] * d_hidden[:, None, :]
    (step_input, step_output), opt_state = optimizer.update((d_input, d_output), opt_state)
    params = {"input": scatter(params["input"], inputs, in_weights, step_input),
              "output": scatter(params["output"], targets, out_weights, step_output)}
    finite = jnp.isfinite(value)
    return params, opt_state, {"loss": value / jnp.maximum(pairs, 1.0), "examples": pairs}, finite

  def evaluate(params, batch):
    tokens = jnp.where(batch["mask"][:, None] > 0, batch["tokens"], 0)  # padding rows hold no word
    value, pairs, _ = objective(model, params, t, tokens, jax.random.PRNGKey(EVAL_SEED))
    return {"loss": value, "count": pairs}

  return tasks.Task(init=init, init_opt_state=optimizer.init, update=update, evaluate=evaluate)


parts = tasks.no_parts
