"""Tests for bigjax.data.pipeline on small synthetic arrays whose ``index`` field names each example.

The data order is a pure function of (seed, epoch), process slices tile the global batch, K steps per
call do not change the order, an iterator restored from its state continues exactly, and evaluation
visits every example once.
"""

import contextlib

import numpy as np
import pytest

from bigjax.data import pipeline as pl

N, B = 27, 5  # 5 steps per epoch, 2 examples dropped from each epoch


def synthetic(n=N):
  return {"index": np.arange(n), "image": np.arange(n * 6, dtype=np.float32).reshape(n, 2, 3)}


@contextlib.contextmanager
def opened(*args, **kwargs):
  it = pl.train_iterator(*args, **kwargs)
  try:
    yield it
  finally:
    it.close()


def take(it, calls):
  return [next(it) for _ in range(calls)]


def flat_steps(batches):
  """``[{name: [K, b, ...]}]`` -> the list of per-step index arrays ``[b]``, in order."""
  return [step for batch in batches for step in batch["index"]]


# ------------------------------------------------------------------------------------ data order ---

def test_layout_properties():
  lay = pl.TrainLayout(N, 8, 1, process_index=1, process_count=4)
  assert (lay.steps_per_epoch, lay.local_batch) == (N // 8, 2)


def test_rows_follow_epoch_permutation():
  lay = pl.TrainLayout(N, B, 1)
  for step in range(3 * lay.steps_per_epoch):
    epoch, i = divmod(step, lay.steps_per_epoch)
    np.testing.assert_array_equal(pl.train_rows(lay, 7, step), pl.epoch_permutation(7, epoch, N)[i * B:(i + 1) * B])
  np.testing.assert_array_equal(pl.train_rows(lay, 7, 6, shuffle=False), np.arange(B, 2 * B))


def test_epoch_permutation_pure_function_of_seed_and_epoch():
  a = pl.epoch_permutation(3, 0, N)
  np.testing.assert_array_equal(a, pl.epoch_permutation(3, 0, N))
  np.testing.assert_array_equal(np.sort(a), np.arange(N))
  assert not np.array_equal(a, pl.epoch_permutation(4, 0, N))
  assert not np.array_equal(a, pl.epoch_permutation(3, 1, N))
  assert not np.array_equal(pl.epoch_permutation(3, 1, N), pl.epoch_permutation(3, 2, N))


def test_iterator_same_seed_same_batches_different_seed_different():
  arrays, lay = synthetic(), pl.TrainLayout(N, B, 1)
  with opened(arrays, lay, seed=1, num_calls=8, prefetch=0) as a, \
       opened(arrays, lay, seed=1, num_calls=8, prefetch=2) as b, \
       opened(arrays, lay, seed=2, num_calls=8, prefetch=0) as c:
    first, second, other = take(a, 8), take(b, 8), take(c, 8)
  for x, y in zip(first, second):
    for name in x:
      np.testing.assert_array_equal(x[name], y[name])
  assert not all(np.array_equal(x, y) for x, y in zip(flat_steps(first), flat_steps(other)))
  # The batches hold exactly the documented rows, and every field follows the same rows.
  for step, batch in enumerate(first):
    rows = pl.train_rows(lay, 1, step)
    np.testing.assert_array_equal(batch["index"], rows[None])
    np.testing.assert_array_equal(batch["image"], synthetic()["image"][rows][None])
    assert batch["image"].shape == (1, B, 2, 3)


def test_epochs_no_repeats_remainder_dropped():
  arrays, lay = synthetic(), pl.TrainLayout(N, B, 1)
  spe = lay.steps_per_epoch
  with opened(arrays, lay, seed=5, num_calls=3 * spe, prefetch=0) as it:
    steps = flat_steps(take(it, 3 * spe))
  epochs = [np.concatenate(steps[e * spe:(e + 1) * spe]) for e in range(3)]
  for e, seen in enumerate(epochs):
    assert len(seen) == spe * B == N - N % B
    assert len(np.unique(seen)) == len(seen), f"repeat within epoch {e}"
    np.testing.assert_array_equal(np.sort(np.concatenate([seen, pl.epoch_permutation(5, e, N)[spe * B:]])),
                                  np.arange(N))
  assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])


def test_iterator_stops_after_num_calls():
  with opened(synthetic(), pl.TrainLayout(N, B, 2), seed=0, num_calls=3, prefetch=2) as it:
    assert len(list(it)) == 3


# ------------------------------------------------------------------------------------- processes ---

@pytest.mark.parametrize("process_count", [2, 4])
def test_process_slices_tile_global_batch_in_order(process_count):
  arrays, gb = synthetic(), 8
  single = pl.TrainLayout(N, gb, 2)
  calls = 4  # 8 steps, over 3 epochs of 3 steps
  with opened(arrays, single, seed=9, num_calls=calls, prefetch=0) as it:
    global_batches = take(it, calls)
  per_process = []
  for p in range(process_count):
    lay = pl.TrainLayout(N, gb, 2, process_index=p, process_count=process_count)
    assert lay.local_batch == gb // process_count
    for step in range(2 * calls):
      np.testing.assert_array_equal(
          pl.train_rows(lay, 9, step), pl.train_rows(single, 9, step)[p * lay.local_batch:(p + 1) * lay.local_batch])
    with opened(arrays, lay, seed=9, num_calls=calls, prefetch=0) as it:
      per_process.append(take(it, calls))
  for c in range(calls):
    for name in arrays:
      joined = np.concatenate([per_process[p][c][name] for p in range(process_count)], axis=1)
      np.testing.assert_array_equal(joined, global_batches[c][name])


