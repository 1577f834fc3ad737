"""Side by side: the seed's MNIST CNN in Keras, PyTorch and bigjax, on this machine.

Runs each framework in its own subprocess, one after another (never two at once, so they
don't fight over the CPU's threads), with the same epochs, batch size and MNIST files:

  keras   bench/keras_seed_cnn.py    the seed's own code (Keras 3 on TensorFlow)
  torch   bench/torch_seed_cnn.py    the same model in eager PyTorch
  bigjax  python -m bigjax.main --config=configs/mnist_seed_cnn.py --workdir=TMP
              --config.train.num_epochs=E

then prints a Markdown table (wall time = training incl. compile/tracing + final test
evaluation, data loading excluded; ratio = wall time / Keras's wall time) with the machine,
git revision and date. A framework that is not installed or fails gets a row saying so.

  python bench/seed_cnn.py                               # 10 epochs, all three
  python bench/seed_cnn.py --epochs 1 --only keras,torch --json /tmp/seed_cnn.json
"""

import argparse
import collections
import datetime
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_DIR = os.path.join(REPO_ROOT, "bench")
FRAMEWORKS = ("keras", "torch", "bigjax")


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--epochs", type=int, default=10)
  p.add_argument("--batch-size", type=int, default=32)
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--only", default=",".join(FRAMEWORKS),
                 help="comma-separated subset of " + ",".join(FRAMEWORKS))
  p.add_argument("--bigjax-config", default="configs/mnist_seed_cnn.py")
  p.add_argument("--bigjax-flag", action="append", default=[], metavar="FLAG",
                 help="extra flag for bigjax.main, e.g. --bigjax-flag=--config.optim.lr=1e-3 (repeatable)")
  p.add_argument("--workdir", default=None, help="where runs write (default: a new temp dir, kept)")
  p.add_argument("--json", metavar="OUT", help="write machine info, runs and table as JSON")
  args = p.parse_args(argv)
  args.only = [name.strip() for name in args.only.split(",") if name.strip()]
  unknown = sorted(set(args.only) - set(FRAMEWORKS))
  if unknown:
    p.error(f"--only: unknown framework(s) {unknown}; choose from {list(FRAMEWORKS)}")
  return args


# --- machine & revision -------------------------------------------------------------------

def machine_info() -> dict:
  cpu_model = platform.processor() or "unknown"
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          cpu_model = line.split(":", 1)[1].strip()
          break
  except OSError:
    pass
  try:
    usable = len(os.sched_getaffinity(0))
  except AttributeError:
    usable = os.cpu_count()
  return {"cpu_model": cpu_model, "cpu_count": os.cpu_count(), "cpus_usable": usable,
          "platform": platform.platform(), "python": platform.python_version()}


