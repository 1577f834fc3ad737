"""Tests for bigjax.models: layers.conv2d/Conv at stride 1 (xla and patches) against a float64 NumPy loop, max
pooling, the seed's CNN (parameter count, tree layout, a float64 NumPy forward), CNN and MLP (shapes, dropout, init).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigjax.models.cnn import CNN, SeedCNN, max_pool_2x2
from bigjax.models.layers import Conv, conv2d
from bigjax.models.mlp import MLP


# ----------------------------------------------------------------------------- NumPy references ---

def np_conv2d(x, kernel, padding):
  """Direct-loop float64 stride-1 cross-correlation, NHWC x HWIO; SAME pads like TF/XLA (extra on the high side)."""
  x = np.asarray(x, np.float64)
  kernel = np.asarray(kernel, np.float64)
  kh, kw, cin, cout = kernel.shape
  if padding == "SAME":
    x = np.pad(x, ((0, 0), ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0)))
  b, h, w, _ = x.shape
  ho, wo = h - kh + 1, w - kw + 1
  out = np.zeros((b, ho, wo, cout))
  for n in range(b):
    for i in range(ho):
      for j in range(wo):
        for f in range(cout):
          out[n, i, j, f] = np.sum(x[n, i:i + kh, j:j + kw, :] * kernel[:, :, :, f])
  return out


def np_max_pool_2x2(x):
  """Loop 2x2/stride-2 max pool, dropping the last row/column of odd sizes (Keras' floor)."""
  x = np.asarray(x, np.float64)
  b, h, w, c = x.shape
  out = np.empty((b, h // 2, w // 2, c))
  for i in range(h // 2):
    for j in range(w // 2):
      out[:, i, j, :] = x[:, 2 * i:2 * i + 2, 2 * j:2 * j + 2, :].max(axis=(1, 2))
  return out


def assert_close(actual, expected, rtol=1e-5, atol=1e-5):
  np.testing.assert_allclose(np.asarray(actual, np.float64), expected, rtol=rtol, atol=atol)


# --------------------------------------------------------------------------------------- conv2d ---

CONV_CASES = [  # (batch, h, w, cin, cout, (kh, kw))
    (2, 7, 6, 1, 4, (3, 3)),
    (1, 8, 8, 3, 5, (3, 2)),
    (2, 9, 7, 2, 3, (5, 5)),
    (1, 5, 5, 4, 1, (1, 1)),
    (1, 6, 7, 2, 2, (2, 4)),
]


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"b{c[0]}_{c[1]}x{c[2]}_c{c[3]}-{c[4]}_k{c[5][0]}x{c[5][1]}")
def test_conv2d_impls_match_numpy_loop(case, padding):
  b, h, w, cin, cout, (kh, kw) = case
  rng = np.random.default_rng([CONV_CASES.index(case), padding == "SAME"])
  x = rng.standard_normal((b, h, w, cin)).astype(np.float32)
  kernel = rng.standard_normal((kh, kw, cin, cout)).astype(np.float32)
  expected = np_conv2d(x, kernel, padding)
  out_shape = (b, h - kh + 1, w - kw + 1, cout) if padding == "VALID" else (b, h, w, cout)
  assert expected.shape == out_shape
  for impl in ("xla", "patches"):
    out = conv2d(jnp.asarray(x), jnp.asarray(kernel), padding=padding, impl=impl)
    assert out.shape == out_shape, impl
    assert_close(out, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_conv2d_unknown_impl_raises():
  with pytest.raises(ValueError, match="'cudnn'"):
    conv2d(jnp.zeros((1, 4, 4, 1)), jnp.zeros((3, 3, 1, 1)), padding="VALID", impl="cudnn")


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
def test_conv_module_adds_bias_and_impls_share_params(padding):
  x = jnp.asarray(np.random.default_rng(1).standard_normal((2, 6, 5, 3)), jnp.float32)
  shapes = jax.eval_shape(Conv(4, (3, 2), padding=padding).init, jax.random.key(0), x)["params"]
  assert shapes["kernel"].shape == (3, 2, 3, 4) and shapes["bias"].shape == (4,)
  params = {"kernel": jnp.asarray(np.random.default_rng(2).standard_normal((3, 2, 3, 4)), jnp.float32),
            "bias": jnp.arange(4, dtype=jnp.float32)}
  expected = np_conv2d(x, params["kernel"], padding) + np.arange(4)
  for impl in ("xla", "patches"):
    out = Conv(4, (3, 2), padding=padding, impl=impl).apply({"params": params}, x)
    assert_close(out, expected)


# ---------------------------------------------------------------------------------- max pooling ---

@pytest.mark.parametrize("hw", [(4, 4), (5, 5), (7, 4), (6, 9), (26, 26), (3, 2)])
def test_max_pool_2x2_matches_numpy_with_floor(hw):
  h, w = hw
  x = np.random.default_rng(h * 31 + w).standard_normal((2, h, w, 3)).astype(np.float32)
  out = max_pool_2x2(jnp.asarray(x))
  assert out.shape == (2, h // 2, w // 2, 3)
  np.testing.assert_array_equal(np.asarray(out), np_max_pool_2x2(x).astype(np.float32))


def test_max_pool_2x2_hand_computed():
  x = np.arange(25, dtype=np.float32).reshape(1, 5, 5, 1)
  # Windows start at rows/cols 0 and 2; the max of each is its bottom-right entry; row/col 4 dropped.
  np.testing.assert_array_equal(np.asarray(max_pool_2x2(jnp.asarray(x)))[0, :, :, 0], [[6, 8], [16, 18]])


# ------------------------------------------------------------------------------------- SeedCNN ---
# Parameters come from jax.eval_shape (layout only) filled with NumPy values: each eager jax.random
# call compiles a threefry kernel, which costs seconds on the shared 2-core machine.

def random_params(model, x, seed=0, scale=0.1):
  """The model's parameter tree (from ``eval_shape``, no compile) filled with N(0, scale^2) float32 values."""
  shapes = jax.eval_shape(model.init, jax.random.key(0), x)["params"]
  rng = np.random.default_rng(seed)
  return jax.tree.map(lambda s: jnp.asarray(rng.standard_normal(s.shape) * scale, jnp.float32), shapes)


def tree_shapes(tree):
  return {"/".join(str(k.key) for k in path): tuple(leaf.shape)
          for path, leaf in jax.tree_util.tree_leaves_with_path(tree)}


@pytest.mark.parametrize("impl", ["xla", "patches"])
def test_seed_cnn_param_count_and_tree(impl):
  shapes = tree_shapes(jax.eval_shape(SeedCNN(impl=impl).init, jax.random.key(0), jnp.zeros((1, 28, 28, 1)))["params"])
  assert shapes == {
      "Conv_0/kernel": (3, 3, 1, 32), "Conv_0/bias": (32,),
      "Dense_0/kernel": (5408, 10), "Dense_0/bias": (10,),
  }
  sizes = {k: int(np.prod(s)) for k, s in shapes.items()}
  assert sizes["Conv_0/kernel"] + sizes["Conv_0/bias"] == 320  # Keras model.summary() of the seed
  assert sizes["Dense_0/kernel"] + sizes["Dense_0/bias"] == 54_090
  assert sum(sizes.values()) == 54_410


def np_seed_cnn(params, x):
  """float64 forward: conv 3x3 VALID + bias -> ReLU -> 2x2 max pool -> flatten (NHWC order) -> dense."""
  p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
  h = np.maximum(np_conv2d(x, p["Conv_0"]["kernel"], "VALID") + p["Conv_0"]["bias"], 0.0)
  h = np_max_pool_2x2(h)
  h = h.reshape(h.shape[0], -1)
  return h @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]


def test_seed_cnn_impls_agree_and_match_numpy_forward():
  x = np.random.default_rng(2).random((2, 28, 28, 1)).astype(np.float32)
  params = random_params(SeedCNN(), jnp.asarray(x), seed=3)  # non-zero biases: their placement is checked too
  xla = SeedCNN(impl="xla").apply({"params": params}, jnp.asarray(x))
  patches = SeedCNN(impl="patches").apply({"params": params}, jnp.asarray(x))
  assert xla.shape == patches.shape == (2, 10)
  np.testing.assert_allclose(np.asarray(xla), np.asarray(patches), rtol=1e-5, atol=1e-5)
  expected = np_seed_cnn(params, x)
  assert_close(xla, expected)
  assert_close(patches, expected)


# ----------------------------------------------------------------------------------------- CNN ---

def test_cnn_default_shapes():
  model = CNN()
  x = jnp.zeros((3, 28, 28, 1))
  out = jax.eval_shape(lambda: model.init_with_output(jax.random.key(0), x)[0])
  assert out.shape == (3, 10)
  shapes = tree_shapes(jax.eval_shape(model.init, jax.random.key(0), x)["params"])
  # 28 -> 26 -> 24 -> 12 -> 10 -> 8 -> 4: the first dense layer sees 4*4*64 features.
  assert shapes["Conv_0/kernel"] == (3, 3, 1, 32) and shapes["Conv_1/kernel"] == (3, 3, 32, 32)
  assert shapes["Conv_2/kernel"] == (3, 3, 32, 64) and shapes["Conv_3/kernel"] == (3, 3, 64, 64)
  assert shapes["Dense_0/kernel"] == (4 * 4 * 64, 256) and shapes["Dense_1/kernel"] == (256, 10)


@pytest.fixture(scope="module")
def small_cnn():
  # 20 -> 18 -> 16 -> 8 -> 6 -> 4 -> 2
  model = CNN(num_classes=7, stages=(4, 8), dense=16)
  x = jnp.asarray(np.random.default_rng(4).random((3, 20, 20, 1)), jnp.float32)
  return model, random_params(model, x, seed=5, scale=0.5), x


def test_cnn_output_shape(small_cnn):
  model, params, x = small_cnn
  assert params["Dense_0"]["kernel"].shape == (2 * 2 * 8, 16)
  assert model.apply({"params": params}, x).shape == (3, 7)


def test_cnn_dropout_only_in_training(small_cnn):
  model, params, x = small_cnn
  apply = lambda train, seed: np.asarray(model.apply(
      {"params": params}, x, train=train, rngs={"dropout": jax.random.key(seed, impl="rbg")}))
  eval_out = apply(False, 1)
  np.testing.assert_array_equal(eval_out, apply(False, 2))
  np.testing.assert_array_equal(eval_out, np.asarray(model.apply({"params": params}, x)))
  train_1 = apply(True, 1)
  assert not np.allclose(train_1, apply(True, 2))
  assert not np.allclose(train_1, eval_out)
  np.testing.assert_array_equal(train_1, apply(True, 1))  # same rng, same mask


def test_cnn_impls_agree(small_cnn):
  model, params, x = small_cnn
  xla = CNN(num_classes=7, stages=(4, 8), dense=16, impl="xla").apply({"params": params}, x)
  patches = model.apply({"params": params}, x)
  np.testing.assert_allclose(np.asarray(xla), np.asarray(patches), rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------------------- MLP ---

def test_mlp_shape_and_forward_matches_numpy():
  model = MLP(num_classes=4, hidden=(6, 5))
  x = np.random.default_rng(5).standard_normal((3, 2, 4)).astype(np.float32)  # flattened to 8 features
  params = random_params(model, jnp.asarray(x), seed=6, scale=0.5)
  assert [params[f"Dense_{i}"]["kernel"].shape for i in range(3)] == [(8, 6), (6, 5), (5, 4)]
  out = model.apply({"params": params}, jnp.asarray(x))
  assert out.shape == (3, 4)
  p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
  h = x.reshape(3, -1).astype(np.float64)
  h = np.maximum(h @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"], 0)
  h = np.maximum(h @ p["Dense_1"]["kernel"] + p["Dense_1"]["bias"], 0)
  assert_close(out, h @ p["Dense_2"]["kernel"] + p["Dense_2"]["bias"])


def test_mlp_init_deterministic_given_rng():
  model = MLP(num_classes=3, hidden=(8,))
  init = jax.jit(lambda rng: model.init(rng, jnp.zeros((1, 5)))["params"])  # one compile, three calls
  a, b, c = init(jax.random.key(7)), init(jax.random.key(7)), init(jax.random.key(8))
  jax.tree.map(np.testing.assert_array_equal, a, b)
  assert not np.array_equal(np.asarray(a["Dense_0"]["kernel"]), np.asarray(c["Dense_0"]["kernel"]))
  assert not np.any(np.asarray(a["Dense_0"]["bias"])) and np.any(np.asarray(a["Dense_0"]["kernel"]))


def test_mlp_dropout():
  x = jnp.asarray(np.random.default_rng(6).standard_normal((4, 10)), jnp.float32)
  model = MLP(num_classes=3, hidden=(32,), dropout=0.5)
  params = random_params(model, x, seed=7, scale=0.5)
  apply = lambda train, seed: np.asarray(model.apply(
      {"params": params}, x, train=train, rngs={"dropout": jax.random.key(seed, impl="rbg")}))
  np.testing.assert_array_equal(apply(False, 1), apply(False, 2))
  assert not np.allclose(apply(True, 1), apply(True, 2))
  # Without dropout configured, train=True changes nothing and needs no rng.
  plain = MLP(num_classes=3, hidden=(32,))
  np.testing.assert_array_equal(np.asarray(plain.apply({"params": params}, x, train=True)), apply(False, 1))
