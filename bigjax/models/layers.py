"""Small pieces shared by the model files: a dense product with a CPU-friendly backward pass, and
convolutions (strided, transposed) written as matmuls, with flax-compatible ``Conv``/``ConvTranspose``.

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

``conv2d`` / ``conv_transpose2d``: XLA:CPU's convolutions compute kernel gradients with slow generic loops
(100 ms per 4x4 stride-2 layer of a batch-64 DCGAN step); as patches + matmul (strided convolution) and
per-tap matmuls + interior-padded placements (transposed convolution) the DCGAN step runs 12x faster on the
2-core CPU (``bench/dcgan_step.py``). ``Conv`` and ``ConvTranspose`` hold the parameters flax's layers hold;
they compute every 2-D convolution of bigjax's models. In the CNNs' stride-1 ones, the patches' matmul through
``dense_dot_general`` gives the seed CNN 1.2-1.6x the training steps/s of a plain matmul (``bench/conv_impls.py``).
"""

import functools
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax


_LOW_PRECISION = (jnp.bfloat16, jnp.float16)


def dot_general(lhs: jax.Array, rhs: jax.Array, dimension_numbers, precision=None,
                preferred_element_type=None) -> jax.Array:
  """``lax.dot_general`` that also runs low-precision operands with a float32 result on XLA:CPU.

  Mixed precision multiplies bfloat16 operands and accumulates in float32 (``preferred_element_type``), which
  GPUs and TPUs do natively; XLA:CPU (jax 0.10) refuses it ("Unsupported element type for DotThunk: BF16 x
  BF16 = F32"). There the operands are widened to float32 first: the product of two bfloat16 (or float16)
  numbers is exact in float32, so this is the same arithmetic, up to summation order.
  """
  if (preferred_element_type is not None and jnp.dtype(preferred_element_type) == jnp.float32
      and (lhs.dtype in _LOW_PRECISION or rhs.dtype in _LOW_PRECISION) and jax.default_backend() == "cpu"):
    lhs, rhs = lhs.astype(jnp.float32), rhs.astype(jnp.float32)
  return lax.dot_general(lhs, rhs, dimension_numbers, precision=precision,
                         preferred_element_type=preferred_element_type)


def einsum(subscripts: str, *operands: jax.Array, preferred_element_type=None) -> jax.Array:
  """``jnp.einsum`` with ``dot_general``'s CPU widening of low-precision operands for a float32 result."""
  if (preferred_element_type is not None and jnp.dtype(preferred_element_type) == jnp.float32
      and any(o.dtype in _LOW_PRECISION for o in operands) and jax.default_backend() == "cpu"):
    operands = tuple(o.astype(jnp.float32) for o in operands)
  return jnp.einsum(subscripts, *operands, preferred_element_type=preferred_element_type)


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
    return dot_general(lhs, rhs, dimension_numbers, precision=precision,
                       preferred_element_type=preferred_element_type)
  return _dense_product(lhs, rhs, n, precision, preferred_element_type)


def _forward(x, w, n, precision, preferred_element_type):
  dims = ((tuple(range(x.ndim - n, x.ndim)), tuple(range(n))), ((), ()))
  return dot_general(x, w, dims, precision=precision, preferred_element_type=preferred_element_type)


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
  dx = dot_general(g, w, ((tuple(range(batch, g.ndim)), tuple(range(n, w.ndim))), ((), ())),
                   precision=precision, preferred_element_type=accumulate)
  over_batch = ((tuple(range(batch)), tuple(range(batch))), ((), ()))
  if math.prod(x.shape[batch:]) <= math.prod(g.shape[batch:]):
    dw = dot_general(x, g, over_batch, precision=precision, preferred_element_type=accumulate)
  else:  # the narrower operand is the one XLA copies
    dw = dot_general(g, x, over_batch, precision=precision, preferred_element_type=accumulate)
    dw = jnp.transpose(dw, (*range(g.ndim - batch, dw.ndim), *range(g.ndim - batch)))
  return dx.astype(x.dtype), dw.astype(w.dtype)


_dense_product.defvjp(_dense_product_fwd, _dense_product_bwd)


# ====================================================================================== convolutions as matmuls

def patches(x: jax.Array, kh: int, kw: int, stride: int = 1) -> jax.Array:
  """VALID patches of ``x``: ``[b, h, w, c] -> [b, h', w', kh * kw * c]``, h' = (h - kh) // stride + 1.

  Feature index = (i * kw + j) * c + channel, matching ``kernel.reshape(kh * kw * c, out)`` of an
  ``[kh, kw, c, out]`` kernel. Built from shifted (strided) slices: its gradient is pads and adds, cheap on
  every backend, where XLA:CPU's convolution kernel gradients are slow loops.
  """
  h = (x.shape[1] - kh) // stride + 1
  w = (x.shape[2] - kw) // stride + 1
  shifted = [x[:, i: i + stride * (h - 1) + 1: stride, j: j + stride * (w - 1) + 1: stride]
             for i in range(kh) for j in range(kw)]
  return jnp.concatenate(shifted, axis=-1)


