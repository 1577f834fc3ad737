"""The same config on 1 device, on 8 fake CPU devices (data x fsdp mesh) and on 2 processes
(jax.distributed over 127.0.0.1, 2 devices each) follows the same loss trajectory."""

import json
import socket
import subprocess

import numpy as np
import pytest

from conftest import REPO, cli_command, cli_env, requires_shakespeare, train_losses

OVERRIDES = ("--config.train.log_every_steps=4", "--config.sharding.fsdp_min_size=1024")


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("one_device")
  proc = subprocess.run(cli_command("digits_mlp.py:smoke", workdir, *OVERRIDES), env=cli_env(1), cwd=REPO,
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return workdir


def assert_same_trajectory(reference, other):
  ref, got = train_losses(reference), train_losses(other)
  assert sorted(ref) == sorted(got) and len(ref) == 22
  np.testing.assert_allclose([got[s] for s in sorted(got)], [ref[s] for s in sorted(ref)], rtol=2e-4)
  acc = [json.loads((w / "results.json").read_text())["final_metrics"]["test/accuracy"] for w in (reference, other)]
  assert abs(acc[0] - acc[1]) <= 1 / 360  # at most one of the 360 test digits may flip


def test_eight_devices_data_by_fsdp_matches_one_device(one_device, tmp_path):
  proc = subprocess.run(
      cli_command("digits_mlp.py:smoke", tmp_path, *OVERRIDES, "--config.mesh.data=4", "--config.mesh.fsdp=2"),
      env=cli_env(8), cwd=REPO, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  results = json.loads((tmp_path / "results.json").read_text())
  assert results["device_count"] == 8 and results["mesh"] == {"data": 4, "fsdp": 2, "tensor": 1}
  assert_same_trajectory(one_device, tmp_path)


def test_two_processes_match_one_device(one_device, tmp_path):
  port = free_port()
  procs = [subprocess.Popen(
      cli_command("digits_mlp.py:smoke", tmp_path, *OVERRIDES, "--config.mesh.data=2", "--config.mesh.fsdp=2",
                  "--multihost", f"--coordinator_address=127.0.0.1:{port}", "--num_processes=2", f"--process_id={i}"),
      env=cli_env(2), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
  outputs = [p.communicate(timeout=300)[0] for p in procs]
  for p, out in zip(procs, outputs):
    assert p.returncode == 0, out[-3000:]
  results = json.loads((tmp_path / "results.json").read_text())
  assert results["process_count"] == 2 and results["device_count"] == 4
  assert_same_trajectory(one_device, tmp_path)


# ---------------------------------------------------------------------------- tensor parallel transformer

GPT_OVERRIDES = ("--config.train.num_steps=20", "--config.model.num_heads=4")


@requires_shakespeare
def test_transformer_heads_on_tensor_weights_on_fsdp_matches_one_device(tmp_path):
  """The GPT smoke config on 8 devices (data 2 x fsdp 2 x tensor 2) follows the 1-device loss curve."""
  runs = {}
  for name, devices, mesh in [("one", 1, ()), ("eight", 8, ("--config.mesh.data=2", "--config.mesh.fsdp=2",
                                                             "--config.mesh.tensor=2"))]:
    proc = subprocess.run(cli_command("shakespeare_char_gpt.py:smoke", tmp_path / name, *GPT_OVERRIDES, *mesh),
                          env=cli_env(devices), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs[name] = tmp_path / name
  results = json.loads((runs["eight"] / "results.json").read_text())
  assert results["mesh"] == {"data": 2, "fsdp": 2, "tensor": 2}
  ref, got = train_losses(runs["one"]), train_losses(runs["eight"])
  assert sorted(ref) == sorted(got) and len(ref) == 4
  np.testing.assert_allclose([got[s] for s in sorted(got)], [ref[s] for s in sorted(ref)], rtol=1e-4)
  final = [json.loads((w / "results.json").read_text())["final_metrics"]["validation/loss"] for w in runs.values()]
  np.testing.assert_allclose(final[1], final[0], rtol=1e-4)
