"""Side by side: the seed's MNIST CNN in Keras, PyTorch (eager and torch.compile) and bigjax, on one recipe.

Every framework trains the seed's model with the seed's recipe: Adam (lr 1e-3, eps 1e-7) at a constant rate,
batch 32, 10 epochs over the 60,000 training images, no augmentation, then one evaluation on the 10,000 test
images; no evaluation or checkpoint in between (bigjax's is asked for at the last step only):

  keras          bench/keras_seed_cnn.py            the seed's own code (Keras 3 on TensorFlow)
  torch          bench/torch_seed_cnn.py            the same model in eager PyTorch
  torch.compile  bench/torch_seed_cnn.py --compile  the same under torch.compile (inductor)
  bigjax         python -m bigjax.main --config=configs/mnist_seed_cnn.py:keras (the seed's recipe) on the
                 full training split, evaluated on test at the last step
  bigjax-tuned   (extra row, --only to add it) bigjax's own recipe, cosine decay and 1-pixel shifts: another
                 recipe, so it is labelled and left out of the like-with-like comparison

Each runs in its own subprocess, never two at once, interleaved round by round (``bench/interleave.py``):
keras, torch, torch.compile, bigjax, keras, ... ``--repeats`` rounds (at least 3 for a result). One
statistic for all: the process's wall time from launch to exit, measured here the same way for each
(interpreter start, imports, data loading, compilation or tracing, training, the test evaluation), as a
median and min-max over the rounds; the ratio to Keras is taken within each round. Test accuracy likewise.
A framework that is not installed or fails gets a row saying so.

  python bench/seed_cnn.py --json experiments/mnist/bench_seed_cnn.json      # 10 epochs, 3 rounds
  python bench/seed_cnn.py --epochs 1 --repeats 1 --only keras,torch         # a check of the plumbing
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interleave  # pylint: disable=wrong-import-position  # bench/ is on sys.path

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_DIR = os.path.join(REPO_ROOT, "bench")
FRAMEWORKS = ("keras", "torch", "torch.compile", "bigjax", "bigjax-tuned")
DEFAULT = ("keras", "torch", "torch.compile", "bigjax")  # the seed's recipe, all of them
RECIPES = {"keras": "seed's", "torch": "seed's", "torch.compile": "seed's", "bigjax": "seed's",
           "bigjax-tuned": "bigjax's (cosine, shifts)"}
TRAIN_EXAMPLES = 60_000


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--epochs", type=int, default=10)
  p.add_argument("--batch-size", type=int, default=32)
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--repeats", type=int, default=interleave.MIN_REPEATS,
                 help=f"interleaved rounds (a result needs >= {interleave.MIN_REPEATS})")
  p.add_argument("--only", default=",".join(DEFAULT),
                 help="comma-separated subset of " + ",".join(FRAMEWORKS))
  p.add_argument("--bigjax-config", default="configs/mnist_seed_cnn.py")  # :keras for the seed's recipe
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
  if name.startswith("torch"):
    return "not installed: torch (pip install torch, CPU build)" if importlib.util.find_spec("torch") is None else None
  if not os.path.exists(os.path.join(REPO_ROOT, "bigjax", "main.py")):
    return "bigjax/main.py not found"
  if not os.path.exists(os.path.join(REPO_ROOT, args.bigjax_config.split(":")[0])):
    return f"{args.bigjax_config} not found"
  return None


def bigjax_flags(args) -> list[str]:
  """The run as the others do it: the whole training split, test evaluated at the last step only, no
  checkpoint before it (an evaluation or checkpoint per epoch is work the Keras and PyTorch runs skip)."""
  total = args.epochs * (TRAIN_EXAMPLES // args.batch_size)
  return [f"--config.train.num_epochs={args.epochs}", "--config.data.eval_split=test", "--config.data.test_split=",
          f"--config.train.eval_every_steps={total}", f"--config.train.checkpoint_every_steps={total}",
          f"--config.train.log_every_steps={TRAIN_EXAMPLES // args.batch_size}"]


def bench_row(name: str, args, workdir: str) -> dict:
  """Runs one framework once in ``workdir``; returns its row (status 'ok', 'missing' or 'failed'), with
  ``wall_time_s`` the process's launch-to-exit time and ``test_accuracy``."""
  row = {"epochs": args.epochs, "batch_size": args.batch_size, "recipe": RECIPES[name]}
  reason = missing_reason(name, args)
  if reason:
    print(f"\n[{name}] skipped: {reason}", flush=True)
    return dict(row, status="missing", error=reason)
  os.makedirs(workdir, exist_ok=True)
  out_json = os.path.join(workdir, f"{name}.json")
  if name in ("keras", "torch", "torch.compile"):
    script = "keras_seed_cnn.py" if name == "keras" else "torch_seed_cnn.py"
    cmd = [sys.executable, os.path.join(BENCH_DIR, script), "--epochs", str(args.epochs),
           "--batch-size", str(args.batch_size), "--seed", str(args.seed), "--json", out_json,
           *(["--compile"] if name == "torch.compile" else [])]
  else:
    config = args.bigjax_config.split(":")[0] + (":keras" if name == "bigjax" else "")
    try:
      overrides = bigjax_overrides(config, args.batch_size, args.seed)
    except Exception as e:  # pylint: disable=broad-except
      print(f"\n[{name}] failed: {e}", flush=True)
      return dict(row, status="failed", error=f"reading {config}: {e}")
    cmd, out_json = bigjax_run_command(workdir, config, [*bigjax_flags(args), *overrides, *args.bigjax_flag])

  row = run_and_read(row, name, cmd, out_json, workdir)
  if row["status"] != "ok":
    return row
  raw = row["raw"]
  row["wall_time_s"] = row["process_time_s"]  # one statistic for all: measured here, launch to exit
  if name == "keras" or name.startswith("torch"):
    row.update(test_accuracy=raw["test_accuracy"], versions=raw["versions"])
  else:
    row.update(test_accuracy=raw.get("final_metrics", {}).get("test/accuracy"),
               versions={"bigjax": raw.get("git_revision", "?"), **_jax_versions()})
  return row


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
  """One row per framework: median (min-max) over its runs of the wall time, the per-round ratio to Keras
  and the test accuracy; the rows that failed or were missing listed below."""
  walls = interleave.summarise(rows, "wall_time_s")
  accuracy = interleave.summarise(rows, "test_accuracy")
  ratios = interleave.ratios_per_round(rows, "wall_time_s", "keras")
  lines = ["| framework | recipe | runs | wall time, s | vs Keras (same round) | test accuracy |",
           "|---|---|---:|---:|---:|---:|"]
  notes, versions = [], {}
  for name in dict.fromkeys(r["framework"] for r in rows):
    mine = [r for r in rows if r["framework"] == name]
    ok = [r for r in mine if r["status"] == "ok"]
    for r in mine:
      if r["status"] != "ok":
        notes.append(f"- {name}, round {r['round']}: {r['status']}: {r['error']}")
      versions.setdefault(name, r.get("versions"))
    lines.append(f"| {name} | {mine[0]['recipe']} | {len(ok)} of {len(mine)} | "
                 f"{interleave.fmt_spread(walls.get(name), '.1f')} | "
                 f"{interleave.fmt_spread(ratios.get(name), '.2f', suffix='x')} | "
                 f"{interleave.fmt_spread(accuracy.get(name), '.2f', 100, '%')} |")
  notes += [f"- {name}: " + ", ".join(f"{k} {v}" for k, v in v_.items()) for name, v_ in versions.items() if v_]
  header = (f"Machine: {info['machine']['cpu_model']}, {info['machine']['cpus_usable']} cores usable "
            f"({info['machine']['cpu_count']} present); git {info['git_revision']}; {info['date']}; "
            f"{info['epochs']} epochs, batch {info['batch_size']}, {info['repeats']} interleaved rounds; "
            f"median (min-max) over the rounds")
  return "\n".join([header, "", *lines, "", *notes])


def main(argv=None):
  args = parse_args(argv)
  workdir = args.workdir or tempfile.mkdtemp(prefix="seed_cnn_bench_")
  os.makedirs(workdir, exist_ok=True)
  info = {"machine": machine_info(), "git_revision": git_revision(),
          "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
          "epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed, "repeats": args.repeats,
          "statistic": "process wall time launch to exit; median and min-max over interleaved rounds",
          "workdir": workdir}
  print(f"seed CNN bench: {args.epochs} epoch(s), batch {args.batch_size}, {args.repeats} rounds of "
        f"{', '.join(args.only)}, runs in {workdir}", flush=True)
  rows = interleave.run_interleaved(
      args.only, args.repeats, lambda name, r: bench_row(name, args, os.path.join(workdir, f"{name}_r{r}")))
  info["summary"] = {"wall_time_s": interleave.summarise(rows, "wall_time_s"),
                     "test_accuracy": interleave.summarise(rows, "test_accuracy"),
                     "wall_time_vs_keras": interleave.ratios_per_round(rows, "wall_time_s", "keras")}
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
