"""bench/ncf.py and bench/char_gpt.py: one statistic for both frameworks, medians and spreads over interleaved rounds,
ratios to PyTorch within a round, the summary kept in the JSON. Hand-made rows, no subprocess."""

import json
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "bench"))
import char_gpt  # noqa: E402  pylint: disable=wrong-import-position
import ncf  # noqa: E402  pylint: disable=wrong-import-position

MACHINE = {"cpu_model": "Test CPU", "cpus_usable": 2, "cpu_count": 2}


def _rows(values: dict[str, list[dict]]) -> list[dict]:
  """Rows as run_interleaved returns them: round by round, every framework once per round, in order."""
  rounds = max(len(v) for v in values.values())
  return [{"framework": name, "round": r, "status": "ok", **values[name][r]}
          for r in range(rounds) for name in values if r < len(values[name])]


# --- ncf -------------------------------------------------------------------------------------------

def test_ncf_epoch_time_is_the_same_arithmetic_for_both():
  # torch: 3 epochs of 19,417 steps in 63.4 s of epochs; bigjax: 58,240 steps (whole calls of 128) in 25.3 s.
  torch_row = ncf.per_epoch(63.4, 3 * 19417, 19417)
  assert torch_row["epoch_time_s"] == pytest.approx(63.4 / 3)  # torch_ncf's own mean of its epochs
  bigjax_row = ncf.per_epoch(25.3, 58240, 19417)
  assert bigjax_row["epoch_time_s"] == pytest.approx(25.3 / 58240 * 19417)
  assert bigjax_row["steps_per_s"] == pytest.approx(58240 / 25.3)
  assert ncf.per_epoch(None, 58240, 19417) == {"epoch_time_s": None, "steps_per_s": None}
  assert ncf.per_epoch(25.3, 58240, None)["epoch_time_s"] is None


def _ncf_rows():
  torch = [{"epoch_time_s": e, "eval_time_s": v, "wall_time_s": w, "hr": 0.68, "ndcg": 0.41, "steps": 58251,
            "steps_per_epoch": 19417, "versions": {"torch": "2.9"}}
           for e, v, w in ((21.1, 0.055, 68.5), (25.0, 0.060, 80.0), (19.0, 0.050, 61.0))]
  bigjax = [{"epoch_time_s": e, "eval_time_s": v, "wall_time_s": w, "hr": 0.69, "ndcg": 0.42, "steps": 58240,
             "steps_per_epoch": 19417, "compile_time_s": c, "versions": {"bigjax": "abc"}}
            for e, v, w, c in ((8.4, 0.025, 33.3, 1.3), (9.0, 0.030, 35.0, 1.4), (8.0, 0.020, 30.0, 1.2))]
  rows = _rows({"torch": torch, "bigjax": bigjax})
  rows[3] = dict(rows[3], warning="the timed evaluation gave HR@10 0.1, the run's last one 0.69")
  rows.append({"framework": "bigjax", "round": 3, "status": "failed", "error": "exit code 1; see x.log",
               "epoch_time_s": 1.0})
  return rows


def test_ncf_summary_medians_spreads_and_ratios_within_a_round():
  s = ncf.summary(_ncf_rows())
  assert set(s) == {"epoch_time_s", "eval_time_s", "wall_time_s", "hr", "ndcg", "compile_time_s",
                    "epoch_time_vs_torch", "eval_time_vs_torch", "wall_time_vs_torch"}
  assert s["epoch_time_s"]["torch"] == {"median": 21.1, "min": 19.0, "max": 25.0, "n": 3, "values": [21.1, 25.0, 19.0]}
  assert s["epoch_time_s"]["bigjax"]["values"] == [8.4, 9.0, 8.0]  # the failed round 3 left out
  ratios = s["epoch_time_vs_torch"]["bigjax"]
  assert ratios["values"] == pytest.approx([8.4 / 21.1, 9.0 / 25.0, 8.0 / 19.0])  # paired within each round
  assert ratios["median"] == pytest.approx(8.4 / 21.1)
  assert s["epoch_time_vs_torch"]["torch"]["values"] == [1.0, 1.0, 1.0]
  assert s["eval_time_vs_torch"]["bigjax"]["median"] == pytest.approx(0.025 / 0.055)
  assert s["compile_time_s"]["torch"] is None and s["compile_time_s"]["bigjax"]["median"] == 1.3
  assert s["hr"]["bigjax"]["median"] == 0.69


