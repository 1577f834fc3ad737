"""FLOP accounting of the compiled train step, TFLOP/s and MFU in the metrics, and jax.profiler traces.

The FLOPs are XLA's cost analysis of the compiled step; here they are held against a hand count of the
digits MLP's matrix products (64 -> 256 -> 10, batch 32), for one step per call and for four in a scan.
"""

import json

import pytest

from bigjax import parallel
from conftest import read_metrics, run_cli

# Forward: 2*B*(64*256 + 256*10). Backward: the same for the weight gradients, plus the hidden layer's input
# gradient 2*B*256*10 (the input's gradient is never needed).
B = 32
MATMUL_FLOPS = 2 * B * (64 * 256 + 256 * 10) * 2 + 2 * B * 256 * 10


@pytest.mark.parametrize("steps_per_call", [1, 4])
def test_step_flops_match_a_hand_count_and_rates_follow(tmp_path, steps_per_call):
  proc = run_cli("digits_mlp.py:smoke", tmp_path, "--config.train.num_steps=16",
                 f"--config.train.steps_per_call={steps_per_call}", "--config.train.log_every_steps=4")
  assert proc.returncode == 0, proc.stderr[-3000:]
  results = json.loads((tmp_path / "results.json").read_text())
  flops = results["flops_per_step"]
  # Elementwise work, softmax and the Adam update (a few FLOPs per parameter, 19,210 of them) come on top.
  assert MATMUL_FLOPS <= flops <= 1.25 * MATMUL_FLOPS, (flops, MATMUL_FLOPS)
  assert results["device_peak_tflops"] is None  # a CPU: no peak, so no MFU
  logged = [m for m in read_metrics(tmp_path) if "perf/steps_per_s" in m]
  assert len(logged) == 4
  for m in logged:
    assert m["perf/tflops_per_s"] == pytest.approx(m["perf/steps_per_s"] * flops / 1e12, rel=1e-12)
    assert "perf/mfu" not in m
  assert "GFLOP on 1 device (XLA cost analysis)" in proc.stderr


def test_flops_are_the_whole_job_s_on_several_devices(tmp_path):
  """XLA counts one device's shard; the record multiplies by the devices, so data parallelism over 2 devices
  counts the same products as 1 device (plus the optimizer update, which each replica repeats)."""
  proc = run_cli("digits_mlp.py:smoke", tmp_path, "--config.train.num_steps=8", "--config.mesh.data=2",
                 num_devices=2)
  assert proc.returncode == 0, proc.stderr[-3000:]
  flops = json.loads((tmp_path / "results.json").read_text())["flops_per_step"]
  assert MATMUL_FLOPS <= flops <= 1.5 * MATMUL_FLOPS, flops


def test_peak_table():
  assert parallel.peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
  assert parallel.peak_tflops("NVIDIA H100 PCIe") == 756.0
  assert parallel.peak_tflops("NVIDIA H200") == 989.0
  assert parallel.peak_tflops("NVIDIA A100-SXM4-80GB") == 312.0
  assert parallel.peak_tflops("TPU v4") == 275.0
  assert parallel.peak_tflops("TPU v5 lite") == 197.0
  assert parallel.peak_tflops("TPU v5p") == 459.0
  assert parallel.peak_tflops("cpu") is None


def test_profile_window_writes_a_trace_tensorboard_reads(tmp_path):
  proc = run_cli("digits_mlp.py:smoke", tmp_path, "--config.train.num_steps=16", "--config.train.profile_steps=4:8")
  assert proc.returncode == 0, proc.stderr[-3000:]
  traces = list((tmp_path / "tensorboard" / "plugins" / "profile").glob("*/*.xplane.pb"))
  assert len(traces) == 1 and traces[0].stat().st_size > 1000
  assert "profiled steps 4:8" in proc.stderr


@pytest.mark.parametrize("window", ["8:4", "x", "4-8"])
def test_bad_profile_window_is_refused_before_anything_is_written(tmp_path, window):
  proc = run_cli("digits_mlp.py:smoke", tmp_path / "w", f"--config.train.profile_steps={window}")
  assert proc.returncode == 2 and "config.train.profile_steps" in proc.stderr
  assert not (tmp_path / "w").exists()


