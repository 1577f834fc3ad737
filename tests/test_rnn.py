"""Tests for bigjax.models.rnn: flax's cells against float64 NumPy recurrences (gate layout as flax defines
it), padding and the backward direction's start, carry continuation in the language model, stacking and
dropout, the classifier's padding invariance, and jax.grad against finite differences.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigjax.models.rnn import RNNClassifier, RNNLanguageModel, StackedRNN, make_cell, zero_carry

BATCH, TIME, FEATURES, HIDDEN = 3, 7, 4, 5


@pytest.fixture
def x64():
  """float64 inside the test only; the flag is restored on exit so other tests keep float32."""
  with jax.enable_x64(True):
    yield


def to64(tree):
  return jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), tree)


# ----------------------------------------------------------------------------- NumPy references ---

def sigmoid(v):
  return 1.0 / (1.0 + np.exp(-v))


def np_rnn(cell, params, x):
  """float64 recurrence from zeros, written from flax's source; ``x [b, t, f]`` -> outputs ``[b, t, h]``, carry."""
  p = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), params)
  x = np.asarray(x, np.float64)
  k = lambda name: p[name]["kernel"]
  batch, time, _ = x.shape
  hidden = k("h" if cell == "rnn" else "hr" if cell == "gru" else "hi").shape[0]
  h, c = np.zeros((batch, hidden)), np.zeros((batch, hidden))
  outputs = []
  for t in range(time):
    xt = x[:, t]
    if cell == "rnn":  # bias on the input side only
      h = np.tanh(xt @ k("i") + p["i"]["bias"] + h @ k("h"))
    elif cell == "lstm":  # input kernels have no bias; one bias per gate on the recurrent side
      gate = lambda g: xt @ k("i" + g) + h @ k("h" + g) + p["h" + g]["bias"]
      i, f, g, o = sigmoid(gate("i")), sigmoid(gate("f")), np.tanh(gate("g")), sigmoid(gate("o"))
      c = f * c + i * g
      h = o * np.tanh(c)
    else:  # gru: input biases on r, z, n; hn has its own bias, inside the reset gate's product
      r = sigmoid(xt @ k("ir") + p["ir"]["bias"] + h @ k("hr"))
      z = sigmoid(xt @ k("iz") + p["iz"]["bias"] + h @ k("hz"))
      n = np.tanh(xt @ k("in") + p["in"]["bias"] + r * (h @ k("hn") + p["hn"]["bias"]))
      h = (1.0 - z) * n + z * h
    outputs.append(h)
  return np.stack(outputs, axis=1), ((c, h) if cell == "lstm" else h)


def random_params(model, *args, seed=0):
  """Parameters of ``model`` drawn from N(0, 0.5^2), biases included, so no misplaced bias hides behind a
  zero init. ``eval_shape`` traces flax's init without compiling it (a compiled init costs seconds here)."""
  shapes = jax.eval_shape(model.init, jax.random.key(0), *args)
  rng = np.random.default_rng(seed)
  return jax.tree_util.tree_map(lambda s: jnp.asarray(0.5 * rng.standard_normal(s.shape), s.dtype), shapes)


def init_layer(cell, bidirectional=False, num_layers=1, seed=0):
  model = StackedRNN(cell, HIDDEN, num_layers, bidirectional)
  x = jnp.asarray(np.random.default_rng(seed).standard_normal((BATCH, TIME, FEATURES)), jnp.float32)
  return model, random_params(model, x, seed=seed), x


def assert_close(actual, expected, tol):
  np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64), rtol=tol, atol=tol)


def jitted(model):
  """``model.apply`` compiled once per shape: eager flax scans recompile on every call."""
  return jax.jit(model.apply, static_argnames="train")


# ----------------------------------------------------------------------------------- cell math ---

@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_layer_matches_numpy_float32(cell):
  model, params, x = init_layer(cell)
  y, _ = jitted(model)(params, x)
  assert y.dtype == jnp.float32
  assert_close(y, np_rnn(cell, params["params"]["layer_0"]["cell"], x)[0], 1e-5)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_layer_matches_numpy_float64(cell, x64):
  model, params, x = init_layer(cell)
  params, x = to64(params), to64(x)
  y, carries = jitted(model)(params, x)
  assert y.dtype == jnp.float64
  expected, expected_carry = np_rnn(cell, params["params"]["layer_0"]["cell"], x)
  assert_close(y, expected, 1e-10)
  jax.tree_util.tree_map(lambda a, e: assert_close(a, e, 1e-10), carries[0], expected_carry)


def test_unknown_cell_is_an_actionable_error():
  with pytest.raises(ValueError, match="lstm"):
    make_cell("transformer", 4)


# -------------------------------------------------------------------------------------- padding ---

