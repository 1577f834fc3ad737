"""Top-K ranking metrics of one relevant item per user: hit ratio and NDCG at K, ties included.

The relevant item's rank is its 0-based position among the scored items. Where other items score exactly
as high, its rank is taken uniformly at random among the tied positions and the metrics are their expected
values, so a model that scores every item alike gets HR@K = K / n (chance), not 1 or 0:

  g = #items scored strictly higher, t = #other items scored equal; rank ~ Uniform{g, ..., g + t}
  HR@K   = P(rank < K)                      = |[g, g + t] ∩ [0, K)| / (t + 1)
  NDCG@K = E[1(rank < K) / log2(rank + 2)]   (one relevant item: the ideal DCG is 1)

Items excluded from the ranking (``exclude``: a user's training items under full ranking) never count.
A NaN score of the relevant item gives HR = NDCG = 0 (it is ranked last).
"""

import jax.numpy as jnp


def rank_counts(scores: jnp.ndarray, target: jnp.ndarray, exclude: jnp.ndarray | None = None):
  """``(g, t)`` of the ``target`` column of ``scores`` ``[b, n]``; ``exclude`` ``[b, n]`` bool leaves items out."""
  n = scores.shape[-1]
  positive = jnp.take_along_axis(scores, target[:, None], axis=-1)
  others = jnp.arange(n)[None, :] != target[:, None]
  if exclude is not None:
    others &= ~exclude
  higher = (others & (scores > positive)).sum(-1)
  tied = (others & (scores == positive)).sum(-1)
  lost = jnp.isnan(positive[:, 0])  # ranked behind every cut-off
  return jnp.where(lost, jnp.iinfo(jnp.int32).max // 2, higher), jnp.where(lost, 0, tied)


def hit_ratio(higher: jnp.ndarray, tied: jnp.ndarray, k: int) -> jnp.ndarray:
  """``[b]``: expected 1(rank < k) under random tie-breaking."""
  inside = jnp.clip(k - higher, 0, tied + 1)
  return inside.astype(jnp.float32) / (tied + 1).astype(jnp.float32)


def ndcg(higher: jnp.ndarray, tied: jnp.ndarray, k: int) -> jnp.ndarray:
  """``[b]``: expected 1(rank < k) / log2(rank + 2) under random tie-breaking."""
  ranks = jnp.arange(k)[None, :]
  gains = 1.0 / jnp.log2(ranks + 2.0)
  possible = (ranks >= higher[:, None]) & (ranks <= (higher + tied)[:, None])
  return (gains * possible).sum(-1) / (tied + 1).astype(jnp.float32)
