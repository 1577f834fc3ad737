"""Side by side: NeuMF (He et al. 2017) on MovieLens, eager PyTorch vs bigjax, on one recipe.

Each framework runs in its own subprocess, never two at once (they would fight over the CPU's threads), with
the same data, model, negatives, data order, optimizer and evaluation, the runs interleaved round by round
(``bench/interleave.py``): torch, bigjax, torch, bigjax, ... ``--repeats`` rounds (at least 3 for a result),
each run in its own directory, ``WORKDIR/<framework>_r<round>``. A round of one framework is two processes:

  torch   bench/torch_ncf.py --dataset D --epochs N --seed S --eval-repeats 1 --save-model R/torch_model.pt
              (+ the config's model/batch/optimizer fields)
          then  bench/torch_ncf.py ... --time-eval R/torch_model.pt --eval-repeats E   (its evaluation, timed alone)
  bigjax  python -m bigjax.main --config=configs/ml1m_neumf.py --workdir=R/bigjax_run
              --config.train.num_epochs=N [--config.data.full_ranking=False] [--config.seed=S]
          then  python bench/ncf.py --time-bigjax-eval R/bigjax_run --eval-repeats E   (its evaluation, timed alone)

  --dataset ml-1m    -> configs/ml1m_neumf.py      --dataset ml-100k -> configs/ml100k_neumf.py

Both training runs do the same work: N epochs, one evaluation of every user's 100 candidates after each
(bigjax: once per epoch, at whole calls of ``steps_per_call`` steps, and at the end), no evaluation repeated;
bigjax also writes its checkpoint once per epoch (asynchronously), which torch_ncf does not: a cost to bigjax.

Every statistic is defined once and computed the same way for both (``per_epoch``, ``bench_row``); each is
reported as the median and min-max over the rounds, and as the per-round ratio bigjax / PyTorch:

  epoch time   the training loop's time with the evaluations (and bigjax's checkpoint waits) left out, per
               step run, times the steps of one epoch ((1 + negatives) x P positives // batch). Each loop
               clocks itself: torch_ncf sums its epochs' clocks (drawing the epoch's negatives, permuting,
               all its steps: its ``train_time_s``); bigjax sums its logged intervals (``perf/steps_per_s``
               in metrics.jsonl, which ``Progress.restart_clock`` keeps free of evaluations and checkpoint
               waits; the draw of negatives is inside). bigjax compiles ahead of its loop (outside the
               clock; its compile time is in the notes and in the wall time); eager torch compiles nothing.
               Per step, because bigjax rounds a run to whole calls of ``steps_per_call`` steps (N "epochs"
               are not exactly N epochs of steps).
  eval time    one evaluation of all users, each scoring its 100 candidates (HR@10 and NDCG@10, NCF's
               leave-one-out protocol, full ranking off), the trained parameters restored in a process of
               its own, ``--eval-repeats`` evaluations timed back to back, their mean (loading, building and,
               for bigjax, the AOT compile left out). bigjax: ``runs.restore_params``, ``program.build``, the
               evaluation batches padded once and ``Program.eval_call`` per batch with ``host_to_global`` and
               ``device_get``, as ``train.run``'s ``evaluate``; torch: ``torch_ncf.evaluate``. Each timed
               evaluation's HR@10 is checked against its training run's last one.
  wall time    the training process from launch to exit, measured here the same way for both (interpreter
               start, imports, data, bigjax's compile and checkpoints, the epochs, their evaluations).
  HR@10, NDCG@10  after the last epoch, from the training run.

  python bench/ncf.py --epochs 3 --workdir runs/bench_ncf --json experiments/ncf/bench_ncf.json  # a QUIET machine
  python bench/ncf.py --dataset ml-100k --epochs 1 --repeats 1     # a check of the plumbing, not a result
"""

import argparse
import datetime
import importlib.util
import json
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The other benches' machine, revision and subprocess helpers, shared rather than copied.
# pylint: disable=wrong-import-position
import interleave
from char_gpt import check_workdir, logged_train_time
from seed_cnn import (REPO_ROOT, _fmt, _jax_versions, bigjax_run_command, finish, git_revision, machine_info,
                      run_and_read, run_logged)
from bigjax import configs  # char_gpt put the repository on sys.path

