"""scikit-learn's 8x8 handwritten digits (UCI optdigits test set, 1,797 images), with a fixed split.

The data ships inside scikit-learn, so this is the dataset that works on any machine, offline.
Split: ``perm = np.random.default_rng(0).permutation(1797)``; train = ``perm[:1437]``, test =
``perm[1437:]`` (360, i.e. 20%), each in permuted order. The seed is fixed here, not taken from a
config, so every run and every paper table sees the same test set.
"""

import numpy as np

from bigjax.data.core import DataError

NUM_EXAMPLES = 1797
TRAIN_SIZE = 1437
TEST_SIZE = NUM_EXAMPLES - TRAIN_SIZE  # 360
NUM_CLASSES = 10
PIXEL_MAX = 16  # Pixels count set bits in 4x4 blocks of the 32x32 original: 0..16.
SPLIT_SEED = 0


def split_indices(split: str) -> np.ndarray:
  """int64 [1437] or [360]: indices into `sklearn.datasets.load_digits()` for the split."""
  perm = np.random.default_rng(SPLIT_SEED).permutation(NUM_EXAMPLES)
  if split == "train":
    return perm[:TRAIN_SIZE]
  if split == "test":
    return perm[TRAIN_SIZE:]
  raise ValueError(f"unknown split {split!r}; valid: ('train', 'test')")


def load_split(split: str) -> tuple[np.ndarray, np.ndarray]:
  """Returns images uint8 [N, 8, 8, 1] with values 0..16, and labels int64 [N] with values 0..9."""
  indices = split_indices(split)
  from sklearn.datasets import load_digits  # Deferred: importing scikit-learn takes ~2 s.
  bunch = load_digits()
  if bunch.images.shape != (NUM_EXAMPLES, 8, 8):
    raise DataError(f"sklearn.datasets.load_digits() returned images {bunch.images.shape}, "
                    f"expected {(NUM_EXAMPLES, 8, 8)}; the fixed split assumes the latter")
  return bunch.images[indices].astype(np.uint8)[..., None], bunch.target[indices]
