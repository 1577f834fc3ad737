"""Side by side: NeuMF (He et al. 2017) on MovieLens, epoch time and evaluation time, eager PyTorch vs bigjax.

Runs each framework in its own subprocess, one after the other (never two at once, so they don't fight
over the CPU's threads), with the same data, model, negatives, data order, optimizer and evaluation:

  torch   bench/torch_ncf.py --dataset D --epochs N --seed S  (+ the config's model/batch/optimizer fields)
  bigjax  python -m bigjax.main --config=configs/ml1m_neumf.py --workdir=TMP/bigjax_run
              --config.train.num_epochs=N [--config.data.full_ranking=False] [--config.seed=S]
          then  python bench/ncf.py --time-bigjax-eval TMP/bigjax_run   (bigjax's evaluation, timed alone)

  --dataset ml-1m    -> configs/ml1m_neumf.py      --dataset ml-100k -> configs/ml100k_neumf.py

Epoch time: the mean time of one epoch of training (its negatives, its order, its steps), evaluation and
(bigjax) XLA compilation left out. torch_ncf times its epochs; bigjax's comes from the run's
metrics.jsonl: the logged intervals (``perf/steps_per_s``, which ``Progress.restart_clock`` keeps free of
evaluations) summed, divided by the steps they cover and times the steps of one epoch (bigjax rounds the
run to whole calls of ``steps_per_call`` steps, so a run of N "epochs" is not exactly N epochs of steps).
Eval time: the mean time of one evaluation of all users, each scoring its 100 candidates (HR@10 and
NDCG@10, NCF's leave-one-out protocol, full ranking off in both). bigjax's: a separate process restores the
trained run (``runs.restore_params``), builds the program as ``train.run`` does (``program.build``,
AOT-compiled, compile left out), pads the evaluation batches once (``pipeline.eval_batches``) and times
``--eval-repeats`` evaluations exactly as ``train.run``'s ``evaluate``: ``Program.eval_call`` per batch with
``host_to_global`` and ``device_get``; torch_ncf evaluates ``--eval-repeats`` times after every epoch.

  python bench/ncf.py --epochs 20 --json runs/bench_ncf.json     # the bench: ML-1M (a QUIET machine!)
  python bench/ncf.py --dataset ml-100k --epochs 1               # a short check of the plumbing
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
from char_gpt import logged_train_time
from seed_cnn import (REPO_ROOT, _fmt, _jax_versions, bigjax_run_command, finish, git_revision, machine_info,
                      run_and_read, run_logged)
from bigjax import configs  # char_gpt put the repository on sys.path

BENCH_DIR = os.path.join(REPO_ROOT, "bench")
FRAMEWORKS = ("torch", "bigjax")
CONFIGS = {"ml-1m": "configs/ml1m_neumf.py", "ml-100k": "configs/ml100k_neumf.py"}
TOP_K = 10


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--dataset", default="ml-1m", choices=sorted(CONFIGS))
  p.add_argument("--epochs", type=int, default=1, help="training epochs for both (the paper trains 20)")
  p.add_argument("--seed", type=int, default=0, help="init, negatives and data order of both")
  p.add_argument("--only", default=",".join(FRAMEWORKS), help="comma-separated subset of " + ",".join(FRAMEWORKS))
  p.add_argument("--bigjax-config", default=None, help="config file[:variant] for bigjax.main "
                 f"(default by --dataset: {CONFIGS}); its model, data and optimizer must be torch_ncf's")
  p.add_argument("--bigjax-flag", action="append", default=[], metavar="FLAG",
                 help="extra flag for bigjax.main, e.g. --bigjax-flag=--config.train.steps_per_call=64 (repeatable)")
  p.add_argument("--eval-repeats", type=int, default=3,
                 help="evaluations timed: bigjax's of the trained run, torch's after every epoch")
  p.add_argument("--torch-threads", type=int, default=None, help="torch threads (default: CPU cores available)")
  p.add_argument("--workdir", default=None, help="where runs write (default: a new temp dir, kept)")
  p.add_argument("--json", metavar="OUT", help="write machine info, runs and table as JSON")
  p.add_argument("--time-bigjax-eval", metavar="RUN_DIR", default=None,
                 help="(used by the bench itself) time bigjax's evaluation of the trained run in RUN_DIR, "
                      "write its JSON to --json and exit")
  args = p.parse_args(argv)
  args.only = [name.strip() for name in args.only.split(",") if name.strip()]
  unknown = sorted(set(args.only) - set(FRAMEWORKS))
  if unknown:
    p.error(f"--only: unknown framework(s) {unknown}; choose from {list(FRAMEWORKS)}")
  if args.epochs < 1 or args.eval_repeats < 1:
    p.error("--epochs and --eval-repeats must be >= 1")
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


def bench_row(name: str, args, the_plan: dict, workdir: str) -> dict:
  """Runs one framework; returns its normalised row (status 'ok', 'missing' or 'failed')."""
  row = {"framework": name, "epochs": args.epochs}
  reason = missing_reason(name, args)
  if reason:
    print(f"\n[{name}] skipped: {reason}", flush=True)
    return dict(row, status="missing", error=reason)

  if name == "torch":
    out_json = os.path.join(workdir, "torch.json")
    cmd = [sys.executable, os.path.join(BENCH_DIR, "torch_ncf.py"), *the_plan["torch_flags"], "--epochs",
           str(args.epochs), "--seed", str(args.seed), "--eval-repeats", str(args.eval_repeats), "--json", out_json]
    if args.torch_threads:
      cmd += ["--threads", str(args.torch_threads)]
  else:
    cmd, out_json = bigjax_run_command(workdir, args.bigjax_config, [*the_plan["bigjax_overrides"], *args.bigjax_flag])

  row = run_and_read(row, name, cmd, out_json, workdir)
  if row["status"] != "ok":
    return row
  raw = row["raw"]

  if name == "torch":
    row.update(epoch_time_s=raw["epoch_time_s"], eval_time_s=raw["eval_time_s"], steps_per_s=raw["steps_per_s"],
               steps_per_epoch=raw["steps_per_epoch"], steps=raw["steps"], wall_time_s=raw["wall_time_s"],
               hr=raw[f"hr@{TOP_K}"], ndcg=raw[f"ndcg@{TOP_K}"], dataset=raw["dataset"],
               num_params=raw["num_params"], versions={**raw["versions"], "threads": raw["threads"]["intra_op"]})
    return row

  run_dir = os.path.dirname(out_json)
  metrics_jsonl = os.path.join(run_dir, "metrics.jsonl")
  train_s, median_rate, covered = logged_train_time(metrics_jsonl)
  if covered != raw.get("steps"):
    train_s = None  # a resumed or cut-short log
  steps_per_epoch = _steps_per_epoch(metrics_jsonl)
  final = raw.get("final_metrics", {})
  split = raw.get("config", {}).get("data", {}).get("eval_split", "test")
  row.update(steps=raw.get("steps"), steps_per_epoch=steps_per_epoch, train_time_s=train_s,
             epoch_time_s=train_s / covered * steps_per_epoch if train_s and steps_per_epoch else None,
             steps_per_s=covered / train_s if train_s else None,
             median_logged_steps_per_s=median_rate, loop_steps_per_s=raw.get("train_steps_per_s"),
             wall_time_s=raw.get("wall_time_s"), compile_time_s=raw.get("compile_time_s"),
             hr=final.get(f"{split}/hr@{TOP_K}"), ndcg=final.get(f"{split}/ndcg@{TOP_K}"),
             num_params=raw.get("num_params"), device_kind=raw.get("device_kind"),
             versions={"bigjax": raw.get("git_revision", "?"), **_jax_versions()})

  eval_json = os.path.join(workdir, "bigjax_eval.json")
  eval_cmd = [sys.executable, os.path.abspath(__file__), "--time-bigjax-eval", run_dir,
              "--eval-repeats", str(args.eval_repeats), "--json", eval_json]
  eval_log = os.path.join(workdir, "bigjax_eval.log")
  rc, tail, _ = run_logged("bigjax eval", eval_cmd, eval_log)
  row.update(eval_command=eval_cmd, eval_log=eval_log)
  if rc != 0 or not os.path.exists(eval_json):
    why = (f"exit code {rc}" if rc != 0 else f"no {eval_json}") + f"; see {eval_log}"
    return dict(row, status="failed", error=f"timing the evaluation: {why}", output_tail=tail[-10:])
  with open(eval_json) as f:
    row["eval_raw"] = json.load(f)
  row["eval_time_s"] = row["eval_raw"]["eval_time_s"]
  # The restored parameters must score as the run's own final evaluation did.
  timed_hr = row["eval_raw"]["metrics"].get(f"hr@{TOP_K}")
  if row["hr"] is not None and timed_hr is not None and abs(timed_hr - row["hr"]) > 1e-6:
    row["warning"] = f"the timed evaluation gave HR@{TOP_K} {timed_hr:.6f}, the run's final one {row['hr']:.6f}"
  return row


# --- the table ------------------------------------------------------------------------------------

def markdown_table(rows: list[dict], info: dict) -> str:
  torch_row = next((r for r in rows if r["framework"] == "torch" and r["status"] == "ok"), {})

  def ratio(r, key):
    return f"{r[key] / torch_row[key]:.2f}x" if r.get(key) and torch_row.get(key) else "—"

  lines = [f"| framework | epochs | steps/epoch | epoch time (s) | eval time (s) | train steps/s | HR@{TOP_K} | "
           f"NDCG@{TOP_K} | epoch time vs torch | eval time vs torch |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
  notes = []
  for r in rows:
    if r["status"] == "missing" or "raw" not in r:
      lines.append(f"| {r['framework']} | {r['epochs']} | — | — | — | — | — | — | {r['status']} | {r['status']} |")
      notes.append(f"- {r['framework']}: {r['status']}: {r['error']}")
      continue
    lines.append(f"| {r['framework']} | {r['epochs']} | {_fmt(r.get('steps_per_epoch'), 'd')} | "
                 f"{_fmt(r.get('epoch_time_s'), '.2f')} | {_fmt(r.get('eval_time_s'), '.3f')} | "
                 f"{_fmt(r.get('steps_per_s'), '.0f')} | {_fmt(r.get('hr'), '.4f')} | {_fmt(r.get('ndcg'), '.4f')} | "
                 f"{ratio(r, 'epoch_time_s')} | {ratio(r, 'eval_time_s')} |")
    extra = ""
    if r["framework"] == "bigjax":
      extra = (f"; {r.get('steps')} steps run, compile {_fmt(r.get('compile_time_s'), '.1f')} s, "
               f"wall time {_fmt(r.get('wall_time_s'), '.1f')} s")
    else:
      extra = f"; wall time {_fmt(r.get('wall_time_s'), '.1f')} s"
    notes.append(f"- {r['framework']}: " + ", ".join(f"{k} {v}" for k, v in r.get("versions", {}).items()) + extra)
    steps, per_epoch = r.get("steps"), r.get("steps_per_epoch")
    if r["framework"] == "bigjax" and steps and per_epoch and steps != r["epochs"] * per_epoch:
      over = steps > r["epochs"] * per_epoch
      notes.append(f"- bigjax: ran {steps} steps (whole calls of {info['steps_per_call']}) for {r['epochs']} x "
                   f"{per_epoch}; its epoch time is per step x {per_epoch}"
                   + ("; the steps past the last epoch also drew the next epoch's negatives inside the timed "
                      "intervals (under a second on ML-1M)" if over else ""))
    if r["status"] != "ok":
      notes.append(f"- {r['framework']}: {r['status']}: {r['error']}")
    if r.get("warning"):
      notes.append(f"- {r['framework']}: warning: {r['warning']}")
  m = info["machine"]
  header = (f"Machine: {m['cpu_model']}, {m['cpus_usable']} cores usable ({m['cpu_count']} present); "
            f"git {info['git_revision']}; {info['date']}")
  setup = (f"NeuMF on {info['dataset']} ({info['source']} source): factors {info['factors']}, MLP "
           f"{'-'.join(map(str, info['layers']))}, {info['num_negatives']} negatives per positive, batch "
           f"{info['batch_size']}, Adam lr {info['lr']}; evaluation: all users x 100 candidates in batches of "
           f"{info['eval_batch_size']}, mean of {info['eval_repeats']} timed evaluation(s) (torch: per epoch).")
  definitions = [
      "- epoch time: one epoch of training (negatives, order, steps), evaluation and compilation left out; "
      "bigjax: its logged training intervals (metrics.jsonl) per step x steps per epoch.",
      f"- eval time: one evaluation of every user's 100 candidates with HR@{TOP_K}/NDCG@{TOP_K} (full ranking "
      "off); bigjax: the trained run restored in a separate process, its AOT-compiled eval_call timed as "
      "train.run calls it.",
      "- train steps/s: steps / time in epochs as above; HR/NDCG: after the last epoch.",
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
  os.makedirs(workdir, exist_ok=True)
  info = {"machine": machine_info(), "git_revision": git_revision(),
          "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
          "bigjax_config": args.bigjax_config, "epochs": args.epochs, "seed": args.seed,
          "eval_repeats": args.eval_repeats, "workdir": workdir, **the_plan}
  print(f"NeuMF bench: {the_plan['dataset']}, {args.epochs} epoch(s), runs in {workdir}", flush=True)

  rows = [bench_row(name, args, the_plan, workdir) for name in FRAMEWORKS if name in args.only]
  sys.exit(finish(rows, markdown_table(rows, info), info, args.json))


if __name__ == "__main__":
  main()
