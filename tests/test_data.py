"""Tests for bigjax.data: IDX parsing, checksum-verified local MNIST, sklearn digits, and TFDS (images.load).

Real files only: IDX files are written by hand in tmp_path, MNIST is the shared copy, and the
TFDS dataset is really built (array_record, no TensorFlow) and read back.
"""

import gzip
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import tensorflow_datasets as tfds

from bigjax import data
from bigjax.data import core, digits, idx
from bigjax.data import mnist as mnist_idx
from bigjax.data import movielens
from bigjax.data.images import load as load_images
from bigjax.data.movielens import ncf_join
from conftest import requires_mnist, run_on_a_terminal

MNIST_DIR = data.default_data_dir() / "mnist"
needs_mnist = requires_mnist
TEST_FILES = mnist_idx.SPLIT_FILES["test"]


def write_idx(path, array, magic, compress=False):
  """Writes uint8 `array` as IDX by hand (independently of the reader under test)."""
  raw = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
  path.write_bytes(gzip.compress(raw) if compress else raw)
  return path


# ----------------------------------------------------------------------------------------- IDX ---

@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_idx_round_trip(tmp_path, compress):
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
  labels = rng.integers(0, 10, (7,), dtype=np.uint8)
  np.testing.assert_array_equal(
      idx.read_images(write_idx(tmp_path / "im", images, idx.IMAGES_MAGIC, compress)), images)
  np.testing.assert_array_equal(
      idx.read_labels(write_idx(tmp_path / "lb", labels, idx.LABELS_MAGIC, compress)), labels)


def test_idx_bad_magic_names_file(tmp_path):
  path = write_idx(tmp_path / "labels.idx", np.zeros(4, np.uint8), idx.LABELS_MAGIC)
  with pytest.raises(data.DataError, match="magic 2049, expected 2051") as info:
    idx.read_images(path)
  assert str(path) in str(info.value)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_idx_truncated_names_file(tmp_path, compress):
  path = write_idx(tmp_path / "im", np.ones((10, 4, 4), np.uint8), idx.IMAGES_MAGIC, compress)
  path.write_bytes(path.read_bytes()[:-8])
  with pytest.raises(data.DataError, match="truncated") as info:
    idx.read_images(path)
  assert str(path) in str(info.value)


def test_idx_trailing_bytes_names_file(tmp_path):
  path = write_idx(tmp_path / "lb", np.ones(10, np.uint8), idx.LABELS_MAGIC)
  path.write_bytes(path.read_bytes() + b"\0")
  with pytest.raises(data.DataError, match="trailing bytes") as info:
    idx.read_labels(path)
  assert str(path) in str(info.value)


# ------------------------------------------------------------------------------- real MNIST ---

@pytest.fixture(scope="module")
def mnist():
  return load_images("mnist", "train"), load_images("mnist", "test")


