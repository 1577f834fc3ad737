"""Tests for bigjax.models.layers.dense_dot_general: values, first and second derivatives against float64 NumPy
and finite differences, for every dense shape the transformer uses (both ways of computing the kernel
gradient), forms it passes on unchanged, low-precision inputs, and flax Dense/DenseGeneral built on it; the
convolutions as matmuls (strided, 'SAME'/'VALID', transposed) against XLA's, values and gradients, and their
modules against flax's Conv/ConvTranspose.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from bigjax.models import layers
from bigjax.models.layers import dense_dot_general

# (lhs shape, rhs shape, contracted axes): lhs [*batch, *contract] . rhs [*contract, *features]
DENSE_FORMS = {
    "mlp_in (narrow inputs)": ((3, 5, 4), (4, 7), 1),
    "mlp_out (narrow grads)": ((3, 5, 7), (7, 4), 1),
    "qkv projection": ((2, 3, 6), (6, 2, 3), 1),
    "attention output": ((2, 3, 2, 3), (2, 3, 6), 2),
    "no batch axes": ((6,), (6, 2), 1),
    "narrow grads, two contracted axes": ((3, 2, 3), (2, 3, 2), 2),
    "narrow grads, two feature axes": ((3, 8), (8, 2, 3), 1),
}


@pytest.fixture
def x64():
  with jax.enable_x64(True):
    yield


def dense_dims(lhs_ndim: int, n: int):
  return ((tuple(range(lhs_ndim - n, lhs_ndim)), tuple(range(n))), ((), ()))


def numpy_product_and_grads(x, w, n, r):
  """float64 reference for ``L = sum(r * (x . w))``: the product, dL/dx, dL/dw."""
  batch = x.ndim - n
  out = np.tensordot(x, w, axes=n)
  dx = np.tensordot(r, w, axes=(tuple(range(batch, r.ndim)), tuple(range(n, w.ndim))))
  dw = np.tensordot(x, r, axes=(tuple(range(batch)), tuple(range(batch))))
  return out, dx, dw


@pytest.mark.parametrize("form", sorted(DENSE_FORMS))
def test_value_and_gradients_match_float64_numpy(form, x64):
  lhs_shape, rhs_shape, n = DENSE_FORMS[form]
  rng = np.random.default_rng(0)
  x, w = rng.normal(size=lhs_shape), rng.normal(size=rhs_shape)
  r = rng.normal(size=lhs_shape[:len(lhs_shape) - n] + rhs_shape[n:])
  dims = dense_dims(x.ndim, n)
  loss = lambda x, w: jnp.sum(jnp.asarray(r) * dense_dot_general(x, w, dims))
  out = dense_dot_general(jnp.asarray(x), jnp.asarray(w), dims)
  dx, dw = jax.grad(loss, argnums=(0, 1))(jnp.asarray(x), jnp.asarray(w))
  ref_out, ref_dx, ref_dw = numpy_product_and_grads(x, w, n, r)
  np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-12)
  np.testing.assert_allclose(dx, ref_dx, rtol=1e-12, atol=1e-12)
  np.testing.assert_allclose(dw, ref_dw, rtol=1e-12, atol=1e-12)
  assert dx.shape == x.shape and dw.shape == w.shape


@pytest.mark.parametrize("form", ["mlp_in (narrow inputs)", "mlp_out (narrow grads)"])
def test_gradients_match_central_differences(form, x64):
  """Independent of any hand derivation: d/dt L(w + t e) for random directions e."""
  lhs_shape, rhs_shape, n = DENSE_FORMS[form]
  rng = np.random.default_rng(1)
  x, w = jnp.asarray(rng.normal(size=lhs_shape)), jnp.asarray(rng.normal(size=rhs_shape))
  dims = dense_dims(x.ndim, n)
  loss = lambda x, w: jnp.sum(jnp.tanh(dense_dot_general(x, w, dims)))  # non-linear: the grad depends on x, w
  dx, dw = jax.grad(loss, argnums=(0, 1))(x, w)
  eps = 1e-6
  for _ in range(3):
    ex, ew = jnp.asarray(rng.normal(size=lhs_shape)), jnp.asarray(rng.normal(size=rhs_shape))
    numeric = (loss(x + eps * ex, w + eps * ew) - loss(x - eps * ex, w - eps * ew)) / (2 * eps)
    np.testing.assert_allclose(jnp.vdot(dx, ex) + jnp.vdot(dw, ew), numeric, rtol=1e-7)


def test_second_derivatives_equal_lax_dot_general(x64):
  """Reverse over reverse (a Hessian-vector product, as a gradient penalty needs) through the custom VJP."""
  rng = np.random.default_rng(2)
  x, w, v = (jnp.asarray(rng.normal(size=s)) for s in ((3, 5, 4), (4, 7), (4, 7)))
  dims = dense_dims(3, 1)

  def hessian_times_v(dot):
    grad_w = jax.grad(lambda w: jnp.sum(jnp.sin(dot(x, w, dims))))
    return jax.grad(lambda w: jnp.vdot(grad_w(w), v))(w)

  np.testing.assert_allclose(hessian_times_v(dense_dot_general), hessian_times_v(lax.dot_general), rtol=1e-12)


@pytest.mark.parametrize("lhs_shape,rhs_shape,dims", [
    ((2, 3, 4), (2, 4, 5), (((2,), (1,)), ((0,), (0,)))),   # batched matmul
    ((4, 3), (4, 5), (((0,), (0,)), ((), ()))),             # contracting the lhs's first axis
])
def test_other_forms_are_plain_dot_general(lhs_shape, rhs_shape, dims, x64):
  """Batch axes, or contracting axes not at the ends, go to lax.dot_general unchanged (values and grads)."""
  rng = np.random.default_rng(3)
  x, w = jnp.asarray(rng.normal(size=lhs_shape)), jnp.asarray(rng.normal(size=rhs_shape))

  def value_and_grads(dot):
    return dot(x, w, dims), jax.grad(lambda a, b: jnp.sum(jnp.cos(dot(a, b, dims))), argnums=(0, 1))(x, w)

  ours, reference = value_and_grads(dense_dot_general), value_and_grads(lax.dot_general)
  for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(reference)):
    np.testing.assert_array_equal(a, b)


def test_low_precision_inputs_keep_their_dtypes():
  x = jnp.ones((2, 3, 4), jnp.bfloat16)
  w = jnp.full((4, 5), 0.5, jnp.bfloat16)
  dims = dense_dims(3, 1)
  out = dense_dot_general(x, w, dims, preferred_element_type=jnp.float32)
  assert out.dtype == jnp.float32
  np.testing.assert_array_equal(out, np.full((2, 3, 5), 2.0, np.float32))
  dx, dw = jax.grad(lambda x, w: dense_dot_general(x, w, dims, preferred_element_type=jnp.float32).sum(),
                    argnums=(0, 1))(x, w)
  assert dx.dtype == jnp.bfloat16 and dw.dtype == jnp.bfloat16
  np.testing.assert_array_equal(dx.astype(np.float32), np.full((2, 3, 4), 2.5, np.float32))  # 5 x 0.5
  np.testing.assert_array_equal(dw.astype(np.float32), np.full((4, 5), 6.0, np.float32))      # 2 x 3 ones


def test_flax_dense_layers_built_on_it_match_the_default(x64):
  """Dense and DenseGeneral with ``dot_general=dense_dot_general``: same params, outputs and gradients."""
  x = jnp.asarray(np.random.default_rng(4).normal(size=(2, 3, 6)))
  layers = [(lambda **kw: nn.Dense(5, **kw), x),
            (lambda **kw: nn.DenseGeneral((2, 3), **kw), x),
            (lambda **kw: nn.DenseGeneral(4, axis=(-2, -1), **kw), x.reshape(2, 3, 2, 3))]
  for make, inputs in layers:
    ours, default = make(dot_general=dense_dot_general, param_dtype=jnp.float64), make(param_dtype=jnp.float64)
    params = default.init(jax.random.key(0), inputs)
    assert jax.tree.structure(ours.init(jax.random.key(0), inputs)) == jax.tree.structure(params)
    loss = lambda p, m: jnp.sum(jnp.sin(m.apply(p, inputs)))
    np.testing.assert_allclose(ours.apply(params, inputs), default.apply(params, inputs), rtol=1e-12)
    for a, b in zip(jax.tree.leaves(jax.grad(loss)(params, ours)), jax.tree.leaves(jax.grad(loss)(params, default))):
      np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------------------- convolutions

CONVS = [  # (size, in, out, stride, padding)
    (28, 1, 3, 2, "SAME"), (14, 3, 4, 2, "SAME"), (9, 2, 3, 2, "SAME"), (10, 2, 3, 1, "VALID"), (7, 2, 2, 3, "SAME"),
]
CONV_TRANSPOSES = [(7, 3, 2, 2), (14, 2, 1, 2), (5, 2, 2, 3), (6, 2, 3, 1)]  # (size, in, out, stride)


def xla_conv(x, k, stride, padding):
  return lax.conv_general_dilated(x, k, (stride, stride), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))


def xla_conv_transpose(x, k, stride):
  return lax.conv_transpose(x, k, (stride, stride), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


@pytest.mark.parametrize("size,cin,cout,stride,padding", CONVS)
def test_conv2d_equals_xla_convolution_with_its_gradients(size, cin, cout, stride, padding, x64):
  rng = np.random.default_rng(5)
  x, k = jnp.asarray(rng.normal(size=(2, size, size, cin))), jnp.asarray(rng.normal(size=(4, 4, cin, cout)))
  ours = lambda x, k: layers.conv2d(x, k, stride, padding)
  reference = lambda x, k: xla_conv(x, k, stride, padding)
  np.testing.assert_allclose(ours(x, k), reference(x, k), rtol=1e-12, atol=1e-12)
  for a, b in zip(jax.grad(lambda x, k: jnp.sum(jnp.sin(ours(x, k))), argnums=(0, 1))(x, k),
                  jax.grad(lambda x, k: jnp.sum(jnp.sin(reference(x, k))), argnums=(0, 1))(x, k)):
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("size,cin,cout,stride", CONV_TRANSPOSES)
def test_conv_transpose2d_equals_lax_conv_transpose_with_its_gradients(size, cin, cout, stride, x64):
  rng = np.random.default_rng(6)
  x, k = jnp.asarray(rng.normal(size=(2, size, size, cin))), jnp.asarray(rng.normal(size=(4, 4, cin, cout)))
  out = layers.conv_transpose2d(x, k, stride)
  assert out.shape == (2, stride * size, stride * size, cout)
  np.testing.assert_allclose(out, xla_conv_transpose(x, k, stride), rtol=1e-12, atol=1e-12)
  for a, b in zip(jax.grad(lambda x, k: jnp.sum(jnp.sin(layers.conv_transpose2d(x, k, stride))), argnums=(0, 1))(x, k),
                  jax.grad(lambda x, k: jnp.sum(jnp.sin(xla_conv_transpose(x, k, stride))), argnums=(0, 1))(x, k)):
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_conv_modules_match_flax_layers_parameter_for_parameter(x64):
  """Same parameter tree and auto-names as nn.Conv / nn.ConvTranspose, the same outputs for both impls: a
  checkpoint of one loads into the other."""
  x = jnp.asarray(np.random.default_rng(7).normal(size=(2, 14, 14, 3)))
  pairs = [(nn.Conv(4, (4, 4), (2, 2), padding="SAME", param_dtype=jnp.float64), layers.Conv(4, (4, 4), 2)),
           (nn.ConvTranspose(4, (4, 4), (2, 2), padding="SAME", param_dtype=jnp.float64), layers.ConvTranspose(4, (4, 4), 2))]
  for flax_layer, ours in pairs:
    params = flax_layer.init(jax.random.key(0), x)
    assert jax.tree.map(jnp.shape, ours.init(jax.random.key(0), x)) == jax.tree.map(jnp.shape, params)
    for impl in ("patches", "xla"):
      np.testing.assert_allclose(ours.clone(impl=impl).apply(params, x), flax_layer.apply(params, x),
                                 rtol=1e-12, atol=1e-12)
  with pytest.raises(ValueError, match="conv impl"):
    layers.Conv(4, (4, 4), impl="cudnn").init(jax.random.key(0), x)
