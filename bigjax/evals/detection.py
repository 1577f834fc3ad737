"""COCO box average precision on the host (NumPy), computed as pycocotools' ``COCOeval`` computes it.

Boxes are ``[x0, y0, x1, y1]`` in continuous image coordinates: a box's area is ``(x1 - x0) * (y1 - y0)``
with no +1 pixel term (COCO's convention; the PASCAL VOC devkit adds 1). Convert COCO's ``[x, y, w, h]``
with ``[x, y, x + w, y + h]``.

Per class, each image's detections are sorted by descending score (stable, so ties keep their input order)
and cut to ``max_detections`` -- per image *and class*, as ``COCOeval`` does, not per image. Each detection
in turn takes the still unmatched ground-truth box of highest IoU >= the threshold, a non-ignored box before
an ignored one (ties go to the later box, as in ``COCOeval``). Crowd boxes (``iscrowd``) are ignored, may
absorb any number of detections, and their IoU is intersection / detection area; a detection matched to an
ignored box, or unmatched and outside the area range, counts neither as true nor as false positive. Over
all images, precision at each recall is made monotone (the maximum precision at any higher recall) and read
at the 101 recalls 0, 0.01, ..., 1 (the first detection reaching each recall; 0 past the last recall).
AP is the mean over those 101 points; AP@[.5:.95] also averages the 10 IoU thresholds 0.5, 0.55, ..., 0.95.
A class with no (non-ignored) ground truth has no AP (NaN here, -1 in ``COCOeval``) and is left out of the
mean over classes, even when it has detections (which are then not penalised). Precision is
tp / (tp + fp + 2.2e-16) as in ``COCOeval``, so a perfect detector scores 1 - 2e-16, not exactly 1.
"""

from collections.abc import Mapping, Sequence

import numpy as np

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)  # the same float64 values as COCOeval's iouThrs
RECALL_POINTS = np.linspace(0.0, 1.0, 101)  # COCOeval's recThrs
ALL_AREAS = (0.0, 1e5**2)
COCO_AREA_RANGES = {"small": (0.0, 32.0**2), "medium": (32.0**2, 96.0**2), "large": (96.0**2, 1e5**2)}


def box_area(boxes: np.ndarray) -> np.ndarray:
  """``[n, 4]`` xyxy -> ``[n]``; a box with x1 < x0 or y1 < y0 has area 0."""
  boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
  return np.maximum(boxes[:, 2] - boxes[:, 0], 0.0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0.0)


def box_iou(boxes1: np.ndarray, boxes2: np.ndarray, crowd: np.ndarray | None = None) -> np.ndarray:
  """IoU matrix ``[n, m]`` of xyxy boxes ``[n, 4]`` and ``[m, 4]`` (float64).

  Boxes that only touch (zero-width intersection) have IoU 0. Where ``crowd`` ``[m]`` is true, the entry is
  intersection / area of ``boxes1[i]`` instead: the share of a detection that lies inside a crowd region.
  """
  a = np.asarray(boxes1, np.float64).reshape(-1, 4)
  b = np.asarray(boxes2, np.float64).reshape(-1, 4)
  w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
  h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
  inter = np.where((w > 0) & (h > 0), w * h, 0.0)
  area_a, area_b = box_area(a), box_area(b)
  union = (area_a[:, None] + area_b[None, :]) - inter  # COCO's order of operations: da + ga - i
  if crowd is not None:
    union = np.where(np.asarray(crowd, bool)[None, :], area_a[:, None], union)
  return np.divide(inter, union, out=np.zeros_like(inter), where=inter > 0)


def _match(ious, gt_ignore, gt_crowd, thresholds):
  """Greedy matching of detections (rows of ``ious``, best score first) to ground truth (columns, non-ignored
  first) at each threshold -> ``matched [t, d]``, ``matched_ignored [t, d]``."""
  num_t, (num_dt, num_gt) = len(thresholds), ious.shape
  matched = np.zeros((num_t, num_dt), bool)
  matched_ignored = np.zeros((num_t, num_dt), bool)
  if num_gt == 0:
    return matched, matched_ignored
  taken = np.zeros((num_t, num_gt), bool)
  rows = np.arange(num_t)
  threshold = np.minimum(thresholds, 1 - 1e-10)[:, None]
  for d in range(num_dt):
    free = (ious[d][None, :] >= threshold) & ~(taken & ~gt_crowd[None, :])
    choice = np.full(num_t, -1)
    for ignored in (False, True):  # a non-ignored box first; an ignored one only where none is free
      candidate = free & (gt_ignore == ignored)[None, :] & (choice < 0)[:, None]
      score = np.where(candidate, ious[d][None, :], -np.inf)
      best = score.max(axis=1)
      last_best = num_gt - 1 - np.argmax((score == best[:, None])[:, ::-1], axis=1)
      choice = np.where(np.isfinite(best), last_best, choice)
    hit = choice >= 0
    matched[hit, d] = True
    matched_ignored[hit, d] = gt_ignore[choice[hit]]
    taken[rows[hit], choice[hit]] = True
  return matched, matched_ignored


