"""Object detection as CenterNet ("Objects as Points", Zhou et al. 2019) trains and decodes it.

Batches are ``{"image": float32 [b, s, s, 3], "boxes": float32 [b, m, 4] continuous (x0, y0, x1, y1) on the
image, "labels": int32 [b, m] (-1: no box), "scale": float32 [b, 2]}`` (``vision_sets.detection_dataset``;
+ ``"mask"`` ``[b]`` in evaluation); the model (``models.centernet.CenterNet``) maps images to a heatmap's
logits, sizes and offsets at its output stride ``r``.

Training (``loss``): each example is augmented on device from the step's rng (``bigjax.data.augment``): a
left-right flip (``task.flip``), a zoom by U(``task.scale_min``, ``task.scale_max``) about the centre and a shift
of up to ``task.shift`` of the side each way (boxes clipped; a box left thinner than 2 pixels is dropped), a
colour change (``task.colour_jitter``). Then the targets (``targets``): for a box of w x h cells (its size / r)
centred at c, a Gaussian exp(-d^2 / 2 sigma^2) around the cell p = floor(c) in its class's heatmap, cut to
|dx|, |dy| <= radius, sigma = (2 radius + 1) / 6, radius = floor(``gaussian_radius``) (CornerNet's rule: the
largest corner error whose box keeps IoU ``task.min_overlap`` with the truth); overlapping Gaussians of a class
take their maximum. The loss is the paper's: the penalty-reduced focal loss (alpha 2, beta 4) summed over the
heatmap and divided by the number of peak cells (value 1), plus ``task.size_weight`` (0.1) x the L1 error of
(w, h) and ``task.offset_weight`` (1) x that of the offset c - p, read at each object's cell, both averaged
over the objects' coordinates. Sums and counts are pooled over the batch.

Evaluation, batch by batch: the same losses with each image's own counts, averaged over images. Then on the
split whole (``evaluate_split``): decoding (``decode``: sigmoid, 3x3 max-pool peaks, the ``task.max_detections``
best over cells and classes; ``task.nms_iou`` > 0 adds per-class NMS, which the paper does without), boxes
mapped back to the original image's pixels (/ ``scale``) and scored by COCO's box AP against the ground truth
(``bigjax.evals.detection``): ``map`` (AP@[.5:.95]), ``map50``, ``map75``; and the picture ``predictions``
(truth green, detections scoring >= ``task.show_threshold`` red, with their scores).
"""

from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from bigjax import tasks
from bigjax.data import augment
from bigjax.evals import detection as det_metrics

SHOWN = 4  # images in the predictions picture


def init(model: nn.Module, rng: jax.Array, batch: dict[str, jnp.ndarray]) -> Any:
  return model.init({"params": rng}, batch["image"], train=False)["params"]


# ====================================================================================== targets

def gaussian_radius(height: jnp.ndarray, width: jnp.ndarray, min_overlap: float) -> jnp.ndarray:
  """The largest r such that a box of ``height`` x ``width`` keeps IoU >= ``min_overlap`` with itself in each of
  CornerNet's three cases of corners moved by r: both corners moved the same way (a shift by (r, r)), both
  inward (shrunk by 2r), both outward (grown by 2r); the smallest of the three roots. Solved exactly (CornerNet's
  code divides two of the roots by 2 instead of 2a, giving larger radii). Broadcasts; float."""
  o, s, p = min_overlap, height + width, height * width
  shifted = (s - jnp.sqrt(jnp.maximum(s**2 - 4 * (p - 2 * o * p / (1 + o)), 0.0))) / 2
  shrunk = (s - jnp.sqrt(jnp.maximum(s**2 - 4 * p * (1 - o), 0.0))) / 4
  grown = (-s + jnp.sqrt(s**2 + 4 * p * (1 - o) / o)) / 4
  return jnp.minimum(jnp.minimum(shifted, shrunk), grown)


