"""The classical face-recognition baselines on ORL (AT&T faces), over the 5/5 splits of `orl_split(seed)`.

  python scripts/face_baselines.py --json /tmp/face_baselines.json [--seeds 0 1 ...] [--data_dir DIR]

Per split seed, every method projects the flattened pixels with a basis fitted on the 5 training images per person
(`bigjax.evals.faces`) and is read once on the test images:
  identification  rank-1 accuracy of the 200 test images against the 200 training images (1-NN, euclidean);
  verification    ROC AUC and TAR at FAR = 1% and 0.1% over all 19,900 pairs of test images (400 same,
                  19,500 different), scored by minus their euclidean distance in the method's space.
Methods: "pixels" (1-NN on raw pixels, the floor); "eigenfaces" (PCA, its component count chosen on validation);
"fisherfaces" (the paper's PCA to N - c, then LDA to c - 1); "fisherfaces, PCA chosen" (PCA dimension chosen on
validation, then LDA to c - 1). A count is chosen by rank-1 accuracy on validation: within each split's training
images one per person is held out (the rule of `vision_sets.orl_dataset`: first in `seeded_order` by seed + 1000)
and identified against the other 4 per person; ties go to the smaller count. The basis is then refitted on all 5.

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
from bigjax.evals import faces  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
EIGEN_COUNTS = (10, 20, 40, 60, 80, 100, 150)
FISHER_PCA_COUNTS = (40, 60, 80, 100, 120)  # validation fits 160 images of 40 people: N - c = 120 at most
FARS = (1e-2, 1e-3)
METHODS = ("pixels", "eigenfaces", "fisherfaces", "fisherfaces_pca_chosen")
LABELS = {"pixels": "pixels, 1-NN", "eigenfaces": "eigenfaces (k on validation)",
          "fisherfaces": "fisherfaces (PCA to N - c)", "fisherfaces_pca_chosen": "fisherfaces (PCA on validation)"}


def choose(accuracy: dict[int, float]) -> int:
  """The count of highest validation accuracy; the smallest among equals."""
  return min(accuracy, key=lambda count: (-accuracy[count], count))


def test_metrics(gallery, gallery_labels, probes, probe_labels) -> dict[str, float]:
  scores, same = faces.verification_scores(probes, probe_labels, "euclidean")
  return {"identification": faces.identification_accuracy(gallery, gallery_labels, probes, probe_labels,
                                                          "euclidean"),
          "auc": faces.roc_auc(scores, same),
          **{f"tar_at_far_{far:g}": faces.tar_at_far(scores, same, far) for far in FARS}}


def one_split(images: np.ndarray, labels: np.ndarray, seed: int) -> dict:
  train, test = vision_sets.orl_split(seed)
  held = vision_sets.orl_validation_rows(train, labels, seed)  # the neural runs' validation faces
  fit = np.setdiff1d(train, held)

  def validation_accuracy(mean, basis):
    return faces.identification_accuracy(faces.project(images[fit], mean, basis), labels[fit],
                                         faces.project(images[held], mean, basis), labels[held], "euclidean")

  def on_test(mean, basis):
    return test_metrics(faces.project(images[train], mean, basis), labels[train],
                        faces.project(images[test], mean, basis), labels[test])

  out = {"seed": seed, "pixels": test_metrics(images[train].reshape(len(train), -1), labels[train],
                                              images[test].reshape(len(test), -1), labels[test])}
  mean, basis = faces.pca_projection(images[fit], max(EIGEN_COUNTS))  # the top k of it are PCA to k
  eigen_val = {k: validation_accuracy(mean, basis[:, :k]) for k in EIGEN_COUNTS}
  k = choose(eigen_val)
  out["eigenfaces"] = {"components": k, "validation": eigen_val, **on_test(*faces.pca_projection(images[train], k))}
  out["fisherfaces"] = {"pca_components": len(train) - vision_sets.ORL_SUBJECTS,
                        "validation": validation_accuracy(*faces.fisher_projection(images[fit], labels[fit])),
                        **on_test(*faces.fisher_projection(images[train], labels[train]))}
  fisher_val = {m: validation_accuracy(*faces.fisher_projection(images[fit], labels[fit], pca_components=m))
                for m in FISHER_PCA_COUNTS}
  m = choose(fisher_val)
  out["fisherfaces_pca_chosen"] = {
      "pca_components": m, "validation": fisher_val,
      **on_test(*faces.fisher_projection(images[train], labels[train], pca_components=m))}
  return out


def summarise(per_seed: list[dict]) -> dict:
  summary = {}
  for method in METHODS:
    values = {name: [s[method][name] for s in per_seed] for name in per_seed[0]["pixels"]}
    summary[method] = {name: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else None}
                       for name, v in values.items()}
  summary["eigenfaces"]["chosen_components"] = [s["eigenfaces"]["components"] for s in per_seed]
  summary["fisherfaces_pca_chosen"]["chosen_pca_components"] = [s["fisherfaces_pca_chosen"]["pca_components"]
                                                                for s in per_seed]
  return summary


def markdown(per_seed: list[dict], summary: dict) -> str:
  def pct(stat):
    return f"{100 * stat['mean']:.2f}%" + ("" if stat["std"] is None else f" ± {100 * stat['std']:.2f}")

  chosen = {"eigenfaces": "k = " + ", ".join(map(str, summary["eigenfaces"]["chosen_components"])),
            "fisherfaces": "PCA to N - c = 160",
            "fisherfaces_pca_chosen": "PCA to " + ", ".join(
                map(str, summary["fisherfaces_pca_chosen"]["chosen_pca_components"]))}
  lines = [f"ORL, 5 train / 5 test per person, split seeds {', '.join(str(s['seed']) for s in per_seed)}: "
           "mean ± std (sample) over seeds",
           "", "| method | rank-1 identification | verification AUC | TAR @ FAR 1% | TAR @ FAR 0.1% | per seed |",
           "|---|---|---|---|---|---|"]
  for method in METHODS:
    s = summary[method]
    lines.append(f"| {LABELS[method]} | {pct(s['identification'])} | {pct(s['auc'])} | "
                 f"{pct(s['tar_at_far_0.01'])} | {pct(s['tar_at_far_0.001'])} | {chosen.get(method, '')} |")
  lines += ["", "Rank-1 identification per seed:", "",
            "| seed | " + " | ".join(LABELS[m] for m in METHODS) + " |", "|---" * (len(METHODS) + 1) + "|"]
  for s in per_seed:
    lines.append(f"| {s['seed']} | " + " | ".join(f"{100 * s[m]['identification']:.1f}%" for m in METHODS) + " |")
  return "\n".join(lines)


PROTOCOL = {"split": "vision_sets.orl_split(seed): 5 train / 5 test per person",
            "validation": "1 of the 5 training images per person (orl_dataset's rule), gallery the other 4; counts "
                          "chosen by validation rank-1, ties to the smaller",
            "eigen_counts": list(EIGEN_COUNTS), "fisher_pca_counts": list(FISHER_PCA_COUNTS),
            "identification": "rank-1, gallery = the 5 training images per person, euclidean",
            "verification": "all pairs of test images, score = -euclidean distance", "fars": list(FARS)}


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--json", type=pathlib.Path, help="write the record here (never over an existing file)")
  parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)), help="orl_split seeds")
  parser.add_argument("--data_dir", default=None, help="the data root holding orl_faces/ (default: bigjax's)")
  args = parser.parse_args(argv)
  if writers.save_new_record(args.json, None):
    return 2
  start = time.time()
  try:
    images, labels = vision_sets.load_orl_faces(args.data_dir)
  except core.DataError as error:
    print(f"error: {error}", file=sys.stderr)
    return 1
  per_seed = [one_split(images, labels, seed) for seed in args.seeds]
  summary = summarise(per_seed)
  record = runs.script_record("ORL 5/5 classical face-recognition baselines (scripts/face_baselines.py docstring)",
                              "scripts/face_baselines.py", argv, start,
                              argv=sys.argv if argv is None else ["scripts/face_baselines.py", *argv],
                              protocol=PROTOCOL, summary=summary, per_seed=per_seed)
  if writers.save_new_record(args.json, record):
    return 2
  print(markdown(per_seed, summary))
  print(f"\n{len(args.seeds)} splits in {record['wall_time_s']:.1f} s" +
        (f"; record: {args.json}" if args.json is not None else ""))
  return 0


if __name__ == "__main__":
  sys.exit(main())
