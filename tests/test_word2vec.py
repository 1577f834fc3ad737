"""Word2Vec: the word corpus, subsampling, windows, negatives, the loss and its gradient, one sparse update
against a float64 NumPy one, and the smoke config through the loop."""

import collections
import json
import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from bigjax import train
from bigjax.data import DataError, word_corpus
from bigjax.models import word2vec as models
from bigjax.tasks import word2vec

from conftest import load_config, requires_data

requires_lee = requires_data("word_eval/lee_background.cor")

TEXT = "The cat sat on the mat.\nThe dog sat\n\non the log, the END\n" + "a b " * 3 + "\n"


def write_corpus(tmp_path, text=TEXT):
  path = tmp_path / "corpus.txt"
  path.write_text(text, encoding="utf-8")
  return str(path)


# ====================================================================================== corpus

def test_stream_and_vocabulary_against_counting_by_hand(tmp_path):
  stream, vocab = word_corpus.load("file", tmp_path, tokenizer="lower", min_count=2,
                                   corpus_file=write_corpus(tmp_path), cache_dir=tmp_path / "cache")
  # lowercased words: the 5, sat 2, on 2, a 3, b 3; once-seen words (cat, mat, dog, log, end) are dropped
  assert vocab.words == ("the", "a", "b", "on", "sat") and vocab.counts.tolist() == [5, 3, 3, 2, 2]
  assert vocab.total == 20  # 6 + 3 + 5 + 6 words
  ids = vocab.index
  expected = [ids["the"], ids["sat"], ids["on"], ids["the"], 0, ids["the"], ids["sat"], 0,
              ids["on"], ids["the"], ids["the"], 0, *[ids["a"], ids["b"]] * 3, 0]
  assert stream.tolist() == expected
  # the second load reads the cache entry; a changed file is a different entry
  again, vocab_again = word_corpus.load("file", tmp_path, tokenizer="lower", min_count=2,
                                        corpus_file=str(tmp_path / "corpus.txt"), cache_dir=tmp_path / "cache")
  assert again.tolist() == expected and vocab_again.words == vocab.words
  assert len(list((tmp_path / "cache").rglob("corpus.npz"))) == 1
  write_corpus(tmp_path, TEXT + "the the\n")
  changed, _ = word_corpus.load("file", tmp_path, tokenizer="lower", min_count=2,
                                corpus_file=str(tmp_path / "corpus.txt"), cache_dir=tmp_path / "cache")
  assert changed.tolist() == expected + [ids["the"], ids["the"], 0]


def test_split_tokenizer_keeps_tokens_and_long_lines_are_cut(tmp_path, monkeypatch):
  assert word_corpus.tokenize("The cat, don't!", "lower") == ["the", "cat", "don't"]
  assert word_corpus.tokenize("The cat, don't!", "split") == ["The", "cat,", "don't!"]
  monkeypatch.setattr(word_corpus, "MAX_SENTENCE", 3)
  assert list(word_corpus.sentences("a b c d e\nf", "split")) == [["a", "b", "c"], ["d", "e"], ["f"]]


def test_bad_corpus_settings_are_named(tmp_path):
  with pytest.raises(ValueError, match="tokenizer='words'"):
    word_corpus.load("file", tmp_path, tokenizer="words", corpus_file=write_corpus(tmp_path))
  with pytest.raises(DataError, match="nothing.txt"):
    word_corpus.load("file", tmp_path, corpus_file=str(tmp_path / "nothing.txt"))
  with pytest.raises(ValueError, match="corpus_file, which is empty"):
    word_corpus.load("file", tmp_path)
  with pytest.raises(DataError, match="no word is seen 50 times"):
    word_corpus.load("file", tmp_path, min_count=50, corpus_file=write_corpus(tmp_path), cache_dir=tmp_path)
  with pytest.raises(DataError, match="lee_background.cor not found"):
    word_corpus.load("lee", tmp_path / "no_data_here")


