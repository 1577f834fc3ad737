"""Mixed precision: bfloat16 computation with float32 parameters, optimizer state, logits and loss.

- ``layers.dot_general`` multiplies bfloat16 operands into a float32 result on XLA:CPU too (which refuses the
  mixed dot natively): against NumPy float64 on the bfloat16-rounded operands.
- Training in bfloat16 tracks float32: the char GPT on Tiny Shakespeare, 100 steps, every logged train loss
  within 1% of float32's (measured: 0.03%); the parameters and the optimizer's moments stay float32.
"""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigjax.data import corpora
from bigjax.models import layers
from conftest import read_metrics, requires_shakespeare, run_cli

TOLERANCE = 0.01  # relative, per logged train loss


def test_bf16_dot_with_float32_result_is_exact_products_accumulated_in_float32():
  rng = np.random.default_rng(0)
  a = jnp.asarray(rng.normal(size=(8, 300)), jnp.bfloat16)
  b = jnp.asarray(rng.normal(size=(300, 5)), jnp.bfloat16)
  out = layers.dot_general(a, b, (((1,), (0,)), ((), ())), preferred_element_type=jnp.float32)
  assert out.dtype == jnp.float32
  reference = np.asarray(a, np.float64) @ np.asarray(b, np.float64)
  np.testing.assert_allclose(np.asarray(out), reference, rtol=1e-5, atol=1e-4)  # float32 summation only
  mixed = layers.einsum("ik,kj->ij", a, b, preferred_element_type=jnp.float32)
  np.testing.assert_allclose(np.asarray(mixed), reference, rtol=1e-5, atol=1e-4)
  # Without a float32 result asked for, the product stays bfloat16.
  assert layers.dot_general(a, b, (((1,), (0,)), ((), ()))).dtype == jnp.bfloat16


def test_random_tokens_are_fixed_uniform_and_sized_by_the_config():
  data = corpora.random_tokens(vocab_size=50, seq_len=8, split="train")
  again = corpora.random_tokens(vocab_size=50, seq_len=8, split="train")
  validation = corpora.random_tokens(vocab_size=50, seq_len=8, split="validation")
  assert data.model_fields == {"vocab_size": 50}
  rows = data.arrays["tokens"][np.arange(1000)]
  np.testing.assert_array_equal(rows, again.arrays["tokens"][np.arange(1000)])
  assert rows.shape == (1000, 9) and rows.min() >= 0 and rows.max() < 50
  assert len(data.arrays["tokens"]) == 2**22 - 8 and len(validation.arrays["tokens"]) == (2**16 - 9) // 8 + 1
  counts = np.bincount(data.arrays["tokens"].ids, minlength=50)
  assert counts.min() > 0.95 * 2**22 / 50 and counts.max() < 1.05 * 2**22 / 50
  with pytest.raises(ValueError, match="vocab_size >= 2"):
    corpora.random_tokens(vocab_size=1, seq_len=8, split="train")


@requires_shakespeare
def test_bf16_training_tracks_float32(tmp_path):
  losses = {}
  for dtype in ("bfloat16", "float32"):
    proc = run_cli("shakespeare_char_gpt.py:cpu_smoke", tmp_path / dtype, f"--config.model.dtype={dtype}",
                   "--config.train.num_steps=100", "--config.train.log_every_steps=10")
    assert proc.returncode == 0, proc.stderr[-3000:]
    losses[dtype] = {m["step"]: m["train/loss"] for m in read_metrics(tmp_path / dtype) if "train/loss" in m}
  assert sorted(losses["bfloat16"]) == sorted(losses["float32"]) == list(range(10, 101, 10))
  first, last = losses["float32"][10], losses["float32"][100]
  assert last < first - 0.5  # it learns, so the comparison means something
  for step, value in losses["float32"].items():
    assert abs(losses["bfloat16"][step] - value) <= TOLERANCE * value, step
  results = json.loads((tmp_path / "bfloat16" / "results.json").read_text())
  assert results["config"]["model"]["dtype"] == "bfloat16"


def test_bf16_model_keeps_float32_parameters_and_logits():
  from bigjax.models import transformer
  model = transformer.Decoder(vocab_size=32, max_len=16, num_layers=1, num_heads=2, embed_dim=16,
                              dtype=jnp.bfloat16)
  tokens = jnp.zeros((2, 16), jnp.int32)
  params = model.init(jax.random.PRNGKey(0), tokens)["params"]
  assert {x.dtype for x in jax.tree.leaves(params)} == {jnp.dtype(jnp.float32)}
  assert model.apply({"params": params}, tokens).dtype == jnp.float32
