"""`scripts/launch.py slurm` on a real Slurm: Debian's slurm-wlm and munge, controller and compute daemon on
127.0.0.1 (`scripts/local_slurm.sh`, as root). No mocks: jobs are submitted with sbatch, run by slurmd under
srun, and jax.distributed finds its coordinator, process count and id through its own Slurm detection.

- A 2-task job of a smoke config ends with parameters bitwise equal to the same config in one process with
  the same 2 devices.
- The config's sweep as a 3-point job array: every point writes its results.json; submitting again
  submits nothing, and a point that lost its results is the only one in the next array.
- A job told to stop mid-run (`scancel --signal=TERM`) saves, requeues itself and resumes exactly: its
  final parameters are bitwise those of the run that was never stopped.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import REPO, cli_command, cli_env, exported_params

LOCAL_SLURM = REPO / "scripts" / "local_slurm.sh"
LAUNCH = REPO / "scripts" / "launch.py"
DIGITS = REPO / "configs" / "digits_mlp.py"
CPU_ENV = ("--env=XLA_FLAGS=--xla_force_host_platform_device_count=1", "--env=JAX_PLATFORMS=cpu")
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"}


@pytest.fixture(scope="module")
def slurm_env():
  """The environment in which sbatch, squeue and scontrol reach the local cluster (started here if needed)."""
  missing = [b for b in ("sbatch", "slurmctld", "slurmd", "munged") if shutil.which(b) is None]
  if missing or os.geteuid() != 0:
    why = f"{', '.join(missing)} not installed" if missing else "not root"
    if os.environ.get("CI"):
      pytest.fail(f"the real-Slurm tests need slurm-wlm and munge as root ({why}); .ci/run installs them "
                  f"with scripts/local_slurm.sh install")
    pytest.skip(f"real Slurm unavailable: {why} (scripts/local_slurm.sh install)")
  # Started once (the script is idempotent and serialises concurrent starts) and left running: the test
  # processes of one pytest run share it, and none of them knows when the others are done with it.
  proc = subprocess.run(["bash", str(LOCAL_SLURM), "start"], capture_output=True, text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr
  match = re.fullmatch(r"export SLURM_CONF=(\S+)\n", proc.stdout)
  assert match, proc.stdout
  return {**cli_env(), "SLURM_CONF": match.group(1)}


def launch(env, workdir, *args, config=f"{DIGITS}:smoke") -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, str(LAUNCH), "slurm", f"--config={config}", f"--workdir={workdir}",
                         f"--python={sys.executable}", *CPU_ENV, *args], env=env, cwd=REPO, capture_output=True,
                        text=True, timeout=120)


def submit(env, workdir, *args, config=f"{DIGITS}:smoke") -> str:
  proc = launch(env, workdir, *args, config=config)
  assert proc.returncode == 0, proc.stderr
  assert re.fullmatch(r"\d+\n", proc.stdout), proc.stdout
  return proc.stdout.strip()


def job_records(env, job_id) -> list[dict[str, str]]:
  """`scontrol show job` of a job (one record per array task), as KEY=VALUE dicts."""
  out = subprocess.run(["scontrol", "-o", "show", "job", job_id], env=env, capture_output=True, text=True,
                       timeout=30).stdout
  return [dict(field.split("=", 1) for field in line.split() if "=" in field) for line in out.splitlines()]


def wait_for(env, job_id, timeout=400) -> list[dict[str, str]]:
  """The job's records once every task has ended (requeued tasks run again first)."""
  deadline = time.time() + timeout
  while time.time() < deadline:
    records = job_records(env, job_id)
    if records and all(r["JobState"] in TERMINAL for r in records):
      return records
    time.sleep(1)
  subprocess.run(["scancel", job_id], env=env, timeout=30)
  raise AssertionError(f"job {job_id} did not end in {timeout}s: {job_records(env, job_id)}")


def logs(workdir: pathlib.Path) -> str:
  return "\n".join(p.read_text() for p in sorted((workdir / "slurm").glob("*.out")))


def one_process(workdir, *overrides, devices=2):
  proc = subprocess.run(cli_command("digits_mlp.py:smoke", workdir, *overrides), env=cli_env(devices), cwd=REPO,
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]


def assert_bitwise_equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
  assert a.keys() == b.keys() and a
  for key in a:
    assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key


def test_two_task_job_is_bitwise_one_process(slurm_env, tmp_path):
  overrides = ("--config.mesh.data=2", "--config.train.log_every_steps=4")
  job = submit(slurm_env, tmp_path / "slurm", "--tasks-per-node=2", *overrides)
  (record,) = wait_for(slurm_env, job)
  assert record["JobState"] == "COMPLETED" and record["NumTasks"] == "2", (record, logs(tmp_path / "slurm"))
  results = json.loads((tmp_path / "slurm" / "results.json").read_text())
  assert results["process_count"] == 2 and results["device_count"] == 2 and results["mesh"]["data"] == 2
  one_process(tmp_path / "one", *overrides, devices=2)
  assert_bitwise_equal(exported_params(tmp_path / "slurm", 2), exported_params(tmp_path / "one", 2))


