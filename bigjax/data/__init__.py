"""Datasets as in-memory arrays: one `load(name, split)` over local files, scikit-learn and TFDS.

  digits         scikit-learn's 8x8 digits, fixed 1437/360 split       [N, 8, 8, 1]   (digits.py)
  mnist          local IDX .gz files, sha256-verified                  [N, 28, 28, 1] (local.py)
  fashion_mnist  same layout as mnist                                   [N, 28, 28, 1] (local.py)
  tfds:<name>    a TFDS dataset prepared as array_record               [N, H, W, C]   (tfds_source.py)

Every reader returns uint8 pixels; `load` alone scales them to float32 in [0, 1], so all sources
agree on what a pixel means. Batching, shuffling and sharding are the pipeline's job, not this one's.
"""

import dataclasses
import os
import pathlib

import numpy as np

from bigjax.data import digits, local, tfds_source
from bigjax.data.errors import DataError

__all__ = ["ArrayDataset", "DataError", "Dataset", "NAMES", "SPLITS", "default_data_dir", "load", "load_for_config"]

SPLITS = ("train", "test")
NAMES = ("digits", "mnist", "fashion_mnist", "tfds:<tfds name>")
_TFDS_PREFIX = "tfds:"


# eq=False: the generated __eq__/__hash__ would compare arrays elementwise and raise.
@dataclasses.dataclass(frozen=True, eq=False)
class ArrayDataset:
  """One split of an image-classification dataset, held in memory.

  Attributes:
    images: float32 [N, H, W, C], values in [0, 1].
    labels: int32 [N], values in [0, num_classes).
    num_classes: number of classes of the dataset (not only those present in this split).
    name: "<dataset>:<split>", e.g. "mnist:train".
  """
  images: np.ndarray
  labels: np.ndarray
  num_classes: int
  name: str

  def __post_init__(self):
    if self.images.ndim != 4 or self.images.dtype != np.float32:
      raise ValueError(f"{self.name}: images must be float32 [N, H, W, C], got "
                       f"{self.images.dtype} {self.images.shape}")
    if self.labels.shape != self.images.shape[:1] or self.labels.dtype != np.int32:
      raise ValueError(f"{self.name}: labels must be int32 [{len(self.images)}], got "
                       f"{self.labels.dtype} {self.labels.shape}")

  vocab = None  # image datasets have no vocabulary to save with the run

  def __len__(self) -> int:
    return len(self.labels)

  @property
  def arrays(self) -> dict[str, np.ndarray]:
    """What the pipeline batches: ``{"image": [N, H, W, C], "label": [N]}``."""
    return {"image": self.images, "label": self.labels}

  def prefix(self, n: int) -> "ArrayDataset":
    """The first ``n`` examples (smoke runs evaluate on a prefix)."""
    return dataclasses.replace(self, images=self.images[:n], labels=self.labels[:n])

  def __repr__(self) -> str:  # The default would print every pixel.
    return (f"ArrayDataset(name={self.name!r}, images={self.images.dtype}{list(self.images.shape)}, "
            f"labels={self.labels.dtype}{list(self.labels.shape)}, num_classes={self.num_classes})")


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
  """One split of any dataset: named arrays sharing the leading dimension N, as the pipeline batches them.

  Attributes:
    arrays: ``{name: [N, ...]}``, e.g. ``{"tokens": int32 [N, T], "label": int32 [N]}``. An array may be
      array-like (``shape``, ``dtype``, ``len`` and ``a[rows]``), e.g. windows cut from a token stream on read.
    num_classes: number of classes (0 where there are none, as in language modelling).
    name: "<dataset>:<split>".
    vocab: the tokenizer or vocabulary the ids come from (``len``, ``to_json()``), saved with the run.
    model_fields: sizes and constants the model takes from the data, by model field name, e.g.
      ``{"num_users": 943, "num_items": 1682}`` (``train.fit_model_to_data`` applies them).
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

  def prefix(self, n: int) -> "Dataset":
    """The first ``n`` examples (smoke runs evaluate on a prefix)."""
    return dataclasses.replace(self, arrays={k: a[:n] for k, a in self.arrays.items()})

  def __repr__(self) -> str:
    arrays = ", ".join(f"{k}={np.dtype(a.dtype)}{list(a.shape)}" for k, a in self.arrays.items())
    return f"Dataset(name={self.name!r}, {arrays}, num_classes={self.num_classes})"


def load_for_config(data_config, split: str) -> "ArrayDataset | Dataset":
  """The split that ``config.data`` names: image datasets through ``load``, text ones through ``corpora``,
  MovieLens through ``movielens``."""
  from bigjax.data import corpora, movielens  # text and ratings readers; image-only runs never use them
  root = default_data_dir() if not data_config.data_dir else pathlib.Path(data_config.data_dir)
  if data_config.name in corpora.DATASETS:
    return corpora.load(data_config, split, root)
  if data_config.name in movielens.DATASETS:
    return movielens.load(data_config, split, root)
  return load(data_config.name, split, data_config.data_dir or None)


def default_data_dir() -> pathlib.Path:
  """$BIGJAX_DATA_DIR if set, else <repo root>/../shared/data (repo root = parent of `bigjax/`)."""
  if env := os.environ.get("BIGJAX_DATA_DIR"):
    return pathlib.Path(env)
  repo_root = pathlib.Path(__file__).resolve().parents[2]
  return repo_root.parent / "shared" / "data"


def load(name: str, split: str, data_dir: str | os.PathLike | None = None) -> ArrayDataset:
  """Loads a whole split into memory.

  Args:
    name: "digits" | "mnist" | "fashion_mnist" | "tfds:<tfds name>".
    split: "train" | "test".
    data_dir: for mnist/fashion_mnist the data root holding ``<name>/`` (default
      `default_data_dir()`); for tfds: the TFDS data dir (default TFDS's own,
      $TFDS_DATA_DIR or ~/tensorflow_datasets); ignored for digits, which ships in scikit-learn.

  Returns:
    An ArrayDataset named "<name>:<split>".

  Raises:
    ValueError: unknown name or split (the message lists the valid ones).
    DataError: the data is missing, corrupt or malformed (the message names the file and the fix).
  """
  if split not in SPLITS:
    raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
  if name.startswith(_TFDS_PREFIX) and len(name) > len(_TFDS_PREFIX):
    images, labels, num_classes = tfds_source.load_split(name[len(_TFDS_PREFIX):], split, data_dir)
    pixel_max = 255
  elif name == "digits":
    images, labels = digits.load_split(split)
    num_classes, pixel_max = digits.NUM_CLASSES, digits.PIXEL_MAX
  elif name in local.DATASETS:
    data_root = default_data_dir() if data_dir is None else pathlib.Path(data_dir)
    images, labels = local.load_split(name, split, data_root)
    num_classes, pixel_max = local.NUM_CLASSES, 255
  else:
    raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(NAMES)}")

  # Dividing (not multiplying by 1/pixel_max) gives the correctly rounded float32 of k/pixel_max.
  return ArrayDataset(images=np.divide(images, pixel_max, dtype=np.float32),
                      labels=labels.astype(np.int32),
                      num_classes=num_classes,
                      name=f"{name}:{split}")
