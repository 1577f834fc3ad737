"""Training steps/s of the seed's CNN (batch 32, Adam) for each convolution implementation and steps per call.

Batches are already on the device, so this measures the compiled step alone. The three
implementations compute the same function (tests/test_models.py checks them against float64 NumPy).

    python bench/conv_impls.py [--steps 2000]
"""

import argparse
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from bigjax.models import cnn
from bigjax.tasks import classification as task


def steps_per_second(impl: str, steps_per_call: int, num_steps: int, batch_size: int = 32) -> float:
  model = cnn.SeedCNN(impl=impl)
  task_config = ml_collections.ConfigDict({"loss": "softmax_xent"})
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
  carry = jax.block_until_ready(call((params, tx.init(params)), batches))  # compile + warm up
  calls = max(1, num_steps // steps_per_call)
  start = time.perf_counter()
  for _ in range(calls):
    carry = call(carry, batches)
  jax.block_until_ready(carry)
  return calls * steps_per_call / (time.perf_counter() - start)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=2000)
  args = parser.parse_args()
  rows = []
  for impl in ("xla", "patches"):
    for k in (1, 25):
      rows.append((impl, k, steps_per_second(impl, k, args.steps)))
  base = rows[0][2]
  print(f"SeedCNN training step, batch 32, {jax.devices()[0].device_kind}, jax {jax.__version__}\n")
  print("| conv impl | steps per call | steps/s | vs xla, 1 step/call |")
  print("|---|---:|---:|---:|")
  for impl, k, rate in rows:
    print(f"| {impl} | {k} | {rate:.1f} | {rate / base:.2f}x |")


if __name__ == "__main__":
  main()