def same_padding(size: int, k: int, stride: int) -> tuple[int, int]:
  """(low, high) padding of one spatial axis for a 'SAME' convolution, as ``lax.conv_general_dilated`` pads."""
  out = -(-size // stride)
  total = max((out - 1) * stride + k - size, 0)
  return total // 2, total - total // 2


def conv2d(x: jax.Array, kernel: jax.Array, stride: int = 1, padding: str = "VALID",
           impl: str = "patches") -> jax.Array:
  """2-D convolution without bias: ``[b, h, w, c], [kh, kw, c, f] -> [b, h', w', f]``, the same function as
  ``lax.conv_general_dilated(x, kernel, (stride, stride), padding)`` in NHWC/HWIO. ``impl="patches"`` computes it
  as patches + one matmul, ``impl="xla"`` by XLA's convolution (on accelerators the better choice)."""
  _check_impl(impl)
  if padding not in ("SAME", "VALID"):
    raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
  if impl == "xla":
    return lax.conv_general_dilated(x, kernel, (stride, stride), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))
  kh, kw, cin, features = kernel.shape
  if padding == "SAME":
    x = jnp.pad(x, ((0, 0), same_padding(x.shape[1], kh, stride), same_padding(x.shape[2], kw, stride), (0, 0)))
  return dense_dot_general(patches(x, kh, kw, stride), kernel.reshape(kh * kw * cin, features), (((3,), (0,)), ((), ())))


def _check_impl(impl: str) -> None:
  if impl not in ("patches", "xla"):
    raise ValueError(f"conv impl must be 'patches' or 'xla', got {impl!r}")


def conv_transpose2d(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
  """'SAME' transposed convolution as ``flax.linen.ConvTranspose(padding="SAME")`` computes it (kernel not
  flipped): ``[b, h, w, c], [kh, kw, c, f] -> [b, stride * h, stride * w, f]``.

  Written as matmuls and a sum of placements ("col2im"): every input pixel times each tap's ``[c, f]``
  matrix, and tap (i, j) of input pixel (y, x) lands on output pixel
  ``(stride * y + pad_h - i, stride * x + pad_w - j)``, ``pad`` being the low padding that
  ``lax.conv_transpose`` gives a 'SAME' transposed convolution. Each placement is a ``lax.pad`` with interior
  padding (its gradient a strided slice), so no zero-dilated input and no im2col matrix is ever built.
  """
  kh, kw = kernel.shape[:2]
  dense = (((3,), (0,)), ((), ()))

  def low_pad(k):  # lax.conv_transpose's 'SAME' low padding of the zero-dilated input
    return k - 1 if stride > k - 1 else -(-(k + stride - 2) // 2)

  zero = jnp.zeros((), x.dtype)
  out = None
  for i in range(kh):
    for j in range(kw):
      low_h, low_w = low_pad(kh) - i, low_pad(kw) - j  # where input pixel 0 of this tap lands (may be < 0)
      tap = dense_dot_general(x, kernel[i, j], dense)  # [b, h, w, f]: one matmul per tap, each contiguous
      placed = lax.pad(tap, zero, ((0, 0, 0), (low_h, stride - 1 - low_h, stride - 1),
                                                  (low_w, stride - 1 - low_w, stride - 1), (0, 0, 0)))
      out = placed if out is None else out + placed
  return out


class Conv(nn.Module):
  """``flax.linen.Conv`` for NHWC images, square strides, 'SAME' or 'VALID' padding, with the same parameters
  (``kernel [kh, kw, in, out]``, ``bias [out]``) and auto-name, computed by ``conv2d`` (``impl`` "patches" or
  "xla") in the inputs' dtype. ``[b, h, w, c] -> [b, h', w', features]``.
  """

  features: int
  kernel_size: tuple[int, int]
  strides: int = 1
  padding: str = "SAME"
  use_bias: bool = True
  kernel_init: Any = nn.initializers.lecun_normal()
  impl: str = "patches"

  def _convolve(self, x: jax.Array, kernel: jax.Array) -> jax.Array:
    return conv2d(x, kernel, self.strides, self.padding, self.impl)

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    _check_impl(self.impl)
    kernel = self.param("kernel", self.kernel_init, (*self.kernel_size, x.shape[-1], self.features), jnp.float32)
    y = self._convolve(x, kernel.astype(x.dtype))
    return y + self.param("bias", nn.initializers.zeros_init(), (self.features,), jnp.float32) if self.use_bias else y


class ConvTranspose(Conv):
  """``flax.linen.ConvTranspose(padding="SAME")`` with the same parameters and auto-name, computed by
  ``conv_transpose2d`` (``impl="patches"``) or by ``lax.conv_transpose`` (``impl="xla"``);
  ``[b, h, w, c] -> [b, strides * h, strides * w, features]``. Only 'SAME' padding."""

  strides: int = 2

  def _convolve(self, x: jax.Array, kernel: jax.Array) -> jax.Array:
    if self.padding != "SAME":
      raise ValueError(f"ConvTranspose computes 'SAME' padding only, got {self.padding!r}")
    if self.impl == "patches":
      return conv_transpose2d(x, kernel, self.strides)
    return lax.conv_transpose(x, kernel, (self.strides,) * 2, "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
