"""Recurrent networks: stacked (bi)directional RNN/LSTM/GRU, a word-level language model, a text classifier.

Built on flax's own cells (``nn.SimpleCell``, ``nn.OptimizedLSTMCell``, ``nn.GRUCell``) scanned over time by
``nn.RNN`` / ``nn.Bidirectional``. Equations are flax's (checked against float64 NumPy in tests/test_rnn.py):

  rnn:  h' = tanh(x W_i + b_i + h W_h)
  lstm: i, f, o = sigmoid(x W_i* + h W_h* + b_h*), g = tanh(...); c' = f c + i g; h' = o tanh(c')
        carry is ``(c, h)``; one bias per gate (on the recurrent side); forget bias starts at 0, not 1.
  gru:  r, z = sigmoid(x W_i* + b_i* + h W_h*); n = tanh(x W_in + b_in + r (h W_hn + b_hn)); h' = (1-z) n + z h
        (the reset gate multiplies *after* the recurrent matmul, as in cuDNN / PyTorch).

Padding sits at the end of each sequence. With ``lengths`` the forward direction's final carry is the state
after each sequence's true last token, and the backward direction starts at that token (``seq_lengths``).
"""

from typing import Any, Sequence

import chex
import flax.linen as nn
import jax.numpy as jnp

Carry = Any  # per layer: an array [batch, hidden] (rnn, gru), a tuple (c, h) (lstm), or (forward, backward)

_CELLS = {"rnn": nn.SimpleCell, "lstm": nn.OptimizedLSTMCell, "gru": nn.GRUCell}
POOLS = ("last", "max", "mean")


def make_cell(name: str, hidden: int, **kwargs) -> nn.RNNCellBase:
  """The flax cell called ``name`` ("rnn" | "lstm" | "gru") with ``hidden`` features; kwargs go to the cell."""
  if name not in _CELLS:
    raise ValueError(f"unknown RNN cell {name!r}; choose one of {sorted(_CELLS)}")
  return _CELLS[name](features=hidden, **kwargs)


def _scanned(cell: str, hidden: int, **kwargs) -> nn.RNN:
  # parent=None keeps flax from adopting the new cell/RNN into the *calling* module under an auto name
  # ("GRUCell_0" at the top level); the receiving nn.RNN / nn.Bidirectional adopts it as "cell" / "forward_rnn".
  return nn.RNN(make_cell(cell, hidden, parent=None), **kwargs)


def zero_carry(cell: str, batch_size: int, hidden: int, bidirectional: bool = False,
               dtype: Any = jnp.float32) -> Carry:
  """Zero state of one layer: ``[batch, hidden]``, or ``(c, h)`` for lstm; a (forward, backward) pair if bidir."""
  make_cell(cell, hidden)  # validates the name
  zeros = jnp.zeros((batch_size, hidden), dtype)
  carry = (zeros, zeros) if cell == "lstm" else zeros
  return (carry, carry) if bidirectional else carry


class StackedRNN(nn.Module):
  """``num_layers`` recurrent layers, dropout between them; ``[b, t, f] -> [b, t, hidden * (2 if bidir)]``.

  ``__call__(x, lengths=None, *, initial_carry=None, train=False) -> (outputs, carries)``:
    x: ``[batch, time, features]``; lengths: ``[batch]`` int, valid steps per sequence (padding at the end);
    initial_carry: a list with one carry per layer (see ``zero_carry``); None means zeros.
    outputs: ``[batch, time, hidden * (2 if bidirectional else 1)]``, [forward, backward] concatenated,
      zero at padded steps; carries: list per layer of final carries, (forward, backward) if bidirectional.
  """

  cell: str
  hidden: int
  num_layers: int
  bidirectional: bool = False
  dropout: float = 0.0

  @nn.nowrap
  def initial_carry(self, batch_size: int, dtype: Any = jnp.float32) -> list[Carry]:
    return [zero_carry(self.cell, batch_size, self.hidden, self.bidirectional, dtype)] * self.num_layers

  @nn.compact
  def __call__(self, x: jnp.ndarray, lengths: jnp.ndarray | None = None, *,
               initial_carry: Sequence[Carry] | None = None, train: bool = False):
    chex.assert_rank(x, 3)
    batch, time, _ = x.shape
    if lengths is not None:
      chex.assert_shape(lengths, (batch,))
      chex.assert_type(lengths, int)
    if initial_carry is None:
      # flax's own initialize_carry uses the cell's param_dtype (float32), which a float64 scan rejects.
      initial_carry = self.initial_carry(batch, jnp.promote_types(x.dtype, jnp.float32))
    if len(initial_carry) != self.num_layers:
      raise ValueError(f"initial_carry has {len(initial_carry)} layers, the model has {self.num_layers}")

    carries = []
    for i in range(self.num_layers):
      if i > 0 and self.dropout > 0:
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
      if self.bidirectional:
        layer = nn.Bidirectional(_scanned(self.cell, self.hidden, parent=None),
                                 _scanned(self.cell, self.hidden, parent=None), name=f"layer_{i}")
      else:
        layer = _scanned(self.cell, self.hidden, name=f"layer_{i}")
      carry, x = layer(x, initial_carry=initial_carry[i], seq_lengths=lengths, return_carry=True)
      carries.append(carry)

    if lengths is not None:
      # nn.RNN keeps stepping through padding; zero those outputs so nothing downstream can read them.
      valid = jnp.arange(time)[None, :] < lengths[:, None]
      x = jnp.where(valid[..., None], x, 0)
    return x, carries


