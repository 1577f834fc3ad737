"""bigjax.sweep: sweep helpers, point names and commands, and real sweeps of the digits smoke config.

Real runs, no mocks: each point is a ``python -m bigjax.main`` subprocess training ``digits_mlp:smoke``
for 8 steps (a few seconds).
"""

import fcntl
import os
import signal
import json
import pathlib
import re
import shlex
import subprocess
import sys
import time

import pytest

from bigjax import sweep as sw
from conftest import REPO, cli_env

DIGITS = f"{REPO / 'configs' / 'digits_mlp.py'}"
FAST = "--config.train.num_steps=8"  # two calls of 4 steps: the runs take seconds, mostly start-up


def write_sweep_config(tmp_path: pathlib.Path, points: list[dict], name: str = "sweep_cfg.py") -> str:
  """A config file whose get_config is digits_mlp's and whose get_sweep returns ``points``."""
  path = tmp_path / name
  path.write_text(
      "import runpy\n"
      f"_DIGITS = runpy.run_path({DIGITS!r})\n\n"
      "def get_config(arg=None):\n"
      "  return _DIGITS['get_config'](arg)\n\n"
      "def get_sweep(arg=None):\n"
      f"  return {points!r}\n")
  return str(path)


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "bigjax.sweep", *args], env=cli_env(), cwd=REPO,
                        capture_output=True, text=True, timeout=timeout)


# ============================================================================ pure helpers

def test_sweep_product_zip():
  assert sw.sweep("optim.lr", [1e-3, 3e-3]) == [{"optim.lr": 1e-3}, {"optim.lr": 3e-3}]
  grid = sw.product(sw.sweep("a", [1, 2]), sw.sweep("b", ["x", "y"]))
  assert grid == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]
  assert list(grid[0]) == ["a", "b"]  # keys keep sweep order: names read in that order
  assert sw.zip_(sw.sweep("a", [1, 2]), sw.sweep("b", [3, 4])) == [{"a": 1, "b": 3}, {"a": 2, "b": 4}]
  nested = sw.product(sw.zip_(sw.sweep("a", [1, 2]), sw.sweep("b", [3, 4])), sw.sweep("seed", [0, 1]))
  assert len(nested) == 4 and nested[1] == {"a": 1, "b": 3, "seed": 1}
  with pytest.raises(ValueError, match=r"optim\.lr: 2.*seed: 3"):
    sw.zip_(sw.sweep("optim.lr", [1, 2]), sw.sweep("seed", [0, 1, 2]))
  with pytest.raises(ValueError, match="'a' is set by two"):
    sw.product(sw.sweep("a", [1]), sw.sweep("a", [2]))
  with pytest.raises(ValueError, match="dotted config key"):
    sw.sweep("optim lr", [1])


def test_point_names_unique_stable_and_safe():
  points = sw.load_sweep(f"{DIGITS}:smoke")
  names = [sw.point_name(p) for p in points]
  assert len(points) == 8 and len(set(names)) == 8
  assert names[0] == "optim.name=adam,optim.lr=0.001,seed=0"
  assert names == [sw.point_name(p) for p in sw.load_sweep(DIGITS)]  # deterministic
  mnist = sw.load_sweep(str(REPO / "configs" / "mnist_mlp.py"))
  assert len(mnist) == 18 and len({sw.point_name(p) for p in mnist}) == 18
  assert {p["optim.name"] for p in mnist} == {"adam", "momentum"}

  assert sw.point_name({"optim.lr": 1e-3}) == sw.point_name({"optim.lr": 0.001}) == "optim.lr=0.001"
  assert sw.point_name({"optim.lr": 0.1 + 0.2}) == "optim.lr=0.30000000000000004"  # exact, never rounded together
  assert sw.point_name({"model.hidden": (256, 128)}) == "model.hidden=256-128"
  odd = [{"data.name": "tfds:mnist"}, {"data.name": "tfds/mnist"}, {"data.name": "tfds mnist"}]
  odd_names = [sw.point_name(p) for p in odd]
  assert len(set(odd_names)) == 3  # lossy sanitising adds a hash
  long = sw.point_name({"data.data_dir": "x" * 400})
  for name in [*names, *odd_names, long]:
    assert re.fullmatch(r"[A-Za-z0-9._+=,~-]+", name) and len(name) <= 200, name


