"""Social (trust-aware) recommendation data of issue 27: explicit ratings plus a directed trust network.

  filmtrust  <root>/filmtrust/{ratings,trust}.txt: ``user item rating`` (0.5-4.0) and ``trustor trustee 1``,
             space-separated (LibRec's release, Guo et al. 2013)
  ciao       <root>/ciao_epinions/ciao/ciao.zip: ``ciao/rating.mat`` int32 [N, 5] = user, product, category,
             rating, helpfulness and ``ciao/trustnetwork.mat`` uint16 [M, 2] = trustor, trustee (Tang et al. 2012)
  epinions   <root>/ciao_epinions/epinions/epinions.zip: ``epinions/rating.mat`` [N, 4] = user, product,
             category, rating (no helpfulness, whatever the README says) and ``epinions/trustnetwork.mat``
  ciaodvd    <root>/ciaodvd/{movie-ratings,trusts}.txt: ``user,movie,genre,review,rating,date`` and
             ``trustor,trustee,value``, comma-separated, no header (Guo et al. 2014)

Cleaning, the same for all four (the usual one of SoRec / SocialMF / TrustSVD papers):
  1. a rating of value 0 is dropped (Ciao has 34 such rows; 3 of their pairs also have a real rating);
  2. a (user, item) pair rated more than once keeps its LAST row in file order (after step 1); kept rows stay in
     file order, which is the order ``fold_of`` permutes;
  3. trust: self-links and repeated (trustor, trustee) links are dropped; links come sorted by (trustor, trustee).
     The value column of the text files must be 1 (it is, everywhere); the .mat networks have none;
  4. users are the union of the raw ids that keep a rating or a link, dense in ascending raw id (trust-only users
     are kept: trust-aware models use them); items are the rated raw ids, dense in ascending raw id.

What that gives (tests/test_social_data.py checks each number):
  set        rows -> ratings        links  (rows -> kept)        users (rate + trust only)   items   ratings
  filmtrust  35,497 -> 35,494       1,853                        1,642 (1,508 + 134)          2,071   0.5-4.0
  ciao       284,086 -> 282,619     111,781                      7,375 (7,375 + 0)            105,096 1-5
  epinions   922,267 -> 912,441     355,754 -> 355,503           22,165 (22,164 + 1)          296,277 1-5
  ciaodvd    72,665 -> 72,345       40,133                       19,533 (17,615 + 1,918)      16,121  1-5
(FilmTrust: 3 pairs rated twice; Ciao: 105,114 products of which 18 have only 0 ratings; Epinions: 27 repeated
links and 224 self-links; CiaoDVD: 303 pairs rated more than once, 74 of them with different values.)

Protocol (a rule, so no split file is needed): 5-fold cross-validation over the cleaned ratings, as LibRec and
TrustSVD evaluate rating prediction. ``fold_of``: a permutation of the N ratings by ``np.random.default_rng([seed,
27])``; the rating at permuted position p is in test fold p % 5. For test fold f, "test" is fold f; "validation"
is a seeded 10% (rounded half up) of the other four folds (a permutation by ``default_rng([seed, 27, f])``, its
first ones); "train" is the other four folds, less "validation" when the run validates. Users with fewer than
``COLD_START`` training ratings are the cold-start users that trust-aware papers report separately.

Every file is read through ``core.read_verified`` (digests from the data root's MANIFEST.md / SHA256SUMS).
"""

import dataclasses
import functools
import hashlib
import io
import json
import os
import pathlib
import zipfile

import numpy as np
import scipy.io

from bigjax.data.core import DataError, Dataset, check_held_out, data_root, read_verified
from bigjax.data.core import validating as core_validating

DATASETS = ("filmtrust", "ciao", "epinions", "ciaodvd")
SPLITS = ("train", "validation", "test")
NUM_FOLDS = 5
COLD_START = 5  # a user with fewer training ratings than this is cold-start
VALIDATION_TENTHS = 1  # "validation" is this many tenths of the four training folds

_FIX = {
    "filmtrust": "Get ratings.txt and trust.txt of LibRec's filmtrust.zip (github.com/guoguibing/librec) into "
                 "filmtrust/.",
    "ciao_epinions": "Get Jiliang Tang's ciao.zip / epinions.zip (www.cse.msu.edu/~tangjili/trust.html) into "
                     "ciao_epinions/ciao/ and ciao_epinions/epinions/.",
    "ciaodvd": "Get movie-ratings.txt and trusts.txt of LibRec's CiaoDVD.zip into ciaodvd/.",
}


