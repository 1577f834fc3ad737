"""What the loop batches from ``Interactions``: training negatives redrawn every epoch, the mask of each user's
training items for full ranking, and each user's latest items for sequential models.

Training instances are redrawn every epoch (``EpochItems.epoch_view(seed, epoch)``, which the pipeline calls):
each positive with ``data.num_negatives`` items drawn uniformly among those the user has no *training*
interaction with (the held-out item is unknown to training, so it may be drawn, as in the NCF code). The draw
is a pure function of (seed, epoch): a resumed run sees the same negatives.
"""

import numpy as np

from bigjax.data.movielens.protocol import Interactions

_NEG_SALT = 0x6E6567  # "neg": keeps the training draw's stream apart from other uses of the same seed


def sample_negatives(interactions: Interactions, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  """int32, shaped like ``users``: for each entry an item drawn uniformly among those the user did not train on."""
  flat = users.reshape(-1)
  items = rng.integers(0, interactions.num_items, size=flat.shape, dtype=np.int64)
  redraw = np.flatnonzero(interactions.is_train_pair(flat, items))
  while len(redraw):  # rejection: a user's training items are at most a few percent of all items
    items[redraw] = rng.integers(0, interactions.num_items, size=len(redraw))
    redraw = redraw[interactions.is_train_pair(flat[redraw], items[redraw])]
  return items.astype(np.int32).reshape(users.shape)


class EpochItems:
  """Array-like view of the item column of the training instances; its negatives depend on (seed, epoch).

  ``pairs=False`` (pointwise): ``[P * (1 + n)]``; rows ``0..P-1`` are the positives, row ``P * (j + 1) + p``
  is the ``j``-th negative drawn for positive ``p``. ``pairs=True`` (pairwise, BPR): ``[P, n]``, the ``n``
  negatives of positive ``p``.
  Indexing without an epoch (``a[rows]``) reads epoch 0.
  """

  def __init__(self, interactions: Interactions, num_negatives: int, pairs: bool):
    self.interactions, self.num_negatives, self.pairs = interactions, num_negatives, pairs
    p = len(interactions.train_items)
    self.shape = (p, num_negatives) if pairs else (p * (1 + num_negatives),)
    self.dtype = np.dtype(np.int32)
    self._cache: dict[tuple[int, int], np.ndarray] = {}

  def __len__(self) -> int:
    return self.shape[0]

  def epoch_view(self, seed: int, epoch: int) -> np.ndarray:
    key = (seed, epoch)
    if key not in self._cache:
      if len(self._cache) >= 2:  # epochs are read in order; a call may straddle two of them
        self._cache.pop(next(iter(self._cache)))
      rng = np.random.default_rng([seed, epoch, _NEG_SALT])
      users = np.broadcast_to(self.interactions.train_users[None, :],
                              (self.num_negatives, len(self.interactions.train_users)))
      negatives = sample_negatives(self.interactions, np.ascontiguousarray(users), rng)  # [n, P]
      self._cache[key] = (np.ascontiguousarray(negatives.T) if self.pairs
                          else np.concatenate([self.interactions.train_items, negatives.reshape(-1)]))
    return self._cache[key]

  def __getitem__(self, rows):
    return self.epoch_view(0, 0)[rows]


class CandidateMask:
  """Array-like ``[num_users, num_items]`` bool: True where the user has a training interaction (cut on read)."""

  def __init__(self, interactions: Interactions, users: np.ndarray):
    self.interactions, self.users = interactions, users
    self.shape, self.dtype = (len(users), interactions.num_items), np.dtype(bool)

  def __len__(self) -> int:
    return self.shape[0]

  def __getitem__(self, rows) -> np.ndarray:
    users = self.users[rows]
    out = np.zeros((len(users), self.interactions.num_items), bool)
    offsets, items = self.interactions.train_offsets, self.interactions.train_items
    for row, u in enumerate(users):
      out[row, items[offsets[u]:offsets[u + 1]]] = True
    return out


def latest_items(interactions: Interactions, length: int) -> np.ndarray:
  """int32 ``[num_users, length]``: each user's latest ``length`` training items in time order (oldest first),
  left-padded with ``num_items``."""
  if length < 1:
    raise ValueError(f"config.data.history_len={length}: a user history needs >= 1 item")
  out = np.full((interactions.num_users, length), interactions.num_items, np.int32)
  offsets = interactions.train_offsets
  for u in range(interactions.num_users):
    lo, hi = offsets[u], offsets[u + 1]
    items = interactions.train_items[lo:hi][np.argsort(interactions.train_order[lo:hi], kind="stable")][-length:]
    out[u, length - len(items):] = items
  return out
