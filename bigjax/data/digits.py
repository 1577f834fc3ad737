"""scikit-learn's 8x8 handwritten digits (UCI optdigits test set, 1,797 images), with a fixed split.

The data ships inside scikit-learn, so this is the dataset that works on any machine, offline.
Split: ``perm = np.random.default_rng(0).permutation(1797)``; train = ``perm[:1437]``, test =
``perm[1437:]`` (360, i.e. 20%), each in permuted order. The seed is fixed here, not taken from a
config, so every run and every paper table sees the same test set.
"""

import importlib.util
import pathlib

import numpy as np

from bigjax.data.core import DataError

NUM_EXAMPLES = 1797
TRAIN_SIZE = 1437
TEST_SIZE = NUM_EXAMPLES - TRAIN_SIZE  # 360
NUM_CLASSES = 10
PIXEL_MAX = 16  # Pixels count set bits in 4x4 blocks of the 32x32 original: 0..16.
SPLIT_SEED = 0


def split_indices(split: str) -> np.ndarray:
  """int64 [1437] or [360]: indices into ``sklearn.datasets.load_digits()``'s rows for the split."""
  perm = np.random.default_rng(SPLIT_SEED).permutation(NUM_EXAMPLES)
  if split == "train":
    return perm[:TRAIN_SIZE]
  if split == "test":
    return perm[TRAIN_SIZE:]
  raise ValueError(f"unknown split {split!r}; valid: ('train', 'test')")


def bundled_file() -> pathlib.Path:
  """The CSV scikit-learn ships the digits in (``sklearn/datasets/data/digits.csv.gz``: 1,797 rows of 64 pixels
  and the label), found without importing scikit-learn."""
  spec = importlib.util.find_spec("sklearn")
  if spec is None or not spec.submodule_search_locations:
    raise DataError("the digits dataset ships with scikit-learn, which is not installed (pip install scikit-learn)")
  return pathlib.Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"


def load_split(split: str) -> tuple[np.ndarray, np.ndarray]:
  """Returns images uint8 [N, 8, 8, 1] with values 0..16, and labels int64 [N] with values 0..9: the rows
  ``sklearn.datasets.load_digits()`` returns, read from its bundled file (importing ``sklearn.datasets`` took 1.4 s,
  half of a small run's start-up; tests/test_data.py checks both give the same arrays)."""
  indices = split_indices(split)
  path = bundled_file()
  try:
    table = np.loadtxt(path, delimiter=",")
  except (OSError, ValueError) as error:
    raise DataError(f"cannot read the digits from {path}: {error}") from None
  if table.shape != (NUM_EXAMPLES, 65):
    raise DataError(f"{path} holds a table of shape {table.shape}, expected {(NUM_EXAMPLES, 65)} (64 pixels and the "
                    f"label per image); the fixed split assumes the latter")
  images = table[:, :64].reshape(NUM_EXAMPLES, 8, 8)
  return images[indices].astype(np.uint8)[..., None], table[indices, 64].astype(np.int64)