BENCH_DIR = os.path.join(REPO_ROOT, "bench")
FRAMEWORKS = ("torch", "bigjax")
BASELINE = "torch"
CONFIGS = {"ml-1m": "configs/ml1m_neumf.py", "ml-100k": "configs/ml100k_neumf.py"}
TOP_K = 10
TIMES = {"epoch_time_s": "epoch_time_vs_torch", "eval_time_s": "eval_time_vs_torch",
         "wall_time_s": "wall_time_vs_torch"}  # each summarised, and divided by PyTorch's round by round
STATISTICS = {
    "epoch_time_s": "training loop time with evaluations (and bigjax's checkpoint waits) left out, per step run, "
                    "x steps per epoch; each loop's own clock (torch: its epochs' clocks, bigjax: its logged "
                    "intervals); compilation outside (bigjax compiles ahead of the loop)",
    "eval_time_s": "mean of --eval-repeats back-to-back evaluations of all users x 100 candidates, the trained "
                   "parameters restored in a process of their own (torch_ncf.py --time-eval, ncf.py "
                   "--time-bigjax-eval)",
    "wall_time_s": "the training process, launch to exit, measured by the bench",
    "hr": f"HR@{TOP_K} after the last epoch", "ndcg": f"NDCG@{TOP_K} after the last epoch",
    "spread": "median and min-max over interleaved rounds; ratios bigjax / PyTorch within each round",
}


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--dataset", default="ml-1m", choices=sorted(CONFIGS))
  p.add_argument("--epochs", type=int, default=1, help="training epochs for both (the paper trains 20)")
  p.add_argument("--seed", type=int, default=0, help="init, negatives and data order of both, every round")
  p.add_argument("--repeats", type=int, default=interleave.MIN_REPEATS,
                 help=f"interleaved rounds (a result needs >= {interleave.MIN_REPEATS})")
  p.add_argument("--only", default=",".join(FRAMEWORKS), help="comma-separated subset of " + ",".join(FRAMEWORKS))
  p.add_argument("--bigjax-config", default=None, help="config file[:variant] for bigjax.main "
                 f"(default by --dataset: {CONFIGS}); its model, data and optimizer must be torch_ncf's")
  p.add_argument("--bigjax-flag", action="append", default=[], metavar="FLAG",
                 help="extra flag for bigjax.main, e.g. --bigjax-flag=--config.train.steps_per_call=64 (repeatable)")
  p.add_argument("--eval-repeats", type=int, default=3,
                 help="evaluations timed back to back on each run's trained parameters")
  p.add_argument("--torch-threads", type=int, default=None, help="torch threads (default: CPU cores available)")
  p.add_argument("--workdir", default=None, help="where runs write (default: a new temp dir, kept)")
  p.add_argument("--json", metavar="OUT", help="write machine info, runs, summary and table as JSON")
  p.add_argument("--time-bigjax-eval", metavar="RUN_DIR", default=None,
                 help="(used by the bench itself) time bigjax's evaluation of the trained run in RUN_DIR, "
                      "write its JSON to --json and exit")
  args = p.parse_args(argv)
  args.only = [name.strip() for name in args.only.split(",") if name.strip()]
  unknown = sorted(set(args.only) - set(FRAMEWORKS))
  if unknown:
    p.error(f"--only: unknown framework(s) {unknown}; choose from {list(FRAMEWORKS)}")
  if args.epochs < 1 or args.eval_repeats < 1 or args.repeats < 1:
    p.error("--epochs, --eval-repeats and --repeats must be >= 1")
  args.bigjax_config = args.bigjax_config or CONFIGS[args.dataset]
  return args


# --- the plan: one model, read from bigjax's config ---------------------------------------------

