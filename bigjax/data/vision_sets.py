"""Small vision sets of issue 25: object detection, segmentation and face recognition, read into NumPy.

  raccoon     <root>/raccoon/images/raccoon-N.jpg, annotations/*.xml (Pascal VOC), data/{train,test}_labels.csv
              200 images, 217 boxes, one class; the published CSV split 160/40, validation carved from its train
  kangaroo    <root>/kangaroo/images/NNNNN.jpg, annots/*.xml (Pascal VOC); 164 images, 266 boxes, one class
  penn_fudan  <root>/penn_fudan/PennFudanPed/{PNGImages,PedMasks,Annotation}; 170 images, 423 pedestrians,
              boxes (PASCAL Annotation Version 1.00 text) and instance masks
  isbi_em     <root>/isbi_em/train/{image,label}/K.png, test/K.png: 30 labelled 512x512 EM slices (+ 30 unlabelled)
  orl_faces   <root>/orl_faces/att_faces/sN/M.pgm: 40 subjects x 10 grey 92x112 faces

Boxes, everywhere: float32 [n, 4] rows ``(xmin, ymin, xmax, ymax)`` in 1-based pixel indices with the maximum
inclusive (the PASCAL VOC devkit convention, and Penn-Fudan's own: "Top left pixel co-ordinates : (1, 1)"), so a
box covers ``xmax - xmin + 1`` pixel columns and column ``x`` of a 0-based array is index ``x + 1``. The files'
values are returned as they are (LabelImg, which wrote the raccoon and kangaroo XML, clamps xmin/ymin to >= 1 and
lets xmax reach the width). A model that wants continuous corner coordinates (pixel i spans [i, i + 1)) takes
``boxes - [1, 1, 0, 0]``.

Splits. A set without an official split has one recorded under ``bigjax/data/splits/`` (image file names), made
once by `make_splits`: `seeded_order` permutes the sorted names by seed, the first ones go to test, the next to
validation, the rest to train (sizes in `SPLIT_SIZES`). As in `images.load`, "train" is train + validation unless
the run validates (``validating=True``), and "validation" is refused otherwise. Regenerate the files with
``python -m bigjax.data.vision_sets`` (a test checks they equal what `make_splits` gives).

Every data file is read through ``core.read_verified``: a file the data root lists in SHA256SUMS / MANIFEST.md
must match its digest; an unlisted one (a user's own copy) is read as it is.
"""

import csv
import dataclasses
import hashlib
import io
import json
import os
import pathlib
import re
import xml.etree.ElementTree as ElementTree

import numpy as np

from bigjax.data.core import DataError, Dataset, check_held_out, data_root, read_verified

__all__ = ["Annotation", "DETECTION_SETS", "DetectionSplit", "detection_dataset", "letterbox", "SPLITS", "SPLIT_SIZES", "instance_boxes", "isbi_em_fold",
           "isbi_em_dataset", "isbi_em_folds", "load_isbi_em", "load_isbi_em_test_volume", "load_kangaroo", "load_orl_faces",
           "load_penn_fudan", "load_raccoon", "penn_fudan_masks_dataset", "make_splits", "orl_dataset", "orl_split", "orl_validation_rows", "read_instance_mask",
           "read_penn_fudan_annotation", "read_voc_xml", "seeded_order"]

SPLITS = ("train", "validation", "test")
SPLITS_DIR = pathlib.Path(__file__).resolve().parent / "splits"
SPLIT_SEED = 0
# Set -> (validation, test) image counts of the recorded split; train takes the rest. Raccoon's test is its
# published one (data/test_labels.csv, 40), so only its validation is carved (from the published 160 train).
SPLIT_SIZES = {"raccoon": (20, 40), "kangaroo": (18, 32), "penn_fudan": (20, 50)}  # 140/20/40, 114/18/32, 100/20/50
ISBI_EM_SLICES, ISBI_EM_NUM_FOLDS = 30, 5
ORL_SUBJECTS, ORL_IMAGES_PER_SUBJECT, ORL_SHAPE = 40, 10, (112, 92)

_FIX = {
    "raccoon": "Get it from github.com/datitran/raccoon_dataset (images/, annotations/, data/*.csv).",
    "kangaroo": "Get it from github.com/experiencor/kangaroo (images/, annots/).",
    "penn_fudan": "Unzip PennFudanPed.zip (www.cis.upenn.edu/~jshi/ped_html/) into penn_fudan/.",
    "isbi_em": "Get data/membrane/train/{image,label} and data/membrane/test of github.com/zhixuhao/unet.",
    "orl_faces": "Get the AT&T (ORL) face database's att_faces/sN/M.pgm into orl_faces/att_faces/.",
}


# ====================================================================================== one file each

@dataclasses.dataclass(frozen=True, eq=False)
class Annotation:
  """One image's boxes as its annotation file states them.

  Attributes:
    filename: the image's file name, e.g. "raccoon-1.jpg", "FudanPed00001.png".
    width, height: the image size the file states, in pixels.
    boxes: float32 [n, 4] (xmin, ymin, xmax, ymax), 1-based, maximum inclusive (see the module docstring).
    names: the class name of each box, [n], e.g. "raccoon", "PASpersonWalking".
  """
  filename: str
  width: int
  height: int
  boxes: np.ndarray
  names: tuple[str, ...]


