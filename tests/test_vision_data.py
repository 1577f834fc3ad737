"""Tests for bigjax.data.vision_sets: raccoon, kangaroo, Penn-Fudan, ISBI 2012 EM and ORL faces.

Real files only: the shared data root for counts and for boxes read by eye from named files, small files written
in tmp_path for the errors. Each set is decoded once per test process (module-scoped fixtures); tests that need
the shared data skip, saying where they looked.
"""

import json
import re
import shutil

import numpy as np
import pytest

from bigjax import data
from bigjax.data import vision_sets
from bigjax.data.core import DataError
from conftest import requires_data

DATA_DIR = data.default_data_dir()

requires_raccoon = requires_data("raccoon/data/train_labels.csv")
requires_kangaroo = requires_data("kangaroo/annots/00001.xml")
requires_penn_fudan = requires_data("penn_fudan/PennFudanPed/Annotation/FudanPed00001.txt")
requires_isbi_em = requires_data("isbi_em/train/label/29.png")
requires_orl = requires_data("orl_faces/att_faces/s40/10.pgm")


@pytest.fixture(scope="module")
def raccoon():
  """The published train part (train + validation: 160 images), validation (20) and test (40)."""
  return {"train": vision_sets.load_raccoon("train"),
          "validation": vision_sets.load_raccoon("validation", validating=True),
          "test": vision_sets.load_raccoon("test")}


@pytest.fixture(scope="module")
def kangaroo():
  return {split: vision_sets.load_kangaroo(split, validating=True) for split in vision_sets.SPLITS}


@pytest.fixture(scope="module")
def penn_fudan():
  return {split: vision_sets.load_penn_fudan(split, validating=True) for split in vision_sets.SPLITS}


def _boxes_of(splits: dict, file: str) -> np.ndarray:
  for part in splits.values():
    if file in part.files:
      return part.boxes[part.files.index(file)]
  raise KeyError(file)


def _image_of(splits: dict, file: str) -> np.ndarray:
  for part in splits.values():
    if file in part.files:
      return part.images[part.files.index(file)]
  raise KeyError(file)


# ------------------------------------------------------------------------------- one file each ---

@requires_raccoon
def test_read_voc_xml_raccoon_1():
  # raccoon/annotations/raccoon-1.xml: <width>650</width> <height>417</height>, one raccoon,
  # <xmin>81</xmin> <ymin>88</ymin> <xmax>522</xmax> <ymax>408</ymax>.
  annotation = vision_sets.read_voc_xml(DATA_DIR / "raccoon/annotations/raccoon-1.xml")
  assert (annotation.filename, annotation.width, annotation.height) == ("raccoon-1.jpg", 650, 417)
  assert annotation.boxes.dtype == np.float32 and annotation.boxes.tolist() == [[81, 88, 522, 408]]
  assert annotation.names == ("raccoon",)


@requires_kangaroo
def test_read_voc_xml_kangaroo_two_objects():
  # kangaroo/annots/00001.xml: 450 x 319; objects (233, 89, 386, 262) and (134, 105, 341, 253).
  annotation = vision_sets.read_voc_xml(DATA_DIR / "kangaroo/annots/00001.xml")
  assert (annotation.filename, annotation.width, annotation.height) == ("00001.jpg", 450, 319)
  assert annotation.boxes.tolist() == [[233, 89, 386, 262], [134, 105, 341, 253]]
  assert annotation.names == ("kangaroo", "kangaroo")


@requires_penn_fudan
def test_read_penn_fudan_annotation():
  # PennFudanPed/Annotation/FudanPed00001.txt: "Image size (X x Y x C) : 559 x 536 x 3", boxes
  # (160, 182) - (302, 431) and (420, 171) - (535, 486), both "PASpersonWalking"; 1-based, kept as they are.
  folder = DATA_DIR / "penn_fudan/PennFudanPed/Annotation"
  annotation = vision_sets.read_penn_fudan_annotation(folder / "FudanPed00001.txt")
  assert (annotation.filename, annotation.width, annotation.height) == ("FudanPed00001.png", 559, 536)
  assert annotation.boxes.tolist() == [[160, 182, 302, 431], [420, 171, 535, 486]]
  assert annotation.names == ("PASpersonWalking",) * 2
  # PennPed00001.txt: 612 x 406, five pedestrians, the first (83, 66) - (197, 353), the fifth standing.
  annotation = vision_sets.read_penn_fudan_annotation(folder / "PennPed00001.txt")
  assert (annotation.width, annotation.height, len(annotation.boxes)) == (612, 406, 5)
  assert annotation.boxes[0].tolist() == [83, 66, 197, 353]
  assert annotation.names == ("PASpersonWalking",) * 4 + ("PASpersonStanding",)