def test_point_command_and_value_formats(tmp_path):
  point = {"optim.name": "adam", "optim.lr": 0.001, "model.hidden": (256,), "optim.nesterov": True}
  command = sw.point_command("configs/digits_mlp.py:smoke", tmp_path, point, [FAST])
  assert command == [sys.executable, "-m", "bigjax.main", "--config=configs/digits_mlp.py:smoke",
                     f"--workdir={tmp_path / sw.point_name(point)}", "--config.optim.name=adam",
                     "--config.optim.lr=0.001", "--config.model.hidden=(256,)", "--config.optim.nesterov=True",
                     FAST]


def test_load_sweep_rejects_unknown_keys_and_duplicate_names(tmp_path):
  with pytest.raises(ValueError, match="'optim.lrr'.* not a field"):
    sw.load_sweep(write_sweep_config(tmp_path, [{"optim.lrr": 1.0}]))
  with pytest.raises(ValueError, match="share the workdir name"):
    sw.load_sweep(write_sweep_config(tmp_path, [{"seed": 0}, {"seed": 0}], "dup.py"))
  no_sweep = tmp_path / "plain.py"
  no_sweep.write_text("def get_config(arg=None):\n  return None\n")
  with pytest.raises(ValueError, match="defines no get_sweep"):
    sw.load_sweep(str(no_sweep))


def test_dry_run_prints_commands_and_creates_nothing(tmp_path):
  root = tmp_path / "root"
  result = run_cli(f"--config={DIGITS}:smoke", f"--workdir={root}", "--dry-run", FAST)
  assert result.returncode == 0, result.stdout + result.stderr
  expected = [shlex.join(sw.point_command(f"{DIGITS}:smoke", root, p, [FAST]))
              for p in sw.load_sweep(f"{DIGITS}:smoke")]
  assert result.stdout.splitlines() == expected
  assert not root.exists()


# ============================================================================ real sweeps

FOUR = [{"optim.lr": lr, "seed": s} for lr in (1e-3, 3e-3) for s in (0, 1)]


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
  """A 4-point sweep run to completion with --parallel=2: (config, root, CompletedProcess, wall seconds)."""
  tmp = tmp_path_factory.mktemp("sweep")
  config = write_sweep_config(tmp, FOUR)
  root = tmp / "root"
  start = time.perf_counter()
  result = run_cli(f"--config={config}", f"--workdir={root}", "--parallel=2", FAST, timeout=240)
  return config, root, result, time.perf_counter() - start


def test_sweep_runs_every_point(finished_sweep):
  config, root, result, _ = finished_sweep
  assert result.returncode == 0, result.stdout + result.stderr
  for point in FOUR:
    workdir = root / sw.point_name(point)
    results = json.loads((workdir / "results.json").read_text())
    assert results["config"]["optim"]["lr"] == point["optim.lr"] and results["config"]["seed"] == point["seed"]
    assert results["config"]["train"]["num_steps"] == 8 and results["steps"] == 8
    assert "bigjax.main" in (workdir / "sweep.log").read_text()
  described = json.loads((root / "sweep.json").read_text())
  assert described["config"] == str(pathlib.Path(config).resolve()) and described["overrides"] == [FAST]
  assert [p["name"] for p in described["points"]] == [sw.point_name(p) for p in FOUR]
  assert result.stdout.count(" done ") >= 4


def test_rerun_skips_finished_points(finished_sweep):
  config, root, _, _ = finished_sweep
  mtimes = [(root / sw.point_name(p) / "results.json").stat().st_mtime_ns for p in FOUR]
  start = time.perf_counter()
  result = run_cli(f"--config={config}", f"--workdir={root}", "--parallel=2", FAST)
  assert result.returncode == 0, result.stdout + result.stderr
  assert time.perf_counter() - start < 15  # no training: nothing but python start-up
  assert mtimes == [(root / sw.point_name(p) / "results.json").stat().st_mtime_ns for p in FOUR]
  assert "4 done before, 0 to run" in result.stdout
  assert result.stdout.count("skipped (done before)") == 4
  assert "started" not in result.stdout


