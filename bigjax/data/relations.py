"""Sparse 0/1 relations that trust-aware recommenders read besides their parameters: who rated what (in the
training rows) and who trusts whom.

Like ``movielens.History`` these are data, not code: pytrees of arrays that the loop hands to its compiled steps
as arguments (``program.model_constants``), so a model holding them stays a pure function of (params, data).
"""

import flax.struct
import numpy as np


@flax.struct.dataclass
class Relation:
  """A ``[num_rows, num_cols]`` 0/1 matrix as its edges ``(rows[e], cols[e])``, sorted by row then column, no
  duplicates; ``row_counts`` / ``col_counts`` (float32) are its row and column sums: a user's ratings or trustees
  (``|I_u|``, ``|T_u|``), an item's raters or a user's trusters (``|U_j|``, ``|T_v^+|``)."""
  rows: np.ndarray        # int32 [E]
  cols: np.ndarray        # int32 [E]
  row_counts: np.ndarray  # float32 [num_rows]
  col_counts: np.ndarray  # float32 [num_cols]
  num_rows: int = flax.struct.field(pytree_node=False)
  num_cols: int = flax.struct.field(pytree_node=False)

  def __repr__(self) -> str:
    return f"Relation({self.num_rows} x {self.num_cols}, {len(self.rows)} edges)"

  def dense(self) -> np.ndarray:
    out = np.zeros((self.num_rows, self.num_cols), np.float64)
    out[np.asarray(self.rows), np.asarray(self.cols)] = 1.0
    return out


def relation(rows: np.ndarray, cols: np.ndarray, num_rows: int, num_cols: int) -> Relation:
  """The relation of the edges ``(rows[e], cols[e])`` (repeats collapse to one edge)."""
  rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
  if len(rows) != len(cols):
    raise ValueError(f"relation: {len(rows)} rows and {len(cols)} columns")
  if len(rows) and (rows.min() < 0 or rows.max() >= num_rows or cols.min() < 0 or cols.max() >= num_cols):
    raise ValueError(f"relation: an edge lies outside {num_rows} x {num_cols}")
  keys = np.unique(rows * num_cols + cols)
  rows, cols = (keys // num_cols).astype(np.int32), (keys % num_cols).astype(np.int32)
  return Relation(rows, cols, np.bincount(rows, minlength=num_rows).astype(np.float32),
                  np.bincount(cols, minlength=num_cols).astype(np.float32), num_rows, num_cols)