def test_instance_boxes_are_one_based_and_inclusive():
  mask = np.zeros((5, 6), np.uint8)
  mask[1:3, 2:5] = 1  # 0-based rows 1..2, columns 2..4
  assert vision_sets.instance_boxes(mask, 2).tolist()[0] == [3, 2, 5, 3]
  assert np.isnan(vision_sets.instance_boxes(mask, 2)[1]).all()


# ------------------------------------------------------------------------------- malformed files ---

_GOOD_OBJECT = ("<object><name>raccoon</name><bndbox><xmin>5</xmin><ymin>6</ymin><xmax>50</xmax><ymax>40</ymax>"
                "</bndbox></object>")


@pytest.mark.parametrize("body, message", [
    ("<annotation><filename>a.jpg</filename><size><width>100</width>", "not well-formed XML"),
    (f"<annotation><filename>a.jpg</filename>{_GOOD_OBJECT}</annotation>", r"has no <size><width>"),
    ("<annotation><filename>a.jpg</filename><size><width>100</width><height>80</height></size>"
     "<object><name>r</name><bndbox><xmin>50</xmin><ymin>6</ymin><xmax>50</xmax><ymax>40</ymax></bndbox></object>"
     "</annotation>", r"object 1 box \(50, 6, 50, 40\) is empty or inverted"),
    ("<annotation><filename>a.jpg</filename><size><width>100</width><height>80</height></size>"
     "<object><name>r</name><bndbox><xmin>5</xmin><ymin>6</ymin><xmax>50</xmax></bndbox></object></annotation>",
     r"object 1 has no <bndbox><ymax>"),
    ("<annotation><filename>a.jpg</filename><size><width>100</width><height>80</height></size>"
     "<object><name>r</name><bndbox><xmin>5</xmin><ymin>six</ymin><xmax>50</xmax><ymax>40</ymax></bndbox>"
     "</object></annotation>", r"<bndbox><ymin> is 'six', not a number"),
    ("<annotation><filename>a.jpg</filename><size><width>40</width><height>80</height></size>"
     f"{_GOOD_OBJECT}</annotation>", r"lies outside the 40x80 image"),
    ("<root><filename>a.jpg</filename></root>", r"expected a Pascal-VOC <annotation>"),
])
def test_malformed_voc_xml_is_named(tmp_path, body, message):
  path = tmp_path / "broken-7.xml"
  path.write_text(body)
  with pytest.raises(ValueError, match=rf"broken-7\.xml: .*{message}") as caught:
    vision_sets.read_voc_xml(path)
  assert isinstance(caught.value, DataError)


def test_malformed_penn_fudan_annotation_is_named(tmp_path):
  path = tmp_path / "Ped00009.txt"
  path.write_text('Image filename : "PennFudanPed/PNGImages/Ped00009.png"\n'
                  "Image size (X x Y x C) : 100 x 80 x 3\nObjects with ground truth : 2 { }\n"
                  'Bounding box for object 1 "PASpersonWalking" (Xmin, Ymin) - (Xmax, Ymax) : (1, 2) - (30, 40)\n')
  with pytest.raises(DataError, match=r"Ped00009\.txt: states 2 objects but has bounding boxes for objects \[1\]"):
    vision_sets.read_penn_fudan_annotation(path)
  path.write_text("Image size (X x Y x C) : 100 x 80 x 3\n")
  with pytest.raises(DataError, match=r"Ped00009\.txt: .*no Image filename, Objects with ground truth line"):
    vision_sets.read_penn_fudan_annotation(path)


@pytest.mark.parametrize("load, folder", [
    (lambda root: vision_sets.load_kangaroo("test", root), "kangaroo"),
    (lambda root: vision_sets.load_raccoon("test", root), "raccoon"),
    (lambda root: vision_sets.load_penn_fudan("test", root), "penn_fudan"),
    (vision_sets.load_isbi_em, "isbi_em/train"),
    (vision_sets.load_orl_faces, "orl_faces/att_faces"),
])
def test_missing_data_folder_is_named(tmp_path, load, folder):
  with pytest.raises(DataError, match=rf"{re.escape(str(tmp_path / folder))} not found"):
    load(tmp_path)


def test_unknown_split_and_unheld_validation_are_refused():
  with pytest.raises(ValueError, match="unknown split 'dev'"):
    vision_sets.load_kangaroo("dev")
  with pytest.raises(ValueError, match="kangaroo: the validation split is"):
    vision_sets.load_kangaroo("validation")  # a run that does not validate trains on it


