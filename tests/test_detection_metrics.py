"""Tests for bigjax.evals.detection: COCO box AP side by side with pycocotools' COCOeval, and by hand.

The random scenes use integer (and quarter-integer) coordinates, so that COCO's [x, y, w, h] and bigjax's
[x0, y0, x1, y1] describe exactly the same boxes and both IoUs are computed from the same float64 numbers
(pycocotools adds x + w again; neither adds +1 pixel). IoUs of exactly 0.5 occur and must match on both.
"""

import contextlib
import io

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from bigjax.evals import detection


# ----------------------------------------------------------------------------- scenes ---

def random_scene(rng, num_images=12, classes=(1, 2, 5), extra_class=7):
  """Ground truth and predictions with the cases COCO's matching must get right."""
  predictions, targets = [], []
  for i in range(num_images):
    m = int(rng.integers(0, 7)) if i != 2 else 0  # image 2: no ground truth at all
    xy = rng.integers(0, 300, size=(m, 2)).astype(np.float64)
    wh = rng.integers(1, 160, size=(m, 2)).astype(np.float64)
    wh[: m // 3] = rng.integers(1, 12, size=(m // 3, 2))  # some small boxes
    gt = np.concatenate([xy, xy + wh], axis=1)
    gt_labels = rng.choice(classes[:-1] if i % 3 == 0 else classes, size=m)  # class 5 absent in some images
    crowd = rng.random(m) < 0.15
    # Detections: jittered copies of the ground truth, duplicates, pure false positives, touching boxes.
    boxes, labels = [], []
    for box, label in zip(gt, gt_labels):
      for _ in range(int(rng.integers(0, 3))):  # 0, 1 or 2 (a duplicate) detections per object
        boxes.append(box + rng.integers(-2, 3, size=4) * np.tile(box[2:] - box[:2], 2) / 16)
        labels.append(label if rng.random() < 0.9 else rng.choice(classes))
      if rng.random() < 0.3:  # touching the object on its right edge: IoU 0
        boxes.append([box[2], box[1], box[2] + 5, box[3]])
        labels.append(label)
      if rng.random() < 0.3:  # the left half of the object: IoU exactly 0.5
        boxes.append([box[0], box[1], (box[0] + box[2]) / 2, box[3]])
        labels.append(label)
    for _ in range(int(rng.integers(0, 5))):
      x0, y0 = rng.integers(0, 300, size=2)
      boxes.append([x0, y0, x0 + rng.integers(1, 100), y0 + rng.integers(1, 100)])
      labels.append(rng.choice([*classes, extra_class]))  # class 7 has detections and no ground truth
    boxes = np.round(np.asarray(boxes, np.float64).reshape(-1, 4) * 4) / 4
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 0.25)
    scores = np.round(rng.random(len(boxes)), 1)  # one decimal: many tied scores
    predictions.append({"boxes": boxes, "scores": scores, "labels": np.asarray(labels, np.int64)})
    targets.append({"boxes": gt, "labels": gt_labels, "crowd": crowd,
                    "areas": detection.box_area(gt) * rng.uniform(0.5, 1.0, size=m)})
  return predictions, targets


def coco_eval(predictions, targets, categories):
  """COCOeval (bbox) over the same scene; images get ids 1..n in order, boxes become [x, y, w, h]."""
  xywh = lambda b: [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]  # noqa: E731
  annotations = []
  for i, t in enumerate(targets):
    for box, label, crowd, area in zip(t["boxes"], t["labels"], t["crowd"], t["areas"]):
      annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": int(label),
                          "bbox": xywh(box), "area": float(area), "iscrowd": int(crowd)})
  results = [{"image_id": i + 1, "category_id": int(label), "bbox": xywh(box), "score": float(score)}
             for i, p in enumerate(predictions)
             for box, score, label in zip(p["boxes"], p["scores"], p["labels"])]
  with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO()
    gt.dataset = {"images": [{"id": i + 1} for i in range(len(targets))],
                  "categories": [{"id": int(c)} for c in categories], "annotations": annotations}
    gt.createIndex()
    evaluator = COCOeval(gt, gt.loadRes(results), "bbox")
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
  return evaluator


