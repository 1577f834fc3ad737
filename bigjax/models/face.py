"""Face recognition by a margin on the hypersphere: an embedding CNN and the class centres it is trained against.

  image [b, h, w, c] -> average pool by ``downsample`` -> stages of (3x3 conv, GroupNorm, ReLU) x 2 + 2x2 max
  pool -> global average pool
  -> Dense -> embedding [b, embed_dim], L2-normalised
  cosines [b, num_classes] = embedding . (each class centre, L2-normalised)

``FaceNet`` returns both: the embedding is what recognition uses (nearest gallery face, verification by cosine
similarity), the cosines are what the margin losses train (``margin_logits``). GroupNorm, not BatchNorm: a batch
of a small face set holds few images per person, and the model keeps no running statistics. Convolutions are
``layers.Conv`` (matmuls, fast on CPU).

Margins (``margin_logits``), with ``theta`` the angle between an embedding and its class centre:
  ArcFace (Deng et al. 2019):  the target logit ``s cos(theta + m)``; past ``theta + m > pi`` it would rise again,
                               so there it is ``s (cos(theta) - m sin(m))`` (InsightFace's continuation)
  CosFace (Wang et al. 2018):  the target logit ``s (cos(theta) - m)``
  none:                        ``s cos(theta)`` (a normalised softmax)
the other classes' logits ``s cos(theta_j)``. Cross-entropy on them is the loss.
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from bigjax.models import layers
from bigjax.models.cnn import max_pool_2x2

MARGINS = ("arcface", "cosface", "none")
PAPER_MARGINS = {"arcface": 0.5, "cosface": 0.35, "none": 0.0}  # m as Deng et al. and Wang et al. set it


def l2_normalize(x: jnp.ndarray, axis: int = -1, eps: float = 1e-12) -> jnp.ndarray:
  return x / jnp.sqrt(jnp.maximum(jnp.sum(jnp.square(x), axis=axis, keepdims=True), eps))


def margin_logits(cosines: jnp.ndarray, labels: jnp.ndarray, kind: str, scale: float, margin: float) -> jnp.ndarray:
  """``cosines [b, k]`` (of each embedding to each class centre), ``labels [b]`` -> logits ``[b, k]``: every
  cosine times ``scale``, the target class's first moved by the ``kind`` of margin (module docstring)."""
  if kind not in MARGINS:
    raise ValueError(f"unknown margin {kind!r}; choose one of {MARGINS}")
  target = jnp.take_along_axis(cosines, labels[:, None], axis=1)  # [b, 1]
  if kind == "arcface":
    clipped = jnp.clip(target, -1.0 + 1e-7, 1.0 - 1e-7)  # arccos' gradient is infinite at +-1
    sine = jnp.sqrt(1.0 - jnp.square(clipped))
    moved = clipped * jnp.cos(margin) - sine * jnp.sin(margin)  # cos(theta + m)
    moved = jnp.where(target > jnp.cos(jnp.pi - margin), moved, target - margin * jnp.sin(margin))
  elif kind == "cosface":
    moved = target - margin
  else:
    moved = target
  one_hot = jax.nn.one_hot(labels, cosines.shape[1], dtype=cosines.dtype)
  return scale * (cosines + one_hot * (moved - target))


class FaceNet(nn.Module):
  """``images [b, h, w, c] -> (embeddings [b, embed_dim] of unit norm, cosines [b, num_classes])``.

  Parameters: ``conv{stage}_{i}`` kernels and biases, ``norm{stage}_{i}`` GroupNorm scales and biases,
  ``embed`` (Dense), ``centres [num_classes, embed_dim]`` (the class centres, normalised when used).
  """

  num_classes: int
  embed_dim: int = 128
  widths: Sequence[int] = (32, 64, 128, 256)
  groups: int = 8
  downsample: int = 1             # average the input over k x k blocks first (112 x 92 faces: 2 gives 56 x 46)
  impl: str = "patches"

  @nn.compact
  def __call__(self, images: jnp.ndarray, *, train: bool = False) -> tuple[jnp.ndarray, jnp.ndarray]:
    del train  # no dropout; GroupNorm acts the same in training and evaluation
    x = images
    if self.downsample > 1:
      b, h, w, c = x.shape
      k = self.downsample
      x = x[:, :h // k * k, :w // k * k].reshape(b, h // k, k, w // k, k, c).mean(axis=(2, 4))
    for stage, width in enumerate(self.widths):
      for i in range(2):
        x = layers.Conv(width, (3, 3), padding="SAME", use_bias=False, impl=self.impl, name=f"conv{stage}_{i}")(x)
        x = nn.relu(nn.GroupNorm(num_groups=min(self.groups, width), name=f"norm{stage}_{i}")(x))
      x = max_pool_2x2(x)
    x = x.mean(axis=(1, 2))  # global average pool: [b, widths[-1]]
    embeddings = l2_normalize(nn.Dense(self.embed_dim, dot_general=layers.dense_dot_general, name="embed")(x))
    centres = self.param("centres", nn.initializers.normal(1.0), (self.num_classes, self.embed_dim), jnp.float32)
    return embeddings, embeddings @ l2_normalize(centres).T
