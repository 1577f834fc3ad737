"""Each issue-4 config's ``smoke`` variant trains end to end (one compiled step, finite metrics, its
vocabulary saved with the run), and ``bigjax.sample`` continues a prompt from a trained language model."""

import json
import math

import pytest

from bigjax import sample, train
from conftest import load_config, requires_mnist, requires_mr, requires_sentences, requires_shakespeare

pytestmark = pytest.mark.usefixtures("fast_compiles")

CONFIGS = [
    pytest.param("shakespeare_char_gpt", "smoke", marks=requires_shakespeare),
    pytest.param("shakespeare_char_gpt", "cpu_smoke", marks=requires_shakespeare),
    pytest.param("shakespeare_char_lstm", "smoke", marks=requires_shakespeare),
    pytest.param("text_cnn_mr", "smoke", marks=requires_mr),
    pytest.param("text_cnn_trec", "smoke", marks=requires_sentences),
    pytest.param("text_cnn_sst2", "smoke", marks=requires_sentences),
    pytest.param("text_lstm_sst2", "smoke", marks=requires_sentences),
    pytest.param("text_transformer_sst2", "smoke", marks=requires_sentences),
    pytest.param("mnist_vit", "smoke", marks=requires_mnist),
]




@pytest.mark.parametrize("name, variant", CONFIGS)
def test_smoke_config_trains(name, variant, tmp_path):
  config = load_config(name, variant)
  results = train.run(config, tmp_path)
  assert results["trace_counts"] == {"train_call": 1, "eval_call": 1}
  assert results["steps"] == config.train.num_steps
  metrics = results["final_metrics"]
  assert metrics and all(math.isfinite(v) for v in metrics.values()), metrics
  if config.task.name == "language_model":
    assert metrics["validation/perplexity"] == pytest.approx(math.exp(metrics["validation/loss"]), rel=1e-6)
    assert metrics["validation/bpc"] == pytest.approx(metrics["validation/loss"] / math.log(2), rel=1e-6)
    assert metrics["validation/loss"] < math.log(65)  # below a uniform guess over the 65 characters
  else:
    assert 0.0 <= metrics[f"{config.data.eval_split}/accuracy"] <= 1.0
  if config.data.name != "mnist":  # text runs keep the vocabulary their ids come from
    vocab = json.loads((tmp_path / "vocab.json").read_text())
    assert vocab


@requires_shakespeare
def test_sample_continues_a_prompt_from_a_trained_run(tmp_path, capsys):
  train.run(load_config("shakespeare_char_gpt", "smoke"), tmp_path)
  assert sample.main([f"--workdir={tmp_path}", "--prompt=ROMEO:", "--num_tokens=50", "--seed=1"]) == 0
  out = capsys.readouterr().out
  assert out.startswith("ROMEO:") and len(out.rstrip("\n")) == len("ROMEO:") + 50
  # The smoke model's context is 32 characters: 50 new ones slide the cache window.
  assert sample.main([f"--workdir={tmp_path}", "--prompt=ROMEO\x00"]) == 2
  assert "'\\x00'" in capsys.readouterr().err
  assert sample.main([f"--workdir={tmp_path / 'nowhere'}"]) == 2
  assert "not a language-model run" in capsys.readouterr().err
