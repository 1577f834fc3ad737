"""Data that recommendation models read besides their parameters: each user's history (SASRec) and the TF-IDF
bags of items and user profiles (content models).

A model holds them as fields (``SASRec.history``, ``Content.item_features``), but they are data, not code:
both are pytrees whose arrays are leaves (the sizes are static), so the loop hands them to its compiled steps
as arguments (``program.build`` finds a model's array-valued fields and binds them inside the traced step)
instead of baking megabytes of constants into the program. Outside the loop (tests, notebooks) a model may
hold them as NumPy arrays and be applied directly.
"""

import flax.struct
import numpy as np


@flax.struct.dataclass
class History:
  """Each user's latest training items, ``items`` int32 ``[num_users, length]`` oldest first, padded on the left
  with ``pad = num_items``."""
  items: np.ndarray
  pad: int = flax.struct.field(pytree_node=False)

  def __repr__(self) -> str:
    return f"History({self.items.shape[0]} users x {self.items.shape[1]} items, pad {self.pad})"


@flax.struct.dataclass
class Bags:
  """Sparse rows as fixed-width bags: row ``r`` is ``sum_j weights[r, j] * onehot(ids[r, j])`` (weight 0 pads)."""
  ids: np.ndarray       # int32 [rows, width]
  weights: np.ndarray   # float32 [rows, width]
  num_features: int = flax.struct.field(pytree_node=False)

  def __repr__(self) -> str:
    return f"Bags({self.ids.shape[0]} rows x {self.ids.shape[1]} of {self.num_features} features)"

  def dense(self) -> np.ndarray:
    out = np.zeros((len(self.ids), self.num_features), np.float64)
    np.add.at(out, (np.arange(len(self.ids))[:, None], np.asarray(self.ids)), np.asarray(self.weights))
    return out