def plan(args) -> dict:
  """torch_ncf's flags and bigjax's overrides from the config; refuses a config torch_ncf cannot train."""
  c = configs.load(args.bigjax_config)
  d, m, o, t = c.data, c.model, c.optim, c.task
  problems = []
  if d.name != args.dataset:
    problems.append(f"data.name={d.name!r}, not --dataset {args.dataset!r}")
  if m.name != "ncf.NeuMF":
    problems.append(f"model.name={m.name!r} (torch_ncf trains ncf.NeuMF)")
  if t.name != "recommendation" or t.loss != "log_loss" or d.pairs:
    problems.append(f"task {t.name}/{t.loss}, pairs={d.pairs} (torch_ncf: pointwise log loss)")
  if d.item_features or (t.get("pretrained_gmf") or t.get("pretrained_mlp")):
    problems.append("item features or pre-trained parts (torch_ncf: plain NeuMF from scratch)")
  if o.name != "adam" or o.schedule != "constant" or o.clip_norm or o.weight_decay:
    problems.append(f"optimizer {o.name}, schedule {o.schedule}, clip {o.clip_norm}, weight decay "
                    f"{o.weight_decay} (torch_ncf: Adam at a constant rate)")
  if TOP_K not in tuple(t.top_k):
    problems.append(f"task.top_k={tuple(t.top_k)} lacks {TOP_K}")
  if d.eval_examples:
    problems.append(f"data.eval_examples={d.eval_examples} (torch_ncf evaluates every user)")
  if problems:
    raise SystemExit(f"{args.bigjax_config} does not match what bench/torch_ncf.py trains: " + "; ".join(problems))

  f = m.factors
  layers = tuple(m.get("layers") or ()) or (8 * f, 4 * f, 2 * f, f)  # ncf.tower_layers: NCF's tower for f factors
  torch_flags = ["--dataset", d.name, "--source", d.source, "--factors", str(m.factors),
                 "--layers", ",".join(map(str, layers)), "--num-negatives", str(d.num_negatives),
                 "--batch-size", str(d.batch_size), "--lr", repr(o.lr), "--betas", f"{o.b1!r},{o.b2!r}",
                 "--eps", repr(o.eps), "--eval-batch-size", str(d.eval_batch_size),
                 "--eval-negatives-seed", str(d.eval_negatives_seed), "--top-k", str(TOP_K)]
  if d.data_dir:
    torch_flags += ["--data-dir", d.data_dir]
  overrides = [f"--config.train.num_epochs={args.epochs}"]
  if d.full_ranking:  # torch_ncf ranks the 100 candidates only; bigjax's in-loop evaluations then do the same
    overrides.append("--config.data.full_ranking=False")
  if args.seed != c.seed:
    overrides.append(f"--config.seed={args.seed}")
  return {"dataset": d.name, "source": d.source, "factors": m.factors, "layers": list(layers),
          "batch_size": d.batch_size, "eval_batch_size": d.eval_batch_size, "num_negatives": d.num_negatives,
          "lr": o.lr, "steps_per_call": c.train.steps_per_call, "torch_flags": torch_flags,
          "bigjax_overrides": overrides}


def missing_reason(name: str, args) -> str | None:
  if name == "torch":
    return "not installed: torch (pip install torch, CPU build)" if importlib.util.find_spec("torch") is None else None
  if importlib.util.find_spec("jax") is None:
    return "not installed: jax"
  if not os.path.exists(os.path.join(REPO_ROOT, configs.split(args.bigjax_config)[0])):
    return f"{args.bigjax_config} not found"
  return None


# --- bigjax's evaluation, timed in its own process ----------------------------------------------

def time_bigjax_eval(run_dir: str, repeats: int) -> dict:
  """Restores the run in ``run_dir`` and times ``repeats`` evaluations of all users as ``train.run`` does."""
  # pylint: disable=import-outside-toplevel
  import jax
  import ml_collections
  from bigjax import parallel, program, runs
  from bigjax.data import pipeline

  t0 = time.perf_counter()
  config = ml_collections.ConfigDict(json.loads((pathlib.Path(run_dir) / "config.json").read_text()))
  config.data.full_ranking = False  # NCF's protocol: the 100 candidates only, as torch_ncf
  model, family = program.validate(config)
  mesh = program.make_checked_mesh(config)
  train_ds = program.load_split(config.data, config.data.train_split)
  eval_ds = program.load_split(config.data, config.data.eval_split)
  if config.data.eval_examples > 0:
    eval_ds = eval_ds.prefix(config.data.eval_examples)
  model = program.fit_model_to_data(model, config.model, train_ds)
  example = program.example_spec(train_ds.arrays)
  _, _, params = runs.restore_params(run_dir, model, example)
  built = program.build(config, family, model, mesh, example, program.make_schedule(config, len(train_ds)),
                        program.example_spec(eval_ds.arrays))
  params = jax.device_put(params, built.state_sharding.params)
  host_batches = list(pipeline.eval_batches(eval_ds.arrays, config.data.eval_batch_size,
                                            jax.process_index(), jax.process_count()))
  setup_s = time.perf_counter() - t0

  def evaluate() -> dict[str, float]:  # train.run's evaluate
    totals: dict[str, float] = {}
    for host_batch in host_batches:
      sums = jax.device_get(built.eval_call(params, parallel.host_to_global(host_batch, mesh)))
      for k, v in sums.items():
        totals[k] = totals.get(k, 0.0) + float(v)
    count = totals.pop("count")
    return {k: v / count for k, v in totals.items()}

  times, metrics = [], None
  for _ in range(repeats):
    start = time.perf_counter()
    result = evaluate()
    times.append(time.perf_counter() - start)
    metrics = metrics or result
  out = {"eval_time_s": sum(times) / len(times), "eval_times_s": times, "evaluations": repeats,
         "metrics": metrics, "users": len(eval_ds), "eval_batch_size": config.data.eval_batch_size,
         "batches": len(host_batches), "full_ranking": False, "setup_time_s": setup_s,
         "compile_time_s": built.compile_time, "device_kind": jax.devices()[0].device_kind}
  print(json.dumps(out, indent=2), flush=True)
  return out


