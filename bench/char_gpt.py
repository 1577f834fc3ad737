"""Side by side: nanoGPT's CPU recipe for a char GPT on Tiny Shakespeare in PyTorch and in bigjax.

Runs each framework in its own subprocess, one after the other (never two at once, so they don't
fight over the CPU's threads), with the same model, data, optimizer, schedule, steps and evaluation:

  torch   bench/torch_char_gpt.py --steps N --seed S --eval-every E     eager PyTorch
  bigjax  python -m bigjax.main --config=configs/shakespeare_char_gpt.py:cpu --workdir=TMP/bigjax_run
              [--config.train.num_steps=N] [--config.seed=S]

(4 layers, 4 heads, 128 wide, context 64, batch 12, AdamW with warmup + cosine decay over N steps,
validation loss over the whole validation split every E = eval_every_steps of the config and at the
end), then prints a Markdown table with wall time, training tokens/s and validation loss, the
machine, git revision and date. A framework that is not installed or fails gets a row saying so.

  python bench/char_gpt.py --json runs/char_gpt_bench.json     # the bench: 2000 steps (a quiet machine!)
  python bench/char_gpt.py --steps 60 --only torch,bigjax      # a short check of the plumbing
"""

import argparse
import datetime
import importlib.util
import json
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The seed-CNN bench's machine, revision and subprocess helpers, shared rather than copied.
# pylint: disable-next=wrong-import-position
from seed_cnn import (REPO_ROOT, _fmt, _jax_versions, bigjax_run_command, finish, git_revision, machine_info,
                      run_and_read)

if REPO_ROOT not in sys.path:  # bigjax, where it is not installed
  sys.path.insert(0, REPO_ROOT)
from bigjax import configs  # pylint: disable=wrong-import-position

BENCH_DIR = os.path.join(REPO_ROOT, "bench")
FRAMEWORKS = ("torch", "bigjax")
DEFAULT_CONFIG = "configs/shakespeare_char_gpt.py:cpu"
TORCH_SHAPE = {"batch_size": 12, "seq_len": 64, "num_layers": 4, "num_heads": 4, "embed_dim": 128}  # torch_char_gpt's


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--steps", type=int, default=None,
                 help="optimizer steps for both (default: the config's, 2000); the lr schedule decays over them")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--only", default=",".join(FRAMEWORKS), help="comma-separated subset of " + ",".join(FRAMEWORKS))
  p.add_argument("--bigjax-config", default=DEFAULT_CONFIG, help="config file[:variant] for bigjax.main")
  p.add_argument("--bigjax-flag", action="append", default=[], metavar="FLAG",
                 help="extra flag for bigjax.main, e.g. --bigjax-flag=--config.train.steps_per_call=20 (repeatable)")
  p.add_argument("--torch-threads", type=int, default=None, help="torch threads (default: CPU cores available)")
  p.add_argument("--workdir", default=None, help="where runs write (default: a new temp dir, kept)")
  p.add_argument("--json", metavar="OUT", help="write machine info, runs and table as JSON")
  args = p.parse_args(argv)
  args.only = [name.strip() for name in args.only.split(",") if name.strip()]
  unknown = sorted(set(args.only) - set(FRAMEWORKS))
  if unknown:
    p.error(f"--only: unknown framework(s) {unknown}; choose from {list(FRAMEWORKS)}")
  return args


