"""The run directory and the loop around it, as a researcher meets them: one writer whose TensorBoard tags are
metrics.jsonl's names (every record read back by TensorBoard's own reader, CRCs checked), Ctrl-C saves and
exits 0 while a second Ctrl-C aborts, a live workdir refuses a second run and a killed run's lock is taken
over, a resumed run logs every step once, and a terminal gets a progress bar while a file gets log lines.
Real runs through the real command line; no mocks."""

import io
import json
import os
import pathlib
import re
import signal
import socket
import struct
import subprocess
import threading
import time

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub import errors as tb_errors
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow

from bigjax import runs, train, writers
from bigjax.configs import ConfigError
from conftest import (REPO, cli_command, cli_env, load_config, read_metrics, requires_ml100k, requires_mnist, run_cli,
                      run_on_a_terminal)
from test_train import FAULT_OVERRIDES, FAULT_STEPS, assert_bitwise_equal, final_state, start_and_signal
from test_train import uninterrupted  # noqa: F401  (a module-scoped fixture: the digits run that never stopped)

NOT_LOGGED = {"step", "time"}


# ---------------------------------------------------------------------------------------------- reading back

def read_events(workdir: pathlib.Path) -> list[event_pb2.Event]:
  """Every event of every event file in ``<workdir>/tensorboard``, files in TensorBoard's (name) order.

  Each record goes through TensorBoard's own record reader, which checks the length's and the data's masked
  CRC32C and raises on a mismatch or a torn record (the loader TensorBoard serves from swallows those); and the
  records must span the file to its last byte, so nothing is skipped."""
  events = []
  for path in sorted((workdir / "tensorboard").glob("*tfevents*")):
    reader = pywrap_tensorflow.PyRecordReader_New(str(path))
    size = 0
    while True:
      try:
        reader.GetNext()
      except tb_errors.OutOfRangeError:
        break
      record = reader.record()
      size += 8 + 4 + len(record) + 4
      events.append(event_pb2.Event.FromString(record))
    assert size == path.stat().st_size, f"{path}: records span {size} of {path.stat().st_size} bytes"
  return events


def event_scalars(workdir: pathlib.Path) -> dict[str, list[tuple[int, float]]]:
  """``{tag: [(step, value), ...]}`` of the scalar values in the event files, in the order written."""
  scalars: dict[str, list[tuple[int, float]]] = {}
  for event in read_events(workdir):
    for value in event.summary.value:
      if value.WhichOneof("value") == "simple_value":
        scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
  return scalars


def jsonl_scalars(workdir: pathlib.Path) -> dict[str, list[tuple[int, float]]]:
  scalars: dict[str, list[tuple[int, float]]] = {}
  for row in read_metrics(workdir):
    for name, value in row.items():
      if name not in NOT_LOGGED:
        scalars.setdefault(name, []).append((row["step"], value))
  return scalars


def accumulator(workdir: pathlib.Path) -> event_accumulator.EventAccumulator:
  """TensorBoard's view of the run, everything kept."""
  acc = event_accumulator.EventAccumulator(str(workdir / "tensorboard"), size_guidance={
      event_accumulator.SCALARS: 0, event_accumulator.IMAGES: 0, event_accumulator.TENSORS: 0})
  return acc.Reload()


def assert_tensorboard_equals_jsonl(workdir: pathlib.Path) -> None:
  """Same names, same steps, same values (float32, as an event holds them), each step once."""
  from_events, from_jsonl = event_scalars(workdir), jsonl_scalars(workdir)
  assert sorted(from_events) == sorted(from_jsonl)
  for name, points in from_jsonl.items():
    steps = [step for step, _ in points]
    assert len(steps) == len(set(steps)), f"{name}: a step logged twice in metrics.jsonl: {steps}"
    assert from_events[name] == [(step, float(np.float32(v))) for step, v in points], name
  assert sorted(accumulator(workdir).Tags()["scalars"]) == sorted(from_jsonl)


# ---------------------------------------------------------------------------------------------- one writer

@pytest.mark.parametrize("name", ["digits_mlp", pytest.param("ml100k_mf", marks=requires_ml100k)])
def test_tensorboard_tags_are_the_metrics_jsonl_names(name, tmp_path):
  """A real run: TensorBoard shows every metric under its metrics.jsonl name, ``test/full_ndcg@10`` included
  (tensorboardX's tag cleaning would make it ``test/full_ndcg_10``)."""
  train.run(load_config(name, "smoke"), tmp_path)
  assert_tensorboard_equals_jsonl(tmp_path)
  if name == "ml100k_mf":
    assert "test/full_ndcg@10" in accumulator(tmp_path).Tags()["scalars"]