@requires_lee
def test_validation_is_held_out_of_train_at_a_sentence_start(tmp_path):
  config = load_config("word2vec_text_corpus", "smoke")
  whole, _ = word_corpus.load("lee", word_corpus_root(), cache_dir=tmp_path)
  train_ds = word_corpus.dataset(config.data, "train", word_corpus_root(), cache_dir=tmp_path)
  held = word_corpus.dataset(config.data, "validation", word_corpus_root(), cache_dir=tmp_path)
  n = config.data.seq_len
  train_ids, held_ids = train_ds.arrays["tokens"].ids, held.arrays["tokens"].ids
  assert held_ids[0] != 0 and train_ids[-1] == 0  # the cut is after a sentence end
  assert np.array_equal(np.concatenate([train_ids, held_ids]), whole)
  assert len(held_ids) == pytest.approx(len(whole) * word_corpus.VALIDATION_FRACTION, abs=200)
  assert train_ds.arrays["tokens"].shape == (len(train_ids) // n, n)
  assert train_ds.model_fields["num_ids"] == len(train_ds.vocab) + 1
  assert train_ds.model_fields["word_counts"][0] == 0
  config.data.eval_split = "train"
  with pytest.raises(ValueError, match="validation split is the corpus' last"):
    word_corpus.dataset(config.data, "validation", word_corpus_root(), cache_dir=tmp_path)


def word_corpus_root():
  from bigjax.data import default_data_dir
  return default_data_dir()


# ====================================================================================== sampling

COUNTS = np.array([0, 5000, 1200, 300, 40, 7, 1], np.float64)  # id 0: the sentence end


def test_keep_probability_is_the_c_tool_formula():
  t = 1e-2
  f = COUNTS[1:] / COUNTS.sum()
  expected = np.minimum(1.0, (np.sqrt(f / t) + 1) * t / f)
  got = np.asarray(word2vec.keep_probability(jnp.asarray(COUNTS, jnp.float32), t))
  assert got[0] == 0 and np.allclose(got[1:], expected, rtol=1e-5)
  assert expected[0] < 0.5 and expected[-1] == 1.0  # the frequent word is thinned, the rare one kept
  assert np.all(np.asarray(word2vec.keep_probability(jnp.asarray(COUNTS, jnp.float32), 0.0))[1:] == 1)


def test_subsampling_keeps_each_word_at_its_rate_and_closes_up_in_order():
  keep = jnp.array([0.0, 0.25, 1.0, 0.5])
  tokens = jnp.tile(jnp.array([[1, 2, 3, 0, 1, 2, 3, 3]]), (4000, 1))
  out = np.asarray(word2vec.subsample(tokens, keep, jax.random.PRNGKey(1)))
  for row in out[:50]:  # the kept ids, in their order, then zeros; sentence ends kept; id 2 (rate 1) always
    n = int((row != 0).sum() + (row[:np.flatnonzero(row != 0).max() + 1] == 0).sum()) if row.any() else 0
    assert list(row[:n]) == [w for w in row[:n]] and (row[n:] == 0).all()
    assert list(row[:n]).count(2) == 2 and list(row[:n]).count(0) == 1
  kept_ones = (out == 1).sum() / (2 * len(out))
  kept_threes = (out == 3).sum() / (3 * len(out))
  assert kept_ones == pytest.approx(0.25, abs=0.015) and kept_threes == pytest.approx(0.5, abs=0.015)


def test_negatives_follow_the_unigram_power_distribution():
  counts = jnp.asarray(COUNTS, jnp.float32)
  draws = np.asarray(word2vec.sample_negatives(word2vec.negative_cdf(counts, 0.75), jax.random.PRNGKey(0),
                                               (200_000,)))
  expected = COUNTS ** 0.75 / (COUNTS ** 0.75).sum()
  observed = np.bincount(draws, minlength=len(COUNTS)) / len(draws)
  assert observed[0] == 0
  np.testing.assert_allclose(observed, expected, rtol=0, atol=5e-3)
  assert np.all(np.abs(observed - expected) <= 4 * np.sqrt(expected * (1 - expected) / len(draws)) + 1e-4)


def test_windows_against_enumerating_each_position():
  tokens = jnp.array([[4, 5, 6, 0, 7, 8, 9, 3, 0, 0]])
  window = 3
  context, mask = word2vec.windows(tokens, window, jax.random.PRNGKey(2))
  reach = window - np.asarray(jax.random.randint(jax.random.PRNGKey(2), tokens.shape, 0, window))[0]
  row = np.asarray(tokens)[0]
  sentence = np.cumsum(row == 0)
  offsets = [o for o in range(-window, window + 1) if o]
  for i in range(len(row)):
    for j, o in enumerate(offsets):
      k = i + o
      ok = (row[i] != 0 and 0 <= k < len(row) and row[k] != 0 and sentence[k] == sentence[i] and abs(o) <= reach[i])
      assert bool(mask[0, i, j]) == ok, (i, o)
      if ok:
        assert int(context[0, i, j]) == row[k]


# ====================================================================================== loss and update

def test_pair_loss_and_gradient_against_float64_finite_differences():
  rng = np.random.default_rng(0)
  inputs, outputs = rng.normal(size=(3, 4)), rng.normal(size=(3, 3, 4))
  weights = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 0]], np.float64)
  sig = lambda x: 1 / (1 + np.exp(-x))

  def reference(i, o):
    s = np.einsum("nd,nkd->nk", i, o)
    return -np.sum(weights[:, 0] * np.log(sig(s[:, 0]))) - np.sum(weights[:, 1:] * np.log(sig(-s[:, 1:])))

  with jax.enable_x64():
    value, (d_in, d_out) = jax.value_and_grad(word2vec.pair_loss, argnums=(0, 1))(
        jnp.asarray(inputs), jnp.asarray(outputs), jnp.asarray(weights))
  assert float(value) == pytest.approx(reference(inputs, outputs), rel=1e-12)
  eps = 1e-6
  for array, grad in ((inputs, d_in), (outputs, d_out)):
    for index in np.ndindex(array.shape):
      plus, minus = array.copy(), array.copy()
      plus[index] += eps
      minus[index] -= eps
      args = lambda a: (a, outputs) if array is inputs else (inputs, a)
      numeric = (reference(*args(plus)) - reference(*args(minus))) / (2 * eps)
      assert float(grad[index]) == pytest.approx(numeric, abs=1e-7)