# ------------------------------------------------------------------------------- steps per call ---

def test_steps_per_call_does_not_change_order():
  arrays = synthetic()
  with opened(arrays, pl.TrainLayout(N, B, 1), seed=4, num_calls=12, prefetch=0) as one, \
       opened(arrays, pl.TrainLayout(N, B, 4), seed=4, num_calls=3, prefetch=2) as four:
    k1, k4 = take(one, 12), take(four, 3)
  assert k4[0]["index"].shape == (4, B) and k4[0]["image"].shape == (4, B, 2, 3)
  # 12 steps over 5 steps per epoch: calls straddle epoch boundaries.
  for a, b in zip(flat_steps(k1), flat_steps(k4), strict=True):
    np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(np.concatenate([b["image"] for b in k1]),
                                np.concatenate([b["image"] for b in k4]).reshape(12, B, 2, 3))


# --------------------------------------------------------------------------------------- resume ---

@pytest.mark.parametrize("prefetch", [0, 2])
@pytest.mark.parametrize("n", [0, 3, 7])
def test_restore_continues_exactly(prefetch, n):
  arrays, lay, total = synthetic(), pl.TrainLayout(N, B, 2), 10
  with opened(arrays, lay, seed=3, num_calls=total, prefetch=prefetch) as reference:
    expected = take(reference, total)
  with opened(arrays, lay, seed=3, num_calls=total, prefetch=prefetch) as interrupted:
    take(interrupted, n)
    state = interrupted.get_state()
  with opened(arrays, lay, seed=3, num_calls=total, prefetch=prefetch) as restored:
    restored.set_state(state)
    rest = list(restored)
  assert len(rest) == total - n
  for a, b in zip(rest, expected[n:]):
    for name in a:
      np.testing.assert_array_equal(a[name], b[name])


def test_state_moves_between_prefetch_settings():
  arrays, lay = synthetic(), pl.TrainLayout(N, B, 1)
  with opened(arrays, lay, seed=3, num_calls=6, prefetch=2) as a:
    take(a, 2)
    state = a.get_state()
    rest_a = list(a)
  with opened(arrays, lay, seed=3, num_calls=6, prefetch=0) as b:
    b.set_state(state)
    rest_b = list(b)
  for x, y in zip(rest_a, rest_b, strict=True):
    np.testing.assert_array_equal(x["index"], y["index"])


# ------------------------------------------------------------------------------------ evaluation ---

@pytest.mark.parametrize("process_count", [1, 2, 4])
def test_eval_batches_visit_every_example_once(process_count):
  arrays, gb = synthetic(), 8
  seen, batches_per_process = [], []
  for p in range(process_count):
    batches = list(pl.eval_batches(arrays, gb, p, process_count))
    batches_per_process.append(len(batches))
    for batch in batches:
      mask = batch["mask"]
      assert mask.dtype == np.float32 and len(mask) == gb // process_count
      assert set(np.unique(mask)) <= {0.0, 1.0}
      assert batch["index"].shape == (gb // process_count,) and batch["image"].shape == (gb // process_count, 2, 3)
      real = mask == 1
      # Real rows come first; padding rows are zeros.
      assert np.all(np.diff(mask) <= 0)
      assert not np.any(batch["image"][~real]) and not np.any(batch["index"][~real])
      np.testing.assert_array_equal(batch["image"][real], arrays["image"][batch["index"][real]])
      seen.extend(batch["index"][real].tolist())
  # Every process runs the same number of eval steps (collectives stay in lockstep).
  assert batches_per_process == [-(-N // gb)] * process_count
  assert sorted(seen) == list(range(N))


def test_eval_batches_in_order_single_process():
  batches = list(pl.eval_batches(synthetic(10), 4))
  np.testing.assert_array_equal(np.concatenate([b["index"] for b in batches]), list(range(10)) + [0, 0])
  np.testing.assert_array_equal(np.concatenate([b["mask"] for b in batches]), [1] * 10 + [0, 0])


# ---------------------------------------------------------------------------------------- errors ---

def test_batch_larger_than_dataset_raises():
  with pytest.raises(ValueError, match="larger than the 10 training examples"):
    pl.TrainLayout(10, 16, 1)


def test_batch_not_divisible_by_processes_raises():
  with pytest.raises(ValueError, match="batch_size=6 is not divisible by the 4 processes"):
    pl.TrainLayout(100, 6, 1, process_count=4)
  with pytest.raises(ValueError, match="eval_batch_size=6 is not divisible by the 4 processes"):
    next(pl.eval_batches(synthetic(), 6, 0, 4))  # a generator: raises on first use
