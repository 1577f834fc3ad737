"""Metric writers: TensorBoard event files (tensorboardX, no TensorFlow), ``metrics.jsonl``, console progress;
and ``read_curve``, which reads a metric back from ``metrics.jsonl``.

Only process 0 writes; the other processes get writers that do nothing.
"""

import json
import logging
import math
import os
import pathlib
import time
from typing import Any

import numpy as np


def write_text(path: str | pathlib.Path, text: str) -> None:
  """Atomic write (temp file + rename): a reader never sees half a file, a crash never truncates one."""
  path = pathlib.Path(path)
  tmp = path.with_name(path.name + ".tmp")
  tmp.write_text(text)
  os.replace(tmp, path)


def write_json(path: str | pathlib.Path, obj: Any) -> None:
  """``obj`` as indented JSON, written atomically."""
  write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def flatten(config: dict, prefix: str = "") -> dict[str, Any]:
  """``{"optim": {"lr": 1e-3}}`` -> ``{"optim.lr": 1e-3}``; lists become tuples so values can be grouped."""
  flat = {}
  for key, value in config.items():
    name = f"{prefix}{key}"
    if isinstance(value, dict):
      flat.update(flatten(value, name + "."))
    else:
      flat[name] = hashable(value)
  return flat


def hashable(value: Any) -> Any:
  return tuple(hashable(v) for v in value) if isinstance(value, list) else value


def _json_default(value: Any) -> Any:
  if isinstance(value, (np.generic, np.ndarray)):
    return value.tolist()
  return str(value)


class MetricWriter:
  """``write(step, {name: scalar})`` to TensorBoard and ``metrics.jsonl``; ``write_images`` to TensorBoard and PNGs."""

  def __init__(self, workdir: str | pathlib.Path, enabled: bool = True):
    self.enabled = enabled
    self.workdir = pathlib.Path(workdir)
    self._tb = None
    self._jsonl = None
    if enabled:
      from tensorboardX import SummaryWriter  # imported lazily: non-writing processes never need it
      self._tb = SummaryWriter(str(pathlib.Path(workdir) / "tensorboard"), flush_secs=30)
      self._jsonl = open(pathlib.Path(workdir) / "metrics.jsonl", "a", buffering=1)

  def write(self, step: int, scalars: dict[str, float]) -> None:
    if not self.enabled:
      return
    scalars = {k: float(v) for k, v in scalars.items()}
    for name, value in scalars.items():
      self._tb.add_scalar(name, value, step)
    self._jsonl.write(json.dumps({"step": int(step), "time": time.time(), **scalars}) + "\n")

  def write_images(self, step: int, images: dict[str, np.ndarray], scale: int = 2) -> None:
    """Each uint8 ``[h, w]`` (greyscale) or ``[h, w, c]`` image to TensorBoard and to
    ``<workdir>/<name>/step_<step>.png``, each pixel ``scale`` x ``scale``."""
    if not self.enabled:
      return
    from PIL import Image
    for name, image in images.items():
      image = np.asarray(image)
      self._tb.add_image(name, image[None] if image.ndim == 2 else image, step,
                         dataformats="CHW" if image.ndim == 2 else "HWC")
      path = self.workdir / name / f"step_{int(step):07d}.png"
      path.parent.mkdir(parents=True, exist_ok=True)
      picture = Image.fromarray(image)
      picture.resize((image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST).save(path)
    self._tb.flush()

  def close(self) -> None:
    if self.enabled:
      self._tb.close()
      self._jsonl.close()


def format_duration(seconds: float) -> str:
  if not math.isfinite(seconds):
    return "?"
  seconds = int(round(seconds))
  h, rem = divmod(seconds, 3600)
  m, s = divmod(rem, 60)
  return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
  """Console line with steps/s, examples/s and ETA, measured between successive ``report`` calls."""

  def __init__(self, total_steps: int, global_batch: int, start_step: int, enabled: bool = True):
    self.total_steps = total_steps
    self.global_batch = global_batch
    self.enabled = enabled
    self._last_step = start_step
    self._last_time = time.perf_counter()

  def restart_clock(self, step: int) -> None:
    """Excludes what happened since the last report (an evaluation, a checkpoint) from the next rate."""
    self._last_step, self._last_time = step, time.perf_counter()

  def report(self, step: int, scalars: dict[str, float]) -> dict[str, float]:
    now = time.perf_counter()
    steps_per_s = (step - self._last_step) / max(now - self._last_time, 1e-9)
    self._last_step, self._last_time = step, now
    rates = {"perf/steps_per_s": steps_per_s, "perf/examples_per_s": steps_per_s * self.global_batch}
    if self.enabled:
      eta = (self.total_steps - step) / steps_per_s if steps_per_s > 0 else float("inf")
      shown = "  ".join(f"{k}={v:.4g}" for k, v in sorted(scalars.items()))
      logging.info("step %d/%d (%.0f%%)  %s  %.1f steps/s  %.0f ex/s  ETA %s", step, self.total_steps,
                   100.0 * step / self.total_steps, shown, steps_per_s, rates["perf/examples_per_s"],
                   format_duration(eta))
    return rates


def read_curve(workdir: str | pathlib.Path, metric: str) -> dict[int, float]:
  """``{step: value}`` of ``metric`` from the run's metrics.jsonl (empty if the run logged none).

  A resumed run appends the steps after its last checkpoint a second time; the later value wins, as it is
  the one the finished run continued from. A torn last line (a run killed mid-write) is skipped.
  """
  path = pathlib.Path(workdir) / "metrics.jsonl"
  curve = {}
  if not path.exists():
    return curve
  for line in path.read_text().splitlines():
    try:
      record = json.loads(line)
    except json.JSONDecodeError:
      continue
    if isinstance(record, dict) and metric in record and "step" in record:
      curve[int(record["step"])] = float(record[metric])
  return curve