# ----------------------------------------------------------------------------- against COCOeval ---

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_average_precision_equals_cocoeval(seed):
  predictions, targets = random_scene(np.random.default_rng(seed))
  reference = coco_eval(predictions, targets, categories=[1, 2, 5, 7])
  ours = detection.average_precision(predictions, targets, area_ranges=detection.COCO_AREA_RANGES)
  expected = dict(zip(["AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large"], reference.stats[:6]))
  expected = {k: (np.nan if v == -1 else v) for k, v in expected.items()}
  np.testing.assert_allclose([ours[k] for k in expected], list(expected.values()), rtol=0, atol=1e-6)
  assert 0.05 < ours["AP"] < 0.95  # the scene is neither trivial nor hopeless

  # The whole interpolated-precision table, class by class and area by area (maxDets=100 is index 2).
  table, classes = detection.precision_table(
    predictions, targets, classes=[1, 2, 5, 7],
    area_ranges=[detection.ALL_AREAS, *detection.COCO_AREA_RANGES.values()])
  want = reference.eval["precision"][..., 2]
  np.testing.assert_array_equal(np.isnan(table), want == -1)
  np.testing.assert_allclose(np.nan_to_num(table, nan=-1), want, rtol=0, atol=1e-12)
  assert np.isnan(table[..., classes.index(7), :]).all()  # detections only: left out, as COCO's -1


def test_max_detections_per_image_and_class_as_cocoeval():
  rng = np.random.default_rng(3)
  gt = np.array([[0, 0, 10, 10], [50, 50, 60, 60]], np.float64)
  boxes = np.concatenate([rng.integers(100, 200, size=(130, 2)).repeat(2, axis=1) + [0, 0, 5, 5], gt])
  boxes = boxes[:, [0, 2, 1, 3]].astype(np.float64)
  boxes[-2:] = gt
  scores = np.concatenate([np.linspace(0.9, 0.2, 130), [0.1, 0.95]])  # one hit below 100 false positives
  labels = np.array([1] * 70 + [2] * 60 + [1, 2])
  predictions = [{"boxes": boxes, "scores": scores, "labels": labels}]
  targets = [{"boxes": gt, "labels": np.array([1, 2]), "crowd": np.zeros(2, bool), "areas": np.full(2, 100.)}]
  reference = coco_eval(predictions, targets, categories=[1, 2])
  ours = detection.average_precision(predictions, targets)
  np.testing.assert_allclose([ours["AP"], ours["AP50"], ours["AP75"]], reference.stats[:3], atol=1e-12)
  # 71 class-1 detections fit under 100 per class, so its hit counts (at rank 71): per image, 72 would not.
  assert ours["AP50"] == pytest.approx((1 / 71 + 1.0) / 2)


# ----------------------------------------------------------------------------- by hand ---

def one_image(pred_boxes, scores, gt_boxes, pred_labels=None, gt_labels=None, crowd=None):
  pred = {"boxes": np.asarray(pred_boxes, np.float64).reshape(-1, 4), "scores": np.asarray(scores, float),
          "labels": np.zeros(len(scores), int) if pred_labels is None else np.asarray(pred_labels)}
  target = {"boxes": np.asarray(gt_boxes, np.float64).reshape(-1, 4),
            "labels": np.zeros(len(gt_boxes), int) if gt_labels is None else np.asarray(gt_labels)}
  if crowd is not None:
    target["crowd"] = np.asarray(crowd)
  return [pred], [target]


def test_box_iou_by_hand():
  a = np.array([[0, 0, 2, 2], [0, 0, 1, 1]], np.float64)
  b = np.array([[1, 0, 3, 2], [2, 0, 4, 2], [0, 0, 2, 1]], np.float64)
  np.testing.assert_allclose(detection.box_iou(a, b), [[2 / 6, 0, 0.5], [0, 0, 0.5]])  # touching: 0
  # A crowd box scores intersection / detection area: [0, 0, 1, 1] lies entirely inside [0, 0, 2, 1].
  np.testing.assert_allclose(detection.box_iou(a, b, crowd=[False, False, True]), [[2 / 6, 0, 0.5],
                                                                                    [0, 0, 1.0]])
  assert detection.box_iou(np.zeros((0, 4)), b).shape == (0, 3)
  assert detection.box_area(np.array([[1, 1, 3, 4]]))[0] == 6.0  # continuous coordinates, no +1


def test_perfect_detector_scores_one():
  gt = [[0, 0, 10, 10], [20, 20, 40, 30], [5, 5, 8, 9]]
  ap = detection.average_precision(*one_image(gt, [0.9, 0.8, 0.7], gt, [0, 1, 1], [0, 1, 1]))
  assert ap == pytest.approx({"AP": 1.0, "AP50": 1.0, "AP75": 1.0})  # 1 - 2e-16: COCOeval's eps


