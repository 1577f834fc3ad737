"""Every family's speed on one accelerator, in one go: the driver behind ``bench/accelerator_check.sh``.

Each check is a real ``python -m bigjax.main`` run of a repository config in its own workdir under
``OUT/runs/``; what it measured is read back from its ``results.json`` and ``metrics.jsonl`` and written,
check by check, to ``OUT/accelerator_check.json`` (so a check cut short by the time budget leaves the others'
numbers). The checks run in order of importance and stop starting new ones when the budget left is below a
check's own allowance (it is then recorded as skipped, with why).

  char_gpt         the full shakespeare_char_gpt config (nanoGPT's 5000 steps): wall time, training tokens/s,
                   MFU, the lowest validation loss on its curve and the last; targets: <= 1.47 (nanoGPT's 1.4697
                   on an A100) in less wall time than nanoGPT's ~3 minutes
  gpt2_small_bf16  configs/gpt2_small_random.py (GPT-2 small's shape, bf16, random tokens): MFU; target >= 50%
  seed_cnn, neumf  the overview's seed CNN on MNIST, NeuMF on MovieLens-1M: steps/s
  the rest         every newer family with a config, a few hundred steps each: steps/s (and MFU where known)

Speed checks other than char_gpt train ``steps`` steps (rounded up to whole calls), evaluate once at the end on
``eval_examples`` validation examples, and read no test split. ``--dry-run`` runs every check on the CPU at toy
sizes (the configs' smoke and cpu variants, a few steps): the whole path, in CI, so it cannot rot.

Usage (bench/accelerator_check.sh sets up Python first):
  python bench/accelerator_check.py --out=DIR [--dry-run] [--budget-s=420] [--only=char_gpt,neumf]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import shlex
import statistics
import subprocess
import sys
import time
from typing import Any

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# name, what, config (full run), config (dry run), steps (0: the config's own), allowance in seconds (the budget
# a check needs left to start), data it reads (a path under the data root; None: none), targets.
CHECKS: list[dict[str, Any]] = [
    dict(name="char_gpt", what="full shakespeare_char_gpt (nanoGPT's recipe), float32 as configured",
         config="configs/shakespeare_char_gpt.py", dry="configs/shakespeare_char_gpt.py:cpu_smoke", steps=0,
         allowance=200, data="tinyshakespeare/input.txt",
         targets={"lowest_validation_loss": ("<=", 1.47), "wall_time_s": ("<", 180.0)}),
    dict(name="gpt2_small_bf16", what="GPT-2 small's shape on random tokens, bf16 compute",
         config="configs/gpt2_small_random.py", dry="configs/gpt2_small_random.py:cpu", steps=0, allowance=120,
         data=None, targets={"mfu": (">=", 0.50)}),
    dict(name="seed_cnn", what="the overview's seed CNN on MNIST", config="configs/mnist_seed_cnn.py",
         dry="configs/mnist_seed_cnn.py:smoke", steps=600, allowance=45, data="mnist"),
    dict(name="neumf", what="NeuMF on MovieLens-1M", config="configs/ml1m_neumf.py", dry="configs/ml1m_neumf.py",
         steps=600, allowance=60, data="ml-1m"),
    dict(name="vit", what="ViT on MNIST", config="configs/mnist_vit.py", dry="configs/mnist_vit.py:smoke",
         steps=300, allowance=40, data="mnist"),
    dict(name="char_lstm", what="character LSTM on Tiny Shakespeare", config="configs/shakespeare_char_lstm.py",
         dry="configs/shakespeare_char_lstm.py:smoke", steps=300, allowance=40, data="tinyshakespeare/input.txt"),
    dict(name="text_cnn", what="Kim's CNN on MR", config="configs/text_cnn_mr.py", dry="configs/text_cnn_mr.py",
         steps=300, allowance=40, data="mr"),
    dict(name="dcgan", what="DCGAN with InfoGAN's code on MNIST (its scorer's smoke classifier trained first)",
         config="configs/mnist_dcgan.py", dry="configs/mnist_dcgan.py:smoke", steps=300, allowance=90, data="mnist",
         prepare=("configs/mnist_gan_evaluator.py:smoke", "task.evaluator_workdir")),
    dict(name="sasrec", what="SASRec on MovieLens-100k", config="configs/ml100k_sasrec.py",
         dry="configs/ml100k_sasrec.py:smoke", steps=300, allowance=40, data="ml-100k"),
    dict(name="word2vec", what="skip-gram word2vec on the text corpus", config="configs/word2vec_text_corpus.py",
         dry="configs/word2vec_text_corpus.py:smoke", steps=300, allowance=40, data="text_corpus"),
    dict(name="unet", what="U-Net on the ISBI 2012 EM slices", config="configs/unet_isbi_em.py",
         dry="configs/unet_isbi_em.py:smoke", steps=100, allowance=50, data="isbi_em"),
    dict(name="centernet", what="CenterNet on the raccoon boxes", config="configs/centernet_raccoon.py",
         dry="configs/centernet_raccoon.py:smoke", steps=100, allowance=50, data="raccoon"),
    dict(name="face", what="face recognition CNN on ORL", config="configs/face_orl.py", dry="configs/face_orl.py:smoke",
         steps=200, allowance=40, data="orl_faces"),
    dict(name="translation", what="Transformer on Multi30k (packed)", config="configs/transformer_multi30k.py",
         dry="configs/transformer_multi30k.py:smoke", steps=200, allowance=60, data="multi30k"),
    dict(name="social", what="TrustSVD on FilmTrust", config="configs/social_filmtrust.py:trustsvd",
         dry="configs/social_filmtrust.py:trustsvd", steps=300, allowance=40, data="filmtrust"),
]
DRY_STEPS = 4  # calls' worth of steps a dry check trains (at least one log interval)
EVAL_EXAMPLES = {False: 256, True: 16}  # validation examples a speed check evaluates at its end (dry run: True)


def _metrics(workdir: pathlib.Path) -> list[dict[str, Any]]:
  path = workdir / "metrics.jsonl"
  return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def _median_rate(records: list[dict[str, Any]], key: str) -> float | None:
  """The median of a logged rate, leaving out the first interval (it holds the first calls' warm-up) when there
  are three or more."""
  values = [r[key] for r in sorted(records, key=lambda r: r["step"]) if key in r]
  if len(values) >= 3:
    values = values[1:]
  return statistics.median(values) if values else None


def _met(value: float | None, rule: tuple[str, float]) -> bool | None:
  if value is None:
    return None
  op, bound = rule
  return {"<=": value <= bound, "<": value < bound, ">=": value >= bound}[op]


def _run(command: list[str], log: Any, timeout: float) -> int | None:
  """The command's exit status, its output appended to ``log``; None when it ran past ``timeout``."""
  try:
    return subprocess.run(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, timeout=max(timeout, 1.0),
                          env={**os.environ, "PYTHONUNBUFFERED": "1"}).returncode
  except subprocess.TimeoutExpired:
    return None


def plan_command(check: dict[str, Any], workdir: pathlib.Path, dry_run: bool) -> list[str]:
  """The check's ``bigjax.main`` command: its config, and for a speed check a fixed number of whole calls, one
  evaluation at the end on a few examples, no test split, a checkpoint only at the end."""
  from bigjax import configs  # pylint: disable=import-outside-toplevel  (after sys.path has the repo)
  spec = check["dry"] if dry_run else check["config"]
  command = [sys.executable, "-m", "bigjax.main", f"--config={spec}", f"--workdir={workdir}"]
  config = configs.load(spec, lock=False)
  per_call = max(int(config.train.steps_per_call), 1)
  if dry_run:
    steps = DRY_STEPS * per_call
  elif check["steps"]:
    steps = math.ceil(check["steps"] / per_call) * per_call
  else:
    return command  # the config as it is (char_gpt, gpt2_small_bf16)
  log_every = per_call * max(1, math.ceil(steps / per_call / 4))  # about four logged intervals
  command += [f"--config.train.num_steps={steps}", f"--config.train.log_every_steps={log_every}",
              f"--config.train.eval_every_steps={steps}", f"--config.train.checkpoint_every_steps={steps}",
              "--config.data.test_split=", f"--config.data.eval_examples={EVAL_EXAMPLES[dry_run]}"]
  return command


def run_check(check: dict[str, Any], out: pathlib.Path, dry_run: bool, time_left: float,
              data_root: pathlib.Path) -> dict[str, Any]:
  record: dict[str, Any] = {"name": check["name"], "what": check["what"]}
  if check["data"] and not (data_root / check["data"]).exists():
    return {**record, "status": "skipped", "reason": f"no data at {data_root / check['data']}"}
  if time_left < check["allowance"]:
    return {**record, "status": "skipped",
            "reason": f"{time_left:.0f} s of the budget left, below its allowance of {check['allowance']} s"}
  workdir = out / "runs" / check["name"]
  if workdir.exists() and any(workdir.iterdir()):
    return {**record, "status": "failed", "reason": f"{workdir} already holds a run; use a new --out"}
  command = plan_command(check, workdir, dry_run)
  start = time.perf_counter()
  log = out / "logs" / f"{check['name']}.log"
  log.parent.mkdir(parents=True, exist_ok=True)
  with open(log, "w") as f:
    code: int | None = 0
    if check.get("prepare"):  # a run the check's config needs (the GAN's scoring classifier), trained first
      spec, field = check["prepare"]
      prepared = out / "runs" / f"{check['name']}_prepare"
      code = _run([sys.executable, "-m", "bigjax.main", f"--config={spec}", f"--workdir={prepared}"], f, time_left)
      command.append(f"--config.{field}={prepared}")
    record["command"] = shlex.join(["python", *command[1:]])
    if code == 0:
      code = _run(command, f, time_left - (time.perf_counter() - start))
  record["elapsed_s"] = time.perf_counter() - start
  if code is None:
    return {**record, "status": "failed", "reason": f"stopped at the budget's end after {record['elapsed_s']:.0f} s"}
  if code != 0 or not (workdir / "results.json").exists():
    tail = log.read_text()[-1500:]
    return {**record, "status": "failed", "reason": f"exit {code}", "log_tail": tail}
  results = json.loads((workdir / "results.json").read_text())
  records = _metrics(workdir)
  config = results["config"]
  steps_per_s = _median_rate(records, "perf/steps_per_s")
  record.update(
      status="ok", steps=results["steps"], wall_time_s=results["wall_time_s"],
      compile_time_s=results["compile_time_s"], train_time_s=results["train_time_s"],
      num_params=results["num_params"], model_dtype=config["model"].get("dtype", "float32"),
      batch_size=config["data"]["batch_size"], steps_per_s=steps_per_s,
      examples_per_s=_median_rate(records, "perf/examples_per_s"),
      flops_per_step=results.get("flops_per_step"), tflops_per_s=_median_rate(records, "perf/tflops_per_s"),
      mfu=_median_rate(records, "perf/mfu"), device_peak_tflops=results.get("device_peak_tflops"),
      final_metrics={k: v for k, v in results["final_metrics"].items() if not k.startswith("train/")})
  seq_len = config["data"].get("seq_len")
  if seq_len and record["examples_per_s"]:
    record["tokens_per_s"] = record["examples_per_s"] * seq_len
  curve = [(r["step"], r["validation/loss"]) for r in records if "validation/loss" in r]
  if curve:
    step, loss = min(curve, key=lambda x: x[1])
    record.update(lowest_validation_loss=loss, lowest_validation_loss_step=step)
  if check.get("targets") and not dry_run:
    record["targets"] = {key: {"rule": f"{op} {bound}", "value": record.get(key), "met": _met(record.get(key), (op, bound))}
                         for key, (op, bound) in check["targets"].items()}
  return record


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--out", required=True, help="folder for accelerator_check.json, runs/ and logs/")
  parser.add_argument("--dry-run", action="store_true", help="toy sizes on the CPU: the whole path in minutes")
  parser.add_argument("--budget-s", type=float, default=420.0, help="time for all checks together")
  parser.add_argument("--only", default="", help="comma-separated check names (default: all)")
  args = parser.parse_args(argv)
  names = [c["name"] for c in CHECKS]
  only = [n for n in args.only.split(",") if n]
  unknown = [n for n in only if n not in names]
  if unknown or args.budget_s <= 0:
    what = f"unknown check {unknown[0]!r} (known: {', '.join(names)})" if unknown else f"--budget-s={args.budget_s}"
    print(f"accelerator_check: error: {what}", file=sys.stderr)
    return 2
  out = pathlib.Path(args.out).resolve()
  path = out / "accelerator_check.json"
  if path.exists():
    print(f"accelerator_check: error: {path} exists; use a new --out (nothing was overwritten)", file=sys.stderr)
    return 2
  out.mkdir(parents=True, exist_ok=True)
  import jax  # pylint: disable=import-outside-toplevel
  from bigjax import runs  # pylint: disable=import-outside-toplevel
  from bigjax.data import core  # pylint: disable=import-outside-toplevel
  device = jax.devices()[0]
  report: dict[str, Any] = {
      "script": "bench/accelerator_check.sh", "dry_run": args.dry_run, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
      "git_revision": runs.git_revision(), "jax_version": jax.__version__, "platform": device.platform,
      "device_kind": device.device_kind, "device_count": jax.device_count(), "budget_s": args.budget_s,
      "checks": []}
  data_root = core.default_data_dir()
  start = time.perf_counter()
  for check in CHECKS:
    if only and check["name"] not in only:
      continue
    left = args.budget_s - (time.perf_counter() - start)
    record = run_check(check, out, args.dry_run, left, data_root)
    report["checks"].append(record)
    report["elapsed_s"] = time.perf_counter() - start
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    tmp.replace(path)
    shown = {k: record.get(k) for k in ("steps_per_s", "tokens_per_s", "mfu", "lowest_validation_loss",
                                         "wall_time_s") if record.get(k) is not None}
    print(f"{record['name']:16s} {record['status']:8s} " + (record.get("reason") or
          "  ".join(f"{k}={v:.4g}" for k, v in shown.items())), flush=True)
  failed = [r["name"] for r in report["checks"] if r["status"] == "failed"]
  print(f"wrote {path}" + (f"; failed: {', '.join(failed)}" if failed else ""))
  return 1 if failed else 0


if __name__ == "__main__":
  sys.exit(main())
