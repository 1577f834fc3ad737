"""``python -m bigjax.report ROOT [ROOT ...]``: every results.json under the roots -> Markdown tables and PNG plots.

Two tables. The aggregated one groups runs that differ only in ``seed`` into one sweep point and shows, per
point, the swept values, mean ± sample std over seeds of each metric, the number of seeds and the mean wall
time, with the best point in bold. The per-run one has one row per run: its directory, final eval metrics,
steps, wall and compile time, device, git revision and the command that produced it, so each number in a
RESULTS.md can be regenerated.

The swept keys are those a ``sweep.json`` (written by ``bigjax.sweep``) under a root declares, plus any
config key whose value differs between runs (the nested config flattened with dots), minus keys that only
name places on disk (``data.data_dir``, ...). ``seed`` is never a point key: it is what is averaged over.

  python -m bigjax.report /tmp/sweeps/lr --plots /tmp/sweeps/lr/plots --out /tmp/sweeps/lr/REPORT.md

Templates: an experiment's RESULTS.md is written from a Markdown template whose prose is hand-written and
whose every number comes from a record::

  python -m bigjax.report --template experiments/mnist/RESULTS.in.md --out experiments/mnist/RESULTS.md

Two directives, with paths relative to the template's folder:

  {{report ROOT [ROOT ...] [--metrics=..] [--plots=DIR] [--runs-only] ...}}   on a line of its own: the
      report of those roots (the same flags as the command line), tables and plot links
  {{curve RUN METRIC}}   on a line of its own: a table of METRIC at each step it was logged (from the run's
      metrics.jsonl) with the minutes since the run started (the last record's time minus the run's wall time;
      "–" for a resumed run, whose clock stopped between its segments)
  {{curves ROOT METRIC}}   on a line of its own: METRIC at every step all runs under ROOT logged it (folds or
      seeds of one setting), one column per run and their mean ± std, the best mean in bold: a number of epochs
      chosen on validation curves (a test metric is refused)
  {{mean ROOT [ROOT ...] KEY}}   inline: "mean ± std (n runs)" of a final metric over every run under the ROOTs
      (cross-validation); a ROOT whose last part is a glob (``runs/choose/*lr=0.001*``) takes the runs under every
      folder it matches; a ROOT may be a ``bigjax eval`` record (``RUN/eval_test.json``), one run whose final
      metrics are those it holds (seed 0's final run scored at the chosen step of the choose run it retraces,
      beside seeds 1 and 2's own runs)
  {{max RUN METRIC}}   inline: "value (step S)", the largest METRIC the run logged at any evaluation (e.g. the
      best validation epoch's hit ratio), from its metrics.jsonl; a test metric is refused (a best epoch read
      on test is a choice on test: bigjax.selection), as by {{min}} and {{meanmax}}
  {{min RUN METRIC}}   inline: "value (step S)", the smallest METRIC the run logged at any evaluation (e.g. the
      lowest validation loss, the number nanoGPT reports for a run it checkpoints at its best evaluation)
  {{meanmax ROOT METRIC}}   inline: "mean ± std (n runs)" over every run under ROOT of that largest METRIC
  {{paired ROOT_A ROOT_B KEY}}   inline: "+mean ± std (A above B in k of n pairs)" of A's final KEY minus B's over
      the runs the two roots hold at the same place (``data.fold=3`` under each: one fold's two models); a
      run without its pair is an error
  {{at RUN METRIC STEP [FORMAT]}}   inline: METRIC as the run logged it at STEP (a point on its curve)
  {{value PATH KEY [FORMAT]}}   inline: one number. PATH is a run directory (KEY a final metric such as
      ``test/accuracy``, or a results.json field such as ``wall_time_s``) or a .json file (KEY a dotted path,
      list items by index: ``runs.0.raw.wall_time_s``). FORMAT is a Python format spec (``.1f``); by default
      accuracies print as percentages and other metrics with 4 decimals.

Provenance (issue 23, point 5): a record is cited as the run wrote it, and one that cannot be regenerated
exactly is marked wherever it is cited rather than hidden or edited. Every number a directive takes from a
results.json whose ``git_revision`` ends in ``-dirty`` or is missing or ``unknown`` (the code that produced it is
not exactly a commit) is followed by ``†``; from one without a ``command``, by ``‡``. A ``{{value X.json ...}}``
number is marked ``†`` when the .json holds such a top-level ``git_revision`` (a bench file without one is left
as it is); text a record holds (a revision, a version, a ready-made table) is never marked. In tables the mark
goes after each metric cell (and the wall time) of a sweep point with a marked run, after each value of a
``{{curve}}``, and after the revision of a marked run in the per-run table. A rendered template or report that
carries a mark ends with a footnote saying what each mark means; rerunning the record clears it.
"""

import argparse
import dataclasses
import json
import math
import os
import pathlib
import re
import shlex
import sys
from typing import Any

import numpy as np

from bigjax import selection
from bigjax.writers import flatten, hashable, read_curve

SEED = "seed"
# Config keys that name places on disk: they differ between runs without being part of the experiment.
_NOISE_KEY = re.compile(r"(^|\.)(workdir|\w*_dir|\w*dir|\w*_path|path)$")


DIRTY, NO_COMMAND = "†", "‡"
_FOOTNOTES = {
  DIRTY: "recorded from a working tree with uncommitted changes (its revision ends in -dirty) or at no known "
         "revision: the code that produced it is not exactly a commit; rerun to clear.",
  NO_COMMAND: "the record holds no command: how it was produced is not recorded; rerun to clear.",
}


