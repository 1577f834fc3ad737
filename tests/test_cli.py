"""The command line as a user meets it: every user error is status 2 and one line that names the thing, with
nothing written; ``bigjax configs`` and ``--print_config`` show what exists; the command works from any folder.

Every test runs the real command in a subprocess (``python -m bigjax.main``, or the installed ``bigjax``).
"""

import hashlib
import pathlib
import shutil
import subprocess
import sys

import pytest

from bigjax import configs
from conftest import REPO, cli_env, requires_shakespeare

BIGJAX = pathlib.Path(sys.executable).parent / "bigjax"  # the console script pip installs beside python


def bigjax(*args: str, cwd: pathlib.Path = REPO, env: dict | None = None, timeout: float = 300,
           script: bool = False) -> subprocess.CompletedProcess:
  command = [str(BIGJAX)] if script else [sys.executable, "-m", "bigjax.main"]
  return subprocess.run([*command, *args], cwd=cwd, env=env or cli_env(), capture_output=True, text=True,
                        timeout=timeout)


def error_line(proc: subprocess.CompletedProcess) -> str:
  """The one ``bigjax: error:`` line of a failed command (absl's INFO lines about backends may precede it)."""
  assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
  errors = [line for line in proc.stderr.splitlines() if line.startswith("bigjax: error: ")]
  assert len(errors) == 1, proc.stderr[-3000:]
  assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
  assert proc.stderr.rstrip().endswith(errors[0])  # the last thing printed
  return errors[0].removeprefix("bigjax: error: ")


# ====================================================================================== user errors: status 2

@pytest.mark.parametrize("args, expected", [
    (["--config.optim.lrr=1e-3"], "config.optim.lrr is not a field of this config; did you mean config.optim.lr?"),
    (["--config.optim.lr=abc"], "flag --config.optim.lr=abc: could not convert string to float: 'abc'"),
    (["--config.train.num_steps=1.5"], "--config.train.num_steps=1.5"),
    (["--bogus=1"], "Unknown command line flag 'bogus'"),
    (["--split=test"], "--split is not a flag of 'bigjax train'"),
    (["--preempted_exit_code=1"], "--preempted_exit_code=1 must be 0 or 3-255"),
    (["--preempted_exit_code=256"], "--preempted_exit_code=256 must be 0 or 3-255"),
])
def test_a_bad_flag_or_field_is_one_line(args, expected, tmp_path):
  workdir = tmp_path / "run"
  line = error_line(bigjax("--config=configs/digits_mlp.py:smoke", f"--workdir={workdir}", *args))
  assert expected in line
  assert not workdir.exists()


def test_a_missing_config_file_names_where_it_looked(tmp_path):
  line = error_line(bigjax("--config=configs/digits_mpl.py", f"--workdir={tmp_path / 'run'}"))
  assert line.startswith("config file configs/digits_mpl.py not found (looked in ")
  assert str(REPO) in line and "--config_dir" in line
  assert not (tmp_path / "run").exists()


def test_an_unknown_variant_lists_the_known_ones(tmp_path):
  line = error_line(bigjax("--config=configs/digits_mlp.py:smok", f"--workdir={tmp_path / 'run'}"))
  assert "'smok'" in line and "smoke" in line and "digits_mlp" in line
  assert not (tmp_path / "run").exists()


def test_the_command_needs_a_config_and_a_workdir(tmp_path):
  assert error_line(bigjax(f"--workdir={tmp_path}")) == (
      "--config=FILE[:variant] is required (bigjax configs lists them)")
  assert error_line(bigjax("--config=configs/digits_mlp.py")) == "--workdir=DIR is required by 'bigjax train'"
  assert error_line(bigjax("--config.seed=1", f"--workdir={tmp_path}")).startswith(
      "--config.seed overrides a field, but no --config=FILE[:variant]")
  assert error_line(bigjax("eval", "--config=configs/digits_mlp.py", f"--workdir={tmp_path}")) == (
      "--config is not a flag of 'bigjax eval'")
  assert "unexpected arguments ['trian']" in error_line(bigjax("trian", "--config=configs/digits_mlp.py"))


def test_a_workdir_that_is_a_file_is_refused_and_left_alone(tmp_path):
  workdir = tmp_path / "notes.txt"
  workdir.write_text("my notes\n")
  line = error_line(bigjax("--config=configs/digits_mlp.py:smoke", f"--workdir={workdir}"))
  assert line.startswith(f"--workdir={workdir} is a file, not a directory")
  assert workdir.read_text() == "my notes\n"


