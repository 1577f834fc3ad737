"""What every side-by-side bench shares: runs interleaved round by round, and one statistic for all.

A bench that runs framework A three times and then B three times measures the machine's drift as much as
the frameworks (a neighbour's job, thermal state, the page cache): here each round runs every framework once,
in the same order (A, B, C, A, B, C, ...), so drift hits all alike. Every framework is summarised by the same
statistic of the same measurement: the median and the min-max over its runs, never a best run.
"""

import math
import statistics
from typing import Callable, Sequence

MIN_REPEATS = 3  # fewer runs than this make a spread meaningless; a bench may run fewer only as a labelled check


def run_interleaved(names: Sequence[str], repeats: int, run_one: Callable[[str, int], dict]) -> list[dict]:
  """``run_one(name, round)`` for round 0..repeats-1, every name once per round in the given order; each returned
  row gets ``framework`` and ``round``. Returns the rows in the order they ran."""
  rows = []
  for round_ in range(repeats):
    for name in names:
      rows.append({"framework": name, "round": round_, **run_one(name, round_)})
  return rows


def spread(values: Sequence[float]) -> dict | None:
  """``{"median", "min", "max", "n", "values"}`` of the finite ``values``; None if there are none."""
  finite = [float(v) for v in values if v is not None and math.isfinite(v)]
  if not finite:
    return None
  return {"median": statistics.median(finite), "min": min(finite), "max": max(finite), "n": len(finite),
          "values": finite}


def summarise(rows: list[dict], key: str) -> dict[str, dict | None]:
  """framework -> ``spread`` of ``row[key]`` over its successful runs (status "ok")."""
  names = list(dict.fromkeys(r["framework"] for r in rows))
  return {name: spread([r.get(key) for r in rows if r["framework"] == name and r.get("status") == "ok"])
          for name in names}


def ratios_per_round(rows: list[dict], key: str, baseline: str) -> dict[str, dict | None]:
  """framework -> ``spread`` over rounds of ``row[key] / baseline's row[key]`` in the same round: a ratio of runs
  made minutes apart, so the machine's drift between rounds cancels."""
  base = {r["round"]: r.get(key) for r in rows if r["framework"] == baseline and r.get("status") == "ok"}
  out: dict[str, list[float]] = {}
  for r in rows:
    if r.get("status") == "ok" and base.get(r["round"]) and r.get(key) is not None:
      out.setdefault(r["framework"], []).append(r[key] / base[r["round"]])
  return {name: spread(values) for name, values in out.items()}


def fmt_spread(s: dict | None, spec: str, scale: float = 1.0, suffix: str = "") -> str:
  """``"median (min-max)"``, e.g. ``"61.2 (57.9-67.0)"``; an em dash when there is nothing to show."""
  if not s:
    return "—"
  f = lambda v: format(v * scale, spec) + suffix
  return f"{f(s['median'])} ({f(s['min'])}-{f(s['max'])})" if s["n"] > 1 else f"{f(s['median'])} (1 run)"