@needs_mnist
def test_mnist_real_files(mnist):
  train, test = mnist
  assert (len(train), len(test), train.num_classes) == (60000, 10000, 10)
  assert train.images.shape == (60000, 28, 28, 1) and test.images.shape == (10000, 28, 28, 1)
  assert train.images.dtype == np.float32 and train.labels.dtype == np.int32
  assert (train.name, test.name) == ("mnist:train", "mnist:test")
  for ds in mnist:
    assert ds.images.min() == 0.0 and ds.images.max() == 1.0
  # The published per-class counts of MNIST.
  np.testing.assert_array_equal(np.bincount(train.labels),
                                [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
  np.testing.assert_array_equal(np.bincount(test.labels),
                                [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
  np.testing.assert_array_equal(train.labels[:5], [5, 0, 4, 1, 9])
  np.testing.assert_array_equal(test.labels[:5], [7, 2, 1, 0, 4])
  # 8-bit pixels survive the scaling exactly.
  np.testing.assert_array_equal(np.round(test.images * 255) / 255, test.images)


@needs_mnist
def test_mnist_digests_are_cached(mnist):
  for name in (*mnist_idx.SPLIT_FILES["train"], *TEST_FILES):
    path = MNIST_DIR / name
    stat = path.stat()
    assert (str(path.resolve()), stat.st_size, stat.st_mtime_ns) in core._digest_cache


def test_missing_file_names_path_and_writes_nothing(tmp_path):
  with pytest.raises(data.DataError) as info:
    load_images("fashion_mnist", "train", data_dir=tmp_path)
  message = str(info.value)
  assert str(tmp_path / "fashion_mnist" / "train-images-idx3-ubyte.gz") in message
  assert "fashion_mnist" in message and "tfds build" in message
  assert list(tmp_path.iterdir()) == []


def copy_mnist_test_split(root):
  (root / "mnist").mkdir(parents=True)
  for name in TEST_FILES:
    shutil.copyfile(MNIST_DIR / name, root / "mnist" / name)  # copyfile: writable, unlike the source.
  return root / "mnist"


@needs_mnist
def test_corrupt_file_fails_checksum(tmp_path):
  mnist_dir = copy_mnist_test_split(tmp_path)
  sums = {n: hashlib.sha256((mnist_dir / n).read_bytes()).hexdigest() for n in TEST_FILES}
  (tmp_path / "SHA256SUMS").write_text("".join(f"{d}  mnist/{n}\n" for n, d in sums.items()))
  assert len(load_images("mnist", "test", data_dir=tmp_path)) == 10000

  corrupt = mnist_dir / TEST_FILES[0]
  blob = bytearray(corrupt.read_bytes())
  blob[len(blob) // 2] ^= 0xFF
  corrupt.write_bytes(bytes(blob))
  stat = corrupt.stat()  # Same size; a later mtime is what must invalidate the cached digest.
  os.utime(corrupt, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
  with pytest.raises(data.DataError, match="sha256 mismatch") as info:
    load_images("mnist", "test", data_dir=tmp_path)
  message = str(info.value)
  assert str(corrupt) in message and sums[TEST_FILES[0]] in message
  assert hashlib.sha256(bytes(blob)).hexdigest() in message


@needs_mnist
def test_checksums_from_manifest_then_embedded(tmp_path):
  copy_mnist_test_split(tmp_path)
  # No listing in the data root: the embedded constants accept the shared copy.
  assert len(load_images("mnist", "test", data_dir=tmp_path)) == 10000
  # A MANIFEST.md row is used when there is no SHA256SUMS, and it is authoritative.
  (tmp_path / "MANIFEST.md").write_text(
      "| file | bytes | sha256 |\n|---|---:|---|\n"
      f"| mnist/{TEST_FILES[0]} | 1,616,508 | `{'0' * 64}` |\n")
  with pytest.raises(data.DataError, match="MANIFEST.md"):
    load_images("mnist", "test", data_dir=tmp_path)


def test_embedded_checksums_match_shared_sha256sums():
  sums_file = data.default_data_dir() / "SHA256SUMS"
  if not sums_file.is_file():
    pytest.skip(f"{sums_file} not found")
  for relpath, digests in mnist_idx.EMBEDDED_SHA256.items():
    assert core.expected_sha256(data.default_data_dir(), relpath)[0] == (digests[0],), relpath


def test_unlisted_file_needs_a_digest_unless_the_reader_allows_none(tmp_path):
  (tmp_path / "ml-100k").mkdir()
  (tmp_path / "ml-100k" / "u.data").write_text("1\t1\t5\t1\n")
  with pytest.raises(data.DataError, match="no sha256 for ml-100k/u.data"):
    core.read_verified(tmp_path, "ml-100k/u.data", fix="")
  assert core.read_verified(tmp_path, "ml-100k/u.data", fix="", require_digest=False) == b"1\t1\t5\t1\n"
  # A listed file is verified even where a digest is not required (MovieLens reads so).
  (tmp_path / "SHA256SUMS").write_text(f"{'0' * 64}  ml-100k/u.data\n")
  with pytest.raises(data.DataError, match="sha256 mismatch") as info:
    movielens.read_ml100k(tmp_path)
  assert str(tmp_path / "ml-100k" / "u.data") in str(info.value)


# ---------------------------------------------------------------------------- NCF join cache ---

def tiny_ncf_inputs():
  """Two users, four movies: (UserID, MovieID) pairs [4, 2], NCF's test rows [2, 2] and negatives [2, 1]."""
  return np.array([[1, 10], [1, 20], [2, 30], [2, 40]]), np.array([[0, 0], [1, 2]]), np.array([[2], [0]])


def test_ncf_join_is_computed_once_then_read_verified(tmp_path, monkeypatch, caplog):
  every, test, negatives = tiny_ncf_inputs()
  fresh = ncf_join.ncf_item_map(every[:, 0] - 1, every[:, 1], test[:, 1], negatives)
  first = ncf_join.cached_join(every, test, negatives, tmp_path)
  entry = ncf_join.entry_dir(every, test, negatives, tmp_path)
  assert sorted(p.name for p in entry.iterdir()) == ["SHA256SUMS", "join.npz"]
  assert hashlib.sha256((entry / "join.npz").read_bytes()).hexdigest() in (entry / "SHA256SUMS").read_text()

  def never(*args, **kwargs):
    raise AssertionError("the join was recomputed")
  monkeypatch.setattr(ncf_join, "ncf_item_map", never)
  again = ncf_join.cached_join(every, test, negatives, tmp_path)
  for join in (first, again):
    np.testing.assert_array_equal(join.movie_ids, fresh.movie_ids)
    np.testing.assert_array_equal(join.first_user, fresh.first_user)
    assert join.movie_ids.dtype == join.first_user.dtype == np.int64
    assert (join.contradictions, join.self_negatives) == (fresh.contradictions, fresh.self_negatives)
  # Other inputs have an entry of their own; a corrupt entry is rebuilt, with a warning.
  assert ncf_join.entry_dir(every, test, negatives[::-1], tmp_path) != entry
  monkeypatch.undo()
  blob = bytearray((entry / "join.npz").read_bytes())
  blob[len(blob) // 2] ^= 0xFF
  (entry / "join.npz").write_bytes(bytes(blob))
  rebuilt = ncf_join.cached_join(every, test, negatives, tmp_path)
  np.testing.assert_array_equal(rebuilt.movie_ids, fresh.movie_ids)
  assert "sha256 mismatch" in caplog.text
  # A cache that cannot be written (here: below a file) costs a recomputation, not the run.
  (tmp_path / "file").write_text("")
  unwritable = ncf_join.cached_join(every, test, negatives, tmp_path / "file" / "below")
  np.testing.assert_array_equal(unwritable.movie_ids, fresh.movie_ids)
  assert "could not cache the NCF join" in caplog.text


# ----------------------------------------------------------------------------------- digits ---

def test_digits_split():
  train, test = load_images("digits", "train"), load_images("digits", "test")
  assert (len(train), len(test), train.num_classes) == (1437, 360, 10)
  assert train.images.shape == (1437, 8, 8, 1) and train.images.max() == 1.0
  train_idx, test_idx = digits.split_indices("train"), digits.split_indices("test")
  assert not set(train_idx) & set(test_idx)
  assert sorted([*train_idx, *test_idx]) == list(range(1797))
  again = load_images("digits", "test")
  np.testing.assert_array_equal(again.images, test.images)
  np.testing.assert_array_equal(again.labels, test.labels)
  from sklearn.datasets import load_digits  # read side by side: the same pixels and labels as scikit-learn's
  reference = load_digits()
  for split, indices in (("train", train_idx), ("test", test_idx)):
    images, labels = digits.load_split(split)
    np.testing.assert_array_equal(images[..., 0], reference.images[indices])
    np.testing.assert_array_equal(labels, reference.target[indices])
    assert images.dtype == np.uint8 and labels.dtype == np.int64
  np.testing.assert_array_equal(test.images[..., 0] * 16, reference.images[test_idx])


def test_unknown_name_or_split_lists_valid_ones():
  with pytest.raises(ValueError, match="digits, mnist, fashion_mnist"):
    load_images("cifar10", "train")
  with pytest.raises(ValueError, match="train, validation, test"):
    load_images("digits", "dev")


# ------------------------------------------------------------------------------------- TFDS ---

TINY_SIZES = {"train": 12, "test": 5}


def tiny_examples(split):
  """(key, example) pairs; pixel [0, 0] holds the index so order-free comparison is easy."""
  rng = np.random.default_rng(TINY_SIZES[split])
  for i in range(TINY_SIZES[split]):
    image = rng.integers(0, 256, (5, 6), dtype=np.uint8)
    image[0, 0] = i
    yield i, {"image": image, "label": i % 4}


class BigjaxTinyImages(tfds.core.GeneratorBasedBuilder):
  """Registered as "bigjax_tiny_images"; Tensor features, so no TensorFlow is needed to build."""
  VERSION = tfds.core.Version("1.0.0")

  def _info(self):
    return tfds.core.DatasetInfo(
        builder=self,
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Tensor(shape=(5, 6), dtype=np.uint8),
            "label": tfds.features.ClassLabel(num_classes=4)}),
        supervised_keys=("image", "label"))

  def _split_generators(self, dl_manager):
    return {split: self._generate_examples(split) for split in TINY_SIZES}

  def _generate_examples(self, split):
    yield from tiny_examples(split)


def test_tfds_array_record_round_trip(tmp_path):
  BigjaxTinyImages(data_dir=tmp_path, file_format="array_record").download_and_prepare()
  for split in TINY_SIZES:
    ds = load_images("tfds:bigjax_tiny_images", split, data_dir=tmp_path)
    assert ds.name == f"tfds:bigjax_tiny_images:{split}" and ds.num_classes == 4
    assert ds.images.shape == (TINY_SIZES[split], 5, 6, 1) and ds.labels.dtype == np.int32
    order = np.round(ds.images[:, 0, 0, 0] * 255).astype(int)  # TFDS shuffles records when building.
    expected = [example for _, example in tiny_examples(split)]
    np.testing.assert_array_equal(ds.images[..., 0] * 255,
                                  np.stack([expected[i]["image"] for i in order]))
    np.testing.assert_array_equal(ds.labels, [expected[i]["label"] for i in order])


class BigjaxTinyPngImages(tfds.core.GeneratorBasedBuilder):
  """Like the catalogue's mnist: PNG-encoded Image features, encoded and decoded by PIL (no TensorFlow)."""
  VERSION = tfds.core.Version("1.0.0")

  def _info(self):
    return tfds.core.DatasetInfo(
        builder=self,
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(5, 6, 1)),
            "label": tfds.features.ClassLabel(num_classes=4)}),
        supervised_keys=("image", "label"))

  def _split_generators(self, dl_manager):
    return {split: self._generate_examples(split) for split in TINY_SIZES}

  def _generate_examples(self, split):
    for key, example in tiny_examples(split):  # a PIL image is PNG-encoded by PIL, a NumPy one by TensorFlow
      yield key, {"image": PIL.Image.fromarray(example["image"], mode="L"), "label": example["label"]}


def test_tfds_png_image_features_decode_without_tensorflow(tmp_path):
  BigjaxTinyPngImages(data_dir=tmp_path, file_format="array_record").download_and_prepare()
  ds = load_images("tfds:bigjax_tiny_png_images", "train", data_dir=tmp_path)
  order = np.round(ds.images[:, 0, 0, 0] * 255).astype(int)
  expected = [example for _, example in tiny_examples("train")]
  np.testing.assert_array_equal(ds.images[..., 0] * 255, np.stack([expected[i]["image"] for i in order]))


def test_tfds_unprepared_dataset_says_how_to_build(tmp_path):
  with pytest.raises(data.DataError, match="tfds build mnist --file_format=array_record") as info:
    load_images("tfds:mnist", "train", data_dir=tmp_path)
  assert str(tmp_path) in str(info.value)
  assert list(tmp_path.iterdir()) == []


def _stderr_of(code: str, stderr) -> subprocess.Popen:
  return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=stderr)


def test_the_ncf_join_shows_a_bar_on_a_terminal_only(tmp_path):
  """Data preparation's slow step (the NCF id join) draws a progress bar on a terminal and writes nothing to a
  file (``tqdm``'s ``disable=None``)."""
  code = ("import numpy as np; from bigjax.data.movielens import ncf_join; "
          "ncf_join.ncf_item_map(np.array([0, 0, 1, 1]), np.array([10, 20, 30, 40]), np.array([0, 2]), "
          "np.array([[2], [0]]))")
  status, shown = run_on_a_terminal([sys.executable, "-c", code])
  assert status == 0, shown[-2000:]
  assert re.search(r"NCF id join: +\d+%\|[ █▏▎▍▌▋▊▉]*\| [0-2]/2 \[", shown), shown[-2000:]
  with open(tmp_path / "stderr.txt", "w") as log:
    assert _stderr_of(code, log).wait(timeout=120) == 0
  assert "NCF id join" not in (tmp_path / "stderr.txt").read_text()
