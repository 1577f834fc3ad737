"""Shared test helpers: where the real data lives, and running the CLI in a subprocess."""

import atexit
import fcntl
import json
import os
import pathlib
import pty
import struct
import shutil
import subprocess
import sys
import tempfile
import termios

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent

# XLA's compiles are most of a smoke run's time, and many tests compile the same programs (a smoke config run by
# several tests, a run killed and resumed, the float32 half of each bf16 comparison): jax's persistent compilation
# cache, shared by the test processes and the CLI subprocesses they start (they inherit the environment), compiles
# each once. Only programs that took a second or more to compile are kept: writing every small eager op's program
# slowed the in-process tests more than it saved. It lives in the session's temporary folder (below), removed at
# the end, so it needs no bound and no entry outlives the code it was compiled from; an explicit
# $JAX_COMPILATION_CACHE_DIR is kept (an empty one turns the cache off). Set before jax is imported.
SESSION_TMPDIR = os.environ.get("BIGJAX_TEST_TMPDIR") or tempfile.mkdtemp(prefix="bigjax_tests_")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(SESSION_TMPDIR, "jax_compilation_cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "1")
# XLA:CPU's backend optimisation level for the test processes and their CLI runs (``cli_env``, which says why).
XLA_TEST_OPT = "--xla_backend_optimization_level=1"
if "--xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {XLA_TEST_OPT}".strip()

from bigjax import configs, data  # noqa: E402  (after the cache's settings: bigjax imports jax)

# Every temporary file of the suite, of the libraries it drives (TFDS makes folders it never removes) and of the CLI
# subprocesses (which inherit $TMPDIR) goes under one folder, removed when the test session ends.
if "BIGJAX_TEST_TMPDIR" not in os.environ:
  os.environ["BIGJAX_TEST_TMPDIR"] = os.environ["TMPDIR"] = SESSION_TMPDIR
  tempfile.tempdir = None  # re-read $TMPDIR
  atexit.register(shutil.rmtree, os.environ["BIGJAX_TEST_TMPDIR"], ignore_errors=True)

# Derived-data caches (the NCF join) go to a folder of this test process, not the user's ~/.cache/bigjax; the CLI
# subprocesses inherit it. An explicit $BIGJAX_CACHE_DIR is kept.
if "BIGJAX_CACHE_DIR" not in os.environ:
  os.environ["BIGJAX_CACHE_DIR"] = tempfile.mkdtemp(prefix="bigjax_test_cache_")
  atexit.register(shutil.rmtree, os.environ["BIGJAX_CACHE_DIR"], ignore_errors=True)


# Under CI (``CI=true``, set by .ci/run) absent data is a failure that names the folder, never a silent skip: a
# green CI means the tests that read real data ran. Elsewhere (a laptop without ../shared) they skip, saying why.
IN_CI = os.environ.get("CI", "").lower() == "true"
REQUIRED_DATA: list[str] = []  # every file a test needs, relative to the data root


def pytest_sessionstart(session):
  missing = [relpath for relpath in REQUIRED_DATA if not (data.default_data_dir() / relpath).exists()]
  if IN_CI and missing:
    root = data.default_data_dir()
    what = f"the data folder {root} is missing" if not root.is_dir() else (
        f"{len(missing)} data files are missing under {root}, e.g. {missing[0]}")
    pytest.exit(f"CI=true: {what}; set $BIGJAX_DATA_DIR to the data root (../shared/data)", returncode=3)


def requires_data(relpath: str) -> pytest.MarkDecorator:
  """Skips a test whose real data file (under the data root) is absent, naming where it was looked for; under
  CI the session stops instead (``pytest_sessionstart``), or the test fails on the missing file."""
  REQUIRED_DATA.append(relpath)
  path = data.default_data_dir() / relpath
  return pytest.mark.skipif(not IN_CI and not path.exists(),  # under CI the test runs, and fails naming the file
                            reason=f"{path} not found (set $BIGJAX_DATA_DIR to the data root)")


requires_shakespeare = requires_data("tinyshakespeare/input.txt")
requires_sentences = requires_data("sent_classification/stsa.binary.train")
requires_mr = requires_data("mr/rt-polarity.pos")
requires_ml100k = requires_data("ml-100k/u.data")
requires_ml1m = requires_data("ml-1m/afcfm/ml-1m.zip")
requires_mnist = requires_data("mnist/train-images-idx3-ubyte.gz")


load_module = configs.load_module  # a script or an experiment's helper by path, as tests import it


def load_config(name: str, variant: str | None = None):
  """``configs/<name>.py``'s ``get_config(variant)`` as the file returns it (not locked)."""
  path = REPO / "configs" / f"{name}.py"
  return configs.load(str(path) if variant is None else f"{path}:{variant}", lock=False)


@pytest.fixture(scope="module")
def fast_compiles():
  """Unoptimised XLA compiles 2-3x faster; for modules that check numbers or that things run, not speed
  (``pytestmark = pytest.mark.usefixtures("fast_compiles")``)."""
  import jax
  before = jax.config.values["jax_disable_most_optimizations"]
  jax.config.update("jax_disable_most_optimizations", True)
  yield
  jax.config.update("jax_disable_most_optimizations", before)


def cli_env(num_devices: int = 1) -> dict[str, str]:
  env = dict(os.environ)
  # XLA:CPU's backend optimisation level 1, not 3: the CLI runs of the tests check what a run computes and records,
  # not its speed (bench/ measures that, with the default). A UNet smoke run took 11.8 s instead of 19.0 s, to the
  # same metrics; level 0 (JAX_DISABLE_MOST_OPTIMIZATIONS) made the GroupNorm nets' losses non-finite at their
  # first steps (UNet, face), so it is not used.
  env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={num_devices} {XLA_TEST_OPT}"
  env["JAX_PLATFORMS"] = "cpu"
  env.pop("PYTEST_CURRENT_TEST", None)
  return env


def cli_command(config: str, workdir: pathlib.Path, *overrides: str) -> list[str]:
  return [sys.executable, "-m", "bigjax.main", f"--config={REPO / 'configs' / config}", f"--workdir={workdir}",
          *overrides]


def run_cli(config: str, workdir: pathlib.Path, *overrides: str, num_devices: int = 1,
            timeout: float = 300) -> subprocess.CompletedProcess:
  return subprocess.run(cli_command(config, workdir, *overrides), env=cli_env(num_devices), cwd=REPO,
                        capture_output=True, text=True, timeout=timeout)


def read_metrics(workdir: pathlib.Path) -> list[dict]:
  path = workdir / "metrics.jsonl"
  return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def train_losses(workdir: pathlib.Path) -> dict[int, float]:
  """step -> train/loss, as logged in metrics.jsonl (the last entry per step wins, as after a resume)."""
  return {m["step"]: m["train/loss"] for m in read_metrics(workdir) if "train/loss" in m}


def run_on_a_terminal(args: list[str], timeout: float = 120, **popen_kwargs) -> tuple[int, str]:
  """Runs ``args`` with stderr on a pseudo-terminal 120 columns wide (stdin and stdout closed off); its exit
  status and everything it drew there (a progress bar needs a width: a bare pty reports 0 columns)."""
  terminal, child_side = pty.openpty()
  fcntl.ioctl(child_side, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # rows, columns
  proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=child_side,
                          **popen_kwargs)
  os.close(child_side)
  shown = b""
  while True:
    try:
      chunk = os.read(terminal, 65536)
    except OSError:  # EIO: the child closed its side
      break
    if not chunk:
      break
    shown += chunk
  os.close(terminal)
  return proc.wait(timeout=timeout), shown.decode(errors="replace")


def exported_params(workdir: pathlib.Path, devices: int = 1) -> dict:
  """A finished run's final parameters as ``bigjax export`` writes them (``variables/...`` arrays), read back on
  ``devices`` CPU devices (the run's mesh must fit them)."""
  import numpy as np
  out = workdir.parent / f"{workdir.name}.npz"
  proc = subprocess.run([sys.executable, "-m", "bigjax.main", "export", f"--workdir={workdir}", f"--out={out}"],
                        env=cli_env(devices), cwd=REPO, capture_output=True, text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr[-2000:]
  with np.load(out) as arrays:
    return {k: arrays[k] for k in arrays.files if k.startswith("variables/")}
