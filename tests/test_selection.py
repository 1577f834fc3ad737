"""bigjax.selection, the referee's rule (issue 23, point 1): nothing is chosen on a test split."""

import json
import subprocess
import sys

import pytest

from bigjax import selection
from conftest import REPO, cli_env


@pytest.mark.parametrize("split, test_split, expected", [
    ("test", "", True), ("test2016", "", True), ("test_clean", "", True), ("test-matched", "", True),
    ("validation", "", False), ("dev", "", False), ("train", "", False), ("", "", False),
    ("heldout", "heldout", True),    # whatever config.data.test_split names is a test split
    ("validation", "heldout", False),
])
def test_is_test_split(split, test_split, expected):
  assert selection.is_test_split(split, test_split) is expected


def test_split_of_a_metric():
  assert selection.split_of("validation/hr@10") == "validation"
  assert selection.split_of("test2016/bleu") == "test2016"
  assert selection.split_of("wall_time_s") == ""


@pytest.mark.parametrize("metric, test_split", [("validation/accuracy", ""), ("dev/f1", ""), ("wall_time_s", ""),
                                                ("train/loss", ""), ("validation/hr@10", "heldout")])
def test_check_selectable_passes_metrics_of_other_splits(metric, test_split):
  assert selection.check_selectable(metric, "the best point", test_split) == metric


@pytest.mark.parametrize("metric, test_split, split", [("test/accuracy", "", "test"), ("test2016/bleu", "", "test2016"),
                                                       ("heldout/accuracy", "heldout", "heldout")])
def test_check_selectable_refuses_a_test_split_metric_naming_what_and_the_split(metric, test_split, split):
  with pytest.raises(selection.SelectionError) as raised:
    selection.check_selectable(metric, "the best checkpoint of runs/x", test_split)
  message = str(raised.value)
  assert message.startswith(f"the best checkpoint of runs/x would be chosen by {metric!r}, a metric of the test "
                            f"split {split!r}")
  assert "choose on a validation split" in message
  assert isinstance(raised.value, ValueError)  # callers that catch ValueError (runs.load_part) still see it


@pytest.mark.parametrize("train, eval_, test", [("train", "validation", "test"), ("train", "test", ""),
                                                ("train", "dev", "test2016"), ("train", "validation", "")])
def test_check_splits_accepts_a_test_split_read_once(train, eval_, test):
  selection.check_splits(train, eval_, test)


@pytest.mark.parametrize("train, eval_, test, message", [
    ("train", "test", "test", "config.data.test_split='test' is also config.data.eval_split"),
    ("test", "validation", "test", "config.data.test_split='test' is also config.data.train_split"),
    ("train", "test", "test2016", "config.data.eval_split='test' is a test split"),
    ("heldout", "validation", "heldout", "config.data.test_split='heldout' is also config.data.train_split"),
])
def test_check_splits_refuses_a_test_split_trained_or_evaluated_on(train, eval_, test, message):
  with pytest.raises(selection.SelectionError, match=message.replace("(", r"\(")):
    selection.check_splits(train, eval_, test)


def write_run(workdir, records):
  """A run record by hand: results.json, config.json and metrics.jsonl (``records``, one per line)."""
  workdir.mkdir(parents=True)
  (workdir / "results.json").write_text(json.dumps({
      "final_metrics": {"test/accuracy": 0.5, "validation/accuracy": 0.55}, "steps": 30, "wall_time_s": 12.4,
      "compile_time_s": 1.5, "device_count": 1, "device_kind": "cpu", "git_revision": "0123456789abcdef",
      "command": f"python -m bigjax.main --workdir={workdir.name}"}))
  (workdir / "config.json").write_text(json.dumps({"seed": 0, "data": {"eval_split": "validation",
                                                                        "test_split": "test"}}))
  (workdir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def report_template(tmp_path, template: str) -> subprocess.CompletedProcess:
  """``python -m bigjax.report --template`` on ``template``, written to tmp_path/T.md (output R.md)."""
  (tmp_path / "T.md").write_text(template)
  return subprocess.run([sys.executable, "-m", "bigjax.report", "--template", str(tmp_path / "T.md"),
                         "--out", str(tmp_path / "R.md")], cwd=REPO, env=cli_env(), capture_output=True, text=True,
                        timeout=120)


def test_report_template_refuses_the_best_of_a_test_metric_in_one_line(tmp_path):
  write_run(tmp_path / "runs" / "r", [{"step": 10, "time": 1.0, "validation/accuracy": 0.52, "test/accuracy": 0.6},
                                      {"step": 20, "time": 2.0, "validation/accuracy": 0.55, "test/accuracy": 0.5}])
  done = report_template(tmp_path, "best validation {{max runs/r validation/accuracy}}\n")
  assert done.returncode == 0, done.stderr
  assert (tmp_path / "R.md").read_text().splitlines()[1] == "best validation 55.00% (step 20)"
  (tmp_path / "R.md").unlink()
  for directive in ("{{max runs/r test/accuracy}}", "{{min runs/r test/accuracy}}",
                    "{{meanmax runs test/accuracy}}"):
    done = report_template(tmp_path, f"best {directive}\n")
    # A ReportError: the report's usual exit status for an error the user can fix, one line, no traceback.
    assert done.returncode == 2, (directive, done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "'test/accuracy', a metric of the test split 'test'" in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "R.md").exists()
