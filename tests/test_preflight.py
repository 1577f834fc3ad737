"""Preflight compiles a config for a target mesh, prints its memory, and refuses what cannot run."""

import subprocess
import sys

from conftest import REPO, cli_env, requires_mnist


def preflight(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "bigjax.preflight", *args], env=cli_env(1), cwd=REPO,
                        capture_output=True, text=True, timeout=300)


@requires_mnist
def test_mnist_cnn_compiles_for_a_data_by_fsdp_mesh_and_prints_its_memory():
  proc = preflight("--config=configs/mnist_cnn.py:smoke", "--devices=8", "--config.train.steps_per_call=1",
                   "--config.mesh.data=4", "--config.mesh.fsdp=2", "--config.sharding.fsdp_min_size=1024")
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = proc.stdout
  assert "{'data': 4, 'fsdp': 2, 'tensor': 1} over 8 cpu devices; 16 examples per device" in out
  # The 1024x256 dense kernel is split over fsdp: half of its 1 MiB on each device.
  assert "| Dense_0/kernel | [1024, 256] | P('fsdp', None) | 524,288 B |" in out
  assert "| temp |" in out and "**total (arguments + outputs + temporaries - aliased)**" in out


def test_a_mesh_that_does_not_divide_the_batch_is_refused():
  proc = preflight("--config=configs/digits_mlp.py", "--devices=6")
  assert proc.returncode == 2
  assert "config.data.batch_size=32 is not divisible by the 6 batch shards" in proc.stderr


def test_a_step_that_does_not_fit_the_device_memory_fails():
  proc = preflight("--config=configs/digits_mlp.py", "--devices=2", "--device_memory_gb=0.0001")
  assert proc.returncode == 1
  assert "more than --device_memory_gb=0.0001" in proc.stderr
  ok = preflight("--config=configs/digits_mlp.py", "--devices=2", "--device_memory_gb=1")
  assert ok.returncode == 0, ok.stderr[-2000:]
