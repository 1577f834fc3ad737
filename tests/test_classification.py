"""Tests for bigjax.tasks.classification and bigjax.evals.classification.

Losses against float64 NumPy (stable log-softmax), gradients of the task loss against central finite
differences of a float64 NumPy re-implementation of the same forward + loss, masked evaluation sums
and accuracy on hand-computed cases.
"""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from bigjax.evals import classification as metrics
from bigjax.models.mlp import MLP
from bigjax.tasks import classification as task

LOSSES = ["softmax_xent", "mse"]


# ----------------------------------------------------------------------------- NumPy references ---

def np_log_softmax(z):
  z = np.asarray(z, np.float64)
  shifted = z - z.max(axis=-1, keepdims=True)
  return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def np_per_example_loss(logits, labels, loss):
  logp = np_log_softmax(logits)
  labels = np.asarray(labels)
  if loss == "softmax_xent":
    return -logp[np.arange(len(labels)), labels]
  one_hot = np.eye(logp.shape[-1])[labels]
  return ((np.exp(logp) - one_hot) ** 2).mean(axis=-1)


def np_mlp(params, x):
  """float64 forward of MLP: Dense -> ReLU for each hidden layer, then Dense (flax names Dense_i)."""
  n = len(params)
  h = np.asarray(x, np.float64).reshape(len(x), -1)
  for i in range(n):
    h = h @ params[f"Dense_{i}"]["kernel"] + params[f"Dense_{i}"]["bias"]
    if i < n - 1:
      h = np.maximum(h, 0.0)
  return h


def np_loss(params, batch, loss):
  return np_per_example_loss(np_mlp(params, batch["image"]), batch["label"], loss).mean()


def finite_difference_grad(f, params, eps=1e-6):
  """Central differences of scalar ``f`` over every entry of a float64 {layer: {name: array}} tree."""
  grads = {}
  for layer, leaves in params.items():
    grads[layer] = {}
    for name, value in leaves.items():
      g = np.zeros_like(value)
      for idx in np.ndindex(value.shape):
        orig = value[idx]
        value[idx] = orig + eps
        up = f(params)
        value[idx] = orig - eps
        down = f(params)
        value[idx] = orig
        g[idx] = (up - down) / (2 * eps)
      grads[layer][name] = g
  return grads


def config(loss):
  return ml_collections.ConfigDict({"loss": loss, "random_shift": 0})


def random_params(model, x, seed):
  """Parameter tree layout from eval_shape (no compile) filled with NumPy float64 values."""
  shapes = jax.eval_shape(model.init, jax.random.key(0), x)["params"]
  rng = np.random.default_rng(seed)
  return jax.tree.map(lambda s: rng.standard_normal(s.shape) * 0.7, shapes)


# ------------------------------------------------------------------------------ per-example loss ---