def targets(boxes: jnp.ndarray, labels: jnp.ndarray, num_classes: int, shape: tuple[int, int], stride: int,
            min_overlap: float) -> dict[str, jnp.ndarray]:
  """One image's ``boxes [m, 4]`` (pixels), ``labels [m]`` (-1: none) -> its targets on the ``shape`` (h, w)
  grid of cells ``stride`` pixels wide: ``heatmap [h, w, num_classes]``; per box ``cell`` int32 [m] (y w + x),
  ``size [m, 2]`` (w, h in cells), ``offset [m, 2]`` (x, y), ``valid`` bool [m]."""
  h, w = shape
  valid = labels >= 0
  cells = boxes / stride
  size = jnp.stack([cells[:, 2] - cells[:, 0], cells[:, 3] - cells[:, 1]], axis=1)
  centre = jnp.stack([cells[:, 0] + cells[:, 2], cells[:, 1] + cells[:, 3]], axis=1) / 2
  point = jnp.clip(jnp.floor(centre), 0, jnp.array([w - 1, h - 1])).astype(jnp.int32)
  radius = jnp.floor(jnp.maximum(gaussian_radius(size[:, 1], size[:, 0], min_overlap), 0.0))
  sigma = (2 * radius + 1) / 6
  dx = jnp.arange(w)[None, None, :] - point[:, 0, None, None]  # [m, 1, w]
  dy = jnp.arange(h)[None, :, None] - point[:, 1, None, None]  # [m, h, 1]
  near = (jnp.abs(dx) <= radius[:, None, None]) & (jnp.abs(dy) <= radius[:, None, None]) & valid[:, None, None]
  bumps = jnp.where(near, jnp.exp(-(dx**2 + dy**2) / (2 * sigma[:, None, None] ** 2)), 0.0)  # [m, h, w]
  classes = jax.nn.one_hot(labels, num_classes)  # -1 -> zeros
  heatmap = jnp.max(bumps[..., None] * classes[:, None, None, :], axis=0, initial=0.0)
  return {"heatmap": heatmap, "cell": point[:, 1] * w + point[:, 0], "size": size, "offset": centre - point,
          "valid": valid}


# ====================================================================================== losses

