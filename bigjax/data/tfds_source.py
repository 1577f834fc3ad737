"""Image-classification datasets prepared by TFDS in array_record format, read via `tfds.data_source`.

`tfds.data_source` gives random access to array_record files with no TensorFlow at training time,
which suits the grain pipeline. Datasets are never downloaded or prepared here: that would write
into a shared data_dir, race between hosts, and (the TFDS default) produce TFRecord files that
random access cannot read. Prepare once, on a machine with internet:

  tfds build mnist --file_format=array_record --data_dir=DIR

Features: the image/label keys are the dataset's ``supervised_keys`` (else "image" and "label");
images must be uint8 (Image features decode to uint8; their PNG/JPEG decoding needs OpenCV or
PIL), labels a ClassLabel so `num_classes` does not depend on which labels a split happens to hold.
"""

import os

import numpy as np

from bigjax.data.core import DataError

_CHUNK = 4096  # Records deserialized per call: bounds the list of per-record dicts held at once.


def load_split(name: str, split: str,
               data_dir: str | os.PathLike | None) -> tuple[np.ndarray, np.ndarray, int]:
  """Reads a whole split of a prepared TFDS dataset into arrays, in the stored record order.

  Args:
    name: a TFDS name, optionally with config and version ("mnist", "mnist:3.0.1").
    split: a split the dataset has ("train", "test").
    data_dir: the TFDS data dir; None means TFDS's own default ($TFDS_DATA_DIR, else
      ~/tensorflow_datasets).

  Returns:
    images: uint8 [N, H, W, C] (a channel axis is added to [H, W] images).
    labels: int64 [N].
    num_classes: from the label's ClassLabel feature.

  Raises:
    DataError: unknown or unprepared dataset, wrong file format, unknown split, or features that
      are not (uint8 image, ClassLabel label).
  """
  import tensorflow_datasets as tfds  # Deferred: ~1 s to import, and only tfds: names need it.

  if data_dir is None:
    data_dir = tfds.core.constants.get_default_data_dir()
  data_dir = os.fspath(data_dir)
  base_name = name.split(":")[0].split("/")[0]
  fix = (f"on a machine with internet run `tfds build {name} --file_format=array_record "
         f"--data_dir={data_dir}` (or build into another DIR and copy DIR/{base_name} to "
         f"{data_dir}/{base_name})")
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except tfds.core.DatasetNotFoundError as e:
    raise DataError(f"TFDS dataset {name!r} is neither registered in tfds nor prepared in "
                    f"{data_dir}; {fix}") from e
  if not builder.is_prepared():
    raise DataError(f"TFDS dataset {name!r} is not prepared in {data_dir} (and nothing is "
                    f"downloaded at training time); {fix}")
  if split not in builder.info.splits:
    raise DataError(f"TFDS dataset {name!r} in {data_dir} has no split {split!r}; it has "
                    f"{sorted(builder.info.splits)}")
  try:
    source = builder.as_data_source(split=split)
  except NotImplementedError as e:  # Prepared, but as TFRecord: no random access.
    raise DataError(f"TFDS dataset {name!r} in {builder.data_dir} is stored as "
                    f"{builder.info.file_format}, which has no random access; {fix}") from e

  image_key, label_key = _feature_keys(builder.info, name)
  label_feature = builder.info.features[label_key]
  if not isinstance(label_feature, tfds.features.ClassLabel):
    raise DataError(f"TFDS dataset {name!r}: label feature {label_key!r} is "
                    f"{type(label_feature).__name__}, expected ClassLabel")

  num_records = len(source)
  images, labels = None, np.empty(num_records, np.int64)
  for start in range(0, num_records, _CHUNK):
    records = source.__getitems__(list(range(start, min(start + _CHUNK, num_records))))
    chunk = [np.asarray(r[image_key]) for r in records]
    if images is None:  # Allocate once, from the first record, instead of stacking everything.
      images = np.empty((num_records, *chunk[0].shape), chunk[0].dtype)
    try:
      images[start:start + len(chunk)] = np.stack(chunk)
    except ValueError as e:
      raise DataError(f"TFDS dataset {name!r}: images differ in shape ({e}); an ArrayDataset "
                      "needs one fixed size") from e
    labels[start:start + len(chunk)] = [r[label_key] for r in records]

  if images is None:
    raise DataError(f"TFDS dataset {name!r} split {split!r} in {data_dir} is empty")
  if images.dtype != np.uint8:
    raise DataError(f"TFDS dataset {name!r}: images are {images.dtype}, expected uint8")
  if images.ndim == 3:
    images = images[..., None]
  if images.ndim != 4:
    raise DataError(f"TFDS dataset {name!r}: images are {images.shape[1:]} per example, "
                    "expected [H, W] or [H, W, C]")
  return images, labels, int(label_feature.num_classes)


def _feature_keys(info, name: str) -> tuple[str, str]:
  """(image key, label key): the supervised keys when they are a plain pair, else the usual names."""
  keys = info.supervised_keys
  if isinstance(keys, tuple) and len(keys) == 2 and all(isinstance(k, str) for k in keys):
    image_key, label_key = keys
  else:
    image_key, label_key = "image", "label"
  missing = [k for k in (image_key, label_key) if k not in info.features]
  if missing:
    raise DataError(f"TFDS dataset {name!r} has no feature {missing}; it has "
                    f"{sorted(info.features.keys())}")
  return image_key, label_key
