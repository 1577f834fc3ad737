"""Segmentation metrics for binary masks and label images (host-side NumPy), and trivial baselines.

A binary mask is bool or 0/1, true = foreground; for the ISBI 2012 EM slices the foreground is the cell
interior and the background the membrane. Every function takes arrays of any shape (one image ``[h, w]``
or a stack ``[n, h, w]``) and pools its counts over all of them: the IoU of a stack is total intersection
over total union, not a mean of per-image IoUs (call it per image and average for that).

Empty cases, by design: the IoU of two empty masks is 1.0 -- the prediction is exactly right, so a perfect
prediction always scores IoU 1 and pixel error 0; ``class_iou`` gives NaN to a class absent from both
prediction and target and ``mean_iou`` leaves it out of the mean (as mIoU usually does), so the two agree
there. The Rand error of a target without foreground pixels is 0.0: no pair of pixels to get wrong.

Rand error (ISBI 2012; Arganda-Carreras et al. 2015, Front. Neuroanat. 9:142): segments are the
4-connected components of the foreground, slice by slice; membranes are the boundaries between them.
Only pixels inside the target's foreground count (foreground-restricted); a predicted membrane pixel there
is a segment of its own. With ``p_ij`` the fraction of those pixels in target segment i and predicted
segment j, ``t_i = sum_j p_ij``, ``s_j = sum_i p_ij``:
  precision (merge) = sum p_ij^2 / sum s_j^2,  recall (split) = sum p_ij^2 / sum t_i^2,
  Rand F-score = harmonic mean of the two,     Rand error = 1 - F-score,
the N^2 normalisation (self-pairs counted) of the challenge's Fiji code (``foregroundRestrictedStatsN2``).
The official leaderboard score also thins the predicted membranes to one pixel and takes the best of the
thresholds 0, 0.1, ..., 0.9 of a probability map; neither is done here.
"""

import numpy as np
from scipy import ndimage

METRICS = {"foreground_iou": "max", "rand_error": "min"}  # choose_threshold's metrics and their direction


def _pair(pred, target):
  pred, target = np.asarray(pred), np.asarray(target)
  if pred.shape != target.shape:
    raise ValueError(f"prediction {pred.shape} and target {target.shape} differ in shape")
  if pred.size == 0:
    raise ValueError("empty prediction and target: no pixels to score")
  return pred, target


def pixel_error(pred: np.ndarray, target: np.ndarray) -> float:
  """1 - pixel accuracy: the fraction of pixels whose label differs; masks or label images ``[...]``."""
  pred, target = _pair(pred, target)
  return float(np.mean(pred != target))


def foreground_iou(pred: np.ndarray, target: np.ndarray) -> float:
  """|pred & target| / |pred | target| of binary masks ``[...]`` (nonzero = foreground); 1.0 if both empty."""
  pred, target = _pair(pred, target)
  pred, target = pred != 0, target != 0
  union = np.count_nonzero(pred | target)
  return float(np.count_nonzero(pred & target) / union) if union else 1.0


def class_iou(pred: np.ndarray, target: np.ndarray, num_classes: int) -> np.ndarray:
  """IoU of each class ``[num_classes]`` from label images ``[...]`` in ``[0, num_classes)``; NaN if absent."""
  pred, target = _pair(pred, target)
  for name, x in (("prediction", pred), ("target", target)):
    integer = np.issubdtype(x.dtype, np.integer) or x.dtype == bool
    if not integer or x.min() < 0 or x.max() >= num_classes:
      raise ValueError(f"{name} labels must be integers in [0, {num_classes}), got {x.dtype} "
                       f"in [{x.min()}, {x.max()}]")
  confusion = np.bincount(target.ravel().astype(np.int64) * num_classes + pred.ravel(),
                          minlength=num_classes**2).reshape(num_classes, num_classes)
  inter = np.diag(confusion)
  union = confusion.sum(0) + confusion.sum(1) - inter
  return np.divide(inter, union, out=np.full(num_classes, np.nan), where=union > 0)


def mean_iou(pred: np.ndarray, target: np.ndarray, num_classes: int = 2) -> float:
  """Mean IoU over the classes present in prediction or target (2 classes: foreground and background)."""
  return float(np.nanmean(class_iou(pred, target, num_classes)))


def segments(mask: np.ndarray) -> np.ndarray:
  """Labels ``[..., h, w]`` int64 of the 4-connected foreground components of each 2D slice of ``mask``.

  0 marks background (membrane); labels are distinct across slices, so a stack pools its slices.
  """
  mask = np.asarray(mask) != 0
  if mask.ndim < 2:
    raise ValueError(f"segments need images [..., h, w], got shape {mask.shape}")
  flat = mask.reshape(-1, *mask.shape[-2:])
  within_slice = np.zeros((3, 3, 3), bool)
  within_slice[1] = ndimage.generate_binary_structure(2, 1)  # 4-connectivity, nothing across slices
  labels, _ = ndimage.label(flat, structure=within_slice, output=np.int64)
  return labels.reshape(mask.shape)