def test_a_mesh_the_devices_cannot_hold_is_refused(tmp_path):
  line = error_line(bigjax("--config=configs/digits_mlp.py:smoke", f"--workdir={tmp_path / 'run'}",
                           "--config.mesh.data=3"))
  assert line == "config.mesh {'data': 3, 'fsdp': 1, 'tensor': 1} needs 3 devices, but 1 are available"
  assert not (tmp_path / "run").exists()


def test_missing_data_names_the_file_and_the_data_root(tmp_path):
  env = {**cli_env(), "BIGJAX_DATA_DIR": str(tmp_path / "data")}
  line = error_line(bigjax("--config=configs/shakespeare_char_lstm.py:smoke", f"--workdir={tmp_path / 'run'}",
                           env=env))
  assert line.startswith(f"{tmp_path / 'data' / 'tinyshakespeare' / 'input.txt'} not found")
  assert "$BIGJAX_DATA_DIR" in line
  assert not (tmp_path / "run").exists()


@requires_shakespeare
def test_corrupt_data_is_refused_with_both_digests(tmp_path):
  from bigjax import data
  root = tmp_path / "data"
  (root / "tinyshakespeare").mkdir(parents=True)
  copy = root / "tinyshakespeare" / "input.txt"
  shutil.copyfile(data.default_data_dir() / "tinyshakespeare" / "input.txt", copy)
  good = hashlib.sha256(copy.read_bytes()).hexdigest()
  (root / "SHA256SUMS").write_text(f"{good}  tinyshakespeare/input.txt\n")
  blob = bytearray(copy.read_bytes())
  blob[1000] ^= 0x01
  copy.write_bytes(bytes(blob))
  line = error_line(bigjax("--config=configs/shakespeare_char_lstm.py:smoke", f"--workdir={tmp_path / 'run'}",
                           env={**cli_env(), "BIGJAX_DATA_DIR": str(root)}))
  assert line.startswith(f"{copy}: sha256 mismatch (expected {good}")
  assert hashlib.sha256(bytes(blob)).hexdigest() in line
  assert not (tmp_path / "run").exists()


# ====================================================================================== what exists

def test_configs_lists_every_config_with_its_summary_and_variants():
  proc = bigjax("configs")
  assert proc.returncode == 0, proc.stderr[-2000:]
  listed = [line for line in proc.stdout.splitlines() if line.startswith("configs/")]
  files = sorted(p for p in (REPO / "configs").glob("*.py") if not p.name.startswith("common_"))
  assert listed == [str(p.relative_to(REPO)) for p in files]
  block = proc.stdout.split("configs/digits_mlp.py\n", 1)[1].split("\nconfigs/", 1)[0]
  assert block.splitlines()[0].strip().startswith("MLP on scikit-learn's 8x8 digits")
  variants = configs.load_module(REPO / "configs/digits_mlp.py").VARIANTS
  for name, description in variants.items():
    assert f":{name:<20} {description}" in block


def test_print_config_shows_the_resolved_config_and_runs_nothing(tmp_path):
  proc = bigjax("--config=configs/digits_mlp.py:smoke", "--config.optim.lr=0.125", "--print_config",
                cwd=tmp_path)
  assert proc.returncode == 0, proc.stderr[-2000:]
  expected = configs.load("configs/digits_mlp.py:smoke")
  with expected.unlocked():
    expected.optim.lr = 0.125
  assert proc.stdout.strip() == str(expected).strip()
  assert list(tmp_path.iterdir()) == []


def test_the_installed_command_works_from_any_folder(tmp_path):
  assert BIGJAX.exists(), f"{BIGJAX}: install bigjax (pip install -e .) to get the console script"
  proc = bigjax("--config=configs/digits_mlp.py:smoke", f"--workdir={tmp_path / 'run'}", cwd=tmp_path,
                script=True)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert (tmp_path / "run" / "results.json").exists()


