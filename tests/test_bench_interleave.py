"""bench/interleave.py: rounds interleaved, one statistic for every framework, ratios within a round."""

import sys
import pathlib

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "bench"))
import interleave  # noqa: E402  pylint: disable=wrong-import-position


def test_every_round_runs_every_framework_once_in_the_same_order():
  calls = []
  rows = interleave.run_interleaved(["a", "b", "c"], 3, lambda name, r: calls.append((name, r)) or {"status": "ok"})
  assert calls == [("a", 0), ("b", 0), ("c", 0), ("a", 1), ("b", 1), ("c", 1), ("a", 2), ("b", 2), ("c", 2)]
  assert [(r["framework"], r["round"]) for r in rows] == calls


def test_spread_is_median_and_range_of_the_finite_values():
  s = interleave.spread([75.6, 100.5, 83.7, None, float("nan")])
  assert s == {"median": 83.7, "min": 75.6, "max": 100.5, "n": 3, "values": [75.6, 100.5, 83.7]}
  assert interleave.spread([1.0, 4.0])["median"] == 2.5  # an even count: the mean of the middle two
  assert interleave.spread([None]) is None


def test_summaries_leave_out_failed_runs_and_ratios_pair_runs_of_one_round():
  # The interleaved measurement: Keras 75.6 / 100.5 / 83.7 s, bigjax 67.0 / 52.9 / 57.9 s.
  keras, bigjax = [75.6, 100.5, 83.7], [67.0, 52.9, 57.9]
  rows = [{"framework": "keras", "round": r, "status": "ok", "t": k} for r, k in enumerate(keras)]
  rows += [{"framework": "bigjax", "round": r, "status": "ok", "t": b} for r, b in enumerate(bigjax)]
  rows.append({"framework": "bigjax", "round": 3, "status": "failed", "t": 1.0})
  assert interleave.summarise(rows, "t")["bigjax"]["values"] == bigjax
  ratios = interleave.ratios_per_round(rows, "t", "keras")["bigjax"]
  expected = sorted(b / k for b, k in zip(bigjax, keras))
  assert ratios["min"] == pytest.approx(expected[0]) and ratios["max"] == pytest.approx(expected[-1])
  assert ratios["median"] == pytest.approx(expected[1])
  assert f"{ratios['min']:.2f}-{ratios['max']:.2f}" == "0.53-0.89"  # the spread the issue reports
  assert interleave.fmt_spread(ratios, ".2f", suffix="x") == "0.69x (0.53x-0.89x)"
  assert interleave.fmt_spread(interleave.spread([0.9817]), ".2f", 100, "%") == "98.17% (1 run)"
  assert interleave.fmt_spread(None, ".1f") == "—"
