"""bench/accelerator_check.sh: its --dry-run (every check's whole path, on the CPU at toy sizes) and the commands
its full run would give each check."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from bigjax import configs
from conftest import REPO, cli_env

SCRIPT = REPO / "bench" / "accelerator_check.sh"


def driver():
  spec = importlib.util.spec_from_file_location("accelerator_check", REPO / "bench" / "accelerator_check.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_dry_run_measures_every_check_and_refuses_to_overwrite(tmp_path):
  out = tmp_path / "out"
  # The GPU's 420 s budget is not the dry run's: on a CPU whose 2 cores the other test process shares, the toy
  # checks together took from 5 to past 7 minutes, and a check left out for lack of budget tests nothing.
  env = {**cli_env(), "OUT": str(out), "PYTHON": sys.executable, "BUDGET_S": "800"}
  proc = subprocess.run(["bash", str(SCRIPT), "--dry-run"], env=env, cwd=REPO, capture_output=True, text=True,
                        timeout=900)
  assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
  report = json.loads((out / "accelerator_check.json").read_text())
  assert report["dry_run"] is True and report["platform"] == "cpu"
  checks = {c["name"]: c for c in report["checks"]}
  assert list(checks) == [c["name"] for c in driver().CHECKS]
  for name, check in checks.items():
    if check["status"] == "skipped" and not os.environ.get("CI"):
      assert check["reason"].startswith("no data at"), check
      continue
    assert check["status"] == "ok", (name, check.get("reason"), check.get("log_tail"))
    assert check["steps"] > 0 and check["steps_per_s"] > 0 and check["examples_per_s"] > 0, name
    assert check["flops_per_step"] > 0 and check["tflops_per_s"] > 0, name
    assert check["mfu"] is None and check["device_peak_tflops"] is None  # a CPU has no known peak
    assert (out / "logs" / f"{name}.log").exists() and not (out / "runs" / name / "checkpoints").exists()
  assert checks["gpt2_small_bf16"]["model_dtype"] == "bfloat16"
  context = json.loads((out / "runs" / "char_gpt" / "config.json").read_text())["data"]["seq_len"]
  assert checks["char_gpt"]["tokens_per_s"] == pytest.approx(checks["char_gpt"]["examples_per_s"] * context)
  assert "lowest_validation_loss" in checks["char_gpt"] and "targets" not in checks["char_gpt"]
  before = (out / "accelerator_check.json").read_bytes()
  again = subprocess.run(["bash", str(SCRIPT), "--dry-run"], env=env, cwd=REPO, capture_output=True, text=True,
                         timeout=60)
  assert again.returncode == 2 and "exists; set OUT to a new folder" in again.stderr
  assert (out / "accelerator_check.json").read_bytes() == before


def test_full_run_commands_and_targets():
  module = driver()
  checks = {c["name"]: c for c in module.CHECKS}
  full = module.plan_command(checks["char_gpt"], REPO / "w", dry_run=False)
  assert full[3:] == ["--config=configs/shakespeare_char_gpt.py", f"--workdir={REPO / 'w'}"]  # as configured
  seed = module.plan_command(checks["seed_cnn"], REPO / "w", dry_run=False)
  steps = [a for a in seed if a.startswith("--config.train.num_steps=")]
  assert steps == ["--config.train.num_steps=600"] and "--config.data.test_split=" in seed  # no test split read
  for name, check in checks.items():  # whole calls, at least the steps asked for
    if check["steps"]:
      command = module.plan_command(check, REPO / "w", dry_run=False)
      per_call = configs.load(check["config"], lock=False).train.steps_per_call
      (steps,) = [int(a.split("=")[1]) for a in command if a.startswith("--config.train.num_steps=")]
      assert steps % per_call == 0 and check["steps"] <= steps < check["steps"] + per_call, name
  assert module._met(1.46, ("<=", 1.47)) is True and module._met(190.0, ("<", 180.0)) is False
  assert module._met(None, (">=", 0.5)) is None


def test_bad_arguments_exit_2():
  proc = subprocess.run(["bash", str(SCRIPT), "--fast"], cwd=REPO, capture_output=True, text=True, timeout=60)
  assert proc.returncode == 2 and "unknown argument --fast" in proc.stderr
  proc = subprocess.run([sys.executable, str(REPO / "bench" / "accelerator_check.py"), "--out=/tmp/x",
                         "--only=nope"], cwd=REPO, capture_output=True, text=True, timeout=60)
  assert proc.returncode == 2 and "unknown check 'nope'" in proc.stderr


def test_a_check_whose_allowance_exceeds_the_budget_left_is_skipped_and_says_why(tmp_path):
  # 30 s left: below seed_cnn's 45 s and neumf's 60 s allowances, so neither starts and the check still succeeds.
  env = {**cli_env(), "JAX_PLATFORMS": "cpu"}
  proc = subprocess.run([sys.executable, str(REPO / "bench" / "accelerator_check.py"), f"--out={tmp_path}",
                         "--dry-run", "--budget-s=30", "--only=seed_cnn,neumf"], env=env, cwd=REPO,
                        capture_output=True, text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr[-2000:]
  checks = json.loads((tmp_path / "accelerator_check.json").read_text())["checks"]
  allowances = {c["name"]: c["allowance"] for c in driver().CHECKS}
  assert [c["name"] for c in checks] == ["seed_cnn", "neumf"]
  for check in checks:
    assert check["status"] == "skipped", check
    if check["reason"].startswith("no data at") and not os.environ.get("CI"):
      continue  # skipped before the budget is looked at
    left = float(check["reason"].split(" s of the budget left")[0])
    assert 0 < left <= 30 and check["reason"].endswith(f"below its allowance of {allowances[check['name']]} s")
  assert not (tmp_path / "runs").exists()
