"""The layering of DESIGN.md (pyproject.toml's [tool.importlinter]) holds, and the check catches a reach-around."""

import shutil
import subprocess
import sys

from conftest import REPO

LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
        "sys.exit(lint_imports_command())", "--no-cache"]


def lint(root):
  return subprocess.run(LINT, cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
                        capture_output=True, text=True, timeout=300)


def test_imports_point_down():
  proc = lint(REPO)
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
  assert "1 kept, 0 broken" in proc.stdout


def test_a_task_importing_the_loop_breaks_the_contract(tmp_path):
  shutil.copytree(REPO / "bigjax", tmp_path / "bigjax", ignore=shutil.ignore_patterns("__pycache__"))
  shutil.copy(REPO / "pyproject.toml", tmp_path)
  task = tmp_path / "bigjax" / "tasks" / "classification.py"
  task.write_text(task.read_text() + "\n\ndef reach_around():\n  from bigjax import train\n  return train\n")
  proc = lint(tmp_path)
  assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
  assert "bigjax.tasks is not allowed to import bigjax.train" in proc.stdout
  assert "bigjax.tasks.classification -> bigjax.train" in proc.stdout