def plan(args) -> dict:
  """Steps, eval interval and bigjax overrides, checked against the config and torch_char_gpt's fixed shape."""
  c = configs.load(args.bigjax_config)
  shape = {"batch_size": c.data.batch_size, "seq_len": c.data.seq_len, "num_layers": c.model.num_layers,
           "num_heads": c.model.num_heads, "embed_dim": c.model.embed_dim}
  if shape != TORCH_SHAPE:
    raise SystemExit(f"{args.bigjax_config} has {shape}, but bench/torch_char_gpt.py trains {TORCH_SHAPE}: "
                     f"the comparison would not be of the same model")
  steps = args.steps or c.train.num_steps
  k = c.train.steps_per_call
  if steps % k:
    # bigjax runs k optimizer steps per jitted call; its log/eval/checkpoint intervals need not divide the
    # total (the last call always logs, evaluates and checkpoints), but the total must be whole calls.
    raise SystemExit(f"--steps {steps}: must be a multiple of the config's train.steps_per_call={k}")
  overrides = []
  if steps != c.train.num_steps:
    overrides.append(f"--config.train.num_steps={steps}")
  if args.seed != c.seed:
    overrides.append(f"--config.seed={args.seed}")
  return {"steps": steps, "eval_every": c.train.eval_every_steps, "batch_size": c.data.batch_size,
          "context": c.data.seq_len, "bigjax_overrides": overrides}


def missing_reason(name: str) -> str | None:
  if name == "torch":
    return "not installed: torch (pip install torch, CPU build)" if importlib.util.find_spec("torch") is None else None
  if importlib.util.find_spec("jax") is None:
    return "not installed: jax"
  return None


def logged_train_time(metrics_jsonl: str) -> tuple[float | None, float | None, int]:
  """(seconds spent in training steps, median steps/s, steps covered) from bigjax's ``perf/steps_per_s``.

  bigjax logs the rate of each interval between log points with evaluations and checkpoint waits left
  out (``Progress.restart_clock``); summing interval / rate gives the training-only time, as
  torch_char_gpt's ``train_time_s``. results.json's ``train_time_s`` is the whole loop, evals included.
  """
  try:
    with open(metrics_jsonl) as f:
      records = [r for r in map(json.loads, f) if "perf/steps_per_s" in r]
  except (OSError, ValueError):
    return None, None, 0
  seconds, last_step, rates = 0.0, 0, []
  for r in sorted(records, key=lambda r: r["step"]):
    rate = r["perf/steps_per_s"]
    if rate > 0:
      seconds += (r["step"] - last_step) / rate
      rates.append(rate)
    last_step = r["step"]
  return (seconds or None), (statistics.median(rates) if rates else None), last_step


def bench_row(name: str, args, the_plan: dict, workdir: str) -> dict:
  """Runs one framework; returns its normalised row (status 'ok', 'missing' or 'failed')."""
  steps, tokens_per_step = the_plan["steps"], the_plan["batch_size"] * the_plan["context"]
  row = {"framework": name, "steps": steps, "batch_size": the_plan["batch_size"], "context": the_plan["context"]}
  reason = missing_reason(name)
  if reason:
    print(f"\n[{name}] skipped: {reason}", flush=True)
    return dict(row, status="missing", error=reason)

  if name == "torch":
    out_json = os.path.join(workdir, "torch.json")
    cmd = [sys.executable, os.path.join(BENCH_DIR, "torch_char_gpt.py"), "--steps", str(steps),
           "--seed", str(args.seed), "--eval-every", str(the_plan["eval_every"]), "--json", out_json]
    if args.torch_threads:
      cmd += ["--threads", str(args.torch_threads)]
  else:
    cmd, out_json = bigjax_run_command(workdir, args.bigjax_config, [*the_plan["bigjax_overrides"], *args.bigjax_flag])

  row = run_and_read(row, name, cmd, out_json, workdir)
  if row["status"] != "ok":
    return row
  raw = row["raw"]

  if name == "torch":
    row.update(wall_time_s=raw["wall_time_s"], train_time_s=raw["train_time_s"], tokens_per_s=raw["tokens_per_s"],
               loop_tokens_per_s=steps * tokens_per_step / raw["loop_time_s"],
               validation_loss=raw["validation_loss"], num_params=raw["num_params"], versions=raw["versions"])
  else:
    train_s, median_rate, covered = logged_train_time(os.path.join(os.path.dirname(out_json), "metrics.jsonl"))
    if covered != raw.get("steps"):
      train_s = None  # a resumed or cut-short log: fall back to the loop's rate below
    loop_s = raw.get("train_time_s")
    row.update(wall_time_s=raw.get("wall_time_s"), train_time_s=train_s, compile_time_s=raw.get("compile_time_s"),
               tokens_per_s=steps * tokens_per_step / train_s if train_s else None,
               median_logged_tokens_per_s=median_rate * tokens_per_step if median_rate else None,
               loop_tokens_per_s=steps * tokens_per_step / loop_s if loop_s else None,
               validation_loss=raw.get("final_metrics", {}).get("validation/loss"), num_params=raw.get("num_params"),
               device_kind=raw.get("device_kind"),
               versions={"bigjax": raw.get("git_revision", "?"), **_jax_versions()})
  return row