def _compact(labels):
  """Non-negative int64 labels ``[0, k]`` keeping 0 as 0 (the label values themselves do not matter)."""
  labels = np.asarray(labels).ravel()
  if np.issubdtype(labels.dtype, np.integer) and labels.size and labels.min() >= 0 and \
      labels.max() <= 4 * labels.size:
    return labels.astype(np.int64)
  _, inverse = np.unique(labels, return_inverse=True)
  return np.where(labels == 0, 0, inverse.reshape(-1) + 1).astype(np.int64)


def adapted_rand_error(pred_labels: np.ndarray, target_labels: np.ndarray, *,
                       self_pairs: bool = True) -> tuple[float, float, float]:
  """``(Rand error, precision, recall)`` of label images ``[...]``, foreground-restricted as in ISBI 2012.

  Target label 0 (membrane) is left out; predicted label 0 inside the target's foreground makes each such
  pixel its own segment. ``self_pairs=True`` counts each pixel paired with itself (the challenge's p_ij^2);
  ``False`` counts only distinct pairs (n_ij (n_ij - 1), as ``skimage.metrics.adapted_rand_error`` does).
  A ratio with nothing to count (no pairs together) is 1.0.
  """
  pred, target = _pair(pred_labels, target_labels)
  pred, target = _compact(pred), _compact(target)
  inside = target > 0
  pred, target = pred[inside], target[inside]
  n = target.size
  if n == 0:
    return 0.0, 1.0, 1.0
  joined = pred > 0
  singletons = n - np.count_nonzero(joined)
  _, joint = np.unique(target[joined] * (pred.max() + 1) + pred[joined], return_counts=True)
  target_sizes, pred_sizes = np.bincount(target), np.bincount(pred[joined])
  square = lambda counts: int(np.dot(counts, counts))  # noqa: E731  exact in int64
  together_both = square(joint) + singletons
  together_target = square(target_sizes)
  together_pred = square(pred_sizes) + singletons
  if not self_pairs:
    together_both, together_target, together_pred = together_both - n, together_target - n, together_pred - n
  ratio = lambda a, b: a / b if b else 1.0  # noqa: E731
  f_score = ratio(2 * together_both, together_target + together_pred)
  precision, recall = ratio(together_both, together_pred), ratio(together_both, together_target)
  return float(1.0 - f_score), float(precision), float(recall)


def rand_error(pred_mask: np.ndarray, target_mask: np.ndarray) -> float:
  """ISBI 2012 foreground-restricted Rand error of binary masks ``[..., h, w]`` (true = non-membrane)."""
  pred_mask, target_mask = _pair(pred_mask, target_mask)
  return adapted_rand_error(segments(pred_mask), segments(target_mask))[0]


# ----------------------------------------------------------------------------- trivial baselines ---

def all_foreground(shape) -> np.ndarray:
  """The prediction "no membrane anywhere": a bool mask of ones."""
  return np.ones(shape, bool)


def threshold_baseline(image: np.ndarray, threshold: float) -> np.ndarray:
  """Pixels darker than ``threshold`` are membrane: the mask ``image >= threshold`` ``[...]``."""
  return np.asarray(image) >= threshold


def choose_threshold(images: np.ndarray, labels: np.ndarray, metric: str = "foreground_iou",
                     thresholds: np.ndarray | None = None) -> tuple[float, float]:
  """``(threshold, score)``: the ``threshold_baseline`` threshold best on training ``images``/``labels``.

  ``images`` and ``labels`` (masks, true = non-membrane) are ``[n, h, w]``, scored pooled over the stack;
  ``metric`` is ``"foreground_iou"`` (maximised) or ``"rand_error"`` (minimised). ``thresholds`` default to
  every distinct pixel value when there are at most 256 (8-bit images), else 101 quantiles. Ties go to the
  lowest threshold. Choose on training slices only: the test slices are read once, at the end.
  """
  if metric not in METRICS:
    raise ValueError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
  images, labels = _pair(images, labels)
  if thresholds is None:
    thresholds = np.unique(images)
    if thresholds.size > 256:
      thresholds = np.unique(np.quantile(images, np.linspace(0.0, 1.0, 101)))
  score = foreground_iou if metric == "foreground_iou" else rand_error
  sign = 1.0 if METRICS[metric] == "max" else -1.0
  best = (-np.inf, None, None)
  for t in np.asarray(thresholds).ravel():
    value = score(threshold_baseline(images, t), labels)
    if sign * value > best[0]:
      best = (sign * value, float(t), value)
  return best[1], best[2]
