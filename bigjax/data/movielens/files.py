"""The MovieLens sources' files, parsed into arrays; every file is read through ``core.read_verified``.

  ml-100k/u.data, u.genre, u.item            ratings (tab-separated), genre names, movies (pipe-separated)
  ml-1m/ratings.dat, movies.dat              GroupLens' ``::``-separated ratings and movies
  ml-1m/ncf/ml-1m.{train,test}.rating        the NCF paper's ratings in its own 0-based ids
  ml-1m/ncf/ml-1m.test.negative              NCF's 99 test negatives per user
  ml-1m/afcfm/ml-1m.zip                      every (UserID, MovieID) pair, one held out per user, no timestamps

A file the data root lists (SHA256SUMS / MANIFEST.md) must match its digest; an unlisted one is read as it is,
since users bring MovieLens copies from many mirrors.
"""

import io
import pathlib
import re
import zipfile

import numpy as np

from bigjax.data.core import DataError, read_verified
from bigjax.data.movielens.protocol import NUM_TEST_NEGATIVES

_FIX = ("Get ml-100k / ml-1m from https://grouplens.org/datasets/movielens/, NCF's files from "
        "github.com/hexiangnan/neural_collaborative_filtering (Data/), the AFCFM archive from "
        "github.com/TianyitheDeveloper/AFCFM (Data/ml-1m.zip); or set config.data.source=tfds on a machine with "
        "internet.")


def read_bytes(root: pathlib.Path, relpath: str) -> bytes:
  return read_verified(root, relpath, fix=_FIX, require_digest=False)


def read_text(root: pathlib.Path, relpath: str) -> str:
  return read_bytes(root, relpath).decode("latin-1")  # MovieLens titles are Latin-1


def table(root: pathlib.Path, relpath: str, sep: str, columns: int) -> np.ndarray:
  """int64 [rows, columns]: the first ``columns`` integer fields of each non-blank line."""
  path, text = root / relpath, read_text(root, relpath)
  try:
    rows = [line.split(sep) for line in text.splitlines() if line.strip()]
    values = np.array([[int(v) for v in row[:columns]] for row in rows], np.int64)
  except ValueError as error:
    raise DataError(f"{path} is malformed ({error}); expected {columns} integer columns separated by {sep!r}")
  if values.ndim != 2 or values.shape[1] != columns or not len(values):
    raise DataError(f"{path} is malformed: expected rows of {columns} integers separated by {sep!r}")
  return values


def features_text(title: str, genres: list[str]) -> str:
  """Feature words of a movie: its title's words, its year and its genres (``g:Comedy``), space-separated."""
  year = re.search(r"\((\d{4})\)\s*$", title)
  words = re.findall(r"[a-z0-9']+", re.sub(r"\(\d{4}\)\s*$", "", title).lower())
  return " ".join(words + ([f"year:{year.group(1)}"] if year else []) + [f"g:{g.replace(' ', '_')}" for g in genres])


def ml100k_item_text(root: pathlib.Path) -> dict[int, str]:
  """MovieID -> feature words, from u.item's titles and genre flags (named by u.genre)."""
  genres = [line.split("|")[0] for line in read_text(root, "ml-100k/u.genre").splitlines() if line.strip()]
  item_text = {}
  for line in read_text(root, "ml-100k/u.item").splitlines():
    if line.strip():
      fields = line.split("|")
      flags = fields[5:5 + len(genres)]
      item_text[int(fields[0])] = features_text(fields[1], [g for g, f in zip(genres, flags) if f == "1"])
  return item_text


def ml1m_item_text(root: pathlib.Path) -> dict[int, str]:
  """MovieID -> feature words, from ml-1m/movies.dat; {} where the file is absent (titles are optional)."""
  if not (root / "ml-1m" / "movies.dat").exists():
    return {}
  out = {}
  for line in read_text(root, "ml-1m/movies.dat").splitlines():
    if line.strip():
      movie, title, genres = line.split("::")
      out[int(movie)] = features_text(title, genres.split("|"))
  return out


def ncf_test(root: pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
  """NCF's ``ml-1m.test.rating`` rows ``[U, 2]`` (user, item) sorted by user, and ``ml-1m.test.negative`` ``[U, 99]``."""
  folder = root / "ml-1m" / "ncf"
  test = table(root, "ml-1m/ncf/ml-1m.test.rating", "\t", 2)
  negatives = []
  for line in read_text(root, "ml-1m/ncf/ml-1m.test.negative").splitlines():
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


def afcfm_pairs(root: pathlib.Path) -> dict[str, np.ndarray]:
  """``{"train": [N, 2], "test": [U, 2]}`` int64 (UserID, MovieID) rows of the AFCFM archive, in its line order."""
  path = root / "ml-1m" / "afcfm" / "ml-1m.zip"
  blob = read_bytes(root, "ml-1m/afcfm/ml-1m.zip")
  try:
    archive = zipfile.ZipFile(io.BytesIO(blob))
    parts = {split: archive.read(f"ml-1m/{split}.csv").decode("ascii") for split in ("train", "test")}
  except (zipfile.BadZipFile, KeyError, UnicodeDecodeError) as error:
    raise DataError(f"{path} is corrupt or not the AFCFM archive ({error}); expected ml-1m/train.csv and "
                    f"ml-1m/test.csv inside") from None
  pairs = {}
  for split, text in parts.items():
    # "U-G-A-O,M-GENRE": the user's and the movie's original ids lead their halves.
    found = re.findall(r"^(\d+)-[\d-]*,(\d+)-", text, flags=re.M)
    if len(found) != text.count("\n"):
      raise DataError(f"{path}: ml-1m/{split}.csv has lines that are not 'U-G-A-O,M-GENRE'")
    pairs[split] = np.array(found, np.int64).reshape(-1, 2)
  return pairs
