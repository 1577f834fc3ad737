"""Social-recommendation data (bigjax/data/social.py) on the real files: counts after cleaning against MANIFEST.md
and against an independent plain-Python reading, the last-row-wins rule, the 5-fold protocol, refusals."""

import hashlib
import io
import zipfile

import numpy as np
import pytest
import scipy.io

from bigjax import data
from bigjax.data import social
from bigjax.data.core import DataError

from conftest import requires_data

requires_filmtrust = requires_data("filmtrust/ratings.txt")
requires_ciao = requires_data("ciao_epinions/ciao/ciao.zip")
requires_epinions = requires_data("ciao_epinions/epinions/epinions.zip")
requires_ciaodvd = requires_data("ciaodvd/movie-ratings.txt")


def plain_reading(name):
  """(rows, links) of the files as they are, in file order, by plain Python: [(user, item, rating)], [(a, b)]."""
  root = data.default_data_dir()
  if name in ("ciao", "epinions"):
    archive = zipfile.ZipFile(root / f"ciao_epinions/{name}/{name}.zip")
    mat = lambda entry: scipy.io.loadmat(io.BytesIO(archive.read(f"{name}/{entry}.mat")))[entry].tolist()
    return [(r[0], r[1], r[3]) for r in mat("rating")], [tuple(link) for link in mat("trustnetwork")]
  ratings, trust, sep, column = {"filmtrust": ("filmtrust/ratings.txt", "filmtrust/trust.txt", " ", 2),
                                 "ciaodvd": ("ciaodvd/movie-ratings.txt", "ciaodvd/trusts.txt", ",", 4)}[name]
  rows = [line.split(sep) for line in (root / ratings).read_text().splitlines()]
  links = [line.split(sep) for line in (root / trust).read_text().splitlines()]
  return ([(int(r[0]), int(r[1]), float(r[column])) for r in rows], [(int(a), int(b)) for a, b, _ in links])


def check_against_plain_reading(got, name):
  """The cleaning rules applied by hand (a dict keeps the last row of a pair), compared triple for triple."""
  rows, links = plain_reading(name)
  last = {(u, i): r for u, i, r in rows if r != 0}
  kept_links = {(a, b) for a, b in links if a != b}
  users = {u for u, _ in last} | {x for link in kept_links for x in link}
  assert list(got.user_raw_ids) == sorted(users) and list(got.item_raw_ids) == sorted({i for _, i in last})
  assert got.num_users == len(users) and got.num_items == len(got.item_raw_ids)
  for array in (got.users, got.items, got.trustors, got.trustees):
    assert array.dtype == np.int32
  assert got.ratings.dtype == np.float32
  triples = zip(got.user_raw_ids[got.users].tolist(), got.item_raw_ids[got.items].tolist(), got.ratings.tolist())
  assert {(u, i): r for u, i, r in triples} == last and len(got.ratings) == len(last)
  pairs = list(zip(got.user_raw_ids[got.trustors].tolist(), got.user_raw_ids[got.trustees].tolist()))
  assert pairs == sorted(kept_links)
  return rows, links


@requires_filmtrust
def test_filmtrust_counts_and_the_last_row_of_a_pair_wins():
  got = social.read("filmtrust")
  rows, links = check_against_plain_reading(got, "filmtrust")
  assert len(rows) == 35497 and len(got.ratings) == 35497 - 3  # MANIFEST: 3 pairs appear twice
  assert len(np.unique(got.users)) == 1508 and got.num_items == 2071 and len(got.trustors) == len(links) == 1853
  assert got.num_users == 1508 + 874 - 740 == 1642  # raters + trust-network users - those who do both
  assert got.user_raw_ids[-1] == 1642 and got.rating_range == (0.5, 4.0)
  lines = (data.default_data_dir() / "filmtrust/ratings.txt").read_text().splitlines()
  assert lines[7411] == "308 235 4" and lines[7467] == "308 235 1.5"  # rated twice, differently
  user, item = np.searchsorted(got.user_raw_ids, 308), np.searchsorted(got.item_raw_ids, 235)
  assert got.ratings[(got.users == user) & (got.items == item)].tolist() == [1.5]


