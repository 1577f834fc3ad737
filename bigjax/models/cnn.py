"""Convolutional networks for small images: the seed's Keras CNN and a stronger VGG-style CNN.

Convolutions can run either through XLA's convolution (``impl="xla"``) or as image patches
followed by one matmul (``impl="patches"``). Both hold the kernel in the same ``[kh, kw, in, out]``
layout under the same parameter names, so checkpoints are interchangeable. On CPU the patch form
is markedly faster for the small channel counts used here (see ``bench/``); on accelerators XLA's
convolution is the better default.
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

# Keras initialises every kernel with glorot_uniform and every bias with zeros.
_KERAS_KERNEL_INIT = nn.initializers.glorot_uniform()


class Conv(nn.Module):
  """2-D convolution, stride 1, ``padding`` 'VALID' or 'SAME'; ``[b, h, w, c] -> [b, h', w', features]``."""

  features: int
  kernel_size: tuple[int, int] = (3, 3)
  padding: str = "VALID"
  impl: str = "patches"
  kernel_init: nn.initializers.Initializer = _KERAS_KERNEL_INIT

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    kh, kw = self.kernel_size
    cin = x.shape[-1]
    kernel = self.param("kernel", self.kernel_init, (kh, kw, cin, self.features), jnp.float32)
    bias = self.param("bias", nn.initializers.zeros_init(), (self.features,), jnp.float32)
    kernel = kernel.astype(x.dtype)
    if self.impl == "xla":
      y = jax.lax.conv_general_dilated(
          x, kernel, (1, 1), self.padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))
    elif self.impl == "patches":
      # Patch features come out channel-major: index = c * kh * kw + i * kw + j.
      patches = jax.lax.conv_general_dilated_patches(
          x, (kh, kw), (1, 1), self.padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))
      y = patches @ kernel.transpose(2, 0, 1, 3).reshape(cin * kh * kw, self.features)
    else:
      raise ValueError(f"Conv impl must be 'xla' or 'patches', got {self.impl!r}")
    return y + bias


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
  impl: str = "patches"

  @nn.compact
  def __call__(self, x: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    del train  # no dropout or batch norm in the seed's model
    x = nn.relu(Conv(self.features, (3, 3), impl=self.impl)(x))
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
      x = nn.relu(Conv(features, impl=self.impl)(x))
      x = nn.relu(Conv(features, impl=self.impl)(x))
      x = max_pool_2x2(x)
      x = nn.Dropout(self.conv_dropout, deterministic=not train)(x)
    x = x.reshape((x.shape[0], -1))
    x = nn.relu(nn.Dense(self.dense, kernel_init=_KERAS_KERNEL_INIT)(x))
    x = nn.Dropout(self.dense_dropout, deterministic=not train)(x)
    return nn.Dense(self.num_classes, kernel_init=_KERAS_KERNEL_INIT)(x)
