"""Side by side: the DCGAN training step (both players, one jitted call of K steps, the loop's own compiled
program from ``program.build``) with XLA's convolutions and with ``bigjax.models.layers``' convolutions as
matmuls (``config.model.conv_impl``). Same model, parameters and batches; the compiled step alone (batches
already on the device). Both are compiled first, then timed in interleaved rounds (``bench/interleave.py``):
median and min-max of ``--repeats`` timings of ``--calls`` calls, the ratio taken within each round.
``--json OUT`` keeps every timing (``bench/bench_record.py``).

  python bench/dcgan_step.py [--json bench/results/dcgan_step.json]
  python bench/dcgan_step.py --config configs/mnist_dcgan.py --calls 5
"""

import argparse
import sys
import time

import jax
import numpy as np

import bench_record  # bench/ is on sys.path: run as `python bench/dcgan_step.py`
import interleave
from bigjax import configs
from bigjax import parallel, program

IMPLS = ("xla", "patches")


def compiled_step(config, impl: str, args):
  """A function timing ``args.calls`` calls of the compiled training call; returns milliseconds per step."""
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
  carry = {"state_sums": built.train_call(state, built.zero_sums(), batch)}  # compile and warm up
  jax.block_until_ready(carry["state_sums"])

  def time_once() -> float:
    state, sums = carry.pop("state_sums")
    start = time.perf_counter()
    for _ in range(args.calls):
      state, sums = built.train_call(state, sums, batch)
    jax.block_until_ready(state)
    carry["state_sums"] = state, sums
    return (time.perf_counter() - start) / (args.calls * k) * 1e3

  return time_once


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--config", default="configs/mnist_dcgan.py")
  p.add_argument("--calls", type=int, default=10)
  p.add_argument("--repeats", type=int, default=interleave.MIN_REPEATS)
  p.add_argument("--json", metavar="OUT", help="write machine, revision, every timing and the summary")
  args = p.parse_args()
  config = configs.load(args.config)
  timers = {impl: compiled_step(config, impl, args) for impl in IMPLS}
  rows = interleave.run_interleaved(list(IMPLS), args.repeats,
                                    lambda impl, _: {"status": "ok", "ms_per_step": timers[impl]()})
  s = bench_record.summary(rows, "ms_per_step", "xla")
  print(f"\n{args.config}: DCGAN step (discriminator + generator), batch {config.data.batch_size}, "
        f"{config.train.steps_per_call} steps per call; {jax.devices()[0].device_kind}, jax {jax.__version__}; "
        f"median (min-max) of {args.repeats} interleaved timings of {args.calls} calls\n")
  print("| conv impl | ms per step | vs xla |")
  print("|---|---:|---:|")
  for impl in IMPLS:
    print(f"| {impl} | {interleave.fmt_spread(s['ms_per_step'][impl], '.1f')} | "
          f"{interleave.fmt_spread(s['vs_xla'][impl], '.2f', suffix='x')} |")
  sys.stdout.flush()
  if args.json:
    settings = {"config": args.config, "batch_size": config.data.batch_size,
                "steps_per_call": config.train.steps_per_call, "calls": args.calls, "repeats": args.repeats}
    bench_record.write(args.json, settings, rows, "ms_per_step", "xla")


if __name__ == "__main__":
  main()
