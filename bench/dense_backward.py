"""Side by side: the backward pass of dense layers with JAX's own ``lax.dot_general`` rule and with
``bigjax.models.layers.dense_dot_general`` (the kernel gradient contracted as ``dot(inputs, grad)``).

The workload is the char GPT's MLP at the CPU recipe's shape (``shakespeare_char_gpt:cpu``): tokens
[12, 64, 128] -> Dense 512 -> exact GELU -> Dense 128, loss = sum(output * r); the timed function is the
jitted gradient with respect to both kernels and the inputs. Both variants compute the same numbers (the
largest difference is printed). Median of ``--repeats`` timings of ``--calls`` calls each.

  python bench/dense_backward.py
  python bench/dense_backward.py --batch 64 --seq 256 --embed 384     # the GPU config's shape
"""

import argparse
import statistics
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from bigjax.models.layers import dense_dot_general


class MLP(nn.Module):
  hidden: int
  dot_general: object

  @nn.compact
  def __call__(self, x):
    h = nn.gelu(nn.Dense(self.hidden, use_bias=False, dot_general=self.dot_general)(x), approximate=False)
    return nn.Dense(x.shape[-1], use_bias=False, dot_general=self.dot_general)(h)


def time_gradient(dot_general, args):
  x = jax.random.normal(jax.random.key(0), (args.batch, args.seq, args.embed))
  r = jax.random.normal(jax.random.key(1), x.shape)
  model = MLP(4 * args.embed, dot_general)
  params = model.init(jax.random.key(2), x)
  grad = jax.jit(jax.grad(lambda p, x: jnp.sum(model.apply(p, x) * r), argnums=(0, 1)))
  out = jax.block_until_ready(grad(params, x))
  times = []
  for _ in range(args.repeats):
    start = time.perf_counter()
    for _ in range(args.calls):
      result = grad(params, x)
    jax.block_until_ready(result)
    times.append((time.perf_counter() - start) / args.calls)
  return statistics.median(times), out


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--batch", type=int, default=12)
  p.add_argument("--seq", type=int, default=64)
  p.add_argument("--embed", type=int, default=128)
  p.add_argument("--calls", type=int, default=100)
  p.add_argument("--repeats", type=int, default=5)
  args = p.parse_args()

  default_s, default_out = time_gradient(lax.dot_general, args)
  ours_s, ours_out = time_gradient(dense_dot_general, args)
  diff = max(float(jnp.abs(a - b).max()) for a, b in zip(jax.tree.leaves(ours_out), jax.tree.leaves(default_out)))
  print(f"MLP backward, tokens [{args.batch}, {args.seq}, {args.embed}] -> {4 * args.embed} -> {args.embed}; "
        f"{jax.devices()[0].device_kind}, jax {jax.__version__}\n")
  print("| dot_general | gradient time (ms) | vs lax.dot_general |")
  print("|---|---:|---:|")
  print(f"| lax.dot_general (JAX's rule) | {default_s * 1e3:.3f} | 1.00x |")
  print(f"| bigjax dense_dot_general | {ours_s * 1e3:.3f} | {ours_s / default_s:.2f}x |")
  print(f"\nlargest difference between the two gradients: {diff:.2e}")


if __name__ == "__main__":
  main()