class ReportError(Exception):
  """A problem with the runs or the arguments that the user can fix; ``main`` prints it without a traceback."""


# ---------------------------------------------------------------- reading runs

def find_results(roots: list[str]) -> list[tuple[pathlib.Path, dict]]:
  """``(workdir, results.json dict)`` for every results.json under ``roots``, in path order."""
  runs = []
  for root in roots:
    for path in sorted(pathlib.Path(root).rglob("results.json")):
      try:
        results = json.loads(path.read_text())
      except json.JSONDecodeError as error:
        raise ReportError(f"{path} is not valid JSON ({error}); was the run interrupted while writing it?")
      except OSError as error:
        raise ReportError(f"cannot read {path}: {error}")
      if not isinstance(results, dict):
        raise ReportError(f"{path} holds a JSON {type(results).__name__}, not the object a run writes")
      runs.append((path.parent, results))
  return runs


def find_sweeps(roots: list[str]) -> list[tuple[pathlib.Path, dict]]:
  """``(sweep directory, sweep.json dict)`` for every sweep.json under ``roots``; a bad one is an error."""
  sweeps = []
  for root in roots:
    for path in sorted(pathlib.Path(root).rglob("sweep.json")):
      try:
        sweep = json.loads(path.read_text())
      except (json.JSONDecodeError, OSError) as error:
        raise ReportError(f"cannot read sweep file {path}: {error}")
      if not isinstance(sweep, dict) or not isinstance(sweep.get("points", []), list):
        raise ReportError(f"{path} is not a sweep file: expected an object with a list of 'points'")
      sweeps.append((path.parent, sweep))
  return sweeps


def curve_metrics(workdir: pathlib.Path) -> set[str]:
  """Names of the metrics logged in the run's metrics.jsonl."""
  path = workdir / "metrics.jsonl"
  names = set()
  if path.exists():
    for line in path.read_text().splitlines():
      try:
        names.update(json.loads(line))
      except (json.JSONDecodeError, TypeError):
        continue
  return names - {"step", "time"}


# ---------------------------------------------------------------- provenance

def record_marks(results: dict) -> str:
  """``DIRTY`` and/or ``NO_COMMAND`` for a results.json that cannot be regenerated exactly from a commit by
  its command (issue 23, point 5); "" for one that can. The record is never edited to fix it: it is rerun."""
  revision = results.get("git_revision")
  dirty = not isinstance(revision, str) or revision in ("", "unknown") or revision.endswith("-dirty")
  command = results.get("command")
  return (DIRTY if dirty else "") + ("" if isinstance(command, str) and command.strip() else NO_COMMAND)


def json_marks(record: Any) -> str:
  """``DIRTY`` for a .json record (a bench, an analysis) whose top-level ``git_revision`` is dirty or unknown;
  one that records no revision is not marked: it never claimed one."""
  revision = record.get("git_revision") if isinstance(record, dict) else None
  return DIRTY if isinstance(revision, str) and (revision == "unknown" or revision.endswith("-dirty")) else ""


def merge_marks(*marks: str) -> str:
  """The union of ``marks``, in the order of the footnote."""
  return "".join(mark for mark in (DIRTY, NO_COMMAND) if any(mark in m for m in marks))


def runs_marks(runs: list[tuple[pathlib.Path, dict]]) -> str:
  """The union of the marks of ``(workdir, results)`` runs (a sweep point, a root's folds or seeds)."""
  return merge_marks(*(record_marks(results) for _, results in runs))


def _run_marks(workdir: pathlib.Path) -> str:
  """Marks of the run at ``workdir``; without a readable results.json it has neither revision nor command."""
  try:
    return record_marks(json.loads((workdir / "results.json").read_text()))
  except (OSError, json.JSONDecodeError, AttributeError):
    return record_marks({})


def footnote(marks: str) -> str:
  """What each of ``marks`` means, one paragraph each ("" without marks): ends a report that carries them."""
  return "".join(f"\n{mark} {_FOOTNOTES[mark]}\n" for mark in (DIRTY, NO_COMMAND) if mark in marks)


# ---------------------------------------------------------------- sweep points

_MISSING = object()  # a config key one run lacks differs from every value another run sets

def swept_keys(runs: list[tuple[pathlib.Path, dict]], sweeps: list[tuple[pathlib.Path, dict]] = (),
               averaged: tuple[str, ...] = (SEED,)) -> list[str]:
  """Config keys that define a sweep point, ``averaged`` ones (seed; folds) excluded: declared ones first,
  then inferred ones."""
  declared = []
  for _, sweep in sweeps:
    for point in sweep.get("points", []):
      declared += [k for k in point.get("overrides", {}) if k not in declared and k not in averaged]
  configs = [flatten(r.get("config", {})) for _, r in runs]
  all_keys = sorted({k for c in configs for k in c})
  differing = [k for k in all_keys
               if k not in declared and k not in averaged and not _NOISE_KEY.search(k)
               and len({c.get(k, _MISSING) for c in configs}) > 1]
  return declared + differing


