"""Reader for IDX files, the format MNIST and Fashion-MNIST ship in (raw or gzip-compressed).

Layout (big-endian): a 4-byte magic ``0x00 0x00 <dtype> <ndim>``, then ``ndim`` uint32 sizes,
then the data row-major. Only dtype 0x08 (uint8) occurs in these datasets, so only it is read:

  images: magic 2051 (0x0803), sizes count, rows, cols -> uint8 [count, rows, cols]
  labels: magic 2049 (0x0801), size count             -> uint8 [count]

Every check names the file: a wrong magic usually means images and labels were swapped, a wrong
length means a truncated download.
"""

import gzip
import os
import zlib

import numpy as np

from bigjax.data.core import DataError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
_GZIP_MAGIC = b"\x1f\x8b"


def decode(data: bytes, path: str | os.PathLike, expected_magic: int) -> np.ndarray:
  """Parses the bytes of one IDX file (gzip detected by content, not by name).

  Args:
    data: the file's bytes, compressed or not.
    path: where they came from; used only in error messages.
    expected_magic: IMAGES_MAGIC or LABELS_MAGIC.

  Returns:
    A read-only uint8 view of the payload: [count, rows, cols] for images, [count] for labels.

  Raises:
    DataError: corrupt gzip stream, wrong magic, a zero size, or a length that disagrees with the
      header.
  """
  if data[:2] == _GZIP_MAGIC:
    try:
      data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError; truncation is EOFError.
      raise DataError(f"{path}: corrupt or truncated gzip stream ({e}); download the file again") from e

  if len(data) < 4:
    raise DataError(f"{path}: {len(data)} bytes is too short for an IDX header")
  magic = int.from_bytes(data[:4], "big")
  if magic != expected_magic:
    want = "images" if expected_magic == IMAGES_MAGIC else "labels"
    raise DataError(f"{path}: IDX magic {magic}, expected {expected_magic} ({want} file); "
                    "is this the right file?")
  ndim = data[3]  # The magic fixes it (and the uint8 dtype): 3 for images, 1 for labels.
  header_len = 4 + 4 * ndim
  if len(data) < header_len:
    raise DataError(f"{path}: truncated IDX header ({len(data)} of {header_len} bytes)")
  shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
  if any(size == 0 for size in shape):
    raise DataError(f"{path}: IDX header has a zero size {shape}")

  expected_len = header_len + int(np.prod(shape))
  if len(data) != expected_len:
    problem = "truncated" if len(data) < expected_len else "has trailing bytes"
    raise DataError(f"{path}: {problem}: header {shape} needs {expected_len} bytes, "
                    f"file holds {len(data)} (after decompression)")
  return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(shape)


def read(path: str | os.PathLike, expected_magic: int) -> np.ndarray:
  """Reads one IDX file from disk; see `decode`."""
  with open(path, "rb") as f:
    return decode(f.read(), path, expected_magic)


def read_images(path: str | os.PathLike) -> np.ndarray:
  """uint8 [count, rows, cols] from an IDX image file (magic 2051)."""
  return read(path, IMAGES_MAGIC)


def read_labels(path: str | os.PathLike) -> np.ndarray:
  """uint8 [count] from an IDX label file (magic 2049)."""
  return read(path, LABELS_MAGIC)
