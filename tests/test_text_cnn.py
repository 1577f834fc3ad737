"""Tests for bigjax.models.text_cnn: KimCNN against a float64 NumPy reference, padding, dropout, max_norm."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigjax.models.text_cnn import KimCNN, conv1d_wide, max_norm

VOCAB, CLASSES = 23, 3
MODEL = KimCNN(VOCAB, CLASSES, embed_dim=8, filter_widths=(3, 4, 5), num_filters=6)


# Rows: a 7-word sentence, then 1, 2 and 4 words (shorter than the widest filter), then all padding.
BATCH = np.array([[4, 9, 17, 2, 22, 5, 11, 0, 0, 0],
                  [3, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                  [7, 1, 0, 0, 0, 0, 0, 0, 0, 0],
                  [8, 8, 19, 6, 0, 0, 0, 0, 0, 0],
                  [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]], np.int32)


@pytest.fixture(scope="module")
def params():
  """Random params in KimCNN's tree (shapes from eval_shape: no compile), output weights non-zero."""
  shapes = jax.eval_shape(lambda: MODEL.init(jax.random.key(0), jnp.ones((1, 7), jnp.int32)))["params"]
  rng = np.random.default_rng(1)
  # Biases of both signs, so ReLU clips some windows; scales that keep activations O(0.1..1).
  return jax.tree.map(lambda s: jnp.asarray(rng.normal(0, 0.3, s.shape), jnp.float32), shapes)


def reference_features(p, tokens):
  """Max-over-time features of one sentence in float64, loop by loop: ``[t] -> [widths * filters]``."""
  emb = np.asarray(p["embed"]["embedding"], np.float64)
  real = [i for i, tok in enumerate(tokens) if tok != 0]
  out = []
  for width in MODEL.filter_widths:
    kernel = np.asarray(p[f"conv{width}"]["kernel"], np.float64)  # [w, d, f]
    bias = np.asarray(p[f"conv{width}"]["bias"], np.float64)
    best = np.zeros(MODEL.num_filters)  # what a sentence with no windows at all gets
    for start in range(-(width - 1), len(tokens)):  # every window that can touch the sentence
      positions = range(start, start + width)
      if not any(pos in real for pos in positions):
        continue
      act = bias.copy()
      for j, pos in enumerate(positions):
        if pos in real:  # outside the sentence, and at pad tokens, the input is zero
          act += emb[tokens[pos]] @ kernel[j]
      best = np.maximum(best, np.maximum(act, 0.0))  # ReLU, then max over time (ReLU >= 0 = best's start)
    out.append(best)
  return np.concatenate(out)


@jax.jit
def features_and_logits(p, tokens):
  logits, state = MODEL.apply({"params": p}, tokens, capture_intermediates=True, mutable=["intermediates"])
  # Dropout is the identity at eval, so its captured output is the pooled feature vector.
  return state["intermediates"]["Dropout_0"]["__call__"][0], logits


def test_features_and_logits_match_float64_reference(params):
  features, logits = features_and_logits(params, BATCH)
  w = np.asarray(params["output"]["kernel"], np.float64)
  b = np.asarray(params["output"]["bias"], np.float64)
  for row in range(len(BATCH)):
    expected = reference_features(params, BATCH[row].tolist())
    np.testing.assert_allclose(features[row], expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(logits[row], expected @ w + b, rtol=1e-5, atol=1e-6)
  assert not np.asarray(features[-1]).any()  # the all-padding row: zero features, finite logits


def test_conv1d_wide_matches_xla_convolution():
  rng = np.random.default_rng(2)
  x, kernel = rng.normal(size=(2, 6, 5)).astype(np.float32), rng.normal(size=(4, 5, 3)).astype(np.float32)
  xla = functools.partial(jax.lax.conv_general_dilated, window_strides=(1,), padding=[(3, 3)],
                          dimension_numbers=("NWC", "WIO", "NWC"))
  ours, expected = jax.jit(lambda x, k: (conv1d_wide(x, k), xla(x, k)))(x, kernel)
  np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)


