"""Input-pipeline efficiency: training steps/s fed by the real pipeline over steps/s with the batch already on device.

The real path is what ``bigjax.train`` runs: grain iterator (random-access MNIST source, per-epoch
shuffle, K stacked batches, background prefetch thread) -> ``parallel.host_to_global`` -> the compiled
K-step call. The reference feeds the same compiled call one batch that already lives on the device.
A ratio near 1.0 means the host keeps the device busy. The two are timed in interleaved rounds
(``bench/interleave.py``): median and min-max over ``--repeats`` rounds, the ratio taken within each round.
``--json OUT`` keeps every timing (``bench/bench_record.py``).

    python bench/input_pipeline.py [--config configs/mnist_seed_cnn.py] [--steps 3000] [--prefetch N] [--json OUT]
"""

import argparse
import time

import jax

import bench_record  # bench/ is on sys.path: run as `python bench/input_pipeline.py`
import interleave
from bigjax import configs
from bigjax import parallel, program
from bigjax.data import pipeline


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", default="configs/mnist_seed_cnn.py")
  parser.add_argument("--steps", type=int, default=3000)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--prefetch", type=int, default=None, help="override config.data.prefetch")
  parser.add_argument("--json", metavar="OUT", help="write machine, revision, every timing and the summary")
  args = parser.parse_args()
  config = configs.load(args.config)
  if args.prefetch is not None:
    config.data.prefetch = args.prefetch
  config.data.prefetch = pipeline.resolve_prefetch(config.data.prefetch, jax.default_backend())
  k, batch_size = config.train.steps_per_call, config.data.batch_size

  model, family = program.validate(config)
  mesh = program.make_checked_mesh(config)
  train_ds = program.load_split(config.data, "train")
  arrays = train_ds.arrays
  layout = pipeline.TrainLayout(len(train_ds), batch_size, k)
  # The loop's own program: the same compiled K-step call bigjax.train runs.
  built = program.build(config, family, model, mesh, program.example_spec(arrays),
                        program.make_schedule(config, len(train_ds)))
  state = built.init_state(jax.random.PRNGKey(0))
  sums = built.zero_sums()
  call = built.train_call
  calls = args.steps // k

  def real_pipeline(state, sums):
    it = pipeline.train_iterator(arrays, layout, seed=0, num_calls=calls, prefetch=config.data.prefetch)
    start = time.perf_counter()
    for host_batch in it:
      state, sums = call(state, sums, parallel.host_to_global(host_batch, mesh, leading_dims=1))
    jax.block_until_ready(state)
    it.close()
    return calls * k / (time.perf_counter() - start), state, sums

  def on_device(state, sums):
    it = pipeline.train_iterator(arrays, layout, seed=0, num_calls=1, prefetch=0)
    batch = parallel.host_to_global(next(it), mesh, leading_dims=1)
    it.close()
    jax.block_until_ready(batch)
    start = time.perf_counter()
    for _ in range(calls):
      state, sums = call(state, sums, batch)
    jax.block_until_ready(state)
    return calls * k / (time.perf_counter() - start), state, sums

  _, state, sums = on_device(state, sums)  # compile and warm up
  carry = {"state_sums": (state, sums)}
  feeds = {"on_device": on_device, "pipeline": real_pipeline}

  def run_one(feed: str, _) -> dict:  # interleaved, so drifts in machine load hit both alike
    rate, state, sums = feeds[feed](*carry["state_sums"])
    carry["state_sums"] = state, sums
    return {"status": "ok", "steps_per_s": rate}

  rows = interleave.run_interleaved(list(feeds), args.repeats, run_one)
  s = bench_record.summary(rows, "steps_per_s", "on_device")
  print(f"{args.config}: batch {batch_size}, {k} steps per call, prefetch {config.data.prefetch}, "
        f"{calls * k} steps per measurement, "
        f"median (min-max) of {args.repeats} interleaved rounds, {jax.devices()[0].device_kind}\n")
  print("| feed | steps/s |")
  print("|---|---:|")
  print(f"| batch already on device | {interleave.fmt_spread(s['steps_per_s']['on_device'], '.1f')} |")
  print(f"| real pipeline (grain + host_to_global) | {interleave.fmt_spread(s['steps_per_s']['pipeline'], '.1f')} |")
  efficiency = interleave.fmt_spread(s["vs_on_device"]["pipeline"], ".3f")
  print(f"\nefficiency (real / on device, within a round): {efficiency}")
  if args.json:
    settings = {"config": args.config, "batch_size": batch_size, "steps_per_call": k,
                "prefetch": config.data.prefetch, "steps": calls * k, "repeats": args.repeats}
    bench_record.write(args.json, settings, rows, "steps_per_s", "on_device")


if __name__ == "__main__":
  main()
