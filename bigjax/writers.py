"""What a run writes as it goes: ``MetricWriter``, the run's one writer of scalars (TensorBoard and
``metrics.jsonl``), images and text (TensorBoard); ``Progress``, the console's view; ``truncate_logs``, which
drops what a resumed run is about to log again; and ``read_curve``, which reads a metric back.

The TensorBoard event files are written here, record by record in the TFRecord framing (length, masked CRC32C of
the length, data, masked CRC32C of the data), with the ``Summary`` protos built here: tensorboardX's summary
helpers clean tags (``test/full_ndcg@10`` -> ``test/full_ndcg_10``), and TensorBoard must show the names
metrics.jsonl holds. Only process 0 writes; the other processes get writers that do nothing.
"""

import dataclasses
import html
import io
import itertools
import json
import logging
import math
import os
import pathlib
import secrets
import socket
import struct
import sys
import time
from typing import Any, Iterable

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


def write_json_new(path: str | pathlib.Path, obj: Any) -> None:
  """``obj`` as indented JSON in a new file; ``FileExistsError`` (and nothing written) where ``path`` exists."""
  with open(path, "x") as f:
    f.write(json.dumps(obj, indent=1, default=_json_default) + "\n")


def save_new_record(path: str | pathlib.Path | None, record: Any) -> int:
  """A script's record to ``path`` (None: nowhere) as ``write_json_new`` writes it: exit status 0, or 2 with a
  one-line refusal on stderr where ``path`` exists (nothing is overwritten). Call it once before the work too,
  with ``record=None``, to refuse before spending any."""
  if path is None:
    return 0
  try:
    if record is None:
      if pathlib.Path(path).exists():
        raise FileExistsError
      return 0
    write_json_new(path, record)
  except FileExistsError:
    print(f"error: {path} exists; refusing to overwrite it (pass another --json path)", file=sys.stderr)
    return 2
  return 0


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


# ---------------------------------------------------------------------------------------------- event files

def _frame(data: bytes) -> bytes:
  """One TFRecord: the data's length (little-endian uint64), its masked CRC32C, the data, the data's."""
  from tensorboardX.record_writer import masked_crc32c
  length = struct.pack("<Q", len(data))
  return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))


def read_records(path: str | pathlib.Path) -> tuple[list[bytes], int]:
  """The records of a TFRecord file (a TensorBoard event file), each checked against both its CRCs, and the
  number of bytes they span: reading stops at the first torn or damaged record, as a killed writer leaves one."""
  from tensorboardX.record_writer import masked_crc32c
  data = pathlib.Path(path).read_bytes()
  records, pos = [], 0
  while pos + 12 <= len(data):
    (length,) = struct.unpack_from("<Q", data, pos)
    end = pos + 12 + length
    if struct.unpack_from("<I", data, pos + 8)[0] != masked_crc32c(data[pos:pos + 8]) or end + 4 > len(data):
      break
    if struct.unpack_from("<I", data, end)[0] != masked_crc32c(data[pos + 12:end]):
      break
    records.append(data[pos + 12:end])
    pos = end + 4
  return records, pos


class _EventFile:
  """A new TensorBoard event file in ``directory``, written record by record and flushed after each: a killed
  run keeps all it logged but a torn last record, which readers (and ``truncate_logs``) drop."""

  def __init__(self, directory: pathlib.Path):
    from tensorboardX.proto import event_pb2
    directory.mkdir(parents=True, exist_ok=True)
    # TensorBoard reads a folder's event files in name order: the time leads; a counter keeps a name unique.
    stem = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}"
    for n in itertools.count():
      try:
        self._file = open(directory / (f"{stem}.{n}" if n else stem), "xb")
        break
      except FileExistsError:
        continue
    self._write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

  def write(self, step: int, values: list) -> None:
    """One event at ``step`` holding ``values`` (``Summary.Value`` protos)."""
    from tensorboardX.proto import event_pb2, summary_pb2
    self._write(event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary_pb2.Summary(value=values)))

  def _write(self, event) -> None:
    self._file.write(_frame(event.SerializeToString()))
    self._file.flush()

  def close(self) -> None:
    self._file.close()


# ---------------------------------------------------------------------------------------------- the run's writer