@dataclasses.dataclass
class Point:
  """One sweep point: the runs (one per seed) that share the swept ``values``."""
  values: dict[str, Any]
  runs: list[tuple[pathlib.Path, dict]]

  def label(self) -> str:
    return ", ".join(f"{k}={format_value(v)}" for k, v in self.values.items()) or "all runs"

  def final(self, metric: str) -> np.ndarray:
    """``[seeds]`` final values of ``metric``, over the runs that report it."""
    return np.array([r["final_metrics"][metric] for _, r in self.runs
                     if metric in r.get("final_metrics", {})], dtype=np.float64)

  def stats(self, metric: str) -> tuple[float, float, int]:
    """Mean, sample std (ddof=1; NaN for one seed) and number of seeds of ``metric``."""
    values = self.final(metric)
    if values.size == 0:
      return math.nan, math.nan, 0
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else math.nan, values.size

  def marks(self) -> str:
    """Provenance marks of any of the point's runs: its mean carries them."""
    return runs_marks(self.runs)

  def mean_wall_time(self) -> tuple[float, int]:
    """The mean wall time of the runs whose record holds all of it, and how many those are."""
    times = [r["wall_time_s"] for _, r in self.runs if "wall_time_s" in r and whole_wall_time(r)]
    return (float(np.mean(times)) if times else math.nan), len(times)

  def curve(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """``[steps]`` steps and the mean over seeds of ``metric`` at each (over the seeds that logged it)."""
    by_step: dict[int, list[float]] = {}
    for workdir, _ in self.runs:
      for step, value in read_curve(workdir, metric).items():
        by_step.setdefault(step, []).append(value)
    steps = np.array(sorted(by_step), dtype=np.int64)
    return steps, np.array([np.mean(by_step[s]) for s in steps], dtype=np.float64)


def group_points(runs: list[tuple[pathlib.Path, dict]], keys: list[str],
                 sweeps: list[tuple[pathlib.Path, dict]] = ()) -> list[Point]:
  """Runs grouped by their values of ``keys`` (so differing only in seed), sorted by those values.

  A run's value is read from its config; a key the config lacks falls back to the override of the
  sweep point named like the run's directory, else is None.
  """
  overrides = {}  # run directory -> the overrides sweep.json lists for it
  for sweep_dir, sweep in sweeps:
    for point in sweep.get("points", []):
      overrides[(sweep_dir / str(point.get("name", ""))).resolve()] = point.get("overrides", {})
  points: dict[tuple, Point] = {}
  for workdir, results in runs:
    config = flatten(results.get("config", {}))
    fallback = overrides.get(workdir.resolve(), {})
    values = {k: config[k] if k in config else hashable(fallback.get(k)) for k in keys}
    points.setdefault(tuple(values.values()), Point(values, [])).runs.append((workdir, results))
  return sorted(points.values(), key=lambda p: [_sort_key(v) for v in p.values.values()])


def _sort_key(value: Any) -> tuple:
  if isinstance(value, (int, float)) and not isinstance(value, bool):
    return (0, value, "")
  return (1, 0, "" if value is None else str(value))


def best_point(points: list[Point], metric: str, mode: str) -> int | None:
  """Index of the point with the best mean ``metric`` (``mode`` "max" or "min"); None if none has it."""
  means = [(p.stats(metric)[0], i) for i, p in enumerate(points)]
  means = [(m, i) for m, i in means if not math.isnan(m)]
  if not means:
    return None
  return (max if mode == "max" else min)(means, key=lambda mi: mi[0])[1]


# Metrics where larger is better; everything else (losses, errors, perplexity, bits per character, times) is
# minimised. Average precision is "map", "map50", ... whole, not the "map" inside "heatmap_loss".
_HIGHER_IS_BETTER = ("accuracy", "hr@", "ndcg@", "recall@", "precision@", "auc", "identification", "iou")
_AVERAGE_PRECISION = re.compile(r"^m?ap(\d+)?$")


def default_best_mode(metric: str) -> str:
  name = metric.rsplit("/", 1)[-1]
  return "max" if any(key in name for key in _HIGHER_IS_BETTER) or _AVERAGE_PRECISION.match(name) else "min"


def check_metrics(runs: list[tuple[pathlib.Path, dict]], metrics: list[str]) -> None:
  """Raises a ReportError naming any metric no run reports, with the names that are available."""
  available = sorted({m for _, r in runs for m in r.get("final_metrics", {})})
  missing = [m for m in metrics if m not in available]
  if missing:
    raise ReportError(f"metric {', '.join(map(repr, missing))} is in no run's final_metrics; "
                      f"available: {', '.join(available) or '(none)'}")


# ---------------------------------------------------------------- tables

def format_value(value: Any) -> str:
  if value is None:
    return "–"
  if isinstance(value, float):
    return f"{value:g}"
  return str(value)


def _format_metric(metric: str, value: float) -> str:
  if math.isnan(value):
    return "–"
  return f"{100 * value:.2f}%" if metric.endswith("accuracy") else f"{value:.4f}"


def whole_wall_time(results: dict) -> bool:
  """Whether ``wall_time_s`` covers the whole run: a run resumed from a checkpoint that did not keep the time
  before it (``wall_time_complete`` false, or absent from a resumed run's older record) has the last segment's."""
  return results.get("wall_time_complete", not results.get("resumed_from_step")) is not False


def wall_time_cell(results: dict) -> str:
  wall = f"{results.get('wall_time_s', float('nan')):.0f} s"
  return wall if whole_wall_time(results) else f"{wall} (the last segment; resumed at step {results['resumed_from_step']})"


def markdown_table(runs: list[tuple[pathlib.Path, dict]], metrics: list[str]) -> str:
  """One row per run, with the command that produced it."""
  header = ["run", *metrics, "steps", "wall time", "compile", "device", "git revision", "command"]
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for workdir, r in runs:
    final = r.get("final_metrics", {})
    values = [f"{100 * final[m]:.2f}%" if m.endswith("accuracy") and m in final
              else (f"{final[m]:.4f}" if m in final else "–") for m in metrics]
    device = f"{r.get('device_count', '?')}x {r.get('device_kind', '?')}"
    lines.append("| " + " | ".join([
        workdir.name, *values, str(r.get("steps", "?")), wall_time_cell(r),
        f"{r.get('compile_time_s', float('nan')):.1f} s", device,
        _short_revision(r.get('git_revision', '?')) + record_marks(r),
        f"`{r.get('command', '')}`"]) + " |")
  return "\n".join(lines)


def _short_revision(revision: str) -> str:
  return f"`{revision[:12]}{'-dirty' if revision.endswith('-dirty') else ''}`"


def aggregated_table(points: list[Point], keys: list[str], metrics: list[str], best: int | None,
                     count_label: str = "seeds") -> str:
  """One row per sweep point: swept values, mean ± std over seeds per metric, seeds, mean wall time.

  The row at index ``best`` is in bold.
  """
  header = [*keys, *metrics, count_label, "wall time"]
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for i, point in enumerate(points):
    cells, marks = [format_value(point.values[k]) for k in keys], point.marks()
    for metric in metrics:
      mean, std, _ = point.stats(metric)
      cells.append(_format_metric(metric, mean) if math.isnan(mean)
                   else f"{_format_metric(metric, mean)} ± {_format_metric(metric, std)}{marks}")
    wall, timed = point.mean_wall_time()
    of = "" if timed == len(point.runs) else f" ({timed} of {len(point.runs)} runs: the others resumed)"
    cells += [str(len(point.runs)), "–" if math.isnan(wall) else f"{wall:.0f} s{marks}{of}"]
    if i == best:
      cells = [f"**{c}**" for c in cells]
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines)


