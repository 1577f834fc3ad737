"""MovieLens as implicit feedback: leave-one-out splits, negative sampling and item features for recommendation.

Sources (``config.data.source``; ``auto`` takes the first one present for the dataset):

  ml-100k  ``local``   ``<data_dir>/ml-100k/u.data`` (user, item, rating, timestamp) and ``u.item``
           ``tfds``    TFDS ``movielens/100k-ratings`` (downloads on a machine with internet)
  ml-1m    ``ncf``     the NCF paper's files (He et al. 2017): ``<data_dir>/ml-1m/ncf/ml-1m.{train.rating,
                       test.rating,test.negative}``; its own split and its own 99 test negatives per user
           ``ncf+afcfm`` NCF's split and negatives with its training file rebuilt from the AFCFM pairs
                       (``ml-1m/ncf/ml-1m.test.{rating,negative}`` + ``ml-1m/afcfm/ml-1m.zip``;
                       ``read_ml1m_ncf_afcfm``): the paper's protocol where its training file is absent
           ``ratings`` GroupLens' ``<data_dir>/ml-1m/ratings.dat`` (``UserID::MovieID::Rating::Timestamp``)
           ``afcfm``   ``<data_dir>/ml-1m/afcfm/ml-1m.zip``: all 1,000,209 (user, movie) pairs with a
                       one-per-user held-out split, but no ratings or timestamps (see the data MANIFEST)
           ``tfds``    TFDS ``movielens/1m-ratings``

Every rating counts as one positive interaction (implicit feedback, as in NCF). Leave-one-out: each user's
latest interaction (the largest timestamp; among equal ones the first listed in the file, or the last with
``config.data.ties = "last"``) is held out for
testing, the rest train; ``ncf``, ``ncf+afcfm`` and ``afcfm`` bring their own held-out item. Users and items are re-indexed densely in
the order of their original ids; items that appear only as a held-out item keep an (untrained) id.

``config.data.eval_split = "validation"`` moves everything one interaction earlier for choosing
hyperparameters: each user's latest training interaction is held out and evaluated the same way, and
training leaves it out (the test item stays out of both).

Test candidates: the held-out item first, then 99 items the user never interacted with (neither in training
nor held out). ``ncf`` and ``ncf+afcfm`` use the paper's own negatives (for 156 users they list the
held-out item itself, which the evaluation then does not count as a negative, as NCF's does not); everywhere else they are drawn uniformly without
replacement by ``numpy.random.default_rng([data.eval_negatives_seed, user])``, recorded with the config.

Sequential models (``data.history_len = L`` > 0, e.g. SASRec): training rows are users, each with
``"sequence" [L + 1]``, their latest L + 1 training items oldest first (the time order of ``train_order``),
left-padded with the id ``num_items``; the model learns to predict each item from the ones before it. The
model scores a user from ``History``, their latest L training items, which is known to it as a constant
(``model_fields["history"]``), so the held-out item is ranked as for every other model.

Training instances are redrawn every epoch (``TrainingSet.epoch_view(seed, epoch)``, which the pipeline calls):
each positive with ``data.num_negatives`` items drawn uniformly among those the user has no *training*
interaction with (the held-out item is unknown to training, so it may be drawn, as in the NCF code). The draw
is a pure function of (seed, epoch): a resumed run sees the same negatives.
"""

import dataclasses
import functools
import hashlib
import io
import json
import pathlib
import re
import zipfile

import numpy as np

from bigjax.data import Dataset
from bigjax.data.errors import DataError

DATASETS = ("ml-100k", "ml-1m")
SOURCES = {"ml-100k": ("local", "tfds"), "ml-1m": ("ncf", "ncf+afcfm", "ratings", "afcfm", "tfds")}
SPLITS = ("train", "validation", "test")
NUM_TEST_NEGATIVES = 99
_TFDS_NAMES = {"ml-100k": "movielens/100k-ratings", "ml-1m": "movielens/1m-ratings"}
_NEG_SALT = 0x6E6567  # "neg": keeps the training draw's stream apart from other uses of the same seed


