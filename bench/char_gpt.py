"""Side by side: nanoGPT's CPU recipe for a char GPT on Tiny Shakespeare in PyTorch and in bigjax, on one recipe.

Each framework runs in its own subprocess, never two at once (they would fight over the CPU's threads), with
the same model, data, optimizer, schedule, steps and evaluation, the runs interleaved round by round
(``bench/interleave.py``): torch, bigjax, torch, bigjax, ... ``--repeats`` rounds (at least 3 for a result),
each run in its own directory, ``WORKDIR/<framework>_r<round>``:

  torch   bench/torch_char_gpt.py --steps N --seed S --eval-every E     eager PyTorch
  bigjax  python -m bigjax.main --config=configs/shakespeare_char_gpt.py:cpu --workdir=R/bigjax_run
              [--config.train.num_steps=N] [--config.seed=S]

(4 layers, 4 heads, 128 wide, context 64, batch 12, AdamW with warmup + cosine decay over N steps,
validation loss over the whole validation split every E = eval_every_steps of the config and at the end, in
both; bigjax also writes the config's checkpoints, every 1000 steps and at the end: a cost to bigjax.)

Every statistic is defined once and computed the same way for both (``bench_row``); each is reported as the
median and min-max over the rounds, and the times and rates also as the per-round ratio bigjax / PyTorch:

  wall time       the training process from launch to exit, measured here the same way for both
                  (interpreter start, imports, data, init, bigjax's XLA compile and checkpoints, the N steps,
                  the evaluations).
  train tokens/s  N x batch x context / the training loop's time with the evaluations (and bigjax's
                  checkpoint waits) left out, each loop clocking itself: torch_char_gpt sums its steps' clocks
                  (``train_time_s``); bigjax sums its logged intervals (``perf/steps_per_s`` in metrics.jsonl,
                  which ``Progress.restart_clock`` keeps free of evaluations and checkpoint waits).
                  Compilation is outside both (bigjax compiles ahead of its loop; its compile time is in the
                  notes and in the wall time; eager torch compiles nothing).
  validation loss mean next-token cross-entropy (nats) over the whole validation split after the last step.

A framework that is not installed or fails gets a row saying so.

  python bench/char_gpt.py --workdir runs/bench_char_gpt --json experiments/shakespeare_char/bench_char_gpt.json
  python bench/char_gpt.py --steps 10 --repeats 1       # a check of the plumbing, not a result
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
# pylint: disable=wrong-import-position
import interleave
from seed_cnn import (REPO_ROOT, _jax_versions, bigjax_run_command, finish, git_revision, machine_info,
                      run_and_read)

if REPO_ROOT not in sys.path:  # bigjax, where it is not installed
  sys.path.insert(0, REPO_ROOT)
from bigjax import configs

BENCH_DIR = os.path.join(REPO_ROOT, "bench")
FRAMEWORKS = ("torch", "bigjax")
BASELINE = "torch"
DEFAULT_CONFIG = "configs/shakespeare_char_gpt.py:cpu"
TORCH_SHAPE = {"batch_size": 12, "seq_len": 64, "num_layers": 4, "num_heads": 4, "embed_dim": 128}  # torch_char_gpt's
RATIOS = {"wall_time_s": "wall_time_vs_torch", "tokens_per_s": "tokens_per_s_vs_torch"}  # / PyTorch's, per round
STATISTICS = {
    "wall_time_s": "the training process, launch to exit, measured by the bench",
    "tokens_per_s": "steps x batch x context / training loop time with evaluations (and bigjax's checkpoint "
                    "waits) left out; each loop's own clock (torch: its steps' clocks, bigjax: its logged "
                    "intervals); compilation outside (bigjax compiles ahead of the loop)",
    "validation_loss": "mean next-token cross-entropy over the whole validation split after the last step",
    "spread": "median and min-max over interleaved rounds; ratios bigjax / PyTorch within each round",
}


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--steps", type=int, default=None,
                 help="optimizer steps for both (default: the config's, 2000); the lr schedule decays over them")
  p.add_argument("--seed", type=int, default=0, help="init and data order of both, every round")
  p.add_argument("--repeats", type=int, default=interleave.MIN_REPEATS,
                 help=f"interleaved rounds (a result needs >= {interleave.MIN_REPEATS})")
  p.add_argument("--only", default=",".join(FRAMEWORKS), help="comma-separated subset of " + ",".join(FRAMEWORKS))
  p.add_argument("--bigjax-config", default=DEFAULT_CONFIG, help="config file[:variant] for bigjax.main")
  p.add_argument("--bigjax-flag", action="append", default=[], metavar="FLAG",
                 help="extra flag for bigjax.main, e.g. --bigjax-flag=--config.train.steps_per_call=20 (repeatable)")
  p.add_argument("--torch-threads", type=int, default=None, help="torch threads (default: CPU cores available)")
  p.add_argument("--workdir", default=None, help="where runs write (default: a new temp dir, kept)")
  p.add_argument("--json", metavar="OUT", help="write machine info, runs, summary and table as JSON")
  args = p.parse_args(argv)
  args.only = [name.strip() for name in args.only.split(",") if name.strip()]
  unknown = sorted(set(args.only) - set(FRAMEWORKS))
  if unknown:
    p.error(f"--only: unknown framework(s) {unknown}; choose from {list(FRAMEWORKS)}")
  if args.repeats < 1:
    p.error("--repeats must be >= 1")
  return args


def check_workdir(workdir: str, names, repeats: int) -> str | None:
  """Why the bench cannot run in ``workdir`` (a round's directory already holds files: bigjax would resume its
  run rather than time it, and the JSON would mix two benches), or None. Checked before the first run."""
  taken = [os.path.join(workdir, f"{name}_r{r}") for r in range(repeats) for name in names]
  taken = [d for d in taken if os.path.isdir(d) and os.listdir(d)]
  return f"{', '.join(taken)} already hold runs; pass a new --workdir" if taken else None


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
  """Runs one framework once in ``workdir``; returns its row (status 'ok', 'missing' or 'failed') with the
  statistics of ``STATISTICS``, each computed as for every framework."""
  steps, tokens_per_step = the_plan["steps"], the_plan["batch_size"] * the_plan["context"]
  row = {"steps": steps, "batch_size": the_plan["batch_size"], "context": the_plan["context"]}
  reason = missing_reason(name)
  if reason:
    print(f"\n[{name}] skipped: {reason}", flush=True)
    return dict(row, status="missing", error=reason)
  os.makedirs(workdir, exist_ok=True)

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
  row["wall_time_s"] = row["process_time_s"]  # one statistic for all: measured here, launch to exit

  if name == "torch":
    train_loop_s = raw["train_time_s"]
    row.update(validation_loss=raw["validation_loss"], num_params=raw["num_params"],
               versions={**raw["versions"], "threads": raw["threads"]["intra_op"]})
  else:
    train_loop_s, _, covered = logged_train_time(os.path.join(os.path.dirname(out_json), "metrics.jsonl"))
    if covered != raw.get("steps"):
      train_loop_s = None  # a resumed or cut-short log
    row.update(validation_loss=raw.get("final_metrics", {}).get("validation/loss"), num_params=raw.get("num_params"),
               compile_time_s=raw.get("compile_time_s"), device_kind=raw.get("device_kind"),
               versions={"bigjax": raw.get("git_revision", "?"), **_jax_versions()})
  row.update(train_loop_s=train_loop_s, tokens_per_s=steps * tokens_per_step / train_loop_s if train_loop_s else None)
  return row


def summary(rows: list[dict]) -> dict:
  """Every statistic's median and min-max per framework, and wall time and tokens/s relative to PyTorch's
  within each round."""
  out = {key: interleave.summarise(rows, key) for key in ("wall_time_s", "tokens_per_s", "validation_loss",
                                                          "compile_time_s")}
  for key, ratio_key in RATIOS.items():
    out[ratio_key] = interleave.ratios_per_round(rows, key, BASELINE)
  return out


def markdown_table(rows: list[dict], info: dict) -> str:
  """One row per framework: median (min-max) over its runs of the wall time and training tokens/s, each with its
  per-round ratio to PyTorch, and the validation loss; failures and versions listed below."""
  s = summary(rows)
  spread = interleave.fmt_spread
  lines = ["| framework | runs | wall time, s | vs PyTorch (same round) | train tokens/s | vs PyTorch (same round) | "
           "validation loss |",
           "|---|---:|---:|---:|---:|---:|---:|"]
  notes, versions = [], {}
  for name in dict.fromkeys(r["framework"] for r in rows):
    mine = [r for r in rows if r["framework"] == name]
    ok = [r for r in mine if r["status"] == "ok"]
    lines.append(f"| {name} | {len(ok)} of {len(mine)} | {spread(s['wall_time_s'].get(name), '.1f')} | "
                 f"{spread(s['wall_time_vs_torch'].get(name), '.2f', suffix='x')} | "
                 f"{spread(s['tokens_per_s'].get(name), ',.0f')} | "
                 f"{spread(s['tokens_per_s_vs_torch'].get(name), '.2f', suffix='x')} | "
                 f"{spread(s['validation_loss'].get(name), '.4f')} |")
    for r in mine:
      if r["status"] != "ok":
        notes.append(f"- {name}, round {r['round']}: {r['status']}: {r['error']}")
      versions.setdefault(name, r.get("versions"))
    if name == "bigjax" and ok:
      notes.append(f"- bigjax: XLA compile {spread(s['compile_time_s'].get(name), '.1f')} s, inside its wall time, "
                   "outside its tokens/s")
  notes += [f"- {name}: " + ", ".join(f"{k} {v}" for k, v in v_.items()) for name, v_ in versions.items() if v_]
  m = info["machine"]
  header = (f"Machine: {m['cpu_model']}, {m['cpus_usable']} cores usable ({m['cpu_count']} present); "
            f"git {info['git_revision']}; {info['date']}; {info['steps']} steps of batch {info['batch_size']} x "
            f"{info['context']}; {info['repeats']} interleaved rounds; median (min-max) over the rounds, ratios "
            f"bigjax / PyTorch within a round")
  definitions = [
      "- wall time: the training process from launch to exit, measured by the bench for both (imports, data, "
      f"init, bigjax's compile and checkpoints, the steps, the evaluations every {info['eval_every']} steps and "
      "at the end).",
      f"- train tokens/s: steps x {info['batch_size']} x {info['context']} / the training loop's time with "
      "evaluations (and bigjax's checkpoint waits) left out, each loop's own clock (torch: its steps'; bigjax: "
      "its logged intervals, metrics.jsonl); compilation outside it (bigjax compiles ahead of the loop).",
      f"- validation loss: mean next-token cross-entropy (nats) over the whole validation split, windows every "
      f"{info['context']} characters, after the last step.",
  ]
  return "\n".join([header, "", *lines, "", *definitions, *notes])


def main(argv=None):
  args = parse_args(argv)
  the_plan = plan(args)
  workdir = args.workdir or tempfile.mkdtemp(prefix="char_gpt_bench_")
  problem = check_workdir(workdir, args.only, args.repeats)
  if problem:
    raise SystemExit(problem)
  os.makedirs(workdir, exist_ok=True)
  info = {"machine": machine_info(), "git_revision": git_revision(),
          "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
          "bigjax_config": args.bigjax_config, "seed": args.seed, "repeats": args.repeats,
          "statistics": STATISTICS, "workdir": workdir,
          **{k: v for k, v in the_plan.items() if k != "bigjax_overrides"}}
  print(f"char GPT bench: {the_plan['steps']} steps, batch {the_plan['batch_size']} x {the_plan['context']}, "
        f"{args.repeats} rounds of {', '.join(args.only)}, runs in {workdir}", flush=True)
  rows = interleave.run_interleaved(
      args.only, args.repeats, lambda name, r: bench_row(name, args, the_plan, os.path.join(workdir, f"{name}_r{r}")))
  info["summary"] = summary(rows)
  sys.exit(finish(rows, markdown_table(rows, info), info, args.json))


if __name__ == "__main__":
  main()