def test_padding_forward_and_backward_directions():
  model, params, x = init_layer("lstm", bidirectional=True)
  lengths = np.array([7, 4, 2])
  # Padding filled with large noise: any leak into a valid position would show.
  x = np.where((np.arange(TIME)[None, :] < lengths[:, None])[..., None], x, 50.0 * np.asarray(x)[::-1])
  # NumPy from here on: eager slicing of jax arrays would compile one tiny program per slice.
  y, ((fwd_carry, bwd_carry),) = jax.device_get(jitted(model)(params, jnp.asarray(x), jnp.asarray(lengths)))
  layer = params["params"]["layer_0"]
  for b, n in enumerate(lengths):
    # The unpadded sequence through the (separately verified) float64 reference.
    unpadded = x[b:b + 1, :n]
    y_fwd, carry = np_rnn("lstm", layer["forward_rnn"]["cell"], unpadded)
    assert_close(y[b, :n, :HIDDEN], y_fwd[0], 1e-5)
    jax.tree_util.tree_map(lambda a, e: assert_close(a[b], e[0], 1e-5), fwd_carry, carry)
    # Backward = a forward run over the reversed unpadded sequence, read back in order; its final
    # carry is the state after the first token.
    y_bwd, carry = np_rnn("lstm", layer["backward_rnn"]["cell"], unpadded[:, ::-1])
    assert_close(y[b, :n, HIDDEN:], y_bwd[0, ::-1], 1e-5)
    jax.tree_util.tree_map(lambda a, e: assert_close(a[b], e[0], 1e-5), bwd_carry, carry)
    assert not np.any(y[b, n:])  # padded outputs are zeroed
  # And the model itself on one row cut to its length, no lengths given: the same outputs and carries.
  y_alone, carries_alone = jax.device_get(jitted(model)(params, jnp.asarray(x[1:2, :4])))
  assert_close(y_alone[0], y[1, :4], 1e-6)
  jax.tree_util.tree_map(lambda a, e: assert_close(a[0], e[1], 1e-6), carries_alone[0], (fwd_carry, bwd_carry))


# ---------------------------------------------------------------------------- stacking, dropout ---

def test_two_bidirectional_layers_shapes():
  model, params, x = init_layer("gru", bidirectional=True, num_layers=2)
  y, carries = jax.eval_shape(model.apply, params, x)  # shapes only: nothing to compile
  assert y.shape == (BATCH, TIME, 2 * HIDDEN)
  assert len(carries) == 2 and all(c.shape == (BATCH, HIDDEN) for c in jax.tree_util.tree_leaves(carries))
  assert params["params"]["layer_1"]["forward_rnn"]["cell"]["ir"]["kernel"].shape == (2 * HIDDEN, HIDDEN)


def test_dropout_acts_only_in_training():
  model = StackedRNN("rnn", HIDDEN, 2, dropout=0.5)
  no_dropout = StackedRNN("rnn", HIDDEN, 2)
  _, params, x = init_layer("rnn", num_layers=2)

  @jax.jit  # one compilation serves every run below
  def runs(params, x, key):
    train = model.apply(params, x, train=True, rngs={"dropout": key})[0]
    return model.apply(params, x)[0], no_dropout.apply(params, x)[0], train

  y, plain, train3 = runs(params, x, jax.random.key(3))
  *_, train3_again = runs(params, x, jax.random.key(3))
  *_, train4 = runs(params, x, jax.random.key(4))
  assert_close(y, plain, 0)  # evaluation is the model without dropout, exactly
  assert_close(train3, train3_again, 0)
  assert not np.allclose(train3, y) and not np.allclose(train3, train4)


# ------------------------------------------------------------------------------- language model ---

def test_language_model_continues_from_carry():
  lm = RNNLanguageModel(vocab_size=13, embed_dim=6, hidden=HIDDEN, num_layers=2, cell="lstm")
  tokens = jnp.asarray(np.random.default_rng(0).integers(0, 13, (2, 9)), jnp.int32)
  params = random_params(lm, tokens)

  @jax.jit
  def full_and_split(params, tokens):
    head, carry = lm.apply(params, tokens[:, :4])
    tail, tail_carry = lm.apply(params, tokens[:, 4:], carry=carry)
    return lm.apply(params, tokens), (jnp.concatenate([head, tail], axis=1), tail_carry)

  (full, full_carry), (split, split_carry) = full_and_split(params, tokens)
  assert full.shape == (2, 9, 13) and full.dtype == jnp.float32
  assert_close(split, full, 1e-6)
  jax.tree_util.tree_map(lambda a, b: assert_close(a, b, 1e-6), split_carry, full_carry)
  # initial_carry() is what carry=None means: the same layout, and zeros by construction.
  assert jax.tree_util.tree_structure(lm.initial_carry(2)) == jax.tree_util.tree_structure(full_carry)


