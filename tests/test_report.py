"""bigjax.report turns results.json files into Markdown tables (per run, per sweep point) and PNG plots."""

import itertools
import os
import pathlib
import re
import shutil
import json

import numpy as np
import pytest

from bigjax import report


def write_run(root, name, accuracy, revision):
  (root / name).mkdir(parents=True)
  (root / name / "results.json").write_text(json.dumps({
      "final_metrics": {"test/accuracy": accuracy, "test/loss": 0.25}, "steps": 100, "wall_time_s": 12.4,
      "compile_time_s": 1.5, "device_count": 1, "device_kind": "cpu", "git_revision": revision,
      "command": f"python -m bigjax.main --workdir={name}"}))


def test_table_has_one_row_per_run_with_its_command(tmp_path, capsys):
  write_run(tmp_path, "a", 0.98765, "0123456789abcdef")
  write_run(tmp_path / "nested", "b", 0.5, "fedcba9876543210-dirty")
  assert report.main([str(tmp_path)]) == 0
  out = capsys.readouterr().out.strip()
  table, after = out[out.index("| run |"):].split("\n\n")  # the per-run table closes the report, then the footnote
  lines = table.splitlines()
  assert lines[0].startswith("| run | test/accuracy | test/loss | steps |")
  assert len(lines) == 4
  assert "| a | 98.77% | 0.2500 | 100 | 12 s | 1.5 s | 1x cpu | `0123456789ab` | `python -m bigjax.main --workdir=a` |" in lines
  assert "`fedcba987654-dirty`†" in lines[3]
  assert after.startswith("† recorded from a working tree with uncommitted changes")


def test_no_results_is_an_error(tmp_path, capsys):
  assert report.main([str(tmp_path)]) == 2
  assert "no results.json" in capsys.readouterr().err


# ---------------------------------------------------------------- sweeps: a 2x2 grid x 3 seeds

LRS, WIDTHS, SEEDS = (1e-3, 1e-1), (32, 64), (0, 1, 2)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def point_name(lr, width, seed):
  return f"optim.lr={lr},model.width={width},seed={seed}"