def read_voc_xml(path: str | os.PathLike, data: bytes | None = None) -> Annotation:
  """A Pascal-VOC annotation (``<annotation><filename>, <size><width><height>, <object><name><bndbox>``).

  Args:
    path: the XML file (named in errors).
    data: its bytes where the caller has read (and verified) them already; None reads ``path``.

  Raises:
    DataError (a ValueError): the file is not well-formed XML, lacks the file name, size or a box field, or has
      a box that is empty, inverted or outside the stated size.
  """
  if data is None:
    data = _read_plain(path)
  try:
    root = ElementTree.fromstring(data)
  except ElementTree.ParseError as error:
    raise DataError(f"{path}: not well-formed XML ({error})") from None
  if root.tag != "annotation":
    raise DataError(f"{path}: root element <{root.tag}>, expected a Pascal-VOC <annotation>")
  filename = _xml_text(root, "filename", path)
  width, height = (_xml_number(root, f"size/{key}", path, int) for key in ("width", "height"))
  if width <= 0 or height <= 0:
    raise DataError(f"{path}: image size {width}x{height} is not positive")
  boxes, names = [], []
  for k, obj in enumerate(root.findall("object"), start=1):
    names.append(_xml_text(obj, "name", path, f"object {k}"))
    boxes.append([_xml_number(obj, f"bndbox/{key}", path, float, f"object {k}")
                  for key in ("xmin", "ymin", "xmax", "ymax")])
  return Annotation(filename, width, height, _checked_boxes(boxes, width, height, path), tuple(names))


_PF_FILENAME = re.compile(r'^Image filename : "(?:[^"]*/)?([^"/]+)"', re.MULTILINE)
_PF_SIZE = re.compile(r"^Image size \(X x Y x C\) : (\d+) x (\d+) x \d+", re.MULTILINE)
_PF_COUNT = re.compile(r"^Objects with ground truth : (\d+)", re.MULTILINE)
_PF_BOX = re.compile(r'^Bounding box for object (\d+) "([^"]*)" \(Xmin, Ymin\) - \(Xmax, Ymax\) : '
                     r"\((\d+), (\d+)\) - \((\d+), (\d+)\)", re.MULTILINE)


def read_penn_fudan_annotation(path: str | os.PathLike, data: bytes | None = None) -> Annotation:
  """A Penn-Fudan annotation (PASCAL Annotation Version 1.00 text, e.g. ``Annotation/FudanPed00001.txt``).

  Its boxes are 1-based with the maximum inclusive, the convention of `read_voc_xml`, so they are returned as
  the file states them; box k (1-based) is instance k of the image's mask (`read_instance_mask`).

  Raises:
    DataError: the file name, size or object count is missing, or the boxes are not objects 1..count in order.
  """
  if data is None:
    data = _read_plain(path)
  text = data.decode("latin-1")
  filename, size, count = _PF_FILENAME.search(text), _PF_SIZE.search(text), _PF_COUNT.search(text)
  if not (filename and size and count):
    missing = [what for what, m in (("Image filename", filename), ("Image size", size),
                                    ("Objects with ground truth", count)) if not m]
    raise DataError(f"{path}: not a PASCAL Annotation Version 1.00 file (no {', '.join(missing)} line)")
  found = _PF_BOX.findall(text)
  if [int(f[0]) for f in found] != list(range(1, int(count.group(1)) + 1)):
    raise DataError(f"{path}: states {count.group(1)} objects but has bounding boxes for objects "
                    f"{[int(f[0]) for f in found]}")
  width, height = int(size.group(1)), int(size.group(2))
  boxes = _checked_boxes([[float(v) for v in f[2:]] for f in found], width, height, path)
  return Annotation(filename.group(1), width, height, boxes, tuple(f[1] for f in found))


def read_instance_mask(path: str | os.PathLike, data: bytes | None = None) -> np.ndarray:
  """An instance-id PNG (Penn-Fudan's ``PedMasks/<name>_mask.png``): uint8 [H, W], 0 background, k instance k."""
  image = _open_image(path, data if data is not None else _read_plain(path))
  if image.mode not in ("L", "P"):
    raise DataError(f"{path}: mask has mode {image.mode}, expected single-channel instance ids (L or P)")
  return np.asarray(image, dtype=np.uint8)


def instance_boxes(mask: np.ndarray, count: int) -> np.ndarray:
  """The extents of instances 1..count of ``mask`` [H, W]: float32 [count, 4] in the boxes' convention (1-based,
  maximum inclusive); NaN rows for instances absent from the mask. (torchvision's tutorial takes its boxes so.)"""
  out = np.full((count, 4), np.nan, np.float32)
  for k in range(1, count + 1):
    ys, xs = np.nonzero(mask == k)
    if len(xs):
      out[k - 1] = xs.min() + 1, ys.min() + 1, xs.max() + 1, ys.max() + 1
  return out


