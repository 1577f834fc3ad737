"""How far nanoGPT's validation estimate spreads around the full validation loss, on our trained models.

nanoGPT's ``estimate_loss`` averages the loss of ``eval_iters`` random batches of ``batch_size`` windows of
``block_size`` characters, each starting at a uniformly random offset of the validation text. Its README's CPU
recipe passes ``--eval_iters=20`` with batch 12 and block 64: 240 windows, 15,360 characters. Our records
score every validation character once. Both measure the same expectation; this script measures how much
nanoGPT's 240-window figure scatters around it:

1. for each run, the loss of every window that starts at a multiple of ``--stride`` (all of them at
   stride 1), averaged over its ``block_size`` positions, as nanoGPT's estimator averages them;
2. ``--draws`` repetitions of nanoGPT's estimator, each the mean of ``eval_iters * batch_size`` of those
   windows drawn with replacement at uniform offsets (its ``torch.randint``);
3. the spread of those draws: mean, standard deviation, percentiles, and how often one lands at or below
   ``--target``.

  python experiments/shakespeare_char/nanogpt_estimator.py \\
      --workdirs runs/shakespeare_char_gpt_cpu runs/shakespeare_char_gpt_cpu_seed1 runs/shakespeare_char_gpt_cpu_seed2 \\
      --json experiments/shakespeare_char/nanogpt_estimator.json
"""

import argparse
import json
import pathlib
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from bigjax import sample
from bigjax.data import text
from bigjax.tasks import language_model


def window_losses(model, params, val_ids: np.ndarray, block: int, stride: int, batch: int = 512) -> np.ndarray:
  """Mean next-character loss of the window of ``block + 1`` characters at each offset ``0, stride, ...``."""
  starts = np.arange(0, len(val_ids) - block, stride)

  @jax.jit
  def batch_loss(tokens):
    logits = language_model.logits_of(model, params, tokens[:, :-1])
    return optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, 1:]).mean(axis=1)

  out = []
  for i in range(0, len(starts), batch):
    rows = starts[i:i + batch]
    tokens = val_ids[rows[:, None] + np.arange(block + 1)]
    if len(rows) < batch:  # one compiled shape: pad the last batch and drop the padding
      tokens = np.concatenate([tokens, np.zeros((batch - len(rows), block + 1), tokens.dtype)])
    out.append(np.asarray(batch_loss(jnp.asarray(tokens)))[:len(rows)])
  return np.concatenate(out).astype(np.float64)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdirs", nargs="+", required=True, help="runs of shakespeare_char_gpt:cpu")
  parser.add_argument("--eval_iters", type=int, default=20, help="nanoGPT's README CPU recipe: 20")
  parser.add_argument("--batch_size", type=int, default=12)
  parser.add_argument("--stride", type=int, default=1, help="offsets scored: every one by default")
  parser.add_argument("--draws", type=int, default=100_000)
  parser.add_argument("--target", type=float, default=1.88)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--json", type=pathlib.Path)
  args = parser.parse_args(argv)

  _, val_ids, _ = text.tiny_shakespeare()
  val_ids = np.asarray(val_ids, np.int32)
  rng = np.random.default_rng(args.seed)
  per_estimate = args.eval_iters * args.batch_size
  rows, table = [], ["| run | step | full validation loss | windows scored | nanoGPT estimate: mean | std | "
                     "5th pct | 1st pct | min | P(estimate <= %.2f) |" % args.target, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
  for workdir in map(pathlib.Path, args.workdirs):
    start = time.perf_counter()
    model, params, _ = sample.load_run(workdir)
    block = model.max_len
    losses = window_losses(model, params, val_ids, block, args.stride)
    record = json.loads((workdir / "results.json").read_text())
    draws = losses[rng.integers(0, len(losses), size=(args.draws, per_estimate))].mean(axis=1)
    row = {
        "workdir": str(workdir), "step": record["steps"], "full_validation_loss": record["final_metrics"]["validation/loss"],
        "windows_scored": int(len(losses)), "mean_window_loss": float(losses.mean()),
        "window_loss_std": float(losses.std()), "estimate_mean": float(draws.mean()),
        "estimate_std": float(draws.std()), "estimate_p5": float(np.percentile(draws, 5)),
        "estimate_p1": float(np.percentile(draws, 1)), "estimate_min": float(draws.min()),
        "p_at_or_below_target": float((draws <= args.target).mean()), "seconds": time.perf_counter() - start}
    rows.append(row)
    table.append(f"| `{workdir.name}` | {row['step']} | {row['full_validation_loss']:.4f} | {row['windows_scored']:,} | "
                 f"{row['estimate_mean']:.4f} | {row['estimate_std']:.4f} | {row['estimate_p5']:.4f} | "
                 f"{row['estimate_p1']:.4f} | {row['estimate_min']:.4f} | {row['p_at_or_below_target']:.3f} |")
    print(table[-1], flush=True)
  print("\n".join(table))
  if args.json:
    revision = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    args.json.write_text(json.dumps({
        "command": "python " + " ".join([sys.argv[0], *(argv or sys.argv[1:])]), "git_revision": revision,
        "estimator": {"eval_iters": args.eval_iters, "batch_size": args.batch_size,
                      "windows_per_estimate": per_estimate, "draws": args.draws, "seed": args.seed},
        "target": args.target, "runs": rows, "table_markdown": "\n".join(table)}, indent=1) + "\n")
  return 0


if __name__ == "__main__":
  sys.exit(main())