# --- running one framework ----------------------------------------------------------------------

def _steps_per_epoch(metrics_jsonl: str) -> int | None:
  """bigjax's steps per epoch, from the ``train/epoch`` (= step / steps_per_epoch) it logs."""
  try:
    with open(metrics_jsonl) as f:
      records = [r for r in map(json.loads, f) if r.get("train/epoch")]
  except (OSError, ValueError):
    return None
  return round(records[-1]["step"] / records[-1]["train/epoch"]) if records else None


def per_epoch(train_loop_s: float | None, steps: int | None, steps_per_epoch: int | None) -> dict:
  """The epoch time and training rate of one run, the same arithmetic for every framework: ``train_loop_s``
  (its training loop's time, evaluations left out) per step run, times the steps of one epoch."""
  if not (train_loop_s and steps and steps_per_epoch):
    return {"epoch_time_s": None, "steps_per_s": None}
  return {"epoch_time_s": train_loop_s / steps * steps_per_epoch, "steps_per_s": steps / train_loop_s}


def train_command(name: str, args, the_plan: dict, workdir: str) -> tuple[list[str] | None, str]:
  """``(command, the JSON it writes)`` of one framework's training run in ``workdir``: N epochs, one
  evaluation after each (``--eval-repeats 1`` for torch_ncf: the repeats are timed in their own process)."""
  if name == "torch":
    cmd = [sys.executable, os.path.join(BENCH_DIR, "torch_ncf.py"), *the_plan["torch_flags"], "--epochs",
           str(args.epochs), "--seed", str(args.seed), "--eval-repeats", "1",
           "--save-model", os.path.join(workdir, "torch_model.pt"), "--json", os.path.join(workdir, "torch.json")]
    return cmd + (["--threads", str(args.torch_threads)] if args.torch_threads else []), cmd[-1]
  return bigjax_run_command(workdir, args.bigjax_config, [*the_plan["bigjax_overrides"], *args.bigjax_flag])


def eval_command(name: str, args, the_plan: dict, workdir: str, trained: str) -> tuple[list[str], str]:
  """``(command, the JSON it writes)`` that times ``--eval-repeats`` evaluations of the ``trained`` parameters
  (torch: the saved state_dict; bigjax: the run directory) in a process of its own."""
  out_json = os.path.join(workdir, f"{name}_eval.json")
  if name == "torch":
    cmd = [sys.executable, os.path.join(BENCH_DIR, "torch_ncf.py"), *the_plan["torch_flags"], "--seed",
           str(args.seed), "--time-eval", trained, "--eval-repeats", str(args.eval_repeats), "--json", out_json]
    return cmd + (["--threads", str(args.torch_threads)] if args.torch_threads else []), out_json
  return ([sys.executable, os.path.abspath(__file__), "--time-bigjax-eval", trained,
           "--eval-repeats", str(args.eval_repeats), "--json", out_json], out_json)


