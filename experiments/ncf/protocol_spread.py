"""How far one trained model's leave-one-out HR@10 / NDCG@10 move with the draw of the 99 test negatives.

  python experiments/ncf/protocol_spread.py --draws 20 --json experiments/ncf/protocol_spread_constant.json RUN [RUN ...]

Each RUN is a finished workdir (its ``config.json`` and newest checkpoint). Its model is scored on the run's own
test candidates first, which must give the HR@10 / NDCG@10 of its ``results.json`` (a check that the scoring here
is the run's), then on ``--draws`` other draws of 99 negatives per user (``data.eval_negatives_seed`` =
``--first_seed``, ``--first_seed`` + 1, ...; the held-out items and the model stay the same). The record holds
every draw's numbers and, per run and over all runs, their mean, standard deviation, min and max: the part of a
reported number that comes from which negatives the protocol happened to draw, next to the seed-to-seed spread of
training. Runs whose source brings its own negatives (NCF's ML-1M files) have no draw to vary and are refused.
"""

import argparse
import json
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
from bigjax import program, runs  # noqa: E402
from bigjax.tasks import recommendation  # noqa: E402

METRICS = ("hr@10", "ndcg@10")


def summary(values: list[float]) -> dict[str, float]:
  v = np.asarray(values, np.float64)
  return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
          "min": float(v.min()), "max": float(v.max()), "n": int(len(v))}


def run_spread(workdir: pathlib.Path, seeds: list[int]) -> dict:
  """The run's own numbers, re-scored, and its numbers under each negatives seed in ``seeds``."""
  config, model, params = runs.restore_params(workdir)
  if config.task.name != "recommendation" or config.data.history_len:
    raise ValueError(f"{workdir}: a {config.task.name} run{' over sequences' if config.data.history_len else ''}; "
                     f"this scores the pointwise recommendation models")
  if tuple(config.task.top_k)[:1] != (10,):
    raise ValueError(f"{workdir}: config.task.top_k={tuple(config.task.top_k)} does not start with 10")
  test = program.load_split(config.data, config.data.eval_split)
  interactions = test.vocab.interactions
  if interactions.test_negatives is not None:
    raise ValueError(f"{workdir}: {interactions.name} brings its own test negatives (source "
                     f"{config.data.source!r}); there is no draw to vary")
  if config.data.eval_examples > 0:  # the users the run scored (smoke runs score a prefix)
    test = test.prefix(config.data.eval_examples)
  users = jnp.asarray(test.arrays["user"])
  score = jax.jit(lambda candidates: recommendation.evaluate(
      model, params, {"user": users, "candidates": candidates, "mask": jnp.ones(users.shape)}, config.task))

  def numbers(candidates: np.ndarray) -> dict[str, float]:
    out = jax.device_get(score(jnp.asarray(candidates[np.asarray(users)])))
    return {m: float(out[m] / out["count"]) for m in METRICS}

  own = numbers(test.arrays["candidates"])
  recorded = json.loads((workdir / "results.json").read_text())["final_metrics"]
  split = config.data.eval_split
  for m in METRICS:
    if abs(own[m] - recorded[f"{split}/{m}"]) > 1e-6:
      raise RuntimeError(f"{workdir}: re-scored {m} {own[m]:.6f} against its results.json "
                         f"{recorded[f'{split}/{m}']:.6f}: this is not the checkpoint the run evaluated")
  draws = {seed: numbers(interactions.test_candidates(seed)) for seed in seeds}
  return {"workdir": str(workdir), "eval_split": split, "own_seed": int(config.data.eval_negatives_seed),
          "own": own, "draws": {str(s): d for s, d in draws.items()},
          **{m: summary([d[m] for d in draws.values()]) for m in METRICS}}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("runs", nargs="+", help="finished recommendation workdirs")
  parser.add_argument("--draws", type=int, default=20, help="draws of the test negatives per run")
  parser.add_argument("--first_seed", type=int, default=1000,
                      help="data.eval_negatives_seed of the first draw (the runs' own is 0)")
  parser.add_argument("--json", default="")
  args = parser.parse_args()
  if args.draws < 2:
    parser.error(f"--draws={args.draws}: a spread needs at least 2 draws")
  seeds = list(range(args.first_seed, args.first_seed + args.draws))
  runs = [run_spread(pathlib.Path(r), seeds) for r in args.runs]
  record = {"runs": runs, "draws": args.draws, "first_seed": args.first_seed,
            # one draw's deviation from its run's mean, pooled over runs: the draw's own spread
            **{f"pooled_{m}_std": float(np.sqrt(np.mean([r[m]["std"] ** 2 for r in runs]))) for m in METRICS},
            # every draw of every run: the runs' mean away from one draw's luck
            **{f"mean_{m}": float(np.mean([r[m]["mean"] for r in runs])) for m in METRICS},
            # the best any run scores on any draw, its own included
            **{f"highest_{m}": max(max(r[m]["max"], r["own"][m]) for r in runs) for m in METRICS},
            "git_revision": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()}
  for r in runs:
    print(f"{r['workdir']}: own draw " + ", ".join(f"{m} {r['own'][m]:.4f}" for m in METRICS) + f"; {args.draws} draws "
          + ", ".join(f"{m} {r[m]['mean']:.4f} +- {r[m]['std']:.4f} [{r[m]['min']:.4f}, {r[m]['max']:.4f}]"
                      for m in METRICS))
  print("pooled std of one draw: " + ", ".join(f"{m} {record[f'pooled_{m}_std']:.4f}" for m in METRICS)
        + "; mean over runs and draws: " + ", ".join(f"{m} {record[f'mean_{m}']:.4f}" for m in METRICS)
        + "; highest over runs and draws: " + ", ".join(f"{m} {record[f'highest_{m}']:.4f}" for m in METRICS))
  if args.json:
    pathlib.Path(args.json).write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
  main()