@requires_ciao
def test_ciao_drops_zero_ratings_before_duplicates():
  got = social.read("ciao")
  rows, links = check_against_plain_reading(got, "ciao")
  assert len(rows) == 284086 and sum(r == 0 for _, _, r in rows) == 34
  assert len({(u, i) for u, i, _ in rows}) == 282650  # MANIFEST, zeros included
  zero_only = {(u, i) for u, i, r in rows if r == 0} - {(u, i) for u, i, r in rows if r != 0}
  assert len(got.ratings) == 282650 - len(zero_only) == 282619
  assert got.num_users == 7375 and len(got.trustors) == 111781 and got.num_items == 105096  # 18 rated only 0
  assert got.rating_range == (1.0, 5.0)


@pytest.fixture(scope="module")
def epinions():
  return social.read("epinions")


@requires_epinions
def test_epinions_counts(epinions):
  rows, links = check_against_plain_reading(epinions, "epinions")
  assert len(rows) == 922267 and len(epinions.ratings) == 912441 and epinions.num_items == 296277
  assert len(links) == 355754 and len(set(links)) == 355727 and sum(a == b for a, b in set(links)) == 224
  assert len(epinions.trustors) == 355727 - 224
  assert len(np.unique(epinions.users)) == 22164 and epinions.num_users == 22165  # one user only trusts
  assert epinions.rating_range == (1.0, 5.0)


@requires_epinions
def test_epinions_folds_partition_its_ratings(epinions):
  n = len(epinions.ratings)
  tests = [social.split_indices(n, f, "test", validating=True) for f in range(social.NUM_FOLDS)]
  assert np.array_equal(np.sort(np.concatenate(tests)), np.arange(n))
  assert max(map(len, tests)) - min(map(len, tests)) <= 1


@requires_ciaodvd
def test_ciaodvd_counts():
  got = social.read("ciaodvd")
  rows, links = check_against_plain_reading(got, "ciaodvd")
  assert len(rows) == 72665 and len(got.ratings) == 72345 and got.num_items == 16121
  assert len(got.trustors) == len(links) == 40133
  assert len(np.unique(got.users)) == 17615 and got.num_users == 17615 + 4658 - 2740 == 19533
  assert got.rating_range == (1.0, 5.0)


# ====================================================================================== protocol

def test_folds_partition_evenly_and_are_seeded():
  folds = social.fold_of(1003, seed=0)
  assert folds.dtype == np.int32 and set(folds.tolist()) == set(range(social.NUM_FOLDS))
  assert sorted(np.bincount(folds).tolist()) == [200, 200, 201, 201, 201]
  assert np.array_equal(folds, social.fold_of(1003, seed=0)) and not np.array_equal(folds, social.fold_of(1003, 1))


@pytest.mark.parametrize("fold", range(social.NUM_FOLDS))
def test_validation_is_a_tenth_of_the_training_folds_and_splits_add_up(fold):
  n = 1003
  parts = {s: social.split_indices(n, fold, s, validating=True) for s in social.SPLITS}
  assert np.array_equal(parts["test"], np.flatnonzero(social.fold_of(n) == fold))
  assert len(parts["validation"]) == round((n - len(parts["test"])) / 10)
  assert np.array_equal(np.sort(np.concatenate(list(parts.values()))), np.arange(n))  # disjoint and complete
  for rows in parts.values():
    assert np.all(np.diff(rows) > 0)
  unvalidated = social.split_indices(n, fold, "train", validating=False)
  assert np.array_equal(unvalidated, np.union1d(parts["train"], parts["validation"]))


@pytest.mark.parametrize("args, message", [((5, "test", True), r"config.data.fold=5"),
                                           ((-1, "train", True), r"config.data.fold=-1"),
                                           ((0, "dev", True), "valid splits: train, validation, test"),
                                           ((0, "validation", False), "validation split is")])
def test_bad_protocol_arguments_are_named(args, message):
  with pytest.raises(ValueError, match=message):
    social.split_indices(100, *args)


