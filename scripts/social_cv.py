"""Cross-validation of a social-rating sweep: per fold, the run of lowest validation RMSE, then its test fold.

  python -m bigjax.sweep --config=configs/social_filmtrust.py:trustsvd --workdir=runs/social/filmtrust/trustsvd
  python scripts/social_cv.py runs/social/filmtrust/trustsvd

The sweep's runs (``configs/common_social.py``: folds 0-4 x regularisation weights) trained on their fold's
training part and were scored on its validation 10% only. For each fold this picks the finished run with the lowest
``--metric`` (``validation/rmse``; a test metric is refused, ``bigjax.selection``), scores that run's final
parameters on the test fold (``bigjax.evaluate``: ``<run>/eval_test.json``; a run already scored is not scored
again, so the test fold is read once), ranks each test rating's item among the items its user did not rate in
training (``tasks/rating.ranking``: HR@10 and NDCG@10; ``<run>/ranking_test.json``), and writes ``<root>/cv.json``:
each fold's candidates, choice, validation and test metrics, and each test metric's mean, sample std and values
over the folds.

Exit status 2, nothing written, when the root is not a finished sweep of 5 folds or ``cv.json`` exists.
"""

import argparse
import json
import math
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from bigjax import data, runs, selection, writers  # noqa: E402
from bigjax.evaluate import evaluate_workdir, output_path  # noqa: E402
from bigjax.tasks import rating  # noqa: E402

FOLDS = 5
TOP_K = 10
REPORTED = ("rmse", "mae", "cold_rmse", "cold_mae", "cold_fraction", f"hr@{TOP_K}", f"ndcg@{TOP_K}")


def fold_runs(root: pathlib.Path) -> dict[int, list[pathlib.Path]]:
  """``{fold: [run directories with a results.json]}`` under ``root``."""
  out: dict[int, list[pathlib.Path]] = {}
  for results in sorted(root.glob("*/results.json")):
    config = json.loads(results.read_text())["config"]
    out.setdefault(int(config["data"]["fold"]), []).append(results.parent)
  return out


def choose(candidates: list[pathlib.Path], metric: str) -> tuple[pathlib.Path, dict[str, float]]:
  """The run of lowest final ``metric`` and every candidate's value of it."""
  values = {run.name: json.loads((run / "results.json").read_text())["final_metrics"][metric] for run in candidates}
  best = min(candidates, key=lambda run: values[run.name])
  return best, values


def ranked(run: pathlib.Path) -> dict[str, float]:
  """``{"test/hr@10": .., "test/ndcg@10": ..}`` of ``run``'s final parameters, computed once into
  ``<run>/ranking_test.json``."""
  path = run / "ranking_test.json"
  if not path.exists():
    config, model, params = runs.restore_params(run)
    test = data.load_for_config(config.data, "test")
    values = rating.ranking(model, params, test.arrays["user"], test.arrays["item"], (TOP_K,))
    writers.write_json_new(path, {"split": "test", "metrics": {f"test/{k}": v for k, v in values.items()},
                                  "git_revision": runs.git_revision()})
  return json.loads(path.read_text())["metrics"]


def summary(folds: list[dict]) -> dict[str, dict]:
  out = {}
  for name in REPORTED:
    if any(f"test/{name}" not in f["test"] for f in folds):
      continue
    values = [f["test"][f"test/{name}"] for f in folds]
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else float("nan")
    out[f"test/{name}"] = {"mean": mean, "std": std, "values": values}
  return out


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("root", type=pathlib.Path)
  parser.add_argument("--metric", default="validation/rmse", help="chosen on (lowest wins)")
  args = parser.parse_args(argv)
  start = time.time()
  try:
    selection.check_selectable(args.metric, "the run of each fold")
  except selection.SelectionError as error:
    print(f"social_cv.py: {error}", file=sys.stderr)
    return 2
  out_path = args.root / "cv.json"
  if out_path.exists():
    print(f"social_cv.py: {out_path} exists; remove it to choose again", file=sys.stderr)
    return 2
  by_fold = fold_runs(args.root) if args.root.is_dir() else {}
  if sorted(by_fold) != list(range(FOLDS)):
    print(f"social_cv.py: {args.root}: finished runs for folds {sorted(by_fold)}, expected 0-{FOLDS - 1} (a "
          f"finished sweep of configs/social_*.py)", file=sys.stderr)
    return 2
  folds = []
  for fold in range(FOLDS):
    best, values = choose(by_fold[fold], args.metric)
    scored = output_path(best, "test")
    if not scored.exists():
      evaluate_workdir(best, "test")  # writes it
    record = json.loads(scored.read_text())
    record["metrics"].update(ranked(best))
    results = json.loads((best / "results.json").read_text())
    folds.append({"fold": fold, "chosen": best.name, "candidates": values,
                  "validation": {k: v for k, v in results["final_metrics"].items() if k.startswith("validation/")},
                  "test": record["metrics"], "wall_time_s": results["wall_time_s"]})
    print(f"fold {fold}: {best.name}  {args.metric}={values[best.name]:.4f}  test/rmse={record['metrics']['test/rmse']:.4f}"
          f"  test/mae={record['metrics']['test/mae']:.4f}  test/hr@{TOP_K}={record['metrics'][f'test/hr@{TOP_K}']:.4f}")
  record = runs.script_record("social rating cross-validation: per fold, the run of lowest validation RMSE, "
                              "scored once on its test fold", "scripts/social_cv.py", argv, start,
                              root=str(args.root), metric=args.metric, folds=folds, summary=summary(folds))
  status = writers.save_new_record(out_path, record)
  if status:
    return status
  for name, s in record["summary"].items():
    print(f"{name}: {s['mean']:.4f} ± {s['std']:.4f}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