def test_sweep_is_a_job_array_of_its_points(slurm_env, tmp_path):
  config = tmp_path / "three_seeds.py"
  config.write_text("import runpy\n"
                    f"_DIGITS = runpy.run_path({str(DIGITS)!r})\n"
                    "def get_config(arg=None):\n  return _DIGITS['get_config'](arg)\n"
                    "def get_sweep(arg=None):\n  return [{'seed': 0}, {'seed': 1}, {'seed': 2}]\n")
  root = tmp_path / "sweep"
  job = submit(slurm_env, root, "--sweep", "--config.train.num_steps=16", config=f"{config}:smoke")
  records = wait_for(slurm_env, job)
  assert sorted(r["ArrayTaskId"] for r in records) == ["0", "1", "2"], records
  assert all(r["JobState"] == "COMPLETED" for r in records), logs(root)
  points = [root / f"seed={s}" for s in range(3)]
  seeds = [json.loads((p / "results.json").read_text())["seed"] for p in points]
  assert seeds == [0, 1, 2]
  assert json.loads((root / "sweep.json").read_text())["points"][2]["point"] == {"seed": 2}

  again = launch(slurm_env, root, "--sweep", "--config.train.num_steps=16", config=f"{config}:smoke")
  assert again.returncode == 0 and again.stdout == "" and "nothing submitted" in again.stderr, again.stderr
  shutil.rmtree(points[1])  # lost: the next array holds this point alone
  dry = launch(slurm_env, root, "--sweep", "--dry-run", "--config.train.num_steps=16", config=f"{config}:smoke")
  assert dry.returncode == 0, dry.stderr
  assert "#SBATCH --array=0-0\n" in dry.stdout and "seed=1" in dry.stdout and "seed=0" not in dry.stdout
  assert "2 finished before, 1 to run" in dry.stderr
  # A different sweep in the same root is refused, nothing submitted.
  other = launch(slurm_env, root, "--sweep", "--config.train.num_steps=8", config=f"{config}:smoke")
  assert other.returncode == 2 and "holds a different sweep" in other.stderr and other.stdout == ""


def test_signalled_job_requeues_and_resumes_exactly(slurm_env, tmp_path):
  overrides = ("--config.mesh.data=2", "--config.train.log_every_steps=4", "--config.train.num_epochs=40")
  workdir = tmp_path / "requeued"
  job = submit(slurm_env, workdir, "--tasks-per-node=2", "--requeue", *overrides)
  deadline = time.time() + 300
  while time.time() < deadline:  # stop it once it has trained a while, well before its 1,760 steps
    metrics = workdir / "metrics.jsonl"
    steps = [json.loads(line)["step"] for line in metrics.read_text().splitlines()] if metrics.exists() else []
    if steps and max(steps) >= 100:
      break
    time.sleep(0.2)
  else:
    raise AssertionError(f"job {job} never trained: {job_records(slurm_env, job)} {logs(workdir)}")
  subprocess.run(["scancel", "--signal=TERM", job], env=slurm_env, check=True, timeout=30)
  while time.time() < deadline:  # the tasks save and exit 0; the batch script finds no results and requeues
    (record,) = job_records(slurm_env, job)
    if record["Restarts"] == "1" and record["JobState"] == "PENDING":
      break
    assert record["JobState"] not in TERMINAL, (record, logs(workdir))
    time.sleep(0.5)
  # Slurm holds a requeued job until the first attempt's job credential expires, and it must: the credential stays
  # revoked on the node meanwhile (a job released at once is killed as "non-startable: Job credential revoked", as
  # this test found under CI). scripts/local_slurm.sh sets that lifetime to 30 s (cred_expire; Slurm's default,
  # 120 s, held this test two minutes).
  (record,) = wait_for(slurm_env, job, timeout=600)
  assert record["JobState"] == "COMPLETED" and record["Restarts"] == "1", (record, logs(workdir))
  assert "requeueing job" in logs(workdir)
  results = json.loads((workdir / "results.json").read_text())
  assert 100 <= results["resumed_from_step"] < results["steps"] == 1760
  one_process(tmp_path / "one", *overrides, devices=2)
  assert_bitwise_equal(exported_params(workdir, 2), exported_params(tmp_path / "one", 2))


def test_bad_slurm_input_exits_2_and_submits_nothing(tmp_path):
  env = cli_env()
  for args, message in [(["--gpus-per-node=4", "--tasks-per-node=3"], "cannot be shared evenly"),
                        (["--time=soon"], "is not a Slurm time limit"),
                        (["--parallel=2"], "--parallel applies to sweeps only"),
                        (["--env=NOVALUE"], "is not NAME=VALUE")]:
    proc = launch(env, tmp_path / "w", *args, "--sbatch=/bin/false")
    assert proc.returncode == 2 and message in proc.stderr and proc.stdout == "", (args, proc.stderr)
    assert len(proc.stderr.strip().splitlines()) == 1
  assert not (tmp_path / "w").exists()
