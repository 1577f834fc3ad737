"""Classification metrics as pure functions of logits/labels (optionally weighted for padded batches)."""

import jax.numpy as jnp


def correct(logits: jnp.ndarray, labels: jnp.ndarray) -> jnp.ndarray:
  """1.0 where argmax(logits) == label, else 0.0; ``[b, k], [b] -> [b]``.

  Ties in the logits resolve to the lowest class index (``argmax`` semantics), as in Keras and NumPy.
  """
  return (jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32)


def accuracy(logits: jnp.ndarray, labels: jnp.ndarray, weights: jnp.ndarray | None = None) -> jnp.ndarray:
  """Weighted top-1 accuracy; ``weights`` (``[b]``, e.g. a padding mask) default to ones."""
  hits = correct(logits, labels)
  if weights is None:
    return hits.mean()
  return (hits * weights).sum() / jnp.maximum(weights.sum(), 1e-12)
