"""Side by side: the DCGAN training step (both players, one jitted call of K steps, the loop's own compiled
program from ``program.build``) with XLA's convolutions and with ``bigjax.models.layers``' convolutions as
matmuls (``config.model.conv_impl``). Same model, parameters and batches; the compiled step alone (batches
already on the device). Median of ``--repeats`` timings of ``--calls`` calls.

  python bench/dcgan_step.py
  python bench/dcgan_step.py --config configs/mnist_dcgan.py --calls 5
"""

import argparse
import statistics
import sys
import time

import jax
import numpy as np

from bigjax import configs
from bigjax import parallel, program


def step_seconds(config, impl: str, args) -> float:
  config = config.copy_and_resolve_references()
  config.model.conv_impl = impl
  model, family = program.validate(config)
  mesh = program.make_checked_mesh(config)
  k, b = config.train.steps_per_call, config.data.batch_size
  rng = np.random.default_rng(0)
  example = {"image": ((28, 28, 1), np.dtype(np.float32)), "label": ((), np.dtype(np.int32))}
  sched = program.Schedule(total_steps=k * (args.calls + 1), steps_per_epoch=1000, steps_per_call=k,
                         log_every=k, eval_every=k, checkpoint_every=k)
  built = program.build(config, family, model, mesh, example, sched)
  state = built.init_state(jax.random.PRNGKey(0))
  batch = parallel.host_to_global({"image": rng.random((k, b, 28, 28, 1), np.float32),
                                   "label": rng.integers(0, 10, (k, b)).astype(np.int32)}, mesh, leading_dims=1)
  sums = built.zero_sums()
  state, sums = built.train_call(state, sums, batch)  # warm up
  jax.block_until_ready(state)
  times = []
  for _ in range(args.repeats):
    start = time.perf_counter()
    for _ in range(args.calls):
      state, sums = built.train_call(state, sums, batch)
    jax.block_until_ready(state)
    times.append((time.perf_counter() - start) / (args.calls * k))
  return statistics.median(times)


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--config", default="configs/mnist_dcgan.py")
  p.add_argument("--calls", type=int, default=10)
  p.add_argument("--repeats", type=int, default=3)
  args = p.parse_args()
  config = configs.load(args.config)
  rows = [(impl, step_seconds(config, impl, args)) for impl in ("xla", "patches")]
  base = rows[0][1]
  print(f"\n{args.config}: DCGAN step (discriminator + generator), batch {config.data.batch_size}, "
        f"{config.train.steps_per_call} steps per call; {jax.devices()[0].device_kind}, jax {jax.__version__}\n")
  print("| conv impl | ms per step | steps/s | vs xla |")
  print("|---|---:|---:|---:|")
  for impl, seconds in rows:
    print(f"| {impl} | {seconds * 1e3:.1f} | {1 / seconds:.1f} | {seconds / base:.2f}x |")
  sys.stdout.flush()


if __name__ == "__main__":
  main()
