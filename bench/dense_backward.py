"""Side by side: the backward pass of dense layers with JAX's own ``lax.dot_general`` rule and with
``bigjax.models.layers.dense_dot_general`` (the kernel gradient contracted as ``dot(inputs, grad)``).

The workload is the char GPT's MLP at the CPU recipe's shape (``shakespeare_char_gpt:cpu``): tokens
[12, 64, 128] -> Dense 512 -> exact GELU -> Dense 128, loss = sum(output * r); the timed function is the
jitted gradient with respect to both kernels and the inputs. Both variants compute the same numbers (the
largest difference is printed). Both are compiled first, then timed in interleaved rounds
(``bench/interleave.py``): median and min-max of ``--repeats`` timings of ``--calls`` calls each, the ratio
taken within each round. ``--json OUT`` keeps every timing (``bench/bench_record.py``).

  python bench/dense_backward.py [--json bench/results/dense_backward.json]
  python bench/dense_backward.py --batch 64 --seq 256 --embed 384     # the GPU config's shape
"""

import argparse
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

import bench_record  # bench/ is on sys.path: run as `python bench/dense_backward.py`
import interleave
from bigjax.models.layers import dense_dot_general

VARIANTS = {"lax": lax.dot_general, "bigjax": dense_dot_general}


class MLP(nn.Module):
  hidden: int
  dot_general: object

  @nn.compact
  def __call__(self, x):
    h = nn.gelu(nn.Dense(self.hidden, use_bias=False, dot_general=self.dot_general)(x), approximate=False)
    return nn.Dense(x.shape[-1], use_bias=False, dot_general=self.dot_general)(h)


def compiled_gradient(dot_general, args):
  """(a function timing ``args.calls`` calls of the compiled gradient, in ms per call; the gradient)."""
  x = jax.random.normal(jax.random.key(0), (args.batch, args.seq, args.embed))
  r = jax.random.normal(jax.random.key(1), x.shape)
  model = MLP(4 * args.embed, dot_general)
  params = model.init(jax.random.key(2), x)
  grad = jax.jit(jax.grad(lambda p, x: jnp.sum(model.apply(p, x) * r), argnums=(0, 1)))
  out = jax.block_until_ready(grad(params, x))

  def time_once() -> float:
    start = time.perf_counter()
    for _ in range(args.calls):
      result = grad(params, x)
    jax.block_until_ready(result)
    return (time.perf_counter() - start) / args.calls * 1e3

  return time_once, out


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--batch", type=int, default=12)
  p.add_argument("--seq", type=int, default=64)
  p.add_argument("--embed", type=int, default=128)
  p.add_argument("--calls", type=int, default=100)
  p.add_argument("--repeats", type=int, default=5)
  p.add_argument("--json", metavar="OUT", help="write machine, revision, every timing and the summary")
  args = p.parse_args()

  compiled = {name: compiled_gradient(dot_general, args) for name, dot_general in VARIANTS.items()}
  outs = [jax.tree.leaves(out) for _, out in compiled.values()]
  diff = max(float(jnp.abs(a - b).max()) for a, b in zip(*outs))
  rows = interleave.run_interleaved(list(VARIANTS), args.repeats,
                                    lambda name, _: {"status": "ok", "ms_per_call": compiled[name][0]()})
  s = bench_record.summary(rows, "ms_per_call", "lax")
  print(f"MLP backward, tokens [{args.batch}, {args.seq}, {args.embed}] -> {4 * args.embed} -> {args.embed}; "
        f"{jax.devices()[0].device_kind}, jax {jax.__version__}; median (min-max) of {args.repeats} interleaved "
        f"timings of {args.calls} calls\n")
  print("| dot_general | gradient time (ms) | vs lax.dot_general |")
  print("|---|---:|---:|")
  for name, label in (("lax", "lax.dot_general (JAX's rule)"), ("bigjax", "bigjax dense_dot_general")):
    print(f"| {label} | {interleave.fmt_spread(s['ms_per_call'][name], '.3f')} | "
          f"{interleave.fmt_spread(s['vs_lax'][name], '.2f', suffix='x')} |")
  print(f"\nlargest difference between the two gradients: {diff:.2e}")
  if args.json:
    settings = {key: getattr(args, key) for key in ("batch", "seq", "embed", "calls", "repeats")}
    bench_record.write(args.json, {**settings, "hidden": 4 * args.embed, "largest_difference": diff}, rows,
                       "ms_per_call", "lax")


if __name__ == "__main__":
  main()