# ====================================================================================== interactions

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


def _dense(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(sorted distinct raw ids, dense index of each raw value)."""
  ids, dense = np.unique(raw, return_inverse=True)
  return ids, dense.astype(np.int32)


TIES = ("first", "last")


def _check_ties(ties: str) -> None:
  if ties not in TIES:
    raise ValueError(f"config.data.ties={ties!r}: among a user's ratings of the same second the one listed "
                     f"{' or '.join(TIES)} in the file counts as the latest; choose one of {TIES}")


def _listed(n: int, ties: str) -> np.ndarray:
  """Sort key that puts, among equal timestamps, the row ``ties`` names (listed first or last) latest."""
  _check_ties(ties)
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


def _from_events(name, users_raw, items_raw, timestamps, item_text_by_raw: dict[int, str],
                 ties: str = "first") -> Interactions:
  """Dense ids, duplicate check and leave-latest-out split of raw (user, item, timestamp) events."""
  _, users = _dense(users_raw)
  item_ids, items = _dense(items_raw)
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
  return _finish(name, num_users, item_ids, users[~held_out], items[~held_out], test_items, None, item_text_by_raw,
                 when[~held_out])


def time_order(timestamps: np.ndarray, ties: str = "first") -> np.ndarray:
  """int64 rank of each row by (timestamp, then the tie rule), as ``leave_latest_out`` orders them."""
  order = np.lexsort((_listed(len(timestamps), ties), timestamps))
  rank = np.empty(len(timestamps), np.int64)
  rank[order] = np.arange(len(timestamps))
  return rank


def _finish(name, num_users, item_ids, train_users, train_items, test_items, test_negatives,
            item_text_by_raw, train_order) -> Interactions:
  order = np.lexsort((train_items, train_users))
  return Interactions(
      name=name, num_users=num_users, num_items=len(item_ids),
      train_users=np.ascontiguousarray(train_users[order], np.int32),
      train_items=np.ascontiguousarray(train_items[order], np.int32),
      test_items=test_items.astype(np.int32), test_negatives=test_negatives,
      item_raw_ids=np.asarray(item_ids, np.int64),
      item_text=tuple(item_text_by_raw.get(int(i), "") for i in item_ids),
      train_order=np.asarray(train_order, np.int64)[order])


def _read(path: pathlib.Path, what: str, encoding: str = "latin-1") -> str:
  try:
    return path.read_text(encoding=encoding)
  except FileNotFoundError:
    raise DataError(f"{what}: {path} not found") from None


def _table(text_: str, sep: str, path: pathlib.Path, columns: int) -> np.ndarray:
  try:
    rows = [line.split(sep) for line in text_.splitlines() if line.strip()]
    table = np.array([[int(v) for v in row[:columns]] for row in rows], np.int64)
  except ValueError as error:
    raise DataError(f"{path} is malformed ({error}); expected {columns} integer columns separated by {sep!r}")
  if table.ndim != 2 or table.shape[1] != columns or not len(table):
    raise DataError(f"{path} is malformed: expected rows of {columns} integers separated by {sep!r}")
  return table


def _features_text(title: str, genres: list[str]) -> str:
  """Feature words of a movie: its title's words, its year and its genres (``g:Comedy``), space-separated."""
  year = re.search(r"\((\d{4})\)\s*$", title)
  words = re.findall(r"[a-z0-9']+", re.sub(r"\(\d{4}\)\s*$", "", title).lower())
  return " ".join(words + ([f"year:{year.group(1)}"] if year else []) + [f"g:{g.replace(' ', '_')}" for g in genres])


def _movies_dat(root: pathlib.Path) -> dict[int, str]:
  path = root / "ml-1m" / "movies.dat"
  if not path.exists():
    return {}
  out = {}
  for line in _read(path, "ml-1m movies").splitlines():
    if line.strip():
      movie, title, genres = line.split("::")
      out[int(movie)] = _features_text(title, genres.split("|"))
  return out


def read_ml100k(root: pathlib.Path, ties: str = "first") -> Interactions:
  path = root / "ml-100k" / "u.data"
  table = _table(_read(path, "MovieLens-100K ratings"), "\t", path, 4)
  genres = [line.split("|")[0] for line in _read(root / "ml-100k" / "u.genre", "ml-100k genres").splitlines()
            if line.strip()]
  item_text = {}
  for line in _read(root / "ml-100k" / "u.item", "ml-100k items").splitlines():
    if line.strip():
      fields = line.split("|")
      flags = fields[5:5 + len(genres)]
      item_text[int(fields[0])] = _features_text(fields[1], [g for g, f in zip(genres, flags) if f == "1"])
  return _from_events("ml-100k", table[:, 0], table[:, 1], table[:, 3], item_text, ties)


def read_ml1m_ratings(root: pathlib.Path, ties: str = "first") -> Interactions:
  path = root / "ml-1m" / "ratings.dat"
  table = _table(_read(path, "MovieLens-1M ratings.dat"), "::", path, 4)
  return _from_events("ml-1m[ratings]", table[:, 0], table[:, 1], table[:, 3], _movies_dat(root), ties)


def _ncf_test(folder: pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
  """NCF's ``ml-1m.test.rating`` rows ``[U, 2]`` (user, item) sorted by user, and ``ml-1m.test.negative`` ``[U, 99]``."""
  test = _table(_read(folder / "ml-1m.test.rating", "NCF ml-1m test"), "\t", folder / "ml-1m.test.rating", 2)
  negatives = []
  for line in _read(folder / "ml-1m.test.negative", "NCF ml-1m negatives").splitlines():
    if line.strip():
      head, *rest = line.rstrip("\n").split("\t")
      try:
        negatives.append([int(v) for v in rest if v.strip()])
      except ValueError as error:
        raise DataError(f"{folder / 'ml-1m.test.negative'} is malformed ({error})") from None
  if len(test) != len(negatives) or any(len(n) != NUM_TEST_NEGATIVES for n in negatives):
    raise DataError(f"{folder}: expected one test row and 99 negatives per user, got {len(test)} test rows and "
                    f"{len(negatives)} rows of negatives, of lengths {sorted({len(n) for n in negatives})}")
  if not np.array_equal(np.sort(test[:, 0]), np.arange(len(test))):
    raise DataError(f"{folder / 'ml-1m.test.rating'}: expected users 0..{len(test) - 1}, one row each")
  return test[np.argsort(test[:, 0])], np.array(negatives, np.int64)


def read_ml1m_ncf(root: pathlib.Path) -> Interactions:
  """The NCF paper's preprocessed ML-1M: 0-based ids, its split and its test negatives (no titles: its item
  ids do not map back to MovieLens ids)."""
  folder = root / "ml-1m" / "ncf"
  train = _table(_read(folder / "ml-1m.train.rating", "NCF ml-1m train"), "\t", folder / "ml-1m.train.rating", 4)
  test, negatives = _ncf_test(folder)
  num_users = int(max(train[:, 0].max(), test[:, 0].max())) + 1
  num_items = int(max(train[:, 1].max(), test[:, 1].max(), negatives.max())) + 1
  if len(test) != num_users:
    raise DataError(f"{folder}: expected one test row and 99 negatives per user for {num_users} users, got "
                    f"{len(test)} test rows")
  return _finish("ml-1m[ncf]", num_users, np.arange(num_items), train[:, 0], train[:, 1], test[:, 1],
                 negatives.astype(np.int32), {}, time_order(train[:, 3]))


def _afcfm_pairs(root: pathlib.Path) -> dict[str, np.ndarray]:
  """``{"train": [N, 2], "test": [U, 2]}`` int64 (UserID, MovieID) rows of the AFCFM archive, in its line order."""
  path = root / "ml-1m" / "afcfm" / "ml-1m.zip"
  try:
    archive = zipfile.ZipFile(path)
    parts = {split: archive.read(f"ml-1m/{split}.csv").decode("ascii") for split in ("train", "test")}
  except FileNotFoundError:
    raise DataError(f"MovieLens-1M (afcfm): {path} not found") from None
  except (zipfile.BadZipFile, KeyError, UnicodeDecodeError) as error:
    raise DataError(f"{path} is corrupt or not the AFCFM archive ({error}); expected ml-1m/train.csv and "
                    f"ml-1m/test.csv inside") from None
  pairs = {}
  for split, text_ in parts.items():
    # "U-G-A-O,M-GENRE": the user's and the movie's original ids lead their halves.
    found = re.findall(r"^(\d+)-[\d-]*,(\d+)-", text_, flags=re.M)
    if len(found) != text_.count("\n"):
      raise DataError(f"{path}: ml-1m/{split}.csv has lines that are not 'U-G-A-O,M-GENRE'")
    pairs[split] = np.array(found, np.int64).reshape(-1, 2)
  return pairs


def read_ml1m_afcfm(root: pathlib.Path) -> Interactions:
  path = root / "ml-1m" / "afcfm" / "ml-1m.zip"
  pairs = _afcfm_pairs(root)
  user_ids, _ = _dense(np.concatenate([pairs["train"][:, 0], pairs["test"][:, 0]]))
  item_ids, _ = _dense(np.concatenate([pairs["train"][:, 1], pairs["test"][:, 1]]))
  users = {s: np.searchsorted(user_ids, p[:, 0]).astype(np.int32) for s, p in pairs.items()}
  items = {s: np.searchsorted(item_ids, p[:, 1]).astype(np.int32) for s, p in pairs.items()}
  if len(np.unique(users["test"])) != len(user_ids) or len(users["test"]) != len(user_ids):
    raise DataError(f"{path}: ml-1m/test.csv must hold exactly one interaction per user")
  test_items = np.empty(len(user_ids), np.int32)
  test_items[users["test"]] = items["test"]
  # No timestamps: the archive's line order stands in for time (a validation split holds out the last line).
  return _finish("ml-1m[afcfm]", len(user_ids), item_ids, users["train"], items["train"], test_items, None,
                 _movies_dat(root), np.arange(len(users["train"])))


@dataclasses.dataclass(frozen=True)
class NcfJoin:
  """NCF's item numbering matched to MovieIDs (``ncf_item_map``).

  Attributes:
    movie_ids: int64 [num_items], the MovieID of each NCF item id.
    first_user: int64 [num_items], the 0-based user whose ratings each id first appeared among.
    contradictions: held-out items their user never rated plus negatives their user did rate, under
      ``movie_ids`` (0: the join is consistent with every line of NCF's test files).
    self_negatives: users whose 99 negatives list their own held-out item (NCF drew the negatives from all
      items but the training ones; these agree with any numbering).
    determined: bool [num_items] or None (not asked for): True where no other consistent numbering gives the
      id another movie.
  """
  movie_ids: np.ndarray
  first_user: np.ndarray
  contradictions: int
  self_negatives: int
  determined: np.ndarray | None = None


def ncf_item_map(users: np.ndarray, movies: np.ndarray, test: np.ndarray, negatives: np.ndarray,
                 check_unique: bool = False) -> NcfJoin:
  """The MovieID behind each of NCF's item ids, from all (user, movie) pairs and NCF's test files alone.

  NCF numbered users and items in order of first appearance in ``ratings.dat``, which lists the ratings user
  by user, UserID 1 first. So NCF's user ``u`` is UserID ``u + 1``, and its item ids come in blocks: the
  movies UserID 1 rated, then those UserID 2 rated that UserID 1 did not, and so on. The blocks follow from
  the pairs; only the order inside a block (the order of lines in ``ratings.dat``) is unknown. It is taken as
  the assignment, block by block, that contradicts NCF's test files least
  (``scipy.optimize.linear_sum_assignment``): every user rated their held-out item and none of their 99
  negatives. The true numbering contradicts them nowhere. Where two movies of a block are rated by users
  whom no negative tells apart, either numbering is consistent and the assignment picks one.

  Args:
    users: int [N] the 0-based user (NCF's id) of every (user, movie) pair, each pair once.
    movies: int [N] the MovieID of every pair.
    test: int [U] NCF's held-out item id of each user.
    negatives: int [U, 99] NCF's negative item ids of each user.
    check_unique: also find which ids no other assignment of the same cost moves (one more assignment per id
      of a block with more than one; ``NcfJoin.determined``).
  """
  from scipy.optimize import linear_sum_assignment

  movie_ids, m = np.unique(movies, return_inverse=True)
  num_users, num_items = len(test), len(movie_ids)
  largest = max(int(negatives.max()), int(test.max()))
  if users.min() < 0 or users.max() >= num_users or largest >= num_items:
    raise DataError(f"NCF's test files name {num_users} users and item ids up to {largest}, but the pairs have "
                    f"{int(users.max()) + 1} users and {num_items} movies")
  rated = np.zeros((num_users, num_items), bool)
  rated[users, m] = True
  first = np.argmax(rated, axis=0)                 # the first rater of each movie
  first_of_id = np.sort(first)                     # NCF's ids run through the blocks in user order
  is_negative = np.zeros((num_users, num_items), bool)
  is_negative[np.repeat(np.arange(num_users), negatives.shape[1]), negatives.ravel()] = True
  own = is_negative[np.arange(num_users), test]
  is_negative[np.arange(num_users), test] = False  # the held-out item among its own negatives: true in any numbering
  held_out = np.zeros((num_users, num_items), bool)
  held_out[np.arange(num_users), test] = True
  mapping = np.empty(num_items, np.int64)
  determined = np.ones(num_items, bool) if check_unique else None
  contradictions = 0
  for block in np.unique(first):
    ids = np.flatnonzero(first_of_id == block)
    candidates = np.flatnonzero(first == block)
    r = rated[:, candidates].astype(np.float32)    # [users, candidates]
    cost = is_negative[:, ids].T.astype(np.float32) @ r + held_out[:, ids].T.astype(np.float32) @ (1.0 - r)
    rows, cols = linear_sum_assignment(cost)
    mapping[ids[rows]] = candidates[cols]
    best = cost[rows, cols].sum()
    contradictions += int(best)
    for row, col in zip(rows, cols) if check_unique and len(ids) > 1 else ():
      barred = cost.copy()
      barred[row, col] = 2 * len(ids) * num_users + 1  # dearer than any assignment that avoids it
      others = linear_sum_assignment(barred)
      determined[ids[row]] = barred[others].sum() > best
  return NcfJoin(movie_ids=movie_ids[mapping], first_user=first_of_id, contradictions=contradictions,
                 self_negatives=int(own.sum()), determined=determined)


def ncf_afcfm_join(root: pathlib.Path, check_unique: bool = False):
  """``(pairs, test, negatives, join)``: every AFCFM (UserID, MovieID) pair ``[N, 2]`` in the archive's line order
  (its held-out ones last), NCF's test rows ``[U, 2]`` and negatives ``[U, 99]``, and ``ncf_item_map`` of them."""
  test, negatives = _ncf_test(root / "ml-1m" / "ncf")
  parts = _afcfm_pairs(root)
  every = np.concatenate([parts["train"], parts["test"]])
  return every, test, negatives, ncf_item_map(every[:, 0] - 1, every[:, 1], test[:, 1], negatives, check_unique)


def read_ml1m_ncf_afcfm(root: pathlib.Path) -> Interactions:
  """NCF's own split and test negatives, its training file rebuilt from the AFCFM archive's complete pairs.

  NCF's ``ml-1m.train.rating`` is not here, but it holds every ML-1M rating except the held-out ones, and all
  of them are in the AFCFM archive: training is each user's pairs less NCF's held-out item, in NCF's ids
  (``ncf_item_map``). Time order: the archive's line order, with its own held-out item (its user's latest)
  last.
  """
  every, test, negatives, join = ncf_afcfm_join(root)
  if join.contradictions:
    raise DataError(f"{root / 'ml-1m' / 'ncf'} does not join with {root / 'ml-1m' / 'afcfm' / 'ml-1m.zip'}: under "
                    f"the best numbering, {join.contradictions} held-out items or negatives contradict the users' "
                    f"ratings")
  ncf_id = np.zeros(int(join.movie_ids.max()) + 1, np.int64)
  ncf_id[join.movie_ids] = np.arange(len(join.movie_ids))
  users, items = every[:, 0] - 1, ncf_id[every[:, 1]]
  train = items != test[users, 1]
  return _finish("ml-1m[ncf+afcfm]", len(test), join.movie_ids, users[train], items[train], test[:, 1],
                 negatives.astype(np.int32), _movies_dat(root), np.flatnonzero(train))


def read_tfds(dataset: str, data_dir: str | None, ties: str = "first") -> Interactions:
  """TFDS ``movielens/*-ratings`` (needs the prepared dataset or internet to download it)."""
  try:
    import tensorflow_datasets as tfds
    ds = tfds.load(_TFDS_NAMES[dataset], split="train", data_dir=data_dir or None, batch_size=-1)
    data = tfds.as_numpy(ds)
  except Exception as error:  # no network, no prepared copy, no TensorFlow: say which and how to get it
    raise DataError(f"TFDS {_TFDS_NAMES[dataset]} could not be loaded ({type(error).__name__}: {error}); on a "
                    f"machine without internet use config.data.source=local files instead") from None
  titles = {int(m): _features_text(t.decode(), [])
            for m, t in zip(data["movie_id"].astype(np.int64), data["movie_title"])}
  return _from_events(f"{dataset}[tfds]", data["user_id"].astype(np.int64), data["movie_id"].astype(np.int64),
                      data["timestamp"].astype(np.int64), titles, ties)


_LOCAL_READERS = {  # reader, the files it needs, and whether it holds out by time (then it takes ``ties``)
    ("ml-100k", "local"): (read_ml100k, ("ml-100k/u.data",), True),
    ("ml-1m", "ncf"): (read_ml1m_ncf, ("ml-1m/ncf/ml-1m.train.rating",), False),
    ("ml-1m", "ncf+afcfm"): (read_ml1m_ncf_afcfm, ("ml-1m/ncf/ml-1m.test.negative", "ml-1m/afcfm/ml-1m.zip"), False),
    ("ml-1m", "ratings"): (read_ml1m_ratings, ("ml-1m/ratings.dat",), True),
    ("ml-1m", "afcfm"): (read_ml1m_afcfm, ("ml-1m/afcfm/ml-1m.zip",), False)}


@functools.lru_cache(maxsize=4)
def read(dataset: str, source: str, root: pathlib.Path, ties: str = "first") -> Interactions:
  """The interactions of ``dataset`` from ``source`` (``auto``: the first local source whose files exist), each
  user's latest interaction held out, ``ties`` saying which of a second's ratings counts as the latest."""
  if dataset not in SOURCES:
    raise ValueError(f"unknown recommendation dataset {dataset!r}; choose one of {DATASETS}")
  if source == "auto":
    local = [s for s in SOURCES[dataset] if s != "tfds"]
    present = [s for s in local if all((root / f).exists() for f in _LOCAL_READERS[dataset, s][1])]
    if not present:
      wanted = "; ".join(" + ".join(str(root / f) for f in _LOCAL_READERS[dataset, s][1]) for s in local)
      raise DataError(f"{dataset}: no local copy found (looked for {wanted}); set config.data.data_dir or "
                      f"$BIGJAX_DATA_DIR, or config.data.source=tfds on a machine with internet")
    source = present[0]
  if source not in SOURCES[dataset]:
    raise ValueError(f"config.data.source={source!r}: {dataset} is read from one of {('auto',) + SOURCES[dataset]}")
  _check_ties(ties)  # a bad value is named before any file is read
  if source == "tfds":
    return read_tfds(dataset, None, ties)
  reader, _, by_time = _LOCAL_READERS[dataset, source]
  if by_time:
    return reader(root, ties)
  if ties != "first":
    timed = [s for (d, s), entry in _LOCAL_READERS.items() if d == dataset and entry[2]]
    raise ValueError(f"config.data.ties={ties!r}: {dataset} from source {source!r} brings its own held-out item per "
                     f"user; ties choose among a user's latest ratings only for the sources with timestamps "
                     f"({', '.join(timed + ['tfds'])})")
  return reader(root)


@functools.lru_cache(maxsize=4)
def _validation(interactions: Interactions) -> Interactions:
  return interactions.validation_split()


# ====================================================================================== training instances

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


# ====================================================================================== model constants

class _HashedByContent:
  """Hashable and equal by a digest of ``_content()``, so a Flax module may hold the object as a constant field
  (it becomes part of the compiled step) and two loads of the same data compare equal."""

  def _content(self) -> bytes:
    raise NotImplementedError

  @functools.cached_property
  def _digest(self) -> str:
    return hashlib.sha1(self._content()).hexdigest()

  def __hash__(self) -> int:
    return hash(self._digest)

  def __eq__(self, other) -> bool:
    return type(other) is type(self) and self._digest == other._digest


# ====================================================================================== histories

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


@dataclasses.dataclass(frozen=True, eq=False)
class History(_HashedByContent):
  """Each user's latest training items, ``items`` int32 ``[num_users, length]`` oldest first, padded on the left
  with ``pad = num_items``; hashable by content."""
  items: np.ndarray
  pad: int

  def _content(self) -> bytes:
    return self.items.tobytes() + str((self.items.shape, self.pad)).encode()

  def __repr__(self) -> str:
    return f"History({self.items.shape[0]} users x {self.items.shape[1]} items, {self._digest[:8]})"


# ====================================================================================== item features

@dataclasses.dataclass(frozen=True, eq=False)
class Bags(_HashedByContent):
  """Sparse rows as fixed-width bags: row ``r`` is ``sum_j weights[r, j] * onehot(ids[r, j])`` (weight 0 pads).

  Hashable by content, so a Flax module may hold it as a constant field (it becomes part of the compiled step).
  """
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


def _to_bags(matrix, width: int, num_features: int) -> Bags:
  """The ``width`` largest entries of each row of a scipy sparse matrix, renormalised to unit L2 norm."""
  matrix = matrix.tocsr()
  ids = np.zeros((matrix.shape[0], width), np.int32)
  weights = np.zeros((matrix.shape[0], width), np.float32)
  for r in range(matrix.shape[0]):
    lo, hi = matrix.indptr[r], matrix.indptr[r + 1]
    cols, vals = matrix.indices[lo:hi], matrix.data[lo:hi]
    keep = np.argsort(-vals, kind="stable")[:width]
    norm = np.linalg.norm(vals[keep])
    ids[r, :len(keep)] = cols[keep]
    weights[r, :len(keep)] = vals[keep] / norm if norm > 0 else 0.0
  return Bags(ids, weights, num_features)


@functools.lru_cache(maxsize=4)
def content_features(interactions: Interactions, item_width: int = 32, profile_width: int = 64) -> tuple[Bags, Bags]:
  """``(items, profiles)``: TF-IDF of each item's feature words (title words, year, genres) and each user's
  profile, the L2-normalised sum of the TF-IDF rows of the items they trained on (only training data).

  TF-IDF is scikit-learn's (smooth idf, sublinear tf off, L2-normalised rows) over items, keeping words of
  at least 2 items; rows are cut to their ``item_width`` / ``profile_width`` heaviest features.
  """
  from scipy import sparse
  from sklearn.feature_extraction.text import TfidfVectorizer

  if not any(interactions.item_text):
    raise DataError(f"{interactions.name} has no item titles or genres to build content features from")
  vectorizer = TfidfVectorizer(analyzer=str.split, min_df=2, dtype=np.float64)
  items = vectorizer.fit_transform(list(interactions.item_text))
  history = sparse.csr_matrix((np.ones(len(interactions.train_items)), interactions.train_items,
                               interactions.train_offsets), shape=(interactions.num_users, interactions.num_items))
  profiles = history @ items
  num_features = len(vectorizer.vocabulary_)
  return _to_bags(items, item_width, num_features), _to_bags(profiles, profile_width, num_features)


# ====================================================================================== datasets

@dataclasses.dataclass(frozen=True, eq=False)
class Vocab:
  """What the run saves as ``vocab.json``: the id maps, so that a resume on changed data is refused."""
  interactions: Interactions
  eval_negatives_seed: int

  def __len__(self) -> int:
    return self.interactions.num_items

  def to_json(self) -> str:
    i = self.interactions
    digest = hashlib.sha1(i.train_keys.tobytes() + i.test_items.tobytes()).hexdigest()
    return json.dumps({"dataset": i.name, "num_users": i.num_users, "num_items": i.num_items,
                       "train_interactions": int(len(i.train_items)), "split_sha1": digest,
                       "test_negatives": "source" if i.test_negatives is not None
                       else f"sampled, seed {self.eval_negatives_seed}",
                       "item_raw_ids": i.item_raw_ids.tolist()})


def load(data_config, split: str, root: pathlib.Path) -> Dataset:
  """The ``split`` of a MovieLens dataset as the loop batches it.

  train: ``{"user": [N], "item": [N], "label": [N] float32}`` (pointwise) or ``{"user": [P], "item": [P],
  "negative": [P, n]}`` (``data.pairs``, BPR) or ``{"user": [U], "sequence": [U, L + 1]}`` (``data.history_len``
  L > 0; ``model_fields["history"]`` then holds each user's latest L training items). test: ``{"user": [U], "candidates": [U, 100]}`` plus
  ``"seen": [U, num_items]`` bool when ``data.full_ranking`` (training items, excluded from full ranking).
  """
  name = data_config.name
  if split not in SPLITS:
    raise ValueError(f"{name} has splits {SPLITS}, not {split!r} (config.data.train_split/eval_split)")
  if (split == "validation") != (data_config.eval_split == "validation") and split != "train":
    raise ValueError(f"{name}: split {split!r} with config.data.eval_split={data_config.eval_split!r}; the "
                     f"validation split trains without each user's latest training item, so evaluate on it only as "
                     f"eval_split")
  interactions = read(name, data_config.source, root, data_config.ties)
  if data_config.eval_split == "validation":  # hyperparameter search: both splits one interaction earlier
    interactions = _validation(interactions)
  n = data_config.num_negatives
  if n < 1:
    raise ValueError(f"config.data.num_negatives={n}: implicit feedback needs >= 1 negative per positive")
  vocab = Vocab(interactions, data_config.eval_negatives_seed)
  fields = {"num_users": interactions.num_users, "num_items": interactions.num_items}
  if data_config.item_features:
    fields["item_features"], fields["user_profiles"] = content_features(interactions)
  length = data_config.history_len
  if length:
    sequences = latest_items(interactions, length + 1)
    fields["history"] = History(np.ascontiguousarray(sequences[:, 1:]), interactions.num_items)
  if split == "train" and length:
    arrays = {"user": np.arange(interactions.num_users, dtype=np.int32), "sequence": sequences}
  elif split == "train":
    p = len(interactions.train_items)
    if data_config.pairs:
      arrays = {"user": interactions.train_users, "item": interactions.train_items,
                "negative": EpochItems(interactions, n, pairs=True)}
    else:
      arrays = {"user": np.tile(interactions.train_users, 1 + n), "item": EpochItems(interactions, n, pairs=False),
                "label": np.repeat(np.array([1.0, 0.0], np.float32), [p, p * n])}
  else:
    users = np.arange(interactions.num_users, dtype=np.int32)
    arrays = {"user": users, "candidates": interactions.test_candidates(data_config.eval_negatives_seed)}
    if data_config.full_ranking:
      arrays["seen"] = CandidateMask(interactions, users)
  return Dataset(arrays, num_classes=0, name=f"{interactions.name}:{split}", vocab=vocab, model_fields=fields)