def test_ncf_table_shows_every_statistic_as_median_and_range():
  info = {"machine": MACHINE, "git_revision": "abc", "date": "2026-12-05", "repeats": 3, "dataset": "ml-1m",
          "source": "auto", "factors": 8, "layers": [64, 32, 16, 8], "num_negatives": 4, "batch_size": 256,
          "lr": 0.001, "epochs": 3, "eval_batch_size": 1024, "eval_repeats": 3, "steps_per_call": 128}
  table = ncf.markdown_table(_ncf_rows(), info)
  lines = table.splitlines()
  torch_line = next(l for l in lines if l.startswith("| torch |"))
  bigjax_line = next(l for l in lines if l.startswith("| bigjax |"))
  assert torch_line == ("| torch | 3 of 3 | 21.10 (19.00-25.00) | 1.00x (1.00x-1.00x) | 0.055 (0.050-0.060) | "
                        "1.00x (1.00x-1.00x) | 68.50 (61.00-80.00) | 1.00x (1.00x-1.00x) | 0.6800 (0.6800-0.6800) | "
                        "0.4100 (0.4100-0.4100) |")
  assert bigjax_line.startswith("| bigjax | 3 of 4 | 8.40 (8.00-9.00) | 0.40x (0.36x-0.42x) | 0.025 (0.020-0.030) | ")
  assert "3 interleaved rounds" in lines[0]
  assert "- bigjax, round 3: failed: exit code 1; see x.log" in lines
  assert any(l.startswith("- bigjax, round 1: warning: the timed evaluation") for l in lines)
  assert any(l.startswith("- bigjax: 58240 steps run, 19417 per epoch (whole calls of 128") and "1.3 (1.2-1.4) s" in l
             for l in lines)
  assert "- torch: 58251 steps run, 19417 per epoch" in lines


def test_ncf_table_with_a_missing_framework():
  rows = [{"framework": "torch", "round": 0, "status": "missing", "error": "not installed: torch", "epochs": 1}]
  info = {"machine": MACHINE, "git_revision": "abc", "date": "d", "repeats": 1, "dataset": "ml-100k",
          "source": "auto", "factors": 8, "layers": [64, 32, 16, 8], "num_negatives": 4, "batch_size": 256,
          "lr": 0.001, "epochs": 1, "eval_batch_size": 943, "eval_repeats": 3, "steps_per_call": 128}
  table = ncf.markdown_table(rows, info)
  assert "| torch | 0 of 1 | — | — | — | — | — | — | — | — |" in table
  assert "- torch, round 0: missing: not installed: torch" in table


# --- char_gpt ----------------------------------------------------------------------------------------

def _char_rows():
  torch = [{"wall_time_s": w, "tokens_per_s": t, "validation_loss": 1.9174, "versions": {"torch": "2.9"}}
           for w, t in ((78.0, 23810.0), (90.0, 21000.0), (80.0, 23000.0))]
  bigjax = [{"wall_time_s": w, "tokens_per_s": t, "validation_loss": 1.8998, "compile_time_s": 2.4,
             "versions": {"bigjax": "abc"}} for w, t in ((61.7, 34136.0), (60.0, 33000.0), (70.0, 30000.0))]
  return _rows({"torch": torch, "bigjax": bigjax})


