"""MNIST and Fashion-MNIST from local IDX .gz files, checksum-verified before they are parsed.

A data root holds one directory per dataset, in the names every framework uses:

  <data_root>/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
  <data_root>/fashion_mnist/  (same four names)

Expected sha256 digests come from the first of these that lists the file:
  1. <data_root>/SHA256SUMS  (``sha256sum`` format: ``<hex>  mnist/t10k-images-idx3-ubyte.gz``);
  2. <data_root>/MANIFEST.md (table rows ``| mnist/t10k-images-idx3-ubyte.gz | 1,616,508 | `<hex>` |``);
  3. `EMBEDDED_SHA256` below.
Verified digests are cached per (path, size, mtime), so reloading in one process does not re-hash.
"""

import hashlib
import os
import pathlib
import re

import numpy as np

from bigjax.data import idx
from bigjax.data.errors import DataError

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

_SHA256SUMS_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+?)\s*$", re.MULTILINE)
_MANIFEST_ROW = re.compile(r"^\|\s*([^|\s]+)\s*\|[^|\n]*\|\s*`([0-9a-fA-F]{64})`\s*\|", re.MULTILINE)

# (resolved path, size, mtime_ns) -> sha256 hex digest of that file's bytes.
_digest_cache: dict[tuple[str, int, int], str] = {}


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
  images = idx.decode(_read_verified(data_root, name, images_file), data_root / name / images_file,
                      idx.IMAGES_MAGIC)
  labels = idx.decode(_read_verified(data_root, name, labels_file), data_root / name / labels_file,
                      idx.LABELS_MAGIC)
  if len(images) != len(labels):
    raise DataError(f"{data_root / name}: {images_file} holds {len(images)} images but "
                    f"{labels_file} holds {len(labels)} labels")
  return images[..., None], labels


def expected_sha256(data_root: pathlib.Path, relpath: str) -> tuple[tuple[str, ...], str]:
  """The accepted digests for ``relpath`` (e.g. "mnist/t10k-images-idx3-ubyte.gz") and their source."""
  for listing in (data_root / "SHA256SUMS", data_root / "MANIFEST.md"):
    if listing.is_file():
      digest = _parse_listing(listing).get(relpath)
      if digest:
        return (digest,), str(listing)
  if relpath in EMBEDDED_SHA256:
    return EMBEDDED_SHA256[relpath], f"the checksums built into {__name__}"
  raise DataError(f"no sha256 for {relpath} in {data_root}/SHA256SUMS, {data_root}/MANIFEST.md "
                  f"or {__name__}.EMBEDDED_SHA256")


def _parse_listing(listing: pathlib.Path) -> dict[str, str]:
  """relpath -> lowercase sha256 from a SHA256SUMS file or a MANIFEST.md table."""
  text = listing.read_text(encoding="utf-8", errors="replace")
  if listing.name == "MANIFEST.md":
    return {m.group(1): m.group(2).lower() for m in _MANIFEST_ROW.finditer(text)}
  return {m.group(2): m.group(1).lower() for m in _SHA256SUMS_LINE.finditer(text)}


def _read_verified(data_root: pathlib.Path, name: str, filename: str) -> bytes:
  """Returns the file's bytes once their sha256 matches the expected one.

  Hashing the very bytes that are then parsed (rather than hashing, then reopening) means a file
  swapped between the two steps cannot slip through.
  """
  path = data_root / name / filename
  try:
    with open(path, "rb") as f:
      data = f.read()
      stat = os.fstat(f.fileno())  # After the read: a later rewrite gets a new key, never ours.
  except FileNotFoundError:
    raise DataError(_missing_message(path, name)) from None
  key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
  actual = _digest_cache.get(key)
  if actual is None:
    actual = hashlib.sha256(data).hexdigest()
  expected, source = expected_sha256(data_root, f"{name}/{filename}")
  if actual not in expected:
    raise DataError(f"{path}: sha256 mismatch (expected {' or '.join(expected)} from {source}, "
                    f"got {actual}); the file is corrupt or a different version, download it again")
  _digest_cache[key] = actual  # Only verified digests are cached, so a bad file is re-checked.
  return data


def _missing_message(path: pathlib.Path, name: str) -> str:
  files = ", ".join(f for pair in SPLIT_FILES.values() for f in pair)
  return (f"{path} not found. The {name} dataset is read from {path.parent}/ ({files}). "
          f"Download those files from {_SOURCES[name]}, or on a machine with internet prepare it "
          f"with tfds (`tfds build {name} --file_format=array_record --data_dir=DIR`) and load it "
          f"as 'tfds:{name}' with data_dir=DIR. Point $BIGJAX_DATA_DIR (or data_dir=) at the "
          "directory that holds it.")
