"""Transformers in nanoGPT's shape: a causal LM (``Decoder``), a text classifier (``Encoder``), a ``ViT``.

All three stack one pre-LayerNorm ``Block``: ``x + Attn(LN(x))``, then ``x + MLP(LN(x))`` (GELU, 4x wide).
Init follows nanoGPT: N(0, 0.02) weights, residual projections N(0, 0.02 / sqrt(2 * num_layers)).

Sharding: every parameter carries logical axis names, mapped to mesh axes by the caller's rules
(``nn.logical_to_mesh_sharding``); activations carry ``batch, length, embed, mlp`` constraints::

  wte [vocab, embed]   wpe [pos, embed]   lm_head [embed, vocab]   patch_embed [patch, embed] + [embed]
  attn/{query,key,value} [embed, heads, kv] + [heads, kv]            attn/out [heads, kv, embed] + [embed]
  mlp_in [embed, mlp] + [mlp]   mlp_out [mlp, embed] + [embed]       ln_* scale, bias [norm]
  head [embed, None] + [None]   (classes stay unsharded)             under scan_layers: [layers, ...]

Attention runs through ``jax.nn.dot_product_attention``; ``attention_impl="cudnn"`` picks the fused GPU
kernel (``None`` means XLA in jax 0.10). That function has no dropout, so ``attention_dropout > 0``
(nanoGPT's ``attn_dropout``) switches training steps to a plain einsum + softmax path that holds the
``[b, heads, l, l]`` probabilities; it defaults to 0 so the fused kernel stays usable.

Generation (``Decoder(..., decode=True)``): keys and values live in the "cache" collection::

  cache = model.init(rng, jnp.zeros((batch, max_len), jnp.int32), decode=True)["cache"]
  logits, vars = model.apply({"params": params, "cache": cache}, prompt, decode=True, mutable=["cache"])
  logits, vars = model.apply({"params": params, **vars}, next_token[:, None], decode=True, mutable=["cache"])

Each call appends its tokens at the cache index (any length: a whole prompt, then one token at a time).
Writing past ``max_len`` is not checked on device: the update is clamped and the result is garbage.
"""

import functools
from typing import Any

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp

from bigjax.models.layers import dense_dot_general, einsum as mixed_einsum


def _normal(stddev: float, names: tuple) -> nn.initializers.Initializer:
  return nn.with_logical_partitioning(nn.initializers.normal(stddev), names)


def _zeros(names: tuple) -> nn.initializers.Initializer:
  return nn.with_logical_partitioning(nn.initializers.zeros_init(), names)


def _layer_norm(use_bias: bool, dtype: Any, name: str) -> nn.LayerNorm:
  return nn.LayerNorm(epsilon=1e-5, use_bias=use_bias, dtype=dtype, name=name,
                      scale_init=nn.with_logical_partitioning(nn.initializers.ones_init(), ("norm",)),
                      bias_init=_zeros(("norm",)))


