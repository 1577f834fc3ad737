"""Tests for bigjax.evals.segmentation: hand-computed masks, skimage's adapted Rand error side by side,
brute-force pair counting, and the threshold baseline.
"""

import numpy as np
import pytest
import skimage.metrics as skimage_metrics
from scipy import ndimage

from bigjax.evals import segmentation as seg

# A 4x4 case by hand: 5 predicted and 5 true foreground pixels, 4 shared.
PRED = np.array([[1, 1, 0, 0],
                 [1, 1, 0, 0],
                 [0, 0, 0, 0],
                 [0, 0, 0, 1]])
TARGET = np.array([[1, 1, 1, 0],
                   [1, 1, 0, 0],
                   [0, 0, 0, 0],
                   [0, 0, 0, 0]])
# Two cells (columns 0-1 and 3-4) split by a membrane column: the target of the Rand cases below.
CELLS = np.ones((3, 5), bool)
CELLS[:, 2] = False


def blobs(rng, shape, threshold=0.0):
  """Membrane-like masks: smoothed noise above a threshold, so components are cells of varied size."""
  return ndimage.gaussian_filter(rng.standard_normal(shape), sigma=(0,) * (len(shape) - 2) + (1.5, 1.5)) \
    > threshold


def cells(rng, shape, num_cells=12):
  """EM-like masks ``[..., h, w]``: Voronoi cells (true) parted by 2-pixel membranes (false)."""
  h, w = shape[-2:]
  out = np.empty(shape, bool).reshape(-1, h, w)
  for mask in out:
    seeds = rng.uniform(0, [h, w], size=(num_cells, 2))
    yx = np.stack(np.meshgrid(np.arange(h), np.arange(w), indexing="ij"), -1)
    cell = np.argmin(((yx[:, :, None, :] - seeds) ** 2).sum(-1), axis=-1)
    mask[:] = True
    mask[:-1] &= cell[:-1] == cell[1:]
    mask[1:] &= cell[1:] == cell[:-1]
    mask[:, :-1] &= cell[:, :-1] == cell[:, 1:]
    mask[:, 1:] &= cell[:, 1:] == cell[:, :-1]
  return out.reshape(shape)


def brute_force_rand(pred_labels, target_labels, self_pairs):
  """(error, precision, recall) by counting pixel pairs directly: O(pixels^2)."""
  t, p = target_labels.ravel(), pred_labels.ravel().copy()
  inside = t > 0
  p[(p == 0) & inside] = p.max() + 1 + np.arange(np.count_nonzero((p == 0) & inside))  # singletons
  t, p = t[inside], p[inside]
  same_t, same_p = t[:, None] == t[None, :], p[:, None] == p[None, :]
  if not self_pairs:
    np.fill_diagonal(same_t, False)
    np.fill_diagonal(same_p, False)
  both = np.count_nonzero(same_t & same_p)
  precision, recall = both / np.count_nonzero(same_p), both / np.count_nonzero(same_t)
  return 1 - 2 * precision * recall / (precision + recall), precision, recall


# ----------------------------------------------------------------------------- pixel error and IoU ---

def test_pixel_error_and_iou_by_hand():
  assert seg.pixel_error(PRED, TARGET) == 2 / 16  # (0, 2) missed, (3, 3) spurious
  assert seg.foreground_iou(PRED, TARGET) == pytest.approx(4 / 6)
  # Background: 11 and 11 pixels, 10 shared, union 12. Person-vs-background mIoU: mean of the two.
  np.testing.assert_allclose(seg.class_iou(PRED, TARGET, 2), [10 / 12, 4 / 6])
  assert seg.mean_iou(PRED, TARGET) == pytest.approx((10 / 12 + 4 / 6) / 2)
  assert seg.foreground_iou(PRED.astype(bool), TARGET * 255) == pytest.approx(4 / 6)  # nonzero = foreground


