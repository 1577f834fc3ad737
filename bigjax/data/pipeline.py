"""The grain input pipeline: random-access source -> shuffle by seed & epoch -> batch -> shard by process -> prefetch.

Training reads a flat stream of global batches: step ``s`` is batch ``s % steps_per_epoch`` of epoch
``s // steps_per_epoch``, whose examples are ``perm(seed, epoch)[i*B : (i+1)*B]`` (the remainder of an
epoch is dropped). Each process reads only its own contiguous ``B / process_count`` slice of that batch.
One jitted call consumes ``steps_per_call`` consecutive batches stacked as ``[K, B/P, ...]``, so the data
order (and thus the update sequence) is independent of K. An array that changes with the epoch (negatives
redrawn every epoch) offers ``epoch_view(seed, epoch)``; each step reads the view of its own epoch. The source is random-access by call index,
which makes the iterator state a single integer that grain checkpoints and restores exactly.
"""

import dataclasses
from typing import Iterator

import grain
import numpy as np


def epoch_permutation(seed: int, epoch: int, n: int) -> np.ndarray:
  """The order of the ``n`` training examples in ``epoch``; a pure function of (seed, epoch)."""
  return np.random.default_rng([seed, epoch]).permutation(n)


@dataclasses.dataclass(frozen=True)
class TrainLayout:
  """How the training stream is cut; every process computes the same layout."""
  num_examples: int
  global_batch: int
  steps_per_call: int
  process_index: int = 0
  process_count: int = 1

  def __post_init__(self):
    if self.global_batch % self.process_count:
      raise ValueError(f"config.data.batch_size={self.global_batch} is not divisible by the "
                       f"{self.process_count} processes")
    if self.steps_per_epoch == 0:
      raise ValueError(f"config.data.batch_size={self.global_batch} is larger than the "
                       f"{self.num_examples} training examples")

  @property
  def steps_per_epoch(self) -> int:
    return self.num_examples // self.global_batch

  @property
  def local_batch(self) -> int:
    return self.global_batch // self.process_count


class _TrainSource:
  """grain random-access source: call index -> this process's ``[K, B/P, ...]`` slice of K batches."""

  def __init__(self, arrays: dict[str, np.ndarray], layout: TrainLayout, seed: int, num_calls: int, shuffle: bool):
    self._arrays = arrays
    self._layout = layout
    self._seed = seed
    self._num_calls = num_calls
    self._shuffle = shuffle
    self._perms: dict[int, np.ndarray] = {}

  def __len__(self) -> int:
    return self._num_calls

  def _perm(self, epoch: int) -> np.ndarray:
    if epoch not in self._perms:
      if len(self._perms) >= 2:  # epochs are read in order; a call may straddle two of them
        self._perms.pop(min(self._perms))
      n = self._layout.num_examples
      self._perms[epoch] = epoch_permutation(self._seed, epoch, n) if self._shuffle else np.arange(n)
    return self._perms[epoch]

  def rows(self, step: int) -> np.ndarray:
    """Indices of this process's examples for global training step ``step``."""
    lay = self._layout
    epoch, i = divmod(step, lay.steps_per_epoch)
    start = i * lay.global_batch + lay.process_index * lay.local_batch
    return self._perm(epoch)[start:start + lay.local_batch]

  def _epoch_arrays(self, epoch: int) -> dict[str, np.ndarray]:
    """The arrays as epoch ``epoch`` reads them: an array with ``epoch_view(seed, epoch)`` (e.g. negatives
    redrawn every epoch) gives that view, every other array is itself."""
    return {name: a.epoch_view(self._seed, epoch) if hasattr(a, "epoch_view") else a
            for name, a in self._arrays.items()}

  def __getitem__(self, call: int) -> dict[str, np.ndarray]:
    if not 0 <= call < self._num_calls:
      raise IndexError(call)
    lay = self._layout
    k = lay.steps_per_call
    steps = range(call * k, call * k + k)
    epochs = {s // lay.steps_per_epoch for s in steps}
    if len(epochs) == 1 or not any(hasattr(a, "epoch_view") for a in self._arrays.values()):
      arrays = self._epoch_arrays(min(epochs))
      rows = np.concatenate([self.rows(s) for s in steps])
      return {name: a[rows].reshape((k, lay.local_batch) + a.shape[1:]) for name, a in arrays.items()}
    # The call straddles an epoch boundary: each step reads the arrays of its own epoch.
    parts = [{name: a[self.rows(s)] for name, a in self._epoch_arrays(s // lay.steps_per_epoch).items()}
             for s in steps]
    return {name: np.stack([p[name] for p in parts]) for name in self._arrays}


def resolve_prefetch(requested: int, backend: str) -> int:
  """``requested`` if >= 0; -1 means: none on CPU, 2 on accelerators.

  On CPU the host thread that would prefetch competes for the cores the step itself computes on;
  asynchronous dispatch already overlaps batch assembly with the running step (measured on 2 cores:
  pipeline efficiency 0.98 without the thread, 0.90-0.94 with it; ``bench/input_pipeline.py``).
  """
  if requested >= 0:
    return requested
  return 0 if backend == "cpu" else 2


def train_iterator(arrays: dict[str, np.ndarray], layout: TrainLayout, *, seed: int, num_calls: int,
                   shuffle: bool = True, prefetch: int = 2) -> grain.DatasetIterator:
  """Iterator over ``num_calls`` host batches ``{name: [K, B/P, ...]}``; ``get_state()/set_state()`` resume it."""
  source = _TrainSource(arrays, layout, seed, num_calls, shuffle)
  ds = grain.MapDataset.source(source).to_iter_dataset(grain.ReadOptions(num_threads=0, prefetch_buffer_size=0))
  if prefetch:
    # One background thread assembles the next batches while the device runs the current step.
    ds = grain.experimental.ThreadPrefetchIterDataset(ds, prefetch_buffer_size=prefetch)
  return iter(ds)


def train_rows(layout: TrainLayout, seed: int, step: int, shuffle: bool = True) -> np.ndarray:
  """The example indices this process reads at ``step`` (for tests and audits of the data order)."""
  return _TrainSource({}, layout, seed, 0, shuffle).rows(step)


def eval_batches(arrays: dict[str, np.ndarray], global_batch: int, process_index: int = 0,
                 process_count: int = 1) -> Iterator[dict[str, np.ndarray]]:
  """Every example exactly once, in order, padded to whole batches; ``mask`` is 1 for real examples."""
  if global_batch % process_count:
    raise ValueError(f"config.data.eval_batch_size={global_batch} is not divisible by the {process_count} processes")
  n = len(next(iter(arrays.values())))
  local = global_batch // process_count
  for start in range(0, n, global_batch):
    lo = min(start + process_index * local, n)
    hi = min(lo + local, n)
    batch = {}
    for name, a in arrays.items():
      part = a[lo:hi]
      pad = np.zeros((local - len(part),) + a.shape[1:], a.dtype)
      batch[name] = np.concatenate([part, pad])
    batch["mask"] = (np.arange(local) < hi - lo).astype(np.float32)
    yield batch