# ====================================================================================== detection sets

@dataclasses.dataclass(frozen=True, eq=False)
class DetectionSplit:
  """One split of a detection set, images of varying size as lists.

  Attributes:
    name: "<set>:<split>", e.g. "kangaroo:test".
    classes: the class names; ``labels`` index them (no background class: a model adds its own).
    files: [N] image file names, in natural order ("raccoon-2.jpg" before "raccoon-10.jpg").
    images: N uint8 [H_i, W_i, 3] RGB arrays (grey JPEGs are converted).
    boxes: N float32 [n_i, 4] (xmin, ymin, xmax, ymax), 1-based, maximum inclusive.
    labels: N int32 [n_i].
    masks: Penn-Fudan only: N uint8 [H_i, W_i] instance ids, 0 background, k + 1 for box k; else None.
  """
  name: str
  classes: tuple[str, ...]
  files: tuple[str, ...]
  images: list
  boxes: list
  labels: list
  masks: list | None = None

  def __len__(self) -> int:
    return len(self.files)

  def __repr__(self) -> str:  # The default would print every pixel.
    return (f"DetectionSplit(name={self.name!r}, images={len(self)}, boxes={sum(len(b) for b in self.boxes)}, "
            f"classes={self.classes}, masks={self.masks is not None})")


def load_raccoon(split: str, data_dir: str | os.PathLike | None = None, validating: bool = False
                 ) -> DetectionSplit:
  """Raccoon (datitran/raccoon_dataset): the published split, data/train_labels.csv (160 images) and
  data/test_labels.csv (40), with validation = 20 of the published train images (splits/raccoon.json), so
  train 140 / validation 20 / test 40 when validating. Boxes come from the XML files; the CSV rows of each
  loaded image must state the same size and boxes.

  Raises:
    ValueError: unknown split, or "validation" without ``validating``.
    DataError: a file is missing, corrupt or malformed, or the CSV and XML disagree (the message names it).
  """
  root, files = _split_files("raccoon", split, validating, data_dir)
  csv_rows, published = {}, {}
  for part in ("train", "test"):
    relpath = f"raccoon/data/{part}_labels.csv"
    rows = _csv_rows(root, relpath)
    published[part] = {row["filename"] for row in rows}
    for row in rows:
      csv_rows.setdefault(row["filename"], []).append((relpath, row))
  recorded = _recorded("raccoon")
  if (set(recorded["train"]) | set(recorded["validation"]), set(recorded["test"])) != (
      published["train"], published["test"]):
    raise DataError(f"{SPLITS_DIR / 'raccoon.json'} does not split the images of raccoon/data/train_labels.csv "
                    f"and test_labels.csv as they do; regenerate it (python -m bigjax.data.vision_sets)")
  out = _load_voc_set("raccoon", root, files, "raccoon/annotations", "raccoon/images", ("raccoon",), split)
  for file, annotation in zip(files, out.pop("annotations")):
    rows = csv_rows[file]
    stated = sorted(tuple(float(row[k]) for k in ("xmin", "ymin", "xmax", "ymax")) for _, row in rows)
    sizes = {(int(row["width"]), int(row["height"])) for _, row in rows}
    if stated != sorted(map(tuple, annotation.boxes.tolist())) or sizes != {(annotation.width, annotation.height)}:
      raise DataError(f"{root / rows[0][0]}: the rows of {file} disagree with raccoon/annotations/"
                      f"{pathlib.Path(file).stem}.xml (size {sizes} vs {annotation.width}x{annotation.height}, "
                      f"boxes {stated} vs {annotation.boxes.tolist()})")
  return DetectionSplit(**out)


def load_kangaroo(split: str, data_dir: str | os.PathLike | None = None, validating: bool = False
                  ) -> DetectionSplit:
  """Kangaroo (experiencor/kangaroo: 164 images, numbered 00001..00183 with 19 numbers missing, which its
  README counts as 183): the recorded split splits/kangaroo.json, train 114 / validation 18 / test 32 images.

  Raises:
    ValueError: unknown split, or "validation" without ``validating``.
    DataError: a file is missing, corrupt or malformed (the message names it).
  """
  root, files = _split_files("kangaroo", split, validating, data_dir)
  out = _load_voc_set("kangaroo", root, files, "kangaroo/annots", "kangaroo/images", ("kangaroo",), split)
  out.pop("annotations")
  return DetectionSplit(**out)