# ---------------------------------------------------------------------------- Weights & Biases, offline

def wandb_history(run_file) -> list[tuple[int, dict]]:
  """``[(step, {key: value})]`` of the history records in a ``.wandb`` file, read as W&B writes it: a 7-byte
  header (``:W&B``, magic, version), then LevelDB log records (crc32c, length, type; full or in pieces) in
  32 KiB blocks, each a serialised ``wandb.proto`` Record."""
  from wandb.proto import wandb_internal_pb2
  data = run_file.read_bytes()
  assert data[:4] == b":W&B"
  pos, block, pending, records = 7, 32768, b"", []
  while pos + 7 <= len(data):
    if block - pos % block < 7:  # a block's tail too short for a header is padding
      pos += block - pos % block
      continue
    length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
    chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
    if kind == 0:
      break
    pending = chunk if kind in (1, 2) else pending + chunk
    if kind in (1, 4):
      records.append(pending)
  history = []
  for raw in records:
    record = wandb_internal_pb2.Record()
    record.ParseFromString(raw)
    if record.WhichOneof("record_type") == "history":
      values = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
      history.append((record.history.step.num, values))
  return history


def test_wandb_offline_writer_logs_what_metrics_jsonl_holds(tmp_path):
  proc = run_cli("digits_mlp.py:smoke", tmp_path, "--config.train.num_steps=16", "--config.train.log_every_steps=4",
                 "--config.writers.wandb=True", "--config.writers.wandb_mode=offline")
  assert proc.returncode == 0, proc.stderr[-3000:]
  (run_file,) = (tmp_path / "wandb").glob("offline-run-*/run-*.wandb")
  assert run_file.name == f"run-{(tmp_path / 'wandb_run_id').read_text().strip()}.wandb"
  logged = {}
  for step, values in wandb_history(run_file):
    logged.setdefault(step, {}).update(values)
  for m in read_metrics(tmp_path):
    for key, value in m.items():
      if key not in ("step", "time"):
        assert logged[m["step"]][key] == pytest.approx(value, rel=1e-6), (m["step"], key)
  assert {4, 8, 12, 16} <= set(logged) and "perf/tflops_per_s" in logged[16] and "test/accuracy" in logged[16]


def test_wandb_bad_mode_is_refused_before_anything_is_written(tmp_path):
  proc = run_cli("digits_mlp.py:smoke", tmp_path / "w", "--config.writers.wandb=True",
                 "--config.writers.wandb_mode=offlien")
  assert proc.returncode == 2 and "config.writers.wandb_mode='offlien'" in proc.stderr
  assert not (tmp_path / "w").exists()


def test_mfu_against_a_given_peak(tmp_path):
  """A device bigjax has no peak for (a CPU here) takes one from train.peak_tflops: perf/mfu is then the job's
  TFLOP/s over that peak times the devices, in metrics.jsonl and TensorBoard alike."""
  from tensorboard.backend.event_processing import event_accumulator
  proc = run_cli("digits_mlp.py:smoke", tmp_path, "--config.train.num_steps=16", "--config.train.log_every_steps=4",
                 "--config.mesh.data=2", "--config.train.peak_tflops=0.5", num_devices=2)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert json.loads((tmp_path / "results.json").read_text())["device_peak_tflops"] == 0.5
  logged = [m for m in read_metrics(tmp_path) if "perf/mfu" in m]
  assert len(logged) == 4
  for m in logged:
    assert m["perf/mfu"] == pytest.approx(m["perf/tflops_per_s"] / (0.5 * 2), rel=1e-12)
  events = event_accumulator.EventAccumulator(str(tmp_path / "tensorboard"))
  events.Reload()
  mfu = [e.value for e in events.Scalars("perf/mfu")]
  assert mfu == pytest.approx([m["perf/mfu"] for m in logged], rel=1e-6)