# ------------------------------------------------------------------------------- detection sets ---

@requires_raccoon
def test_raccoon_counts_and_published_split(raccoon):
  # data/train_labels.csv: 173 rows over 160 images; data/test_labels.csv: 44 rows over 40 images.
  assert [len(raccoon[s]) for s in ("train", "validation", "test")] == [160, 20, 40]
  assert sum(len(b) for b in raccoon["train"].boxes) == 173 and sum(len(b) for b in raccoon["test"].boxes) == 44
  assert set(raccoon["validation"].files) < set(raccoon["train"].files)
  assert len(set(raccoon["train"].files) | set(raccoon["test"].files)) == 200
  assert raccoon["train"].name == "raccoon:train" and raccoon["train"].classes == ("raccoon",)
  # train_labels.csv lists raccoon-63.jpg twice: (74, 107, 280, 290) and (227, 93, 403, 298).
  assert sorted(_boxes_of(raccoon, "raccoon-63.jpg").tolist()) == [[74, 107, 280, 290], [227, 93, 403, 298]]
  # test_labels.csv: raccoon-105.jpg,720,960,raccoon,250,49,714,869
  assert _boxes_of(raccoon, "raccoon-105.jpg").tolist() == [[250, 49, 714, 869]]
  assert _image_of(raccoon, "raccoon-105.jpg").shape == (960, 720, 3)


@requires_raccoon
def test_raccoon_images_are_uint8_rgb_of_the_stated_size(raccoon):
  for part in raccoon.values():
    for image, boxes, labels in zip(part.images, part.boxes, part.labels):
      assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
      assert boxes.dtype == np.float32 and boxes.shape == (len(labels), 4) and labels.dtype == np.int32
      assert (boxes[:, 2] <= image.shape[1]).all() and (boxes[:, 3] <= image.shape[0]).all()
  grey = _image_of(raccoon, "raccoon-150.jpg")  # one of the three grey JPEGs (mode L), made RGB
  assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()


@requires_kangaroo
def test_kangaroo_counts_and_boxes(kangaroo):
  assert [len(kangaroo[s]) for s in vision_sets.SPLITS] == [114, 18, 32]
  assert sum(len(b) for part in kangaroo.values() for b in part.boxes) == 266
  assert _boxes_of(kangaroo, "00001.jpg").tolist() == [[233, 89, 386, 262], [134, 105, 341, 253]]
  # 00090.jpg lacks its last 20 bytes (no end-of-image marker); it still decodes, at its annotated 590 x 393.
  assert _image_of(kangaroo, "00090.jpg").shape == (393, 590, 3)
  assert all(set(np.concatenate(part.labels).tolist()) == {0} for part in kangaroo.values())


@requires_penn_fudan
def test_penn_fudan_counts_masks_and_boxes(penn_fudan):
  assert [len(penn_fudan[s]) for s in vision_sets.SPLITS] == [100, 20, 50]
  boxes = [b for part in penn_fudan.values() for b in part.boxes]
  masks = [m for part in penn_fudan.values() for m in part.masks]
  assert len(boxes) == 170 and sum(len(b) for b in boxes) == 423
  agree = 0
  for image, mask, box in zip((i for p in penn_fudan.values() for i in p.images), masks, boxes):
    assert mask.dtype == np.uint8 and mask.shape == image.shape[:2] and mask.max() == len(box)
    agree += int((np.abs(vision_sets.instance_boxes(mask, len(box)) - box).max(axis=1) <= 1).sum())
  assert agree >= 419  # the data MANIFEST: 419 of 423 boxes match their mask to within 1 px
  assert _boxes_of(penn_fudan, "FudanPed00001.png").tolist() == [[160, 182, 302, 431], [420, 171, 535, 486]]


# ------------------------------------------------------------------------------- recorded splits ---

@requires_raccoon
@requires_kangaroo
@requires_penn_fudan
def test_recorded_splits_are_what_make_splits_gives():
  made = vision_sets.make_splits(DATA_DIR)
  assert sorted(made) == ["isbi_em_folds.json", "kangaroo.json", "penn_fudan.json", "raccoon.json"]
  for name, content in made.items():
    assert json.loads((vision_sets.SPLITS_DIR / name).read_text()) == content, name