# eq=False: the generated __eq__/__hash__ would compare arrays elementwise and raise.
@dataclasses.dataclass(frozen=True, eq=False)
class SocialRatings:
  """One cleaned dataset: N ratings and L directed trust links over dense user and item ids.

  Attributes:
    name: one of ``DATASETS``.
    users, items: int32 [N], dense ids in [0, num_users) and [0, num_items); rows in file order.
    ratings: float32 [N], within ``rating_range``.
    trustors, trustees: int32 [L], dense user ids; ``trustors[k]`` trusts ``trustees[k]``; sorted by (trustor,
      trustee).
    num_users, num_items: sizes of the id ranges (users include those who only appear in trust links).
    rating_range: (min, max) of ``ratings``.
    user_raw_ids: int64 [num_users], the file's id of each dense user id (ascending).
    item_raw_ids: int64 [num_items], the file's id of each dense item id (ascending).
  """
  name: str
  users: np.ndarray
  items: np.ndarray
  ratings: np.ndarray
  trustors: np.ndarray
  trustees: np.ndarray
  num_users: int
  num_items: int
  rating_range: tuple[float, float]
  user_raw_ids: np.ndarray
  item_raw_ids: np.ndarray

  def __repr__(self) -> str:  # The default would print the arrays.
    return (f"SocialRatings(name={self.name!r}, ratings={len(self.ratings)}, links={len(self.trustors)}, "
            f"num_users={self.num_users}, num_items={self.num_items}, rating_range={self.rating_range})")


def read(name: str, data_dir: str | os.PathLike | None = None) -> SocialRatings:
  """The cleaned ratings and trust links of ``name`` (see the module docstring for the rules).

  Raises:
    ValueError: an unknown dataset name (the message lists the known ones).
    DataError: a file is missing, corrupt or malformed (the message names it).
  """
  if name not in DATASETS:
    raise ValueError(f"unknown social-recommendation dataset {name!r}; known: {', '.join(DATASETS)}")
  root = data_root(data_dir)
  if name == "filmtrust":
    users, items, ratings = _text_table(root, "filmtrust/ratings.txt", " ", 3, (0, 1, 2), _FIX["filmtrust"])
    trustors, trustees, values = _text_table(root, "filmtrust/trust.txt", " ", 3, (0, 1, 2), _FIX["filmtrust"])
    _check_trust_values(root / "filmtrust/trust.txt", values)
  elif name == "ciaodvd":
    users, items, ratings = _text_table(root, "ciaodvd/movie-ratings.txt", ",", 6, (0, 1, 4), _FIX["ciaodvd"])
    trustors, trustees, values = _text_table(root, "ciaodvd/trusts.txt", ",", 3, (0, 1, 2), _FIX["ciaodvd"])
    _check_trust_values(root / "ciaodvd/trusts.txt", values)
  else:
    relpath = f"ciao_epinions/{name}/{name}.zip"
    rating = _mat_array(root, relpath, f"{name}/rating.mat", "rating", 5 if name == "ciao" else 4)
    trust = _mat_array(root, relpath, f"{name}/trustnetwork.mat", "trustnetwork", 2)
    users, items, ratings = rating[:, 0], rating[:, 1], rating[:, 3].astype(np.float64)
    trustors, trustees = trust[:, 0], trust[:, 1]
  return _clean(name, users, items, ratings, trustors, trustees)


# ====================================================================================== parsing

