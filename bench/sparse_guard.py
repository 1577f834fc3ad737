"""What the loop's guard against a non-finite step costs a task that moves only a few rows of large tables.

The loop keeps a bad step out by selecting, leaf by leaf, between the state before and after it
(``program.make_train_call``): every table is read twice and written once per step, whatever the step touched.
A task with ``masks_bad_steps`` (Word2Vec, GloVe) zeroes its own row steps instead, and the loop skips the
select. Both variants run the real GloVe task (``bigjax/tasks/glove.py``) through the real train call: tables
of the text corpus' size (``--vocab`` 55,845 rows x ``--dim`` 100; W, W~, their biases and their AdaGrad
accumulators), batches of ``--batch`` random co-occurrence entries, ``--steps`` steps per call. Compiled first,
then timed in interleaved rounds (``bench/interleave.py``); ``--json OUT`` keeps every timing.

  python bench/sparse_guard.py --json bench/results/sparse_guard.json
"""

import argparse
import dataclasses
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

import bench_record  # bench/ is on sys.path: run as `python bench/sparse_guard.py`
import interleave
from bigjax import config_base, program
from bigjax.embeddings import settings
from bigjax.models.word2vec import GloVe
from bigjax.tasks import glove

VARIANTS = ("select", "masked")  # the loop selects between whole states / the task masks its own bad step


def timed_call(masks: bool, args):
  """A function timing ``args.calls`` train calls of the GloVe task, in ms per step."""
  config = settings.glove(settings.add_fields(config_base.base_config()))
  model = GloVe(num_ids=args.vocab, features=args.dim)
  task = dataclasses.replace(glove.make(config, model, optax.adagrad(0.05)), masks_bad_steps=masks)
  rng = np.random.default_rng(0)
  batches = {"row": jnp.asarray(rng.integers(1, args.vocab, (args.steps, args.batch)), jnp.int32),
             "col": jnp.asarray(rng.integers(1, args.vocab, (args.steps, args.batch)), jnp.int32),
             "count": jnp.asarray(rng.uniform(0.1, 200, (args.steps, args.batch)), jnp.float32)}
  params = nn.unbox(task.init(jax.random.key(0), jax.tree.map(lambda b: b[0], batches)))
  state = program.TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=task.init_opt_state(params),
                             rng=jax.random.key_data(jax.random.key(1)), first_bad_step=jnp.array(-1, jnp.int32))
  sums = {"steps": jnp.zeros(()), "loss": jnp.zeros(()), "examples": jnp.zeros(()), "lr": jnp.zeros(())}
  call = jax.jit(program.make_train_call(task, lambda step: 0.05), donate_argnums=0)
  holder = [call(state, sums, batches)[0]]
  jax.block_until_ready(holder[0])

  def time_once() -> float:
    start = time.perf_counter()
    for _ in range(args.calls):
      holder[0], _ = call(holder[0], sums, batches)
    jax.block_until_ready(holder[0])
    return (time.perf_counter() - start) / (args.calls * args.steps) * 1e3

  return time_once


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--vocab", type=int, default=55_845)
  p.add_argument("--dim", type=int, default=100)
  p.add_argument("--batch", type=int, default=2048)
  p.add_argument("--steps", type=int, default=32)
  p.add_argument("--calls", type=int, default=5)
  p.add_argument("--repeats", type=int, default=5)
  p.add_argument("--json", metavar="OUT")
  args = p.parse_args()
  timers = {name: timed_call(name == "masked", args) for name in VARIANTS}
  rows = interleave.run_interleaved(list(VARIANTS), args.repeats,
                                    lambda name, _: {"status": "ok", "ms_per_step": timers[name]()})
  s = bench_record.summary(rows, "ms_per_step", "select")
  print(f"GloVe steps, tables {args.vocab} x {args.dim}, {args.batch} entries a step, {args.steps} steps a call; "
        f"{jax.devices()[0].device_kind}, jax {jax.__version__}; median (min-max) of {args.repeats} rounds\n")
  print("| guard | ms per step | vs the loop's select |\n|---|---:|---:|")
  for name, label in (("select", "the loop selects old or new state"), ("masked", "the task masks its bad step")):
    print(f"| {label} | {interleave.fmt_spread(s['ms_per_step'][name], '.2f')} | "
          f"{interleave.fmt_spread(s['vs_select'][name], '.3f', suffix='x')} |")
  if args.json:
    bench_record.write(args.json, {k: getattr(args, k) for k in ("vocab", "dim", "batch", "steps", "calls",
                                                                 "repeats")}, rows, "ms_per_step", "select")


if __name__ == "__main__":
  main()
