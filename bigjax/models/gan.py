"""Generative adversarial networks for 28x28 images: DCGAN (Radford et al. 2016) and the fully-connected GAN of
Goodfellow et al. (2014).

A config names a *pair* (``config.model.name = "gan.DCGAN"``): a frozen dataclass whose ``generator()`` and
``discriminator()`` build the two flax modules. The players are trained as separate variable trees (see
``bigjax/tasks/gan.py``), so neither module knows of the other.

Images are ``[b, 28, 28, 1]`` in [-1, 1] (the generator ends in tanh); noise is ``[b, latent_dim]``;
the discriminator returns one logit per image, ``[b]``.
"""

import dataclasses

import flax.linen as nn
import jax.numpy as jnp

from bigjax.models import layers

# Radford et al.: weights from N(0, 0.02); batch-norm scale from N(1, 0.02).
_DCGAN_INIT = nn.initializers.normal(0.02)


def _scale_init(key, shape, dtype=jnp.float32):
  return 1.0 + 0.02 * nn.initializers.normal(1.0)(key, shape, dtype)


def _batch_norm(train: bool) -> nn.BatchNorm:
  return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, scale_init=_scale_init)


class DCGANGenerator(nn.Module):
  """``[b, latent] -> [Dense(H) BN ReLU] -> Dense(7*7*2F) BN ReLU -> ConvT(F, 4x4, /2) BN ReLU -> ConvT(1, 4x4, /2)
  tanh -> [b, 28, 28, 1]``; the bracketed layer only when ``dense_features`` H > 0 (InfoGAN's MNIST generator,
  Chen et al. 2016, has H = 1024)."""

  features: int = 32
  impl: str = "patches"  # convolutions: patches + matmul (fast on CPU) or "xla" (see models/layers.py)
  dense_features: int = 0

  @nn.compact
  def __call__(self, z: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    x = z
    if self.dense_features:
      x = nn.relu(_batch_norm(train)(nn.Dense(self.dense_features, use_bias=False, kernel_init=_DCGAN_INIT)(x)))
    x = nn.Dense(7 * 7 * 2 * self.features, use_bias=False, kernel_init=_DCGAN_INIT)(x)
    x = nn.relu(_batch_norm(train)(x)).reshape(z.shape[0], 7, 7, 2 * self.features)
    x = layers.ConvTranspose(self.features, (4, 4), 2, use_bias=False, kernel_init=_DCGAN_INIT, impl=self.impl)(x)
    x = nn.relu(_batch_norm(train)(x))                                                     # [b, 14, 14, F]
    x = layers.ConvTranspose(1, (4, 4), 2, kernel_init=_DCGAN_INIT, impl=self.impl)(x)   # [b, 28, 28, 1]
    return jnp.tanh(x)


class DCGANDiscriminator(nn.Module):
  """``[b, 28, 28, 1] -> Conv(F, 4x4, /2) LReLU -> Conv(2F, 4x4, /2) BN LReLU -> [Dense(H) BN LReLU] -> Dense(1)
  -> [b]`` logits; the bracketed layer only when ``dense_features`` H > 0 (as in InfoGAN's MNIST discriminator).

  No batch norm on the first layer, as in Radford et al.
  """

  features: int = 32
  impl: str = "patches"
  dense_features: int = 0

  @nn.compact
  def __call__(self, x: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    x = layers.Conv(self.features, (4, 4), 2, kernel_init=_DCGAN_INIT, impl=self.impl)(x)          # [b, 14, 14, F]
    x = nn.leaky_relu(x, 0.2)
    x = layers.Conv(2 * self.features, (4, 4), 2, use_bias=False, kernel_init=_DCGAN_INIT, impl=self.impl)(x)
    x = nn.leaky_relu(_batch_norm(train)(x), 0.2).reshape(x.shape[0], -1)                          # [b, 7*7*2F]
    if self.dense_features:
      x = nn.Dense(self.dense_features, use_bias=False, kernel_init=_DCGAN_INIT)(x)
      x = nn.leaky_relu(_batch_norm(train)(x), 0.2)
    return nn.Dense(1, kernel_init=_DCGAN_INIT)(x)[:, 0]


@dataclasses.dataclass(frozen=True)
class DCGAN:
  """The DCGAN pair, sized for 28x28 images (``features`` = F maps in the generator's last hidden layer)."""

  latent_dim: int = 100
  features: int = 32
  conv_impl: str = "patches"  # "patches": 12x faster steps than XLA's convolutions on the 2-core CPU
  dense_features: int = 0     # > 0: a fully-connected layer that wide after the noise and before the logit

  def generator(self) -> nn.Module:
    return DCGANGenerator(self.features, self.conv_impl, self.dense_features)

  def discriminator(self) -> nn.Module:
    return DCGANDiscriminator(self.features, self.conv_impl, self.dense_features)


class Maxout(nn.Module):
  """Dense to ``units * pieces``, max over each group of ``pieces``; ``[b, d] -> [b, units]``."""

  units: int
  pieces: int

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    y = nn.Dense(self.units * self.pieces)(x)
    return y.reshape(*x.shape[:-1], self.units, self.pieces).max(axis=-1)


class MLPGenerator(nn.Module):
  """Goodfellow et al.'s generator: ``[b, latent] -> 1200 ReLU -> 1200 ReLU -> 784 tanh -> [b, 28, 28, 1]``."""

  hidden: int = 1200

  @nn.compact
  def __call__(self, z: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    del train  # no batch norm or dropout
    x = nn.relu(nn.Dense(self.hidden)(z))
    x = nn.relu(nn.Dense(self.hidden)(x))
    return jnp.tanh(nn.Dense(28 * 28)(x)).reshape(z.shape[0], 28, 28, 1)


class MLPDiscriminator(nn.Module):
  """Goodfellow et al.'s discriminator: two maxout layers (``units`` x ``pieces``) with dropout -> ``[b]`` logits.

  Dropout draws from the ``dropout`` rng when ``train``.
  """

  units: int = 240
  pieces: int = 5
  dropout: float = 0.5

  @nn.compact
  def __call__(self, x: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    x = x.reshape(x.shape[0], -1)
    x = nn.Dropout(0.2, deterministic=not train)(x)
    for _ in range(2):
      x = nn.Dropout(self.dropout, deterministic=not train)(Maxout(self.units, self.pieces)(x))
    return nn.Dense(1)(x)[:, 0]


@dataclasses.dataclass(frozen=True)
class MLPGAN:
  """The fully-connected pair of Goodfellow et al. (2014)."""

  latent_dim: int = 100
  hidden: int = 1200
  units: int = 240
  pieces: int = 5
  dropout: float = 0.5

  def generator(self) -> nn.Module:
    return MLPGenerator(self.hidden)

  def discriminator(self) -> nn.Module:
    return MLPDiscriminator(self.units, self.pieces, self.dropout)