# ---------------------------------------------------------------- plots

def safe_name(text: str) -> str:
  """``"test/accuracy"`` -> ``"test_accuracy"``: a file name without separators or shell-special characters."""
  return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_") or "metric"


def _figure():
  # The object-oriented API with an explicit Agg canvas: no pyplot global state, no display needed.
  from matplotlib.backends.backend_agg import FigureCanvasAgg
  from matplotlib.figure import Figure
  figure = Figure(figsize=(6.4, 4.4), layout="constrained")
  FigureCanvasAgg(figure)
  return figure, figure.add_subplot()


def _scale(metric: str) -> tuple[float, str]:
  return (100.0, f"{metric} (%)") if metric.endswith("accuracy") else (1.0, metric)


def plot_learning_curves(points: list[Point], metric: str, path: pathlib.Path) -> bool:
  """``metric`` against step, mean over seeds, one line per point; False (nothing written) if none logged it."""
  figure, axes = _figure()
  scale, ylabel = _scale(metric)
  drawn = False
  for point in points:
    steps, values = point.curve(metric)
    if steps.size:
      axes.plot(steps, scale * values, label=f"{point.label()} ({len(point.runs)} seeds)")
      drawn = True
  if not drawn:
    return False
  axes.set(xlabel="step", ylabel=ylabel, title=f"{metric}, mean over seeds")
  axes.grid(alpha=0.3)
  axes.legend(fontsize="small")
  figure.savefig(path, dpi=110)
  return True


def _is_number(value: Any) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_log_scale(values: list[Any]) -> bool:
  numbers = [v for v in values if _is_number(v)]
  return len(numbers) == len(values) and all(v > 0 for v in numbers) and max(numbers) > 10 * min(numbers)


def x_scale(values: list[Any]) -> str:
  """How a swept key's ``values`` lie along a plot's x axis.

  ``"categorical"`` unless every value is a number (strings, bools, None are categories: one slot each, in the
  order given, no line joining them); ``"log"`` for positive numbers spanning more than 10x (learning rates,
  weight decays, L2 weights); ``"symlog"`` when such a sweep also holds 0 (weight decay 0, 1e-6, ..., 1e-4), so 0
  keeps its own place instead of crowding the small values; ``"linear"`` otherwise (dropout, negatives, widths).
  """
  if not values or not all(_is_number(v) for v in values):
    return "categorical"
  if _is_log_scale(values):
    return "log"
  positive = [v for v in values if v > 0]
  if min(values) == 0 and len(positive) > 1 and _is_log_scale(positive):
    return "symlog"
  return "linear"


def given_order(points: list[Point], key: str, sweeps: list[tuple[pathlib.Path, dict]] = ()) -> list[Any]:
  """The values of ``key`` among ``points``: in the order the sweep files list them (as the sweep gave them:
  ``["constant", "cosine", "linear"]``, ``["non_saturating", "hinge", ...]``), then any others sorted."""
  present = sorted({p.values[key] for p in points}, key=_sort_key)
  declared = []
  for _, sweep in sweeps:
    for point in sweep.get("points", []):
      value = hashable(point.get("overrides", {}).get(key, _MISSING))
      if value is not _MISSING and value in present and value not in declared:
        declared.append(value)
  return declared + [v for v in present if v not in declared]