def write_sweep(root, with_sweep_json=True):
  """A 2x2 sweep x 3 seeds; returns {(lr, width): {"acc": [...], "loss": [...], "wall": [...]}} as written."""
  rng = np.random.default_rng(0)
  truth = {}
  for lr, width, seed in itertools.product(LRS, WIDTHS, SEEDS):
    # lr=0.1, width=64 is the best point by construction.
    acc = 0.80 + (0.1 if lr == 0.1 else 0) + (0.05 if width == 64 else 0) + 0.01 * rng.standard_normal()
    loss, wall = 1.0 - acc + 0.01 * rng.standard_normal(), 10.0 + rng.uniform()
    point = truth.setdefault((lr, width), {"acc": [], "loss": [], "wall": [], "curve": []})
    point["acc"].append(acc), point["loss"].append(loss), point["wall"].append(wall)
    workdir = root / point_name(lr, width, seed)
    workdir.mkdir(parents=True)
    config = {"seed": seed, "optim": {"lr": lr, "name": "adam"}, "model": {"name": "mlp.MLP", "width": width},
              "data": {"data_dir": f"/tmp/data{seed}", "batch_size": 32}}  # data_dir: noise, not swept
    (workdir / "results.json").write_text(json.dumps({
        "final_metrics": {"validation/accuracy": acc, "validation/loss": loss, "test/accuracy": acc, "test/loss": loss, "train/loss": loss + 0.1},
        "config": config,
        "seed": seed, "steps": 20, "wall_time_s": wall, "compile_time_s": 1.0, "device_kind": "cpu",
        "device_count": 1, "git_revision": "abc", "command": f"python -m bigjax.main --workdir={workdir}"}))
    curve = [2.0 / (1 + step * lr) + seed for step in (0, 10, 20)]
    point["curve"].append(curve)
    lines = [{"step": s, "time": 0.0, "train/loss": v} for s, v in zip((0, 10, 20), curve)]
    lines.insert(2, {"step": 10, "time": 0.0, "test/accuracy": acc})  # a line with other metrics only
    (workdir / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
  if with_sweep_json:
    (root / "sweep.json").write_text(json.dumps({
        "config": "configs/digits_mlp.py", "variant": None, "overrides": [],
        "points": [{"name": point_name(lr, w, s), "overrides": {"optim.lr": lr, "model.width": w, "seed": s}}
                   for lr, w, s in itertools.product(LRS, WIDTHS, SEEDS)]}))
  return truth


@pytest.mark.parametrize("with_sweep_json", [True, False])
def test_seeds_grouped_into_points_with_numpy_mean_and_std(tmp_path, with_sweep_json):
  truth = write_sweep(tmp_path, with_sweep_json)
  runs = report.find_results([str(tmp_path)])
  sweeps = report.find_sweeps([str(tmp_path)])
  keys = report.swept_keys(runs, sweeps)
  # sweep.json declares its order; inference sorts the differing keys and ignores data.data_dir and seed.
  assert keys == (["optim.lr", "model.width"] if with_sweep_json else ["model.width", "optim.lr"])
  points = report.group_points(runs, keys, sweeps)
  assert len(points) == 4
  for point in points:
    expected = truth[(point.values["optim.lr"], point.values["model.width"])]
    assert sorted(r["seed"] for _, r in point.runs) == list(SEEDS)
    for metric, name in (("test/accuracy", "acc"), ("test/loss", "loss")):
      mean, std, n = point.stats(metric)
      np.testing.assert_allclose(mean, np.mean(expected[name]), rtol=1e-12)
      np.testing.assert_allclose(std, np.std(expected[name], ddof=1), rtol=1e-12)
      assert n == 3
    np.testing.assert_allclose(point.mean_wall_time(), (np.mean(expected["wall"]), 3))
    steps, curve = point.curve("train/loss")
    np.testing.assert_array_equal(steps, [0, 10, 20])
    np.testing.assert_allclose(curve, np.mean(expected["curve"], axis=0))


def test_aggregated_table_marks_the_best_point(tmp_path, capsys):
  truth = write_sweep(tmp_path)
  assert report.main([str(tmp_path), "--metrics=validation/accuracy,test/loss"]) == 0
  out = capsys.readouterr().out
  lines = out.splitlines()
  header = lines.index("| optim.lr | model.width | validation/accuracy | test/loss | seeds | wall time |")
  rows = lines[header + 2:header + 6]
  acc, loss = np.array(truth[(0.1, 64)]["acc"]), np.array(truth[(0.1, 64)]["loss"])
  best_row = (f"| **0.1** | **64** | **{100 * acc.mean():.2f}% ± {100 * acc.std(ddof=1):.2f}%** "
              f"| **{loss.mean():.4f} ± {loss.std(ddof=1):.4f}** | **3** |")
  assert [r.startswith(best_row) for r in rows] == [False, False, False, True]
  assert rows[0].startswith("| 0.001 | 32 |")
  # A loss is minimised by default; --best-mode max picks the highest loss instead.
  assert report.main([str(tmp_path), "--best", "validation/loss"]) == 0
  assert "| **0.1** | **64** |" in capsys.readouterr().out
  assert report.main([str(tmp_path), "--best", "validation/loss", "--best-mode", "max"]) == 0
  assert "| **0.001** | **32** |" in capsys.readouterr().out
  # The per-run table follows, one row per run.
  assert sum(line.startswith("| optim.lr=") for line in lines) == 12
  # Chosen by a test metric (the default), no point is marked: a choice reads a validation split.
  assert report.main([str(tmp_path)]) == 0
  out = capsys.readouterr().out
  assert "no point marked: test/accuracy is a test metric" in out
  assert "**" not in out[:out.index("| run |")]


def test_single_seed_has_no_std(tmp_path, capsys):
  write_run(tmp_path, "a", 0.5, "abc")
  assert report.main([str(tmp_path), "--metrics", "test/accuracy"]) == 0
  assert "| 50.00% ± – | 1 | 12 s |" in capsys.readouterr().out


def test_out_writes_markdown_with_generated_by_line_and_plots(tmp_path, capsys):
  write_sweep(tmp_path / "sweep")
  out, plots = tmp_path / "report" / "REPORT.md", tmp_path / "report" / "plots"
  argv = [str(tmp_path / "sweep"), "--metrics=test/accuracy,test/loss", "--plots", str(plots), "--out", str(out)]
  assert report.main(argv) == 0
  assert capsys.readouterr().out == ""
  text = out.read_text()
  assert text.splitlines()[0] == f"Generated by `python -m bigjax.report {' '.join(argv)}`"
  assert text.index("| optim.lr | model.width |") < text.index("| run |")
  pngs = sorted(p.name for p in plots.iterdir())
  assert pngs == ["curve_train_loss.png", "test_accuracy_vs_model.width.png", "test_accuracy_vs_optim.lr.png"]
  for name in pngs:
    assert (plots / name).read_bytes()[:8] == PNG_MAGIC and (plots / name).stat().st_size > 1000
    assert f"](plots/{name})" in text  # relative to the Markdown file


def test_categorical_swept_values_plot(tmp_path):
  for i, (optimizer, seed) in enumerate(itertools.product(("adam", "sgd"), SEEDS)):
    (tmp_path / str(i)).mkdir()
    (tmp_path / str(i) / "results.json").write_text(json.dumps({
        "final_metrics": {"test/loss": 0.1 * i}, "config": {"seed": seed, "optim": {"name": optimizer}}}))
    (tmp_path / str(i) / "metrics.jsonl").write_text(json.dumps({"step": 1, "train/loss": 1.0}) + "\n")
  assert report.main([str(tmp_path), "--metrics", "test/loss", "--plots", str(tmp_path / "p")]) == 0
  assert (tmp_path / "p" / "test_loss_vs_optim.name.png").read_bytes()[:8] == PNG_MAGIC


def test_missing_metric_is_an_error_listing_available_ones(tmp_path, capsys):
  write_sweep(tmp_path)
  assert report.main([str(tmp_path), "--metrics", "test/accuracy,test/bleu"]) == 2
  err = capsys.readouterr().err
  assert "'test/bleu'" in err and "available: test/accuracy, test/loss, train/loss" in err
  assert report.main([str(tmp_path), "--plots", str(tmp_path / "p"), "--curve", "train/nope"]) == 2
  assert "'train/nope'" in capsys.readouterr().err


def test_invalid_results_json_names_the_file(tmp_path, capsys):
  write_run(tmp_path, "a", 0.5, "abc")
  (tmp_path / "b").mkdir()
  (tmp_path / "b" / "results.json").write_text('{"final_metrics": {"test/acc')
  assert report.main([str(tmp_path)]) == 2
  assert str(tmp_path / "b" / "results.json") in capsys.readouterr().err


def test_safe_names_and_log_scale():
  assert report.safe_name("test/accuracy") == "test_accuracy"
  assert report.safe_name("a b:c") == "a_b_c"
  assert report._is_log_scale([1e-4, 1e-2]) and not report._is_log_scale([1, 5])
  assert not report._is_log_scale([0.0, 100.0]) and not report._is_log_scale(["adam", "sgd"])


# ---------------------------------------------------------------- templates

def test_template_values_and_report_directives(tmp_path, capsys):
  exp = tmp_path / "exp"
  write_run(exp / "runs", "a", 0.98765, "0123456789abcdef")
  (exp / "bench.json").write_text(json.dumps({"runs": [{"raw": {"wall_s": 180.61}}], "table": "| x |\n|---|"}))
  (exp / "T.md").write_text(
      "# Results\n"
      "accuracy {{value runs/a test/accuracy}}, loss {{value runs/a test/loss}}, "
      "{{value runs/a wall_time_s .0f}} s; keras {{value bench.json runs.0.raw.wall_s .1f}} s\n"
      "{{value bench.json table}}\n"
      "  {{report runs --runs-only --metrics=test/accuracy}}\n"
      "end\n")
  out = tmp_path / "out" / "R.md"
  assert report.main(["--template", str(exp / "T.md"), "--out", str(out)]) == 0
  text = out.read_text()
  lines = text.splitlines()
  assert lines[0].startswith("<!-- Generated by `python -m bigjax.report --template") and "never this file" in lines[0]
  assert lines[1:5] == ["# Results", "accuracy 98.77%, loss 0.2500, 12 s; keras 180.6 s", "| x |", "|---|"]
  assert "| a | 98.77% | 100 | 12 s |" in text and "Sweep points" not in text  # --runs-only
  assert lines[-1] == "end"


@pytest.mark.parametrize("body, message", [
    ("{{value runs/a test/f1}}", "T.md:1: .*has no final metric or field 'test/f1'; metrics: test/accuracy, test/loss"),
    ("{{value runs/zz test/accuracy}}", r"T.md:1: .*runs/zz not found \(expected a run directory"),
    ("{{value b.json runs.3.x}}", r"T.md:1: .*b.json: no 'runs.3'"),
    ("{{valu runs/a test/accuracy}}", r"T.md:1: unknown directive"),
    ("{{report runs --nope}}", r"T.md:1: bad report directive"),
    ("{{report runs --out=x.md}}", r"T.md:1: --out and --template are not allowed"),
])
def test_template_errors_name_file_line_and_thing(tmp_path, capsys, body, message):
  write_run(tmp_path / "runs", "a", 0.9, "0123456789abcdef")
  (tmp_path / "b.json").write_text(json.dumps({"runs": [{"x": 1}]}))
  (tmp_path / "T.md").write_text(body + "\n")
  out = tmp_path / "R.md"
  assert report.main(["--template", str(tmp_path / "T.md"), "--out", str(out)]) == 2
  assert re.search(message, capsys.readouterr().err)
  assert not out.exists()


REPO = pathlib.Path(__file__).resolve().parent.parent
# Each generated Markdown file and its template: experiments/*/RESULTS.md, and bench/README.md (issue 23, point 4:
# every number of the bench README is read from a bench's record).
GENERATED = [template.with_name("RESULTS.md") for template in sorted(REPO.glob("experiments/*/RESULTS.in.md"))]
GENERATED.append(REPO / "bench" / "README.md")


@pytest.mark.parametrize("generated", GENERATED, ids=lambda path: str(path.relative_to(REPO)))
def test_generated_markdown_files_are_up_to_date_with_their_records(tmp_path, generated):
  """Every experiments/*/RESULTS.md with a RESULTS.in.md, and bench/README.md from bench/README.in.md, is what the
  report makes of it now (never edited by hand)."""
  assert len(GENERATED) > 1
  template = generated.with_name(generated.name.replace(".md", ".in.md"))
  folder = template.parent.relative_to(REPO)
  # The template's folder is copied (the report may write plots there); the repository's other top-level
  # entries are linked, for a template citing records outside its folder (bench/README.in.md: ../experiments).
  shutil.copytree(REPO / folder, tmp_path / folder)
  for entry in REPO.iterdir():
    if entry.name != folder.parts[0] and not entry.name.startswith("."):
      (tmp_path / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
  argv = ["--template", str(folder / template.name), "--out", str(folder / generated.name)]
  (tmp_path / folder / generated.name).unlink(missing_ok=True)
  cwd = os.getcwd()
  os.chdir(tmp_path)
  try:
    assert report.main(argv) == 0
  finally:
    os.chdir(cwd)
  command = f"python -m bigjax.report {' '.join(argv)}"
  assert generated.exists(), f"{folder / generated.name} was never generated: run {command}"
  assert (tmp_path / folder / generated.name).read_text() == generated.read_text(), (
      f"{folder / generated.name} is stale or was edited by hand: rerun {command}")


def test_average_over_folds_gives_one_cross_validation_row(tmp_path, capsys):
  accuracies = [0.70, 0.75, 0.80]
  for fold, accuracy in enumerate(accuracies):
    write_run(tmp_path, f"fold{fold}", accuracy, "0123456789abcdef")
    path = tmp_path / f"fold{fold}" / "results.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "config": {"data": {"fold": fold}, "seed": 0}}))
  assert report.main([str(tmp_path), "--average-over=seed,data.fold", "--metrics=test/accuracy"]) == 0
  out = capsys.readouterr().out
  assert "mean ± std over seed and data.fold" in out
  mean, std = np.mean(accuracies), np.std(accuracies, ddof=1)
  assert f"| {100 * mean:.2f}% ± {100 * std:.2f}% | 3 |" in out  # a test metric marks no point
  (tmp_path.parent / "T.md").write_text(f"MR: {{{{mean {tmp_path.name} test/accuracy}}}}\n")
  assert report.main(["--template", str(tmp_path.parent / "T.md"), "--out", str(tmp_path.parent / "R.md")]) == 0
  assert (tmp_path.parent / "R.md").read_text().splitlines()[1] == f"MR: {100 * mean:.2f}% ± {100 * std:.2f}% (3 runs)"
  assert report.main([str(tmp_path), "--metrics=test/accuracy"]) == 0  # by default each fold is a point
  assert "| data.fold | test/accuracy | seeds |" in capsys.readouterr().out


def test_template_mean_over_the_points_a_glob_matches(tmp_path):
  """One recipe's seeds among a sweep's points: {{mean ROOT/GLOB KEY}} averages the runs of the folders it matches."""
  accuracies = {"seed=0,lr=0.1": 0.70, "seed=1,lr=0.1": 0.74, "seed=2,lr=0.1": 0.81, "seed=0,lr=0.2": 0.10}
  for name, accuracy in accuracies.items():
    write_run(tmp_path / "runs" / "choose", name, accuracy, "0123456789abcdef")
  chosen = [a for name, a in accuracies.items() if name.endswith("lr=0.1")]
  mean, std = np.mean(chosen), np.std(chosen, ddof=1)
  assert render(tmp_path, "{{mean runs/choose/*lr=0.1 test/accuracy}}\n") == 0
  assert (tmp_path / "R.md").read_text().splitlines()[1] == f"{100 * mean:.2f}% ± {100 * std:.2f}% (3 runs)"
  assert render(tmp_path, "{{mean runs/choose/*lr=0.3 test/accuracy}}\n") == 2  # matches nothing: an error


def test_template_mean_over_a_list_of_roots_and_eval_records(tmp_path):
  """{{mean A B KEY}}: seed 0's final run scored by ``bigjax eval`` at the chosen step of the choose run it
  retraces (an eval_test.json), beside seeds 1 and 2's own runs; a record without a command is marked."""
  write_run(tmp_path / "runs", "choose", 0.60, "0123456789abcdef")  # its own final (last-step) metrics: not used
  eval_record = {"split": "test", "metrics": {"test/accuracy": 0.70}, "step": 40, "git_revision": "0123456789abcdef",
                 "command": "python -m bigjax.main eval --workdir=runs/choose --split=test --step=40"}
  (tmp_path / "runs" / "choose" / "eval_test.json").write_text(json.dumps(eval_record))
  for seed, accuracy in ((1, 0.74), (2, 0.81)):
    write_run(tmp_path / "runs" / "seeds", f"seed={seed}", accuracy, "0123456789abcdef")
  mean, std = np.mean([0.70, 0.74, 0.81]), np.std([0.70, 0.74, 0.81], ddof=1)
  assert render(tmp_path, "{{mean runs/choose/eval_test.json runs/seeds test/accuracy}}\n") == 0
  assert (tmp_path / "R.md").read_text().splitlines()[1] == f"{100 * mean:.2f}% ± {100 * std:.2f}% (3 runs)"
  del eval_record["command"]
  (tmp_path / "runs" / "choose" / "eval_test.json").write_text(json.dumps(eval_record))
  assert render(tmp_path, "{{mean runs/choose/eval_test.json runs/seeds test/accuracy}}\n") == 0
  assert (tmp_path / "R.md").read_text().splitlines()[1] == f"{100 * mean:.2f}% ± {100 * std:.2f}% (3 runs)‡"
  (tmp_path / "runs" / "choose" / "eval_test.json").write_text("[]")
  assert render(tmp_path, "{{mean runs/choose/eval_test.json runs/seeds test/accuracy}}\n") == 2


def test_a_resumed_run_s_partial_wall_time_is_said_and_left_out_of_the_mean(tmp_path, capsys):
  """A run resumed from a checkpoint that did not keep its time (an older record: resumed_from_step without
  wall_time_complete) has the last segment's wall time: the per-run table says so, a point's mean leaves it out."""
  for seed in (0, 1, 2):
    write_run(tmp_path, f"seed={seed}", 0.9, "0123456789abcdef")
    path = tmp_path / f"seed={seed}" / "results.json"
    record = {**json.loads(path.read_text()), "config": {"seed": seed}, "wall_time_s": 100.0 * (seed + 1)}
    record.update({0: {}, 1: {"resumed_from_step": 40}, 2: {"resumed_from_step": 50, "wall_time_complete": True}}[seed])
    path.write_text(json.dumps(record))
  assert report.main([str(tmp_path), "--metrics=test/accuracy"]) == 0
  out = capsys.readouterr().out
  assert "| 200 s (the last segment; resumed at step 40) |" in out
  assert "| 300 s |" in out and "| 100 s |" in out
  assert "| 200 s (2 of 3 runs: the others resumed) |" in out  # (100 + 300) / 2


def run_with_metrics(tmp_path, name, records):
  """A run under ``tmp_path/runs`` (wall_time_s 12.4, test/accuracy 50%) whose metrics.jsonl holds ``records``."""
  write_run(tmp_path / "runs", name, 0.5, "0123456789abcdef")
  (tmp_path / "runs" / name / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def render(tmp_path, template: str) -> int:
  """``python -m bigjax.report`` on a template ``template`` in ``tmp_path``; its exit status (output R.md)."""
  (tmp_path / "T.md").write_text(template)
  return report.main(["--template", str(tmp_path / "T.md"), "--out", str(tmp_path / "R.md")])


def test_template_curve_table_from_metrics_jsonl(tmp_path, capsys):
  run_with_metrics(tmp_path, "lm", [{"step": 10, "time": 1000.0, "train/loss": 3.0},
                                    {"step": 20, "time": 1004.0, "validation/loss": 2.5},
                                    {"step": 40, "time": 1010.0, "validation/loss": 1.75}])  # wall_time_s 12.4
  assert render(tmp_path, "{{curve runs/lm validation/loss}}\n") == 0
  lines = (tmp_path / "R.md").read_text().splitlines()[1:]
  # The run started wall_time_s (12.4 s) before its last record (t = 1010).
  assert lines == ["| step | minutes since start | validation/loss |", "|---:|---:|---:|",
                   f"| 20 | {(1004 - 997.6) / 60:.1f} | 2.5000 |", f"| 40 | {12.4 / 60:.1f} | 1.7500 |"]
  assert render(tmp_path, "{{curve runs/lm test/f1}}\n") == 2
  assert "logs no 'test/f1'; it logs: train/loss, validation/loss" in capsys.readouterr().err
  results = tmp_path / "runs" / "lm" / "results.json"  # resumed: its clock stopped between segments
  results.write_text(json.dumps({**json.loads(results.read_text()), "resumed_from_step": 30}))
  assert render(tmp_path, "{{curve runs/lm validation/loss}}\n") == 0
  assert (tmp_path / "R.md").read_text().splitlines()[3:5] == ["| 20 | – | 2.5000 |", "| 40 | – | 1.7500 |"]


def test_template_max_of_a_logged_metric(tmp_path, capsys):
  run_with_metrics(tmp_path, "rec", [{"step": 10, "time": 1.0, "validation/hr@10": 0.61},
                                     {"step": 20, "time": 2.0, "validation/hr@10": 0.66},
                                     {"step": 30, "time": 3.0, "validation/hr@10": 0.66},
                                     {"step": 40, "time": 4.0, "validation/hr@10": 0.62}])
  assert render(tmp_path, "best {{max runs/rec validation/hr@10}}, last {{value runs/rec test/accuracy}}\n") == 0
  assert (tmp_path / "R.md").read_text().splitlines()[1] == "best 0.6600 (step 20), last 50.00%"
  assert render(tmp_path, "{{max runs/rec validation/ndcg@10}}\n") == 2
  assert "logs no 'validation/ndcg@10'" in capsys.readouterr().err
  run_with_metrics(tmp_path, "tested", [{"step": 10, "time": 1.0, "test/hr@10": 0.61}])
  assert render(tmp_path, "{{max runs/tested test/hr@10}}\n") == 2  # a best epoch read on test is no result
  assert "test split 'test'" in capsys.readouterr().err


def test_template_min_of_a_logged_metric(tmp_path, capsys):
  run_with_metrics(tmp_path, "lm", [{"step": 10, "time": 1.0, "validation/loss": 1.9},
                                    {"step": 20, "time": 2.0, "validation/loss": 1.4},
                                    {"step": 30, "time": 3.0, "validation/loss": 1.4},
                                    {"step": 40, "time": 4.0, "validation/loss": 1.6}])
  assert render(tmp_path, "lowest {{min runs/lm validation/loss}}\n") == 0
  assert (tmp_path / "R.md").read_text().splitlines()[1] == "lowest 1.4000 (step 20)"
  assert render(tmp_path, "{{min runs/lm validation/bpc}}\n") == 2
  assert "logs no 'validation/bpc'" in capsys.readouterr().err


def test_template_mean_over_runs_of_their_best_evaluation(tmp_path, capsys):
  curves = {"seed0": [0.61, 0.66, 0.64], "seed1": [0.70, 0.65, 0.69], "seed2": [0.50, 0.52, 0.58]}
  for name, curve in curves.items():
    run_with_metrics(tmp_path, f"seeds/{name}", [{"step": 10 * (i + 1), "time": float(i), "validation/hr@10": v}
                                                 for i, v in enumerate(curve)])
  assert render(tmp_path, "{{meanmax runs/seeds validation/hr@10}}\n") == 0
  best = [max(curve) for curve in curves.values()]  # 0.66, 0.70, 0.58
  assert (tmp_path / "R.md").read_text().splitlines()[1] == \
      f"{np.mean(best):.4f} ± {np.std(best, ddof=1):.4f} (3 runs)"
  assert render(tmp_path, "{{meanmax runs/seeds validation/ndcg@10}}\n") == 2
  assert "logs no 'validation/ndcg@10'" in capsys.readouterr().err
  assert render(tmp_path, "{{meanmax runs/none validation/hr@10}}\n") == 2
  assert "no results.json under" in capsys.readouterr().err


def test_template_paired_difference_over_folds(tmp_path, capsys):
  a, b = [0.80, 0.77, 0.79, 0.75], [0.78, 0.78, 0.76, 0.74]
  for fold, (x, y) in enumerate(zip(a, b)):
    write_run(tmp_path / "runs" / "a", f"data.fold={fold}", x, "0123456789abcdef")
    write_run(tmp_path / "runs" / "b", f"data.fold={fold}", y, "0123456789abcdef")
  assert render(tmp_path, "{{paired runs/a runs/b test/accuracy}}; {{paired runs/b runs/a test/accuracy}}\n") == 0
  diffs = np.array(a) - np.array(b)  # +0.02, -0.01, +0.03, +0.01
  spread = f"{100 * np.std(diffs, ddof=1):.2f}%"
  assert (tmp_path / "R.md").read_text().splitlines()[1] == \
      f"+1.25% ± {spread} (A above B in 3 of 4 pairs); -1.25% ± {spread} (A above B in 1 of 4 pairs)"
  write_run(tmp_path / "runs" / "a", "data.fold=4", 0.7, "0123456789abcdef")
  assert render(tmp_path, "{{paired runs/a runs/b test/accuracy}}\n") == 2
  assert "data.fold=4 has no pair" in capsys.readouterr().err
  assert render(tmp_path, "{{paired runs/b runs/b test/f1}}\n") == 2
  assert "has no final 'test/f1' to pair" in capsys.readouterr().err


def test_template_value_of_a_logged_metric_at_a_step(tmp_path, capsys):
  run_with_metrics(tmp_path, "rec", [{"step": 10, "time": 1.0, "train/loss": 0.25},
                                     {"step": 10, "time": 1.1, "test/hr@10": 0.61},
                                     {"step": 20, "time": 2.0, "train/loss": 0.125},
                                     {"step": 20, "time": 2.1, "test/hr@10": 0.66}])
  assert render(tmp_path, "{{at runs/rec test/hr@10 10}} then {{at runs/rec train/loss 20 .3f}}\n") == 0
  assert (tmp_path / "R.md").read_text().splitlines()[1] == "0.6100 then 0.125"
  assert render(tmp_path, "{{at runs/rec test/hr@10 15}}\n") == 2
  assert "logs 'test/hr@10' at steps 10..20 (2 of them), not at '15'" in capsys.readouterr().err


def test_ranking_metrics_are_maximised_and_losses_minimised():
  for metric in ("test/accuracy", "test/hr@10", "validation/ndcg@10", "test/full_recall@10", "validation/mean_iou",
                 "validation/foreground_iou", "validation/map50", "validation/map", "test/ap75"):
    assert report.default_best_mode(metric) == "max", metric
  for metric in ("test/loss", "validation/perplexity", "validation/bpc", "train/grad_norm", "validation/heatmap_loss",
                 "validation/rand_error", "validation/pixel_error"):
    assert report.default_best_mode(metric) == "min", metric


# ---------------------------------------------------------------- swept-key plots: the x axis

def test_x_scale_logs_wide_positive_numbers_and_keeps_categories_apart():
  assert report.x_scale([1e-4, 5e-4, 1e-3, 5e-3]) == "log"         # learning rates
  assert report.x_scale([1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]) == "log"  # an L2 weight
  assert report.x_scale([0.0, 1e-6, 3e-6, 1e-5, 3e-5]) == "symlog"  # weight decay with 0 in the sweep
  assert report.x_scale([1e-3, 2e-3, 5e-3]) == "linear"             # within 10x
  assert report.x_scale(list(range(1, 11))) == "linear"             # negatives per positive: exactly 10x
  assert report.x_scale([0.0, 0.1, 0.2, 0.5]) == "linear"           # dropout: the positive ones within 10x
  assert report.x_scale([0.0, 100.0]) == "linear"
  assert report.x_scale([-1e-3, 1e-1]) == "linear"
  assert report.x_scale(["constant", "cosine"]) == "categorical"
  assert report.x_scale([True, False]) == "categorical"             # bools are categories, not 0 and 1
  assert report.x_scale([1e-3, None]) == "categorical"              # a run that lacks the key


def write_schedule_sweep(root):
  """optim.schedule (given as linear, constant, cosine) x optim.lr (1e-4, 1e-3, 1e-2) x 2 seeds, with sweep.json;
  returns {(schedule, lr): mean test/loss}."""
  schedules, lrs, seeds = ("linear", "constant", "cosine"), (1e-4, 1e-3, 1e-2), (0, 1)
  means, points = {}, []
  for i, (schedule, lr) in enumerate(itertools.product(schedules, lrs)):
    losses = [0.1 * i + 0.01 * seed for seed in seeds]
    means[(schedule, lr)] = float(np.mean(losses))
    for seed, loss in zip(seeds, losses):
      name = f"optim.schedule={schedule},optim.lr={lr},seed={seed}"
      points.append({"name": name, "overrides": {"optim.schedule": schedule, "optim.lr": lr, "seed": seed}})
      (root / name).mkdir(parents=True)
      (root / name / "results.json").write_text(json.dumps({
          "final_metrics": {"test/loss": loss}, "config": {"seed": seed, "optim": {"schedule": schedule, "lr": lr}}}))
      (root / name / "metrics.jsonl").write_text(json.dumps({"step": 1, "train/loss": loss}) + "\n")
  (root / "sweep.json").write_text(json.dumps({"config": "configs/x.py", "points": points}))
  return schedules, lrs, means


def test_swept_key_plots_put_learning_rates_on_a_log_axis_and_categories_apart_in_the_given_order(tmp_path):
  schedules, lrs, means = write_schedule_sweep(tmp_path / "sweep")
  runs, sweeps = report.find_results([str(tmp_path / "sweep")]), report.find_sweeps([str(tmp_path / "sweep")])
  keys = report.swept_keys(runs, sweeps)
  points = report.group_points(runs, keys, sweeps)
  assert keys == ["optim.schedule", "optim.lr"]
  assert report.given_order(points, "optim.schedule", sweeps) == list(schedules)  # not sorted: as the sweep gave them
  assert report.given_order(points, "optim.schedule") == sorted(schedules)        # without a sweep file: sorted

  # The learning rate: a log axis ticked at the swept values, one line per schedule through its three rates.
  figure = report.plot_swept_key(points, keys, "optim.lr", "test/loss", tmp_path / "lr.png",
                                 report.given_order(points, "optim.lr", sweeps))
  axes, = figure.axes
  assert axes.get_xscale() == "log"
  np.testing.assert_allclose(axes.get_xticks(), lrs)
  series = {bars.get_label(): bars.lines[0] for bars in axes.containers}  # errorbar: (data line, caps, bars)
  assert sorted(series) == [f"optim.schedule={s}" for s in sorted(schedules)]
  for label, line in series.items():
    schedule = label.split("=")[1]
    assert line.get_linestyle() == "-"
    np.testing.assert_allclose(np.asarray(line.get_xdata(), dtype=float), lrs)
    np.testing.assert_allclose(np.asarray(line.get_ydata(), dtype=float), [means[(schedule, lr)] for lr in lrs])

  # The schedule: one slot per category in the sweep's order, points only (no Line2D joins any two of them).
  figure = report.plot_swept_key(points, keys, "optim.schedule", "test/loss", tmp_path / "schedule.png",
                                 report.given_order(points, "optim.schedule", sweeps))
  axes, = figure.axes
  assert axes.get_xscale() == "linear"
  assert [label.get_text() for label in axes.get_xticklabels()] == list(schedules)
  assert all(line.get_linestyle() == "None" for line in axes.get_lines())
  series = {bars.get_label(): bars.lines[0] for bars in axes.containers}
  assert sorted(series) == [f"optim.lr={lr:g}" for lr in lrs]  # one series per learning rate
  for label, line in series.items():
    lr = float(label.split("=")[1])
    x = np.asarray(line.get_xdata(), dtype=float)
    np.testing.assert_allclose(np.round(x), range(len(schedules)))  # slot i holds the sweep's i-th schedule
    assert np.all(np.abs(x - np.round(x)) <= 0.25)
    np.testing.assert_allclose(np.asarray(line.get_ydata(), dtype=float), [means[(s, lr)] for s in schedules])
  assert len({float(line.get_xdata()[0]) for line in series.values()}) == len(lrs)  # side by side, not on top

  # End to end: the command line writes both plots.
  assert report.main([str(tmp_path / "sweep"), "--metrics=test/loss", "--plots", str(tmp_path / "plots")]) == 0
  for name in ("test_loss_vs_optim.lr.png", "test_loss_vs_optim.schedule.png"):
    assert (tmp_path / "plots" / name).read_bytes()[:8] == PNG_MAGIC


def test_weight_decay_with_zero_gets_a_symlog_axis_that_keeps_zero(tmp_path):
  decays = [0.0, 1e-6, 1e-5, 1e-4]
  points = [report.Point({"optim.weight_decay": wd}, [(tmp_path, {"final_metrics": {"test/loss": 1.0 + i}})])
            for i, wd in enumerate(decays)]
  figure = report.plot_swept_key(points, ["optim.weight_decay"], "optim.weight_decay", "test/loss", tmp_path / "wd.png")
  axes, = figure.axes
  assert axes.get_xscale() == "symlog"
  np.testing.assert_allclose(axes.get_xticks(), decays)
  # In display space 0 sits one decade to the left of 1e-6, as 1e-6 does of 1e-5: none crowds another.
  x = axes.transData.transform(np.column_stack([decays, np.zeros(4)]))[:, 0]
  np.testing.assert_allclose(np.diff(x), np.diff(x)[0], rtol=1e-6)


def test_template_curves_over_folds_choose_a_step_on_validation(tmp_path, capsys):
  curves = {"fold0": [0.70, 0.77, 0.74], "fold1": [0.72, 0.75, 0.76], "fold2": [0.69, 0.78, 0.73]}
  for name, curve in curves.items():
    run_with_metrics(tmp_path, f"folds/{name}", [{"step": 10 * (i + 1), "time": float(i), "validation/accuracy": v}
                                                 for i, v in enumerate(curve)])
  assert render(tmp_path, "{{curves runs/folds validation/accuracy}}\n") == 0
  lines = (tmp_path / "R.md").read_text().splitlines()[1:]
  assert lines[0] == "| step | fold0 | fold1 | fold2 | mean ± std |"
  by_step = np.array(list(curves.values())).T  # [step, fold]
  for row, values in zip(lines[2:5], by_step):
    mean = f"{100 * values.mean():.2f}% ± {100 * values.std(ddof=1):.2f}%"
    assert row.endswith(f"| **{mean}** |" if values.mean() == by_step.mean(axis=1).max() else f"| {mean} |"), row
  assert lines[3].startswith("| 20 | 77.00% | 75.00% | 78.00% | **")  # the best mean, 76.67%, at step 20
  run_with_metrics(tmp_path, "tested/a", [{"step": 10, "time": 0.0, "test/accuracy": 0.7}])
  assert render(tmp_path, "{{curves runs/tested test/accuracy}}\n") == 2
  assert "test split 'test'" in capsys.readouterr().err