def tiny_task(mode, duplicates="sum", vocab=12, dim=6):
  config = load_config("word2vec_text_corpus", "smoke")
  config.task.mode = mode
  config.task.window = 2
  config.task.negatives = 3
  config.task.duplicates = duplicates
  counts = np.concatenate([[0.0], np.linspace(50, 5, vocab - 1)]).astype(np.float32)
  model = models.Word2Vec(num_ids=vocab, features=dim, word_counts=counts)
  lr = 0.1
  task = word2vec.make(config, model, optax.sgd(lr))
  rng = np.random.default_rng(3)
  params = {"input": jnp.asarray(rng.normal(size=(vocab, dim)), jnp.float32),
            "output": jnp.asarray(rng.normal(size=(vocab, dim)), jnp.float32)}
  tokens = jnp.asarray(rng.integers(1, vocab, size=(2, 16)), jnp.int32).at[0, 7].set(0)
  return config, model, task, params, tokens, lr


@pytest.mark.parametrize("duplicates", word2vec.DUPLICATES)
@pytest.mark.parametrize("mode", word2vec.MODES)
def test_one_update_equals_the_c_tools_rule_over_the_batch(mode, duplicates):
  """The C tool's update for each example (skip-gram pair or CBOW window), g = lr (label - s(u.v)): output row
  += g u, and each input row += sum of g v over the targets (CBOW: u the mean of the inputs, each input row
  given the whole error), in float64, one example at a time from the same parameters, with the draws the task
  made (negatives per centre word). Steps add up within an occurrence; a row moved by k occurrences or negative
  draws gets their sum, or (``duplicates="mean"``) their mean."""
  config, model, task, params, tokens, lr = tiny_task(mode, duplicates)
  key = jax.random.PRNGKey(7)
  kept, context, mask, negatives = (np.asarray(a) for a in word2vec.draws(model, config.task, tokens, key))
  w_in, w_out = (np.asarray(params[k], np.float64) for k in ("input", "output"))
  moves = {"input": np.zeros_like(w_in), "output": np.zeros_like(w_out)}
  hits = {"input": np.zeros(len(w_in)), "output": np.zeros(len(w_out))}
  served = np.zeros(kept.shape, bool)  # positions whose word was some window's context
  offsets = word2vec.offsets(config.task.window)
  examples = 0
  for b, p in np.ndindex(kept.shape):
    contexts = [(j, context[b, p, j]) for j in range(len(offsets)) if mask[b, p, j]]
    if not contexts:
      continue
    for j, _ in contexts:
      served[b, p + offsets[j]] = True
    targets = [(kept[b, p], 1.0)] + [(n, 0.0) for n in negatives[b, p] if n != kept[b, p]]
    for target, _ in targets:
      hits["output"][target] += 1
    groups = [[row] for _, row in contexts] if mode == "skipgram" else [[row for _, row in contexts]]
    for group in groups:
      examples += 1
      hidden = w_in[group].mean(0)
      error = np.zeros_like(hidden)
      for target, label in targets:
        g = lr * (label - 1 / (1 + np.exp(-hidden @ w_out[target])))
        error += g * w_out[target]
        moves["output"][target] += g * hidden
      for row in group:
        moves["input"][row] += error
  for b, p in zip(*np.nonzero(served)):
    hits["input"][kept[b, p]] += 1
  got, _, metrics, finite = task.update(params, task.init_opt_state(params), {"tokens": tokens}, key)
  assert bool(finite) and metrics["examples"] == examples
  assert hits["output"].max() > 1 and hits["input"].max() > 1  # the batch moves some rows more than once
  for name, old in (("input", w_in), ("output", w_out)):
    divide = np.maximum(hits[name], 1)[:, None] if duplicates == "mean" else 1.0
    np.testing.assert_allclose(np.asarray(got[name]), old + moves[name] / divide, atol=2e-5)
  assert np.array_equal(np.asarray(got["input"][0]), np.asarray(params["input"][0]))  # the sentence end: untouched


