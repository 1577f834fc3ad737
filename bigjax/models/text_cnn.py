"""Kim (2014)'s CNN for sentence classification, and the max-norm constraint it trains with.

  tokens [b, t] -> embed [b, t, 300] -> per width w in (3, 4, 5): conv (100 filters) + ReLU
  -> max over time -> concat [b, 300] -> dropout 0.5 -> Dense -> logits [b, classes]

Padding (``pad_id``, 0 by default) is invisible to the model: padded positions embed to zero, and the max over time
only looks at windows that hold at least one real token. So logits do not depend on how much
padding a batch carries, and the convolution is "wide" (each sentence is padded with w-1 zeros on
both sides, as Kim pads): a sentence shorter than the widest filter, even one word, still works.
Kim's max also saw windows lying wholly in padding, which add relu(bias) to the candidates; we
leave them out, which is what makes the logits independent of the padding.

Initialisation follows Kim's code: embeddings uniform in [-0.25, 0.25] (CNN-rand), conv kernels
uniform in [-0.01, 0.01], output weights and all biases zero. CNN-static and CNN-non-static start the embeddings
from trained word vectors (the classification task's ``task.word_vectors`` warm start); ``static_embed`` keeps
them fixed (CNN-static: no gradient reaches them).
"""

from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


EMBED_INIT_LIMIT = 0.25  # Kim's CNN-rand embeddings: uniform in [-0.25, 0.25]


def _uniform(limit: float) -> nn.initializers.Initializer:
  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -limit, limit)
  return init


def conv1d_wide(x: jnp.ndarray, kernel: jnp.ndarray) -> jnp.ndarray:
  """Full ("wide") 1-D convolution, no bias: ``[b, t, d], [w, d, f] -> [b, t + w - 1, f]``.

  Output position i sees input positions i-w+1 .. i, zero outside [0, t). Written as w shifted
  matmuls: cheaper than XLA's convolution on CPU and the same numbers.
  """
  w = kernel.shape[0]
  x = jnp.pad(x, ((0, 0), (w - 1, w - 1), (0, 0)))
  out_len = x.shape[1] - w + 1
  return sum(x[:, j:j + out_len] @ kernel[j] for j in range(w))


def window_has_token(mask: jnp.ndarray, width: int) -> jnp.ndarray:
  """``[b, t]`` bool -> ``[b, t + width - 1]`` bool: does the wide window at i hold a real token?"""
  padded = jnp.pad(mask, ((0, 0), (width - 1, width - 1)))
  out_len = padded.shape[1] - width + 1
  return jnp.stack([padded[:, j:j + out_len] for j in range(width)]).any(axis=0)


class WideConv1D(nn.Module):
  """`conv1d_wide` + bias: ``[b, t, d] -> [b, t + width - 1, features]``; kernel ``[width, d, features]``."""

  features: int
  width: int

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    kernel = self.param("kernel", _uniform(0.01), (self.width, x.shape[-1], self.features))
    bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
    return conv1d_wide(x, kernel.astype(x.dtype)) + bias


class KimCNN(nn.Module):
  """CNN-rand of Kim (2014): ``tokens int32 [b, t] -> logits [b, num_classes]``.

  Parameters: ``embed/embedding [vocab, embed_dim]``, ``conv{w}/kernel [w, embed_dim, num_filters]``
  and ``conv{w}/bias [num_filters]`` per width, ``output/kernel [len(widths) * num_filters, classes]``
  and ``output/bias``. Dropout needs an rng named "dropout" when ``train=True``. ``static_embed``: the embedding
  table gets no gradient (Kim's CNN-static; with word vectors loaded into it).
  """

  vocab_size: int
  num_classes: int
  embed_dim: int = 300
  filter_widths: Sequence[int] = (3, 4, 5)
  num_filters: int = 100
  dropout: float = 0.5
  pad_id: int = 0
  static_embed: bool = False

  @nn.compact
  def __call__(self, tokens: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    if tokens.ndim != 2 or not jnp.issubdtype(tokens.dtype, jnp.integer):
      raise ValueError(f"KimCNN wants integer token ids [batch, time], got {tokens.dtype}{list(tokens.shape)}")
    mask = tokens != self.pad_id  # [b, t]
    x = nn.Embed(self.vocab_size, self.embed_dim, embedding_init=_uniform(EMBED_INIT_LIMIT), name="embed")(tokens)
    if self.static_embed:
      x = jax.lax.stop_gradient(x)
    # Zeroing pad embeddings (Kim resets row 0 to zero after every update) keeps padding out of
    # every window sum, and gives the pad row no gradient.
    x = x * mask[..., None].astype(x.dtype)
    features = []
    for width in self.filter_widths:
      h = nn.relu(WideConv1D(self.num_filters, width, name=f"conv{width}")(x))  # [b, t + w - 1, f]
      # Filling excluded windows with 0 equals leaving them out: every ReLU output is >= 0.
      # An all-padding sentence gets zero features instead of -inf.
      h = jnp.where(window_has_token(mask, width)[..., None], h, 0.0)
      features.append(h.max(axis=1))  # [b, f]
    x = jnp.concatenate(features, axis=-1)  # [b, len(widths) * f]
    x = nn.Dropout(self.dropout, deterministic=not train)(x)
    return nn.Dense(self.num_classes, kernel_init=nn.initializers.zeros_init(), name="output")(x)


def max_norm(params: Mapping[str, Any], limit: float = 3.0, layer: str = "output") -> Mapping[str, Any]:
  """Rescales each column of ``params[layer]["kernel"]`` ``[in, classes]`` whose L2 norm exceeds ``limit``.

  Kim's constraint on the softmax weights, applied after every update:
  ``params = max_norm(optax.apply_updates(params, updates), limit)``.
  Columns at or under the limit are returned bit-identical (Kim's code divided by norm + 1e-7,
  which nudged them too). Accepts the params dict or the ``{"params": ...}`` variables dict.

  Kim's Theano code drops units at train time and scales weights by 1 - p at test time; flax
  scales kept units by 1 / (1 - p) at train time instead. So Kim's s = 3 on his weights is
  ``limit = 3 * (1 - dropout)`` (1.5 at dropout 0.5) on ours; ``limit = 3`` is the looser bound
  most reimplementations use.
  """
  if "params" in params and layer not in params:
    return {**params, "params": max_norm(params["params"], limit, layer)}
  if layer not in params or "kernel" not in params[layer]:
    raise KeyError(f"max_norm: no {layer}/kernel in params (top-level keys: {sorted(params)})")
  kernel = params[layer]["kernel"]
  norms = jnp.sqrt(jnp.sum(jnp.square(kernel), axis=0, keepdims=True))  # [1, classes]
  scale = jnp.where(norms > limit, limit / jnp.where(norms > limit, norms, 1.0), 1.0)
  return {**params, layer: {**params[layer], "kernel": kernel * scale.astype(kernel.dtype)}}