def load_penn_fudan(split: str, data_dir: str | os.PathLike | None = None, validating: bool = False
                    ) -> DetectionSplit:
  """Penn-Fudan pedestrians: the recorded split splits/penn_fudan.json, train 100 / validation 20 / test 50
  images (torchvision's tutorial tests on 50). One class, "person" (the files' PASpersonWalking and
  PASpersonStanding); boxes from the annotation files; masks hold instance k + 1 for box k.

  Raises:
    ValueError: unknown split, or "validation" without ``validating``.
    DataError: a file is missing, corrupt or malformed, or an image, its mask and its annotation disagree on the
      size or the number of pedestrians (the message names the file).
  """
  root, files = _split_files("penn_fudan", split, validating, data_dir)
  images, boxes, labels, masks = [], [], [], []
  for file in files:
    stem = pathlib.Path(file).stem
    relpath = f"penn_fudan/PennFudanPed/Annotation/{stem}.txt"
    annotation = read_penn_fudan_annotation(root / relpath, _read(root, relpath, "penn_fudan"))
    image = _rgb(root, f"penn_fudan/PennFudanPed/PNGImages/{file}", "penn_fudan", annotation)
    mask_relpath = f"penn_fudan/PennFudanPed/PedMasks/{stem}_mask.png"
    mask = read_instance_mask(root / mask_relpath, _read(root, mask_relpath, "penn_fudan"))
    ids = np.unique(mask)
    if mask.shape != image.shape[:2] or ids.tolist() != list(range(len(annotation.boxes) + 1)):
      raise DataError(f"{root / mask_relpath}: shape {mask.shape} with instance ids {ids.tolist()}, expected "
                      f"{image.shape[:2]} with ids 0..{len(annotation.boxes)} ({relpath} lists that many)")
    images.append(image)
    boxes.append(annotation.boxes)
    labels.append(np.zeros(len(annotation.boxes), np.int32))
    masks.append(mask)
  return DetectionSplit(f"penn_fudan:{split}", ("person",), tuple(files), images, boxes, labels, masks)


DETECTION_SETS = {"raccoon": load_raccoon, "kangaroo": load_kangaroo, "penn_fudan": load_penn_fudan}


def letterbox(image: np.ndarray, boxes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """One image scaled (bilinear) so that its longer side is ``size`` pixels, at the top-left of a black
  ``size`` x ``size`` canvas, and its boxes with it.

  Args:
    image: uint8 [H, W, 3].
    boxes: [n, 4] (xmin, ymin, xmax, ymax), 1-based with the maximum inclusive (the loaders' convention).
  Returns:
    canvas: float32 [size, size, 3] in [0, 1].
    boxes: float32 [n, 4] continuous corners on the canvas (pixel i spans [i, i + 1)): ``(xmin - 1) sx``,
      ``(ymin - 1) sy``, ``xmax sx``, ``ymax sy``.
    scale: float32 [2] ``(sy, sx)``, the resized image's rows / H and columns / W (equal up to rounding the
      resized sides to whole pixels); canvas corners / ``(sx, sy, sx, sy)`` are the corners in the original.
  """
  from PIL import Image
  h, w = image.shape[:2]
  new_h, new_w = max(1, round(h * size / max(h, w))), max(1, round(w * size / max(h, w)))
  canvas = np.zeros((size, size, 3), np.float32)
  canvas[:new_h, :new_w] = np.divide(np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.BILINEAR)),
                                     255, dtype=np.float32)
  sy, sx = new_h / h, new_w / w
  corners = (np.asarray(boxes, np.float64).reshape(-1, 4) - [1, 1, 0, 0]) * [sx, sy, sx, sy]
  return canvas, corners.astype(np.float32), np.array([sy, sx], np.float32)


def detection_dataset(name: str, split: str, size: int, max_boxes: int,
                      data_dir: str | os.PathLike | None = None, validating: bool = False) -> Dataset:
  """A detection set's split (``DETECTION_SETS``) as fixed-shape arrays, every image letterboxed
  (`letterbox`) to ``size`` x ``size``:

    "image"  float32 [N, size, size, 3] in [0, 1]
    "boxes"  float32 [N, max_boxes, 4] continuous (x0, y0, x1, y1) on the canvas; rows past the image's
             boxes are 0
    "labels" int32 [N, max_boxes], the class of each box, -1 for the rows past them
    "scale"  float32 [N, 2] (sy, sx): canvas coordinates / scale are the original image's

  Raises:
    ValueError: an unknown set, a size under 32 pixels, or an image with more than ``max_boxes`` boxes.
  """
  if name not in DETECTION_SETS:
    raise ValueError(f"detection set {name!r} is unknown; known: {', '.join(DETECTION_SETS)}")
  if size < 32:
    raise ValueError(f"config.data.image_size={size}: need at least 32 pixels")
  part = DETECTION_SETS[name](split, data_dir, validating)
  most = max(len(b) for b in part.boxes)
  if most > max_boxes:
    raise ValueError(f"config.data.max_boxes={max_boxes}: {part.name} has an image with {most} boxes")
  n = len(part)
  images = np.zeros((n, size, size, 3), np.float32)
  boxes = np.zeros((n, max_boxes, 4), np.float32)
  labels = np.full((n, max_boxes), -1, np.int32)
  scale = np.zeros((n, 2), np.float32)
  for i, (image, image_boxes, image_labels) in enumerate(zip(part.images, part.boxes, part.labels)):
    images[i], boxes[i, :len(image_boxes)], scale[i] = letterbox(image, image_boxes, size)
    labels[i, :len(image_labels)] = image_labels
  return Dataset({"image": images, "boxes": boxes, "labels": labels, "scale": scale}, len(part.classes),
                 part.name)