class MetricWriter:
  """The run's one writer: ``write(step, {name: scalar})`` to TensorBoard and ``metrics.jsonl``;
  ``write_images`` to TensorBoard and PNG files; ``write_text`` to TensorBoard and Markdown files.

  TensorBoard's tags are the names given, character for character (``test/full_ndcg@10``), so a metric has one
  name in TensorBoard, metrics.jsonl and results.json. Each process start adds one event file.
  """

  def __init__(self, workdir: str | pathlib.Path, enabled: bool = True, wandb: "WandbSettings | None" = None):
    self.enabled = enabled
    self.workdir = pathlib.Path(workdir)
    self._events = None
    self._jsonl = None
    self._wandb = None
    if enabled:
      self._events = _EventFile(self.workdir / "tensorboard")
      self._jsonl = open(self.workdir / "metrics.jsonl", "a", buffering=1)
      if wandb is not None:
        self._wandb = _start_wandb(self.workdir, wandb)

  def write(self, step: int, scalars: dict[str, float]) -> None:
    if not self.enabled:
      return
    from tensorboardX.proto import summary_pb2
    scalars = {k: float(v) for k, v in scalars.items()}
    self._events.write(step, [summary_pb2.Summary.Value(tag=k, simple_value=v) for k, v in scalars.items()])
    self._jsonl.write(json.dumps({"step": int(step), "time": time.time(), **scalars}) + "\n")
    if self._wandb is not None:
      self._wandb.log(scalars, step=int(step))

  def write_images(self, step: int, images: dict[str, np.ndarray], scale: int = 2) -> None:
    """Each uint8 ``[h, w]`` (greyscale) or ``[h, w, c]`` image (c = 1, 3 RGB, 4 RGBA) to TensorBoard, and to
    ``<workdir>/<name>/step_<step>.png`` with each pixel ``scale`` x ``scale``."""
    if not self.enabled or not images:
      return
    from PIL import Image
    from tensorboardX.proto import summary_pb2
    values = []
    for name, image in images.items():
      image = np.asarray(image)
      if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"image {name!r}: expected uint8 [h, w] or [h, w, c], got {image.dtype} {image.shape}")
      if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
      picture = Image.fromarray(image)
      png = io.BytesIO()
      picture.save(png, format="PNG")
      values.append(summary_pb2.Summary.Value(tag=name, image=summary_pb2.Summary.Image(
          height=image.shape[0], width=image.shape[1], colorspace=1 if image.ndim == 2 else image.shape[2],
          encoded_image_string=png.getvalue())))
      path = self.workdir / name / f"step_{int(step):07d}.png"
      path.parent.mkdir(parents=True, exist_ok=True)
      picture.resize((image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST).save(path)
    self._events.write(step, values)
    if self._wandb is not None:
      import wandb
      self._wandb.log({name: wandb.Image(np.asarray(image)) for name, image in images.items()}, step=int(step))

  def write_outputs(self, step: int, outputs: dict[str, Any]) -> None:
    """What an evaluation shows besides its numbers: strings by ``write_text``, images by ``write_images``."""
    self.write_images(step, {k: v for k, v in outputs.items() if not isinstance(v, str)})
    self.write_text(step, {k: v for k, v in outputs.items() if isinstance(v, str)})

  def write_text(self, step: int, texts: dict[str, str]) -> None:
    """Each ``{name: text}`` (Markdown) to TensorBoard's text tab, under ``name`` as given, and to
    ``<workdir>/<name>/step_<step>.md``."""
    if not self.enabled or not texts:
      return
    for name, text in texts.items():
      path = self.workdir / name / f"step_{int(step):07d}.md"
      path.parent.mkdir(parents=True, exist_ok=True)
      write_text(path, str(text) + "\n")
    from tensorboardX.proto import summary_pb2, tensor_pb2, types_pb2
    text_plugin = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text"))
    self._events.write(step, [
        summary_pb2.Summary.Value(tag=name, metadata=text_plugin, tensor=tensor_pb2.TensorProto(
            dtype=types_pb2.DT_STRING, string_val=[str(text).encode("utf-8")]))
        for name, text in texts.items()])
    if self._wandb is not None:
      import wandb
      self._wandb.log({name: wandb.Html(f"<pre>{html.escape(str(text))}</pre>") for name, text in texts.items()},
                      step=int(step))

  def close(self) -> None:
    if self.enabled:
      self._events.close()
      self._jsonl.close()
      if self._wandb is not None:
        self._wandb.finish()
        self._wandb = None


@dataclasses.dataclass(frozen=True)
class WandbSettings:
  """``config.writers`` for Weights & Biases: the project, the mode (``"offline"`` writes WORKDIR/wandb/ only,
  for ``wandb sync`` later; ``""`` leaves it to wandb: ``$WANDB_MODE``, else online), and the run's config."""
  project: str
  mode: str
  config: dict


def wandb_settings(config: Any) -> WandbSettings | None:
  """The run's W&B settings where ``config.writers.wandb`` asks for them, else None."""
  writers = config.get("writers") if hasattr(config, "get") else None
  if not writers or not writers.get("wandb"):
    return None
  from bigjax.configs import ConfigError
  if writers.wandb_mode not in ("", "online", "offline", "disabled"):
    raise ConfigError(f"config.writers.wandb_mode={writers.wandb_mode!r}: expected 'online', 'offline', "
                      f"'disabled' or '' (wandb's own default)")
  try:
    import wandb  # noqa: F401  pylint: disable=unused-import
  except ImportError:
    raise ConfigError("config.writers.wandb=True needs Weights & Biases: pip install wandb (or leave it False: "
                      "TensorBoard and metrics.jsonl are always written)") from None
  return WandbSettings(project=writers.wandb_project, mode=writers.wandb_mode,
                       config=json.loads(config.to_json_best_effort(sort_keys=True)))


def _start_wandb(workdir: pathlib.Path, settings: WandbSettings) -> Any:
  """A W&B run beside TensorBoard, its files under WORKDIR/wandb/. A resumed bigjax run continues the same W&B
  run (its id kept in WORKDIR/wandb_run_id); W&B keeps its steps increasing, so the steps a resumed run logs
  again (those after its checkpoint) stay as first logged there, where metrics.jsonl keeps the new ones."""
  import wandb
  id_path = workdir / "wandb_run_id"
  run_id = id_path.read_text().strip() if id_path.exists() else secrets.token_hex(4)  # W&B ids: [a-z0-9]
  write_text(id_path, run_id + "\n")
  return wandb.init(project=settings.project, mode=settings.mode or None, dir=str(workdir), id=run_id,
                    name=workdir.name, resume="allow", config=settings.config,
                    settings=wandb.Settings(console="off", silent=True))


def truncate_logs(workdir: str | pathlib.Path, last_step: int) -> None:
  """Drops all a run logged after ``last_step`` from ``metrics.jsonl`` and its TensorBoard event files.

  A resumed run logs again every step after the checkpoint it resumes from (``last_step``; -1 when none, and it
  starts over), so it first removes what the attempt before it logged there: every step then appears once in
  each file. A file that changes is rewritten whole and put in place atomically; what it held up to
  ``last_step`` is kept as it was, torn lines and records (a killed run's last write) dropped. Process 0 only,
  while it holds the workdir (``runs.lock_workdir``).
  """
  from tensorboardX.proto import event_pb2
  workdir = pathlib.Path(workdir)
  path = workdir / "metrics.jsonl"
  if path.exists():
    text = path.read_text()
    kept = "".join(line + "\n" for line in text.split("\n") if line.strip() and _line_kept(line, last_step))
    if kept != text:
      write_text(path, kept)
  for path in sorted((workdir / "tensorboard").glob("*tfevents*")):
    records, end = read_records(path)
    events = [event_pb2.Event.FromString(r) for r in records]
    kept = [r for r, e in zip(records, events) if not e.HasField("summary") or e.step <= last_step]
    if len(kept) == len(records) and end == path.stat().st_size:
      continue
    if not any(e.HasField("summary") and e.step <= last_step for e in events):
      path.unlink()  # nothing but the file's header left
      continue
    tmp = path.parent / f".truncating.{os.getpid()}.tmp"  # no "tfevents" in it: TensorBoard never reads it
    tmp.write_bytes(b"".join(_frame(r) for r in kept))
    os.replace(tmp, path)


def _line_kept(line: str, last_step: int) -> bool:
  try:
    record = json.loads(line)
  except json.JSONDecodeError:
    return False  # torn: the last line of a killed run
  return not (isinstance(record, dict) and "step" in record) or int(record["step"]) <= last_step


# ---------------------------------------------------------------------------------------------- console

def format_duration(seconds: float) -> str:
  if not math.isfinite(seconds):
    return "?"
  seconds = int(round(seconds))
  h, rem = divmod(seconds, 3600)
  m, s = divmod(rem, 60)
  return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
  """The console's view of training: steps/s, examples/s and ETA.

  On a terminal (``sys.stderr.isatty()``) a tqdm bar redrawn in place, the last train losses beside it, log
  lines printed above it, and a bar of its own for each evaluation (``track``). Elsewhere (a file, a pipe, a
  scheduler's log, where a bar's redraws would pile up) a log line at each ``report``. Either way ``report``
  returns the rates measured since the previous one, for the metric writer. ``close`` when done.
  """

  def __init__(self, total_steps: int, global_batch: int, start_step: int, enabled: bool = True):
    self.total_steps = total_steps
    self.global_batch = global_batch
    self.enabled = enabled
    self._last_step = start_step
    self._last_time = time.perf_counter()
    self._bar = None
    if enabled and sys.stderr.isatty():
      self._open_bar(start_step)

  def _open_bar(self, start_step: int) -> None:
    from tqdm import tqdm
    from tqdm.contrib import DummyTqdmFile
    self._terminal = sys.stderr
    self._bar = tqdm(total=self.total_steps, initial=start_step, unit="step", file=self._terminal,
                     dynamic_ncols=True)
    # While the bar shows, log lines (the root logger's handlers on the terminal; absl's writes through its
    # python_handler) and anything else written to sys.stderr go through tqdm.write: above the bar, not into it.
    self._above = DummyTqdmFile(self._terminal)
    self._redirected = []
    for handler in logging.getLogger().handlers:
      handler = getattr(handler, "python_handler", handler)
      if isinstance(handler, logging.StreamHandler) and handler.stream is self._terminal:
        handler.setStream(self._above)
        self._redirected.append(handler)
    sys.stderr = self._above

  def update(self, step: int) -> None:
    """Moves the bar (if any) to ``step``; cheap enough for every step."""
    if self._bar is not None:
      self._bar.update(step - self._bar.n)

  def track(self, items: list, desc: str) -> Iterable:
    """``items`` as they are, or behind a bar of their own on a terminal (e.g. the eval batches)."""
    if self._bar is None:
      return items
    from tqdm import tqdm
    return tqdm(items, desc=desc, unit="batch", leave=False, file=self._terminal, dynamic_ncols=True)

  def restart_clock(self, step: int) -> None:
    """Excludes what happened since the last report (an evaluation, a checkpoint) from the next rate."""
    self._last_step, self._last_time = step, time.perf_counter()

  def report(self, step: int, scalars: dict[str, float]) -> dict[str, float]:
    now = time.perf_counter()
    steps_per_s = (step - self._last_step) / max(now - self._last_time, 1e-9)
    self._last_step, self._last_time = step, now
    rates = {"perf/steps_per_s": steps_per_s, "perf/examples_per_s": steps_per_s * self.global_batch}
    if self._bar is not None:
      # The losses only (train/loss; a GAN's d_loss, g_loss): a bar line has room for little, the logs have all.
      losses = {k.rsplit("/", 1)[-1]: f"{v:.4g}" for k, v in sorted(scalars.items()) if k.endswith("loss")}
      self._bar.set_postfix(losses, refresh=False)
      self.update(step)
    elif self.enabled:
      eta = (self.total_steps - step) / steps_per_s if steps_per_s > 0 else float("inf")
      shown = "  ".join(f"{k}={v:.4g}" for k, v in sorted(scalars.items()))
      logging.info("step %d/%d (%.0f%%)  %s  %.1f steps/s  %.0f ex/s  ETA %s", step, self.total_steps,
                   100.0 * step / self.total_steps, shown, steps_per_s, rates["perf/examples_per_s"],
                   format_duration(eta))
    return rates

  def close(self) -> None:
    """Closes the bar and gives log lines the terminal back."""
    if self._bar is None:
      return
    for handler in self._redirected:
      handler.setStream(self._terminal)
    if sys.stderr is self._above:
      sys.stderr = self._terminal
    self._bar.close()
    self._bar = None


# ---------------------------------------------------------------------------------------------- reading back

def read_curve(workdir: str | pathlib.Path, metric: str) -> dict[int, float]:
  """``{step: value}`` of ``metric`` from the run's metrics.jsonl (empty if the run logged none).

  A resumed run drops what its previous attempt logged after the checkpoint it resumes from
  (``truncate_logs``); in a file from before that rule, where such steps appear twice, the later value wins,
  as it is the one the finished run continued from. A torn line (a run killed mid-write) is skipped.
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