@requires_raccoon
@requires_kangaroo
@requires_penn_fudan
@pytest.mark.parametrize("name, folder, sizes", [
    ("raccoon", "raccoon/images", (140, 20, 40)),
    ("kangaroo", "kangaroo/images", (114, 18, 32)),
    ("penn_fudan", "penn_fudan/PennFudanPed/PNGImages", (100, 20, 50)),
])
def test_recorded_splits_partition_the_images(name, folder, sizes):
  recorded = json.loads((vision_sets.SPLITS_DIR / f"{name}.json").read_text())
  parts = [set(recorded[s]) for s in vision_sets.SPLITS]
  assert tuple(map(len, parts)) == sizes and sum(sizes) == len(set.union(*parts))  # no overlap
  assert set.union(*parts) == {p.name for p in (DATA_DIR / folder).iterdir()}


def test_isbi_em_folds_partition_the_slices():
  recorded = json.loads((vision_sets.SPLITS_DIR / "isbi_em_folds.json").read_text())
  assert recorded["folds"] == [[f"{k}.png" for k in fold] for fold in vision_sets.isbi_em_folds()]
  validations = []
  for fold in range(5):
    train, validation = vision_sets.isbi_em_fold(fold)
    assert len(validation) == 6 and len(train) == 24 and not set(train) & set(validation)
    assert sorted(np.concatenate([train, validation]).tolist()) == list(range(30))
    validations += validation.tolist()
  assert sorted(validations) == list(range(30))
  assert vision_sets.isbi_em_fold(4)[1].tolist() == [24, 25, 26, 27, 28, 29]
  with pytest.raises(ValueError, match="folds 0..4"):
    vision_sets.isbi_em_fold(5)


def test_seeded_order_is_a_permutation_fixed_by_the_seed():
  names = [f"{k}.png" for k in range(50)]
  assert sorted(vision_sets.seeded_order(names, 3)) == sorted(names)
  assert vision_sets.seeded_order(names, 3) == vision_sets.seeded_order(names[::-1], 3)
  assert vision_sets.seeded_order(names, 3) != vision_sets.seeded_order(names, 4)


# ------------------------------------------------------------------------------- ISBI EM, ORL ---

@requires_isbi_em
def test_isbi_em_slices_and_membrane_labels():
  images, membrane = vision_sets.load_isbi_em()
  assert images.shape == membrane.shape == (30, 512, 512)
  assert images.dtype == np.float32 and 0 <= images.min() and images.max() <= 1
  assert membrane.dtype == np.uint8 and set(np.unique(membrane).tolist()) == {0, 1}
  # The data MANIFEST: 78.0 % of the label pixels are 255 (cell interior), mean grey level 126.2.
  assert abs(membrane.mean() - 0.220) < 0.001 and abs(images.mean() * 255 - 126.2) < 0.05


@requires_orl
def test_orl_faces_and_split():
  images, labels = vision_sets.load_orl_faces()
  assert images.shape == (400, 112, 92) and images.dtype == np.uint8
  assert labels.dtype == np.int32 and np.bincount(labels).tolist() == [10] * 40
  # A binary PGM (P5) ends with its 112 x 92 pixels, row by row: row 10 * (7 - 1) + (3 - 1) is s7/3.pgm.
  raw = (DATA_DIR / "orl_faces/att_faces/s7/3.pgm").read_bytes()
  assert raw.startswith(b"P5") and images[62].tobytes() == raw[-112 * 92:] and labels[62] == 6
  train, test = vision_sets.orl_split(0)
  assert len(train) == len(test) == 200 and not set(train) & set(test)
  assert np.bincount(labels[train]).tolist() == np.bincount(labels[test]).tolist() == [5] * 40
  assert np.array_equal(vision_sets.orl_split(0)[0], train)
  assert not np.array_equal(vision_sets.orl_split(1)[0], train)


@requires_orl
def test_a_changed_file_fails_its_listed_checksum(tmp_path):
  shutil.copytree(DATA_DIR / "orl_faces", tmp_path / "orl_faces")
  listed = [line for line in (DATA_DIR / "SHA256SUMS").read_text().splitlines() if "  orl_faces/" in line]
  (tmp_path / "SHA256SUMS").write_text("\n".join(listed) + "\n")
  assert vision_sets.load_orl_faces(tmp_path)[0].shape == (400, 112, 92)
  face = tmp_path / "orl_faces/att_faces/s2/5.pgm"
  face.chmod(0o644)
  pixels = face.read_bytes()
  face.write_bytes(pixels[:-1] + bytes([pixels[-1] ^ 0xFF]))  # the last pixel changed
  with pytest.raises(DataError, match=r"orl_faces/att_faces/s2/5\.pgm: sha256 mismatch"):
    vision_sets.load_orl_faces(tmp_path)