def test_word2vec_refuses_optimizers_that_are_not_plain_sgd():
  config, model, *_ = tiny_task("skipgram")
  config.optim.name = "adam"
  with pytest.raises(ValueError, match="plain SGD"):
    word2vec.make(config, model, optax.adam(1e-3))
  config.optim.name, config.task.mode = "sgd", "glove"
  with pytest.raises(ValueError, match="mode='glove'"):
    word2vec.make(config, model, optax.sgd(1e-3))


@requires_lee
def test_smoke_config_trains_and_its_held_out_loss_falls(tmp_path):
  config = load_config("word2vec_text_corpus", "smoke")
  first = train.run(config, tmp_path / "short")
  config.train.num_steps = config.train.eval_every_steps = config.train.checkpoint_every_steps = 64
  config.optim.lr = 0.1
  longer = train.run(config, tmp_path / "longer")
  start = math.log(2) * (1 + config.task.negatives)  # output rows start at 0: every score is 0
  assert first["final_metrics"]["validation/loss"] == pytest.approx(start, rel=0.01)
  assert longer["final_metrics"]["validation/loss"] < 0.9 * start
  assert json.loads((tmp_path / "longer" / "vocab.json").read_text())["type"] == "WordCounts"


@pytest.mark.parametrize("mode", word2vec.MODES)
def test_a_non_finite_step_moves_nothing_and_the_loop_runs_no_later_step(mode):
  """``masks_bad_steps``: the task keeps a bad step out itself (the loop does not select between whole tables),
  and the loop stops updating after it: a call of 4 steps whose second is bad applies the first only."""
  config, model, task, params, tokens, lr = tiny_task(mode)
  config.task.sample = 0.0  # every word kept: each step trains
  task = word2vec.make(config, model, optax.sgd(lr))
  assert task.masks_bad_steps
  bad = jax.tree.map(lambda a: a.at[tokens[0, 1]].set(jnp.inf), params)
  got, _, _, finite = task.update(bad, task.init_opt_state(bad), {"tokens": tokens}, jax.random.PRNGKey(0))
  assert not bool(finite)
  for name in params:
    np.testing.assert_array_equal(np.asarray(got[name]), np.asarray(bad[name]))

  from bigjax import program
  clean = jnp.where(tokens == 11, 1, tokens)  # word 11's input row is poisoned below: step 1 alone reads it
  params = {**params, "input": params["input"].at[11].set(jnp.inf)}
  poisoned = {"tokens": jnp.stack([clean, clean.at[:, :].set(11).at[:, ::3].set(2), clean, clean])}
  state = program.TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=task.init_opt_state(params),
                             rng=jax.random.PRNGKey(0), first_bad_step=jnp.array(-1, jnp.int32))
  call = jax.jit(program.make_train_call(task, lambda step: lr))
  after, sums = call(state, {"steps": jnp.zeros(()), "loss": jnp.zeros(()), "examples": jnp.zeros(()),
                             "lr": jnp.zeros(())}, poisoned)
  one, _, _, _ = task.update(params, task.init_opt_state(params), {"tokens": clean},
                             jax.random.fold_in(state.rng, 0))
  assert int(after.first_bad_step) == 1 and int(after.step) == 4 and float(sums["steps"]) == 1
  for name in params:
    np.testing.assert_allclose(np.asarray(after.params[name]), np.asarray(one[name]), rtol=1e-6)
  assert not np.array_equal(np.asarray(one["output"]), np.asarray(params["output"]))  # step 0 did move rows
