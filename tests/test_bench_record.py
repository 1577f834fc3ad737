"""bench/bench_record.py: the --json record of the in-process benches (conv_impls, dense_backward, dcgan_step,
input_pipeline), the layout bench/README.in.md reads. Hand-made timings, no bench run."""

import json
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "bench"))
import bench_record  # noqa: E402  pylint: disable=wrong-import-position
import interleave  # noqa: E402  pylint: disable=wrong-import-position


def _rows():
  timings = {"xla": [467.0, 480.0, 460.0], "patches": [40.5, 41.0, 40.0]}
  return interleave.run_interleaved(list(timings), 3, lambda name, r: {"status": "ok", "ms_per_step": timings[name][r]})


def test_summary_is_median_and_range_of_each_variant_and_of_its_ratio_within_a_round():
  s = bench_record.summary(_rows(), "ms_per_step", "xla")
  assert set(s) == {"ms_per_step", "vs_xla"}
  assert s["ms_per_step"]["xla"] == {"median": 467.0, "min": 460.0, "max": 480.0, "n": 3,
                                     "values": [467.0, 480.0, 460.0]}
  assert s["vs_xla"]["patches"]["values"] == pytest.approx([40.5 / 467.0, 41.0 / 480.0, 40.0 / 460.0])
  assert s["vs_xla"]["xla"]["median"] == 1.0


def test_record_holds_machine_revision_settings_every_timing_and_the_summary(tmp_path):
  out = tmp_path / "results" / "dcgan_step.json"  # its folder is made
  bench_record.write(str(out), {"calls": 10, "repeats": 3}, _rows(), "ms_per_step", "xla")
  record = json.loads(out.read_text())
  assert {"machine", "git_revision", "date", "command", "jax_version", "device_kind"} <= set(record)
  assert record["machine"]["cpus_usable"] >= 1 and record["git_revision"]
  assert record["settings"] == {"calls": 10, "repeats": 3}
  order = [(name, r) for r in range(3) for name in ("xla", "patches")]  # interleaved round by round
  assert [(row["framework"], row["round"]) for row in record["runs"]] == order
  assert record["summary"]["ms_per_step"]["patches"]["median"] == 40.5
  assert record["summary"]["vs_xla"]["patches"]["median"] == pytest.approx(40.5 / 467.0)