# ----------------------------------------------------------------------------------- classifier ---

CLASSIFIER = dict(vocab_size=11, num_classes=3, embed_dim=6, hidden=HIDDEN)


@pytest.fixture(scope="module")
def classifier_params():
  """The parameters do not depend on the pooling: one draw serves every classifier test."""
  return random_params(RNNClassifier(**CLASSIFIER), jnp.zeros((1, 2), jnp.int32))


@pytest.mark.parametrize("pool", ["last", "max", "mean"])
def test_classifier_ignores_padding(pool, classifier_params):
  clf = RNNClassifier(**CLASSIFIER, pool=pool)
  lengths = np.array([4, 2, 1])
  tokens = np.random.default_rng(0).integers(1, 11, (3, 4))
  tokens[np.arange(4)[None, :] >= lengths[:, None]] = 0  # row 0 is unpadded
  more_padding = np.pad(tokens, ((0, 0), (0, 5)))
  params = classifier_params
  logits, longer = jax.device_get(jax.jit(lambda p, *batches: [clf.apply(p, b) for b in batches])(
      params, jnp.asarray(tokens, jnp.int32), jnp.asarray(more_padding, jnp.int32)))
  assert logits.shape == (3, 3)
  # Row 0 unpadded vs 5 pads, rows 1 and 2: 2 and 3 pads vs 7 and 8; the true last step and the valid
  # steps are read wherever the padding ends.
  assert_close(longer, logits, 1e-6)


def test_classifier_last_pool_reads_each_directions_final_carry(classifier_params):
  clf = RNNClassifier(**CLASSIFIER, pool="last")
  tokens = jnp.asarray([[3, 5, 7, 0, 0], [2, 4, 0, 0, 0]], jnp.int32)
  params = classifier_params
  rnn = StackedRNN("lstm", HIDDEN, 1, bidirectional=True)

  @jax.jit
  def logits_both_ways(params, tokens):
    p = params["params"]
    x = p["embed"]["embedding"][tokens]
    _, ((fwd, bwd),) = rnn.apply({"params": p["rnn"]}, x, jnp.array([3, 2]))
    features = jnp.concatenate([fwd[1], bwd[1]], axis=-1)  # h of the (c, h) carries
    return clf.apply(params, tokens), features @ p["head"]["kernel"] + p["head"]["bias"]

  logits, expected = logits_both_ways(params, tokens)
  assert_close(logits, expected, 1e-6)


def test_classifier_rejects_unknown_pool():
  clf = RNNClassifier(**CLASSIFIER, pool="median")
  with pytest.raises(ValueError, match="mean"):
    jax.eval_shape(clf.init, jax.random.key(0), jnp.ones((1, 4), jnp.int32))


# ------------------------------------------------------------------------------------- gradient ---

def test_lstm_gradient_matches_finite_differences(x64):
  model, params, x = init_layer("lstm")
  params, x = to64(params), to64(x)
  lengths = jnp.array([7, 5, 3])  # the final carry is gathered at each true last step
  weights = to64(np.random.default_rng(9).standard_normal((BATCH, TIME, HIDDEN)))

  def loss(p):
    y, ((c, h),) = model.apply(p, x, lengths)
    return jnp.sum(weights * y) + jnp.sum(c ** 2) + jnp.sum(h)

  loss_and_grad = jax.jit(jax.value_and_grad(loss))  # one compilation serves the differences too
  target = "['params']['layer_0']['cell']['hf']['kernel']"
  get = lambda tree: tree["params"]["layer_0"]["cell"]["hf"]["kernel"]

  def nudged(delta):
    entry = np.zeros(get(params).shape)
    entry[1, 2] = delta
    moved = lambda path, a: a + entry if jax.tree_util.keystr(path) == target else a
    return jax.tree_util.tree_map_with_path(moved, params)

  analytic = get(loss_and_grad(params)[1])[1, 2]
  eps = 1e-6
  plus, minus = loss_and_grad(nudged(eps))[0], loss_and_grad(nudged(-eps))[0]
  assert plus != minus  # the nudge reached the entry
  assert abs(float(analytic)) > 1e-3  # the entry matters, so the comparison means something
  assert_close(analytic, (plus - minus) / (2 * eps), 1e-7)


def test_zero_carry_layout():
  assert zero_carry("gru", 2, 3).shape == (2, 3)
  c, h = zero_carry("lstm", 2, 3)
  assert c.shape == h.shape == (2, 3)
  fwd, bwd = zero_carry("rnn", 2, 3, bidirectional=True)
  assert fwd.shape == bwd.shape == (2, 3)