def test_false_positive_ranked_above_the_hit():
  # One object; a miss at score 0.9, then the hit: precision 1/2 at recall 1, made 1/2 at every recall.
  ap = detection.average_precision(*one_image([[50, 50, 60, 60], [0, 0, 10, 10]], [0.9, 0.8],
                                              [[0, 0, 10, 10]]))
  assert ap == pytest.approx({"AP": 0.5, "AP50": 0.5, "AP75": 0.5})
  # Two objects; hit, miss, hit: precision (1, 1/2, 2/3) at recall (1/2, 1/2, 1) -> monotone (1, 2/3, 2/3):
  # the 51 recall points 0 .. 0.5 read 1, the 50 points 0.51 .. 1 read 2/3.
  ap = detection.average_precision(*one_image([[0, 0, 10, 10], [50, 50, 60, 60], [20, 0, 30, 10]],
                                              [0.9, 0.8, 0.7], [[0, 0, 10, 10], [20, 0, 30, 10]]))
  assert ap["AP50"] == pytest.approx((51 * 1.0 + 50 * 2 / 3) / 101)


def test_iou_threshold_sweep_by_hand():
  # IoU 0.62 with the only object: a hit at 0.5, 0.55 and 0.6, a miss above -> AP = 3 / 10.
  ap = detection.average_precision(*one_image([[0, 0, 6.2, 10]], [0.9], [[0, 0, 10, 10]]))
  assert ap == pytest.approx({"AP": 0.3, "AP50": 1.0, "AP75": 0.0})
  # IoU exactly 0.5 is a hit at 0.5 (>=, as in COCOeval).
  ap = detection.average_precision(*one_image([[0, 0, 5, 10]], [0.9], [[0, 0, 10, 10]]))
  assert ap["AP50"] == pytest.approx(1.0) and ap["AP"] == pytest.approx(0.1)


def test_no_predictions_scores_zero():
  ap = detection.average_precision(*one_image(np.zeros((0, 4)), [], [[0, 0, 10, 10]]))
  assert ap == {"AP": 0.0, "AP50": 0.0, "AP75": 0.0}


def test_class_without_ground_truth_is_left_out():
  # Class 0 is found perfectly; class 1 has only a (false) detection and no ground truth: mean over class 0.
  ap = detection.average_precision(*one_image([[0, 0, 10, 10], [50, 50, 60, 60]], [0.9, 0.95],
                                              [[0, 0, 10, 10]], pred_labels=[0, 1], gt_labels=[0]))
  assert ap == pytest.approx({"AP": 1.0, "AP50": 1.0, "AP75": 1.0})
  table, classes = detection.precision_table(*one_image([[0, 0, 1, 1]], [0.5], np.zeros((0, 4))))
  assert classes == [0] and np.isnan(table).all()
  assert all(np.isnan(v) for v in detection.average_precision(*one_image([[0, 0, 1, 1]], [0.5],
                                                                         np.zeros((0, 4)))).values())


def test_duplicates_and_crowd():
  # The duplicate is a false positive; a detection inside a crowd region is neither true nor false.
  gt = [[0, 0, 10, 10], [100, 100, 200, 200]]
  ap = detection.average_precision(*one_image([[0, 0, 10, 10], [0, 0, 10, 10]], [0.9, 0.8], gt[:1]))
  assert ap["AP50"] == pytest.approx(1.0)  # the duplicate comes after recall 1: the monotone curve ignores it
  ap = detection.average_precision(*one_image([[110, 110, 150, 150], [0, 0, 10, 10]], [0.9, 0.8], gt,
                                              crowd=[False, True]))
  assert ap["AP50"] == pytest.approx(1.0)


def test_bad_input_is_a_clear_error():
  pred, target = one_image([[0, 0, 1, 1]], [0.5, 0.4], [[0, 0, 1, 1]])
  with pytest.raises(ValueError, match="1 predicted boxes, 2 scores"):
    detection.average_precision(pred, target)
  with pytest.raises(ValueError, match="images of predictions"):
    detection.average_precision(pred, target * 2)
  with pytest.raises(ValueError, match="image 0"):
    detection.average_precision([{"boxes": np.zeros((1, 4))}], target)