@pytest.mark.parametrize("loss", LOSSES)
def test_per_example_loss_matches_numpy(loss):
  rng = np.random.default_rng(0)
  logits = (rng.standard_normal((6, 5)) * 3).astype(np.float32)
  labels = rng.integers(0, 5, 6)
  out = task.per_example_loss(jnp.asarray(logits), jnp.asarray(labels, jnp.int32), loss)
  assert out.shape == (6,)
  np.testing.assert_allclose(np.asarray(out, np.float64), np_per_example_loss(logits, labels, loss),
                             rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("loss", LOSSES)
def test_per_example_loss_large_logits_no_overflow(loss):
  logits = np.array([[1000.0, 0.0, -1000.0],
                     [1000.0, 1000.0, 0.0],
                     [-1000.0, 1000.0, 999.0],
                     [500.0, -500.0, 0.0]], np.float32)
  labels = np.array([0, 1, 2, 1])
  out = np.asarray(task.per_example_loss(jnp.asarray(logits), jnp.asarray(labels, jnp.int32), loss), np.float64)
  assert np.all(np.isfinite(out))
  # optax computes logsumexp(z) - z[label] without subtracting the max first, so the result carries the
  # float32 rounding of numbers of size max|z| (an ulp of 1000 is 6e-5): accurate to that, and finite.
  atol = 2 * np.finfo(np.float32).eps * np.abs(logits).max()
  expected = np_per_example_loss(logits, labels, loss)
  np.testing.assert_allclose(out, expected, rtol=1e-6, atol=atol)
  if loss == "softmax_xent":
    # Hand values: log 1 = 0; log 2; 1 + log(1 + e^-1); 1000.
    np.testing.assert_allclose(out, [0.0, np.log(2), 1 + np.log1p(np.exp(-1)), 1000.0], rtol=1e-6, atol=atol)
  else:
    # softmax([1000, 1000, 0]) = [.5, .5, 0] against [0, 1, 0]: (0.25 + 0.25 + 0) / 3.
    np.testing.assert_allclose(out[:2], [0.0, 0.5 / 3], rtol=1e-6, atol=1e-7)


def test_per_example_loss_unknown_raises():
  with pytest.raises(ValueError, match="'hinge'"):
    task.per_example_loss(jnp.zeros((1, 2)), jnp.zeros((1,), jnp.int32), "hinge")


# ------------------------------------------------------------------------------ loss + gradients ---

@pytest.mark.parametrize("hidden", [(), (5,)], ids=["linear", "hidden5"])
@pytest.mark.parametrize("loss", LOSSES)
def test_loss_value_and_grad_match_finite_differences(loss, hidden):
  k = 3
  model = MLP(num_classes=k, hidden=hidden)
  rng = np.random.default_rng(len(hidden) * 10 + LOSSES.index(loss))
  batch = {"image": rng.standard_normal((6, 2, 2)).astype(np.float32), "label": rng.integers(0, k, 6)}
  params64 = random_params(model, jnp.asarray(batch["image"]), seed=int(rng.integers(1 << 30)))
  params32 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), params64)
  # The reference sees exactly the float32 values jax sees.
  params64 = jax.tree.map(lambda a: np.asarray(a, np.float32).astype(np.float64), params64)
  jbatch = {"image": jnp.asarray(batch["image"]), "label": jnp.asarray(batch["label"], jnp.int32)}

  value_and_grad = jax.jit(jax.value_and_grad(
      lambda p: task.loss(model, p, jbatch, jax.random.key(0, impl="rbg"), config(loss)), has_aux=True))
  (value, aux), grads = value_and_grad(params32)

  expected_value = np_loss(params64, batch, loss)
  np.testing.assert_allclose(float(value), expected_value, rtol=1e-5)
  np.testing.assert_allclose(float(aux["loss"]), expected_value, rtol=1e-5)
  logits = np_mlp(params64, batch["image"])
  np.testing.assert_allclose(float(aux["accuracy"]), np.mean(logits.argmax(-1) == batch["label"]), rtol=1e-6)

  expected_grads = finite_difference_grad(lambda p: np_loss(p, batch, loss), params64)
  assert jax.tree.structure(grads) == jax.tree.structure(expected_grads)
  for layer in expected_grads:
    for name in expected_grads[layer]:
      np.testing.assert_allclose(np.asarray(grads[layer][name], np.float64), expected_grads[layer][name],
                                 rtol=1e-3, atol=1e-5, err_msg=f"{layer}/{name}")


def test_linear_model_grad_closed_form():
  """For logits = x W + b and softmax_xent, dL/dW = x^T (softmax - onehot) / n exactly."""
  model = MLP(num_classes=4, hidden=())
  rng = np.random.default_rng(11)
  x = rng.standard_normal((5, 3)).astype(np.float32)
  labels = rng.integers(0, 4, 5)
  params64 = jax.tree.map(lambda a: np.asarray(a, np.float32).astype(np.float64),
                          random_params(model, jnp.asarray(x), seed=12))
  params32 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), params64)
  batch = {"image": jnp.asarray(x), "label": jnp.asarray(labels, jnp.int32)}
  grads = jax.grad(lambda p: task.loss(model, p, batch, jax.random.key(0, impl="rbg"), config("softmax_xent"))[0])(
      params32)
  delta = (np.exp(np_log_softmax(np_mlp(params64, x))) - np.eye(4)[labels]) / 5
  np.testing.assert_allclose(np.asarray(grads["Dense_0"]["kernel"]), x.astype(np.float64).T @ delta,
                             rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(np.asarray(grads["Dense_0"]["bias"]), delta.sum(0), rtol=1e-4, atol=1e-6)


def test_init_returns_model_params():
  model = MLP(num_classes=3, hidden=(4,))
  batch = {"image": jnp.zeros((2, 5)), "label": jnp.zeros((2,), jnp.int32)}
  key = jax.random.key(3, impl="rbg")
  params = task.init(model, key, batch)
  assert set(params) == {"Dense_0", "Dense_1"}  # the "params" collection itself, not the variables dict
  assert params["Dense_0"]["kernel"].shape == (5, 4) and params["Dense_1"]["kernel"].shape == (4, 3)
  jax.tree.map(np.testing.assert_array_equal, params, model.init({"params": key}, batch["image"])["params"])


# ----------------------------------------------------------------------------------- evaluation ---

@pytest.mark.parametrize("loss", LOSSES)
def test_evaluate_respects_mask(loss):
  k = 4
  model = MLP(num_classes=k, hidden=())
  rng = np.random.default_rng(21)
  real, pad = 5, 3
  images = rng.standard_normal((real + pad, 6)).astype(np.float32)
  images[real:] *= 1e3  # padding rows with huge values: any leak would show
  labels = rng.integers(0, k, real + pad)
  mask = np.array([1.0] * real + [0.0] * pad, np.float32)
  params64 = jax.tree.map(lambda a: np.asarray(a, np.float32).astype(np.float64),
                          random_params(model, jnp.asarray(images), seed=22))
  params32 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), params64)
  evaluate = jax.jit(lambda p, b: task.evaluate(model, p, b, config(loss)))
  out = evaluate(params32, {"image": jnp.asarray(images), "label": jnp.asarray(labels, jnp.int32),
                            "mask": jnp.asarray(mask)})
  assert set(out) == {"loss", "accuracy", "count"}

  logits = np_mlp(params64, images[:real])
  np.testing.assert_allclose(float(out["loss"]), np_per_example_loss(logits, labels[:real], loss).sum(), rtol=1e-5)
  assert float(out["accuracy"]) == float(np.sum(logits.argmax(-1) == labels[:real]))
  assert float(out["count"]) == real

  # The same sums as evaluating only the real rows.
  real_only = evaluate(params32, {"image": jnp.asarray(images[:real]), "label": jnp.asarray(labels[:real], jnp.int32),
                                  "mask": jnp.ones((real,), jnp.float32)})
  for key in out:
    np.testing.assert_allclose(float(out[key]), float(real_only[key]), rtol=1e-6)