def test_label_image_iou():
  pred = np.array([[0, 1, 2], [2, 2, 1]])
  target = np.array([[0, 1, 1], [2, 2, 2]])
  # class 0: 1/1; class 1: 1 shared of 3 in the union; class 2: 2 shared of 4; class 3 absent: left out.
  np.testing.assert_allclose(seg.class_iou(pred, target, 4), [1, 1 / 3, 2 / 4, np.nan])
  assert seg.mean_iou(pred, target, 4) == pytest.approx((1 + 1 / 3 + 2 / 4) / 3)
  assert seg.pixel_error(pred, target) == pytest.approx(2 / 6)


def test_perfect_and_empty_segmentations():
  mask = blobs(np.random.default_rng(0), (2, 32, 32))
  assert seg.pixel_error(mask, mask) == 0.0
  assert seg.foreground_iou(mask, mask) == 1.0 and seg.mean_iou(mask, mask) == 1.0
  assert seg.rand_error(mask, mask) == 0.0
  empty = np.zeros((4, 4), bool)
  # Two empty masks: the prediction is exactly right, so IoU 1 (a perfect prediction always scores 1).
  assert seg.foreground_iou(empty, empty) == 1.0
  np.testing.assert_array_equal(seg.class_iou(empty, empty, 2), [1.0, np.nan])
  assert seg.mean_iou(empty, empty) == 1.0  # only the background class is present
  assert seg.rand_error(empty, empty) == 0.0  # no target foreground: no pair to get wrong
  assert seg.foreground_iou(empty, TARGET) == 0.0
  with pytest.raises(ValueError, match="differ in shape"):
    seg.pixel_error(empty, np.zeros((4, 5)))
  with pytest.raises(ValueError, match=r"integers in \[0, 2\)"):
    seg.class_iou(np.full((2, 2), 2), np.zeros((2, 2), int), 2)


# ----------------------------------------------------------------------------- Rand error ---

def test_rand_error_by_hand():
  # Merging the two cells of 6 pixels: sum t_i^2 = 72, sum s_j^2 = 144, sum p_ij^2 = 72 (counts, /12^2).
  assert seg.rand_error(np.ones((3, 5)), CELLS) == pytest.approx(1 - 2 * 72 / (72 + 144))  # 1/3
  error, precision, recall = seg.adapted_rand_error(seg.segments(np.ones((3, 5))), seg.segments(CELLS))
  assert (precision, recall) == pytest.approx((0.5, 1.0))
  # skimage's counting (distinct pairs only): 60 / (60 + 132) * 2.
  error, _, _ = seg.adapted_rand_error(seg.segments(np.ones((3, 5))), seg.segments(CELLS), self_pairs=False)
  assert error == pytest.approx(1 - 120 / 192)
  # A membrane one column too thick: column 1's 3 pixels become singletons; sizes 3 and 6 (+3 singletons):
  # sum s_j^2 = 9 + 36 + 3 = 48 = sum p_ij^2, sum t_i^2 = 72.
  thick = CELLS.copy()
  thick[:, 1] = False
  assert seg.rand_error(thick, CELLS) == pytest.approx(1 - 2 * 48 / (72 + 48))  # 0.2
  # Predicting membrane everywhere: every pixel a singleton: sum s_j^2 = sum p_ij^2 = 12.
  assert seg.rand_error(np.zeros((3, 5)), CELLS) == pytest.approx(1 - 2 * 12 / (72 + 12))
  # A split: one target cell of 8; predicted 4 + 2 with 2 membrane pixels between: 22 of 64 pairs kept.
  split = np.array([[1, 1, 0, 1], [1, 1, 0, 1]])
  assert seg.adapted_rand_error(seg.segments(split), np.ones((2, 4), int)) == pytest.approx(
    (1 - 2 * 22 / (64 + 22), 1.0, 22 / 64))


