"""Small pieces shared by the model files.

``dense_dot_general``: ``lax.dot_general`` for the products a dense layer computes (the inputs' last axes
against the kernel's first ones, no batch axes), with the same values and gradients but its own backward
pass. Give it to flax as ``nn.Dense(..., dot_general=dense_dot_general)`` (``DenseGeneral`` too).

Why: the kernel gradient contracts the inputs ``x [*batch, *contract]`` with the output gradient
``g [*batch, *features]`` over the batch axes, and XLA:CPU (jax 0.10) makes one of the two a transposed copy.
JAX's transpose rule writes it as ``dot(g, x)`` and XLA copies ``g``; in a transformer MLP that ``g`` is the
GELU backward ``[tokens, 4 * embed]``, and XLA fuses the elementwise GELU backward into the transposed
write, a strided loop that took 2.2 ms per layer of a 34 ms char-GPT step on a 2-core CPU. Here the
narrower of the two is the one copied: ``dot(x, g)`` when ``x`` has no more features than ``g``, else
``dot(g, x)`` transposed (the small kernel-shaped result). The MLP backward then takes 0.35x the time and
the char-GPT step 0.6x (``bench/dense_backward.py``, ``bench/char_gpt.py``). Values equal JAX's rule up to
float rounding (summation order).
"""

import functools
import math

import jax
import jax.numpy as jnp
from jax import lax


def dense_dot_general(lhs: jax.Array, rhs: jax.Array, dimension_numbers, precision=None,
                      preferred_element_type=None) -> jax.Array:
  """``lax.dot_general``; for ``lhs [*batch, *contract] . rhs [*contract, *features]`` the kernel gradient
  is ``dot(lhs, grad)`` contracted over ``batch`` (see the module docstring). Any other form is passed on."""
  (lhs_contract, rhs_contract), (lhs_batch, rhs_batch) = dimension_numbers
  n = len(lhs_contract)
  dense_form = (not lhs_batch and not rhs_batch and n > 0
                and tuple(lhs_contract) == tuple(range(lhs.ndim - n, lhs.ndim))
                and tuple(rhs_contract) == tuple(range(n)))
  if not dense_form:
    return lax.dot_general(lhs, rhs, dimension_numbers, precision=precision,
                           preferred_element_type=preferred_element_type)
  return _dense_product(lhs, rhs, n, precision, preferred_element_type)


def _forward(x, w, n, precision, preferred_element_type):
  dims = ((tuple(range(x.ndim - n, x.ndim)), tuple(range(n))), ((), ()))
  return lax.dot_general(x, w, dims, precision=precision, preferred_element_type=preferred_element_type)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _dense_product(x, w, n, precision, preferred_element_type):
  return _forward(x, w, n, precision, preferred_element_type)


def _dense_product_fwd(x, w, n, precision, preferred_element_type):
  return _forward(x, w, n, precision, preferred_element_type), (x, w)


def _dense_product_bwd(n, precision, preferred_element_type, residuals, grad):
  """``grad [*batch, *features]`` -> (``dx [*batch, *contract]``, ``dw [*contract, *features]``)."""
  x, w = residuals
  batch = x.ndim - n
  g = grad.astype(jnp.promote_types(x.dtype, w.dtype))
  accumulate = jnp.promote_types(g.dtype, jnp.float32)  # low-precision inputs still accumulate in float32
  dx = lax.dot_general(g, w, ((tuple(range(batch, g.ndim)), tuple(range(n, w.ndim))), ((), ())),
                       precision=precision, preferred_element_type=accumulate)
  over_batch = ((tuple(range(batch)), tuple(range(batch))), ((), ()))
  if math.prod(x.shape[batch:]) <= math.prod(g.shape[batch:]):
    dw = lax.dot_general(x, g, over_batch, precision=precision, preferred_element_type=accumulate)
  else:  # the narrower operand is the one XLA copies
    dw = lax.dot_general(g, x, over_batch, precision=precision, preferred_element_type=accumulate)
    dw = jnp.transpose(dw, (*range(g.ndim - batch, dw.ndim), *range(g.ndim - batch)))
  return dx.astype(x.dtype), dw.astype(w.dtype)


_dense_product.defvjp(_dense_product_fwd, _dense_product_bwd)