def test_evaluate_all_padding_is_zero():
  model = MLP(num_classes=3, hidden=())
  images = np.ones((4, 2), np.float32)
  params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), random_params(model, jnp.asarray(images), seed=1))
  out = task.evaluate(model, params, {"image": jnp.asarray(images), "label": jnp.zeros((4,), jnp.int32),
                                      "mask": jnp.zeros((4,), jnp.float32)}, config("softmax_xent"))
  assert {k: float(v) for k, v in out.items()} == {"loss": 0.0, "accuracy": 0.0, "count": 0.0}


# -------------------------------------------------------------------------------------- metrics ---

def test_correct_hand_computed_with_ties():
  logits = jnp.array([[1.0, 1.0, 0.0],   # tie 0/1 -> argmax 0
                      [1.0, 1.0, 0.0],   # same tie, label 1 -> wrong
                      [0.0, 2.0, 2.0],   # tie 1/2 -> argmax 1
                      [0.0, 2.0, 2.0],   # label 2 -> wrong
                      [5.0, 5.0, 5.0],   # all equal -> 0
                      [-1.0, -3.0, -0.5]])
  labels = jnp.array([0, 1, 1, 2, 0, 2])
  np.testing.assert_array_equal(np.asarray(metrics.correct(logits, labels)), [1, 0, 1, 0, 1, 1])
  assert np.asarray(metrics.correct(logits, labels)).dtype == np.float32
  np.testing.assert_allclose(float(metrics.accuracy(logits, labels)), 4 / 6, rtol=1e-6)


def test_accuracy_all_wrong_and_all_right():
  logits = jnp.eye(4)
  assert float(metrics.accuracy(logits, jnp.array([1, 2, 3, 0]))) == 0.0
  assert float(metrics.accuracy(logits, jnp.arange(4))) == 1.0


def test_accuracy_weighted():
  logits = jnp.eye(4)
  labels = jnp.array([0, 1, 0, 0])  # hits: 1, 1, 0, 0
  assert float(metrics.accuracy(logits, labels, jnp.array([1.0, 1.0, 1.0, 0.0]))) == pytest.approx(2 / 3)
  assert float(metrics.accuracy(logits, labels, jnp.array([1.0, 0.0, 0.0, 0.0]))) == 1.0
  assert float(metrics.accuracy(logits, labels, jnp.array([0.0, 0.0, 1.0, 1.0]))) == 0.0
  # Non-binary weights: (2*1 + 1*1 + 1*0) / 4.
  assert float(metrics.accuracy(logits, labels, jnp.array([2.0, 1.0, 1.0, 0.0]))) == pytest.approx(3 / 4)
  # All weight zero (an all-padding batch) gives 0, not NaN.
  assert float(metrics.accuracy(logits, labels, jnp.zeros(4))) == 0.0


def test_random_shift_translates_each_image_with_zero_fill():
  import jax
  from bigjax.tasks.classification import random_shift
  rng = np.random.default_rng(0)
  images = rng.random((16, 6, 5, 2)).astype(np.float32)
  key = jax.random.PRNGKey(3)
  shifted = np.asarray(random_shift(jnp.asarray(images), key, 2))
  offsets = np.asarray(jax.random.randint(key, (16, 2), 0, 5)) - 2  # the shifts random_shift drew
  assert len({tuple(o) for o in offsets}) > 1
  for image, out, (dy, dx) in zip(images, shifted, offsets):
    padded = np.pad(image, ((2, 2), (2, 2), (0, 0)))
    np.testing.assert_array_equal(out, padded[2 + dy:2 + dy + 6, 2 + dx:2 + dx + 5])