def _load_voc_set(name: str, root: pathlib.Path, files: list[str], annotations: str, images_folder: str,
                  classes: tuple[str, ...], split: str) -> dict:
  """DetectionSplit's fields for a Pascal-VOC set, plus "annotations", the parsed XML of each image."""
  parsed, images, labels = [], [], []
  for file in files:
    relpath = f"{annotations}/{pathlib.Path(file).stem}.xml"
    annotation = read_voc_xml(root / relpath, _read(root, relpath, name))
    if annotation.filename != file:
      raise DataError(f"{root / relpath}: annotates <filename>{annotation.filename}</filename>, expected {file}")
    unknown = set(annotation.names) - set(classes)
    if unknown:
      raise DataError(f"{root / relpath}: classes {sorted(unknown)}; {name} has only {classes}")
    parsed.append(annotation)
    images.append(_rgb(root, f"{images_folder}/{file}", name, annotation))
    labels.append(np.array([classes.index(n) for n in annotation.names], np.int32))
  return dict(name=f"{name}:{split}", classes=classes, files=tuple(files), images=images,
              boxes=[a.boxes for a in parsed], labels=labels, annotations=parsed)


# ====================================================================================== ISBI 2012 EM

def load_isbi_em(data_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
  """The 30 labelled ISBI 2012 slices (``isbi_em/train/{image,label}/K.png``, K = 0..29), in slice order.

  Returns:
    images: float32 [30, 512, 512], grey levels / 255 in [0, 1].
    membrane: uint8 [30, 512, 512], 1 = membrane (0 in the label files), 0 = cell interior (255 there).

  Raises:
    DataError: a file is missing or corrupt, a label holds values other than 0 and 255, or sizes differ.
  """
  root = _root("isbi_em", data_dir, "isbi_em/train")
  images = _grey_stack(root, [f"isbi_em/train/image/{k}.png" for k in range(ISBI_EM_SLICES)], "isbi_em")
  labels = _grey_stack(root, [f"isbi_em/train/label/{k}.png" for k in range(ISBI_EM_SLICES)], "isbi_em")
  if images.shape != labels.shape:
    raise DataError(f"{root / 'isbi_em/train'}: images {images.shape} and labels {labels.shape} differ in shape")
  for k, label in enumerate(labels):
    if not np.isin(label, (0, 255)).all():
      raise DataError(f"{root}/isbi_em/train/label/{k}.png: values {np.unique(label)[:8].tolist()}..., "
                      f"expected only 0 (membrane) and 255")
  return np.divide(images, 255, dtype=np.float32), (labels == 0).astype(np.uint8)


def load_isbi_em_test_volume(data_dir: str | os.PathLike | None = None) -> np.ndarray:
  """ISBI's 30 test slices (``isbi_em/test/K.png``): float32 [30, 512, 512] in [0, 1]. Their labels were never
  released, so they serve for looking at predictions only."""
  root = _root("isbi_em", data_dir, "isbi_em/test")
  images = _grey_stack(root, [f"isbi_em/test/{k}.png" for k in range(ISBI_EM_SLICES)], "isbi_em")
  return np.divide(images, 255, dtype=np.float32)


def isbi_em_folds(num_slices: int = ISBI_EM_SLICES, num_folds: int = ISBI_EM_NUM_FOLDS) -> list[list[int]]:
  """The slices of each fold: contiguous runs, [[0..5], [6..11], ..., [24..29]] for 30 slices in 5 folds.

  Contiguous rather than shuffled: neighbouring sections show the same cells (on these slices adjacent ones
  correlate 0.2 pixel by pixel, five apart 0.05), so a slice whose neighbours trained would score too well.
  """
  if not 1 < num_folds <= num_slices:
    raise ValueError(f"num_folds={num_folds}: need 2..{num_slices} folds of {num_slices} slices")
  return [part.tolist() for part in np.array_split(np.arange(num_slices), num_folds)]


def isbi_em_fold(fold: int) -> tuple[np.ndarray, np.ndarray]:
  """``(train, validation)`` int64 slice indices of recorded fold ``fold`` (splits/isbi_em_folds.json):
  validation = the fold's slices, train = the other folds'."""
  folds = [[int(pathlib.Path(f).stem) for f in files] for files in _recorded("isbi_em_folds")["folds"]]
  if not 0 <= fold < len(folds):
    raise ValueError(f"fold={fold}: the ISBI EM split has folds 0..{len(folds) - 1}")
  train = sorted(k for i, part in enumerate(folds) if i != fold for k in part)
  return np.array(train, np.int64), np.array(folds[fold], np.int64)


def isbi_em_dataset(split: str, fold: int, data_dir: str | os.PathLike | None = None,
                    validating: bool = False) -> Dataset:
  """One split of recorded ISBI fold ``fold`` (`isbi_em_fold`), as the loop trains on it:
  ``{"image": float32 [N, 512, 512, 1] in [0, 1], "segmentation": int32 [N, 512, 512]}``, 2 classes,
  1 = cell interior (the foreground the Rand error segments), 0 = membrane.

  "test": the fold's 6 slices; "train": the other 24. With ``validating``, "validation" is the next fold's
  slices (fold + 1, cyclically) and leaves "train" (18 slices), so settings are chosen without the test fold.
  """
  if split not in SPLITS:
    raise ValueError(f"unknown split {split!r} of isbi_em; valid splits: {', '.join(SPLITS)}")
  check_held_out("isbi_em", split, validating, "the slices of the next fold")
  train, test = isbi_em_fold(fold)
  _, held = isbi_em_fold((fold + 1) % ISBI_EM_NUM_FOLDS)
  if split == "test":
    rows = test
  elif split == "validation":
    rows = held
  else:
    rows = np.setdiff1d(train, held) if validating else train
  images, membrane = load_isbi_em(data_dir)
  return Dataset({"image": images[rows, :, :, None], "segmentation": 1 - membrane[rows].astype(np.int32)}, 2,
                 f"isbi_em:{split}")


def penn_fudan_masks_dataset(split: str, size: int, data_dir: str | os.PathLike | None = None,
                             validating: bool = False) -> Dataset:
  """Penn-Fudan person-vs-background segmentation on the recorded split (`load_penn_fudan`), every image and
  mask resized to ``size`` x ``size`` (bilinear; the mask by nearest neighbour, so it stays 0/1; the aspect ratio
  is not kept): ``{"image": float32 [N, size, size, 3] in [0, 1], "segmentation": int32 [N, size, size]}``,
  2 classes, 1 = a pedestrian's pixel, 0 = background.
  """
  if size < 8:
    raise ValueError(f"config.data.image_size={size}: need at least 8 pixels")
  from PIL import Image
  part = load_penn_fudan(split, data_dir, validating)
  images = np.stack([np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))
                     for image in part.images])
  masks = np.stack([np.asarray(Image.fromarray((mask > 0).astype(np.uint8)).resize((size, size), Image.NEAREST))
                    for mask in part.masks])
  return Dataset({"image": np.divide(images, 255, dtype=np.float32), "segmentation": masks.astype(np.int32)}, 2,
                 f"penn_fudan_masks:{split}")


