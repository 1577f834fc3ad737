"""What every dataset family shares: the one ``Dataset`` record, ``DataError``, the data and cache roots, and
``read_verified``, the one sha256-verified file reader.

A data root holds one folder per dataset (``mnist/``, ``ml-1m/ncf/``, ...). A file's expected sha256 comes from
the first of these that lists it:
  1. ``<root>/SHA256SUMS``  (``sha256sum`` format: ``<hex>  mnist/t10k-images-idx3-ubyte.gz``);
  2. ``<root>/MANIFEST.md`` (table rows ``| mnist/t10k-images-idx3-ubyte.gz | 1,616,508 | `<hex>` |``);
  3. the digests the reading family knows for the file (``known=``, e.g. MNIST's published ones).
Verified digests are cached per (path, size, mtime), so reloading a file in one process does not re-hash it.
"""

import dataclasses
import hashlib
import io
import logging
import os
import pathlib
import re
from typing import Mapping

import numpy as np

__all__ = ["DataError", "Dataset", "data_root", "default_cache_dir", "default_data_dir", "expected_sha256",
           "read_verified"]


class DataError(ValueError):
  """A dataset is missing, fails its checksum, or is not in the expected format.

  Subclasses ValueError so callers that already catch bad-input errors keep working; the message is one line
  that names the offending file (or dataset folder) and, where there is one, the fix.
  """


# eq=False: the generated __eq__/__hash__ would compare arrays elementwise and raise.
@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
  """One split of any dataset: named arrays sharing the leading dimension N, as the pipeline batches them.

  Attributes:
    arrays: ``{name: [N, ...]}``, e.g. ``{"image": float32 [N, H, W, C], "label": int32 [N]}`` or
      ``{"tokens": int32 [N, T], "label": int32 [N]}``. An array may be array-like (``shape``, ``dtype``,
      ``len`` and ``a[rows]``), e.g. windows cut from a token stream on read.
    num_classes: number of classes of the dataset, not only of those present in this split (0 where there are
      none, as in language modelling).
    name: "<dataset>:<split>", e.g. "mnist:train".
    vocab: the tokenizer or vocabulary the ids come from (``len``, ``to_json()``), saved with the run; None for
      data without one (images).
    model_fields: sizes and data the model takes from the data, by model field name, e.g.
      ``{"num_users": 943, "num_items": 1682}`` (``program.fit_model_to_data`` applies them; array-valued ones,
      such as histories, enter the compiled steps as arguments: ``program.model_constants``).
  """
  arrays: dict
  num_classes: int
  name: str
  vocab: object = None
  model_fields: dict = dataclasses.field(default_factory=dict)

  def __post_init__(self):
    sizes = {k: len(a) for k, a in self.arrays.items()}
    if len(set(sizes.values())) != 1:
      raise ValueError(f"{self.name}: arrays differ in length: {sizes}")

  def __len__(self) -> int:
    return len(next(iter(self.arrays.values())))

  @property
  def images(self) -> np.ndarray:
    """``arrays["image"]``: float32 [N, H, W, C] in [0, 1] for the image datasets."""
    return self.arrays["image"]

  @property
  def labels(self) -> np.ndarray:
    """``arrays["label"]``: int32 [N] in [0, num_classes) for the classification datasets."""
    return self.arrays["label"]

  def prefix(self, n: int) -> "Dataset":
    """The first ``n`` examples (smoke runs evaluate on a prefix)."""
    return dataclasses.replace(self, arrays={k: a[:n] for k, a in self.arrays.items()})

  def __repr__(self) -> str:  # The default would print every pixel.
    arrays = ", ".join(f"{k}={np.dtype(a.dtype)}{list(a.shape)}" for k, a in self.arrays.items())
    return f"Dataset(name={self.name!r}, {arrays}, num_classes={self.num_classes})"


# ====================================================================================== roots

def validating(data_config) -> bool:
  """Whether the run validates on the dataset's "validation" split, which then stays out of "train"."""
  return data_config.eval_split == "validation"


def check_held_out(name: str, split: str, validating: bool, held_out: str) -> None:
  """Refuses the "validation" split (``held_out`` says what it is) of a run that trains on it."""
  if split == "validation" and not validating:
    raise ValueError(f"{name}: the validation split is {held_out}; a run trains on it unless "
                     f"config.data.eval_split='validation' holds it out")


def default_data_dir() -> pathlib.Path:
  """$BIGJAX_DATA_DIR if set, else <repo root>/../shared/data (repo root = parent of `bigjax/`)."""
  if env := os.environ.get("BIGJAX_DATA_DIR"):
    return pathlib.Path(env)
  repo_root = pathlib.Path(__file__).resolve().parents[2]
  return repo_root.parent / "shared" / "data"


def data_root(data_dir: str | os.PathLike | None) -> pathlib.Path:
  """``data_dir``, or `default_data_dir()` when it is None."""
  return default_data_dir() if data_dir is None else pathlib.Path(data_dir)


