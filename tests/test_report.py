"""bigjax.report turns results.json files into a Markdown table."""

import json

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
  lines = capsys.readouterr().out.strip().splitlines()
  assert lines[0].startswith("| run | test/accuracy | test/loss | steps |")
  assert len(lines) == 4
  assert "| a | 98.77% | 0.2500 | 100 | 12 s | 1.5 s | 1x cpu | `0123456789ab` | `python -m bigjax.main --workdir=a` |" in lines
  assert "`fedcba987654-dirty`" in lines[3]


def test_no_results_is_an_error(tmp_path, capsys):
  assert report.main([str(tmp_path)]) == 1
  assert "no results.json" in capsys.readouterr().err