# ====================================================================================== ORL faces

def load_orl_faces(data_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
  """The AT&T (ORL) faces: ``orl_faces/att_faces/sN/M.pgm``, N = 1..40, M = 1..10.

  Returns:
    images: uint8 [400, 112, 92]; row 10 (N - 1) + (M - 1) is sN/M.pgm.
    labels: int32 [400], the subject N - 1 (0..39).
  """
  root = _root("orl_faces", data_dir, "orl_faces/att_faces")
  relpaths = [f"orl_faces/att_faces/s{s}/{m}.pgm" for s in range(1, ORL_SUBJECTS + 1)
              for m in range(1, ORL_IMAGES_PER_SUBJECT + 1)]
  images = _grey_stack(root, relpaths, "orl_faces", ORL_SHAPE)
  return images, np.repeat(np.arange(ORL_SUBJECTS, dtype=np.int32), ORL_IMAGES_PER_SUBJECT)


def orl_split(seed: int) -> tuple[np.ndarray, np.ndarray]:
  """The standard ORL protocol: for each subject, 5 of its 10 images train and 5 test, chosen by ``seed``.

  Returns ``(train, test)``: int64 [200] sorted row indices into `load_orl_faces`' arrays. Subject N's images
  are put in `seeded_order` of their names ("s{N}/{M}.pgm"); the first 5 train.
  """
  train = []
  for s in range(1, ORL_SUBJECTS + 1):
    order = seeded_order([f"s{s}/{m}.pgm" for m in range(1, ORL_IMAGES_PER_SUBJECT + 1)], seed)
    train += [(s - 1) * ORL_IMAGES_PER_SUBJECT + int(name.split("/")[1][:-4]) - 1 for name in order[:5]]
  train = np.sort(np.array(train, np.int64))
  return train, np.setdiff1d(np.arange(ORL_SUBJECTS * ORL_IMAGES_PER_SUBJECT), train)


def orl_validation_rows(train: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
  """Sorted rows of ``train`` held out for validation under split seed ``seed``: per subject, the first of its
  training rows in `seeded_order` by ``seed`` + 1000 (apart from the split's own order)."""
  held = [int(seeded_order([str(r) for r in train[labels[train] == subject]], seed + 1000)[0])
          for subject in np.unique(labels[train])]
  return np.array(sorted(held), np.int64)


def orl_dataset(split: str, seed: int, data_dir: str | os.PathLike | None = None,
                validating: bool = False) -> "Dataset":
  """One split of the ORL protocol with split seed ``seed`` (`orl_split`), as the loop trains on it:
  ``{"image": float32 [N, 112, 92, 1] in [0, 1], "label": int32 [N]}``, 40 classes.

  "train": each subject's 5 training images; "test": its other 5. With ``validating``, the first of each
  subject's training images in `seeded_order` (by ``seed`` + 1000, so apart from the split's own order) is the
  "validation" split and leaves "train" (4 per subject), so settings are chosen without the test images.
  """
  if split not in SPLITS:
    raise ValueError(f"unknown split {split!r} of orl_faces; valid splits: {', '.join(SPLITS)}")
  check_held_out("orl_faces", split, validating, "one of each subject's 5 training images")
  images, labels = load_orl_faces(data_dir)
  train, test = orl_split(seed)
  if split == "test":
    rows = test
  else:
    held = orl_validation_rows(train, labels, seed)
    rows = held if split == "validation" else (np.setdiff1d(train, held) if validating else train)
  return Dataset({"image": np.divide(images[rows, :, :, None], 255, dtype=np.float32),
                  "label": labels[rows]}, ORL_SUBJECTS, f"orl_faces:{split}")


# ====================================================================================== recorded splits

def seeded_order(names: list[str], seed: int) -> list[str]:
  """``names`` sorted by ``sha256(f"{seed}/{name}")``: a permutation fixed by the seed and the names alone,
  the same on every machine and NumPy version (NumPy does not promise its random streams across versions)."""
  return sorted(names, key=lambda name: hashlib.sha256(f"{seed}/{name}".encode()).hexdigest())


def make_splits(data_dir: str | os.PathLike | None = None) -> dict[str, dict]:
  """The recorded splits, by file name under ``bigjax/data/splits/``, from the image names in the data root.

  kangaroo, penn_fudan: the images in `seeded_order` (seed `SPLIT_SEED`); the first (test size of
  `SPLIT_SIZES`) test, the next (validation size) validation, the rest train. raccoon: its published test,
  and validation = the first 20 of its published train in `seeded_order`. isbi_em: `isbi_em_folds()`.
  Every list is in natural order.
  """
  root = data_root(data_dir)
  raccoon_train = sorted({row["filename"] for row in _csv_rows(root, "raccoon/data/train_labels.csv")})
  raccoon_test = sorted({row["filename"] for row in _csv_rows(root, "raccoon/data/test_labels.csv")})
  pools = {"raccoon": raccoon_train + raccoon_test,
           "kangaroo": _image_names(root, "kangaroo", "images", "annots", ".xml"),
           "penn_fudan": _image_names(root, "penn_fudan", "PennFudanPed/PNGImages", "PennFudanPed/Annotation",
                                      ".txt")}
  out = {}
  for name, pool in pools.items():
    num_validation, num_test = SPLIT_SIZES[name]
    test = raccoon_test if name == "raccoon" else seeded_order(sorted(pool), SPLIT_SEED)[:num_test]
    rest = seeded_order(sorted(set(pool) - set(test)), SPLIT_SEED)
    parts = {"train": rest[num_validation:], "validation": rest[:num_validation], "test": test}
    out[f"{name}.json"] = {
        "about": f"{name}: {' / '.join(f'{k} {len(v)}' for k, v in parts.items())} images"
                 + (", test = data/test_labels.csv, validation carved from data/train_labels.csv"
                    if name == "raccoon" else ""),
        "made_by": f"bigjax.data.vision_sets.make_splits (seeded_order, seed {SPLIT_SEED})",
        **{k: sorted(v, key=_natural) for k, v in parts.items()}}
  out["isbi_em_folds.json"] = {
      "about": f"isbi_em: {ISBI_EM_NUM_FOLDS} folds of contiguous slices of isbi_em/train/{{image,label}}",
      "made_by": "bigjax.data.vision_sets.isbi_em_folds",
      "folds": [[f"{k}.png" for k in fold] for fold in isbi_em_folds()]}
  return out


def _recorded(name: str) -> dict:
  path = SPLITS_DIR / f"{name}.json"
  try:
    return json.loads(path.read_text(encoding="utf-8"))
  except (OSError, ValueError) as error:
    raise DataError(f"{path}: the recorded split cannot be read ({error}); regenerate it "
                    f"(python -m bigjax.data.vision_sets)") from None


def _split_files(name: str, split: str, validating: bool, data_dir) -> tuple[pathlib.Path, list[str]]:
  """The data root and the image file names of ``split`` of a recorded split."""
  if split not in SPLITS:
    raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
  check_held_out(name, split, validating, f"the recorded splits/{name}.json validation images")
  root = _root(name, data_dir, name)
  recorded = _recorded(name)
  files = recorded[split] + (recorded["validation"] if split == "train" and not validating else [])
  return root, sorted(files, key=_natural)


# ====================================================================================== reading

def _root(name: str, data_dir, folder: str) -> pathlib.Path:
  """The data root, once ``folder`` is found under it."""
  root = data_root(data_dir)
  if not (root / folder).is_dir():
    raise DataError(f"{root / folder} not found (the {name} data folder). {_FIX[name]} Point $BIGJAX_DATA_DIR "
                    f"(or data_dir=) at the directory that holds {name}/.")
  return root


def _read(root: pathlib.Path, relpath: str, name: str) -> bytes:
  return read_verified(root, relpath, fix=_FIX[name], require_digest=False)


def _read_plain(path) -> bytes:
  try:
    return pathlib.Path(path).read_bytes()
  except OSError as error:
    raise DataError(f"{path}: cannot be read ({error.strerror})") from None


def _open_image(path, data: bytes):
  """The decoded Pillow image. A JPEG cut short before its end-of-image marker (kangaroo/images/00090.jpg lacks
  its last 20 bytes) is decoded as far as its data goes, the rest grey (there: 29x8 pixels in the corner)."""
  from PIL import Image, UnidentifiedImageError  # Only readers of images pay for importing Pillow.
  if data[:2] == b"\xff\xd8" and not data.endswith(b"\xff\xd9"):
    data += b"\xff\xd9"  # Unlike ImageFile.LOAD_TRUNCATED_IMAGES, changes nothing for other readers.
  try:
    image = Image.open(io.BytesIO(data))
    image.load()
  except (UnidentifiedImageError, OSError, ValueError) as error:
    raise DataError(f"{path}: not a readable image ({error})") from None
  return image


def _rgb(root: pathlib.Path, relpath: str, name: str, annotation: Annotation) -> np.ndarray:
  """uint8 [H, W, 3] of an image whose size its annotation states."""
  image = _open_image(root / relpath, _read(root, relpath, name))
  if image.size != (annotation.width, annotation.height):
    raise DataError(f"{root / relpath}: {image.size[0]}x{image.size[1]} pixels, but its annotation states "
                    f"{annotation.width}x{annotation.height}")
  return np.asarray(image.convert("RGB"))


def _grey_stack(root: pathlib.Path, relpaths: list[str], name: str, shape: tuple[int, int] | None = None
                ) -> np.ndarray:
  """uint8 [len(relpaths), H, W] of single-channel images, all of one size (``shape`` where given)."""
  out = []
  for relpath in relpaths:
    image = _open_image(root / relpath, _read(root, relpath, name))
    if image.mode != "L":
      raise DataError(f"{root / relpath}: mode {image.mode}, expected 8-bit grey (L)")
    array = np.asarray(image)
    expected = shape or (out[0].shape if out else array.shape)
    if array.shape != expected:
      raise DataError(f"{root / relpath}: {array.shape[0]}x{array.shape[1]} pixels (HxW), expected "
                      f"{expected[0]}x{expected[1]}")
    out.append(array)
  return np.stack(out)


def _csv_rows(root: pathlib.Path, relpath: str) -> list[dict]:
  """The rows of a raccoon labels CSV (filename,width,height,class,xmin,ymin,xmax,ymax)."""
  rows = list(csv.DictReader(io.StringIO(_read(root, relpath, "raccoon").decode("utf-8"))))
  header = {"filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax"}
  if not rows or not header <= set(rows[0]) or any(None in row.values() for row in rows):
    raise DataError(f"{root / relpath}: expected rows of {','.join(sorted(header))} under a header line")
  return rows


def _image_names(root: pathlib.Path, name: str, images: str, annotations: str, suffix: str) -> list[str]:
  """The image file names of a set, once each has an annotation file and vice versa."""
  root = _root(name, root, f"{name}/{images}")
  names = sorted(p.name for p in (root / name / images).iterdir() if not p.name.startswith("."))
  stems = {p.stem for p in (root / name / annotations).glob(f"*{suffix}")}
  if {pathlib.Path(n).stem for n in names} != stems:
    raise DataError(f"{root / name}: {images}/ and {annotations}/ hold different file names")
  return names


def _checked_boxes(boxes: list, width: int, height: int, path) -> np.ndarray:
  """float32 [n, 4], once each box is non-empty and inside [0, width] x [0, height]."""
  boxes = np.array(boxes, np.float32).reshape(-1, 4)
  for k, (x0, y0, x1, y1) in enumerate(boxes.tolist(), start=1):
    if not (x1 > x0 and y1 > y0):
      raise DataError(f"{path}: object {k} box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) is empty or inverted "
                      f"(needs xmax > xmin and ymax > ymin)")
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
      raise DataError(f"{path}: object {k} box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) lies outside the "
                      f"{width}x{height} image")
  return boxes


def _xml_text(element, tag: str, path, where: str = "") -> str:
  text = (element.findtext(tag) or "").strip()
  if not text:
    raise DataError(f"{path}: {where + ' ' if where else ''}has no <{tag.replace('/', '><')}>")
  return text


def _xml_number(element, tag: str, path, kind, where: str = ""):
  text = _xml_text(element, tag, path, where)
  try:
    return kind(text)
  except ValueError:
    raise DataError(f"{path}: {where + ' ' if where else ''}<{tag.replace('/', '><')}> is {text!r}, "
                    f"not a number") from None


def _natural(name: str) -> tuple:
  """Sort key that orders the numbers in names by value: raccoon-2.jpg before raccoon-10.jpg."""
  return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


if __name__ == "__main__":
  SPLITS_DIR.mkdir(exist_ok=True)
  for file_name, content in make_splits().items():
    (SPLITS_DIR / file_name).write_text(json.dumps(content, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {SPLITS_DIR / file_name}")
