"""Prepares what a GPU machine without network needs to run bench/accelerator_check.sh: the data and the wheels.

The lent GPU machine copies the working tree plus named ignored folders (64 MiB in all) and has jax, flax, optax,
orbax and chex but not the rest of bigjax's pure-Python dependencies. This writes two ignored folders in the
repository:

  .gpu_data/   the data folders the checks read, in the checks' order, while they fit under --total-mib with the wheels (a folder
               that would not fit is left out, and its check is then recorded as skipped), with a SHA256SUMS of
               exactly their files (bigjax verifies every file it reads against it)
  .whl/        the wheels of ml-collections, grain, array-record, portpicker and tensorboardX for Python 3.11-3.13
               (pip download, --no-deps: the image has their own dependencies); bench/gpu_env.sh installs by name,
               so pip takes the one that suits the image's Python

and prints the command to run there:
  BIGJAX_DATA_DIR=.gpu_data WHEELS=.whl OUT=$OUT/accel bash bench/accelerator_check.sh

Usage: python bench/prepare_gpu_carry.py [--data-root=../shared/data] [--total-mib=60]
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import shutil
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent
WHEELS = ("ml-collections", "grain", "array-record", "portpicker", "tensorboardX")
PLATFORM = ("--only-binary=:all:", "--platform", "manylinux2014_x86_64")


def _checks() -> list[dict]:
  spec = importlib.util.spec_from_file_location("accelerator_check", REPO / "bench" / "accelerator_check.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.CHECKS


def _size(path: pathlib.Path) -> int:
  return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--data-root", default=str(REPO.parent / "shared" / "data"))
  parser.add_argument("--total-mib", type=float, default=60.0,
                      help="cap on .whl and .gpu_data together (the machine takes 64 MiB of carried paths)")
  parser.add_argument("--python-versions", default="3.11,3.12,3.13",
                      help="Pythons to fetch the binary wheels for (bench/gpu_env.sh installs the one that suits)")
  args = parser.parse_args(argv)
  root = pathlib.Path(args.data_root)
  sums = root / "SHA256SUMS"
  if not sums.exists():
    print(f"prepare_gpu_carry: error: {sums} not found (--data-root)", file=sys.stderr)
    return 2
  data, wheels = REPO / ".gpu_data", REPO / ".whl"
  for folder in (data, wheels):
    shutil.rmtree(folder, ignore_errors=True)
  wheels.mkdir()
  for version in args.python_versions.split(","):  # the image's Python is not known here: one wheel each
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheels),
                    "--python-version", version, *PLATFORM, *WHEELS], check=True)
  print(f".whl: {', '.join(sorted(p.name for p in wheels.glob('*.whl')))} "
        f"({_size(wheels) / 2**20:.1f} MiB)")
  data.mkdir()
  cap = args.total_mib * 2**20 - _size(wheels)
  used, kept, left_out = 0, [], []
  for check in _checks():
    name = (check["data"] or "").split("/")[0]
    if not name or name in kept or name in left_out:
      continue
    size = _size(root / name)
    if used + size > cap:
      left_out.append(name)
      continue
    shutil.copytree(root / name, data / name)
    used += size
    kept.append(name)
  lines = [line for line in sums.read_text().splitlines() if line.split("  ", 1)[-1].split("/")[0] in kept]
  (data / "SHA256SUMS").write_text("\n".join(lines) + "\n")
  print(f".gpu_data: {', '.join(kept)} ({used / 2**20:.1f} MiB, {len(lines)} files listed); left out: "
        f"{', '.join(left_out) or 'none'}")
  print("carry .gpu_data and .whl, then run there:\n"
        "  BIGJAX_DATA_DIR=.gpu_data WHEELS=.whl OUT=$OUT/accel bash bench/accelerator_check.sh")
  return 0


if __name__ == "__main__":
  sys.exit(main())
