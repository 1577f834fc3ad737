"""CenterNet ("Objects as Points", Zhou, Wang and Krähenbühl 2019): an object is the peak of a class heatmap at
its box centre, with its width and height and the centre's sub-cell offset regressed at that peak.

  image [b, h, w, 3]
  encoder: a 3x3 stride-2 convolution, then per level of ``widths`` (strides 2, 4, ..., 2^len(widths)): a 3x3
           stride-2 convolution to the level's width (not at level 0), and a residual block (two 3x3
           convolutions, GroupNorm after each, the input added before the last ReLU)
  decoder: from the deepest level up to the output stride, FPN-style: nearest 2x upsampling, a 3x3 convolution
           to the finer level's width, plus a 1x1 projection of that level's encoder features
  heads:   at the output ``stride`` (4): for each of heatmap (``num_classes``), size (2) and offset (2), a 3x3
           convolution of ``head_width`` + ReLU and a 1x1 convolution

The paper's backbones (ResNet-18/DLA-34/Hourglass-104) start from ImageNet weights; this one is small and
trained from scratch, so it normalises with GroupNorm, whose statistics do not depend on batches of a few
images. The heatmap's logits are offset by -log((1 - 0.1) / 0.1), so every cell first predicts 0.1: the paper's
bias initialisation (from RetinaNet's focal loss; without it the background's loss swamps the first steps),
as a constant beside a bias that starts at 0.
"""

import math
from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from bigjax.models import layers

HEADS = ("heatmap", "size", "offset")


class CenterNet(nn.Module):
  """``images [b, h, w, 3] -> {"heatmap": logits [b, h/s, w/s, num_classes], "size": [b, h/s, w/s, 2] (w, h in
  output cells), "offset": [b, h/s, w/s, 2] (x, y)}``, ``s = stride``; ``h`` and ``w`` divisible by
  2^len(widths).

  Parameters: ``stem``, ``down{level}`` (stride-2 convolutions), ``block{level}_{0,1}`` with norms
  ``*_norm``, ``up{level}`` + ``lateral{level}``, ``{head}_hidden`` and ``{head}_out``.
  """

  num_classes: int
  widths: Sequence[int] = (16, 32, 64, 128, 256)
  stride: int = 4
  head_width: int = 64
  groups: int = 8
  impl: str = "patches"

  def _conv(self, x, width, name, kernel=3, strides=1):
    return layers.Conv(width, (kernel, kernel), strides=strides, padding="SAME", use_bias=False, impl=self.impl,
                       kernel_init=nn.initializers.he_normal(), name=name)(x)

  def _norm(self, x, name):
    return nn.GroupNorm(num_groups=min(self.groups, x.shape[-1]), name=name)(x)

  def _residual(self, x, name):
    y = nn.relu(self._norm(self._conv(x, x.shape[-1], f"{name}_0"), f"{name}_0_norm"))
    y = self._norm(self._conv(y, x.shape[-1], f"{name}_1"), f"{name}_1_norm")
    return nn.relu(x + y)

  @nn.compact
  def __call__(self, images: jnp.ndarray, *, train: bool = False) -> dict[str, jnp.ndarray]:
    levels = len(self.widths)
    out_level = int(math.log2(self.stride)) - 1  # level l has stride 2^(l + 1)
    if self.stride < 2 or 2 ** (out_level + 1) != self.stride or out_level >= levels:
      raise ValueError(f"CenterNet stride={self.stride} must be a power of 2 in 2..{2 ** levels} "
                       f"(one of the {levels} levels' strides)")
    factor = 2 ** levels
    if images.shape[1] % factor or images.shape[2] % factor:
      raise ValueError(f"CenterNet with {levels} levels needs image sides divisible by {factor}, "
                       f"got {images.shape[1]} x {images.shape[2]}")
    x = nn.relu(self._norm(self._conv(images, self.widths[0], "stem", strides=2), "stem_norm"))
    features = []
    for level, width in enumerate(self.widths):
      if level:
        x = nn.relu(self._norm(self._conv(x, width, f"down{level}", strides=2), f"down{level}_norm"))
      x = self._residual(x, f"block{level}")
      features.append(x)
    for level in reversed(range(out_level, levels - 1)):
      x = jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)
      x = self._norm(self._conv(x, self.widths[level], f"up{level}"), f"up{level}_norm")
      x = nn.relu(x + self._conv(features[level], self.widths[level], f"lateral{level}", kernel=1))
    outputs = {}
    prior = -math.log((1 - 0.1) / 0.1)
    for head, channels in zip(HEADS, (self.num_classes, 2, 2)):
      y = nn.relu(layers.Conv(self.head_width, (3, 3), impl=self.impl, kernel_init=nn.initializers.he_normal(),
                              name=f"{head}_hidden")(x))
      out = layers.Conv(channels, (1, 1), impl=self.impl, name=f"{head}_out",
                        kernel_init=nn.initializers.normal(0.01))
      outputs[head] = out(y) + (prior if head == "heatmap" else 0.0)
    return outputs
