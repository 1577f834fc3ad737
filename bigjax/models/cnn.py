"""Convolutional networks for small images: the seed's Keras CNN and a stronger VGG-style CNN.

Convolutions are ``layers.Conv``: XLA's convolution (``impl="xla"``) or image patches followed by one
matmul (``impl="patches"``), the same ``[kh, kw, in, out]`` kernel under the same parameter names, so
checkpoints are interchangeable. On this 2-core CPU, one training step of the seed's model runs at about
90 (xla) and 280-370 (patches) steps/s with 1 or 25 steps per jitted call (``python bench/conv_impls.py``,
cores shared with other jobs): XLA's CPU convolution is slow for few channels. On accelerators XLA's
convolution is the better default.
"""

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from bigjax.models import layers

# Keras initialises every kernel with glorot_uniform and every bias with zeros.
_KERAS_KERNEL_INIT = nn.initializers.glorot_uniform()


def _conv3x3(features: int, impl: str) -> layers.Conv:
  """Keras' ``Conv2D(features, (3, 3))``: stride 1, VALID, glorot_uniform kernel, zero bias."""
  return layers.Conv(features, (3, 3), padding="VALID", kernel_init=_KERAS_KERNEL_INIT, impl=impl)


def max_pool_2x2(x: jnp.ndarray) -> jnp.ndarray:
  """2x2 max pool, stride 2, floor on odd sizes like Keras ``MaxPooling2D(2)``; ``[b,h,w,c] -> [b,h//2,w//2,c]``.

  Written as reshape + max rather than ``reduce_window``: the same numbers, and cheaper on CPU.
  """
  b, h, w, c = x.shape
  x = x[:, : h // 2 * 2, : w // 2 * 2]
  return x.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


class SeedCNN(nn.Module):
  """The seed's Keras model: Conv(32, 3x3, ReLU) -> MaxPool(2) -> Flatten -> Dense(num_classes).

  Keras' ``Dense(10, activation='softmax')`` becomes logits here; the softmax lives in the loss.
  ``[b, 28, 28, 1] -> [b, 10]`` with 320 + 54,090 parameters, as in Keras' ``model.summary()``.
  """

  num_classes: int = 10
  features: int = 32
  impl: str = "patches"  # xla | patches: the same function, see the module docstring

  @nn.compact
  def __call__(self, x: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    del train  # no dropout or batch norm in the seed's model
    x = nn.relu(_conv3x3(self.features, self.impl)(x))
    x = max_pool_2x2(x)
    x = x.reshape((x.shape[0], -1))
    return nn.Dense(self.num_classes, kernel_init=_KERAS_KERNEL_INIT)(x)


class CNN(nn.Module):
  """VGG-style CNN: per stage two 3x3 VALID convs + ReLU, 2x2 max pool, dropout; then Dense + dropout.

  With the defaults, ``[b, 28, 28, 1] -> 26 -> 24 -> 12 -> 10 -> 8 -> 4 -> [b, 4*4*64] -> 256 -> [b, 10]``.
  """

  num_classes: int = 10
  stages: Sequence[int] = (32, 64)
  dense: int = 256
  conv_dropout: float = 0.25
  dense_dropout: float = 0.5
  impl: str = "patches"

  @nn.compact
  def __call__(self, x: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    for features in self.stages:
      x = nn.relu(_conv3x3(features, self.impl)(x))
      x = nn.relu(_conv3x3(features, self.impl)(x))
      x = max_pool_2x2(x)
      x = nn.Dropout(self.conv_dropout, deterministic=not train)(x)
    x = x.reshape((x.shape[0], -1))
    x = nn.relu(nn.Dense(self.dense, kernel_init=_KERAS_KERNEL_INIT)(x))
    x = nn.Dropout(self.dense_dropout, deterministic=not train)(x)
    return nn.Dense(self.num_classes, kernel_init=_KERAS_KERNEL_INIT)(x)