def plot_swept_key(points: list[Point], keys: list[str], key: str, metric: str, path: pathlib.Path,
                   order: list[Any] | None = None):
  """Mean ± std over seeds of ``metric`` against the value of ``key``; one series per setting of the other keys.
  Returns the matplotlib Figure it saved to ``path``.

  The x axis is ``x_scale``'s: numbers are joined by a line per series (on a log axis when they span more than
  10x); categories (``order``, default sorted) are separate points, each series a little aside from the next.
  """
  figure, axes = _figure()
  scale, ylabel = _scale(metric)
  x_values = list(order) if order is not None else sorted({p.values[key] for p in points}, key=_sort_key)
  kind = x_scale(x_values)
  categorical = kind == "categorical"
  others = [k for k in keys if k != key]
  series: dict[tuple, list[Point]] = {}
  for point in points:
    series.setdefault(tuple(point.values[k] for k in others), []).append(point)
  width = 0.5 / len(series)  # categories: the series side by side within +-0.25 of each slot
  for i, (setting, series_points) in enumerate(series.items()):
    if categorical:
      series_points = sorted(series_points, key=lambda p: x_values.index(p.values[key]))
      x = [x_values.index(p.values[key]) + (i - (len(series) - 1) / 2) * width for p in series_points]
    else:
      x = [p.values[key] for p in series_points]
    stats = [p.stats(metric) for p in series_points]
    axes.errorbar(x, [scale * m for m, _, _ in stats], yerr=[0.0 if math.isnan(s) else scale * s for _, s, _ in stats],
                  marker="o", capsize=3, linestyle="none" if categorical else "-",
                  label=", ".join(f"{k}={format_value(v)}" for k, v in zip(others, setting)) or None)
  if categorical:
    axes.set_xticks(range(len(x_values)), [format_value(v) for v in x_values])
    axes.set_xlim(-0.5, len(x_values) - 0.5)
  elif kind in ("log", "symlog"):
    if kind == "log":
      axes.set_xscale("log")
    else:  # linear from 0 to the smallest positive value, which is one decade wide; logarithmic above it
      # (matplotlib widens the linear part by 1 / (1 - 1/base): linscale 0.9 makes it one decade exactly)
      axes.set_xscale("symlog", linthresh=min(v for v in x_values if v > 0), linscale=0.9)
    axes.set_xticks(x_values, [format_value(v) for v in x_values])  # the swept values themselves
    axes.minorticks_off()
  axes.set(xlabel=key, ylabel=ylabel, title=f"{metric} against {key}, mean ± std over seeds")
  axes.grid(alpha=0.3)
  if others:
    axes.legend(fontsize="small")
  figure.savefig(path, dpi=110)
  return figure


def write_plots(points: list[Point], keys: list[str], curve_metric: str, best_metric: str,
                plots_dir: pathlib.Path, sweeps: list[tuple[pathlib.Path, dict]] = ()) -> list[tuple[str, pathlib.Path]]:
  """Writes the learning-curve plot and one plot per swept key (categories in the order ``sweeps`` gave them);
  returns ``(caption, path)`` of each."""
  plots_dir.mkdir(parents=True, exist_ok=True)
  written = []
  path = plots_dir / f"curve_{safe_name(curve_metric)}.png"
  if not plot_learning_curves(points, curve_metric, path):
    available = sorted(set().union(*(curve_metrics(w) for p in points for w, _ in p.runs)))
    raise ReportError(f"curve metric {curve_metric!r} is in no run's metrics.jsonl; "
                      f"available: {', '.join(available) or '(none)'}")
  written.append((f"{curve_metric} against step", path))
  for key in keys:
    path = plots_dir / f"{safe_name(best_metric)}_vs_{safe_name(key)}.png"
    plot_swept_key(points, keys, key, best_metric, path, given_order(points, key, sweeps))
    written.append((f"{best_metric} against {key}", path))
  return written


# ---------------------------------------------------------------- command line

def parse_args(argv: list[str]) -> argparse.Namespace:
  parser = argparse.ArgumentParser(prog="python -m bigjax.report", description=__doc__.splitlines()[0])
  parser.add_argument("roots", nargs="*", help="directories searched for results.json (and sweep.json)")
  parser.add_argument("--metrics", default="test/accuracy,test/loss", help="comma-separated final metrics")
  parser.add_argument("--best", default=None, help="metric that picks the best point (default: the first)")
  parser.add_argument("--best-mode", choices=("max", "min"), default=None,
                      help="default: max for metrics named *accuracy*, else min")
  parser.add_argument("--curve", default="train/loss", help="metrics.jsonl metric of the learning-curve plot")
  parser.add_argument("--plots", default=None, help="directory for PNG plots (default: no plots)")
  parser.add_argument("--out", default=None, help="write the Markdown here instead of stdout")
  parser.add_argument("--runs-only", action="store_true", help="only the per-run table (no sweep points)")
  parser.add_argument("--average-over", default=SEED,
                      help="comma-separated config keys averaged over within a point (default: seed; "
                           "e.g. seed,data.fold for cross-validation)")
  parser.add_argument("--template", default=None,
                      help="Markdown template with {{report ...}} and {{value ...}} directives (see above)")
  args = parser.parse_args(argv)
  if bool(args.template) == bool(args.roots):
    parser.error("give either roots or --template")
  return args


# ---------------------------------------------------------------- templates

_DIRECTIVE = re.compile(r"\{\{(.*?)\}\}")


def _lookup(path: pathlib.Path, key: str) -> tuple[Any, str]:
  """The value ``{{value PATH KEY}}`` names (see the module docstring) and the marks of its record."""
  if path.is_dir():
    results_path = path / "results.json"
    results = find_results([str(path)]) if results_path.exists() else []
    if not results or results[0][0] != path:
      raise ReportError(f"{results_path} not found")
    results = results[0][1]
    if key in results.get("final_metrics", {}):
      return results["final_metrics"][key], record_marks(results)
    if key in results:
      return results[key], record_marks(results)
    raise ReportError(f"{results_path} has no final metric or field {key!r}; metrics: "
                      f"{', '.join(sorted(results.get('final_metrics', {})))}")
  try:
    node = record = json.loads(path.read_text())
  except FileNotFoundError:
    raise ReportError(f"{path} not found (expected a run directory or a .json file)")
  except (OSError, json.JSONDecodeError) as error:
    raise ReportError(f"cannot read {path}: {error}")
  for i, part in enumerate(key.split(".")):
    try:
      node = node[int(part)] if isinstance(node, list) else node[part]
    except (KeyError, IndexError, ValueError, TypeError):
      raise ReportError(f"{path}: no {'.'.join(key.split('.')[:i + 1])!r} (looking up {key!r})")
  return node, json_marks(record)


