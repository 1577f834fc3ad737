"""Multi-layer perceptron."""

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp


class MLP(nn.Module):
  """Flatten -> [Dense -> ReLU -> Dropout] * len(hidden) -> Dense(num_classes).

  Input ``[batch, ...]`` (flattened), output logits ``[batch, num_classes]``.
  """

  num_classes: int = 10
  hidden: Sequence[int] = (512, 512)
  dropout: float = 0.0

  @nn.compact
  def __call__(self, x: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    x = x.reshape((x.shape[0], -1))
    for width in self.hidden:
      x = nn.relu(nn.Dense(width)(x))
      if self.dropout:
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
    return nn.Dense(self.num_classes)(x)
