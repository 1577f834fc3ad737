"""Encoder-decoder Transformer (Vaswani et al. 2017) for text-to-text tasks, from ``transformer.py``'s blocks.

  src [b, m] int32 --embed + positions--> encoder blocks (self-attention, source padding hidden) --> memory
  tgt [b, l] int32 --embed + positions--> decoder blocks (causal self-attention, cross-attention on memory)
      --> logits [b, l, vocab_size] float32

Pre-LayerNorm blocks with GPT's initialisation (``transformer.py``), learned positions, and one token table
shared by source, target and output (the paper ties all three; one joint subword vocabulary serves both
languages). Token ``pad_id`` is padding: hidden from attention as a key, never a query anything reads.

Packed rows (``bigjax.data.translation.pack``): with ``src_segments [b, m]`` and ``tgt_segments [b, l]`` (1, 2, ...
per pair in a row, 0 for padding), positions restart at each pair and a token attends only to its own pair: in
the source, in the target (causally), and from the target to its pair's source. Each pair's logits are then
those it would get alone in its own row.

Generation: ``encode`` once, then ``decode`` with ``decode=True`` one token at a time over a KV cache in the
"cache" collection (``bigjax.models.decoding`` drives it): the first ``decode=True`` call with a ``[n, max_len]``
target only sizes the cache, as ``transformer.Decoder``'s init does.
"""

from typing import Any

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp

from bigjax.models.layers import dense_dot_general
from bigjax.models.transformer import _layer_norm, _normal, _Transformer


class _Stack(_Transformer):
  """Positions, dropout, blocks and a final LayerNorm over embedded tokens; ``[b, l, embed] -> [b, l, embed]``.
  The decoder's (``causal``) reads ``memory`` through cross-attention."""

  max_len: int = 128
  causal: bool = False

  @nn.compact
  def __call__(self, embedded: jnp.ndarray, mask: jnp.ndarray | None, memory: jnp.ndarray | None = None,
               memory_mask: jnp.ndarray | None = None, *, positions: jnp.ndarray | None = None, train: bool = False,
               decode: bool = False) -> jnp.ndarray:
    length = embedded.shape[1]
    if length > self.max_len:
      raise ValueError(f"sequence length {length} exceeds max_len={self.max_len}")
    if positions is None:
      positions = self._positions(length, decode)
    wpe = self.param("wpe", _normal(0.02, ("pos", "embed")), (self.max_len, self.embed_dim), jnp.float32)
    x = nn.Dropout(self.dropout, deterministic=not train)(embedded + jnp.take(wpe, positions, axis=0).astype(self.dtype))
    x = self._blocks(x, mask, causal=self.causal, train=train, decode=decode, memory=memory, memory_mask=memory_mask)
    return _layer_norm(self.use_bias, self.dtype, "ln_f")(x)


class Transformer(nn.Module):
  """``(src [b, m], tgt [b, l]) int32 -> logits [b, l, vocab_size] float32``; ``tgt`` is the target shifted right
  (starting with <s>), so position i predicts target token i (teacher forcing).

  Parameters: ``wte`` [vocab, embed] (shared), ``encoder/{wpe, layer_i, ln_f}``, ``decoder/{wpe, layer_i (with
  cross_attn, ln_cross), ln_f}``.
  """

  vocab_size: int = 8000
  max_len: int = 128
  pad_id: int = 0
  num_layers: int = 3
  num_heads: int = 4
  embed_dim: int = 256
  mlp_dim: int | None = None
  dropout: float = 0.1
  attention_dropout: float = 0.0
  use_bias: bool = True
  scan_layers: bool = False
  remat: bool = False
  dtype: Any = "float32"
  attention_impl: str | None = None

  def setup(self):
    self.wte = self.param("wte", _normal(0.02, ("vocab", "embed")), (self.vocab_size, self.embed_dim), jnp.float32)
    fields = dict(num_layers=self.num_layers, num_heads=self.num_heads, embed_dim=self.embed_dim,
                  mlp_dim=self.mlp_dim, dropout=self.dropout, attention_dropout=self.attention_dropout,
                  use_bias=self.use_bias, scan_layers=self.scan_layers, remat=self.remat, dtype=self.dtype,
                  attention_impl=self.attention_impl, max_len=self.max_len)
    self.encoder = _Stack(**fields, causal=False)
    self.decoder = _Stack(**fields, causal=True)

  def _embed(self, tokens: jnp.ndarray) -> jnp.ndarray:
    chex.assert_rank(tokens, 2)
    chex.assert_type(tokens, int)
    return jnp.take(self.wte, tokens, axis=0).astype(self.dtype)

  def _padding(self, src: jnp.ndarray) -> jnp.ndarray:
    return (src != self.pad_id)[:, None, None, :]  # [b, 1, 1, m]: which keys are real

  def encode(self, src: jnp.ndarray, *, train: bool = False, src_segments: jnp.ndarray | None = None) -> jnp.ndarray:
    """``src [b, m] -> memory [b, m, embed]``."""
    if src_segments is None:
      return self.encoder(self._embed(src), self._padding(src), train=train)
    return self.encoder(self._embed(src), same_segment(src_segments, src_segments), train=train,
                        positions=segment_positions(src_segments))

  def decode(self, tgt: jnp.ndarray, memory: jnp.ndarray, src: jnp.ndarray, *, train: bool = False,
             decode: bool = False, src_segments: jnp.ndarray | None = None,
             tgt_segments: jnp.ndarray | None = None) -> jnp.ndarray:
    """``tgt [b, l]``, the encoder's ``memory [b, m, embed]`` of ``src [b, m]`` -> ``logits [b, l, vocab]``."""
    if (src_segments is None) != (tgt_segments is None) or (decode and tgt_segments is not None):
      raise ValueError("packed rows need both src_segments and tgt_segments, and are not decoded over a cache")
    if tgt_segments is None:
      x = self.decoder(self._embed(tgt), None, memory, self._padding(src), train=train, decode=decode)
    else:
      x = self.decoder(self._embed(tgt), same_segment(tgt_segments, tgt_segments), memory,
                       same_segment(tgt_segments, src_segments), positions=segment_positions(tgt_segments),
                       train=train)
    return dense_dot_general(x, self.wte.T.astype(x.dtype), (((2,), (0,)), ((), ())),
                             preferred_element_type=jnp.float32)

  def __call__(self, src: jnp.ndarray, tgt: jnp.ndarray, *, train: bool = False,
               src_segments: jnp.ndarray | None = None, tgt_segments: jnp.ndarray | None = None) -> jnp.ndarray:
    memory = self.encode(src, train=train, src_segments=src_segments)
    return self.decode(tgt, memory, src, train=train, src_segments=src_segments, tgt_segments=tgt_segments)


def same_segment(query_segments: jnp.ndarray, key_segments: jnp.ndarray) -> jnp.ndarray:
  """``[b, l], [b, m] -> bool [b, 1, l, m]``: True where query and key belong to the same pair. Padding (0) sees
  padding, so no row of the mask is empty; no real token sees it."""
  return (query_segments[:, :, None] == key_segments[:, None, :])[:, None]


def segment_positions(segments: jnp.ndarray) -> jnp.ndarray:
  """``[b, l] -> [b, l]``: each token's position within its segment (0 at each segment's first token)."""
  index = jnp.broadcast_to(jnp.arange(segments.shape[1]), segments.shape)
  starts = jnp.where(jnp.concatenate([jnp.ones_like(segments[:, :1], bool), segments[:, 1:] != segments[:, :-1]], 1),
                     index, 0)
  return index - jax.lax.cummax(starts, axis=1)