def test_config_dir_finds_a_users_own_configs(tmp_path):
  folder = tmp_path / "my_configs"
  folder.mkdir()
  (folder / "tiny.py").write_text(
      '"""A user\'s own config: the digits MLP, smaller."""\n'
      "from bigjax import configs\n\n"
      'VARIANTS = {"wide": "256 hidden units"}\n\n\n'
      "def get_config(arg=None):\n"
      '  c = configs.load("configs/digits_mlp.py:smoke", lock=False)\n'
      '  c.model.hidden = (256,) if arg == "wide" else (8,)\n'
      "  return c\n")
  elsewhere = tmp_path / "elsewhere"
  elsewhere.mkdir()
  proc = bigjax("--config=tiny.py:wide", f"--config_dir={folder}", "--print_config", cwd=elsewhere)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "hidden: !!python/tuple\n  - 256\n" in proc.stdout
  listing = bigjax("configs", f"--config_dir={folder}", cwd=elsewhere)
  assert listing.returncode == 0, listing.stderr[-2000:]
  assert f"{folder / 'tiny.py'}\n    A user's own config: the digits MLP, smaller\n" in listing.stdout
  assert ":wide" in listing.stdout
  assert error_line(bigjax("--config=tiny.py:narrow", f"--config_dir={folder}", "--print_config",
                           cwd=elsewhere)) == "tiny.py has no variant 'narrow'; its variants: wide"


def test_help_names_the_commands_and_flags():
  proc = bigjax("--help")
  assert proc.returncode == 0
  for text in ("bigjax eval --workdir=DIR", "bigjax export --workdir=DIR", "bigjax configs", "--print_config",
               "--config_dir", "Exit status"):
    assert text in proc.stdout


# ====================================================================================== eval and export

def test_eval_and_export_a_trained_run_through_the_command(tmp_path):
  """``bigjax eval`` repeats the run's last evaluation into eval_test.json; ``bigjax export`` writes export.npz,
  which ``bigjax.export.load`` runs in a fresh process; a workdir without a run is one line, status 2."""
  import json
  workdir = tmp_path / "run"
  trained = bigjax("--config=configs/digits_mlp.py:smoke", f"--workdir={workdir}")
  assert trained.returncode == 0, trained.stderr[-3000:]
  final = json.loads((workdir / "results.json").read_text())["final_metrics"]

  evaluated = bigjax("eval", f"--workdir={workdir}", cwd=tmp_path)
  assert evaluated.returncode == 0, evaluated.stderr[-3000:]
  record = json.loads((workdir / "eval_test.json").read_text())
  assert record["split"] == "test" and record["metrics"] == {k: v for k, v in final.items() if k.startswith("test/")}
  assert record["command"] == f"python -m bigjax.main eval --workdir={workdir}"
  steps = json.loads((workdir / "results.json").read_text())["steps"]
  again = bigjax("eval", f"--workdir={workdir}", f"--step={steps}", cwd=tmp_path)  # the newest, named
  assert again.returncode == 0, again.stderr[-3000:]
  assert json.loads((workdir / "eval_test.json").read_text())["metrics"] == record["metrics"]
  assert error_line(bigjax("eval", f"--workdir={workdir}", f"--step={steps + 1}")).startswith(
      f"{workdir / 'checkpoints'} holds no checkpoint at step {steps + 1}, only at [")

  exported = bigjax("export", f"--workdir={workdir}", f"--out={tmp_path / 'model.npz'}", cwd=tmp_path)
  assert exported.returncode == 0, exported.stderr[-3000:]
  code = ("import numpy as np; from bigjax import export; "
          f"served = export.load({str(tmp_path / 'model.npz')!r}); "
          "out = np.asarray(served(image=np.zeros((5, 8, 8, 1), np.float32))); print(out.shape)")
  shape = subprocess.run([sys.executable, "-c", code], env=cli_env(), capture_output=True, text=True, timeout=300)
  assert shape.returncode == 0, shape.stderr[-3000:]
  assert shape.stdout.strip() == "(5, 10)"

  assert error_line(bigjax("eval", f"--workdir={tmp_path / 'nothing'}")) == (
      f"--workdir={tmp_path / 'nothing'}: no such directory")
  assert error_line(bigjax("eval", f"--workdir={workdir}", "--split=valid")).startswith("--split=valid")
  assert error_line(bigjax("export", f"--workdir={workdir}", "--split=test")) == (
      "--split is not a flag of 'bigjax export'")


def test_ci_without_the_data_folder_fails_naming_it(tmp_path):
  """Under CI=true the suite stops before any test when the data folder is missing (no silent skips)."""
  env = {**cli_env(), "CI": "true", "BIGJAX_DATA_DIR": str(tmp_path / "shared" / "data")}
  proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                         "tests/test_layering.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
  assert f"CI=true: the data folder {tmp_path / 'shared' / 'data'} is missing" in proc.stdout + proc.stderr
  env["CI"] = "false"  # outside CI the same tests run (those needing data would skip)
  proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                         "tests/test_layering.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stdout[-2000:]
