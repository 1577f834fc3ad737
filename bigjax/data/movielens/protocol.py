"""The leave-one-out protocol: dense ids, each user's latest interaction held out (``config.data.ties`` breaks
ties), the validation split one interaction earlier, and the 99 test negatives per user.

Users and items are re-indexed densely in the order of their original ids; items that appear only as a held-out
item keep an (untrained) id. Test candidates: the held-out item first, then 99 items the user never interacted
with (neither in training nor held out), the source's own where it has them, else drawn uniformly without
replacement by ``numpy.random.default_rng([seed, user])``.
"""

import dataclasses
import functools

import numpy as np

from bigjax.data.core import DataError

TIES = ("first", "last")
NUM_TEST_NEGATIVES = 99


@dataclasses.dataclass(frozen=True, eq=False)
class Interactions:
  """Implicit feedback split leave-one-out, with dense ids.

  Attributes:
    name: e.g. ``"ml-1m[afcfm]"`` (dataset and source).
    num_users, num_items: sizes of the dense id ranges.
    train_users, train_items: int32 [P], every training (user, item) pair once, sorted by (user, item).
    test_items: int32 [num_users], each user's held-out item.
    test_negatives: int32 [num_users, 99] from the source (NCF's file), or None (then sampled).
    item_raw_ids: int64 [num_items], the original item id of each dense id.
    item_text: for each dense item id, the title and genres as one string of feature words ("" if unknown).
    train_order: int64 [P], the time order of the training pairs (larger is later; ties in the order the
      source lists them, or the source's line order where it has no timestamps).
    also_positive: int32 [num_users] or None: one more positive item per user that test negatives must avoid
      (in a validation split, the user's test item).
  """
  name: str
  num_users: int
  num_items: int
  train_users: np.ndarray
  train_items: np.ndarray
  test_items: np.ndarray
  test_negatives: np.ndarray | None
  item_raw_ids: np.ndarray
  item_text: tuple[str, ...]
  train_order: np.ndarray
  also_positive: np.ndarray | None = None

  @functools.cached_property
  def train_keys(self) -> np.ndarray:
    """Sorted int64 ``user * num_items + item`` of every training pair (membership by binary search)."""
    return self.train_users.astype(np.int64) * self.num_items + self.train_items

  @functools.cached_property
  def train_offsets(self) -> np.ndarray:
    """CSR row offsets: user ``u``'s training items are ``train_items[offsets[u]:offsets[u+1]]``."""
    return np.searchsorted(self.train_users, np.arange(self.num_users + 1)).astype(np.int64)

  def is_train_pair(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    keys = users.astype(np.int64) * self.num_items + items
    at = np.minimum(np.searchsorted(self.train_keys, keys), len(self.train_keys) - 1)
    return self.train_keys[at] == keys

  def test_candidates(self, seed: int) -> np.ndarray:
    """int32 [num_users, 100]: the held-out item, then its 99 negatives (the source's, else drawn by ``seed``)."""
    if self.test_negatives is not None:
      negatives = self.test_negatives
    else:
      negatives = np.empty((self.num_users, NUM_TEST_NEGATIVES), np.int32)
      offsets = self.train_offsets
      for u in range(self.num_users):
        seen = np.zeros(self.num_items, bool)
        seen[self.train_items[offsets[u]:offsets[u + 1]]] = True
        seen[self.test_items[u]] = True
        if self.also_positive is not None:
          seen[self.also_positive[u]] = True
        pool = np.flatnonzero(~seen)
        if len(pool) < NUM_TEST_NEGATIVES:
          raise DataError(f"{self.name}: user {u} has only {len(pool)} items left to sample 99 test negatives from")
        negatives[u] = np.random.default_rng([seed, u]).choice(pool, NUM_TEST_NEGATIVES, replace=False)
    return np.concatenate([self.test_items[:, None], negatives], axis=1).astype(np.int32)

  def validation_split(self) -> "Interactions":
    """Leave-one-out one step earlier: each user's latest *training* pair is held out instead of the test item
    (which stays out of training and out of the validation negatives), for choosing hyperparameters
    without looking at the test items' ranks."""
    offsets = self.train_offsets
    if (np.diff(offsets) < 2).any():
      raise DataError(f"{self.name}: a user has fewer than 2 training interactions; no validation item to hold out")
    latest = np.array([lo + int(np.argmax(self.train_order[lo:hi])) for lo, hi in zip(offsets[:-1], offsets[1:])])
    keep = np.ones(len(self.train_items), bool)
    keep[latest] = False
    return dataclasses.replace(
        self, name=f"{self.name}[validation]", train_users=self.train_users[keep], train_items=self.train_items[keep],
        train_order=self.train_order[keep], test_items=self.train_items[latest], test_negatives=None,
        also_positive=self.test_items)


@functools.lru_cache(maxsize=4)
def shared_validation_split(interactions: Interactions) -> Interactions:
  """``interactions.validation_split()``, once per process (the train and eval loads share it)."""
  return interactions.validation_split()


def check_ties(ties: str) -> None:
  if ties not in TIES:
    raise ValueError(f"config.data.ties={ties!r}: among a user's ratings of the same second the one listed "
                     f"{' or '.join(TIES)} in the file counts as the latest; choose one of {TIES}")


def _listed(n: int, ties: str) -> np.ndarray:
  """Sort key that puts, among equal timestamps, the row ``ties`` names (listed first or last) latest."""
  check_ties(ties)
  return -np.arange(n) if ties == "first" else np.arange(n)


def leave_latest_out(users: np.ndarray, timestamps: np.ndarray, ties: str = "first") -> np.ndarray:
  """Boolean [N] ``held_out``: one row per user, its latest (largest timestamp); among rows with the same
  latest timestamp, the one listed first (``ties="first"``: pandas' ``rank(method="first", ascending=False) ==
  1``) or last (``"last"``: a stable sort by time, then each user's last row).

  Ties are common (in MovieLens-100K, 415 of 943 users rated several movies in their last second, about four
  each), and the file's order is the neutral way to break them: breaking them by item id would hold out
  systematically newer and rarer movies (larger ids), which lowers every model's hit ratio. Within a user's
  second, MovieLens-100K's file order is unrelated to the item, so ``first`` and ``last`` are two equally
  faithful draws of the split.
  """
  order = np.lexsort((_listed(len(users), ties), timestamps, users))  # by user, then time, then the tie rule
  last = np.r_[users[order][1:] != users[order][:-1], True]
  held_out = np.zeros(len(users), bool)
  held_out[order[last]] = True
  return held_out


def time_order(timestamps: np.ndarray, ties: str = "first") -> np.ndarray:
  """int64 rank of each row by (timestamp, then the tie rule), as ``leave_latest_out`` orders them."""
  order = np.lexsort((_listed(len(timestamps), ties), timestamps))
  rank = np.empty(len(timestamps), np.int64)
  rank[order] = np.arange(len(timestamps))
  return rank


def dense_ids(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(sorted distinct raw ids, int32 dense index of each raw value)."""
  ids, dense = np.unique(raw, return_inverse=True)
  return ids, dense.astype(np.int32)


def from_events(name, users_raw, items_raw, timestamps, item_text_by_raw: dict[int, str],
                ties: str = "first") -> Interactions:
  """Dense ids, duplicate check and leave-latest-out split of raw (user, item, timestamp) events."""
  _, users = dense_ids(users_raw)
  item_ids, items = dense_ids(items_raw)
  num_users, num_items = int(users.max()) + 1, len(item_ids)
  keys = users.astype(np.int64) * num_items + items
  if len(np.unique(keys)) != len(keys):
    raise DataError(f"{name}: some (user, item) pair occurs more than once; expected one rating per pair")
  held_out = leave_latest_out(users, timestamps, ties)
  test_items = np.empty(num_users, np.int32)
  test_items[users[held_out]] = items[held_out]
  when = time_order(timestamps, ties)
  if ties != "first":
    name = f"{name}[ties={ties}]"
  return from_split(name, num_users, item_ids, users[~held_out], items[~held_out], test_items, None, item_text_by_raw,
                    when[~held_out])


def from_split(name, num_users, item_ids, train_users, train_items, test_items, test_negatives,
               item_text_by_raw, train_order) -> Interactions:
  """The Interactions of a split a source made itself (or ``from_events`` made), training pairs sorted by
  (user, item)."""
  order = np.lexsort((train_items, train_users))
  return Interactions(
      name=name, num_users=num_users, num_items=len(item_ids),
      train_users=np.ascontiguousarray(train_users[order], np.int32),
      train_items=np.ascontiguousarray(train_items[order], np.int32),
      test_items=test_items.astype(np.int32), test_negatives=test_negatives,
      item_raw_ids=np.asarray(item_ids, np.int64),
      item_text=tuple(item_text_by_raw.get(int(i), "") for i in item_ids),
      train_order=np.asarray(train_order, np.int64)[order])
