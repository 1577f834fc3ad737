"""Tests for scripts/launch.py: dry-run output, derived worker counts, input checks, execution."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import load_module

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "launch.py"
launch = load_module(SCRIPT)

TRICKY = "--config.model.name=it's a \"b\""  # a space, a single and a double quote.
TPU_V4_32 = ["tpu", "--name=pod", "--zone=us-central2-b", "--accelerator-type=v4-32",
             "--config=configs/lm1b.py:smoke", "--workdir=gs://bucket/runs/lm1b",
             "--config.optim.lr=3e-4", TRICKY]


@pytest.fixture
def tripwire(tmp_path):
  """A fake `gcloud` (first on PATH) and `ssh` that record any call in `ran`."""
  ran = tmp_path / "ran"
  bin_dir = tmp_path / "bin"
  bin_dir.mkdir()
  for name in ("gcloud", "fake_ssh"):
    tool = bin_dir / name
    tool.write_text(f'#!/bin/sh\necho "$@" >> {shlex.quote(str(ran))}\n'
                    f'case "$*" in *FAIL*) exit 3;; esac\n')
    tool.chmod(0o755)
  env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
  return ran, str(bin_dir / "fake_ssh"), env


def run(argv, env):
  return subprocess.run([sys.executable, str(SCRIPT), *argv], capture_output=True, text=True,
                        env=env, timeout=30)


def test_tpu_v4_32_dry_run(tripwire):
  ran, _, env = tripwire
  result = run([*TPU_V4_32, "--dry-run"], env)
  assert result.returncode == 0, result.stderr
  assert "v4-32 -> 4 workers" in result.stderr
  lines = result.stdout.splitlines()
  assert len(lines) == 1
  mount = ("mkdir -p /tmp/bigjax-gcs/bucket && { mountpoint -q /tmp/bigjax-gcs/bucket || "
           "gcsfuse --implicit-dirs bucket /tmp/bigjax-gcs/bucket; } && ")
  remote = (mount + "cd bigjax && python3 -m bigjax.main --config=configs/lm1b.py:smoke "
            "--workdir=/tmp/bigjax-gcs/bucket/runs/lm1b --config.optim.lr=3e-4 "
            + shlex.quote(TRICKY) + " --multihost")
  assert shlex.split(lines[0]) == [
      "gcloud", "compute", "tpus", "tpu-vm", "ssh", "pod", "--zone", "us-central2-b",
      "--worker=all", "--command", remote]
  # The worker's shell, given the pasted line's --command, sees the exact argv.
  assert shlex.split(remote.split(" && ")[-1]) == [
      "python3", "-m", "bigjax.main", "--config=configs/lm1b.py:smoke",
      "--workdir=/tmp/bigjax-gcs/bucket/runs/lm1b", "--config.optim.lr=3e-4", TRICKY, "--multihost"]
  assert not ran.exists()


def test_tpu_create_and_setup_lines(tripwire):
  ran, _, env = tripwire
  result = run([*TPU_V4_32, "--project=proj", "--create", "--setup",
                "--repo-url=https://example.com/bigjax.git", "--dry-run"], env)
  assert result.returncode == 0, result.stderr
  create, setup, train = [shlex.split(line) for line in result.stdout.splitlines()]
  assert create == ["gcloud", "compute", "tpus", "tpu-vm", "create", "pod", "--zone",
                    "us-central2-b", "--project", "proj", "--accelerator-type", "v4-32",
                    "--version", "tpu-ubuntu2204-base"]
  assert setup[:10] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "pod", "--zone",
                        "us-central2-b", "--project", "proj"]
  assert setup[10:12] == ["--worker=all", "--command"]
  assert "git clone https://example.com/bigjax.git bigjax" in setup[12]
  assert setup[12].endswith("cd bigjax && python3 -m pip install -e . 'jax[tpu]'")
  assert "command -v gcsfuse >/dev/null || {" in setup[12]  # a gs:// workdir needs Cloud Storage FUSE
  assert train[10:12] == ["--worker=all", "--command"] and train[12].endswith("--multihost")
  assert not ran.exists()


def test_tpu_single_host_has_no_multihost(tripwire):
  ran, _, env = tripwire
  result = run(["tpu", "--name=one", "--zone=z", "--accelerator-type=v4-8",
                "--config=configs/x.py", "--workdir=runs/local", "--dry-run"], env)
  assert result.returncode == 0, result.stderr  # A local workdir is fine on one host.
  assert "1 worker" in result.stderr
  [line] = result.stdout.splitlines()
  assert shlex.split(line)[-1] == "cd bigjax && python3 -m bigjax.main --config=configs/x.py --workdir=runs/local"
  assert not ran.exists()


def test_tpu_local_workdir_refused_on_multi_worker_slice(tripwire):
  ran, _, env = tripwire
  argv = [a if not a.startswith("--workdir") else "--workdir=/tmp/runs" for a in TPU_V4_32]
  result = run([*argv, "--dry-run"], env)
  assert result.returncode == 2 and result.stdout == ""
  assert "--workdir=/tmp/runs is a local path" in result.stderr and "gs://" in result.stderr
  assert run([*argv, "--shared-workdir", "--dry-run"], env).returncode == 0
  assert not ran.exists()


def test_unknown_accelerator_type(tripwire):
  ran, _, env = tripwire
  argv = [a if not a.startswith("--accelerator") else "--accelerator-type=v9x-32" for a in TPU_V4_32]
  result = run([*argv, "--dry-run"], env)
  assert result.returncode == 2 and result.stdout == ""
  assert "unknown TPU accelerator type 'v9x-32'" in result.stderr
  assert not ran.exists()


@pytest.mark.parametrize("accelerator_type, workers", [
    ("v2-8", 1), ("v3-32", 4), ("v4-8", 1), ("v4-16", 2), ("v4-32", 4), ("v5p-128", 16),
    ("v5litepod-1", 1), ("v5litepod-8", 1), ("v5litepod-16", 4), ("v6e-8", 1), ("v6e-256", 64)])
def test_tpu_num_workers(accelerator_type, workers):
  assert launch.tpu_num_workers(accelerator_type) == workers


@pytest.mark.parametrize("accelerator_type", ["v4-12", "v6e-18", "v4", "tpu-32", "v5e-16", ""])
def test_tpu_num_workers_rejects(accelerator_type):
  with pytest.raises(ValueError, match="accelerator type"):
    launch.tpu_num_workers(accelerator_type)


def test_gpu_two_hosts_dry_run(tripwire):
  ran, fake_ssh, env = tripwire
  result = run(["gpu", "--hosts=alice@gpu-a,gpu-b", "--gpus-per-host=2", "--port=4321",
                f"--ssh={fake_ssh}", "--config=configs/x.py", "--workdir=/nfs/runs/x",
                TRICKY, "--dry-run"], env)
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert len(lines) == 2
  for process_id, (line, host) in enumerate(zip(lines, ["alice@gpu-a", "gpu-b"])):
    ssh, dest, remote = shlex.split(line)
    assert (ssh, dest) == (fake_ssh, host)
    cd, train = remote.split(" && ", 1)
    assert cd == "cd bigjax"
    assert shlex.split(train) == [
        "CUDA_VISIBLE_DEVICES=0,1", "python3", "-m", "bigjax.main", "--config=configs/x.py",
        "--workdir=/nfs/runs/x", TRICKY, "--multihost", "--coordinator_address=gpu-a:4321",
        "--num_processes=2", f"--process_id={process_id}"]
  assert not ran.exists()


def test_gpu_empty_hosts(tripwire):
  ran, fake_ssh, env = tripwire
  result = run(["gpu", "--hosts=,", f"--ssh={fake_ssh}", "--config=c.py", "--workdir=w"], env)
  assert result.returncode == 2 and "--hosts is empty" in result.stderr
  assert not ran.exists()


def test_overrides_must_use_equals():
  with pytest.raises(SystemExit):
    launch.parse_args(["gpu", "--hosts=a", "--config=c.py", "--workdir=w", "--config.lr", "3"])


def test_gpu_runs_every_host_and_reports_failure(tripwire):
  ran, fake_ssh, env = tripwire
  base = ["gpu", f"--ssh={fake_ssh}", "--config=c.py", "--workdir=/nfs/w"]
  assert run([*base, "--hosts=h1,h2"], env).returncode == 0
  calls = sorted(ran.read_text().splitlines())
  assert len(calls) == 2 and calls[0].startswith("h1 ") and calls[1].startswith("h2 ")
  result = run([*base, "--hosts=h1,FAIL"], env)  # The fake ssh exits 3 for host FAIL.
  assert result.returncode == 3 and "process 1 failed" in result.stderr
  assert len(ran.read_text().splitlines()) == 4  # Both hosts were still started.


def test_tpu_runs_commands_in_order(tripwire):
  ran, _, env = tripwire
  result = run([*TPU_V4_32, "--create"], env)
  assert result.returncode == 0, result.stderr
  create, train = ran.read_text().splitlines()
  assert create.startswith("compute tpus tpu-vm create pod") and "--worker=all" in train


def test_preflight_comes_first_in_a_dry_run(tripwire):
  ran, _, env = tripwire
  result = run([*TPU_V4_32, "--preflight-devices=16", "--device-memory-gb=32", "--dry-run"], env)
  assert result.returncode == 0, result.stderr
  first, train = result.stdout.splitlines()
  assert shlex.split(first)[1:] == ["-m", "bigjax.preflight", "--config=configs/lm1b.py:smoke", "--devices=16",
                                    "--config.optim.lr=3e-4", TRICKY, "--device_memory_gb=32.0"]
  assert "bigjax.main" in train
  assert not ran.exists()


def test_a_failing_preflight_launches_nothing(tripwire):
  ran, _, env = tripwire
  # 6 devices cannot split digits_mlp's batch of 32: the preflight refuses, and no gcloud command runs.
  result = run(["tpu", "--name=pod", "--zone=z", "--accelerator-type=v4-8", "--config=configs/digits_mlp.py",
                "--workdir=gs://bkt/r", "--preflight-devices=6"], {**env, "JAX_PLATFORMS": "cpu"})
  assert result.returncode == 2
  assert "not divisible by the 6 batch shards" in result.stderr
  assert "nothing was launched" in result.stderr
  assert not ran.exists()


def _remote_argv(line: str) -> list[str]:
  """The argv the host's shell runs: the last `&&` part of the remote command."""
  return shlex.split(shlex.split(line)[-1].split(" && ")[-1])