@requires_mnist
@pytest.mark.usefixtures("fast_compiles")
def test_gan_samples_reach_tensorboard_through_the_run_s_writer(tmp_path):
  """A real GAN run: its sample grid is an image in TensorBoard (the PNG on disk, unscaled) beside scalars
  equal to metrics.jsonl's."""
  evaluator = tmp_path / "evaluator"
  train.run(load_config("mnist_gan_evaluator", "smoke"), evaluator)
  config = load_config("mnist_dcgan", "smoke")
  config.task.evaluator_workdir = str(evaluator)
  workdir = tmp_path / "gan"
  train.run(config, workdir)
  assert_tensorboard_equals_jsonl(workdir)
  images = accumulator(workdir).Images("samples")
  on_disk = sorted((workdir / "samples").glob("step_*.png"))
  assert [image.step for image in images] == [int(p.stem.split("_")[1]) for p in on_disk] and images
  shown = np.asarray(Image.open(io.BytesIO(images[-1].encoded_image_string)))
  np.testing.assert_array_equal(shown, np.asarray(Image.open(on_disk[-1]))[::2, ::2])  # saved 2x2 per pixel
  # The final test reading's samples (the smoke config reads test once) sit beside the validation ones.
  (tested,) = accumulator(workdir).Images("test/samples")
  assert tested.step == images[-1].step and (workdir / "test" / "samples" / on_disk[-1].name).exists()


def test_images_and_text_keep_their_names(tmp_path):
  writer = writers.MetricWriter(tmp_path)
  grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
  rgb = np.stack([grey, grey[::-1], 255 - grey], axis=-1)
  writer.write(5, {"test/full_ndcg@10": 0.25, "val/loss (ema)": 1.5})
  writer.write_images(5, {"boxes@0.5": rgb, "masks/grey": grey})
  writer.write_text(5, {"notes/run #1": "**lr** = 3e-4 — ünïcode"})
  writer.close()
  acc = accumulator(tmp_path)
  tags = acc.Tags()
  assert sorted(tags["scalars"]) == ["test/full_ndcg@10", "val/loss (ema)"]
  assert sorted(tags["images"]) == ["boxes@0.5", "masks/grey"]
  assert tags["tensors"] == ["notes/run #1"]
  for name, image in (("boxes@0.5", rgb), ("masks/grey", grey)):
    (event,) = acc.Images(name)
    assert event.step == 5 and (event.height, event.width) == image.shape[:2]
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(event.encoded_image_string))), image)
  (text,) = acc.Tensors("notes/run #1")
  assert text.step == 5 and text.tensor_proto.string_val == ["**lr** = 3e-4 — ünïcode".encode()]
  text_events = [e for e in read_events(tmp_path) if e.summary.value and e.summary.value[0].tag == "notes/run #1"]
  assert text_events[0].summary.value[0].metadata.plugin_data.plugin_name == "text"
  assert jsonl_scalars(tmp_path) == {"test/full_ndcg@10": [(5, 0.25)], "val/loss (ema)": [(5, 1.5)]}


def test_no_second_tensorboard_writer_in_bigjax():
  """Only writers.MetricWriter writes event files: no tensorboardX writer is opened anywhere else."""
  opened = [f"{path.relative_to(REPO)}:{n}" for path in sorted((REPO / "bigjax").rglob("*.py"))
            for n, line in enumerate(path.read_text().splitlines(), 1)
            if re.search(r"SummaryWriter|FileWriter|EventFileWriter|add_scalar|add_image", line)]
  assert opened == []


# ---------------------------------------------------------------------------------------------- resume: each step once

def test_truncate_logs_keeps_what_came_before_the_checkpoint_and_drops_torn_writes(tmp_path):
  writer = writers.MetricWriter(tmp_path)
  for step in range(1, 11):
    writer.write(step, {"train/loss": 1.0 / step})
    if step % 5 == 0:
      writer.write_images(step, {"samples": np.full((2, 2), step, np.uint8)})
  writer.close()
  (event_file,) = (tmp_path / "tensorboard").glob("*tfevents*")
  with open(event_file, "ab") as f:  # a record torn by a kill: a length and half its data
    f.write(struct.pack("<Q", 100) + b"\x00" * 30)
  with open(tmp_path / "metrics.jsonl", "a") as f:
    f.write('{"step": 11, "train/lo')
  writers.truncate_logs(tmp_path, 6)
  assert jsonl_scalars(tmp_path) == {"train/loss": [(s, 1.0 / s) for s in range(1, 7)]}
  assert event_scalars(tmp_path) == {"train/loss": [(s, float(np.float32(1.0 / s))) for s in range(1, 7)]}
  assert [image.step for image in accumulator(tmp_path).Images("samples")] == [5]
  assert sorted(p.name for p in (tmp_path / "tensorboard").iterdir()) == [event_file.name]  # no temporary left
  writers.truncate_logs(tmp_path, 6)  # nothing after step 6: nothing changes
  assert jsonl_scalars(tmp_path)["train/loss"][-1][0] == 6
  writers.truncate_logs(tmp_path, -1)  # no checkpoint: the run starts over, with nothing logged
  assert (tmp_path / "metrics.jsonl").read_text() == ""
  assert list((tmp_path / "tensorboard").iterdir()) == []


