"""Language modelling: the task's loss against NumPy, its metrics, windows over the corpus, and generation
with a KV cache (Transformer) or carried state (RNN) against recomputing the whole sequence every step."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from bigjax.data import corpora
from bigjax.models import rnn, transformer
from bigjax.tasks import language_model as lm

pytestmark = pytest.mark.usefixtures("fast_compiles")

VOCAB = 11




def models():
  return {
      "decoder": transformer.Decoder(vocab_size=VOCAB, max_len=16, num_layers=2, num_heads=2, embed_dim=16),
      "decoder_scan": transformer.Decoder(vocab_size=VOCAB, max_len=16, num_layers=2, num_heads=2, embed_dim=16,
                                          scan_layers=True),
      "lstm": rnn.RNNLanguageModel(vocab_size=VOCAB, embed_dim=8, hidden=12, num_layers=2, cell="lstm"),
      "gru": rnn.RNNLanguageModel(vocab_size=VOCAB, embed_dim=8, hidden=12, num_layers=1, cell="gru"),
  }


def init_params(model, seed=0):
  batch = {"tokens": jnp.zeros((1, 9), jnp.int32)}
  return nn.meta.unbox(lm.init(model, jax.random.PRNGKey(seed), batch))


def test_loss_and_eval_sums_against_numpy():
  model = models()["decoder"]
  params = init_params(model)
  tokens = jax.random.randint(jax.random.PRNGKey(1), (3, 9), 0, VOCAB)
  logits = np.asarray(model.apply({"params": params}, tokens[:, :-1]), np.float64)
  logp = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) - logits.max(-1, keepdims=True)
  targets = np.asarray(tokens[:, 1:])
  per_token = -np.take_along_axis(logp, targets[..., None], -1)[..., 0]  # [3, 8]
  config = ml_collections.ConfigDict()
  value, metrics = lm.loss(model, params, {"tokens": tokens}, jax.random.PRNGKey(2), config)
  np.testing.assert_allclose(value, per_token.mean(), rtol=1e-5)
  np.testing.assert_allclose(metrics["bpc"], per_token.mean() / math.log(2), rtol=1e-5)
  # Evaluation sums over real rows only: the padding row (mask 0) adds nothing, whatever its tokens.
  sums = lm.evaluate(model, params, {"tokens": tokens, "mask": jnp.array([1.0, 1.0, 0.0])}, config)
  np.testing.assert_allclose(sums["loss"], per_token[:2].sum(), rtol=1e-5)
  assert sums["count"] == 16
  np.testing.assert_allclose(sums["accuracy"], (logits[:2].argmax(-1) == targets[:2]).sum())
  final = lm.finalize_metrics({"loss": 1.5, "accuracy": 0.25})
  assert final["bpc"] == pytest.approx(1.5 / math.log(2)) and final["perplexity"] == pytest.approx(math.exp(1.5))


def naive_generate(model, params, prompt, num_tokens, rng, temperature, top_k):
  """Recomputes the whole sequence for every new token: what the cache / carry must reproduce."""
  seq = prompt
  for key in jax.random.split(rng, num_tokens):
    logits = lm.logits_of(model, params, seq)[:, -1]
    seq = jnp.concatenate([seq, lm.sample_token(logits, key, temperature, top_k)[:, None]], axis=1)
  return seq


@pytest.mark.parametrize("name", ["decoder", "decoder_scan", "lstm", "gru"])
@pytest.mark.parametrize("temperature, top_k", [(0.0, 0), (1.0, 3)])
def test_cached_generation_equals_recomputing_the_sequence(name, temperature, top_k):
  model = models()[name]
  params = init_params(model, seed=3)
  # Scale the weights up so that the distribution is peaked and sampling is decided by the logits.
  params = jax.tree.map(lambda p: 3.0 * p, params)
  prompt = jnp.array([[1, 2, 3], [4, 5, 6]], jnp.int32)
  rng = jax.random.PRNGKey(7)
  fast = jax.jit(lambda p, r: lm.generate(model, p, prompt, 10, r, temperature=temperature, top_k=top_k))(params, rng)
  slow = naive_generate(model, params, prompt, 10, rng, temperature, top_k)
  assert fast.shape == (2, 13) and fast.dtype == jnp.int32
  np.testing.assert_array_equal(fast, slow)
  np.testing.assert_array_equal(fast[:, :3], prompt)


def test_decoder_generation_beyond_max_len_slides_a_window():
  model = models()["decoder"]
  params = init_params(model)
  prompt = jnp.ones((1, 10), jnp.int32)
  with pytest.raises(ValueError, match="exceed the model's max_len=16; pass window=True"):
    lm.generate(model, params, prompt, 7, jax.random.PRNGKey(0))
  out = lm.generate(model, params, prompt, 30, jax.random.PRNGKey(0), temperature=0.0, window=True)
  assert out.shape == (1, 40)
  # Greedy: the first chunk (cache filled up to max_len) is exactly the unwindowed continuation.
  first = lm.generate(model, params, prompt, 6, jax.random.PRNGKey(0), temperature=0.0)
  np.testing.assert_array_equal(out[:, :16], first)
  # Every later token is the greedy choice given the last max_len // 2 .. max_len - 1 tokens.
  context = out[:, 16 - 8:17 - 1]  # the second chunk restarted from the last 8 tokens
  np.testing.assert_array_equal(out[:, 16], lm.logits_of(model, params, context)[:, -1].argmax(-1))


def test_top_k_and_temperature():
  logits = jnp.log(jnp.array([[0.1, 0.2, 0.3, 0.4]] * 4000))
  draws = lm.sample_token(logits, jax.random.PRNGKey(0), 1.0, top_k=2)
  assert set(np.unique(draws).tolist()) == {2, 3}  # only the two most likely tokens
  np.testing.assert_allclose(np.mean(draws == 3), 0.4 / 0.7, atol=0.03)  # renormalised over the top 2
  assert (lm.sample_token(logits, jax.random.PRNGKey(0), 0.0) == 3).all()  # temperature 0: argmax
  cold = lm.sample_token(logits, jax.random.PRNGKey(1), 0.05)
  assert np.mean(cold == 3) > 0.99


def test_token_windows():
  ids = np.arange(20, dtype=np.int32)
  train = corpora.TokenWindows(ids, length=5, stride=1)
  assert len(train) == 16 and train.shape == (16, 5)
  np.testing.assert_array_equal(train[np.array([0, 15, 3])], [[0, 1, 2, 3, 4], [15, 16, 17, 18, 19], [3, 4, 5, 6, 7]])
  val = corpora.TokenWindows(ids, length=5, stride=4)
  np.testing.assert_array_equal(val[:], [[0, 1, 2, 3, 4], [4, 5, 6, 7, 8], [8, 9, 10, 11, 12], [12, 13, 14, 15, 16]])
  targets = np.concatenate([w[1:] for w in val[:]])
  assert len(set(targets.tolist())) == len(targets)  # each validation token after the first predicted once
  assert set(targets.tolist()) == set(range(1, 17))  # the last window that fits ends at 16; 17-19 are left over
  with pytest.raises(ValueError, match="holds no window"):
    corpora.TokenWindows(ids[:3], length=5, stride=1)