class SelfAttention(nn.Module):
  """Multi-head attention; ``[b, l, embed] -> [b, l, embed]``: self-attention, or with ``context [b, m, embed]``
  cross-attention (queries from ``x``, keys and values from ``context``, an encoder's output).

  ``mask``: bool, broadcastable to ``[b, heads, l, l]`` (``[.., l, m]`` with a context), True where a query may
  see a key. ``causal`` adds the lower-triangular mask. With ``decode``, keys come from the cache (see the
  module docstring); cross-attention reads its context whole and caches nothing.
  """

  num_heads: int
  causal: bool = False
  use_bias: bool = True
  attention_dropout: float = 0.0
  out_init_std: float = 0.02
  dtype: Any = jnp.float32
  attention_impl: str | None = None
  train: bool = False
  decode: bool = False

  @nn.compact
  def __call__(self, x: jnp.ndarray, mask: jnp.ndarray | None = None,
               context: jnp.ndarray | None = None) -> jnp.ndarray:
    embed = x.shape[-1]
    if embed % self.num_heads:
      raise ValueError(f"embed_dim={embed} must be a multiple of num_heads={self.num_heads}")
    head_dim = embed // self.num_heads
    project = functools.partial(nn.DenseGeneral, (self.num_heads, head_dim), use_bias=self.use_bias,
                                dtype=self.dtype, dot_general=dense_dot_general, kernel_init=_normal(0.02, ("embed", "heads", "kv")),
                                bias_init=_zeros(("heads", "kv")))
    source = x if context is None else context
    q, k, v = (project(name=name)(y) for name, y in (("query", x), ("key", source), ("value", source)))
    causal = self.causal and context is None
    if self.decode and context is None:
      k, v, cache_mask = self._append_to_cache(k, v)
      if cache_mask is not None:
        mask = cache_mask if mask is None else mask & cache_mask
        causal = False  # the cache mask already holds causality, offset by the cache index

    if self.train and self.attention_dropout > 0:
      out = self._attend_with_dropout(q, k, v, mask, causal)
    else:
      out = jax.nn.dot_product_attention(q, k, v, mask=mask, is_causal=causal, implementation=self.attention_impl)
    return nn.DenseGeneral(embed, axis=(-2, -1), use_bias=self.use_bias, dtype=self.dtype, name="out",
                           dot_general=dense_dot_general,
                           kernel_init=_normal(self.out_init_std, ("heads", "kv", "embed")),
                           bias_init=_zeros(("embed",)))(out)

  def _append_to_cache(self, k: jnp.ndarray, v: jnp.ndarray):
    """Writes ``k, v [b, l, heads, head_dim]`` at the cache index; returns the whole cache and the mask
    ``[1, 1, l, max_len]`` of the keys each new query may see (its own position and earlier ones).

    At init the input ``[b, max_len]`` only sizes the cache: nothing is written, ``k, v, None`` come back.
    """
    initialized = self.has_variable("cache", "cached_key")
    cached_k = self.variable("cache", "cached_key", jnp.zeros, k.shape, k.dtype)
    cached_v = self.variable("cache", "cached_value", jnp.zeros, v.shape, v.dtype)
    index = self.variable("cache", "cache_index", lambda: jnp.zeros((), jnp.int32))
    if not initialized:
      return k, v, None
    start = index.value
    cached_k.value = jax.lax.dynamic_update_slice_in_dim(cached_k.value, k.astype(cached_k.value.dtype), start, 1)
    cached_v.value = jax.lax.dynamic_update_slice_in_dim(cached_v.value, v.astype(cached_v.value.dtype), start, 1)
    index.value = start + k.shape[1]
    query_pos = start + jnp.arange(k.shape[1])
    key_pos = jnp.arange(cached_k.value.shape[1])
    return cached_k.value, cached_v.value, (key_pos[None, :] <= query_pos[:, None])[None, None]

  def _attend_with_dropout(self, q, k, v, mask, causal):
    """What ``dot_product_attention`` computes, with dropout on the attention probabilities."""
    logits_dtype = jnp.promote_types(q.dtype, jnp.float32)  # softmax in float32 at least, as dot_product_attention
    logits = mixed_einsum("bqhd,bkhd->bhqk", q, k, preferred_element_type=logits_dtype) * q.shape[-1] ** -0.5
    if causal:
      tril = jnp.tril(jnp.ones((q.shape[1], k.shape[1]), bool))
      mask = tril if mask is None else mask & tril
    if mask is not None:
      logits = jnp.where(mask, logits, jnp.finfo(logits_dtype).min)
    probs = nn.Dropout(self.attention_dropout, deterministic=False)(jax.nn.softmax(logits).astype(v.dtype))
    return jnp.einsum("bhqk,bkhd->bqhd", probs, v)


class Block(nn.Module):
  """Pre-LN transformer block; ``[b, l, embed] -> ([b, l, embed], None)`` (the pair ``nn.scan`` wants).

  With ``cross``, a decoder block of an encoder-decoder (Vaswani et al. 2017, pre-LN): between self-attention
  and the MLP, ``x + CrossAttn(LN(x), memory)`` over the encoder's output ``memory [b, m, embed]``, whose
  padding ``memory_mask`` (``[b, 1, 1, m]``, True = a real token) hides."""

  num_heads: int
  mlp_dim: int
  dropout: float = 0.0
  attention_dropout: float = 0.0
  use_bias: bool = True
  causal: bool = False
  out_init_std: float = 0.02
  dtype: Any = jnp.float32
  attention_impl: str | None = None
  train: bool = False
  decode: bool = False
  cross: bool = False

  @nn.compact
  def __call__(self, x: jnp.ndarray, mask: jnp.ndarray | None, memory: jnp.ndarray | None = None,
               memory_mask: jnp.ndarray | None = None) -> tuple[jnp.ndarray, None]:
    x = nn.with_logical_constraint(x, ("batch", "length", "embed"))
    attention = functools.partial(SelfAttention, num_heads=self.num_heads, use_bias=self.use_bias,
                                  attention_dropout=self.attention_dropout, out_init_std=self.out_init_std,
                                  dtype=self.dtype, attention_impl=self.attention_impl, train=self.train)
    y = _layer_norm(self.use_bias, self.dtype, "ln_1")(x)
    y = attention(causal=self.causal, decode=self.decode, name="attn")(y, mask)
    x = x + nn.Dropout(self.dropout, deterministic=not self.train)(y)
    if self.cross:
      y = _layer_norm(self.use_bias, self.dtype, "ln_cross")(x)
      y = attention(name="cross_attn")(y, memory_mask, context=memory)
      x = x + nn.Dropout(self.dropout, deterministic=not self.train)(y)

    y = _layer_norm(self.use_bias, self.dtype, "ln_2")(x)
    y = nn.Dense(self.mlp_dim, use_bias=self.use_bias, dtype=self.dtype, name="mlp_in", dot_general=dense_dot_general,
                 kernel_init=_normal(0.02, ("embed", "mlp")), bias_init=_zeros(("mlp",)))(y)
    y = nn.gelu(nn.with_logical_constraint(y, ("batch", "length", "mlp")), approximate=False)
    y = nn.Dense(x.shape[-1], use_bias=self.use_bias, dtype=self.dtype, name="mlp_out", dot_general=dense_dot_general,
                 kernel_init=_normal(self.out_init_std, ("mlp", "embed")), bias_init=_zeros(("embed",)))(y)
    return x + nn.Dropout(self.dropout, deterministic=not self.train)(y), None


