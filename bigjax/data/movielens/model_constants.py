"""Data that recommendation models hold as constant module fields: each user's history (SASRec) and the TF-IDF
bags of items and user profiles (content models). Hashable by content, so a Flax module may hold them (they
become part of the compiled step) and two loads of the same data compare equal.
"""

import dataclasses
import functools
import hashlib

import numpy as np


class _HashedByContent:
  """Hashable and equal by a digest of ``_content()``."""

  def _content(self) -> bytes:
    raise NotImplementedError

  @functools.cached_property
  def _digest(self) -> str:
    return hashlib.sha1(self._content()).hexdigest()

  def __hash__(self) -> int:
    return hash(self._digest)

  def __eq__(self, other) -> bool:
    return type(other) is type(self) and self._digest == other._digest


@dataclasses.dataclass(frozen=True, eq=False)
class History(_HashedByContent):
  """Each user's latest training items, ``items`` int32 ``[num_users, length]`` oldest first, padded on the left
  with ``pad = num_items``."""
  items: np.ndarray
  pad: int

  def _content(self) -> bytes:
    return self.items.tobytes() + str((self.items.shape, self.pad)).encode()

  def __repr__(self) -> str:
    return f"History({self.items.shape[0]} users x {self.items.shape[1]} items, {self._digest[:8]})"


@dataclasses.dataclass(frozen=True, eq=False)
class Bags(_HashedByContent):
  """Sparse rows as fixed-width bags: row ``r`` is ``sum_j weights[r, j] * onehot(ids[r, j])`` (weight 0 pads)."""
  ids: np.ndarray       # int32 [rows, width]
  weights: np.ndarray   # float32 [rows, width]
  num_features: int

  def _content(self) -> bytes:
    return self.ids.tobytes() + self.weights.tobytes() + str((self.ids.shape, self.num_features)).encode()

  def __repr__(self) -> str:
    return f"Bags({self.ids.shape[0]} rows x {self.ids.shape[1]} of {self.num_features} features, {self._digest[:8]})"

  def dense(self) -> np.ndarray:
    out = np.zeros((len(self.ids), self.num_features), np.float64)
    np.add.at(out, (np.arange(len(self.ids))[:, None], self.ids), self.weights)
    return out