def git_revision() -> str:
  def git(*cmd):
    return subprocess.run(["git", *cmd], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.strip()
  try:
    rev = git("rev-parse", "--short=12", "HEAD")
    return rev + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
  except (OSError, subprocess.CalledProcessError):
    return "unknown"


# --- bigjax config fields -------------------------------------------------------------------

def bigjax_overrides(config_path: str, batch_size: int, seed: int) -> list[str]:
  """`--config.X=V` flags that set the config's batch size and seed, where they differ.

  The config is read for its field names so the bench needn't hard-code them; a batch
  size it cannot set is an error (the comparison would be unfair), a seed is not.
  """
  if REPO_ROOT not in sys.path:  # bigjax, where it is not installed (the keras and torch rows don't need it)
    sys.path.insert(0, REPO_ROOT)
  from bigjax import configs, writers  # pylint: disable=import-outside-toplevel
  fields = writers.flatten(configs.load(config_path).to_dict())
  flags = []
  batch_keys = [k for k in fields if k.rsplit(".", 1)[-1] in ("batch_size", "global_batch_size")
                and not k.rsplit(".", 1)[0].endswith("eval")]
  batch_keys.sort(key=lambda k: (not k.startswith(("train.", "data.")), k))
  if not batch_keys:
    raise RuntimeError(f"{config_path} has no batch_size field; cannot run bigjax at batch {batch_size}")
  if fields[batch_keys[0]] != batch_size:
    flags.append(f"--config.{batch_keys[0]}={batch_size}")
  if "seed" in fields and fields["seed"] != seed:
    flags.append(f"--config.seed={seed}")
  return flags


# --- running one framework ------------------------------------------------------------------

def run_logged(name: str, cmd: list[str], log_path: str) -> tuple[int, list[str], float]:
  """Runs cmd, echoing its output prefixed with [name]; returns (rc, last lines, seconds)."""
  env = dict(os.environ, PYTHONUNBUFFERED="1",
             PYTHONPATH=os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")])))
  print(f"\n[{name}] $ {' '.join(cmd)}", flush=True)
  tail = collections.deque(maxlen=30)
  t0 = time.perf_counter()
  with open(log_path, "w") as log, subprocess.Popen(
      cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
    for line in proc.stdout:
      log.write(line)
      tail.append(line.rstrip())
      print(f"[{name}] {line}", end="", flush=True)
    rc = proc.wait()
  return rc, list(tail), time.perf_counter() - t0


def bigjax_run_command(workdir: str, config: str, overrides: list[str]) -> tuple[list[str] | None, str]:
  """``(bigjax.main command, its results.json)`` for a fresh run in ``workdir/bigjax_run``; the command is None
  (and the string says why) when that directory already holds a run, which bigjax would resume, not time."""
  run_dir = os.path.join(workdir, "bigjax_run")
  if os.path.exists(run_dir) and os.listdir(run_dir):
    return None, f"{run_dir} already holds a run; pass a new --workdir"
  return ([sys.executable, "-m", "bigjax.main", f"--config={config}", f"--workdir={run_dir}", *overrides],
          os.path.join(run_dir, "results.json"))


def run_and_read(row: dict, name: str, cmd: list[str] | None, out_json: str, workdir: str) -> dict:
  """Runs one framework's command (logged to ``workdir/<name>.log``) and returns ``row`` updated with its
  status and the JSON it wrote (``raw``), or with the error and the log's tail. ``cmd`` None (from
  ``bigjax_run_command``) fails the row with ``out_json`` as the reason."""
  if cmd is None:
    return dict(row, status="failed", error=out_json)
  log = os.path.join(workdir, f"{name}.log")
  rc, tail, process_s = run_logged(name, cmd, log)
  row.update(command=cmd, process_time_s=process_s, log=log)
  if rc != 0 or not os.path.exists(out_json):
    why = (f"exit code {rc}" if rc != 0 else f"no {out_json}") + f"; see {log}"
    return dict(row, status="failed", error=why, output_tail=tail[-10:])
  with open(out_json) as f:
    return dict(row, status="ok", raw=json.load(f))


def missing_reason(name: str, args) -> str | None:
  """Why a framework can't run here, or None."""
  if name == "keras":
    missing = [m for m in ("keras", "tensorflow") if importlib.util.find_spec(m) is None]
    return f"not installed: {', '.join(missing)} (pip install tensorflow-cpu keras)" if missing else None
  if name == "torch":
    return "not installed: torch (pip install torch, CPU build)" if importlib.util.find_spec("torch") is None else None
  if not os.path.exists(os.path.join(REPO_ROOT, "bigjax", "main.py")):
    return "bigjax/main.py not found"
  if not os.path.exists(os.path.join(REPO_ROOT, args.bigjax_config)):
    return f"{args.bigjax_config} not found"
  return None


def bench_row(name: str, args, workdir: str) -> dict:
  """Runs one framework; returns its normalised row (status 'ok', 'missing' or 'failed')."""
  row = {"framework": name, "epochs": args.epochs, "batch_size": args.batch_size}
  reason = missing_reason(name, args)
  if reason:
    print(f"\n[{name}] skipped: {reason}", flush=True)
    return dict(row, status="missing", error=reason)

  out_json = os.path.join(workdir, f"{name}.json")
  if name in ("keras", "torch"):
    cmd = [sys.executable, os.path.join(BENCH_DIR, f"{name}_seed_cnn.py"), "--epochs", str(args.epochs),
           "--batch-size", str(args.batch_size), "--seed", str(args.seed), "--json", out_json]
  else:
    try:
      overrides = bigjax_overrides(args.bigjax_config, args.batch_size, args.seed)
    except Exception as e:  # pylint: disable=broad-except
      print(f"\n[{name}] failed: {e}", flush=True)
      return dict(row, status="failed", error=f"reading {args.bigjax_config}: {e}")
    cmd, out_json = bigjax_run_command(workdir, args.bigjax_config,
                                       [f"--config.train.num_epochs={args.epochs}", *overrides, *args.bigjax_flag])

  row = run_and_read(row, name, cmd, out_json, workdir)
  if row["status"] != "ok":
    return row
  raw = row["raw"]

  if name == "keras":
    row.update(wall_time_s=raw["wall_time_s"], steps_per_s=raw["steady_steps_per_s"],
               test_accuracy=raw["test_accuracy"], versions=raw["versions"])
  elif name == "torch":
    row.update(wall_time_s=raw["wall_time_s"], steps_per_s=raw["steps_per_s"],
               test_accuracy=raw["test_accuracy"], versions=raw["versions"])
  else:
    metrics = raw.get("final_metrics", {})
    accuracy = metrics.get("test/accuracy")
    if accuracy is None:  # tolerate another split name, e.g. "eval/accuracy"
      accuracy = next((v for k, v in metrics.items() if k.endswith("accuracy")), None)
    logged_rate = _median_logged_rate(os.path.join(os.path.dirname(out_json), "metrics.jsonl"))
    row.update(wall_time_s=raw.get("wall_time_s"), test_accuracy=accuracy,
               steps_per_s=logged_rate if logged_rate is not None else raw.get("train_steps_per_s"),
               loop_steps_per_s=raw.get("train_steps_per_s"),
               versions={"bigjax": raw.get("git_revision", "?"), **_jax_versions()})
  return row


def _median_logged_rate(metrics_jsonl: str) -> float | None:
  """Median of the perf/steps_per_s bigjax logs between log points, the first (warm-up) left out.

  results.json's train_steps_per_s divides by the whole loop, per-epoch evaluation and
  checkpointing included; Keras's and torch's rates hold training steps only, so the table
  uses this one. Intervals that hold an eval are few and the median ignores them.
  """
  try:
    with open(metrics_jsonl) as f:
      rates = [r["perf/steps_per_s"] for r in map(json.loads, f) if "perf/steps_per_s" in r]
  except (OSError, ValueError):
    return None
  rates = sorted(rates[1:] if len(rates) > 1 else rates)
  if not rates:
    return None
  mid = len(rates) // 2
  return rates[mid] if len(rates) % 2 else (rates[mid - 1] + rates[mid]) / 2


def _jax_versions() -> dict:
  from importlib import metadata  # pylint: disable=import-outside-toplevel
  versions = {}
  for package in ("jax", "jaxlib", "flax", "optax"):
    try:
      versions[package] = metadata.version(package)
    except metadata.PackageNotFoundError:
      pass
  return versions


# --- the table ---------------------------------------------------------------------------------

def _fmt(value, spec):
  return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def markdown_table(rows: list[dict], info: dict) -> str:
  keras_wall = next((r.get("wall_time_s") for r in rows if r["framework"] == "keras" and r["status"] == "ok"), None)
  lines = ["| framework | epochs | batch | wall time (s) | train steps/s | test accuracy | wall time vs Keras |",
           "|---|---:|---:|---:|---:|---:|---:|"]
  notes = []
  for r in rows:
    if r["status"] != "ok":
      lines.append(f"| {r['framework']} | {r['epochs']} | {r['batch_size']} | — | — | — | {r['status']} |")
      notes.append(f"- {r['framework']}: {r['status']}: {r['error']}")
      continue
    wall = r.get("wall_time_s")
    ratio = f"{wall / keras_wall:.2f}x" if wall and keras_wall else "—"
    accuracy = r.get("test_accuracy")
    lines.append(f"| {r['framework']} | {r['epochs']} | {r['batch_size']} | {_fmt(wall, '.1f')} | "
                 f"{_fmt(r.get('steps_per_s'), '.0f')} | {_fmt(None if accuracy is None else 100 * accuracy, '.2f')}% | "
                 f"{ratio} |")
    notes.append(f"- {r['framework']}: " + ", ".join(f"{k} {v}" for k, v in r.get("versions", {}).items()))
  header = (f"Machine: {info['machine']['cpu_model']}, {info['machine']['cpus_usable']} cores usable "
            f"({info['machine']['cpu_count']} present); git {info['git_revision']}; {info['date']}")
  return "\n".join([header, "", *lines, "", *notes])


def main(argv=None):
  args = parse_args(argv)
  workdir = args.workdir or tempfile.mkdtemp(prefix="seed_cnn_bench_")
  os.makedirs(workdir, exist_ok=True)
  info = {"machine": machine_info(), "git_revision": git_revision(),
          "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
          "epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed, "workdir": workdir}
  print(f"seed CNN bench: {args.epochs} epoch(s), batch {args.batch_size}, runs in {workdir}", flush=True)

  rows = [bench_row(name, args, workdir) for name in FRAMEWORKS if name in args.only]
  sys.exit(finish(rows, markdown_table(rows, info), info, args.json))


def finish(rows: list[dict], table: str, info: dict, json_path: str | None) -> int:
  """Prints the table, writes the bench's JSON (info, raw runs, table); exit code 1 if a framework failed."""
  print("\n" + table)
  if json_path:
    with open(json_path, "w") as f:
      json.dump({**info, "runs": rows, "table_markdown": table}, f, indent=2)
  return 1 if any(r["status"] == "failed" for r in rows) else 0


if __name__ == "__main__":
  main()