class _Transformer(nn.Module):
  """Fields and layer stack shared by Decoder, Encoder and ViT; not a model itself."""

  num_layers: int = 2
  num_heads: int = 4
  embed_dim: int = 128
  mlp_dim: int | None = None         # None: 4 * embed_dim
  dropout: float = 0.0               # embeddings and both residual branches, as nanoGPT's `dropout`
  attention_dropout: float = 0.0     # on attention probabilities; > 0 forgoes the fused kernel
  use_bias: bool = True              # Dense and LayerNorm biases (nanoGPT's `bias`)
  scan_layers: bool = False          # one nn.scan over stacked layer params: compile time O(1) in depth
  remat: bool = False                # recompute each block in the backward pass: activation memory O(1) in depth
  dtype: Any = "float32"             # activations; params stay float32
  attention_impl: str | None = None  # None/"xla" or "cudnn", see jax.nn.dot_product_attention

  def _blocks(self, x: jnp.ndarray, mask: jnp.ndarray | None, *, causal: bool, train: bool,
              decode: bool = False, memory: jnp.ndarray | None = None,
              memory_mask: jnp.ndarray | None = None) -> jnp.ndarray:
    """``num_layers`` Blocks, named ``layer_{i}`` or, under ``scan_layers``, one ``layers`` with a leading
    ``[num_layers]`` axis on every param and cache entry; ``[b, l, embed] -> [b, l, embed]``. With ``memory``
    (an encoder's output), decoder blocks that also attend to it (``Block.cross``)."""
    block = Block
    if self.remat:
      block = nn.remat(block, prevent_cse=not self.scan_layers)  # scan already keeps XLA from merging the copies
    if self.scan_layers:
      block = nn.scan(block, variable_axes={"params": 0, "cache": 0}, split_rngs={"params": True, "dropout": True},
                      in_axes=(nn.broadcast,) * 3, length=self.num_layers,
                      metadata_params={nn.PARTITION_NAME: "layers"})
    kwargs = dict(num_heads=self.num_heads, mlp_dim=self.mlp_dim or 4 * self.embed_dim, dropout=self.dropout,
                  attention_dropout=self.attention_dropout, use_bias=self.use_bias, causal=causal,
                  out_init_std=0.02 / (2 * self.num_layers) ** 0.5, dtype=jnp.dtype(self.dtype),
                  attention_impl=self.attention_impl, train=train, decode=decode, cross=memory is not None)
    if self.scan_layers:
      return block(**kwargs, name="layers")(x, mask, memory, memory_mask)[0]
    for i in range(self.num_layers):
      x, _ = block(**kwargs, name=f"layer_{i}")(x, mask, memory, memory_mask)
    return x

  def _positions(self, length: int, decode: bool) -> jnp.ndarray:
    """``[length]``: 0..length-1, or with ``decode`` the next positions after the cache index, which moves on."""
    positions = jnp.arange(length)
    if decode:
      # At init the cache is still being created: keep its index at 0 so generation starts there.
      initialized = self.has_variable("cache", "cache_index")
      index = self.variable("cache", "cache_index", lambda: jnp.zeros((), jnp.int32))
      positions = index.value + positions
      if initialized:
        index.value = index.value + length
    return positions

  def _embed_tokens(self, tokens: jnp.ndarray, positions: jnp.ndarray, vocab_size: int, max_len: int,
                    train: bool) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Token + learned position embeddings, then dropout; ``[b, l] -> [b, l, embed]``, and the token table."""
    wte = self.param("wte", _normal(0.02, ("vocab", "embed")), (vocab_size, self.embed_dim), jnp.float32)
    wpe = self.param("wpe", _normal(0.02, ("pos", "embed")), (max_len, self.embed_dim), jnp.float32)
    x = (jnp.take(wte, tokens, axis=0) + jnp.take(wpe, positions, axis=0)).astype(self.dtype)
    return nn.Dropout(self.dropout, deterministic=not train)(x), wte

  def _classify(self, x: jnp.ndarray, weights: jnp.ndarray, num_classes: int) -> jnp.ndarray:
    """Final LN, mean over positions weighted by ``weights [b, l]`` (1 = token, 0 = padding), Dense;
    ``[b, l, embed] -> [b, num_classes]`` float32."""
    x = _layer_norm(self.use_bias, self.dtype, "ln_f")(x).astype(jnp.float32)
    pooled = jnp.einsum("ble,bl->be", x, weights) / jnp.maximum(weights.sum(axis=1, keepdims=True), 1.0)
    return nn.Dense(num_classes, name="head", kernel_init=_normal(0.02, ("embed", None)),
                    bias_init=_zeros((None,)))(pooled)


class Decoder(_Transformer):
  """GPT language model; ``tokens [b, l] int32 -> logits [b, l, vocab_size] float32``.

  ``decode=True`` appends the tokens to the KV cache and places them at the cache index; see the module
  docstring for the init/apply calls.
  """

  vocab_size: int = 256
  max_len: int = 256
  tie_embeddings: bool = True  # the LM head is wte^T, as in nanoGPT

  @nn.compact
  def __call__(self, tokens: jnp.ndarray, *, train: bool = False, decode: bool = False) -> jnp.ndarray:
    chex.assert_rank(tokens, 2)
    chex.assert_type(tokens, int)
    length = tokens.shape[1]
    if length > self.max_len:
      raise ValueError(f"sequence length {length} exceeds max_len={self.max_len}")
    x, wte = self._embed_tokens(tokens, self._positions(length, decode), self.vocab_size, self.max_len, train)
    x = self._blocks(x, None, causal=True, train=train, decode=decode)
    x = _layer_norm(self.use_bias, self.dtype, "ln_f")(x)
    if self.tie_embeddings:
      head = wte.T
    else:
      head = self.param("lm_head", _normal(0.02, ("embed", "vocab")), (self.embed_dim, self.vocab_size), jnp.float32)
    # Low-precision inputs, float32 accumulation and output: the loss sees full-precision logits.
    return dense_dot_general(x, head.astype(x.dtype), (((2,), (0,)), ((), ())), preferred_element_type=jnp.float32)


class Encoder(_Transformer):
  """Sequence classifier; ``tokens [b, l] int32 -> logits [b, num_classes] float32``.

  Tokens equal to ``pad_id`` are masked as keys and left out of the mean pool, so trailing padding never
  changes the result. Mean pooling rather than a CLS token: no extra parameter or reserved token id.
  """

  vocab_size: int = 256
  max_len: int = 256
  num_classes: int = 2
  pad_id: int = 0

  @nn.compact
  def __call__(self, tokens: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    chex.assert_rank(tokens, 2)
    chex.assert_type(tokens, int)
    if tokens.shape[1] > self.max_len:
      raise ValueError(f"sequence length {tokens.shape[1]} exceeds max_len={self.max_len}")
    valid = tokens != self.pad_id  # [b, l]
    x, _ = self._embed_tokens(tokens, jnp.arange(tokens.shape[1]), self.vocab_size, self.max_len, train)
    x = self._blocks(x, valid[:, None, None, :], causal=False, train=train)
    return self._classify(x, valid.astype(jnp.float32), self.num_classes)


class ViT(_Transformer):
  """Vision transformer; ``images [b, h, w, c] float32 -> logits [b, num_classes] float32``.

  Non-overlapping ``patch_size`` patches, flattened and embedded by one Dense (a stride-p conv, as a
  matmul), learned positions, encoder blocks, mean pooling over patches (no CLS token, as in Beyer et
  al. 2022, "Better plain ViT baselines").
  """

  patch_size: int = 7
  num_classes: int = 10

  @nn.compact
  def __call__(self, images: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    chex.assert_rank(images, 4)
    b, h, w, c = images.shape
    p = self.patch_size
    if h % p or w % p:
      raise ValueError(f"image size {h}x{w} is not a multiple of patch_size={p}")
    patches = images.reshape(b, h // p, p, w // p, p, c).transpose(0, 1, 3, 2, 4, 5).reshape(b, -1, p * p * c)
    x = nn.Dense(self.embed_dim, dtype=self.dtype, name="patch_embed",
                 kernel_init=nn.with_logical_partitioning(nn.initializers.lecun_normal(), ("patch", "embed")),
                 bias_init=_zeros(("embed",)))(patches)
    wpe = self.param("wpe", _normal(0.02, ("pos", "embed")), (patches.shape[1], self.embed_dim), jnp.float32)
    x = nn.Dropout(self.dropout, deterministic=not train)(x + wpe.astype(x.dtype))
    x = self._blocks(x, None, causal=False, train=train)
    return self._classify(x, jnp.ones(x.shape[:2], jnp.float32), self.num_classes)