def _image_class(pred, target, label, area_ranges, thresholds, max_detections):
  """One image and class -> per area range: (scores [d], true positives [t, d], counted [t, d], #gt)."""
  keep = pred["labels"] == label
  order = np.argsort(-pred["scores"][keep], kind="mergesort")[:max_detections]
  dt_boxes, dt_scores = pred["boxes"][keep][order], pred["scores"][keep][order]
  dt_area = box_area(dt_boxes)
  keep = target["labels"] == label
  gt_boxes, gt_crowd, gt_area = target["boxes"][keep], target["crowd"][keep], target["areas"][keep]
  out = []
  for lo, hi in area_ranges:
    gt_ignore = gt_crowd | (gt_area < lo) | (gt_area > hi)
    gt_order = np.argsort(gt_ignore, kind="mergesort")
    ious = box_iou(dt_boxes, gt_boxes[gt_order], gt_crowd[gt_order])
    matched, matched_ignored = _match(ious, gt_ignore[gt_order], gt_crowd[gt_order], thresholds)
    counted = ~matched_ignored & ~(~matched & ((dt_area < lo) | (dt_area > hi))[None, :])
    out.append((dt_scores, matched & counted, counted, int((~gt_ignore).sum())))
  return out


def _precision_curve(scores, true_pos, counted, num_gt):
  """Interpolated precision ``[t, 101]`` from detections pooled over images; NaN without ground truth."""
  if num_gt == 0:
    return np.full((true_pos.shape[0], len(RECALL_POINTS)), np.nan)
  order = np.argsort(-scores, kind="mergesort")
  tp = np.cumsum(true_pos[:, order], axis=1, dtype=np.float64)
  fp = np.cumsum(counted[:, order] & ~true_pos[:, order], axis=1, dtype=np.float64)
  curves = np.zeros((tp.shape[0], len(RECALL_POINTS)))
  for t in range(tp.shape[0]):
    recall = tp[t] / num_gt
    precision = tp[t] / (tp[t] + fp[t] + np.spacing(1))  # COCOeval's guard against 0 / 0
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    first = np.searchsorted(recall, RECALL_POINTS, side="left")
    reached = first < len(recall)
    curves[t, reached] = precision[first[reached]]
  return curves


def _checked(pred, target, index):
  """Per-image dicts as float64 / int / bool arrays, with the optional target fields filled in."""
  try:
    p = {"boxes": np.asarray(pred["boxes"], np.float64).reshape(-1, 4),
         "scores": np.asarray(pred["scores"], np.float64).reshape(-1),
         "labels": np.asarray(pred["labels"]).reshape(-1)}
    boxes = np.asarray(target["boxes"], np.float64).reshape(-1, 4)
    t = {"boxes": boxes, "labels": np.asarray(target["labels"]).reshape(-1),
         "crowd": np.asarray(target.get("crowd", np.zeros(len(boxes))), bool).reshape(-1),
         "areas": np.asarray(target.get("areas", box_area(boxes)), np.float64).reshape(-1)}
  except (KeyError, ValueError) as e:
    raise ValueError(f"image {index}: predictions need boxes [n, 4], scores [n], labels [n]; targets need "
                     f"boxes [m, 4], labels [m] and optionally crowd [m], areas [m] ({e})") from e
  if not len(p["boxes"]) == len(p["scores"]) == len(p["labels"]):
    raise ValueError(f"image {index}: {len(p['boxes'])} predicted boxes, {len(p['scores'])} scores, "
                     f"{len(p['labels'])} labels")
  if not len(t["boxes"]) == len(t["labels"]) == len(t["crowd"]) == len(t["areas"]):
    raise ValueError(f"image {index}: target boxes, labels, crowd and areas differ in length")
  return p, t


