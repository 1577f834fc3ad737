"""Generative adversarial networks for 28x28 images: DCGAN (Radford et al. 2016) and the fully-connected GAN of
Goodfellow et al. (2014).

A config names a *pair* (``config.model.name = "gan.DCGAN"``): a frozen dataclass whose ``generator()`` and
``discriminator()`` build the two flax modules. The players are trained as separate variable trees (see
``bigjax/tasks/gan.py``), so neither module knows of the other.

Images are ``[b, 28, 28, 1]`` in [-1, 1] (the generator ends in tanh); the generator's input is
``[b, latent_size]`` (``latent(pair, rng, n)`` draws it); the discriminator returns one logit per image, ``[b]``.

InfoGAN's categorical code (Chen et al. 2016; ``DCGAN(code_classes=K)``, K > 0): the generator's input is the
noise followed by a one-hot code ``c`` drawn uniformly from K classes, and the discriminator also returns
``[b, K]`` logits of a posterior ``Q(c | image)`` from a head on its last hidden layer (InfoGAN's MNIST head:
Dense 128, batch norm, LeakyReLU, Dense K), so it returns ``(logits, code_logits)``. The task adds the
cross-entropy of Q on the generated batch, a lower bound on the mutual information I(c; G(z, c)), to both
players' losses (``bigjax/tasks/gan.py``). The code lets the latent space fall into K disconnected parts: a
generator fed one connected Gaussian must put some of its samples between the data's separated classes.
"""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from bigjax.models import layers
from bigjax.models.precision import with_precision

# Radford et al.: weights from N(0, 0.02); batch-norm scale from N(1, 0.02).
_DCGAN_INIT = nn.initializers.normal(0.02)


def _scale_init(key, shape, dtype=jnp.float32):
  return 1.0 + 0.02 * nn.initializers.normal(1.0)(key, shape, dtype)


def _batch_norm(train: bool) -> nn.BatchNorm:
  return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, scale_init=_scale_init)


def latent(pair, rng: jax.Array, n: int) -> jnp.ndarray:
  """``[n, pair.latent_size]``: standard normal noise ``[n, latent_dim]``, then (``code_classes`` K > 0) a one-hot
  code drawn uniformly from K classes. Without a code this is exactly ``jax.random.normal(rng, (n, latent_dim))``."""
  noise = jax.random.normal(rng, (n, pair.latent_dim), jnp.float32)
  classes = getattr(pair, "code_classes", 0)
  if not classes:
    return noise
  code = jax.random.randint(jax.random.fold_in(rng, 1), (n,), 0, classes)
  return jnp.concatenate([noise, jax.nn.one_hot(code, classes, dtype=jnp.float32)], axis=1)


def code_of(pair, z: jnp.ndarray) -> jnp.ndarray | None:
  """The one-hot code ``[n, K]`` inside a latent batch of ``latent(pair, ...)``, or None without a code."""
  return z[:, pair.latent_dim:] if getattr(pair, "code_classes", 0) else None


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
  code_classes: int = 0  # > 0: also return InfoGAN's Q(c | x) logits, [b, code_classes]

  @nn.compact
  def __call__(self, x: jnp.ndarray, *, train: bool = False):
    x = layers.Conv(self.features, (4, 4), 2, kernel_init=_DCGAN_INIT, impl=self.impl)(x)          # [b, 14, 14, F]
    x = nn.leaky_relu(x, 0.2)
    x = layers.Conv(2 * self.features, (4, 4), 2, use_bias=False, kernel_init=_DCGAN_INIT, impl=self.impl)(x)
    x = nn.leaky_relu(_batch_norm(train)(x), 0.2).reshape(x.shape[0], -1)                          # [b, 7*7*2F]
    if self.dense_features:
      x = nn.Dense(self.dense_features, use_bias=False, kernel_init=_DCGAN_INIT)(x)
      x = nn.leaky_relu(_batch_norm(train)(x), 0.2)
    logits = nn.Dense(1, kernel_init=_DCGAN_INIT)(x)[:, 0]
    if not self.code_classes:
      return logits
    q = nn.Dense(128, use_bias=False, kernel_init=_DCGAN_INIT, name="code_hidden")(x)
    q = nn.leaky_relu(_batch_norm(train)(q), 0.2)
    return logits, nn.Dense(self.code_classes, kernel_init=_DCGAN_INIT, name="code_logits")(q)


@dataclasses.dataclass(frozen=True)
class DCGAN:
  """The DCGAN pair, sized for 28x28 images (``features`` = F maps in the generator's last hidden layer)."""

  latent_dim: int = 100
  features: int = 32
  conv_impl: str = "patches"  # "patches": 12x faster steps than XLA's convolutions on the 2-core CPU
  dense_features: int = 0     # > 0: a fully-connected layer that wide after the noise and before the logit
  code_classes: int = 0       # > 0: InfoGAN's categorical code of that many classes (module docstring)
  dtype: str = "float32"      # both players compute in it (bigjax/models/precision.py)
  param_dtype: str = "float32"

  def __post_init__(self):
    if self.code_classes < 0 or self.code_classes == 1:
      raise ValueError(f"config.model.code_classes={self.code_classes}: 0 (no code) or at least 2 classes")

  @property
  def latent_size(self) -> int:
    return self.latent_dim + self.code_classes

  def generator(self) -> nn.Module:
    return with_precision(DCGANGenerator)(self.features, self.conv_impl, self.dense_features, dtype=self.dtype,
                                          param_dtype=self.param_dtype)

  def discriminator(self) -> nn.Module:
    return with_precision(DCGANDiscriminator)(self.features, self.conv_impl, self.dense_features, self.code_classes,
                                              dtype=self.dtype, param_dtype=self.param_dtype)


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
  dtype: str = "float32"      # both players compute in it (bigjax/models/precision.py)
  param_dtype: str = "float32"

  @property
  def latent_size(self) -> int:
    return self.latent_dim

  def generator(self) -> nn.Module:
    return with_precision(MLPGenerator)(self.hidden, dtype=self.dtype, param_dtype=self.param_dtype)

  def discriminator(self) -> nn.Module:
    return with_precision(MLPDiscriminator)(self.units, self.pieces, self.dropout, dtype=self.dtype,
                                            param_dtype=self.param_dtype)
