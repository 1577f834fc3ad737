"""Training steps/s of the seed's CNN (batch 32, Adam) for each convolution implementation and steps per call.

Batches are already on the device, so this measures the compiled step alone. The three
implementations compute the same function (tests/test_models.py checks them against float64 NumPy).
Every variant is compiled first, then timed once per round, rounds interleaved (``bench/interleave.py``);
the table shows the median and min-max over ``--repeats`` rounds, ratios to xla at 1 step per call taken
within each round. ``--json OUT`` keeps every timing (``bench/bench_record.py``).

    python bench/conv_impls.py [--steps 2000] [--repeats 3] [--json bench/results/conv_impls.json]
"""

import argparse
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

import bench_record  # bench/ is on sys.path: run as `python bench/conv_impls.py`
import interleave
from bigjax.models import cnn
from bigjax.tasks import classification as task

VARIANTS = (("xla", 1), ("xla", 25), ("patches", 1), ("patches", 25))


def compiled_steps(impl: str, steps_per_call: int, num_steps: int, batch_size: int = 32):
  """A function timing ``num_steps`` (whole calls, at least one) training steps; returns steps/s. Compiled here."""
  model = cnn.SeedCNN(impl=impl)
  task_config = ml_collections.ConfigDict({"loss": "softmax_xent", "random_shift": 0})  # the seed's recipe: no shifts
  params = task.init(model, jax.random.PRNGKey(0), {"image": jnp.zeros((1, 28, 28, 1))})
  tx = optax.adam(1e-3, eps=1e-7)

  def one_step(carry, batch):
    params, opt_state = carry
    grads, _ = jax.grad(lambda p: task.loss(model, p, batch, jax.random.PRNGKey(0), task_config), has_aux=True)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), None

  call = jax.jit(lambda carry, batches: jax.lax.scan(one_step, carry, batches)[0], donate_argnums=0)
  rng = np.random.default_rng(0)
  batches = {"image": jnp.asarray(rng.random((steps_per_call, batch_size, 28, 28, 1), np.float32)),
             "label": jnp.asarray(rng.integers(0, 10, (steps_per_call, batch_size)), jnp.int32)}
  state = {"carry": jax.block_until_ready(call((params, tx.init(params)), batches))}  # compile + warm up
  calls = max(1, num_steps // steps_per_call)

  def time_once() -> float:
    carry = state.pop("carry")
    start = time.perf_counter()
    for _ in range(calls):
      carry = call(carry, batches)
    state["carry"] = jax.block_until_ready(carry)
    return calls * steps_per_call / (time.perf_counter() - start)

  return time_once


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=2000, help="steps per timing")
  parser.add_argument("--repeats", type=int, default=interleave.MIN_REPEATS, help="interleaved rounds")
  parser.add_argument("--json", metavar="OUT", help="write machine, revision, every timing and the summary")
  args = parser.parse_args()
  timers = {f"{impl}_k{k}": compiled_steps(impl, k, args.steps) for impl, k in VARIANTS}
  rows = interleave.run_interleaved(list(timers), args.repeats,
                                    lambda name, _: {"status": "ok", "steps_per_s": timers[name]()})
  s = bench_record.summary(rows, "steps_per_s", "xla_k1")
  print(f"SeedCNN training step, batch 32, {jax.devices()[0].device_kind}, jax {jax.__version__}; "
        f"median (min-max) of {args.repeats} interleaved rounds of {args.steps} steps\n")
  print("| conv impl | steps per call | steps/s | vs xla, 1 step/call |")
  print("|---|---:|---:|---:|")
  for impl, k in VARIANTS:
    name = f"{impl}_k{k}"
    print(f"| {impl} | {k} | {interleave.fmt_spread(s['steps_per_s'][name], '.1f')} | "
          f"{interleave.fmt_spread(s['vs_xla_k1'][name], '.2f', suffix='x')} |")
  if args.json:
    bench_record.write(args.json, {"steps": args.steps, "repeats": args.repeats, "batch_size": 32}, rows,
                       "steps_per_s", "xla_k1")


if __name__ == "__main__":
  main()
