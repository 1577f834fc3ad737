"""What the PyTorch side of every bench shares: the CPU cores this process may use, and torch set up on them."""

import json
import os
import sys


def cpu_cores() -> int:
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:  # not on Linux
    return os.cpu_count() or 1


def setup_torch(prog: str, threads: int | None, seed: int):
  """``(torch, threads)``: torch imported (or exit naming ``prog`` if it is not installed), its intra-op threads
  set to ``threads`` (default: every core this process may use), its generator seeded."""
  try:
    import torch  # pylint: disable=import-outside-toplevel
  except ImportError as e:
    sys.exit(f"{prog}: PyTorch not installed ({e}); pip install torch (CPU build)")
  threads = threads or cpu_cores()
  torch.set_num_threads(threads)
  torch.manual_seed(seed)
  return torch, threads


def write_results(results: dict, path: str | None, long_fields: tuple[str, ...]) -> None:
  """Prints ``results`` without its ``long_fields`` (per-step histories) and writes all of it to ``path``."""
  print(json.dumps({k: v for k, v in results.items() if k not in long_fields}, indent=2))
  if path:
    with open(path, "w") as f:
      json.dump(results, f, indent=2)