def test_tpu_v4_32_sweep_dry_run(tripwire):
  """Every worker runs the same sweep: --multihost and one shared id, passed on to each point by bigjax.sweep."""
  ran, _, env = tripwire
  result = run(["tpu", "--name=pod", "--zone=us-central2-b", "--accelerator-type=v4-32",
                "--config=configs/mnist_mlp.py", "--workdir=gs://my-bucket/sweeps/mlp", "--sweep",
                "--sweep-id=launch-7", "--config.train.num_epochs=2", "--dry-run"], env)
  assert result.returncode == 0, result.stderr
  [line] = result.stdout.splitlines()
  assert shlex.split(line)[:10] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "pod", "--zone",
                                    "us-central2-b", "--worker=all", "--command"]
  assert "gcsfuse --implicit-dirs my-bucket /tmp/bigjax-gcs/my-bucket" in line
  assert _remote_argv(line) == [
      "python3", "-m", "bigjax.sweep", "--config=configs/mnist_mlp.py",
      "--workdir=/tmp/bigjax-gcs/my-bucket/sweeps/mlp", "--multihost", "--sweep_id=launch-7",
      "--config.train.num_epochs=2"]
  assert not ran.exists()


def test_gpu_two_hosts_sweep_dry_run(tripwire):
  ran, fake_ssh, env = tripwire
  result = run(["gpu", "--hosts=gpu-a,gpu-b", "--port=4321", f"--ssh={fake_ssh}", "--config=configs/x.py",
                "--workdir=/nfs/sweeps/x", "--sweep", "--dry-run"], env)
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  ids = set()
  for process_id, line in enumerate(lines):
    argv = _remote_argv(line)
    assert argv[:5] == ["python3", "-m", "bigjax.sweep", "--config=configs/x.py", "--workdir=/nfs/sweeps/x"]
    assert argv[5:9] == ["--multihost", "--coordinator_address=gpu-a:4321", "--num_processes=2",
                         f"--process_id={process_id}"]
    assert argv[9].startswith("--sweep_id=")
    ids.add(argv[9])
  assert len(lines) == 2 and len(ids) == 1  # one generated id, shared by both hosts
  assert not ran.exists()


