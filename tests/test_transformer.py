"""Tests for bigjax.models.transformer: one attention layer against float64 NumPy (causal, padded, and the
dropout path), causality of the LM, KV-cache generation against the full forward pass, scan_layers against
unrolled layers on the same (restacked) weights, remat's loss and gradients, logical axis names on every
parameter, the Encoder's padding invariance, and the ViT's shapes.

Models are tiny and every forward is jitted once per shape (cached below): on a shared 2-core CPU each
compile costs about a second, op-by-op eager flax ten times that.
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from bigjax.models.transformer import Decoder, Encoder, SelfAttention, ViT

VOCAB, LENGTH, EMBED, HEADS = 11, 8, 16, 4
SMALL = dict(num_layers=2, num_heads=HEADS, embed_dim=EMBED, mlp_dim=32)


@pytest.fixture(scope="module", autouse=True)
def quick_compiles():
  """XLA without most optimizations compiles these tiny models 2-3x faster; the numbers checked are the same
  math. Restored after this file so other tests compile as usual."""
  before = jax.config.values["jax_disable_most_optimizations"]
  jax.config.update("jax_disable_most_optimizations", True)
  yield
  jax.config.update("jax_disable_most_optimizations", before)


@pytest.fixture
def x64():
  """float64 inside the test only; the flag is restored on exit so other tests keep float32."""
  with jax.enable_x64(True):
    yield


@functools.cache
def forward(model: nn.Module, **kwargs):
  """One jitted ``model.apply`` per (model, kwargs): the hashable module is the cache key."""
  return jax.jit(functools.partial(model.apply, **kwargs))


def init_params(model: nn.Module, *inputs) -> dict:
  return nn.unbox(jax.jit(model.init)(jax.random.key(0), *inputs))["params"]


def stack_layers(params: dict, num_layers: int) -> dict:
  """Unrolled ``layer_{i}`` params -> the ``layers`` subtree nn.scan holds, ``[num_layers, ...]`` leaves."""
  stacked = {k: v for k, v in params.items() if not k.startswith("layer_")}
  stacked["layers"] = jax.tree.map(lambda *xs: jnp.stack(xs), *[params[f"layer_{i}"] for i in range(num_layers)])
  return stacked


@pytest.fixture(scope="module")
def decoder():
  """(unrolled model, scanned model, their params on the same weights, tokens [LENGTH + 1, LENGTH])."""
  unrolled = Decoder(**SMALL, vocab_size=VOCAB, max_len=LENGTH)
  scanned = unrolled.clone(scan_layers=True)
  base = jax.random.randint(jax.random.key(1), (LENGTH,), 0, VOCAB)
  # Row 0 is the base sequence; row t + 1 differs from it only at position t.
  tokens = jnp.stack([base] + [base.at[t].set((base[t] + 1) % VOCAB) for t in range(LENGTH)])
  params = init_params(unrolled, tokens)
  return unrolled, scanned, {unrolled: params, scanned: stack_layers(params, SMALL["num_layers"])}, tokens


# ----------------------------------------------------------------------------- NumPy reference ---

def np_attention(params, x, mask, causal):
  """float64 multi-head attention; ``x [b, l, e]``, ``mask [b, 1, 1, l]`` bool keys or None."""
  p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
  proj = lambda name: np.einsum("ble,ehd->blhd", x, p[name]["kernel"]) + p[name]["bias"]  # noqa: E731
  q, k, v = proj("query"), proj("key"), proj("value")
  logits = np.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(q.shape[-1])
  allowed = np.ones(logits.shape, bool)
  if mask is not None:
    allowed &= np.asarray(mask)
  if causal:
    allowed &= np.tril(np.ones(logits.shape[-2:], bool))
  logits = np.where(allowed, logits, -np.inf)
  weights = np.exp(logits - logits.max(-1, keepdims=True))
  weights /= weights.sum(-1, keepdims=True)
  out = np.einsum("bhqk,bkhd->bqhd", weights, v)
  return np.einsum("bqhd,hde->bqe", out, p["out"]["kernel"]) + p["out"]["bias"]


def attention_case(dtype):
  x = jax.random.normal(jax.random.key(2), (2, 5, EMBED), dtype)
  lengths = np.array([5, 3])
  mask = jnp.asarray(np.arange(5)[None, :] < lengths[:, None])[:, None, None, :]
  return x, mask


@pytest.mark.parametrize("causal, padded", [(True, False), (False, True)])  # both at once: the float32 test
def test_attention_matches_numpy_float64(x64, causal, padded):
  x, mask = attention_case(jnp.float64)
  mask = mask if padded else None
  layer = SelfAttention(num_heads=HEADS, causal=causal, dtype=jnp.float64)
  params = init_params(layer, x, mask)
  expected = np_attention(params, np.asarray(x), mask, causal)
  # The einsum path that attention dropout takes computes in float64 throughout: at a dropout rate of 1e-12
  # no probability is dropped and the 1 / (1 - rate) rescale is 1 to within 1e-12.
  dropout_path = forward(layer.clone(attention_dropout=1e-12, train=True))
  got = dropout_path({"params": params}, x, mask, rngs={"dropout": jax.random.key(3)})
  assert got.dtype == jnp.float64
  np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
  # jax.nn.dot_product_attention takes the softmax in float32 whatever the input dtype.
  got = forward(layer)({"params": params}, x, mask)
  assert got.dtype == jnp.float64
  np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)


def test_attention_float32_and_dropout():
  x, mask = attention_case(jnp.float32)
  layer = SelfAttention(num_heads=HEADS, causal=True)
  params = init_params(layer, x, mask)
  got = forward(layer)({"params": params}, x, mask)
  assert got.dtype == jnp.float32
  np.testing.assert_allclose(got, np_attention(params, np.asarray(x, np.float64), mask, True), atol=1e-6)

  dropped = forward(layer.clone(attention_dropout=0.5, train=True))
  a, b = (dropped({"params": params}, x, mask, rngs={"dropout": jax.random.key(i)}) for i in (4, 5))
  assert not np.allclose(a, got) and not np.allclose(a, b)


# ----------------------------------------------------------------------------------- Decoder ---

@pytest.mark.parametrize("scan", [False, True])
def test_decoder_is_causal(decoder, scan):
  unrolled, scanned, params, tokens = decoder
  model = scanned if scan else unrolled
  logits = np.asarray(forward(model)({"params": params[model]}, tokens))
  assert logits.shape == (LENGTH + 1, LENGTH, VOCAB) and logits.dtype == np.float32
  for t in range(LENGTH):
    np.testing.assert_allclose(logits[t + 1, :t], logits[0, :t], atol=1e-6, err_msg=f"token {t} leaked back")
    assert not np.allclose(logits[t + 1, t], logits[0, t]), f"changing token {t} did not change its own logits"


def test_scan_layers_is_the_same_function(decoder):
  unrolled, scanned, params, tokens = decoder
  a = forward(unrolled)({"params": params[unrolled]}, tokens)
  b = forward(scanned)({"params": params[scanned]}, tokens)
  np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("scan", [False, True])
def test_cached_generation_matches_full_forward(decoder, scan):
  unrolled, scanned, params, tokens = decoder
  model = scanned if scan else unrolled
  full = forward(model)({"params": params[model]}, tokens)

  @jax.jit
  def generate(params, tokens):
    """Logits of a 3-token prompt fed in one call, then of one token per call; the final cache index."""
    cache = model.init(jax.random.key(0), jnp.zeros(tokens.shape, jnp.int32), decode=True)["cache"]
    apply = functools.partial(model.apply, decode=True, mutable=["cache"])
    prompt_logits, state = apply({"params": params, "cache": cache}, tokens[:, :3])

    def step(state, token):  # token [batch]
      logits, state = apply({"params": params, **state}, token[:, None])
      return state, logits[:, 0]

    state, step_logits = jax.lax.scan(step, state, tokens[:, 3:].T)  # step_logits [length - 3, batch, vocab]
    return jnp.concatenate([prompt_logits, step_logits.transpose(1, 0, 2)], axis=1), state["cache"]["cache_index"]

  pieces, index = generate(params[model], tokens)
  assert int(index) == LENGTH
  np.testing.assert_allclose(pieces, full, atol=1e-5)


def next_token_loss(model, params, tokens, rng):
  logits = model.apply({"params": params}, tokens[:, :-1], train=True, rngs={"dropout": rng})
  return optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, 1:]).mean()


def test_remat_gives_the_same_loss_and_gradients(decoder):
  # Under scan, where nn.remat nests inside nn.scan with prevent_cse=False; unrolled layers get the same
  # wrapper and would double this file's longest compile.
  _, scanned, params, tokens = decoder
  model = scanned.clone(dropout=0.1, attention_dropout=0.1)  # dropout masks must replay in the backward pass
  (loss, grads), (remat_loss, remat_grads) = (
      jax.jit(jax.value_and_grad(functools.partial(next_token_loss, m)))(params[scanned], tokens, jax.random.key(7))
      for m in (model, model.clone(remat=True)))
  np.testing.assert_allclose(remat_loss, loss, rtol=1e-6)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), remat_grads, grads)
  assert np.isfinite(loss) and float(optax.tree.norm(grads)) > 0


def test_bfloat16_activations_give_float32_logits(decoder):
  unrolled, _, params, tokens = decoder
  full = forward(unrolled)({"params": params[unrolled]}, tokens)
  half = forward(unrolled.clone(dtype="bfloat16"))({"params": params[unrolled]}, tokens)
  assert half.dtype == jnp.float32
  np.testing.assert_allclose(half, full, atol=0.05)


def test_too_long_input_is_an_error():
  with pytest.raises(ValueError, match="max_len"):
    jax.eval_shape(Decoder(**SMALL, max_len=4).init, jax.random.key(0), jnp.zeros((1, 5), jnp.int32))


# ------------------------------------------------------------------------- logical axis names ---

MODELS = {
    "decoder": (Decoder(**SMALL, vocab_size=VOCAB, max_len=LENGTH), jnp.zeros((2, LENGTH), jnp.int32)),
    "decoder_untied": (Decoder(**SMALL, vocab_size=VOCAB, max_len=LENGTH, tie_embeddings=False, use_bias=False),
                       jnp.zeros((2, LENGTH), jnp.int32)),
    "encoder": (Encoder(**SMALL, vocab_size=VOCAB, max_len=LENGTH, num_classes=3), jnp.zeros((2, LENGTH), jnp.int32)),
    "vit": (ViT(**SMALL, patch_size=7, num_classes=10), jnp.zeros((2, 28, 28, 1), jnp.float32)),
}


@pytest.mark.parametrize("scan", [False, True])
@pytest.mark.parametrize("name", MODELS)
def test_every_param_has_logical_names(name, scan):
  model, inputs = MODELS[name]
  boxed = jax.eval_shape(model.clone(scan_layers=scan).init, jax.random.key(0), inputs)["params"]
  leaves = jax.tree_util.tree_leaves_with_path(boxed, is_leaf=lambda x: isinstance(x, nn.Partitioned))
  for path, leaf in leaves:
    where = jax.tree_util.keystr(path)
    assert isinstance(leaf, nn.Partitioned), f"{where} has no logical names"
    assert len(leaf.names) == leaf.value.ndim, f"{where}: names {leaf.names} for shape {leaf.value.shape}"
    assert ("layers" in leaf.names) == (scan and "layers" in where), f"{where}: names {leaf.names}"
    assert set(leaf.names) <= {"vocab", "embed", "mlp", "heads", "kv", "layers", "patch", "pos", "norm", None}

  names = {jax.tree_util.keystr(p): leaf.names for p, leaf in leaves}
  layer = "['layers']" if scan else "['layer_0']"
  prefix = ("layers",) if scan else ()
  assert names[f"{layer}['attn']['query']['kernel']"] == prefix + ("embed", "heads", "kv")
  assert names[f"{layer}['attn']['out']['kernel']"] == prefix + ("heads", "kv", "embed")
  assert names[f"{layer}['mlp_in']['kernel']"] == prefix + ("embed", "mlp")
  assert names[f"{layer}['ln_1']['scale']"] == prefix + ("norm",)
  assert names.get("['lm_head']", ("embed", "vocab")) == ("embed", "vocab")
  assert names.get("['wte']", ("vocab", "embed")) == ("vocab", "embed")
  assert names["['wpe']"] == ("pos", "embed")

  # The lead's path: logical names -> mesh shardings through rules.
  mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]).reshape(1, 1), ("fsdp", "tensor"))
  rules = (("embed", "fsdp"), ("heads", "tensor"), ("mlp", "tensor"), ("vocab", "tensor"))
  shardings = nn.logical_to_mesh_sharding(nn.get_partition_spec(boxed), mesh, rules)
  assert jax.tree.leaves(shardings)[0].mesh == mesh


# ------------------------------------------------------------------------------ Encoder, ViT ---

def test_encoder_ignores_trailing_padding():
  model = Encoder(**SMALL, vocab_size=VOCAB, max_len=12, num_classes=3, pad_id=0)
  tokens = jnp.array([[5, 3, 7, 2, 0, 0], [4, 9, 0, 0, 0, 0]], jnp.int32)
  longer = jnp.pad(tokens, ((0, 0), (0, 6)))
  params = init_params(model, tokens)
  short_logits = forward(model)({"params": params}, tokens)
  assert short_logits.shape == (2, 3) and short_logits.dtype == jnp.float32
  np.testing.assert_allclose(forward(model)({"params": params}, longer), short_logits, atol=1e-5)
  # Padding is masked, not ignored by accident: a real token in its place does change the logits.
  assert not np.allclose(forward(model)({"params": params}, tokens.at[1, 2].set(6)), short_logits)


def test_vit_shapes_on_mnist_sized_images():
  model = ViT(**SMALL, patch_size=7, num_classes=10)
  images = jax.random.uniform(jax.random.key(0), (3, 28, 28, 1))
  params = init_params(model, images)
  assert params["wpe"].shape == (16, EMBED)            # (28 / 7)^2 patches
  assert params["patch_embed"]["kernel"].shape == (49, EMBED)
  logits = forward(model)({"params": params}, images)
  assert logits.shape == (3, 10) and logits.dtype == jnp.float32 and np.isfinite(logits).all()
  with pytest.raises(ValueError, match="patch_size"):
    jax.eval_shape(model.clone(patch_size=5).init, jax.random.key(0), images)