def default_cache_dir() -> pathlib.Path:
  """Where derived data (joins, counts) is cached: $BIGJAX_CACHE_DIR, else $XDG_CACHE_HOME/bigjax, else
  ~/.cache/bigjax. Never the data root, which may be read-only and shared between users."""
  if env := os.environ.get("BIGJAX_CACHE_DIR"):
    return pathlib.Path(env)
  return pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache") / "bigjax"


# ====================================================================================== verified reads

_SHA256SUMS_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+?)\s*$", re.MULTILINE)
_MANIFEST_ROW = re.compile(r"^\|\s*([^|\s]+)\s*\|[^|\n]*\|\s*`([0-9a-fA-F]{64})`\s*\|", re.MULTILINE)

# (resolved path, size, mtime_ns) -> sha256 hex digest of that file's bytes, verified once per process.
_digest_cache: dict[tuple[str, int, int], str] = {}


def expected_sha256(root: pathlib.Path, relpath: str, known: Mapping[str, tuple[str, ...]] | None = None
                    ) -> tuple[tuple[str, ...], str]:
  """The accepted digests of ``root/relpath`` and where they come from; ``((), "")`` where nothing lists it."""
  for listing in (root / "SHA256SUMS", root / "MANIFEST.md"):
    if listing.is_file():
      digest = _parse_listing(listing).get(relpath)
      if digest:
        return (digest,), str(listing)
  if known and relpath in known:
    return tuple(known[relpath]), "the checksums the reader knows for it"
  return (), ""


def _parse_listing(listing: pathlib.Path) -> dict[str, str]:
  """relpath -> lowercase sha256 from a SHA256SUMS file or a MANIFEST.md table."""
  text = listing.read_text(encoding="utf-8", errors="replace")
  if listing.name == "MANIFEST.md":
    return {m.group(1): m.group(2).lower() for m in _MANIFEST_ROW.finditer(text)}
  return {m.group(2): m.group(1).lower() for m in _SHA256SUMS_LINE.finditer(text)}


def read_verified(root: pathlib.Path, relpath: str, *, fix: str, known: Mapping[str, tuple[str, ...]] | None = None,
                  require_digest: bool = True) -> bytes:
  """The bytes of ``root/relpath`` once their sha256 matches the expected one (see the module docstring).

  Hashing the very bytes that are then parsed (rather than hashing, then reopening) means a file swapped between
  the two steps cannot slip through.

  Args:
    root: the data root (or a cache entry) that holds ``relpath`` and, optionally, SHA256SUMS or MANIFEST.md.
    relpath: e.g. "tinyshakespeare/input.txt".
    fix: how a user without the file gets it (one or more sentences, put in the error messages).
    known: relpath -> digests the family accepts where the root lists none.
    require_digest: False reads a file that nothing lists as it is (MovieLens copies come from many mirrors;
      a listed file is still verified).

  Raises:
    DataError: the file is missing, has no expected digest (with ``require_digest``), or fails its checksum.
  """
  path = root / relpath
  try:
    with open(path, "rb") as f:
      data = f.read()
      stat = os.fstat(f.fileno())  # After the read: a later rewrite gets a new key, never ours.
  except FileNotFoundError:
    raise DataError(f"{path} not found. {fix} Point $BIGJAX_DATA_DIR (or data_dir=) at the directory that holds "
                    f"{relpath.split('/')[0]}/.") from None
  expected, listing = expected_sha256(root, relpath, known)
  if not expected:
    if require_digest:
      raise DataError(f"no sha256 for {relpath} in {root}/SHA256SUMS or {root}/MANIFEST.md, and none known for it; "
                      f"add its line to SHA256SUMS (`sha256sum {relpath} >> SHA256SUMS` in {root})")
    return data
  key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
  actual = _digest_cache.get(key) or hashlib.sha256(data).hexdigest()
  if actual not in expected:
    raise DataError(f"{path}: sha256 mismatch (expected {' or '.join(expected)} from {listing}, got {actual}); "
                    f"the file is corrupt or a different version. {fix}")
  _digest_cache[key] = actual  # Only verified digests are cached, so a bad file is re-checked.
  return data


def store_npz(entry: pathlib.Path, name: str, what: str, **arrays) -> None:
  """``arrays`` as ``entry/name`` (.npz) with its ``SHA256SUMS`` line, what ``read_verified`` checks on the way
  back: a cache entry. Written whole or not at all; a cache that cannot be written is skipped with a warning
  naming ``what``, not fatal."""
  buffer = io.BytesIO()
  np.savez(buffer, **arrays)
  blob = buffer.getvalue()
  try:
    entry.mkdir(parents=True, exist_ok=True)
    tmp = entry / f"{name}.{os.getpid()}.tmp"
    tmp.write_bytes(blob)
    tmp.replace(entry / name)
    (entry / "SHA256SUMS").write_text(f"{hashlib.sha256(blob).hexdigest()}  {name}\n")
  except OSError as error:
    logging.getLogger(__name__).warning("could not cache %s in %s (%s)", what, entry, error)