def markdown_table(rows: list[dict], info: dict) -> str:
  torch_wall = next((r.get("wall_time_s") for r in rows if r["framework"] == "torch" and r["status"] == "ok"), None)
  lines = ["| framework | steps | batch x context | wall time (s) | train tokens/s | validation loss | "
           "wall time vs PyTorch |",
           "|---|---:|---:|---:|---:|---:|---:|"]
  notes = []
  for r in rows:
    shape = f"{r['batch_size']} x {r['context']}"
    if r["status"] != "ok":
      lines.append(f"| {r['framework']} | {r['steps']} | {shape} | — | — | — | {r['status']} |")
      notes.append(f"- {r['framework']}: {r['status']}: {r['error']}")
      continue
    wall = r.get("wall_time_s")
    ratio = f"{wall / torch_wall:.2f}x" if wall and torch_wall else "—"
    lines.append(f"| {r['framework']} | {r['steps']} | {shape} | {_fmt(wall, '.1f')} | "
                 f"{_fmt(r.get('tokens_per_s'), '.0f')} | {_fmt(r.get('validation_loss'), '.4f')} | {ratio} |")
    notes.append(f"- {r['framework']}: " + ", ".join(f"{k} {v}" for k, v in r.get("versions", {}).items()))
  header = (f"Machine: {info['machine']['cpu_model']}, {info['machine']['cpus_usable']} cores usable "
            f"({info['machine']['cpu_count']} present); git {info['git_revision']}; {info['date']}")
  definitions = [
      "- wall time: torch, from loading the data to the final evaluation; bigjax, results.json's `wall_time_s` "
      "(all of train.run: data loading, init, XLA compile, the periodic evaluations and checkpoints of the "
      "config, the final evaluation). Python start-up and imports are outside both.",
      f"- train tokens/s: steps x {info['batch_size']} x {info['context']} / time spent in training steps, "
      "evaluations left out (bigjax: the sum of its logged intervals; the rate over its whole loop is "
      "`loop_tokens_per_s` in the JSON).",
      f"- validation loss: mean next-token cross-entropy (nats) over the whole validation split, windows every "
      f"{info['context']} characters; both evaluate every {info['eval_every']} steps and at the end.",
  ]
  return "\n".join([header, "", *lines, "", *definitions, *notes])


def main(argv=None):
  args = parse_args(argv)
  the_plan = plan(args)
  workdir = args.workdir or tempfile.mkdtemp(prefix="char_gpt_bench_")
  os.makedirs(workdir, exist_ok=True)
  info = {"machine": machine_info(), "git_revision": git_revision(),
          "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
          "bigjax_config": args.bigjax_config, "seed": args.seed, "workdir": workdir,
          **{k: v for k, v in the_plan.items() if k != "bigjax_overrides"}}
  print(f"char GPT bench: {the_plan['steps']} steps, batch {the_plan['batch_size']} x {the_plan['context']}, "
        f"runs in {workdir}", flush=True)

  rows = [bench_row(name, args, the_plan, workdir) for name in FRAMEWORKS if name in args.only]
  sys.exit(finish(rows, markdown_table(rows, info), info, args.json))


if __name__ == "__main__":
  main()
