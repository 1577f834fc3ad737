"""The extractive summariser: BBC articles as sentence stacks (labels, spans that quote sentences whole, refusals),
the sentence loss against float64, the choice of sentences, the model's masking, and the smoke config."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from bigjax import train
from bigjax.data import summaries, text_pairs
from bigjax.data.core import default_data_dir
from bigjax.models import summariser
from bigjax.tasks import extractive

from conftest import load_config, requires_data

requires_bbc = requires_data("bbc_news_summary/BBC_News_Summary.tar.xz")


def data_config(**overrides):
  fields = dict(name="bbc_news", train_split="train", eval_split="validation", vocab_size=2000,
                subword_model="unigram", max_sentences=64, sentence_len=32, article_len=3000, summary_len=3000)
  return ml_collections.ConfigDict({**fields, **overrides})


@requires_bbc
def test_articles_as_sentence_stacks_quote_their_sentences_whole():
  data = summaries.load(data_config(), "validation", default_data_dir())
  articles = text_pairs.load_bbc_news("validation", validating=True)
  vocab, arrays = data.vocab, data.arrays
  assert arrays["sentences"].shape == (223, 64, 32) and arrays["pieces"].shape == (223, 3000)
  for i in range(0, 223, 23):
    sentences = text_pairs.split_sentences(articles[i].body)[:64]
    labels = arrays["labels"][i]
    assert (labels[:len(sentences)] >= 0).all() and (labels[len(sentences):] == -1).all()
    for j, sentence in enumerate(sentences):
      start, end = arrays["spans"][i, j]
      assert vocab.decode(arrays["pieces"][i, start:end]) == sentence  # quoted whole, however long
      assert labels[j] == int(sentence in articles[i].summary)
    assert vocab.decode(arrays["summary"][i]) == articles[i].summary
  assert 0.3 < (arrays["labels"] == 1).sum() / (arrays["labels"] >= 0).sum() < 0.6  # summaries: ~40% of sentences
  with pytest.raises(ValueError, match="config.data.article_len=500: bbc_news:validation article"):
    summaries.load(data_config(article_len=500), "validation", default_data_dir())


def test_sentence_loss_against_float64_and_padding_ignored():
  logits = np.array([[2.0, -1.0, 0.5, 9.0]])
  labels = np.array([[1, 0, 1, -1]])
  losses, real = extractive.sentence_losses(jnp.asarray(logits, jnp.float32), jnp.asarray(labels))
  p = 1 / (1 + np.exp(-logits[0, :3]))
  expected = -np.where(labels[0, :3] == 1, np.log(p), np.log(1 - p))
  np.testing.assert_allclose(np.asarray(losses[0, :3]), expected, rtol=1e-6)
  assert float(losses[0, 3]) == 0.0 and np.asarray(real).tolist() == [[True, True, True, False]]


def test_choose_takes_sentences_over_the_threshold_in_order_or_else_the_best():
  labels = np.array([0, 1, 0, 0, -1])
  assert extractive.choose(np.array([0.7, 0.2, 0.9, 0.1, 0.99]), labels, 0.5) == [0, 2]
  assert extractive.choose(np.array([0.1, 0.3, 0.2, 0.1, 0.99]), labels, 0.5) == [1]  # padding never chosen
  assert extractive.choose(np.array([0.9]), np.array([-1]), 0.5) == []


def test_sentence_scorer_ignores_padding_sentences_and_pieces():
  model = summariser.SentenceScorer(vocab_size=50, max_sentences=6, num_layers=1, num_heads=2, embed_dim=8)
  rng = np.random.default_rng(0)
  sentences = np.zeros((2, 4, 5), np.int32)
  sentences[:, :3, :3] = rng.integers(1, 50, (2, 3, 3))
  params = model.init(jax.random.key(0), sentences)["params"]
  logits = model.apply({"params": params}, sentences)
  assert logits.shape == (2, 4)
  wider = np.concatenate([sentences, np.zeros((2, 2, 5), np.int32)], axis=1)  # more padding sentences
  wider = np.concatenate([wider, np.zeros((2, 6, 3), np.int32)], axis=2)     # and longer padding in each
  np.testing.assert_allclose(model.apply({"params": params}, wider)[:, :3], logits[:, :3], atol=1e-5)
  with pytest.raises(ValueError, match="exceed max_sentences=6"):
    model.apply({"params": params}, np.ones((1, 7, 3), np.int32))


@requires_bbc
def test_smoke_config_trains_and_is_scored_by_rouge(tmp_path):
  workdir = tmp_path / "run"
  metrics = train.run(load_config("summariser_bbc_news", "smoke"), workdir)["final_metrics"]
  for split in ("validation", "test"):
    for kind in ("rouge1", "rouge2", "rougeL"):
      assert 0 <= metrics[f"{split}/{kind}_low"] <= metrics[f"{split}/{kind}"] <= metrics[f"{split}/{kind}_high"] <= 1
  assert list((workdir / "samples").glob("step_*.md"))
