"""Convolutional networks for small images: the seed's Keras CNN and a stronger VGG-style CNN.

Convolutions run through XLA's convolution (``impl="xla"``) or as image patches (shifted slices
concatenated on the channel axis) followed by one matmul (``impl="patches"``). Both hold the kernel
in the same ``[kh, kw, in, out]`` layout under the same parameter names, so checkpoints are
interchangeable. On this 2-core CPU, one training step of the seed's model runs at about 90 (xla)
and 220 (patches) steps/s, 300 with 25 steps per jitted call (``python bench/conv_impls.py``):
XLA's CPU convolution is slow for few channels. On accelerators XLA's convolution is the better default.
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

# Keras initialises every kernel with glorot_uniform and every bias with zeros.
_KERAS_KERNEL_INIT = nn.initializers.glorot_uniform()


def conv2d(x: jnp.ndarray, kernel: jnp.ndarray, padding: str = "VALID", impl: str = "patches") -> jnp.ndarray:
  """Stride-1 2-D convolution (no bias); ``[b, h, w, c], [kh, kw, c, f] -> [b, h', w', f]``."""
  kh, kw, cin, features = kernel.shape
  if impl == "xla":
    return jax.lax.conv_general_dilated(x, kernel, (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))
  if impl == "patches":
    if padding == "SAME":
      x = jnp.pad(x, ((0, 0), ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0)))
    return _patches(x, kh, kw, 1) @ kernel.reshape(kh * kw * cin, features)
  raise ValueError(f"conv impl must be 'xla' or 'patches', got {impl!r}")


def _patches(x: jnp.ndarray, kh: int, kw: int, stride: int, di: int = 0, dj: int = 0) -> jnp.ndarray:
  """VALID patches of ``x`` starting at offset (di, dj); ``[b, h, w, c] -> [b, h', w', kh*kw*c]``.

  Feature index = (i * kw + j) * c + channel, matching ``kernel.reshape(kh * kw * c, out)``.
  """
  h = (x.shape[1] - kh - di) // stride + 1
  w = (x.shape[2] - kw - dj) // stride + 1
  shifted = [x[:, di + i: di + i + stride * (h - 1) + 1: stride, dj + j: dj + j + stride * (w - 1) + 1: stride]
             for i in range(kh) for j in range(kw)]
  return jnp.concatenate(shifted, axis=-1)


class Conv(nn.Module):
  """2-D convolution + bias, stride 1, ``padding`` 'VALID' or 'SAME'; ``[b, h, w, c] -> [b, h', w', features]``."""

  features: int
  kernel_size: tuple[int, int] = (3, 3)
  padding: str = "VALID"
  impl: str = "patches"
  kernel_init: nn.initializers.Initializer = _KERAS_KERNEL_INIT

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    shape = (*self.kernel_size, x.shape[-1], self.features)
    kernel = self.param("kernel", self.kernel_init, shape, jnp.float32)
    bias = self.param("bias", nn.initializers.zeros_init(), (self.features,), jnp.float32)
    return conv2d(x, kernel.astype(x.dtype), self.padding, self.impl) + bias


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