def bench_row(name: str, args, the_plan: dict, workdir: str) -> dict:
  """Runs one framework once in ``workdir`` (its training, then its timed evaluation); returns its row (status
  'ok', 'missing' or 'failed') with the statistics of ``STATISTICS``, each computed as for every framework."""
  row = {"epochs": args.epochs}
  reason = missing_reason(name, args)
  if reason:
    print(f"\n[{name}] skipped: {reason}", flush=True)
    return dict(row, status="missing", error=reason)
  os.makedirs(workdir, exist_ok=True)
  cmd, out_json = train_command(name, args, the_plan, workdir)
  row = run_and_read(row, name, cmd, out_json, workdir)
  if row["status"] != "ok":
    return row
  raw = row["raw"]
  row["wall_time_s"] = row["process_time_s"]  # one statistic for all: measured here, launch to exit

  if name == "torch":
    trained = os.path.join(workdir, "torch_model.pt")
    train_loop_s, steps, steps_per_epoch = raw["train_time_s"], raw["steps"], raw["steps_per_epoch"]
    row.update(hr=raw[f"hr@{TOP_K}"], ndcg=raw[f"ndcg@{TOP_K}"], num_params=raw["num_params"],
               versions={**raw["versions"], "threads": raw["threads"]["intra_op"]})
  else:
    trained = os.path.dirname(out_json)
    metrics_jsonl = os.path.join(trained, "metrics.jsonl")
    train_loop_s, _, covered = logged_train_time(metrics_jsonl)
    steps, steps_per_epoch = raw.get("steps"), _steps_per_epoch(metrics_jsonl)
    if covered != steps:
      train_loop_s = None  # a resumed or cut-short log
    final = raw.get("final_metrics", {})
    split = raw.get("config", {}).get("data", {}).get("eval_split", "test")
    row.update(hr=final.get(f"{split}/hr@{TOP_K}"), ndcg=final.get(f"{split}/ndcg@{TOP_K}"),
               num_params=raw.get("num_params"), compile_time_s=raw.get("compile_time_s"),
               device_kind=raw.get("device_kind"),
               versions={"bigjax": raw.get("git_revision", "?"), **_jax_versions()})
  row.update(steps=steps, steps_per_epoch=steps_per_epoch, train_loop_s=train_loop_s,
             **per_epoch(train_loop_s, steps, steps_per_epoch))
  return time_eval(row, name, *eval_command(name, args, the_plan, workdir, trained), workdir)


def time_eval(row: dict, name: str, cmd: list[str], eval_json: str, workdir: str) -> dict:
  """Runs the evaluation-timing command and adds its ``eval_time_s`` (and its raw JSON) to ``row``; the timed
  evaluation must score as the training run's last one did."""
  log = os.path.join(workdir, f"{name}_eval.log")
  rc, tail, _ = run_logged(f"{name} eval", cmd, log)
  row.update(eval_command=cmd, eval_log=log)
  if rc != 0 or not os.path.exists(eval_json):
    why = (f"exit code {rc}" if rc != 0 else f"no {eval_json}") + f"; see {log}"
    return dict(row, status="failed", error=f"timing the evaluation: {why}", output_tail=tail[-10:])
  with open(eval_json) as f:
    row["eval_raw"] = json.load(f)
  row["eval_time_s"] = row["eval_raw"]["eval_time_s"]
  timed_hr = row["eval_raw"]["metrics"].get(f"hr@{TOP_K}")
  if row.get("hr") is not None and timed_hr is not None and abs(timed_hr - row["hr"]) > 1e-6:
    row["warning"] = f"the timed evaluation gave HR@{TOP_K} {timed_hr:.6f}, the run's last one {row['hr']:.6f}"
  return row


# --- the summary and the table -------------------------------------------------------------------

def summary(rows: list[dict]) -> dict:
  """Every statistic's median and min-max per framework, and the time ratios to PyTorch within each round."""
  out = {key: interleave.summarise(rows, key) for key in (*TIMES, "hr", "ndcg", "compile_time_s")}
  for key, ratio_key in TIMES.items():
    out[ratio_key] = interleave.ratios_per_round(rows, key, BASELINE)
  return out


