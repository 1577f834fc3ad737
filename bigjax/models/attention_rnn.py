"""RNN encoder-decoder with additive attention (Bahdanau, Cho and Bengio 2015): the recurrent route to
translation, beside ``seq2seq.Transformer``'s self-attention, with the same interface (``encode``, ``decode``,
``__call__``) so ``tasks/seq2seq.py`` and ``models/decoding.py`` drive either.

  encoder: embedded source -> bidirectional GRU -> annotations h_j [b, m, 2H] (padding left out: ``lengths``)
  decoder, at target step i (teacher forcing: y_{i-1} is the reference's previous token):
    e_ij = v^T tanh(W s_{i-1} + U h_j)         alpha_i = softmax_j(e_ij) over the source's real tokens
    c_i = sum_j alpha_ij h_j                   s_i = GRU(s_{i-1}, [E y_{i-1}; c_i])
    logits_i = E^T tanh(R [s_i; c_i; E y_{i-1}] + b)   (E: the embedding table, shared with the output)
  s_0 = tanh(W_s h_1^backward), the backward GRU's state after reading the whole source.

The paper's readout is a maxout layer and its output table is separate; here a tanh layer and the tied table,
as the Transformer has. The GRU follows flax's equations (reset gate after the recurrent matmul).
Generation keeps s (one row per hypothesis) in the "cache" collection: the first ``decode=True`` call sets it
to s_0, later ones step it through their tokens.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from bigjax.models.rnn import StackedRNN


class _State(nn.Module):
  """The decoder state kept between generation steps: ``(was it there, value)``; ``new`` overwrites it."""

  @nn.compact
  def __call__(self, start: jnp.ndarray, new: jnp.ndarray | None = None) -> tuple[bool, jnp.ndarray]:
    initialized = self.has_variable("cache", "state")
    state = self.variable("cache", "state", lambda: start)
    if new is not None:
      state.value = new
    return initialized, state.value


class AttentionRNN(nn.Module):
  """``(src [b, m], tgt [b, l]) int32 -> logits [b, l, vocab_size] float32``; any lengths (``max_len`` only
  sizes generation, as the Transformer's does)."""

  vocab_size: int = 8000
  max_len: int = 128
  pad_id: int = 0
  embed_dim: int = 256
  hidden: int = 256
  attention_dim: int = 256
  dropout: float = 0.1

  def setup(self):
    h, a, e = self.hidden, self.attention_dim, self.embed_dim
    self.embedding = nn.Embed(self.vocab_size, e, embedding_init=nn.initializers.normal(0.02))
    self.encoder = StackedRNN("gru", h, 1, bidirectional=True)
    self.initial_state = nn.Dense(h, name="initial_state")
    self.keys = nn.Dense(a, use_bias=False, name="keys")
    lecun, zeros = nn.initializers.lecun_normal(), nn.initializers.zeros_init()
    self.query = self.param("query", lecun, (h, a))
    self.score = self.param("score", lecun, (a, 1))
    self.input_kernel = self.param("input_kernel", lecun, (e + 2 * h, 3 * h))
    self.input_bias = self.param("input_bias", zeros, (3 * h,))
    self.recurrent_kernel = self.param("recurrent_kernel", nn.initializers.orthogonal(column_axis=-1), (h, 3 * h))
    self.recurrent_bias = self.param("recurrent_bias", zeros, (h,))  # on the candidate's recurrent term (flax)
    self.readout = nn.Dense(e, name="readout")
    self.state = _State()
    self.drop = nn.Dropout(self.dropout)

  def encode(self, src: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    """``src [b, m] -> memory [b, m, 2H + A]``: the annotations and their attention keys U h_j."""
    lengths = (src != self.pad_id).sum(axis=1).astype(jnp.int32)
    x = self.drop(self.embedding(src), deterministic=not train)
    annotations, _ = self.encoder(x, lengths, train=train)
    return jnp.concatenate([annotations, self.keys(annotations)], axis=-1)

  def _gru(self, state, inputs):
    h = self.hidden
    x = inputs @ self.input_kernel + self.input_bias
    r_h = state @ self.recurrent_kernel
    reset = jax.nn.sigmoid(x[:, :h] + r_h[:, :h])
    update = jax.nn.sigmoid(x[:, h:2 * h] + r_h[:, h:2 * h])
    candidate = jnp.tanh(x[:, 2 * h:] + reset * (r_h[:, 2 * h:] + self.recurrent_bias))
    return (1 - update) * candidate + update * state

  def decode(self, tgt: jnp.ndarray, memory: jnp.ndarray, src: jnp.ndarray, *, train: bool = False,
             decode: bool = False) -> jnp.ndarray:
    """``tgt [b, l]``, ``memory`` (``encode``'s) of ``src [b, m]`` -> ``logits [b, l, vocab]``."""
    two_h = 2 * self.hidden
    annotations, keys = memory[..., :two_h], memory[..., two_h:]
    real = src != self.pad_id
    # s_0 from the backward direction's state after the whole source: its output at position 0.
    first = self.initial_state(annotations[:, 0, self.hidden:])
    start = jnp.tanh(first)
    if decode:
      initialized, start = self.state(start)
      if not initialized:  # sizing call: the cache now holds s_0
        return jnp.zeros((*tgt.shape, self.vocab_size), jnp.float32)
    embedded = self.drop(self.embedding(tgt), deterministic=not train)  # [b, l, e]

    def step(state, e_prev):
      energy = jnp.tanh(keys + (state @ self.query)[:, None, :]) @ self.score  # [b, m, 1]
      energy = jnp.where(real[:, :, None], energy, -1e9)
      alpha = jax.nn.softmax(energy, axis=1)
      context = jnp.sum(alpha * annotations, axis=1)  # [b, 2H]
      state = self._gru(state, jnp.concatenate([e_prev, context], axis=-1))
      return state, (state, context)

    final, (states, contexts) = jax.lax.scan(step, start, jnp.swapaxes(embedded, 0, 1))
    if decode:
      self.state(start, final)
    features = jnp.concatenate([jnp.swapaxes(states, 0, 1), jnp.swapaxes(contexts, 0, 1), embedded], axis=-1)
    out = self.drop(jnp.tanh(self.readout(features)), deterministic=not train)
    return self.embedding.attend(out).astype(jnp.float32)

  def __call__(self, src: jnp.ndarray, tgt: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    return self.decode(tgt, self.encode(src, train=train), src, train=train)
