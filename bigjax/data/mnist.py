"""MNIST and Fashion-MNIST from local IDX .gz files, checksum-verified (``core.read_verified``) before parsing.

A data root holds one directory per dataset, in the names every framework uses:

  <data_root>/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
  <data_root>/fashion_mnist/  (same four names)

Where the data root lists no digest for a file (neither SHA256SUMS nor MANIFEST.md), `EMBEDDED_SHA256` below
accepts the known copies.
"""

import os
import pathlib

import numpy as np

from bigjax.data import idx
from bigjax.data.core import DataError, read_verified

DATASETS = ("mnist", "fashion_mnist")
NUM_CLASSES = 10
SPLIT_FILES = {  # split -> (images file, labels file)
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_SOURCES = {  # Where a user without the shared data root can get each dataset.
    "mnist": "https://storage.googleapis.com/cvdf-datasets/mnist/ (a mirror of yann.lecun.com/exdb/mnist)",
    "fashion_mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ "
                     "(github.com/zalandoresearch/fashion-mnist)",
}

# Used only when the data root has neither SHA256SUMS nor MANIFEST.md listing the file. Each file
# accepts two digests: the copy in shared/data (from its SHA256SUMS), and the upstream download
# (tensorflow_datasets/url_checksums/{mnist,fashion_mnist}.txt). They differ only in the gzip
# wrapper: shared/data re-gzipped MNIST's images and took Fashion-MNIST from Debian, which drops
# the embedded file name. The decompressed IDX bytes are identical (shared/data/MANIFEST.md).
EMBEDDED_SHA256 = {
    "mnist/train-images-idx3-ubyte.gz": (
        "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "mnist/train-labels-idx1-ubyte.gz": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",),
    "mnist/t10k-images-idx3-ubyte.gz": (
        "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "mnist/t10k-labels-idx1-ubyte.gz": (
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",),
    "fashion_mnist/train-images-idx3-ubyte.gz": (
        "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
    "fashion_mnist/train-labels-idx1-ubyte.gz": (
        "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
    "fashion_mnist/t10k-images-idx3-ubyte.gz": (
        "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
    "fashion_mnist/t10k-labels-idx1-ubyte.gz": (
        "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
}


def load_split(name: str, split: str, data_root: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
  """Reads one split of MNIST or Fashion-MNIST after verifying both files' checksums.

  Args:
    name: "mnist" or "fashion_mnist".
    split: "train" (60,000 examples) or "test" (10,000).
    data_root: directory that holds ``<name>/`` (and, optionally, SHA256SUMS or MANIFEST.md).

  Returns:
    images: uint8 [N, 28, 28, 1], read-only.
    labels: uint8 [N], values 0..9, read-only.

  Raises:
    DataError: a file is missing, fails its checksum, or is not valid IDX; or the two files
      disagree on N. Nothing is written to disk in any case.
  """
  if name not in DATASETS:
    raise ValueError(f"unknown local dataset {name!r}; valid: {DATASETS}")
  if split not in SPLIT_FILES:
    raise ValueError(f"unknown split {split!r}; valid: {tuple(SPLIT_FILES)}")
  data_root = pathlib.Path(data_root)
  images_file, labels_file = SPLIT_FILES[split]
  images = idx.decode(_read(data_root, name, images_file), data_root / name / images_file, idx.IMAGES_MAGIC)
  labels = idx.decode(_read(data_root, name, labels_file), data_root / name / labels_file, idx.LABELS_MAGIC)
  if len(images) != len(labels):
    raise DataError(f"{data_root / name}: {images_file} holds {len(images)} images but "
                    f"{labels_file} holds {len(labels)} labels")
  return images[..., None], labels


def _read(data_root: pathlib.Path, name: str, filename: str) -> bytes:
  files = ", ".join(f for pair in SPLIT_FILES.values() for f in pair)
  fix = (f"The {name} dataset is read from {data_root / name}/ ({files}). Download those files from "
         f"{_SOURCES[name]}, or on a machine with internet prepare it with tfds (`tfds build {name} "
         f"--file_format=array_record --data_dir=DIR`) and load it as 'tfds:{name}' with data_dir=DIR.")
  return read_verified(data_root, f"{name}/{filename}", fix=fix, known=EMBEDDED_SHA256)