def test_a_killed_and_resumed_run_logs_every_step_once(uninterrupted, tmp_path):  # noqa: F811
  """SIGKILL mid-run, rerun: metrics.jsonl and the event files hold each step once, the same steps and values
  as the run that never stopped (perf/ rates aside, which are timings), and the same final metrics."""
  at_step = int(np.random.default_rng().integers(40, 600))
  proc = start_and_signal(tmp_path, signal.SIGKILL, at_step)
  assert proc.returncode == -signal.SIGKILL, f"run was not killed (exit {proc.returncode})"
  resumed = run_cli("digits_mlp.py", tmp_path, *FAULT_OVERRIDES)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert 0 < json.loads((tmp_path / "results.json").read_text())["resumed_from_step"] < FAULT_STEPS
  assert len(list((tmp_path / "tensorboard").glob("*tfevents*"))) == 2  # one per attempt
  assert_tensorboard_equals_jsonl(tmp_path)
  timing = lambda scalars: {k: v for k, v in scalars.items() if not k.startswith("perf/")}
  assert timing(jsonl_scalars(tmp_path)) == timing(jsonl_scalars(uninterrupted))
  assert timing(event_scalars(tmp_path)) == timing(event_scalars(uninterrupted))
  final = lambda w: json.loads((w / "results.json").read_text())["final_metrics"]
  assert final(tmp_path) == final(uninterrupted)


# ---------------------------------------------------------------------------------------------- Ctrl-C