def _text_table(root: pathlib.Path, relpath: str, sep: str, columns: int, keep: tuple[int, int, int], fix: str
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Columns ``keep`` of a ``sep``-separated file of ``columns`` fields a line: int64 ids, int64 ids, float64."""
  path = root / relpath
  blob = read_verified(root, relpath, fix=fix).replace(b"\r\n", b"\n").rstrip(b"\n")
  try:
    text = blob.decode("ascii")
  except UnicodeDecodeError as error:
    raise DataError(f"{path} is malformed: not ASCII ({error})") from None
  # Fields per line, counted without a Python loop over lines: separators between newlines.
  codes = np.frombuffer(blob, np.uint8)
  newline = codes == ord("\n")
  num_lines = int(newline.sum()) + 1
  line_of = np.cumsum(newline)
  fields = np.bincount(line_of[codes == ord(sep)], minlength=num_lines) + 1
  bad = np.flatnonzero(fields != columns)
  if len(bad) or not text:
    line = int(bad[0]) + 1 if len(bad) else 1
    raise DataError(f"{path} is malformed: line {line} has {fields[line - 1] if text else 0} fields, expected "
                    f"{columns} separated by {sep!r}")
  table = np.array(text.replace("\n", sep).split(sep)).reshape(num_lines, columns)
  out = []
  for column, dtype in zip(keep, (np.int64, np.int64, np.float64)):
    try:
      out.append(table[:, column].astype(dtype))
    except ValueError:
      line = next(k for k, v in enumerate(table[:, column]) if not _parses(v, dtype)) + 1  # the error path only
      raise DataError(f"{path} is malformed: line {line} field {column + 1} is {str(table[line - 1, column])!r}, "
                      f"expected {'an integer' if dtype is np.int64 else 'a number'}") from None
  if not np.isfinite(out[2]).all():
    raise DataError(f"{path} is malformed: line {int(np.flatnonzero(~np.isfinite(out[2]))[0]) + 1} field "
                    f"{keep[2] + 1} is not a finite number")
  return out[0], out[1], out[2]


def _parses(value: str, dtype) -> bool:
  try:
    (int if dtype is np.int64 else float)(value)
    return True
  except ValueError:
    return False


def _check_trust_values(path: pathlib.Path, values: np.ndarray) -> None:
  # A value other than 1 would be distrust or a weight; taking it as trust would be silently wrong.
  if (values != 1).any():
    line = int(np.flatnonzero(values != 1)[0]) + 1
    raise DataError(f"{path}: line {line} has trust value {values[line - 1]:g}; only 1 (trust) is expected")


def _mat_array(root: pathlib.Path, relpath: str, entry: str, variable: str, columns: int) -> np.ndarray:
  """int64 [rows, columns]: MATLAB variable ``variable`` of the .mat file ``entry`` inside the zip ``relpath``."""
  where = f"{root / relpath}:{entry}"
  blob = read_verified(root, relpath, fix=_FIX["ciao_epinions"])
  try:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
      mat = scipy.io.loadmat(io.BytesIO(archive.read(entry)))
  except KeyError:
    raise DataError(f"{root / relpath} has no entry {entry}. {_FIX['ciao_epinions']}") from None
  except (zipfile.BadZipFile, ValueError, TypeError, OSError, EOFError) as error:
    raise DataError(f"{where} is not a readable MAT file in a zip ({error})") from None
  if variable not in mat:
    found = sorted(k for k in mat if not k.startswith("__"))
    raise DataError(f"{where} has no variable {variable!r} (found {found})")
  array = mat[variable]
  if array.ndim != 2 or array.shape[1] != columns or not len(array) or array.dtype.kind not in "iu":
    raise DataError(f"{where}: {variable!r} is {array.dtype}{list(array.shape)}, expected a non-empty integer "
                    f"array of {columns} columns")
  return array.astype(np.int64)  # uint16 trust ids would overflow in the pair keys


# ====================================================================================== cleaning

def _clean(name, users, items, ratings, trustors, trustees) -> SocialRatings:
  rated = ratings != 0
  if not rated.any():
    raise DataError(f"{name}: no rating other than 0 in its rating file")
  users, items, ratings = users[rated], items[rated], ratings[rated]
  # The last row of each (user, item) pair: the first of the reversed keys, mapped back to file order.
  _, first_reversed = np.unique(_pair_keys(users, items)[::-1], return_index=True)
  rows = np.sort(len(users) - 1 - first_reversed)
  users, items, ratings = users[rows], items[rows], ratings[rows]

  linked = trustors != trustees
  trustors, trustees = trustors[linked], trustees[linked]
  _, first = np.unique(_pair_keys(trustors, trustees), return_index=True)  # ascending (trustor, trustee)
  trustors, trustees = trustors[first], trustees[first]
  user_raw_ids = np.unique(np.concatenate([users, trustors, trustees]))
  item_raw_ids = np.unique(items)
  dense = lambda raw: np.searchsorted(user_raw_ids, raw).astype(np.int32)
  return SocialRatings(
      name=name, users=dense(users), items=np.searchsorted(item_raw_ids, items).astype(np.int32),
      ratings=ratings.astype(np.float32), trustors=dense(trustors), trustees=dense(trustees),
      num_users=len(user_raw_ids), num_items=len(item_raw_ids),
      rating_range=(float(ratings.min()), float(ratings.max())),
      user_raw_ids=user_raw_ids.astype(np.int64), item_raw_ids=item_raw_ids.astype(np.int64))


def _pair_keys(first: np.ndarray, second: np.ndarray) -> np.ndarray:
  """int64 [n], ordered as the pairs (first, second) are."""
  if not len(first):
    return np.zeros(0, np.int64)
  low = min(first.min(), second.min())
  return (first - low) * (int(second.max()) - low + 1) + (second - low)


# ====================================================================================== protocol

def fold_of(num_ratings: int, seed: int = 0) -> np.ndarray:
  """int32 [N]: each rating's test fold in [0, NUM_FOLDS): the rating at position p of a permutation seeded by
  ``[seed, 27]`` is in fold p % NUM_FOLDS, so the folds partition the ratings and differ in size by at most one."""
  order = np.random.default_rng([seed, 27]).permutation(num_ratings)
  folds = np.empty(num_ratings, np.int32)
  folds[order] = np.arange(num_ratings) % NUM_FOLDS
  return folds


def split_indices(num_ratings: int, fold: int, split: str, validating: bool, seed: int = 0) -> np.ndarray:
  """int64 [n], sorted: the rows of ``split`` when ``fold`` is the test fold (the rule is in the module docstring).

  Raises:
    ValueError: an unknown split, a fold outside [0, NUM_FOLDS), or "validation" without ``validating``.
  """
  if split not in SPLITS:
    raise ValueError(f"unknown split {split!r} of social ratings; valid splits: {', '.join(SPLITS)}")
  if not 0 <= fold < NUM_FOLDS:
    raise ValueError(f"config.data.fold={fold}: social ratings are evaluated by {NUM_FOLDS}-fold "
                     f"cross-validation; choose a fold in [0, {NUM_FOLDS})")
  check_held_out("social ratings", split, validating, "a seeded 10% of the four training folds")
  folds = fold_of(num_ratings, seed)
  if split == "test":
    return np.flatnonzero(folds == fold)
  rest = np.flatnonzero(folds != fold)
  num_validation = (len(rest) * VALIDATION_TENTHS * 2 + 10) // 20  # 10%, rounded half up
  chosen = np.zeros(len(rest), bool)
  chosen[np.random.default_rng([seed, 27, fold]).permutation(len(rest))[:num_validation]] = True
  if split == "validation":
    return rest[chosen]
  return rest[~chosen] if validating else rest


def cold_start_users(train_users: np.ndarray, num_users: int) -> np.ndarray:
  """bool [num_users]: the users with fewer than ``COLD_START`` ratings among ``train_users`` (int [n], the
  training rows' dense user ids); a user without any is cold-start too."""
  train_users = np.asarray(train_users)
  if len(train_users) and not 0 <= train_users.min() <= train_users.max() < num_users:
    raise ValueError(f"user ids outside [0, {num_users}): {train_users.min()}..{train_users.max()}")
  return np.bincount(train_users.astype(np.int64), minlength=num_users) < COLD_START


# ====================================================================================== as the loop reads it

@functools.lru_cache(maxsize=2)
def _read_cached(name: str, root: str) -> SocialRatings:
  return read(name, root)


@dataclasses.dataclass(frozen=True, eq=False)
class Vocab:
  """What the run saves as ``vocab.json``: the data and fold it trained on, so a resume on other data is refused."""
  data: SocialRatings
  fold: int
  split_seed: int
  train_rows: np.ndarray

  def __len__(self) -> int:
    return self.data.num_items

  def to_json(self) -> str:
    d = self.data
    return json.dumps({"dataset": d.name, "fold": self.fold, "split_seed": self.split_seed,
                       "num_users": d.num_users, "num_items": d.num_items, "train_ratings": int(len(self.train_rows)),
                       "train_sha1": hashlib.sha1(self.train_rows.tobytes()).hexdigest()})


def load(data_config, split: str, root: pathlib.Path) -> Dataset:
  """``split`` of ``data_config.name`` for test fold ``data_config.fold`` as the loop batches it:
  ``{"user": [n] int32, "item": [n] int32, "rating": [n] float32}``, plus ``"cold"`` (float32, 1 for a rating
  of a cold-start user) outside training. ``model_fields``: the sizes, ``num_ratings`` (training rows),
  ``global_mean`` (their mean), the rating scale, and the relations ``rated`` (the training rows' users x items),
  ``trust`` (trustor -> trustee) and ``friends`` (trust either way), for the models of ``models/social.py``."""
  from bigjax.data.relations import relation
  data = _read_cached(data_config.name, str(root))
  validating = core_validating(data_config)
  n = len(data.ratings)
  rows = split_indices(n, data_config.fold, split, validating, data_config.split_seed)
  train_rows = split_indices(n, data_config.fold, "train", validating, data_config.split_seed)
  arrays = {"user": data.users[rows], "item": data.items[rows], "rating": data.ratings[rows]}
  if split != data_config.train_split:
    cold = cold_start_users(data.users[train_rows], data.num_users)
    arrays["cold"] = cold[data.users[rows]].astype(np.float32)
  both = (np.concatenate([data.trustors, data.trustees]), np.concatenate([data.trustees, data.trustors]))
  fields = {"num_users": data.num_users, "num_items": data.num_items, "num_ratings": int(len(train_rows)),
            "global_mean": float(np.mean(data.ratings[train_rows], dtype=np.float64)),
            "rating_min": float(data.rating_range[0]), "rating_max": float(data.rating_range[1]),
            "rated": relation(data.users[train_rows], data.items[train_rows], data.num_users, data.num_items),
            "trust": relation(data.trustors, data.trustees, data.num_users, data.num_users),
            "friends": relation(*both, data.num_users, data.num_users)}
  return Dataset(arrays, num_classes=0, name=f"{data.name}:fold{data_config.fold}:{split}",
                 vocab=Vocab(data, data_config.fold, data_config.split_seed, train_rows), model_fields=fields)
