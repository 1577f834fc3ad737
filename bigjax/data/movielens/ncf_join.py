"""NCF's ML-1M item ids joined to MovieIDs (the ``ncf+afcfm`` source), computed once into a verified cache.

The join solves one assignment problem per block of items (seconds on ML-1M), so it is not redone at every load:
``ncf_afcfm_join`` keeps its result in ``<cache>/movielens/ncf_join-v<JOIN_VERSION>/<inputs digest>/``
(``core.default_cache_dir()``: $BIGJAX_CACHE_DIR, else ~/.cache/bigjax; never the read-only data root):

  join.npz     the NcfJoin arrays and the digest of the inputs they were computed from
  SHA256SUMS   the sha256 of join.npz, checked by ``core.read_verified`` at every read

The folder is named by the sha256 of the join's inputs (every pair, NCF's held-out items and negatives, as
parsed), so changed data never meets a stale join; a corrupt entry is rebuilt. ``scripts/prepare_ncf_join.py``
fills the cache ahead of a run.
"""

import dataclasses
import hashlib
import io
import logging
import os
import pathlib
import shutil
import zipfile

import numpy as np
import tqdm

from bigjax.data.core import DataError, default_cache_dir, read_verified
from bigjax.data.movielens import files

JOIN_VERSION = 1  # Bump when ncf_item_map's result changes: entries of another version are never read.
_JOIN_FILE = "join.npz"


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
  # A bar on a terminal only (tqdm's disable=None): the join is the slow part of preparing NCF's data.
  for block in tqdm.tqdm(np.unique(first), desc="NCF id join", unit="block", disable=None, leave=False):
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


def ncf_afcfm_join(root: pathlib.Path, check_unique: bool = False, cache_dir: pathlib.Path | None = None):
  """``(pairs, test, negatives, join)``: every AFCFM (UserID, MovieID) pair ``[N, 2]`` in the archive's line order
  (its held-out ones last), NCF's test rows ``[U, 2]`` and negatives ``[U, 99]``, and ``ncf_item_map`` of them.

  The join comes from the cache (``cache_dir``, default ``core.default_cache_dir()``), computed and stored there
  on first use; ``check_unique`` (an analysis, not needed to load) always computes it afresh.
  """
  test, negatives = files.ncf_test(root)
  parts = files.afcfm_pairs(root)
  every = np.concatenate([parts["train"], parts["test"]])
  if check_unique:
    return every, test, negatives, ncf_item_map(every[:, 0] - 1, every[:, 1], test[:, 1], negatives, True)
  return every, test, negatives, cached_join(every, test, negatives, cache_dir or default_cache_dir())


def cached_join(every: np.ndarray, test: np.ndarray, negatives: np.ndarray, cache_dir: pathlib.Path) -> NcfJoin:
  """``ncf_item_map`` of the pairs and NCF's test rows, read from ``cache_dir`` where an entry for exactly these
  inputs exists and verifies, else computed and stored there (a cache that cannot be written is skipped)."""
  entry = entry_dir(every, test, negatives, cache_dir)
  key = entry.name
  if entry.is_dir():
    try:
      return _read_entry(entry, key)
    except DataError as error:
      logging.getLogger(__name__).warning("rebuilding the NCF join cache: %s", error)
  join = ncf_item_map(every[:, 0] - 1, every[:, 1], test[:, 1], negatives)
  try:
    _write_entry(entry, key, join)
  except OSError as error:  # a read-only home: the run goes on, the join is recomputed next time
    logging.getLogger(__name__).warning("could not cache the NCF join in %s (%s)", entry, error)
  return join


def entry_dir(every: np.ndarray, test: np.ndarray, negatives: np.ndarray, cache_dir: pathlib.Path) -> pathlib.Path:
  """The cache folder of the join of these inputs, named by their sha256 (as int64 arrays, with their shapes)."""
  digest = hashlib.sha256()
  for array in (every, test, negatives):
    array = np.ascontiguousarray(array, np.int64)
    digest.update(str(array.shape).encode() + array.tobytes())
  return cache_dir / "movielens" / f"ncf_join-v{JOIN_VERSION}" / digest.hexdigest()


def _read_entry(entry: pathlib.Path, key: str) -> NcfJoin:
  blob = read_verified(entry, _JOIN_FILE, fix="It is a cache entry; it will be rebuilt.")
  try:
    with np.load(io.BytesIO(blob), allow_pickle=False) as stored:
      arrays = {name: stored[name] for name in stored.files}
    join = NcfJoin(movie_ids=arrays["movie_ids"], first_user=arrays["first_user"],
                   contradictions=int(arrays["contradictions"]), self_negatives=int(arrays["self_negatives"]))
    inputs = str(arrays["inputs_sha256"])
  except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile) as error:
    raise DataError(f"{entry / _JOIN_FILE} is not a readable NCF join ({error})") from None
  if inputs != key:
    raise DataError(f"{entry / _JOIN_FILE} was computed from inputs {inputs}, not the {key} its folder names")
  return join


def _write_entry(entry: pathlib.Path, key: str, join: NcfJoin) -> None:
  """Writes the entry into a private folder, then renames it into place, so no reader sees half an entry."""
  buffer = io.BytesIO()
  np.savez(buffer, movie_ids=join.movie_ids, first_user=join.first_user, contradictions=join.contradictions,
           self_negatives=join.self_negatives, inputs_sha256=np.array(key))
  blob = buffer.getvalue()
  entry.parent.mkdir(parents=True, exist_ok=True)
  staging = entry.parent / f".{key}.{os.getpid()}"
  shutil.rmtree(staging, ignore_errors=True)
  staging.mkdir()
  (staging / _JOIN_FILE).write_bytes(blob)
  (staging / "SHA256SUMS").write_text(f"{hashlib.sha256(blob).hexdigest()}  {_JOIN_FILE}\n")
  shutil.rmtree(entry, ignore_errors=True)  # a corrupt entry that was just rebuilt
  try:
    os.rename(staging, entry)
  except OSError:  # another process put its (identical) entry in place first
    shutil.rmtree(staging, ignore_errors=True)
    if not entry.is_dir():
      raise
