"""U-Net (Ronneberger, Fischer and Brox 2015): a contracting path of convolutions and poolings, an expanding path
of up-convolutions, each level joined to the contracting level of its size.

  image [b, h, w, c]
  down:  for each width of ``widths`` but the last: (3x3 conv, norm, ReLU) x 2 -> kept for the skip; 2x2 max pool
  floor: (3x3 conv, norm, ReLU) x 2 at ``widths[-1]``
  up:    for each kept level, deepest first: 2x2 up-convolution (stride 2) to its width, concatenated with the
         kept features, (3x3 conv, norm, ReLU) x 2
  1x1 conv -> logits [b, h, w, num_classes]

The paper's is ``widths=(64, 128, 256, 512, 1024)`` with unpadded convolutions (a 572-pixel tile gives a
388-pixel map, the border read from a mirrored image: overlap-tile) and no normalisation. Here convolutions are
'SAME'-padded, so any ``h`` and ``w`` divisible by 2^(levels - 1) map to a same-sized output and a whole slice is
segmented in one call; ``norm="group"`` adds GroupNorm after each convolution (training from scratch on
batches of a few tiles, where BatchNorm's statistics would be noise), ``"none"`` is the paper's. ``dropout``
is the paper's drop-out at the end of the contracting path (at the floor), in training only.
"""

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from bigjax.models import layers
from bigjax.models.cnn import max_pool_2x2

NORMS = ("group", "none")


class UNet(nn.Module):
  """``images [b, h, w, c] -> logits [b, h, w, num_classes]``; ``h`` and ``w`` divisible by 2^(len(widths) - 1).

  Parameters: ``down{level}_{i}`` / ``up{level}_{i}`` (3x3 convolutions) with ``down{level}_norm{i}`` /
  ``up{level}_norm{i}`` (GroupNorm), ``upconv{level}`` (2x2 transposed convolutions), ``head`` (1x1).
  """

  num_classes: int
  widths: Sequence[int] = (64, 128, 256, 512, 1024)
  norm: str = "group"
  groups: int = 8
  dropout: float = 0.0
  impl: str = "patches"

  def _block(self, x: jnp.ndarray, width: int, name: str) -> jnp.ndarray:
    for i in range(2):
      x = layers.Conv(width, (3, 3), padding="SAME", use_bias=self.norm == "none", impl=self.impl,
                      kernel_init=nn.initializers.he_normal(), name=f"{name}_{i}")(x)
      if self.norm == "group":
        x = nn.GroupNorm(num_groups=min(self.groups, width), name=f"{name}_norm{i}")(x)
      x = nn.relu(x)
    return x

  @nn.compact
  def __call__(self, images: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    if self.norm not in NORMS:
      raise ValueError(f"UNet norm={self.norm!r} is unknown; choose one of {NORMS}")
    factor = 2 ** (len(self.widths) - 1)
    if images.shape[1] % factor or images.shape[2] % factor:
      raise ValueError(f"UNet with {len(self.widths)} levels needs image sides divisible by {factor}, "
                       f"got {images.shape[1]} x {images.shape[2]}")
    x, kept = images, []
    for level, width in enumerate(self.widths[:-1]):
      x = self._block(x, width, f"down{level}")
      kept.append(x)
      x = max_pool_2x2(x)
    x = self._block(x, self.widths[-1], f"down{len(self.widths) - 1}")
    x = nn.Dropout(self.dropout, deterministic=not train)(x)
    for level in reversed(range(len(kept))):
      width = self.widths[level]
      x = layers.ConvTranspose(width, (2, 2), strides=2, impl=self.impl, name=f"upconv{level}")(x)
      x = self._block(jnp.concatenate([kept[level], x], axis=-1), width, f"up{level}")
    return layers.Conv(self.num_classes, (1, 1), impl=self.impl, name="head")(x)
