"""Image-classification datasets as ``Dataset``s ``{"image": float32 [N, H, W, C] in [0, 1], "label": int32 [N]}``.

  digits         scikit-learn's 8x8 digits, fixed 1437/360 split       [N, 8, 8, 1]   (digits.py)
  mnist          local IDX .gz files, sha256-verified                  [N, 28, 28, 1] (mnist.py)
  fashion_mnist  same layout as mnist                                   [N, 28, 28, 1] (mnist.py)
  tfds:<name>    a TFDS dataset prepared as array_record               [N, H, W, C]   (tfds_source.py)

Every reader returns uint8 pixels; `load` alone scales them to float32 in [0, 1], so all sources
agree on what a pixel means. Batching, shuffling and sharding are the pipeline's job, not this one's.
"""

import os

import numpy as np

from bigjax.data import digits, mnist, tfds_source
from bigjax.data.core import Dataset, check_held_out, data_root

SPLITS = ("train", "validation", "test")
# "validation": the last sixth of the training split (MNIST's last 10,000 images), held out of "train" when a
# run validates on it (config.data.eval_split = "validation"); the test split stays for the one final reading.
VALIDATION_FRACTION = 1 / 6
NAMES = ("digits", "mnist", "fashion_mnist", "tfds:<tfds name>")
_TFDS_PREFIX = "tfds:"


def load(name: str, split: str, data_dir: str | os.PathLike | None = None, validating: bool = False) -> Dataset:
  """Loads a whole split into memory.

  Args:
    name: "digits" | "mnist" | "fashion_mnist" | "tfds:<tfds name>".
    split: "train" | "validation" | "test".
    data_dir: for mnist/fashion_mnist the data root holding ``<name>/`` (default
      `default_data_dir()`); for tfds: the TFDS data dir (default TFDS's own,
      $TFDS_DATA_DIR or ~/tensorflow_datasets); ignored for digits, which ships in scikit-learn.
    validating: the run validates on "validation" (the last sixth of the training images), so "train" is the
      first five sixths; "validation" is refused otherwise, since the run trains on it.

  Returns:
    A Dataset named "<name>:<split>" with arrays "image" and "label".

  Raises:
    ValueError: unknown name or split (the message lists the valid ones).
    DataError: the data is missing, corrupt or malformed (the message names the file and the fix).
  """
  if split not in SPLITS:
    raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
  check_held_out(name, split, validating, "the last sixth of the training images")
  read_split = "test" if split == "test" else "train"
  if name.startswith(_TFDS_PREFIX) and len(name) > len(_TFDS_PREFIX):
    images, labels, num_classes = tfds_source.load_split(name[len(_TFDS_PREFIX):], read_split, data_dir)
    pixel_max = 255
  elif name == "digits":
    images, labels = digits.load_split(read_split)
    num_classes, pixel_max = digits.NUM_CLASSES, digits.PIXEL_MAX
  elif name in mnist.DATASETS:
    images, labels = mnist.load_split(name, read_split, data_root(data_dir))
    num_classes, pixel_max = mnist.NUM_CLASSES, 255
  else:
    raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(NAMES)}")

  if validating and read_split == "train":
    held_out = int(round(len(labels) * VALIDATION_FRACTION))
    rows = slice(len(labels) - held_out, None) if split == "validation" else slice(0, len(labels) - held_out)
    images, labels = images[rows], labels[rows]
  # Dividing (not multiplying by 1/pixel_max) gives the correctly rounded float32 of k/pixel_max.
  arrays = {"image": np.divide(images, pixel_max, dtype=np.float32), "label": labels.astype(np.int32)}
  return Dataset(arrays, num_classes=num_classes, name=f"{name}:{split}")
