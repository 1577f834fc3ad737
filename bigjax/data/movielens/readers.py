"""One reader per MovieLens source, each giving the source's ``Interactions`` split leave-one-out, and ``read``,
which picks the source that ``config.data.source`` names (``auto``: the first local one present).

Every rating counts as one positive interaction (implicit feedback, as in NCF). Sources with timestamps hold
out each user's latest interaction (``protocol.leave_latest_out``, ``config.data.ties`` breaking ties); the
others bring their own held-out item.
"""

import functools
import pathlib

import numpy as np

from bigjax.data.core import DataError
from bigjax.data.movielens import files, ncf_join
from bigjax.data.movielens.protocol import Interactions, check_ties, dense_ids, from_events, from_split, time_order

DATASETS = ("ml-100k", "ml-1m")
SOURCES = {"ml-100k": ("local", "tfds"), "ml-1m": ("ncf", "ncf+afcfm", "ratings", "afcfm", "tfds")}
_TFDS_NAMES = {"ml-100k": "movielens/100k-ratings", "ml-1m": "movielens/1m-ratings"}


def read_ml100k(root: pathlib.Path, ties: str = "first") -> Interactions:
  """GroupLens' ``ml-100k/u.data`` (user, item, rating, timestamp), titles and genres from ``u.item``."""
  table = files.table(root, "ml-100k/u.data", "\t", 4)
  return from_events("ml-100k", table[:, 0], table[:, 1], table[:, 3], files.ml100k_item_text(root), ties)


def read_ml1m_ratings(root: pathlib.Path, ties: str = "first") -> Interactions:
  """GroupLens' ``ml-1m/ratings.dat`` (``UserID::MovieID::Rating::Timestamp``)."""
  table = files.table(root, "ml-1m/ratings.dat", "::", 4)
  return from_events("ml-1m[ratings]", table[:, 0], table[:, 1], table[:, 3], files.ml1m_item_text(root), ties)


def read_ml1m_ncf(root: pathlib.Path) -> Interactions:
  """The NCF paper's preprocessed ML-1M: 0-based ids, its split and its test negatives (no titles: its item
  ids do not map back to MovieLens ids)."""
  folder = root / "ml-1m" / "ncf"
  train = files.table(root, "ml-1m/ncf/ml-1m.train.rating", "\t", 4)
  test, negatives = files.ncf_test(root)
  num_users = int(max(train[:, 0].max(), test[:, 0].max())) + 1
  num_items = int(max(train[:, 1].max(), test[:, 1].max(), negatives.max())) + 1
  if len(test) != num_users:
    raise DataError(f"{folder}: expected one test row and 99 negatives per user for {num_users} users, got "
                    f"{len(test)} test rows")
  return from_split("ml-1m[ncf]", num_users, np.arange(num_items), train[:, 0], train[:, 1], test[:, 1],
                    negatives.astype(np.int32), {}, time_order(train[:, 3]))


def read_ml1m_afcfm(root: pathlib.Path) -> Interactions:
  """The AFCFM archive's every (user, movie) pair with its own one-per-user held-out split."""
  path = root / "ml-1m" / "afcfm" / "ml-1m.zip"
  pairs = files.afcfm_pairs(root)
  user_ids, _ = dense_ids(np.concatenate([pairs["train"][:, 0], pairs["test"][:, 0]]))
  item_ids, _ = dense_ids(np.concatenate([pairs["train"][:, 1], pairs["test"][:, 1]]))
  users = {s: np.searchsorted(user_ids, p[:, 0]).astype(np.int32) for s, p in pairs.items()}
  items = {s: np.searchsorted(item_ids, p[:, 1]).astype(np.int32) for s, p in pairs.items()}
  if len(np.unique(users["test"])) != len(user_ids) or len(users["test"]) != len(user_ids):
    raise DataError(f"{path}: ml-1m/test.csv must hold exactly one interaction per user")
  test_items = np.empty(len(user_ids), np.int32)
  test_items[users["test"]] = items["test"]
  # No timestamps: the archive's line order stands in for time (a validation split holds out the last line).
  return from_split("ml-1m[afcfm]", len(user_ids), item_ids, users["train"], items["train"], test_items, None,
                    files.ml1m_item_text(root), np.arange(len(users["train"])))


def read_ml1m_ncf_afcfm(root: pathlib.Path) -> Interactions:
  """NCF's own split and test negatives, its training file rebuilt from the AFCFM archive's complete pairs.

  NCF's ``ml-1m.train.rating`` is not here, but it holds every ML-1M rating except the held-out ones, and all
  of them are in the AFCFM archive: training is each user's pairs less NCF's held-out item, in NCF's ids
  (``ncf_join.ncf_item_map``, cached). Time order: the archive's line order, with its own held-out item (its
  user's latest) last.
  """
  every, test, negatives, join = ncf_join.ncf_afcfm_join(root)
  if join.contradictions:
    raise DataError(f"{root / 'ml-1m' / 'ncf'} does not join with {root / 'ml-1m' / 'afcfm' / 'ml-1m.zip'}: under "
                    f"the best numbering, {join.contradictions} held-out items or negatives contradict the users' "
                    f"ratings")
  ncf_id = np.zeros(int(join.movie_ids.max()) + 1, np.int64)
  ncf_id[join.movie_ids] = np.arange(len(join.movie_ids))
  users, items = every[:, 0] - 1, ncf_id[every[:, 1]]
  train = items != test[users, 1]
  return from_split("ml-1m[ncf+afcfm]", len(test), join.movie_ids, users[train], items[train], test[:, 1],
                    negatives.astype(np.int32), files.ml1m_item_text(root), np.flatnonzero(train))


def read_tfds(dataset: str, data_dir: str | None, ties: str = "first") -> Interactions:
  """TFDS ``movielens/*-ratings`` (needs the prepared dataset or internet to download it)."""
  try:
    import tensorflow_datasets as tfds
    ds = tfds.load(_TFDS_NAMES[dataset], split="train", data_dir=data_dir or None, batch_size=-1)
    data = tfds.as_numpy(ds)
  except Exception as error:  # no network, no prepared copy, no TensorFlow: say which and how to get it
    raise DataError(f"TFDS {_TFDS_NAMES[dataset]} could not be loaded ({type(error).__name__}: {error}); on a "
                    f"machine without internet use config.data.source=local files instead") from None
  titles = {int(m): files.features_text(t.decode(), [])
            for m, t in zip(data["movie_id"].astype(np.int64), data["movie_title"])}
  return from_events(f"{dataset}[tfds]", data["user_id"].astype(np.int64), data["movie_id"].astype(np.int64),
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
  check_ties(ties)  # a bad value is named before any file is read
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