def test_padding_does_not_change_logits(params):
  _, base = features_and_logits(params, BATCH)
  # 3 fewer pads on the right (the longest row fills all 7) and 2 more on the left.
  _, repadded = features_and_logits(params, np.pad(BATCH[:, :7], ((0, 0), (2, 0))))
  np.testing.assert_allclose(repadded, base, rtol=1e-6, atol=1e-6)


def test_batches_narrower_than_widest_filter(params):
  """A [2, 2] batch, narrower than the 5-wide filter, gives the logits of the same rows padded to 10."""
  _, narrow = features_and_logits(params, BATCH[1:3, :2])
  _, base = features_and_logits(params, BATCH)
  assert narrow.shape == (2, CLASSES)
  np.testing.assert_allclose(narrow, base[1:3], rtol=1e-6, atol=1e-6)


def test_dropout_only_when_training(params):
  _, eval_logits = features_and_logits(params, BATCH)
  train_apply = jax.jit(lambda p, seed: MODEL.apply({"params": p}, BATCH, train=True,
                                                    rngs={"dropout": jax.random.key(seed)}))
  train_a, train_b = train_apply(params, 1), train_apply(params, 2)
  assert not np.allclose(train_a, eval_logits) and not np.allclose(train_a, train_b)


def test_init_follows_kim():
  p = jax.jit(KimCNN(50, 2).init)(jax.random.key(3), jnp.ones((2, 9), jnp.int32))["params"]
  emb = np.asarray(p["embed"]["embedding"])
  assert emb.shape == (50, 300) and np.abs(emb).max() <= 0.25 and emb.std() > 0.1
  assert p["conv5"]["kernel"].shape == (5, 300, 100) and np.abs(p["conv5"]["kernel"]).max() <= 0.01
  assert p["output"]["kernel"].shape == (300, 2) and not np.asarray(p["output"]["kernel"]).any()


def test_bad_tokens_are_refused():
  with pytest.raises(ValueError, match=r"integer token ids \[batch, time\]"):
    MODEL.init(jax.random.key(0), jnp.ones((7,), jnp.int32))


def test_max_norm_rescales_only_long_columns():
  kernel = np.zeros((4, 3), np.float32)
  kernel[:, 0] = [3.0, 4.0, 0.0, 0.0]    # norm 5 -> rescaled to 3
  kernel[:, 1] = [1.0, 2.0, 2.0, 0.0]    # norm 3: at the limit, untouched
  kernel[:, 2] = [0.1, -0.2, 0.3, 0.4]   # well under the limit, untouched
  bias = jnp.ones(3)
  p = {"conv3": {"kernel": jnp.ones((2, 2))}, "output": {"kernel": jnp.asarray(kernel), "bias": bias}}
  out = jax.jit(max_norm, static_argnums=1)(p, 3.0)
  new = np.asarray(out["output"]["kernel"])
  np.testing.assert_allclose(np.linalg.norm(new, axis=0), [3.0, 3.0, np.linalg.norm(kernel[:, 2])], rtol=1e-6)
  np.testing.assert_allclose(new[:, 0], [1.8, 2.4, 0.0, 0.0], rtol=1e-6)
  np.testing.assert_array_equal(new[:, 1:], kernel[:, 1:])
  np.testing.assert_array_equal(out["output"]["bias"], bias)
  np.testing.assert_array_equal(out["conv3"]["kernel"], p["conv3"]["kernel"])
  np.testing.assert_array_equal(p["output"]["kernel"], kernel)  # the input tree is not mutated
  wrapped = max_norm({"params": p}, 3.0)
  np.testing.assert_array_equal(wrapped["params"]["output"]["kernel"], new)
  with pytest.raises(KeyError, match="no output/kernel"):
    max_norm({"dense": {"kernel": jnp.ones((2, 2))}})
