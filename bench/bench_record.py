"""The ``--json OUT`` record of the in-process benches (conv_impls, dense_backward, dcgan_step, input_pipeline).

Each of them times a few variants of one compiled step, interleaved round by round (``bench/interleave.py``),
and keeps every timing as a row ``{"framework": variant, "round": r, "status": "ok", KEY: value}``. The record
holds the machine, the git revision (``-dirty`` for uncommitted changes), the date, the command, the jax version
and device, the bench's settings, every row, and per variant the median and min-max of KEY and of its ratio to
the baseline variant within each round: what ``bench/README.in.md`` quotes with ``{{value ...}}``.
"""

import datetime
import json
import os
import sys

import jax

import interleave  # bench/ is on sys.path: these benches run as `python bench/X.py`
from seed_cnn import REPO_ROOT, git_revision, machine_info

# The bigjax these benches time is the checkout they sit in (whose revision the record names), not whichever
# one the environment installed: the benches import bench_record before bigjax.
sys.path.insert(0, REPO_ROOT)


def summary(rows: list[dict], key: str, baseline: str) -> dict:
  """``{KEY: {variant: spread}, "vs_" + baseline: {variant: spread of KEY / baseline's KEY in the same round}}``."""
  return {key: interleave.summarise(rows, key), f"vs_{baseline}": interleave.ratios_per_round(rows, key, baseline)}


def write(path: str, settings: dict, rows: list[dict], key: str, baseline: str) -> None:
  record = {"machine": machine_info(), "git_revision": git_revision(),
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": ["python", *sys.argv], "jax_version": jax.__version__,
            "device_kind": jax.devices()[0].device_kind, "settings": settings, "runs": rows,
            "summary": summary(rows, key, baseline)}
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  with open(path, "w") as f:
    json.dump(record, f, indent=2)
  print(f"wrote {path}")