def markdown_table(rows: list[dict], info: dict) -> str:
  """One row per framework: median (min-max) over its runs of epoch time, eval time and wall time, each with
  its per-round ratio to PyTorch, and HR@10 / NDCG@10; failures, warnings and versions listed below."""
  s = summary(rows)
  spread = interleave.fmt_spread
  lines = [f"| framework | runs | epoch time, s | vs PyTorch (same round) | eval time, s | vs PyTorch (same round) | "
           f"wall time, s | vs PyTorch (same round) | HR@{TOP_K} | NDCG@{TOP_K} |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
  notes, versions = [], {}
  for name in dict.fromkeys(r["framework"] for r in rows):
    mine = [r for r in rows if r["framework"] == name]
    ok = [r for r in mine if r["status"] == "ok"]
    cells = []
    for key, ratio_key in TIMES.items():
      cells += [spread(s[key].get(name), ".3f" if key == "eval_time_s" else ".2f"),
                spread(s[ratio_key].get(name), ".2f", suffix="x")]
    lines.append(f"| {name} | {len(ok)} of {len(mine)} | " + " | ".join(cells) + " | "
                 f"{spread(s['hr'].get(name), '.4f')} | {spread(s['ndcg'].get(name), '.4f')} |")
    for r in mine:
      if r["status"] != "ok":
        notes.append(f"- {name}, round {r['round']}: {r['status']}: {r['error']}")
      if r.get("warning"):
        notes.append(f"- {name}, round {r['round']}: warning: {r['warning']}")
      versions.setdefault(name, r.get("versions"))
    if ok:
      steps, per = ok[0].get("steps"), ok[0].get("steps_per_epoch")
      note = f"- {name}: {_fmt(steps, 'd')} steps run, {_fmt(per, 'd')} per epoch"
      if name == "bigjax":
        note += (f" (whole calls of {info['steps_per_call']} steps: its epoch time is per step x {_fmt(per, 'd')});"
                 f" XLA compile {spread(s['compile_time_s'].get(name), '.1f')} s, outside its epoch time, inside "
                 f"its wall time")
      notes.append(note)
  notes += [f"- {name}: " + ", ".join(f"{k} {v}" for k, v in v_.items()) for name, v_ in versions.items() if v_]
  m = info["machine"]
  header = (f"Machine: {m['cpu_model']}, {m['cpus_usable']} cores usable ({m['cpu_count']} present); "
            f"git {info['git_revision']}; {info['date']}; {info['repeats']} interleaved rounds; "
            f"median (min-max) over the rounds, ratios bigjax / PyTorch within a round")
  setup = (f"NeuMF on {info['dataset']} ({info['source']} source): factors {info['factors']}, MLP "
           f"{'-'.join(map(str, info['layers']))}, {info['num_negatives']} negatives per positive, batch "
           f"{info['batch_size']}, Adam lr {info['lr']}, {info['epochs']} epoch(s), one evaluation after each; "
           f"evaluation: all users x 100 candidates in batches of {info['eval_batch_size']}.")
  definitions = [
      "- epoch time: the training loop's time with evaluations (and bigjax's checkpoint waits) left out, per step "
      "run, x steps per epoch; each loop's own clock (torch: its epochs', negatives and permutation included; "
      "bigjax: its logged intervals, metrics.jsonl); compilation outside it (bigjax compiles ahead of the loop).",
      f"- eval time: mean of {info['eval_repeats']} back-to-back evaluations of every user's 100 candidates "
      f"(HR@{TOP_K}/NDCG@{TOP_K}, full ranking off), the trained parameters restored in a process of their own.",
      "- wall time: the training process from launch to exit, measured by the bench for both (imports, data, "
      "bigjax's compile and per-epoch checkpoints, the epochs and their evaluations).",
      f"- HR@{TOP_K}, NDCG@{TOP_K}: after the last epoch.",
  ]
  return "\n".join([header, "", setup, "", *lines, "", *definitions, *notes])


def main(argv=None):
  args = parse_args(argv)
  if args.time_bigjax_eval:
    out = time_bigjax_eval(args.time_bigjax_eval, args.eval_repeats)
    if args.json:
      with open(args.json, "w") as f:
        json.dump(out, f, indent=2)
    return
  the_plan = plan(args)
  workdir = args.workdir or tempfile.mkdtemp(prefix="ncf_bench_")
  problem = check_workdir(workdir, args.only, args.repeats)
  if problem:
    raise SystemExit(problem)
  os.makedirs(workdir, exist_ok=True)
  info = {"machine": machine_info(), "git_revision": git_revision(),
          "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
          "bigjax_config": args.bigjax_config, "epochs": args.epochs, "seed": args.seed, "repeats": args.repeats,
          "eval_repeats": args.eval_repeats, "statistics": STATISTICS, "workdir": workdir, **the_plan}
  print(f"NeuMF bench: {the_plan['dataset']}, {args.epochs} epoch(s), {args.repeats} rounds of "
        f"{', '.join(args.only)}, runs in {workdir}", flush=True)
  rows = interleave.run_interleaved(
      args.only, args.repeats, lambda name, r: bench_row(name, args, the_plan, os.path.join(workdir, f"{name}_r{r}")))
  info["summary"] = summary(rows)
  sys.exit(finish(rows, markdown_table(rows, info), info, args.json))


if __name__ == "__main__":
  main()
