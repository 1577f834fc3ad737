"""Autoregressive decoding over a KV cache: greedy, and beam search with GNMT's length penalty.

Both drive a ``step(tokens [n, 1] int32, cache) -> (logits [n, vocab] float32, cache)`` function, where the
cache is a pytree whose arrays have the ``n`` rows first (per-example keys and values; scalars such as cache
indices are shared and left alone). They are pure and jit-able; the number of steps is ``max_len``.

  greedy(step, cache, batch, bos, eos, max_len)                 tokens [b, max_len]
  beam_search(step, cache, batch, beam, alpha, bos, eos, max_len)  tokens [b, max_len], scores [b]

Outputs hold the generated tokens after <s>, up to and including the first </s>, then ``pad`` (0). Beam
search keeps ``beam`` live hypotheses per example and ranks finished ones by log-probability / lp(length),
lp(n) = ((5 + n) / 6)^alpha (Wu et al. 2016); it stops early once no live hypothesis can beat the finished
ones. With ``beam=1`` and ``alpha=0`` it returns what ``greedy`` returns.
"""

from typing import Any, Callable

import jax
import jax.numpy as jnp

Step = Callable[[jnp.ndarray, Any], tuple[jnp.ndarray, Any]]
NEG_INF = -1e9


def _gather_rows(tree: Any, rows: jnp.ndarray) -> Any:
  """Every array of ``tree`` with at least one axis, rows reordered (and repeated) by ``rows``."""
  return jax.tree.map(lambda x: x[rows] if x.ndim else x, tree)


def greedy(step: Step, cache: Any, batch: int, bos: int, eos: int, max_len: int, pad: int = 0) -> jnp.ndarray:
  """The most probable next token at every step, from <s> until </s> or ``max_len`` tokens."""
  def body(t, state):
    tokens, last, done, cache = state
    logits, cache = step(last[:, None], cache)
    token = jnp.argmax(logits, axis=-1).astype(jnp.int32)
    token = jnp.where(done, pad, token)
    tokens = tokens.at[:, t].set(token)
    return tokens, token, done | (token == eos), cache

  init = (jnp.full((batch, max_len), pad, jnp.int32), jnp.full((batch,), bos, jnp.int32),
          jnp.zeros((batch,), bool), cache)
  return jax.lax.fori_loop(0, max_len, body, init)[0]


def length_penalty(length: jnp.ndarray, alpha: float) -> jnp.ndarray:
  return ((5.0 + length) / 6.0) ** alpha


def beam_search(step: Step, cache: Any, batch: int, beam: int, alpha: float, bos: int, eos: int, max_len: int,
                pad: int = 0) -> tuple[jnp.ndarray, jnp.ndarray]:
  """The best hypothesis per example: ``tokens [batch, max_len]`` and its score (log-probability / lp(length)).

  ``cache`` holds ``batch * beam`` rows, example-major (example i's beams are rows i * beam ... i * beam + beam
  - 1), e.g. a cache made for the batch's sources each repeated ``beam`` times.
  """
  k = beam
  offsets = (jnp.arange(batch) * k)[:, None]  # [b, 1]: the first cache row of each example

  def cond(state):
    t, _, alive_logp, _, finished_score, _ = state
    # The best a live hypothesis can still reach: its log-probability (which only falls) over the largest
    # length penalty (alpha >= 0) any finished hypothesis could have.
    best_alive = alive_logp[:, 0] / length_penalty(jnp.float32(max_len), alpha)
    return (t < max_len) & ~jnp.all(finished_score[:, 0] >= best_alive)

  def body(state):
    t, alive, alive_logp, finished, finished_score, cache = state
    last = jnp.where(t == 0, bos, alive[:, :, jnp.maximum(t - 1, 0)]).reshape(batch * k, 1)
    logits, cache = step(last, cache)
    logp = jax.nn.log_softmax(logits.astype(jnp.float32)).reshape(batch, k, -1)
    vocab = logp.shape[-1]
    candidates = (alive_logp[:, :, None] + logp).reshape(batch, k * vocab)
    top_logp, top_index = jax.lax.top_k(candidates, 2 * k)  # enough to keep k alive even if k end here
    origin, token = top_index // vocab, (top_index % vocab).astype(jnp.int32)
    sequences = jnp.take_along_axis(alive, origin[:, :, None], axis=1).at[:, :, t].set(token)  # [b, 2k, L]
    ended = token == eos

    # Finished: the k best of those kept so far and those ending now, by normalised score.
    score = jnp.where(ended, top_logp / length_penalty((t + 1).astype(jnp.float32), alpha), NEG_INF)
    pool_score = jnp.concatenate([finished_score, score], axis=1)
    pool = jnp.concatenate([finished, sequences], axis=1)
    finished_score, chosen = jax.lax.top_k(pool_score, k)
    finished = jnp.take_along_axis(pool, chosen[:, :, None], axis=1)

    # Alive: the k most probable that did not end.
    alive_logp, chosen = jax.lax.top_k(jnp.where(ended, NEG_INF, top_logp), k)
    alive = jnp.take_along_axis(sequences, chosen[:, :, None], axis=1)
    rows = (offsets + jnp.take_along_axis(origin, chosen, axis=1)).reshape(-1)
    return t + 1, alive, alive_logp, finished, finished_score, _gather_rows(cache, rows)

  alive_logp = jnp.tile(jnp.array([0.0] + [NEG_INF] * (k - 1), jnp.float32), (batch, 1))  # expand one beam first
  init = (jnp.int32(0), jnp.full((batch, k, max_len), pad, jnp.int32), alive_logp,
          jnp.full((batch, k, max_len), pad, jnp.int32), jnp.full((batch, k), NEG_INF, jnp.float32), cache)
  t, alive, alive_logp, finished, finished_score, _ = jax.lax.while_loop(cond, body, init)
  # An example with nothing finished (no </s> within max_len) returns its best live hypothesis.
  none = finished_score[:, 0] <= NEG_INF / 2
  tokens = jnp.where(none[:, None], alive[:, 0], finished[:, 0])
  scores = jnp.where(none, alive_logp[:, 0] / length_penalty(t.astype(jnp.float32), alpha), finished_score[:, 0])
  return tokens, scores