class Output:
  """A started process's merged stdout and stderr, read as it comes."""

  def __init__(self, proc: subprocess.Popen):
    self.text = ""
    self._thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
    self._thread.start()

  def _read(self, stream) -> None:
    for line in stream:
      self.text += line

  def wait_for(self, needle: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while needle not in self.text:
      assert proc.poll() is None and time.time() < deadline, f"no {needle!r}:\n{self.text[-3000:]}"
      time.sleep(0.002)

  def done(self) -> str:
    self._thread.join(timeout=30)
    return self.text


def checkpoint_steps(workdir: pathlib.Path) -> list[int]:
  path = workdir / "checkpoints"
  return sorted(int(p.name) for p in path.iterdir() if p.name.isdigit()) if path.exists() else []


def test_ctrl_c_saves_a_checkpoint_exits_0_and_the_rerun_completes(uninterrupted, tmp_path):  # noqa: F811
  at_step = int(np.random.default_rng().integers(40, 600))
  proc = start_and_signal(tmp_path, signal.SIGINT, at_step)
  output = proc.stdout.read()
  assert proc.returncode == 0, output[-3000:]
  saved = max(checkpoint_steps(tmp_path))
  assert at_step <= saved < FAULT_STEPS
  assert f"interrupted: checkpoint saved at step {saved}" in output and "rerun" in output
  assert "Ctrl-C again to abort" in output
  assert not (tmp_path / "results.json").exists()
  resumed = run_cli("digits_mlp.py", tmp_path, *FAULT_OVERRIDES)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert json.loads((tmp_path / "results.json").read_text())["resumed_from_step"] == saved
  assert_bitwise_equal(final_state(tmp_path), final_state(uninterrupted))


def test_a_second_ctrl_c_aborts_at_once_without_saving(tmp_path):
  """The first Ctrl-C arrives while the step compiles: the run would save at its first step. The second ends
  the process at once (SIGINT's default action), nothing saved; a rerun then trains from the start."""
  proc = subprocess.Popen(cli_command("digits_mlp.py:smoke", tmp_path), env=cli_env(), cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  output = Output(proc)
  lock = tmp_path / runs.LOCK_FILE
  deadline = time.time() + 120
  while not (lock.exists() and lock.read_text()):  # past start-up: the run holds its workdir, the step compiles
    assert proc.poll() is None and time.time() < deadline, output.text[-3000:]
    time.sleep(0.002)
  proc.send_signal(signal.SIGINT)
  output.wait_for("Ctrl-C again to abort", proc)
  proc.send_signal(signal.SIGINT)
  sent = time.perf_counter()
  proc.wait(timeout=30)
  assert time.perf_counter() - sent < 3.0
  assert proc.returncode == -signal.SIGINT, output.done()[-3000:]
  assert checkpoint_steps(tmp_path) == [] and not (tmp_path / "metrics.jsonl").exists()
  rerun = run_cli("digits_mlp.py:smoke", tmp_path)
  assert rerun.returncode == 0, rerun.stderr[-3000:]
  assert json.loads((tmp_path / "results.json").read_text())["resumed_from_step"] == 0


# ---------------------------------------------------------------------------------------------- the workdir lock

def test_a_second_run_into_a_live_workdir_is_refused_and_a_killed_run_s_lock_taken_over(tmp_path):
  first = subprocess.Popen(cli_command("digits_mlp.py", tmp_path, *FAULT_OVERRIDES), env=cli_env(), cwd=REPO,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  output = Output(first)
  deadline = time.time() + 120
  while max((m["step"] for m in _rows(tmp_path)), default=0) < 40:  # training, past a checkpoint or two
    assert first.poll() is None and time.time() < deadline, output.text[-3000:]
    time.sleep(0.01)
  second = run_cli("digits_mlp.py", tmp_path, *FAULT_OVERRIDES)
  assert second.returncode == 2, second.stderr[-3000:]
  (line,) = [line for line in second.stderr.splitlines() if "in use by another run" in line]
  assert f"pid {first.pid} on {socket.gethostname()}" in line and str(tmp_path) in line
  assert first.poll() is None, "the refused run stopped the one that holds the workdir"
  first.kill()  # SIGKILL: the lock file still names it, but the kernel released its lock
  first.wait(timeout=30)
  assert json.loads((tmp_path / runs.LOCK_FILE).read_text())["pid"] == first.pid
  third = run_cli("digits_mlp.py", tmp_path, *FAULT_OVERRIDES)
  assert third.returncode == 0, third.stderr[-3000:]
  assert f"taking over the lock of pid {first.pid} on {socket.gethostname()}" in third.stderr
  assert (tmp_path / runs.LOCK_FILE).read_text() == ""  # released at the end
  assert json.loads((tmp_path / "results.json").read_text())["resumed_from_step"] > 0


def _rows(workdir: pathlib.Path) -> list[dict]:
  try:
    return read_metrics(workdir)
  except (FileNotFoundError, json.JSONDecodeError):  # not yet, or a line half-written
    return []


def test_lock_is_held_for_the_with_block_and_only_where_enabled(tmp_path):
  """One process, two open files: flock excludes between them as between processes; process 0 alone locks."""
  with runs.lock_workdir(tmp_path):
    with pytest.raises(ConfigError, match=rf"in use by another run \(pid {os.getpid()} on "):
      with runs.lock_workdir(tmp_path):
        pass
    with runs.lock_workdir(tmp_path, enabled=False):  # a multi-host run's other processes
      pass
  with runs.lock_workdir(tmp_path):  # released
    pass
  assert not (tmp_path / "other").exists()
  with runs.lock_workdir(tmp_path / "other", enabled=False):
    assert not (tmp_path / "other").exists()


# ---------------------------------------------------------------------------------------------- progress

def _run_with_stderr(workdir: pathlib.Path, stderr) -> subprocess.Popen:
  return subprocess.Popen(cli_command("digits_mlp.py:smoke", workdir), env=cli_env(), cwd=REPO,
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)


def test_a_terminal_gets_a_progress_bar_and_a_file_gets_log_lines(tmp_path):
  status, shown = run_on_a_terminal(cli_command("digits_mlp.py:smoke", tmp_path / "terminal"), timeout=60,
                                    env=cli_env(), cwd=REPO)
  assert status == 0, shown[-3000:]
  assert re.search(r"100%\|█+\| 88/88 \[[0-9:]+<[0-9:]+, +[0-9.]+step/s, loss=[0-9.]+\]", shown), shown[-2000:]
  assert "eval:" in shown  # the evaluation's own bar
  assert "step 88: test/accuracy=" in shown  # log lines still print, above the bar
  assert "ETA" not in shown

  with open(tmp_path / "stderr.txt", "w") as log:
    proc = _run_with_stderr(tmp_path / "file", log)
    assert proc.wait(timeout=60) == 0
  logged = (tmp_path / "stderr.txt").read_text()
  assert re.search(r"step 88/88 \(100%\).* steps/s .* ex/s  ETA", logged), logged[-2000:]
  assert "%|" not in logged and "\r" not in logged