def test_sweep_flags_checked(tripwire):
  _, fake_ssh, env = tripwire
  result = run(["gpu", "--hosts=gpu-a,gpu-b", f"--ssh={fake_ssh}", "--config=configs/x.py",
                "--workdir=/nfs/s", "--sweep", "--parallel=2", "--dry-run"], env)
  assert result.returncode == 2 and "points run one at a time" in result.stderr
  result = run(["gpu", "--hosts=gpu-a", f"--ssh={fake_ssh}", "--config=configs/x.py", "--workdir=/s",
                "--parallel=2", "--dry-run"], env)
  assert result.returncode == 2 and "apply to sweeps only" in result.stderr
  result = run(["gpu", "--hosts=gpu-a", f"--ssh={fake_ssh}", "--config=configs/x.py", "--workdir=/s",
                "--sweep", "--parallel=2", "--dry-run"], env)  # one host: points may share it
  assert result.returncode == 0 and _remote_argv(result.stdout)[-1] == "--parallel=2"


def test_non_gcs_remote_workdir_refused(tripwire):
  _, _, env = tripwire
  result = run(["tpu", "--name=pod", "--zone=z", "--accelerator-type=v4-32", "--config=configs/x.py",
                "--workdir=s3://bucket/x", "--dry-run"], env)
  assert result.returncode == 2 and "mounted on every host" in result.stderr