def test_cold_start_users_counts_training_rows():
  cold = social.cold_start_users(np.array([0] * 5 + [1] * 4 + [2] * 7), num_users=4)
  assert cold.tolist() == [False, True, False, True]  # user 3 has no training rating
  with pytest.raises(ValueError, match=r"outside \[0, 2\)"):
    social.cold_start_users(np.array([0, 2]), num_users=2)


def write_root(tmp_path, files):
  """A data root holding ``files`` (relpath -> bytes) and the SHA256SUMS that lists them."""
  sums = []
  for relpath, blob in files.items():
    (tmp_path / relpath).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / relpath).write_bytes(blob)
    sums.append(f"{hashlib.sha256(blob).hexdigest()}  {relpath}\n")
  (tmp_path / "SHA256SUMS").write_text("".join(sums))
  return tmp_path


def mat_zip(name, rating, trust):
  buffers = {}
  for entry, array in (("rating", rating), ("trustnetwork", trust)):
    buffers[entry] = io.BytesIO()
    scipy.io.savemat(buffers[entry], {entry: array})
  blob = io.BytesIO()
  with zipfile.ZipFile(blob, "w") as archive:
    for entry, buffer in buffers.items():
      archive.writestr(f"{name}/{entry}.mat", buffer.getvalue())
  return blob.getvalue()


@pytest.mark.parametrize("name, files, message", [
    ("filmtrust", {"filmtrust/ratings.txt": b"1 1 2\n1 2\n", "filmtrust/trust.txt": b"1 2 1\n"},
     r"filmtrust/ratings.txt is malformed: line 2 has 2 fields, expected 3"),
    ("filmtrust", {"filmtrust/ratings.txt": b"1 1 2\n1 x 3\n", "filmtrust/trust.txt": b"1 2 1\n"},
     r"filmtrust/ratings.txt is malformed: line 2 field 2 is 'x'"),
    ("filmtrust", {"filmtrust/ratings.txt": b"1 1 2\n", "filmtrust/trust.txt": b"1 2 1\n2 1 0\n"},
     r"filmtrust/trust.txt: line 2 has trust value 0"),
    ("ciao", {"ciao_epinions/ciao/ciao.zip": b"not a zip"}, r"ciao/ciao.zip:ciao/rating.mat is not a readable MAT"),
    ("ciao", {"ciao_epinions/ciao/ciao.zip": mat_zip("ciao", np.ones((3, 4), np.int32), np.ones((2, 2), np.uint16))},
     r"ciao.zip:ciao/rating.mat: 'rating' is int32\[3, 4\], expected .* 5 columns"),
])
def test_malformed_files_are_named(tmp_path, name, files, message):
  with pytest.raises(DataError, match=message):
    social.read(name, data_dir=write_root(tmp_path, files))


def test_a_tiny_mat_dataset_is_cleaned_by_the_rules(tmp_path):
  rating = np.array([[3, 10, 1, 4], [3, 10, 1, 2], [5, 11, 1, 0], [5, 12, 1, 5]], np.int32)
  trust = np.array([[3, 5], [5, 5], [3, 5], [9, 3]], np.uint16)
  got = social.read("epinions", data_dir=write_root(tmp_path, {"ciao_epinions/epinions/epinions.zip":
                                                               mat_zip("epinions", rating, trust)}))
  assert got.user_raw_ids.tolist() == [3, 5, 9] and got.item_raw_ids.tolist() == [10, 12]  # 11: only a 0
  assert got.users.tolist() == [0, 1] and got.items.tolist() == [0, 1] and got.ratings.tolist() == [2, 5]
  assert got.trustors.tolist() == [0, 2] and got.trustees.tolist() == [1, 0]


def test_unknown_names_and_missing_files_are_named(tmp_path):
  with pytest.raises(ValueError, match="known: filmtrust, ciao, epinions, ciaodvd"):
    social.read("douban")
  with pytest.raises(DataError, match="ciaodvd/movie-ratings.txt not found"):
    social.read("ciaodvd", data_dir=tmp_path)