def focal_loss(logits: jnp.ndarray, heatmap: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
  """CenterNet's penalty-reduced focal loss, summed (not normalised) over the last three axes ``[..., h, w, k]``,
  and the number of peak cells (heatmap == 1): ``-(1 - p)^2 log p`` at peaks, ``-(1 - y)^4 p^2 log(1 - p)``
  elsewhere, ``p = sigmoid(logits)``."""
  peak = heatmap >= 1.0
  log_p, log_not_p = jax.nn.log_sigmoid(logits), jax.nn.log_sigmoid(-logits)
  p = jnp.exp(log_p)
  terms = jnp.where(peak, -((1 - p) ** 2) * log_p, -((1 - heatmap) ** 4) * p**2 * log_not_p)
  return terms.sum(axis=(-3, -2, -1)), peak.sum(axis=(-3, -2, -1)).astype(jnp.float32)


def _at_cells(values: jnp.ndarray, cells: jnp.ndarray) -> jnp.ndarray:
  """``[b, h, w, 2]`` read at ``cells [b, m]`` -> ``[b, m, 2]``."""
  b, h, w, c = values.shape
  return jnp.take_along_axis(values.reshape(b, h * w, c), cells[..., None], axis=1)


def loss_terms(outputs: Mapping[str, jnp.ndarray], target: Mapping[str, jnp.ndarray]) -> dict[str, jnp.ndarray]:
  """Per image ``[b]``: the focal loss's sum and peak count, and the L1 errors' sums over the valid objects'
  coordinates and the number of those coordinates (2 per object)."""
  focal, peaks = focal_loss(outputs["heatmap"], target["heatmap"])
  valid = target["valid"][..., None]
  l1 = lambda name: jnp.where(valid, jnp.abs(_at_cells(outputs[name], target["cell"]) - target[name]), 0.0)  # noqa: E731
  return {"focal": focal, "peaks": peaks, "size": l1("size").sum(axis=(1, 2)), "offset": l1("offset").sum(axis=(1, 2)),
          "coordinates": 2.0 * target["valid"].sum(axis=1)}


def combine(terms: Mapping[str, jnp.ndarray], task_config: Any) -> dict[str, jnp.ndarray]:
  """Sums (over a batch, or of one image) -> the normalised ``heatmap_loss``, ``size_loss``, ``offset_loss``
  and their weighted sum ``loss``."""
  out = {"heatmap_loss": terms["focal"] / jnp.maximum(terms["peaks"], 1.0),
         "size_loss": terms["size"] / (terms["coordinates"] + 1e-4),
         "offset_loss": terms["offset"] / (terms["coordinates"] + 1e-4)}
  out["loss"] = (out["heatmap_loss"] + task_config.size_weight * out["size_loss"]
                 + task_config.offset_weight * out["offset_loss"])
  return out


def batch_targets(model: nn.Module, batch: Mapping[str, jnp.ndarray], task_config: Any) -> dict[str, jnp.ndarray]:
  _, h, w, _ = batch["image"].shape
  return jax.vmap(lambda b, l: targets(b, l, model.num_classes, (h // model.stride, w // model.stride),
                                       model.stride, task_config.min_overlap))(batch["boxes"], batch["labels"])


def augment_example(image: jnp.ndarray, boxes: jnp.ndarray, labels: jnp.ndarray, rng: jax.Array,
                    task_config: Any) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
  """One training example -> (image, boxes, labels) flipped, zoomed and shifted, colour-changed (module docs)."""
  t = task_config
  flip_rng, scale_rng, shift_rng, colour_rng = jax.random.split(rng, 4)
  if t.flip:
    image, boxes = augment.flip_boxes(image, boxes, jax.random.bernoulli(flip_rng))
  if t.scale_min != 1.0 or t.scale_max != 1.0 or t.shift > 0:
    scale = jax.random.uniform(scale_rng, (), minval=t.scale_min, maxval=t.scale_max)
    side = jnp.array(image.shape[1::-1], jnp.float32)
    shift = jax.random.uniform(shift_rng, (2,), minval=-t.shift, maxval=t.shift) * side
    image, boxes, labels = augment.zoom_boxes(image, boxes, labels, scale, shift)
  if t.colour_jitter > 0:
    image = augment.colour_jitter(image, colour_rng, t.colour_jitter)
  return image, boxes, labels


def loss(model: nn.Module, params: Any, batch: dict[str, jnp.ndarray], rng: jax.Array,
         task_config: Any) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
  keys = jax.random.split(rng, batch["image"].shape[0])
  images, boxes, labels = jax.vmap(lambda i, b, l, k: augment_example(i, b, l, k, task_config))(
      batch["image"], batch["boxes"], batch["labels"], keys)
  augmented = {"image": images, "boxes": boxes, "labels": labels}
  outputs = model.apply({"params": params}, images, train=True)
  terms = jax.tree.map(jnp.sum, loss_terms(outputs, batch_targets(model, augmented, task_config)))
  metrics = combine(terms, task_config)
  return metrics["loss"], metrics


def evaluate(model: nn.Module, params: Any, batch: dict[str, jnp.ndarray], task_config: Any) -> dict[str, jnp.ndarray]:
  outputs = model.apply({"params": params}, batch["image"], train=False)
  per_image = combine(loss_terms(outputs, batch_targets(model, batch, task_config)), task_config)
  valid = batch["mask"] > 0
  out = {name: jnp.where(valid, value, 0.0).sum() for name, value in per_image.items()}
  return {**out, "count": valid.sum().astype(jnp.float32)}


# ====================================================================================== decoding

def decode(outputs: Mapping[str, jnp.ndarray], stride: int, max_detections: int
           ) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
  """The model's outputs -> ``boxes [b, k, 4]`` (pixels), ``scores [b, k]``, ``labels int32 [b, k]``: the ``k``
  highest peaks (cells not below any of their 3x3 neighbours in their class's heatmap) over cells and classes,
  best first, each a box of the predicted size centred at (cell + offset) x ``stride``."""
  heat = jax.nn.sigmoid(outputs["heatmap"])
  b, h, w, c = heat.shape
  pooled = jax.lax.reduce_window(heat, -jnp.inf, jax.lax.max, (1, 3, 3, 1), (1, 1, 1, 1), "SAME")
  scores, index = jax.lax.top_k(jnp.where(heat == pooled, heat, 0.0).reshape(b, h * w * c),
                                min(max_detections, h * w * c))
  cell, labels = index // c, index % c
  size, offset = _at_cells(outputs["size"], cell), _at_cells(outputs["offset"], cell)
  centre = jnp.stack([cell % w, cell // w], axis=-1) + offset
  half = jnp.maximum(size, 0.0) / 2
  return jnp.concatenate([centre - half, centre + half], axis=-1) * stride, scores, labels.astype(jnp.int32)


def draw(image: np.ndarray, truth: np.ndarray, boxes: np.ndarray, scores: np.ndarray) -> np.ndarray:
  """uint8 ``[h, w, 3]``: ``image`` (float [0, 1]) with the ``truth`` boxes in green and ``boxes`` in red, each
  labelled with its score."""
  from PIL import Image, ImageDraw  # Only the pictures need Pillow.
  picture = Image.fromarray(np.clip(np.asarray(image) * 255, 0, 255).astype(np.uint8))
  pen = ImageDraw.Draw(picture)
  for box in truth:
    pen.rectangle([float(v) for v in box], outline=(40, 220, 40), width=2)
  for box, score in zip(boxes, scores):
    pen.rectangle([float(v) for v in box], outline=(230, 30, 30), width=2)
    pen.text((float(box[0]) + 2, float(box[1]) + 1), f"{score:.2f}", fill=(255, 255, 0))
  return np.asarray(picture)


def match_to_images(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, arrays: Mapping[str, Any],
                    nms_iou: float) -> tuple[list[dict], list[dict]]:
  """Decoded detections of a split (``[n, k, 4]`` canvas pixels, ``[n, k]``, ``[n, k]``) and the split's arrays ->
  per image the detections (after per-class NMS where ``nms_iou`` > 0) and the true boxes, both in the original
  image's pixels (canvas / ``scale``), as ``bigjax.evals.detection.average_precision`` takes them."""
  predictions, truths = [], []
  for i in range(len(boxes)):
    keep = np.ones(len(scores[i]), bool)
    if nms_iou > 0:
      keep = det_metrics.non_max_suppression(boxes[i], scores[i], labels[i], nms_iou)
    to_image = np.tile(np.asarray(arrays["scale"][i], np.float64)[::-1], 2)  # (sx, sy, sx, sy)
    predictions.append({"boxes": np.asarray(boxes[i], np.float64)[keep] / to_image,
                        "scores": np.asarray(scores[i])[keep], "labels": np.asarray(labels[i])[keep]})
    real = np.asarray(arrays["labels"][i]) >= 0
    truths.append({"boxes": np.asarray(arrays["boxes"][i], np.float64)[real] / to_image,
                   "labels": np.asarray(arrays["labels"][i])[real]})
  return predictions, truths


def make(config: Any, model: nn.Module, optimizer: Any, context: tasks.Context = tasks.Context()) -> tasks.Task:
  t = config.task
  if not 0 < t.scale_min <= t.scale_max:
    raise ValueError(f"config.task.scale_min={t.scale_min}, scale_max={t.scale_max}: need 0 < min <= max")
  for name in ("shift", "colour_jitter", "nms_iou"):
    if not 0 <= t[name] <= 1:
      raise ValueError(f"config.task.{name}={t[name]} must lie in [0, 1]")
  for name in ("size_weight", "offset_weight"):
    if t[name] < 0:
      raise ValueError(f"config.task.{name}={t[name]} must be >= 0")
  if not 0 < t.min_overlap < 1:
    raise ValueError(f"config.task.min_overlap={t.min_overlap} must lie in (0, 1)")
  if t.max_detections < 1:
    raise ValueError(f"config.task.max_detections={t.max_detections} must be >= 1")

  @jax.jit
  def detect(params, images):
    return decode(model.apply({"params": params}, images, train=False), model.stride, t.max_detections)

  def score_split(params: Any, arrays: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
    images = np.asarray(arrays["image"])
    size = config.data.eval_batch_size
    found = [jax.device_get(detect(params, images[i:i + size])) for i in range(0, len(images), size)]
    boxes, scores, labels = (np.concatenate(parts) for parts in zip(*found))
    predictions, truths = match_to_images(boxes, scores, labels, arrays, t.nms_iou)
    ap = det_metrics.average_precision(predictions, truths, classes=list(range(model.num_classes)))
    shown = [draw(images[i], truths[i]["boxes"] * np.tile(arrays["scale"][i][::-1], 2),
                  boxes[i][scores[i] >= t.show_threshold], scores[i][scores[i] >= t.show_threshold])
             for i in range(min(SHOWN, len(images)))]
    return {"map": ap["AP"], "map50": ap["AP50"], "map75": ap["AP75"]}, {"predictions": np.concatenate(shown, 1)}

  predictor = tasks.Predictor(
      lambda params, inputs: jnp.concatenate(
          [x.astype(jnp.float32).reshape(*x.shape[:2], -1) for x in detect(params, inputs["image"])], axis=-1),
      lambda example: {"image": example["image"]},
      outputs=f"detections [b, {t.max_detections}, 6] float32, best first: (x0, y0, x1, y1) in the input's "
              "pixels, score, class")
  return tasks.supervised(model, t, optimizer, init=init, loss=loss, evaluate=evaluate, predict=predictor,
                          evaluate_split=score_split)


parts = tasks.no_parts