def test_segments_are_4_connected_per_slice():
  assert seg.segments(np.array([[1, 0], [0, 1]])).max() == 2  # diagonal neighbours are apart
  labels = seg.segments(np.ones((2, 3, 3)))  # two slices, no connection through the stack
  assert labels[0].max() == 1 and set(np.unique(labels[1])) == {2}
  np.testing.assert_array_equal(seg.segments(CELLS), [[1, 1, 0, 2, 2]] * 3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_adapted_rand_error_equals_skimage(seed):
  rng = np.random.default_rng(seed)
  target = rng.integers(0, 6, size=(40, 40))  # label 0: membrane, left out
  pred = rng.integers(1, 8, size=(40, 40))
  error, precision, recall = seg.adapted_rand_error(pred, target, self_pairs=False)
  ref_error, ref_a, ref_b = skimage_metrics.adapted_rand_error(target, pred)
  assert error == pytest.approx(ref_error, abs=1e-12)
  # skimage divides its "precision" by the pairs of the *true* image (its docstring says the test image):
  assert (precision, recall) == pytest.approx((ref_b, ref_a), abs=1e-12)

  # Masks through connected components; skimage knows no singleton rule, so give predicted membrane
  # pixels inside the target's foreground labels of their own before handing them over.
  target_mask = cells(rng, (3, 48, 48))
  pred_mask = target_mask ^ (rng.random(target_mask.shape) < 0.08)  # flipped pixels: merges and splits
  t, p = seg.segments(target_mask), seg.segments(pred_mask)
  lone = (p == 0) & (t > 0)
  p_for_skimage = p.copy()
  p_for_skimage[lone] = p.max() + 1 + np.arange(np.count_nonzero(lone))
  error, _, _ = seg.adapted_rand_error(p, t, self_pairs=False)
  assert error == pytest.approx(skimage_metrics.adapted_rand_error(t, p_for_skimage)[0], abs=1e-12)
  assert 0.05 < error < 0.95


@pytest.mark.parametrize("self_pairs", [True, False])
def test_adapted_rand_error_equals_pair_counting(self_pairs):
  rng = np.random.default_rng(4)
  for _ in range(3):
    target = seg.segments(cells(rng, (14, 14), num_cells=5))
    pred = seg.segments(blobs(rng, (14, 14), threshold=-0.3))
    np.testing.assert_allclose(seg.adapted_rand_error(pred, target, self_pairs=self_pairs),
                               brute_force_rand(pred, target, self_pairs), rtol=0, atol=1e-12)
  assert seg.rand_error(pred > 0, target > 0) == pytest.approx(brute_force_rand(pred, target, True)[0])
  # Label values do not matter, only the partition: negative and float labels give the same scores.
  assert seg.adapted_rand_error(pred * 7.5, target) == seg.adapted_rand_error(pred, target)


# ----------------------------------------------------------------------------- baselines ---

def test_baselines_and_threshold_choice():
  rng = np.random.default_rng(5)
  labels = cells(rng, (3, 40, 40))
  images = np.where(labels, 170, 70) + rng.integers(-30, 31, size=labels.shape)  # membranes are darker
  assert seg.all_foreground((2, 3)).dtype == bool and seg.all_foreground((2, 3)).all()
  np.testing.assert_array_equal(seg.threshold_baseline(np.array([10, 100, 101]), 100), [False, True, True])
  for metric, perfect in (("foreground_iou", 1.0), ("rand_error", 0.0)):
    threshold, score = seg.choose_threshold(images, labels, metric)
    assert score == perfect and threshold <= images[labels].min()
  # Foreground IoU needs every membrane pixel right: the lowest threshold that separates the two.
  assert seg.choose_threshold(images, labels)[0] == images[labels].min() > images[~labels].max()
  # The all-foreground baseline merges every cell: worse than the chosen threshold on both metrics.
  assert seg.rand_error(seg.all_foreground(labels.shape), labels) > 0.5
  with pytest.raises(ValueError, match="metric must be one of"):
    seg.choose_threshold(images, labels, "accuracy")
