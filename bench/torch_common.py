"""What the PyTorch side of every bench shares: the CPU cores this process may use, and torch set up on them."""

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
