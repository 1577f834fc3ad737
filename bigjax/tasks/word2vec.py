"""Word2Vec by negative sampling (Mikolov et al. 2013), as the word2vec C tool and gensim train it, batched.

A batch is ``{"tokens": int32 [b, L]}``, chunks of the corpus' id stream (``bigjax/data/word_corpus.py``: 0 ends
a sentence). Each update, on device:

1. **Subsampling.** Each word stays with probability ``min(1, (sqrt(f / t) + 1) t / f)`` (``f`` its share of the
   corpus, ``t`` = ``task.sample``); the kept words close up, so windows reach past the dropped ones.
2. **Dynamic window.** Each centre word draws ``b`` uniformly in ``1..window``; its contexts are the words at most
   ``b`` away in the same sentence (nearer words are so used more often).
3. **Negatives.** ``task.negatives`` words per centre word from the unigram distribution raised to
   ``task.negative_power`` (0.75), shared by the pairs of its window (Ji et al. 2016's batching, which turns a
   window's updates into matrix products; the C tool draws them per pair); a negative equal to the centre word
   is skipped, as in the C tool.
4. **Loss** ``-log s(u.v) - sum_k log s(-u.v_k)`` (``s`` the logistic function), summed: skip-gram scores each
   context word's ``input`` row ``u`` against the centre word's ``output`` row ``v`` and the negatives' (the C
   tool's orientation); CBOW scores the mean of the context words' ``input`` rows, and gives each context word
   the whole error of that mean (the C tool's and gensim's ``cbow_mean`` update, not the mean's gradient).
5. **Sparse update.** Only the rows a batch read change: ``config.optim`` must be plain SGD (its schedule: linear
   decay to a floor, ``optim.schedule="linear"``, as the C tool), applied to the rows' gradients and scattered
   back. Within one occurrence of a word its window's steps add up, as the C tool's sequential updates do; a
   row that several occurrences (or negative draws) move in one batch gets the mean of their steps
   (``task.duplicates="mean"``) or their sum (``"sum"``, what Hogwild threads would give it, and what makes
   frequent words' rows overshoot when a batch holds thousands of windows).

A batch's windows are updated together, not one after another as the C tool does. ``evaluate`` is the same
objective on held-out text, every word kept (no subsampling: the score reads all of the text, and a short text
still has examples), windows and negatives from a fixed draw; its ``loss`` is per example, a skip-gram pair or
a CBOW window.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from bigjax import tasks
from bigjax.models import word2vec as word2vec_models

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


def shift(x: jnp.ndarray, offset: int) -> jnp.ndarray:
  """``y[:, p] = x[:, p + offset]`` along axis 1, zeros where ``p + offset`` falls outside."""
  length, reach = x.shape[1], abs(offset)
  padded = jnp.pad(x, [(0, 0), (reach, reach)] + [(0, 0)] * (x.ndim - 2))
  return jax.lax.slice_in_dim(padded, reach + offset, reach + offset + length, axis=1)


def offsets(window: int) -> list[int]:
  """The context offsets -window..-1, 1..window, in the order ``windows`` stacks them."""
  return [o for o in range(-window, window + 1) if o]


def draws(model: nn.Module, task_config: Any, tokens: jnp.ndarray, rng: jax.Array):
  """The random part of one batch: ``(tokens [b, L] after subsampling, context ids [b, L, 2 window], context
  mask, negatives [b, L, K])``; one set of negatives per centre word, shared by its contexts."""
  keep_rng, window_rng, negative_rng = jax.random.split(rng, 3)
  counts = jnp.asarray(model.word_counts, jnp.float32)
  tokens = subsample(tokens, keep_probability(counts, task_config.sample), keep_rng)
  context, mask = windows(tokens, task_config.window, window_rng)
  cdf = negative_cdf(counts, task_config.negative_power)
  negatives = sample_negatives(cdf, negative_rng, tokens.shape + (task_config.negatives,))
  return tokens, context, mask, negatives


def objective(model: nn.Module, params: Any, task_config: Any, tokens: jnp.ndarray, rng: jax.Array):
  """``(summed loss, number of examples, gradients)`` of one batch; the gradients are those of the rows it
  read: ``(ids [b, L], d loss / d input row [b, L, d], whether each position served as a context [b, L],
  targets [b, L, 1 + K], their weights, d loss / d output row [b, L, 1 + K, d])``.

  Every position's input row is read once and the window's rows are shifted copies of them, so a batch reads
  ``b L`` input rows and ``b L (1 + K)`` output rows, whatever the window."""
  tokens, _, mask, negatives = draws(model, task_config, tokens, rng)
  shifts = offsets(task_config.window)
  mask = mask.astype(jnp.float32)
  centre = mask.max(axis=-1)  # a centre word with no context trains nothing
  targets = jnp.concatenate([tokens[..., None], negatives], axis=-1)
  out_weights = centre[..., None] * jnp.concatenate(
      [jnp.ones_like(centre)[..., None], (negatives != tokens[..., None]).astype(jnp.float32)], axis=-1)
  rows, output_rows = params["input"][tokens], params["output"][targets]
  context_rows = jnp.stack([shift(rows, o) for o in shifts], axis=2)  # [b, L, 2 window, d]
  signs = jnp.concatenate([jnp.ones((1,)), -jnp.ones((task_config.negatives,))])

  if task_config.mode == "skipgram":  # each (context, centre) pair scored against the centre and its negatives
    def loss(context_rows, output_rows):
      scores = jnp.einsum("blcd,blkd->blck", context_rows, output_rows)
      return -jnp.sum(mask[..., None] * out_weights[:, :, None, :] * jax.nn.log_sigmoid(signs * scores))
    value, (d_context, d_output) = jax.value_and_grad(loss, argnums=(0, 1))(context_rows, output_rows)
    examples = mask.sum()
  else:  # CBOW: the mean of the contexts scored; each context row takes the whole error of the mean
    hidden = jnp.einsum("blc,blcd->bld", mask, context_rows) / jnp.maximum(mask.sum(-1), 1.0)[..., None]
    value, (d_hidden, d_output) = jax.value_and_grad(pair_loss_at, argnums=(0, 1))(
        hidden, output_rows, out_weights, signs)
    d_context = mask[..., None] * d_hidden[:, :, None, :]
    examples = centre.sum()
  d_rows = sum(shift(d_context[:, :, j], -o) for j, o in enumerate(shifts))
  served = sum(shift(mask[:, :, j], -o) for j, o in enumerate(shifts)) > 0
  return value, examples, (tokens, d_rows, served, targets, out_weights, d_output)


def pair_loss_at(hidden: jnp.ndarray, output_rows: jnp.ndarray, weights: jnp.ndarray, signs: jnp.ndarray):
  """``pair_loss`` over positions: ``hidden [b, L, d]`` against ``output_rows [b, L, 1 + K, d]``."""
  scores = jnp.einsum("bld,blkd->blk", hidden, output_rows)
  return -jnp.sum(weights * jax.nn.log_sigmoid(signs * scores))


WORD_VECTOR_MODELS = (word2vec_models.Word2Vec, word2vec_models.GloVe)


def word_vectors(part: tasks.Part) -> tuple[tuple[str, ...], np.ndarray]:
  """``(words, float32 [len(words), d])`` of a trained Word2Vec or GloVe run (host side): its vocabulary's words
  and the vectors its model returns for them (Word2Vec's ``input`` rows, GloVe's W + W~); id 0, the sentence
  end, is no word. ``ValueError`` for a run of another kind."""
  if not isinstance(part.model, WORD_VECTOR_MODELS) or not hasattr(part.vocab, "words"):
    raise ValueError(f"{part.workdir} is a {type(part.model).__name__} run, not a word-vector one (Word2Vec or GloVe)")
  ids = np.arange(1, len(part.vocab) + 1)
  return tuple(part.vocab.words), np.asarray(part.model.apply({"params": part.params}, ids), np.float32)


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
    """``table`` with each step ``[..., d]`` added at its row (``weights`` 0: the slot moved nothing); under
    ``task.duplicates="mean"`` a row that ``k`` slots of the batch moved (occurrences of a word, draws of a
    negative) gets the mean of their steps, not their sum."""
    rows, weights, steps = rows.reshape(-1), weights.reshape(-1), steps.reshape(-1, steps.shape[-1])
    if t.duplicates == "mean":
      hits = jnp.zeros(table.shape[0], steps.dtype).at[rows].add((weights > 0).astype(steps.dtype))
      steps = steps / jnp.maximum(hits[rows], 1.0)[:, None]
    return table.at[rows].add(steps)

  def init(rng, batch):
    return model.init(rng, batch["tokens"][:, :1])["params"]

  def update(params, opt_state, batch, rng):
    value, examples, (ids, d_rows, served, targets, out_weights, d_output) = objective(
        model, params, t, batch["tokens"], rng)
    (step_input, step_output), new_opt_state = optimizer.update((d_rows, d_output), opt_state)
    finite = jnp.isfinite(value)
    opt_state = jax.tree.map(lambda new, old: jnp.where(finite, new, old), new_opt_state, opt_state)  # a count
    step_input, step_output = (jnp.where(finite, step, 0.0) for step in (step_input, step_output))  # bad: no move
    params = {"input": scatter(params["input"], ids, served, step_input),
              "output": scatter(params["output"], targets, out_weights, step_output)}
    return params, opt_state, {"loss": value / jnp.maximum(examples, 1.0), "examples": examples}, finite

  def evaluate(params, batch):
    tokens = jnp.where(batch["mask"][:, None] > 0, batch["tokens"], 0)  # padding rows hold no word
    every_word = ml_collections.ConfigDict({**t.to_dict(), "sample": 0.0})  # none subsampled: all the text scores
    value, examples, _ = objective(model, params, every_word, tokens, jax.random.PRNGKey(EVAL_SEED))
    return {"loss": value, "count": examples}

  return tasks.Task(init=init, init_opt_state=optimizer.init, update=update, evaluate=evaluate,
                    masks_bad_steps=True)


parts = tasks.no_parts