class RNNLanguageModel(nn.Module):
  """Embed -> dropout -> StackedRNN -> dropout -> Dense(vocab), as in Zaremba et al. (2014).

  ``__call__(tokens [b, t] int, *, train=False, carry=None) -> (logits [b, t, vocab] float32, new_carry)``.
  Calling on ``tokens[:, :k]`` and then on ``tokens[:, k:]`` with the returned carry gives the logits of one
  call on ``tokens``: this is how truncated backprop through time and generation continue a state.
  """

  vocab_size: int
  embed_dim: int
  hidden: int
  num_layers: int
  cell: str = "lstm"
  dropout: float = 0.0

  @nn.nowrap
  def initial_carry(self, batch_size: int, dtype: Any = jnp.float32) -> list[Carry]:
    """Zero state: a list with one carry per layer (``None`` passed as ``carry`` means the same)."""
    return [zero_carry(self.cell, batch_size, self.hidden, dtype=dtype)] * self.num_layers

  @nn.compact
  def __call__(self, tokens: jnp.ndarray, *, train: bool = False, carry: Sequence[Carry] | None = None):
    chex.assert_rank(tokens, 2)
    chex.assert_type(tokens, int)
    x = nn.Embed(self.vocab_size, self.embed_dim, name="embed")(tokens)
    x = nn.Dropout(self.dropout, deterministic=not train)(x)
    x, new_carry = StackedRNN(self.cell, self.hidden, self.num_layers, dropout=self.dropout, name="rnn")(
        x, initial_carry=carry, train=train)
    x = nn.Dropout(self.dropout, deterministic=not train)(x)
    logits = nn.Dense(self.vocab_size, name="head")(x)
    # float32 at least: params cast to bfloat16 must not make the softmax bfloat16; float64 stays float64.
    return logits.astype(jnp.promote_types(logits.dtype, jnp.float32)), new_carry


class RNNClassifier(nn.Module):
  """Embed -> StackedRNN over true lengths -> pool over time -> dropout -> Dense(num_classes).

  ``__call__(tokens [b, t] int, *, train=False) -> logits [b, num_classes]``; padding (``pad_id``) sits at the
  end, lengths are the counts of non-pad tokens. pool "last": the forward output at the true last token
  joined with the backward output at the first token (= each direction's final carry); "max" / "mean" over
  the valid steps only. Appending more padding never changes the logits.
  """

  vocab_size: int
  num_classes: int
  embed_dim: int
  hidden: int
  num_layers: int = 1
  cell: str = "lstm"
  bidirectional: bool = True
  dropout: float = 0.0
  pool: str = "last"
  pad_id: int = 0

  @nn.compact
  def __call__(self, tokens: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    chex.assert_rank(tokens, 2)
    chex.assert_type(tokens, int)
    if self.pool not in POOLS:
      raise ValueError(f"unknown pool {self.pool!r}; choose one of {POOLS}")
    batch, time = tokens.shape
    # An all-padding row counts as length 1: nn.RNN would otherwise read its carry at index -1 (the
    # end of the padding), which moves when more padding is appended.
    lengths = jnp.maximum(jnp.sum(tokens != self.pad_id, axis=1), 1)

    x = nn.Embed(self.vocab_size, self.embed_dim, name="embed")(tokens)
    x = nn.Dropout(self.dropout, deterministic=not train)(x)
    h, _ = StackedRNN(self.cell, self.hidden, self.num_layers, self.bidirectional, dropout=self.dropout,
                      name="rnn")(x, lengths, train=train)  # [b, t, d], d = hidden * (2 if bidirectional else 1)

    # Pooling reads outputs rather than carries so it is the same for every cell ((c, h) or h).
    if self.pool == "last":
      features = h[jnp.arange(batch), lengths - 1, :self.hidden]
      if self.bidirectional:
        features = jnp.concatenate([features, h[:, 0, self.hidden:]], axis=-1)
    else:
      valid = (jnp.arange(time)[None, :] < lengths[:, None])[..., None]  # [b, t, 1]
      if self.pool == "max":
        features = jnp.where(valid, h, -jnp.inf).max(axis=1)
      else:
        features = h.sum(axis=1) / lengths[:, None].astype(h.dtype)  # padded outputs are already zero
    features = nn.Dropout(self.dropout, deterministic=not train)(features)
    return nn.Dense(self.num_classes, name="head")(features)
