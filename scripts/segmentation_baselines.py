"""Trivial segmentation baselines on the splits the U-Nets are scored on, by the same metrics.

  python scripts/segmentation_baselines.py --json /tmp/segmentation_baselines.json [--data_dir DIR]

ISBI 2012 EM (the 5 recorded folds, `vision_sets.isbi_em_dataset`; foreground = cell interior), on each fold's 6
test slices:
  all_foreground  "no membrane anywhere"
  threshold       pixels at least as bright as t are cell interior, t chosen on the fold's 24 training slices by
                  their pooled foreground IoU (`evals.segmentation.choose_threshold`)
Penn-Fudan person vs background (the recorded split at 128 x 128, `vision_sets.penn_fudan_masks_dataset`), on the
50 test images, with t chosen on the 120 training + validation images:
  all_foreground  "person everywhere"
  threshold       the grey level (mean of R, G, B) >= t is person
  location_prior  pixels where at least a fraction t of the training masks hold a person are person
Metrics as ``tasks/segmentation.py`` computes them: pixel_error averaged over images, foreground_iou and mean_iou
pooled over the split's pixels, rand_error (ISBI) averaged over slices.

Writes the record to --json (never over an existing file: exit status 2) and prints Markdown tables.
"""

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from bigjax import runs, writers  # noqa: E402
from bigjax.data import core, vision_sets  # noqa: E402
from bigjax.evals import segmentation as seg  # noqa: E402

PENN_FUDAN_SIZE = 128  # configs/unet_penn_fudan.py's data.image_size


def scores(preds: np.ndarray, targets: np.ndarray, rand: bool) -> dict[str, float]:
  """The task's metrics of bool predictions and 0/1 targets ``[n, h, w]``."""
  preds, targets = preds.astype(np.int32), targets.astype(np.int32)
  out = {"pixel_error": float(np.mean([seg.pixel_error(p, t) for p, t in zip(preds, targets)])),
         "foreground_iou": seg.foreground_iou(preds, targets), "mean_iou": seg.mean_iou(preds, targets, 2)}
  if rand:
    out["rand_error"] = float(np.mean([seg.rand_error(p == 1, t == 1) for p, t in zip(preds, targets)]))
  return out


def isbi_fold(fold: int, data_dir) -> dict:
  train = vision_sets.isbi_em_dataset("train", fold, data_dir).arrays
  test = vision_sets.isbi_em_dataset("test", fold, data_dir).arrays
  images, targets = test["image"][..., 0], test["segmentation"]
  t, train_iou = seg.choose_threshold(train["image"][..., 0], train["segmentation"], "foreground_iou")
  return {"fold": fold,
          "all_foreground": scores(seg.all_foreground(targets.shape), targets, rand=True),
          "threshold": {**scores(seg.threshold_baseline(images, t), targets, rand=True), "threshold": t,
                        "train_foreground_iou": train_iou}}


def penn_fudan(data_dir) -> dict:
  train = vision_sets.penn_fudan_masks_dataset("train", PENN_FUDAN_SIZE, data_dir).arrays
  test = vision_sets.penn_fudan_masks_dataset("test", PENN_FUDAN_SIZE, data_dir).arrays
  targets = test["segmentation"]
  grey_train, grey_test = train["image"].mean(-1), test["image"].mean(-1)
  t_grey, iou_grey = seg.choose_threshold(grey_train, train["segmentation"], "foreground_iou")
  prior = train["segmentation"].mean(0)  # the fraction of training masks holding a person at each pixel
  t_prior, iou_prior = seg.choose_threshold(np.broadcast_to(prior, train["segmentation"].shape),
                                            train["segmentation"], "foreground_iou")
  return {"all_foreground": scores(seg.all_foreground(targets.shape), targets, rand=False),
          "threshold": {**scores(seg.threshold_baseline(grey_test, t_grey), targets, rand=False),
                        "threshold": t_grey, "train_foreground_iou": iou_grey},
          "location_prior": {**scores(np.broadcast_to(prior >= t_prior, targets.shape), targets, rand=False),
                             "threshold": t_prior, "train_foreground_iou": iou_prior}}


def summarise(per_fold: list[dict]) -> dict:
  """Mean and std (ddof 0, as bigjax.report's ± over runs) over the folds of each baseline's metrics."""
  out = {}
  for method in ("all_foreground", "threshold"):
    out[method] = {k: {"mean": float(np.mean([f[method][k] for f in per_fold])),
                       "std": float(np.std([f[method][k] for f in per_fold]))}
                   for k in ("pixel_error", "foreground_iou", "mean_iou", "rand_error")}
  return out


def markdown(record: dict) -> str:
  lines = ["ISBI 2012 EM, test folds (mean ± std over 5 folds):", "",
           "| baseline | pixel error | foreground IoU | Rand error |", "|---|---:|---:|---:|"]
  for method, s in record["isbi_em"]["summary"].items():
    lines.append(f"| {method} | " + " | ".join(f"{s[k]['mean']:.4f} ± {s[k]['std']:.4f}"
                                                 for k in ("pixel_error", "foreground_iou", "rand_error")) + " |")
  lines += ["", "Penn-Fudan, 50 test images at 128 x 128:", "",
            "| baseline | person IoU | mean IoU | pixel error |", "|---|---:|---:|---:|"]
  for method, s in record["penn_fudan"].items():
    lines.append(f"| {method} | {s['foreground_iou']:.4f} | {s['mean_iou']:.4f} | {s['pixel_error']:.4f} |")
  return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--json", type=pathlib.Path, help="write the record here (never over an existing file)")
  parser.add_argument("--data_dir", default=None, help="the data root holding isbi_em/ and penn_fudan/")
  args = parser.parse_args(argv)
  if writers.save_new_record(args.json, None):
    return 2
  start = time.time()
  try:
    per_fold = [isbi_fold(fold, args.data_dir) for fold in range(vision_sets.ISBI_EM_NUM_FOLDS)]
    penn = penn_fudan(args.data_dir)
  except core.DataError as error:
    print(f"error: {error}", file=sys.stderr)
    return 1
  record = runs.script_record("trivial segmentation baselines (scripts/segmentation_baselines.py docstring)",
                              "scripts/segmentation_baselines.py", argv, start,
                              isbi_em={"summary": summarise(per_fold), "per_fold": per_fold}, penn_fudan=penn)
  if writers.save_new_record(args.json, record):
    return 2
  print(markdown(record))
  print(f"\nin {record['wall_time_s']:.1f} s" + (f"; record: {args.json}" if args.json is not None else ""))
  return 0


if __name__ == "__main__":
  sys.exit(main())
