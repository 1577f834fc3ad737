"""Where a Word2Vec step's time goes: the update of ``bigjax/tasks/word2vec.py`` at the config's shape, and its
parts timed alone, each as the loop runs a step: ``--steps`` steps inside one compiled call (a ``fori_loop``),
the tables passed in as arguments, the update's state donated and carried from step to step.

  draws       subsampling, windows and negatives (``word2vec.draws``)
  objective   the draws, the row gathers, the loss and its gradient with respect to the rows read
              (``word2vec.objective``)
  update      all of it: the objective, the SGD steps and the two scatters back into the tables
              (``Task.update``); update - objective is the steps' and scatters' share

(draws and objective add a sum of their outputs to a carried scalar, so nothing they compute is dropped; that sum
is part of their time.) Tables of the text corpus' size (``--vocab`` 55,845 x 100) with its word counts' shape
of distribution (Zipf), batches of ``--batch`` chunks of ``--seq-len`` words; interleaved rounds
(``bench/interleave.py``), ``--json OUT`` keeps every timing. Also recorded: the share of positions subsampling
leaves empty and the share of the 2 x window context slots the dynamic window masks (both are computed on, and
train nothing: the work a dense batch spends that the C tool's loops skip).

  python bench/word2vec_step.py --json bench/results/word2vec_step.json
"""

import argparse
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

import bench_record  # bench/ is on sys.path: run as `python bench/word2vec_step.py`
import interleave
from bigjax import config_base
from bigjax.embeddings import settings
from bigjax.models.word2vec import Word2Vec
from bigjax.tasks import word2vec

PARTS = ("draws", "objective", "update")


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--mode", choices=word2vec.MODES, default="skipgram")
  p.add_argument("--vocab", type=int, default=55_845)
  p.add_argument("--batch", type=int, default=4)
  p.add_argument("--seq-len", type=int, default=1024)
  p.add_argument("--steps", type=int, default=50)
  p.add_argument("--repeats", type=int, default=5)
  p.add_argument("--json", metavar="OUT")
  args = p.parse_args()

  config = settings.add_fields(config_base.base_config())
  config.task.mode = args.mode
  counts = np.concatenate([[0.0], 1e6 / np.arange(1, args.vocab)]).astype(np.float32)  # Zipf's law
  model = Word2Vec(num_ids=args.vocab, features=config.model.features, word_counts=counts)
  task = word2vec.make(config, model, optax.sgd(config.optim.lr))
  rng = np.random.default_rng(0)
  ids = rng.choice(np.arange(1, args.vocab), p=counts[1:] / counts[1:].sum(), size=(args.batch, args.seq_len))
  ids[:, ::20] = 0  # a sentence end every 20 words
  tokens = jnp.asarray(ids, jnp.int32)
  params = nn.unbox(task.init(jax.random.key(0), {"tokens": tokens[:1]}))
  opt_state = task.init_opt_state(params)
  key = jax.random.key(1)
  kept, _, mask, _ = word2vec.draws(model, config.task, tokens, key)
  empty = float(jnp.mean(kept == 0) - jnp.mean(tokens == 0))
  masked = float(1.0 - jnp.sum(mask) / (jnp.sum(kept != 0) * mask.shape[-1]))

  def summed(tree) -> jax.Array:
    return sum(jnp.sum(x.astype(jnp.float32)) for x in jax.tree.leaves(tree))

  def looped(part):
    """``(params, opt_state, tokens, key) -> (params, opt_state, checksum)``: ``args.steps`` steps of ``part``."""
    def run(params, opt_state, tokens, key):
      def body(i, carry):
        params, opt_state, total = carry
        k = jax.random.fold_in(key, i)
        if part == "update":
          params, opt_state, _, _ = task.update(params, opt_state, {"tokens": tokens}, k)
          return params, opt_state, total
        if part == "draws":
          return params, opt_state, total + summed(word2vec.draws(model, config.task, tokens, k))
        return params, opt_state, total + summed(word2vec.objective(model, params, config.task, tokens, k))
      return jax.lax.fori_loop(0, args.steps, body, (params, opt_state, jnp.float32(0.0)))
    return jax.jit(run, donate_argnums=(0, 1))

  functions = {part: looped(part) for part in PARTS}
  state = {"params": params, "opt_state": opt_state}
  for f in functions.values():  # compile, and run once
    state["params"], state["opt_state"], total = f(state["params"], state["opt_state"], tokens, key)
    jax.block_until_ready(total)

  def timing(name: str) -> float:
    start = time.perf_counter()
    state["params"], state["opt_state"], total = functions[name](state["params"], state["opt_state"], tokens, key)
    jax.block_until_ready((state["params"], total))
    return (time.perf_counter() - start) / args.steps * 1e3

  rows = interleave.run_interleaved(list(PARTS), args.repeats, lambda name, _: {"status": "ok", "ms": timing(name)})
  s = bench_record.summary(rows, "ms", "update")
  words = args.batch * args.seq_len
  print(f"Word2Vec {args.mode} step, {args.batch} x {args.seq_len} words, tables {args.vocab} x "
        f"{config.model.features}; {jax.devices()[0].device_kind}, jax {jax.__version__}; median (min-max) of "
        f"{args.repeats} rounds; positions left empty by subsampling: {empty:.0%}, context slots masked by the "
        f"dynamic window: {masked:.0%}\n")
  print("| part | ms per step | share of the update |\n|---|---:|---:|")
  for name in PARTS:
    print(f"| {name} | {interleave.fmt_spread(s['ms'][name], '.2f')} | "
          f"{interleave.fmt_spread(s['vs_update'][name], '.0%')} |")
  update_ms = s["ms"]["update"]["median"]
  print(f"\nupdate alone: {words / update_ms * 1e3:,.0f} words/s")
  if args.json:
    bench_record.write(args.json, {"mode": args.mode, "vocab": args.vocab, "batch": args.batch,
                                   "seq_len": args.seq_len, "steps": args.steps, "repeats": args.repeats,
                                   "empty_after_subsampling": empty,
                                   "context_slots_masked": masked}, rows, "ms", "update")


if __name__ == "__main__":
  main()