def test_char_gpt_summary_and_table():
  rows = _char_rows()
  s = char_gpt.summary(rows)
  assert set(s) == {"wall_time_s", "tokens_per_s", "validation_loss", "compile_time_s", "wall_time_vs_torch",
                    "tokens_per_s_vs_torch"}
  assert s["wall_time_s"]["torch"]["median"] == 80.0 and s["wall_time_s"]["bigjax"]["median"] == 61.7
  assert s["wall_time_vs_torch"]["bigjax"]["values"] == pytest.approx([61.7 / 78.0, 60.0 / 90.0, 70.0 / 80.0])
  assert s["tokens_per_s_vs_torch"]["bigjax"]["median"] == pytest.approx(34136.0 / 23810.0)
  info = {"machine": MACHINE, "git_revision": "abc", "date": "d", "repeats": 3, "steps": 2000, "batch_size": 12,
          "context": 64, "eval_every": 250}
  lines = char_gpt.markdown_table(rows, info).splitlines()
  assert ("| torch | 3 of 3 | 80.0 (78.0-90.0) | 1.00x (1.00x-1.00x) | 23,000 (21,000-23,810) | 1.00x (1.00x-1.00x) | "
          "1.9174 (1.9174-1.9174) |") in lines
  bigjax_line = next(l for l in lines if l.startswith("| bigjax |"))
  assert bigjax_line.startswith("| bigjax | 3 of 3 | 61.7 (60.0-70.0) | 0.79x (0.67x-0.88x) | 33,000 (30,000-34,136) |")
  assert "- bigjax: XLA compile 2.4 (2.4-2.4) s, inside its wall time, outside its tokens/s" in lines


def test_check_workdir_refuses_a_round_that_holds_a_run(tmp_path):
  assert char_gpt.check_workdir(str(tmp_path / "new"), ["torch", "bigjax"], 3) is None
  (tmp_path / "torch_r0").mkdir()  # empty: fine
  assert char_gpt.check_workdir(str(tmp_path), ["torch", "bigjax"], 3) is None
  (tmp_path / "bigjax_r2" / "bigjax_run").mkdir(parents=True)
  problem = char_gpt.check_workdir(str(tmp_path), ["torch", "bigjax"], 3)
  assert problem and "bigjax_r2" in problem
  assert char_gpt.check_workdir(str(tmp_path), ["torch", "bigjax"], 2) is None  # round 2 not asked for


def test_char_gpt_main_interleaves_rounds_and_keeps_the_summary(tmp_path, monkeypatch):
  calls = []

  def fake_row(name, args, the_plan, workdir):
    calls.append((name, workdir))
    return {"steps": the_plan["steps"], "batch_size": 12, "context": 64, "status": "ok",
            "wall_time_s": {"torch": 80.0, "bigjax": 60.0}[name], "tokens_per_s": 1000.0, "validation_loss": 1.9}

  monkeypatch.setattr(char_gpt, "bench_row", fake_row)
  monkeypatch.setattr(char_gpt, "git_revision", lambda: "abc")
  out = tmp_path / "bench.json"
  with pytest.raises(SystemExit) as exit_:
    char_gpt.main(["--steps", "10", "--repeats", "3", "--workdir", str(tmp_path / "w"), "--json", str(out)])
  assert exit_.value.code == 0
  assert [(name, pathlib.Path(w).name) for name, w in calls] == [
      ("torch", "torch_r0"), ("bigjax", "bigjax_r0"), ("torch", "torch_r1"), ("bigjax", "bigjax_r1"),
      ("torch", "torch_r2"), ("bigjax", "bigjax_r2")]
  record = json.loads(out.read_text())
  assert record["repeats"] == 3 and record["statistics"]["wall_time_s"]
  assert record["summary"]["wall_time_vs_torch"]["bigjax"]["median"] == pytest.approx(0.75)
  assert [(r["framework"], r["round"]) for r in record["runs"]][:2] == [("torch", 0), ("bigjax", 0)]
  assert "| bigjax | 3 of 3 | 60.0 (60.0-60.0) | 0.75x (0.75x-0.75x) |" in record["table_markdown"]