def _format_lookup(key: str, value: Any, spec: str | None) -> str:
  if spec is not None:
    try:
      return format(value, spec)
    except (TypeError, ValueError) as error:
      raise ReportError(f"cannot format {key}={value!r} with {spec!r}: {error}")
  if isinstance(value, (int, float)) and not isinstance(value, bool) and "/" in key:
    return _format_metric(key, float(value))
  return format_value(value)


def curve_table(workdir: pathlib.Path, metric: str) -> str:
  """``| step | minutes since start | metric |`` for every step of the run's metrics.jsonl that logged ``metric``,
  each value followed by the run's provenance marks."""
  results = find_results([str(workdir)])
  if not results or results[0][0] != workdir:
    raise ReportError(f"{workdir / 'results.json'} not found")
  times, values = {}, logged_curve(workdir, metric)
  for line in (workdir / "metrics.jsonl").read_text().splitlines():
    try:
      record = json.loads(line)
      times[int(record["step"])] = float(record["time"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
      continue
  start = max(times.values()) - float(results[0][1].get("wall_time_s", math.nan))
  # a resumed run's clock stopped between its segments: its records' times do not give minutes of running
  resumed = bool(results[0][1].get("resumed_from_step"))
  marks = record_marks(results[0][1])
  lines = [f"| step | minutes since start | {metric} |", "|---:|---:|---:|"]
  for step in sorted(values):
    minutes = "–" if resumed else f"{(times[step] - start) / 60:.1f}"
    lines.append(f"| {step} | {minutes} | {_format_metric(metric, values[step])}{marks} |")
  return "\n".join(lines)


def curves_table(root: pathlib.Path, metric: str, mode: str | None = None) -> str:
  """``| step | <run> ... | mean ± std |``: ``metric`` at every step all runs under ``root`` logged it (the folds or
  seeds of one setting), the step with the best mean in bold, as the choice of a number of steps or epochs made
  on those curves. A test metric is refused (``bigjax.selection``)."""
  _selectable(metric, f"the best step over the runs under {root}")
  runs = _runs_under(root)
  curves = {workdir: logged_curve(workdir, metric) for workdir, _ in runs}
  steps = sorted(set.intersection(*(set(c) for c in curves.values())))
  if not steps:
    raise ReportError(f"the runs under {root} log {metric!r} at no common step")
  means = {step: float(np.mean([c[step] for c in curves.values()])) for step in steps}
  best = (max if (mode or default_best_mode(metric)) == "max" else min)(steps, key=lambda step: means[step])
  marks = runs_marks(runs)
  names = [os.path.relpath(workdir, root) for workdir, _ in runs]
  lines = [f"| step | {' | '.join(names)} | mean ± std |", "|---:|" + "---:|" * (len(names) + 1)]
  for step in steps:
    values = [c[step] for c in curves.values()]
    std = float(np.std(values, ddof=1)) if len(values) > 1 else math.nan
    mean = f"{_format_metric(metric, means[step])} ± {_format_metric(metric, std)}{marks}"
    lines.append(f"| {step} | " + " | ".join(_format_metric(metric, v) for v in values) + " | "
                 + (f"**{mean}**" if step == best else mean) + " |")
  return "\n".join(lines)


# Directives that stand on a line of their own and render a table: name -> (what its path names, the table).
_TABLE_DIRECTIVES = {"curve": ("RUN", curve_table), "curves": ("ROOT", curves_table)}


def logged_curve(workdir: pathlib.Path, metric: str) -> dict[int, float]:
  """``read_curve``, or a ReportError naming what the run does log when it never logged ``metric``."""
  values = read_curve(workdir, metric)
  if not values:
    raise ReportError(f"{workdir / 'metrics.jsonl'} logs no {metric!r}; it logs: "
                      f"{', '.join(sorted(curve_metrics(workdir))) or '(nothing)'}")
  return values


def _runs_under(root: pathlib.Path) -> list[tuple[pathlib.Path, dict]]:
  """Every run under ``root``; a ``root`` with glob characters (``runs/choose/*code_classes=10*``, one recipe's
  seeds among a sweep's points) is every run under each folder it matches."""
  if any(c in root.name for c in "*?["):
    folders = sorted(p for p in root.parent.glob(root.name) if p.is_dir())
    runs = find_results([str(p) for p in folders])
  else:
    runs = find_results([str(root)])
  if not runs:
    raise ReportError(f"no results.json under {root}")
  return runs


def eval_record_run(path: pathlib.Path) -> tuple[pathlib.Path, dict]:
  """A ``bigjax eval`` record (``eval_<split>.json``) as a run: ``(its folder, {"final_metrics": the metrics it
  holds, "git_revision", "command"})``, so that it is averaged and marked like a results.json."""
  try:
    record = json.loads(path.read_text())
  except (OSError, json.JSONDecodeError) as error:
    raise ReportError(f"cannot read {path}: {error}")
  if not isinstance(record, dict) or not isinstance(record.get("metrics"), dict):
    raise ReportError(f"{path} is not a record of bigjax eval: it holds no 'metrics' object")
  return path.parent, {"final_metrics": record["metrics"], "git_revision": record.get("git_revision"),
                       "command": record.get("command")}


def _runs_of(base: pathlib.Path, roots: list[str]) -> list[tuple[pathlib.Path, dict]]:
  """The runs under ``roots`` (``_runs_under``), a root ending in ``.json`` being a ``bigjax eval`` record."""
  runs = []
  for root in roots:
    path = base / root
    runs += [eval_record_run(path)] if path.suffix == ".json" else _runs_under(path)
  return runs


def _mean_over_runs(runs: list[tuple[pathlib.Path, dict]], metric: str) -> str:
  check_metrics(runs, [metric])
  point = Point({}, runs)
  mean, std, n = point.stats(metric)
  return f"{_format_metric(metric, mean)} ± {_format_metric(metric, std)} ({n} runs)"


def _paired_difference(root_a: pathlib.Path, root_b: pathlib.Path, metric: str) -> str:
  """A's final ``metric`` minus B's, run by run, matched by their paths under the roots (folds, seeds)."""
  runs_a, runs_b = ({str(w.relative_to(root)): r for w, r in _runs_under(root)} for root in (root_a, root_b))
  if set(runs_a) != set(runs_b):
    alone = sorted(set(runs_a) ^ set(runs_b))
    raise ReportError(f"{root_a} and {root_b} do not hold the same runs to pair: {', '.join(alone[:4])} has no pair")
  for root, runs in ((root_a, runs_a), (root_b, runs_b)):
    lacking = [k for k, r in sorted(runs.items()) if metric not in r.get("final_metrics", {})]
    if lacking:
      raise ReportError(f"{root / lacking[0] / 'results.json'} has no final {metric!r} to pair")
  diffs = np.array([runs_a[k]["final_metrics"][metric] - runs_b[k]["final_metrics"][metric] for k in sorted(runs_a)])
  std = float(np.std(diffs, ddof=1)) if len(diffs) > 1 else float("nan")
  mean = float(np.mean(diffs))
  return (f"{'+' if mean >= 0 else '-'}{_format_metric(metric, abs(mean))} ± {_format_metric(metric, std)} "
          f"(A above B in {int(np.sum(diffs > 0))} of {len(diffs)} pairs)")


def _selectable(metric: str, what: str) -> str:
  try:
    return selection.check_selectable(metric, what)
  except selection.SelectionError as error:
    raise ReportError(str(error)) from None


def _mean_of_maxima(root: pathlib.Path, metric: str) -> str:
  _selectable(metric, f"each run's best evaluation under {root}")
  maxima = [max(logged_curve(workdir, metric).values()) for workdir, _ in _runs_under(root)]
  std = float(np.std(maxima, ddof=1)) if len(maxima) > 1 else float("nan")
  return (f"{_format_metric(metric, float(np.mean(maxima)))} ± {_format_metric(metric, std)} "
          f"({len(maxima)} runs)")


def _extreme_over_curve(workdir: pathlib.Path, metric: str, sign: int) -> str:
  """``sign`` 1: the largest logged value, -1: the smallest; the earliest step among equal ones."""
  _selectable(metric, f"the best evaluation of {workdir}")
  values = logged_curve(workdir, metric)
  step = max(values, key=lambda s: (sign * values[s], -s))
  return f"{_format_metric(metric, values[step])} (step {step})"


def _at_step(workdir: pathlib.Path, metric: str, step: str, spec: str | None) -> str:
  values = logged_curve(workdir, metric)
  try:
    value = values[int(step)]
  except (ValueError, KeyError):
    raise ReportError(f"{workdir / 'metrics.jsonl'} logs {metric!r} at steps {min(values)}..{max(values)} "
                      f"({len(values)} of them), not at {step!r}")
  return _format_lookup(metric, value, spec)


def render_template(template: pathlib.Path, out: str | None) -> str:
  """The template with every directive replaced; paths in directives are relative to its folder. A number from a
  record that cannot be regenerated exactly carries its marks, and the footnote explaining them ends the text."""
  base = template.parent
  used = set()  # the marks the rendered text carries

  def marked(text: str, marks: str) -> str:
    used.update(marks)
    return text + marks

  try:
    lines = template.read_text().splitlines()
  except OSError as error:
    raise ReportError(f"cannot read template {template}: {error}")
  rendered = []
  for number, line in enumerate(lines, 1):
    where = f"{template}:{number}"
    whole = _DIRECTIVE.fullmatch(line.strip())
    if whole and whole.group(1).split()[:1] == ["report"]:
      words = shlex.split(whole.group(1))[1:]
      try:
        args = parse_args(words)
      except SystemExit:
        raise ReportError(f"{where}: bad report directive {line.strip()!r}")
      if args.out or args.template:
        raise ReportError(f"{where}: --out and --template are not allowed inside a template")
      args.roots = [str(base / r) for r in args.roots]
      args.plots = str(base / args.plots) if args.plots else None
      args.out = out
      rendered.append(build_report(args, None, used).rstrip("\n"))
      continue
    table = _TABLE_DIRECTIVES.get(whole.group(1).split()[0]) if whole and whole.group(1).split() else None
    if table:  # {{curve RUN METRIC}}, {{curves ROOT METRIC}}: a table on a line of its own
      words = shlex.split(whole.group(1))
      if len(words) != 3:
        raise ReportError(f"{where}: expected {{{{{words[0]} {table[0]} METRIC}}}}, got {line.strip()!r}")
      try:
        rendered.append(table[1](base / words[1], words[2]))
        used.update(runs_marks(find_results([str(base / words[1])])))
      except ReportError as error:
        raise ReportError(f"{where}: {error}")
      continue

    def value(match: re.Match) -> str:
      words = shlex.split(match.group(1))
      if words[:1] == ["mean"] and len(words) >= 3:
        runs = _runs_of(base, words[1:-1])
        return marked(_mean_over_runs(runs, words[-1]), runs_marks(runs))
      if words[:1] == ["meanmax"] and len(words) == 3:
        text = _mean_of_maxima(base / words[1], words[2])
        return marked(text, runs_marks(_runs_under(base / words[1])))
      if words[:1] == ["paired"] and len(words) == 4:
        text = _paired_difference(base / words[1], base / words[2], words[3])
        return marked(text, merge_marks(runs_marks(_runs_under(base / words[1])),
                                        runs_marks(_runs_under(base / words[2]))))
      if words[:1] in (["max"], ["min"]) and len(words) == 3:
        text = _extreme_over_curve(base / words[1], words[2], 1 if words[0] == "max" else -1)
        return marked(text, _run_marks(base / words[1]))
      if words[:1] == ["at"] and len(words) in (4, 5):
        text = _at_step(base / words[1], words[2], words[3], words[4] if len(words) == 5 else None)
        return marked(text, _run_marks(base / words[1]))
      if not words or words[0] != "value" or len(words) not in (3, 4):
        raise ReportError(f"{where}: unknown directive {match.group(0)!r}; expected {{{{value PATH KEY [FORMAT]}}}}, "
                          f"{{{{mean ROOT [ROOT ...] KEY}}}}, {{{{max RUN METRIC}}}}, {{{{min RUN METRIC}}}}, {{{{meanmax ROOT METRIC}}}}, {{{{paired ROOT_A ROOT_B KEY}}}}, {{{{at RUN METRIC STEP [FORMAT]}}}}, or {{{{report ...}}}} / {{{{curve ...}}}} on a line of its own")
      found, marks = _lookup(base / words[1], words[2])
      text = _format_lookup(words[2], found, words[3] if len(words) == 4 else None)
      return marked(text, marks) if _is_number(found) else text  # text a record holds is quoted as it is

    try:
      rendered.append(_DIRECTIVE.sub(value, line))
    except ReportError as error:
      raise ReportError(str(error) if str(error).startswith(where) else f"{where}: {error}")
  return "\n".join(rendered) + "\n" + footnote("".join(used))


def build_report(args: argparse.Namespace, argv: list[str] | None, used: set[str] | None = None) -> str:
  """The Markdown report (writing plots if ``args.plots``); ``argv`` is quoted in its first line, if given.

  Its runs' provenance marks are added to ``used`` (a template's, which ends with their footnote); without
  ``used`` the report ends with the footnote itself."""
  metrics = [m for m in args.metrics.split(",") if m]
  best_metric = args.best or metrics[0]
  if best_metric not in metrics:
    metrics.append(best_metric)
  runs = find_results(args.roots)
  if not runs:
    raise ReportError(f"no results.json under {args.roots}")
  check_metrics(runs, metrics)
  sweeps = find_sweeps(args.roots)
  averaged = tuple(k for k in args.average_over.split(",") if k)
  keys = swept_keys(runs, sweeps, averaged)
  points = group_points(runs, keys, sweeps)
  # Bold marks a choice, and nothing is chosen on a test split (bigjax.selection): such a table marks no point.
  on_test = selection.is_test_split(selection.split_of(best_metric))
  best = None if on_test else best_point(points, best_metric, args.best_mode or default_best_mode(best_metric))

  sections = [f"Generated by `python -m bigjax.report {shlex.join(argv)}`"] if argv is not None else []
  if not args.runs_only:
    over = "seeds" if averaged == (SEED,) else " and ".join(averaged) or "nothing"
    marked = (f"no point marked: {best_metric} is a test metric, and a choice reads a validation split"
              if on_test else f"best {best_metric} in bold")
    sections += [f"Sweep points (mean ± std over {over}; {marked}):",
                 aggregated_table(points, keys, metrics, best, "seeds" if averaged == (SEED,) else "runs")]
  if args.plots:
    # Image links relative to the Markdown file (or to the working directory for stdout).
    base = (pathlib.Path(args.out).parent if args.out else pathlib.Path.cwd()).resolve()
    for caption, path in write_plots(points, keys, args.curve, best_metric, pathlib.Path(args.plots), sweeps):
      sections.append(f"![{caption}]({pathlib.Path(os.path.relpath(path.resolve(), base)).as_posix()})")
  sections += ["Runs:", markdown_table(runs, metrics)]
  marks = runs_marks(runs)
  if used is not None:
    used.update(marks)
  return "\n\n".join(sections) + "\n" + ("" if used is not None else footnote(marks))


def main(argv: list[str] | None = None) -> int:
  argv = sys.argv[1:] if argv is None else list(argv)
  args = parse_args(argv)
  try:
    if args.template:
      header = (f"<!-- Generated by `python -m bigjax.report {shlex.join(argv)}` from {args.template}: edit the template "
                f"and rerun the command, never this file. -->\n")
      markdown = header + render_template(pathlib.Path(args.template), args.out)
    else:
      markdown = build_report(args, argv)
  except ReportError as error:  # bad input (a root, a metric, a directive): one line, exit 2, nothing written
    print(f"error: {error}", file=sys.stderr)
    return 2
  if args.out:
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(markdown)
    print(f"wrote {args.out}", file=sys.stderr)
  else:
    print(markdown, end="")
  return 0


if __name__ == "__main__":
  sys.exit(main())
