"""Detection: CornerNet's radius against a float64 bisection of its three IoU cases, heatmap targets and the focal
loss against NumPy float64 references, boxes under every augmentation still on their objects, decoding that
inverts the targets, NMS by hand, the letterboxed sets as the loop reads them, a small fit, and smoke runs."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from bigjax import train
from bigjax.data import augment, vision_sets
from bigjax.evals import detection as det_metrics
from bigjax.models import centernet
from bigjax.tasks import detection

from conftest import load_config, requires_data

requires_raccoon = requires_data("raccoon/data/test_labels.csv")
requires_kangaroo = requires_data("kangaroo/annots/00001.xml")
requires_penn_fudan = requires_data("penn_fudan/PennFudanPed/Annotation/FudanPed00001.txt")


def task_config(**overrides):
  fields = dict(flip=False, scale_min=1.0, scale_max=1.0, shift=0.0, colour_jitter=0.0, min_overlap=0.7,
                size_weight=0.1, offset_weight=1.0, max_detections=100, nms_iou=0.0, show_threshold=0.3)
  return ml_collections.ConfigDict({**fields, **overrides})


# ====================================================================================== targets

def _iou(a, b):
  w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
  h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
  inter = w * h
  area = lambda x: (x[2] - x[0]) * (x[3] - x[1])  # noqa: E731
  return inter / (area(a) + area(b) - inter)


def _largest_radius(case, h, w, overlap):
  """Bisection in float64: the largest r at which the box moved as ``case`` says keeps IoU >= overlap."""
  box = (0.0, 0.0, w, h)
  moved = {"shifted": lambda r: (r, r, w + r, h + r), "shrunk": lambda r: (r, r, w - r, h - r),
           "grown": lambda r: (-r, -r, w + r, h + r)}[case]
  lo, hi = 0.0, min(h, w) / 2
  for _ in range(200):
    mid = (lo + hi) / 2
    lo, hi = (mid, hi) if _iou(box, moved(mid)) >= overlap else (lo, mid)
  return lo


@pytest.mark.parametrize("h, w, overlap", [(10.0, 10.0, 0.7), (37.5, 12.25, 0.7), (3.0, 80.0, 0.5), (64.0, 40.0, 0.9)])
def test_gaussian_radius_is_the_smallest_of_cornernets_three_cases(h, w, overlap):
  expected = min(_largest_radius(case, h, w, overlap) for case in ("shifted", "shrunk", "grown"))
  np.testing.assert_allclose(float(detection.gaussian_radius(jnp.float32(h), jnp.float32(w), overlap)), expected,
                             rtol=1e-5)


def _reference_heatmap(boxes, labels, num_classes, shape, stride, overlap):
  h, w = shape
  heat = np.zeros((h, w, num_classes))
  for box, label in zip(np.asarray(boxes, np.float64), labels):
    if label < 0:
      continue
    x0, y0, x1, y1 = box / stride
    r = np.floor(max(min(_largest_radius(c, y1 - y0, x1 - x0, overlap) for c in ("shifted", "shrunk", "grown")), 0))
    sigma = (2 * r + 1) / 6
    cx, cy = int(np.floor((x0 + x1) / 2)), int(np.floor((y0 + y1) / 2))
    for y in range(h):
      for x in range(w):
        if abs(x - cx) <= r and abs(y - cy) <= r:
          value = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2))
          heat[y, x, label] = max(heat[y, x, label], value)
  return heat


def test_heatmap_targets_match_a_float64_reference_with_overlaps_classes_and_padding():
  boxes = np.array([[8, 8, 40, 56], [20, 12, 52, 44], [60, 0, 64, 10], [0, 0, 0, 0]], np.float32)
  labels = np.array([0, 0, 1, -1], np.int32)
  out = detection.targets(jnp.asarray(boxes), jnp.asarray(labels), 2, (16, 16), 4, 0.7)
  expected = _reference_heatmap(boxes, labels, 2, (16, 16), 4, 0.7)
  np.testing.assert_allclose(np.asarray(out["heatmap"]), expected, atol=1e-6)
  assert out["heatmap"][8, 6, 0] == 1.0 and out["heatmap"][7, 9, 0] == 1.0  # the peaks: (x, y) = (6, 8), (9, 7)
  np.testing.assert_allclose(np.asarray(out["size"][:3]), [[8, 12], [8, 8], [1, 2.5]])
  np.testing.assert_allclose(np.asarray(out["offset"][:3]), [[0, 0], [0, 0], [0.5, 0.25]])
  assert np.asarray(out["cell"][:3]).tolist() == [8 * 16 + 6, 7 * 16 + 9, 1 * 16 + 15]
  assert np.asarray(out["valid"]).tolist() == [True, True, True, False]


def test_focal_loss_matches_a_float64_reference():
  rng = np.random.default_rng(0)
  logits = rng.normal(0, 3, (2, 5, 6, 2))
  heat = rng.uniform(0, 0.99, (2, 5, 6, 2))
  heat[0, 1, 2, 0] = heat[1, 4, 5, 1] = heat[1, 0, 0, 0] = 1.0
  p = 1 / (1 + np.exp(-logits))
  terms = np.where(heat == 1, -(1 - p) ** 2 * np.log(p), -(1 - heat) ** 4 * p**2 * np.log(1 - p))
  value, peaks = detection.focal_loss(jnp.asarray(logits, jnp.float32), jnp.asarray(heat, jnp.float32))
  np.testing.assert_allclose(np.asarray(value), terms.sum(axis=(1, 2, 3)), rtol=1e-5)
  assert np.asarray(peaks).tolist() == [1.0, 2.0]


def test_losses_read_sizes_and_offsets_at_the_objects_cells():
  boxes = jnp.array([[[8, 8, 40, 56], [0, 0, 0, 0]]], jnp.float32)
  target = jax.vmap(lambda b, l: detection.targets(b, l, 1, (16, 16), 4, 0.7))(boxes, jnp.array([[0, -1]]))
  outputs = {"heatmap": jnp.zeros((1, 16, 16, 1)), "size": jnp.full((1, 16, 16, 2), 100.0).at[0, 8, 6].set(
      jnp.array([9.0, 10.0])), "offset": jnp.zeros((1, 16, 16, 2)).at[0, 8, 6].set(jnp.array([0.5, -0.5]))}
  terms = detection.loss_terms(outputs, target)
  np.testing.assert_allclose(np.asarray(terms["size"]), [1.0 + 2.0])   # |9 - 8| + |10 - 12|
  np.testing.assert_allclose(np.asarray(terms["offset"]), [1.0])       # |0.5 - 0| + |-0.5 - 0|
  out = detection.combine(jax.tree.map(jnp.sum, terms), task_config())
  np.testing.assert_allclose(float(out["size_loss"]), 1.5, rtol=1e-4)  # averaged over the object's 2 coordinates
  np.testing.assert_allclose(float(out["loss"]), float(out["heatmap_loss"]) + 0.15 + 0.5, rtol=1e-4)


# ====================================================================================== augmentation

def _rectangle_image(boxes, size=64):
  """A black image with box k (integer corners) filled with 1 in channel k (at most 3 boxes)."""
  image = np.zeros((size, size, 3), np.float32)
  for k, (x0, y0, x1, y1) in enumerate(boxes):
    image[int(y0):int(y1), int(x0):int(x1), k] = 1.0
  return image


def _extent(plane):
  """The continuous box around the pixels of ``plane`` above 1/2 (or None): an object's outline as bilinear
  resampling leaves it, within a pixel."""
  ys, xs = np.nonzero(plane > 0.5)
  return None if len(ys) == 0 else np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float64)


def test_flip_moves_boxes_with_their_objects():
  boxes = np.array([[5, 10, 20, 30], [40, 2, 63, 12]], np.float32)
  image = _rectangle_image(boxes)
  flipped, moved = augment.flip_boxes(jnp.asarray(image), jnp.asarray(boxes), jnp.array(True))
  for k in range(2):
    np.testing.assert_allclose(_extent(np.asarray(flipped)[..., k]), np.asarray(moved[k]))
  same, kept = augment.flip_boxes(jnp.asarray(image), jnp.asarray(boxes), jnp.array(False))
  np.testing.assert_array_equal(np.asarray(same), image)
  np.testing.assert_array_equal(np.asarray(kept), boxes)


@pytest.mark.parametrize("scale, shift", [(1.0, (0.0, 0.0)), (1.5, (0.0, 0.0)), (0.6, (7.0, -5.0)),
                                          (1.3, (-12.0, 9.0))])
def test_zoom_keeps_boxes_on_their_objects(scale, shift):
  boxes = np.array([[12, 14, 36, 30], [30, 34, 52, 56]], np.float32)
  image = _rectangle_image(boxes)
  zoomed, moved, labels = augment.zoom_boxes(jnp.asarray(image), jnp.asarray(boxes), jnp.array([0, 0]),
                                             jnp.float32(scale), jnp.asarray(shift, jnp.float32))
  for k in range(2):
    found = _extent(np.asarray(zoomed)[..., k])
    assert np.all(np.abs(found - np.asarray(moved[k])) <= 1.0 + 1e-4), (found, moved[k])
  np.testing.assert_allclose(np.asarray(moved), np.clip((boxes - 32) * scale + 32 + np.tile(shift, 2), 0, 64), atol=1e-4)
  assert np.asarray(labels).tolist() == [0, 0]


def test_zoom_clips_boxes_at_the_border_and_drops_those_that_leave():
  boxes = jnp.array([[50, 10, 60, 20], [2, 2, 10, 10], [0, 0, 0, 0]], jnp.float32)
  _, moved, labels = augment.zoom_boxes(jnp.zeros((64, 64, 3)), boxes, jnp.array([0, 0, -1]), jnp.float32(1.0),
                                        jnp.array([9.0, 0.0]))
  np.testing.assert_allclose(np.asarray(moved), [[59, 10, 64, 20], [11, 2, 19, 10], [0, 0, 0, 0]])
  _, moved, labels = augment.zoom_boxes(jnp.zeros((64, 64, 3)), boxes, jnp.array([0, 0, -1]), jnp.float32(1.0),
                                        jnp.array([13.0, 0.0]))
  assert np.asarray(labels).tolist() == [-1, 0, -1]  # 63..64 is under 2 pixels wide: dropped
  np.testing.assert_allclose(np.asarray(moved[0]), 0.0)


def test_colour_jitter_stays_in_range_and_zero_amount_changes_nothing():
  image = jnp.asarray(np.random.default_rng(0).uniform(0, 1, (8, 8, 3)), jnp.float32)
  np.testing.assert_allclose(np.asarray(augment.colour_jitter(image, jax.random.key(0), 0.0)), image, atol=1e-6)
  changed = np.asarray(augment.colour_jitter(image, jax.random.key(1), 0.5))
  assert changed.min() >= 0 and changed.max() <= 1 and not np.allclose(changed, image)


def test_every_augmented_example_keeps_its_boxes_on_its_objects():
  boxes = np.zeros((4, 4), np.float32)
  boxes[:2] = [[8, 8, 28, 40], [36, 20, 60, 44]]
  labels = np.array([0, 0, -1, -1], np.int32)
  image = _rectangle_image(boxes[:2])
  config = task_config(flip=True, scale_min=0.6, scale_max=1.4, shift=0.2)
  for seed in range(20):
    out, moved, kept = detection.augment_example(jnp.asarray(image), jnp.asarray(boxes), jnp.asarray(labels),
                                                 jax.random.key(seed), config)
    assert np.asarray(kept[2:]).tolist() == [-1, -1]
    for k in np.flatnonzero(np.asarray(kept) >= 0):
      found = _extent(np.asarray(out)[..., k])
      assert found is not None and np.all(np.abs(found - np.asarray(moved[k])) <= 1.0 + 1e-4), (seed, k)


# ====================================================================================== model and decoding

def test_centernet_outputs_at_its_stride_and_refuses_bad_shapes():
  model = centernet.CenterNet(num_classes=3, widths=(4, 8, 8), head_width=8)
  images = jnp.zeros((2, 32, 48, 3))
  params = model.init(jax.random.key(0), images)["params"]
  out = model.apply({"params": params}, images)
  assert {k: v.shape for k, v in out.items()} == {"heatmap": (2, 8, 12, 3), "size": (2, 8, 12, 2),
                                                  "offset": (2, 8, 12, 2)}
  np.testing.assert_allclose(jax.nn.sigmoid(out["heatmap"]), 0.1, atol=0.05)  # the focal-loss prior
  with pytest.raises(ValueError, match="divisible by 8"):
    model.init(jax.random.key(0), jnp.zeros((1, 36, 36, 3)))
  with pytest.raises(ValueError, match="stride=16"):
    centernet.CenterNet(num_classes=1, widths=(4, 8, 8), stride=16).init(jax.random.key(0), images)


def test_decode_inverts_the_targets():
  boxes = jnp.array([[[8, 8, 40, 56], [22.5, 11, 51, 43.5], [0, 0, 0, 0]]], jnp.float32)
  labels = jnp.array([[0, 1, -1]])
  t = jax.vmap(lambda b, l: detection.targets(b, l, 2, (16, 16), 4, 0.7))(boxes, labels)
  # A model that outputs its targets: logits from the heatmap, each object's size and offset at its cell.
  logits = jnp.log(t["heatmap"] + 1e-6) - jnp.log1p(-t["heatmap"] + 1e-6)
  size = jnp.zeros((1, 256, 2)).at[0, t["cell"][0, :2]].set(t["size"][0, :2]).reshape(1, 16, 16, 2)
  offset = jnp.zeros((1, 256, 2)).at[0, t["cell"][0, :2]].set(t["offset"][0, :2]).reshape(1, 16, 16, 2)
  found, scores, classes = detection.decode({"heatmap": logits, "size": size, "offset": offset}, 4, 5)
  assert found.shape == (1, 5, 4) and scores.shape == classes.shape == (1, 5)
  np.testing.assert_allclose(np.asarray(scores[0, :2]), 1.0, atol=1e-5)
  assert float(scores[0, 2]) < 0.01  # the Gaussians' shoulders are not peaks
  by_class = {int(c): np.asarray(b) for b, c in zip(found[0, :2], classes[0, :2])}
  np.testing.assert_allclose(by_class[0], boxes[0, 0], atol=1e-4)
  np.testing.assert_allclose(by_class[1], boxes[0, 1], atol=1e-4)


def test_nms_by_hand():
  boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 9], [2, 0, 12, 10]], float)
  scores = np.array([0.9, 0.8, 0.7, 0.95, 0.6])
  labels = np.array([0, 0, 0, 1, 0])
  # Box 1 overlaps box 0 with IoU 90 / 110 = 0.818; box 4 overlaps box 0 with 80 / 120 = 0.667, box 1 with 0.818
  # (box 1 is gone by then); box 3 is another class.
  assert det_metrics.non_max_suppression(boxes, scores, labels, 0.7).tolist() == [True, False, True, True, True]
  assert det_metrics.non_max_suppression(boxes, scores, labels, 0.5).tolist() == [True, False, True, True, False]
  assert det_metrics.non_max_suppression(boxes, scores, labels, 0.9).all()


def _squares(n, seed, size=32):
  """Black images with one grey square each (side 8-16) and its box."""
  rng = np.random.default_rng(seed)
  images, boxes = np.zeros((n, size, size, 3), np.float32), np.zeros((n, 2, 4), np.float32)
  for i in range(n):
    side = rng.integers(8, 17)
    x, y = rng.integers(0, size - side + 1, 2)
    images[i, y:y + side, x:x + side] = 0.8
    boxes[i, 0] = [x, y, x + side, y + side]
  labels = np.tile(np.array([[0, -1]], np.int32), (n, 1))
  return {"image": images, "boxes": boxes, "labels": labels, "scale": np.ones((n, 2), np.float32)}


def test_centernet_learns_to_find_squares():
  model = centernet.CenterNet(num_classes=1, widths=(8, 16, 16), head_width=16, impl="xla")
  config = ml_collections.ConfigDict({"task": task_config(), "data": {"eval_batch_size": 32}})
  optimizer = optax.adam(3e-3)
  task = detection.make(config, model, optimizer)
  train_set = _squares(256, 0)
  params = task.init(jax.random.key(0), {k: v[:1] for k, v in train_set.items()})
  state = task.init_opt_state(params)
  update = jax.jit(task.update)
  for step in range(300):
    rows = np.random.default_rng(step).choice(256, 16, replace=False)
    params, state, metrics, finite = update(params, state, {k: v[rows] for k, v in train_set.items()},
                                            jax.random.key(step))
    assert bool(finite)
  scores, pictures = task.evaluate_split(params, _squares(64, 1))
  assert scores["map50"] > 0.9, scores
  assert pictures["predictions"].shape == (32, 4 * 32, 3)


# ====================================================================================== data and runs

def test_letterbox_scales_the_longer_side_and_the_boxes_with_it():
  image = np.zeros((50, 100, 3), np.uint8)
  image[10:20, 30:60] = 255  # rows 11..20, columns 31..60 in the loaders' 1-based inclusive boxes
  canvas, boxes, scale = vision_sets.letterbox(image, np.array([[31, 11, 60, 20]]), 64)
  assert canvas.shape == (64, 64, 3) and canvas[32:].max() == 0  # the 32 resized rows, then black
  np.testing.assert_allclose(scale, [32 / 50, 64 / 100])
  np.testing.assert_allclose(boxes, [[30 * 0.64, 10 * 0.64, 60 * 0.64, 20 * 0.64]], rtol=1e-6)
  found = _extent(canvas[..., 0])
  assert np.all(np.abs(found - boxes[0]) <= 1.0)


@requires_raccoon
def test_raccoon_as_the_loop_reads_it_maps_back_to_the_files_boxes():
  split = vision_sets.load_raccoon("test")
  data = vision_sets.detection_dataset("raccoon", "test", 192, 16)
  assert data.arrays["image"].shape == (40, 192, 192, 3) and data.num_classes == 1
  for i in range(len(split)):
    n = len(split.boxes[i])
    assert (data.arrays["labels"][i, :n] == 0).all() and (data.arrays["labels"][i, n:] == -1).all()
    back = data.arrays["boxes"][i, :n] / np.tile(data.arrays["scale"][i][::-1], 2)
    np.testing.assert_allclose(back, split.boxes[i] - [1, 1, 0, 0], rtol=1e-5, atol=1e-3)
  with pytest.raises(ValueError, match="max_boxes=1"):
    vision_sets.detection_dataset("raccoon", "test", 192, 1)
  with pytest.raises(ValueError, match="unknown"):
    vision_sets.detection_dataset("raccoons", "test", 192, 16)


@requires_raccoon
def test_true_boxes_score_one_on_the_original_pixels():
  arrays = vision_sets.detection_dataset("raccoon", "test", 64, 16).arrays
  # Predictions equal to the truth, as decoding would hand them over (canvas pixels).
  found = (arrays["boxes"], (arrays["labels"] >= 0).astype(np.float32), np.maximum(arrays["labels"], 0))
  predictions, truths = detection.match_to_images(*found, arrays, nms_iou=0.0)
  split = vision_sets.load_raccoon("test")
  for truth, boxes in zip(truths, split.boxes):
    np.testing.assert_allclose(truth["boxes"], boxes - [1, 1, 0, 0], rtol=1e-5, atol=1e-3)
  ap = det_metrics.average_precision(predictions, truths, classes=[0])
  assert ap["AP"] == pytest.approx(1.0) and ap["AP50"] == pytest.approx(1.0)


@pytest.mark.parametrize("field, value", [("scale_min", 0.0), ("shift", 1.5), ("min_overlap", 1.0),
                                          ("max_detections", 0), ("nms_iou", -0.1)])
def test_bad_task_fields_are_named(field, value):
  config = load_config("centernet_raccoon", "smoke")
  config.task[field] = value
  model = centernet.CenterNet(num_classes=1, widths=(4, 8, 8), head_width=8)
  with pytest.raises(ValueError, match=f"config.task.{field}"):
    detection.make(config, model, optax.adam(1e-3))


@pytest.mark.parametrize("name", [pytest.param("raccoon", marks=requires_raccoon),
                                  pytest.param("kangaroo", marks=requires_kangaroo),
                                  pytest.param("penn_fudan", marks=requires_penn_fudan)])
def test_smoke_configs_train_and_are_scored_by_average_precision(name, tmp_path):
  metrics = train.run(load_config(f"centernet_{name}", "smoke"), tmp_path / "run")["final_metrics"]
  for split in ("validation", "test"):
    assert 0.0 <= metrics[f"{split}/map50"] <= 1.0 and 0.0 <= metrics[f"{split}/map"] <= metrics[f"{split}/map50"]
    assert np.isfinite(metrics[f"{split}/loss"])
