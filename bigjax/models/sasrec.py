"""SASRec (Kang & McAuley 2018): a causal self-attention model over each user's items in time order.

The user is their history: the latest L training items, oldest first (``movielens.History``, which the
loop takes from the data, ``config.data.history_len = L``, and hands to its compiled steps as an argument). Items are embedded (table ``[num_items + 1, d]``,
the last row the padding id), learned positions are added, padded positions are zeroed, and ``num_layers``
pre-LN causal transformer blocks (``bigjax/models/transformer.py``) run over the sequence; padded keys are
masked out. The hidden state at position t, after a final layer norm, scores every item by a dot product
with the same item table (Kang & McAuley share it): the model's guess of item t + 1.

Interfaces, as the recommendation task uses them:
  ``__call__(users, items)``   logits of broadcast shape: the state after the user's whole history against
                               each item, so leave-one-out and full ranking score the held-out item exactly as
                               they do for the other recommenders (``bigjax/models/ncf.py``).
  ``all_items(users)``         ``[b, num_items]`` in one matmul.
  ``sequence_logits(sequence)`` ``[b, l, num_items]``: at each position, the logits of the next item; training
                               takes the softmax cross-entropy against the next item at every position
                               (``tasks/recommendation.py``; the full-softmax form of Klenitskiy & Vasilev
                               2023 in place of SASRec's one sampled negative per position).

The item table's rows carry the logical names ``("items", "factor")``, sharded like NCF's tables (rows over
``fsdp``, padded to a multiple of ``row_multiple``); the blocks carry the transformer's names.
"""

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from bigjax.models import transformer
from bigjax.models.ncf import EMBED_INIT, _rows


class SASRec(transformer._Transformer):
  """Fields of ``_Transformer`` (``num_layers``, ``num_heads``, ``embed_dim``, ``dropout``, ...) plus the data's
  sizes and history; defaults as Kang & McAuley's ML-1M setting but 64 dimensions."""

  num_users: int = 0
  num_items: int = 0
  history: Any = None        # movielens.History: from the data (config.data.history_len > 0)
  row_multiple: int = 128
  num_layers: int = 2
  num_heads: int = 1
  embed_dim: int = 64
  mlp_dim: int | None = 64   # Kang & McAuley's point-wise feed-forward keeps the width
  dropout: float = 0.2

  def _check(self):
    if self.num_items <= 0 or self.num_users <= 0:
      raise ValueError(f"SASRec: num_users={self.num_users}, num_items={self.num_items}; set them in the config or "
                       f"to 0 so the loop takes them from the data")
    if self.history is None:
      raise ValueError("SASRec scores a user by their latest items: set config.data.history_len > 0")
    if self.history.pad != self.num_items:
      raise ValueError(f"SASRec: the history pads with id {self.history.pad}, the model has {self.num_items} items")

  def _table(self) -> jnp.ndarray:
    return self.param("item_embedding", nn.with_logical_partitioning(EMBED_INIT, ("items", "factor")),
                      (_rows(self.num_items + 1, self.row_multiple), self.embed_dim))

  @nn.compact
  def encode(self, sequence: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    """``[b, l]`` item ids (``num_items`` pads) -> ``[b, l, embed_dim]`` float32 states, ``l <= history length``."""
    self._check()
    length = self.history.items.shape[1]
    if sequence.shape[-1] > length:
      raise ValueError(f"SASRec: a sequence of {sequence.shape[-1]} items, longer than its {length} positions")
    table = self._table()
    positions = self.param("position_embedding", nn.with_logical_partitioning(EMBED_INIT, ("pos", "embed")),
                           (length, self.embed_dim))
    real = sequence != self.num_items                                                    # [b, l]
    x = jnp.take(table, sequence, axis=0) * self.embed_dim ** 0.5 + positions[-sequence.shape[-1]:]
    x = nn.Dropout(self.dropout, deterministic=not train)(x) * real[..., None]
    x = self._blocks(x, real[:, None, None, :], causal=True, train=train) * real[..., None]
    return transformer._layer_norm(self.use_bias, jnp.float32, "ln_f")(x).astype(jnp.float32)

  def _user_states(self, users: jnp.ndarray) -> jnp.ndarray:
    """``users [...]`` -> ``[..., embed_dim]``: the state after each user's whole history."""
    self._check()
    flat = users.reshape(-1)
    states = self.encode(jnp.asarray(self.history.items)[flat])[:, -1]
    return states.reshape(*users.shape, self.embed_dim)

  def _item_table(self) -> jnp.ndarray:  # (encode, the one compact method, has created it)
    return nn.meta.unbox(self.variables["params"]["item_embedding"])[:self.num_items]

  def __call__(self, users: jnp.ndarray, items: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    del train  # scoring reads the history in inference mode; training goes through sequence_logits
    states = self._user_states(users)
    return jnp.sum(states * jnp.take(self._item_table(), items, axis=0), axis=-1)

  def all_items(self, users: jnp.ndarray) -> jnp.ndarray:
    return self._user_states(users) @ self._item_table().T

  def sequence_logits(self, sequence: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    return self.encode(sequence, train=train) @ self._item_table().T