def precision_table(predictions: Sequence[Mapping], targets: Sequence[Mapping], *, classes=None,
                    area_ranges: Sequence[tuple[float, float]] = (ALL_AREAS,), max_detections: int = 100,
                    iou_thresholds: np.ndarray = IOU_THRESHOLDS):
  """Interpolated precision ``[thresholds, 101 recalls, classes, area ranges]`` and the class list.

  ``predictions[i]``: ``{"boxes": [n, 4] xyxy, "scores": [n], "labels": [n]}`` for image ``i``;
  ``targets[i]``: ``{"boxes": [m, 4], "labels": [m]}`` with optional ``"crowd"`` ``[m]`` (COCO's iscrowd)
  and ``"areas"`` ``[m]`` (the area the ranges test; default the box area, COCO uses the mask area).
  ``classes`` default to every label in targets or predictions, sorted. Entries of a class without
  non-ignored ground truth are NaN. This is ``COCOeval.eval["precision"][..., max_dets index]``, NaN for -1.
  """
  if len(predictions) != len(targets):
    raise ValueError(f"{len(predictions)} images of predictions but {len(targets)} of targets")
  images = [_checked(p, t, i) for i, (p, t) in enumerate(zip(predictions, targets))]
  if classes is None:
    labels = [x["labels"] for p, t in images for x in (p, t)]
    classes = np.unique(np.concatenate(labels)) if labels else np.zeros(0)
  thresholds = np.asarray(iou_thresholds, np.float64)
  table = np.full((len(thresholds), len(RECALL_POINTS), len(classes), len(area_ranges)), np.nan)
  for k, label in enumerate(classes):
    pooled = [[] for _ in area_ranges]
    for p, t in images:
      for a, result in enumerate(_image_class(p, t, label, area_ranges, thresholds, max_detections)):
        pooled[a].append(result)
    for a, results in enumerate(pooled):
      scores, tp, counted, num_gt = zip(*results) if results else ((), (), (), (0,))
      if sum(num_gt) == 0:
        continue
      table[:, :, k, a] = _precision_curve(np.concatenate(scores), np.concatenate(tp, axis=1),
                                           np.concatenate(counted, axis=1), sum(num_gt))
  return table, list(classes)


def _nanmean(x):
  x = x[~np.isnan(x)]
  return float(x.mean()) if x.size else float("nan")


def average_precision(predictions: Sequence[Mapping], targets: Sequence[Mapping], *, classes=None,
                      area_ranges: Mapping[str, tuple[float, float]] | None = None,
                      max_detections: int = 100) -> dict[str, float]:
  """COCO box AP over a set of images: ``{"AP", "AP50", "AP75"}`` (+ ``"AP_<name>"`` per area range).

  ``AP`` is COCO's AP@[.5:.95] (``COCOeval.stats[0]``), ``AP50`` and ``AP75`` its ``stats[1]`` and
  ``stats[2]``, all over every area (COCO's ``"all"``: 0 to 1e10) and ``max_detections`` per image and
  class. ``area_ranges`` (e.g. ``COCO_AREA_RANGES``: stats[3:6]) add the AP@[.5:.95] of ground truth whose
  area lies in ``[lo, hi]``. Inputs as in ``precision_table``. NaN where no class has ground truth.
  """
  ranges = dict(area_ranges or {})
  table, _ = precision_table(predictions, targets, classes=classes, max_detections=max_detections,
                             area_ranges=[ALL_AREAS, *ranges.values()])
  at = lambda iou: int(np.argmin(np.abs(IOU_THRESHOLDS - iou)))  # noqa: E731
  result = {"AP": _nanmean(table[..., 0]), "AP50": _nanmean(table[at(0.5), ..., 0]),
            "AP75": _nanmean(table[at(0.75), ..., 0])}
  for a, name in enumerate(ranges, start=1):
    result[f"AP_{name}"] = _nanmean(table[..., a])
  return result


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou_threshold: float
                        ) -> np.ndarray:
  """Greedy per-class NMS: bool ``[n]``, True for the boxes kept. In descending score (ties in input order),
  a box is kept unless a kept box of its class overlaps it with IoU > ``iou_threshold`` (``box_iou``)."""
  boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
  scores, labels = np.asarray(scores).reshape(-1), np.asarray(labels).reshape(-1)
  keep = np.zeros(len(boxes), bool)
  ious = box_iou(boxes, boxes)
  for i in np.argsort(-scores, kind="mergesort"):
    rivals = keep & (labels == labels[i])
    keep[i] = not np.any(ious[i, rivals] > iou_threshold)
  return keep