def test_different_sweep_into_same_root_is_refused(finished_sweep, capsys):
  config, root, _, _ = finished_sweep
  code = sw.run_sweep(config, root, 2, ["--config.train.num_steps=12"])
  out = capsys.readouterr().out
  assert code == 2 and "different sweep" in out and "overrides" in out and "num_steps=12" in out
  other = write_sweep_config(root.parent, FOUR[:3], "three.py")
  assert sw.run_sweep(other, root, 2, [FAST]) == 2
  out = capsys.readouterr().out
  assert "config:" in out and f"points removed: {sw.point_name(FOUR[3])}" in out


def test_concurrent_sweep_on_same_root_is_refused(finished_sweep):
  config, root, _, _ = finished_sweep
  with open(root / ".sweep.lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    result = run_cli(f"--config={config}", f"--workdir={root}", FAST)
  assert result.returncode == 3, result.stdout + result.stderr
  assert "another sweep is running" in result.stdout and str(root) in result.stdout


def test_failing_point_is_reported_and_others_complete(tmp_path):
  points = [{"optim.name": "adam"}, {"optim.name": "nope"}]
  config = write_sweep_config(tmp_path, points)
  root = tmp_path / "root"
  result = run_cli(f"--config={config}:smoke", f"--workdir={root}", "--parallel=2", FAST)
  assert result.returncode == 1, result.stdout + result.stderr
  good, bad = (root / sw.point_name(p) for p in points)
  assert (good / "results.json").exists() and not (bad / "results.json").exists()
  bad_log = bad / "sweep.log"
  assert "optim.name='nope' is unknown" in bad_log.read_text()
  row = next(line for line in result.stdout.splitlines() if line.startswith("optim.name=nope "))
  assert row.split()[1:3] == ["failed", "2"] and row.endswith(str(bad_log))
  row = next(line for line in result.stdout.splitlines() if line.startswith("optim.name=adam "))
  assert row.split()[1:3] == ["done", "0"]
  assert "optim.name='nope' is unknown" in result.stdout  # the failing line, next to the log path


def test_sigterm_checkpoints_running_points_and_stops(tmp_path):
  """SIGTERM to the runner reaches the running point, which saves a checkpoint and exits without results."""
  config = write_sweep_config(tmp_path, [{"seed": 0}, {"seed": 1}])
  root = tmp_path / "root"
  runner = subprocess.Popen([sys.executable, "-m", "bigjax.sweep", f"--config={config}", f"--workdir={root}",
                             "--config.train.num_epochs=100"], env=cli_env(), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  log = root / "seed=0" / "sweep.log"
  deadline = time.monotonic() + 60
  while not (log.exists() and "steps/s" in log.read_text()):  # training, so the preemption handler is in place
    assert time.monotonic() < deadline and runner.poll() is None, "the point never started training"
    time.sleep(0.2)
  runner.send_signal(signal.SIGTERM)
  out, _ = runner.communicate(timeout=60)
  assert runner.returncode == 128 + signal.SIGTERM, out
  assert "preempted: checkpoint saved" in log.read_text()
  assert os.listdir(root / "seed=0" / "checkpoints") and not (root / "seed=0" / "results.json").exists()
  assert not (root / "seed=1").exists()  # never started
  rows = {line.split()[0]: line.split()[1] for line in out.splitlines() if line.startswith("seed=")}
  assert rows == {"seed=0": "interrupted", "seed=1": "not"}, out


def _table_without_times(root: pathlib.Path) -> str:
  """The report's per-point table (mean ± std over seeds) minus its wall-time column."""
  from bigjax import report
  runs = report.find_results([str(root)])
  keys = report.swept_keys(runs, report.find_sweeps([str(root)]))
  points = report.group_points(runs, keys)
  metrics = ["test/accuracy", "test/loss", "train/loss"]
  table = report.aggregated_table(points, keys, metrics, report.best_point(points, "test/accuracy", "max"))
  return "\n".join(line.rsplit("|", 2)[0] for line in table.splitlines())


def _processes_naming(path: pathlib.Path) -> list[int]:
  """The pids of live processes whose command line holds ``path``."""
  pids = []
  for cmdline in pathlib.Path("/proc").glob("[0-9]*/cmdline"):
    try:
      if str(path).encode() in cmdline.read_bytes():
        pids.append(int(cmdline.parent.name))
    except OSError:  # gone meanwhile
      continue
  return pids


def test_sweep_killed_half_way_completes_only_what_is_missing(tmp_path):
  """SIGKILL the runner once half the points are done; the rerun runs only the rest, and the final
  table equals that of a sweep that was never interrupted."""
  points = sw.product(sw.sweep("optim.lr", [1e-3, 3e-3]), sw.sweep("optim.name", ["adam", "sgd"]),
                      sw.sweep("seed", [0, 1]))
  config = write_sweep_config(tmp_path, points)
  whole = run_cli(f"--config={config}", f"--workdir={tmp_path / 'whole'}", "--parallel=2", FAST, timeout=300)
  assert whole.returncode == 0, whole.stdout + whole.stderr

  root = tmp_path / "killed"
  runner = subprocess.Popen([sys.executable, "-m", "bigjax.sweep", f"--config={config}", f"--workdir={root}",
                             "--parallel=2", FAST], env=cli_env(), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.time() + 240
  while time.time() < deadline and len(list(root.glob("*/results.json"))) < 4:
    time.sleep(0.05)
  runner.kill()
  runner.wait()
  done_before = {p.parent.name: p.stat().st_mtime_ns for p in root.glob("*/results.json")}
  assert 4 <= len(done_before) < 8
  # The orphaned points got SIGTERM from the kernel: let them checkpoint and exit (a point still running would
  # hold its run's lock, and the rerun's attempt at it would fail; a fixed 3 s was too short on a busy machine).
  deadline = time.time() + 120
  while time.time() < deadline and _processes_naming(root):
    time.sleep(0.2)
  assert not _processes_naming(root), "the killed sweep's points did not exit"

  rerun = run_cli(f"--config={config}", f"--workdir={root}", "--parallel=2", FAST, timeout=300)
  assert rerun.returncode == 0, rerun.stdout + rerun.stderr
  assert f"{len(done_before)} done before, {8 - len(done_before)} to run" in rerun.stdout + rerun.stderr
  assert {p.parent.name: p.stat().st_mtime_ns for p in root.glob("*/results.json") if p.parent.name in done_before} \
      == done_before  # finished points were not run again
  assert len(list(root.glob("*/results.json"))) == 8
  assert _table_without_times(root) == _table_without_times(tmp_path / "whole")


# ============================================================================ multi-host sweeps

def _free_port() -> int:
  import socket
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_multihost_sweep_runs_each_point_on_both_processes(tmp_path):
  """Two runners (two "hosts") walk the same points; each point trains as one 2-process jax.distributed job."""
  points = [{"seed": 0}, {"seed": 1}]
  config = write_sweep_config(tmp_path, points)
  root = tmp_path / "root"
  port = _free_port()
  runners = [subprocess.Popen(
      [sys.executable, "-m", "bigjax.sweep", f"--config={config}:smoke", f"--workdir={root}", "--multihost",
       "--sweep_id=test-launch", f"--coordinator_address=127.0.0.1:{port}", "--num_processes=2",
       f"--process_id={i}", FAST], env=cli_env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
      text=True) for i in range(2)]
  outputs = [r.communicate(timeout=300)[0] for r in runners]
  assert [r.returncode for r in runners] == [0, 0], "\n".join(outputs)
  for point in points:
    workdir = root / sw.point_name(point)
    results = json.loads((workdir / "results.json").read_text())
    assert results["process_count"] == 2 and results["steps"] == 8
    assert "--multihost" in results["command"] and "--process_id=0" in results["command"]
    for i in range(2):  # one log per host, both of a finished point
      assert "--multihost" in (workdir / f"sweep.p{i}.log").read_text()
  for out in outputs:
    assert "done seed=0" in out and "done seed=1" in out, out
  assert not (root / "sweep.lease.json").exists()  # released at the end
  # A rerun (a new launch) finds every point done on both hosts.
  again = run_cli(f"--config={config}:smoke", f"--workdir={root}", "--multihost", "--sweep_id=second",
                  f"--coordinator_address=127.0.0.1:{port}", "--num_processes=1", "--process_id=0", FAST)
  assert again.returncode == 0 and "2 done before, 0 to run" in again.stdout, again.stdout


def test_multihost_lease_refuses_a_live_sweep_and_takes_over_a_dead_one(tmp_path, capsys):
  config = write_sweep_config(tmp_path, [{"seed": 0}])
  root = tmp_path / "root"
  root.mkdir()
  lease = root / "sweep.lease.json"
  lease.write_text(json.dumps({"sweep_id": "other", "host": "w-3", "renewed": time.time()}))
  me = sw.MultiHost("mine", main_flags=())  # single-process points: the lease logic is what is tested
  code = sw.run_sweep(f"{config}:smoke", root, 1, [FAST], multihost=me, lease_settle_s=0.0)
  out = capsys.readouterr().out
  assert code == 3 and "sweep 'other' (host w-3) holds" in out, out
  assert json.loads(lease.read_text())["sweep_id"] == "other" and not (root / "sweep.json").exists()

  lease.write_text(json.dumps({"sweep_id": "other", "host": "w-3", "renewed": time.time() - 500}))  # dead
  code = sw.run_sweep(f"{config}:smoke", root, 1, [FAST], multihost=me, lease_ttl_s=120, lease_settle_s=0.0)
  out = capsys.readouterr().out
  assert code == 0, out
  assert (root / sw.point_name({"seed": 0}) / "results.json").exists() and not lease.exists()
  assert (root / sw.point_name({"seed": 0}) / f"sweep.{me.host}.log").exists()


def test_lease_is_renewed_and_lost_to_another_sweep(tmp_path):
  lease = sw.Lease(tmp_path, "a", "h0", ttl_s=0.4, settle_s=0.0)
  assert lease.acquire() is None
  first = json.loads(lease.path.read_text())["renewed"]
  time.sleep(0.35)
  assert json.loads(lease.path.read_text())["renewed"] > first  # renewed every ttl/4
  assert sw.Lease(tmp_path, "b", "h1", ttl_s=0.4, settle_s=0.0).acquire().startswith("sweep 'a' (host h0)")
  lease.path.write_text(json.dumps({"sweep_id": "b", "host": "h1", "renewed": time.time() + 60}))
  assert lease.lost.wait(2.0)  # it saw another id: the runner stops its points
  lease.release()
  assert json.loads(lease.path.read_text())["sweep_id"] == "b"  # a lost lease is not deleted


def test_multihost_command_line_errors(tmp_path):
  config = write_sweep_config(tmp_path, [{"seed": 0}])
  result = run_cli(f"--config={config}", f"--workdir={tmp_path / 'r'}", "--multihost")
  assert result.returncode == 2 and "--multihost needs --sweep_id" in result.stdout
  result = run_cli(f"--config={config}", f"--workdir={tmp_path / 'r'}", "--multihost", "--sweep_id=x", "--parallel=2")
  assert result.returncode == 2 and "points run one at a time" in result.stdout
  result = run_cli(f"--config={config}", f"--workdir={tmp_path / 'r'}", "--process_id=1")
  assert result.returncode == 2 and "only make sense with --multihost" in result.stdout
  result = run_cli(f"--config={config}", f"--workdir={tmp_path / 'r'}", "--multihost", "--sweep_id=x",
                   "--coordinator_address=h0:1234", "--num_processes=2", "--process_id=1", "--dry-run")
  assert result.returncode == 0
  assert "--multihost --coordinator_address=h0:1234 --num_processes=2 --process_id=1" in result.stdout


def test_sweep_root_copied_from_another_checkout_resumes():
  """sweep.json records the config's absolute path; a root copied from another clone of the repository (a sweep
  kept in git, resumed elsewhere) names the same repository config under another checkout."""
  old = {"config": "/work/clone_a/configs/mnist_dcgan.py", "variant": None, "overrides": [],
         "points": [{"name": "seed=0", "point": {"seed": 0}}]}
  assert sw.sweep_differences(old, {**old, "config": "/work/clone_b/configs/mnist_dcgan.py"}) == []
  assert sw.sweep_differences(old, {**old, "config": "/work/clone_b/configs/mnist_cnn.py"}) == [
      "config: '/work/clone_a/configs/mnist_dcgan.py' -> '/work/clone_b/configs/mnist_cnn.py'"]
  assert sw.sweep_differences(old, {**old, "config": "/tmp/elsewhere/mnist_dcgan.py"})  # not a repository config
  assert sw.sweep_differences(old, {**old, "config": "/work/clone_b/configs/mnist_dcgan.py",
                                    "points": []}) == ["points removed: seed=0"]
