"""GloVe: co-occurrence counts against enumerating the windows by hand, their cache, the cost and its gradient
against float64 finite differences, one AdaGrad update against the GloVe tool's rule in float64, refusals, and
the smoke config through the loop."""

import collections

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from bigjax import train
from bigjax.data import cooccurrence, word_corpus
from bigjax.models import word2vec as models
from bigjax.tasks import glove

from conftest import load_config, requires_data

requires_lee = requires_data("word_eval/lee_background.cor")

# Two sentences (0 ends one), a word repeated within reach of itself, ids 1..5.
STREAM = np.array([1, 2, 3, 1, 4, 0, 5, 2, 2, 0, 3], np.int32)


def by_hand(stream, window):
  table = collections.defaultdict(float)
  sentences, current = [], []
  for word in stream:
    if word == 0:
      sentences.append(current)
      current = []
    else:
      current.append(int(word))
  sentences.append(current)
  for words in sentences:
    for i, centre in enumerate(words):
      for j in range(max(0, i - window), min(len(words), i + window + 1)):
        if j != i:
          table[centre, words[j]] += 1.0 / abs(i - j)
  return table


@pytest.mark.parametrize("window", [1, 2, 10])
def test_cooccurrence_counts_every_pair_within_the_window_of_one_sentence(window):
  rows, cols, values = cooccurrence.count(STREAM, window, num_ids=6)
  got = {(int(r), int(c)): float(v) for r, c, v in zip(rows, cols, values)}
  expected = by_hand(STREAM, window)
  assert got.keys() == expected.keys()
  for key, value in expected.items():
    assert got[key] == pytest.approx(value, rel=1e-6), key
  assert list(zip(rows, cols)) == sorted(zip(rows.tolist(), cols.tolist()))  # sorted by row, then column
  assert all(got[c, r] == got[r, c] for r, c in got)  # symmetric
  assert 0 not in rows and 0 not in cols  # the sentence end co-occurs with nothing
  if window == 2:  # hand-computed: 1 and 3 meet at distances 2 and 1 in "1 2 3 1 4"; each 2 of "5 2 2" sees the other
    assert got[1, 3] == pytest.approx(1.5) and got[2, 2] == pytest.approx(2.0) and (1, 5) not in got


def test_cooccurrence_refuses_bad_settings():
  with pytest.raises(ValueError, match="cooccurrence_window=0"):
    cooccurrence.count(STREAM, 0, 6)
  with pytest.raises(ValueError, match=r"0\.\.4"):
    cooccurrence.count(STREAM, 2, 5)


def test_cooccurrence_cache_is_read_back_and_a_corrupt_entry_rebuilt(tmp_path, monkeypatch):
  first = cooccurrence.counts(STREAM, 2, 6, cache_dir=tmp_path)
  (blob,) = tmp_path.rglob("cooccurrence.npz")
  monkeypatch.setattr(cooccurrence, "count", lambda *a: pytest.fail("counted again instead of reading the cache"))
  for got, want in zip(cooccurrence.counts(STREAM, 2, 6, cache_dir=tmp_path), first):
    np.testing.assert_array_equal(got, want)
  blob.write_bytes(blob.read_bytes()[:-7] + b"garbage")
  monkeypatch.undo()
  for got, want in zip(cooccurrence.counts(STREAM, 2, 6, cache_dir=tmp_path), first):
    np.testing.assert_array_equal(got, want)
  assert len(list(tmp_path.rglob("cooccurrence.npz"))) == 1  # a window of 3 is another entry:
  cooccurrence.counts(STREAM, 3, 6, cache_dir=tmp_path)
  assert len(list(tmp_path.rglob("cooccurrence.npz"))) == 2


def test_dataset_holds_the_splits_cooccurrences(tmp_path):
  path = tmp_path / "corpus.txt"
  path.write_text("a b c a\nb c d\n" * 300 + "a d c b\n" * 3, encoding="utf-8")
  config = load_config("glove_text_corpus", "smoke")
  config.data.name, config.data.corpus_file, config.data.min_freq = "file", str(path), 1
  config.data.tokenizer, config.data.cooccurrence_window = "split", 2
  stream, vocab = word_corpus.load("file", tmp_path, tokenizer="split", min_count=1, corpus_file=str(path),
                                   cache_dir=tmp_path)
  train_ds = word_corpus.dataset(config.data, "train", tmp_path, cache_dir=tmp_path)
  held_out = word_corpus.dataset(config.data, "validation", tmp_path, cache_dir=tmp_path)
  whole = by_hand(stream, 2)
  train_table = {(int(r), int(c)): float(v) for r, c, v in zip(*(train_ds.arrays[k] for k in ("row", "col", "count")))}
  held_table = {(int(r), int(c)): float(v) for r, c, v in zip(*(held_out.arrays[k] for k in ("row", "col", "count")))}
  assert set(train_table) | set(held_table) == set(whole)
  cut = word_corpus.held_out_cut(stream)
  scale = cut / (len(stream) - cut)  # held-out counts come at the training text's scale
  for key, value in whole.items():  # no window crosses the cut, which falls at a sentence start
    assert train_table.get(key, 0.0) + held_table.get(key, 0.0) / scale == pytest.approx(value, rel=1e-5), key
  assert train_ds.model_fields == {"num_ids": len(vocab) + 1}


# ====================================================================================== cost and update

def rows_and_batch(seed=0, vocab=7, dim=4, entries=12):
  rng = np.random.default_rng(seed)
  params = {"input": rng.normal(size=(vocab, dim)) * 0.3, "context": rng.normal(size=(vocab, dim)) * 0.3,
            "input_bias": rng.normal(size=vocab) * 0.1, "context_bias": rng.normal(size=vocab) * 0.1}
  batch = {"row": rng.integers(1, vocab, size=entries).astype(np.int32),
           "col": rng.integers(1, vocab, size=entries).astype(np.int32),
           "count": rng.choice([0.5, 1.0, 3.0, 150.0, 250.0], size=entries)}
  return params, batch


def reference_cost(params, batch, x_max=100.0, alpha=0.75):
  r, c, x = batch["row"], batch["col"], batch["count"]
  diff = (np.sum(params["input"][r] * params["context"][c], 1) + params["input_bias"][r] + params["context_bias"][c]
          - np.log(x))
  f = np.where(x < x_max, (x / x_max) ** alpha, 1.0)
  return 0.5 * np.sum(f * diff ** 2)


def test_cost_and_gradient_against_float64_finite_differences():
  params, batch = rows_and_batch()
  gathered = {"input": params["input"][batch["row"]], "context": params["context"][batch["col"]],
              "input_bias": params["input_bias"][batch["row"]], "context_bias": params["context_bias"][batch["col"]]}

  def as_cost(rows):
    diff = (np.sum(rows["input"] * rows["context"], 1) + rows["input_bias"] + rows["context_bias"]
            - np.log(batch["count"]))
    f = np.minimum(1.0, (batch["count"] / 100.0) ** 0.75)
    return 0.5 * np.sum(f * diff ** 2)

  assert as_cost(gathered) == pytest.approx(reference_cost(params, batch), rel=1e-12)
  with jax.enable_x64():
    value, grads = jax.value_and_grad(glove.cost)(jax.tree.map(jnp.asarray, gathered), jnp.asarray(batch["count"]),
                                                  jnp.ones(len(batch["count"])), 100.0, 0.75)
  assert float(value) == pytest.approx(as_cost(gathered), rel=1e-12)
  eps = 1e-6
  for name, array in gathered.items():
    for index in np.ndindex(array.shape):
      plus = {k: v.copy() for k, v in gathered.items()}
      minus = {k: v.copy() for k, v in gathered.items()}
      plus[name][index] += eps
      minus[name][index] -= eps
      numeric = (as_cost(plus) - as_cost(minus)) / (2 * eps)
      assert float(grads[name][index]) == pytest.approx(numeric, abs=1e-6), (name, index)


def glove_task(lr=0.05, initial=1.0):
  config = load_config("glove_text_corpus", "smoke")
  config.optim.lr, config.optim.initial_accumulator = lr, initial
  model = models.GloVe(num_ids=7, features=4)
  return config, glove.make(config, model, optax.adagrad(lr))


def test_one_update_is_the_glove_tools_adagrad_on_each_rows_summed_gradient():
  """AdaGrad for each row a batch reads, in float64: g its gradient summed over the batch's entries,
  G += (eta g)^2 (the tool's rate-scaled accumulator), then step = eta g / sqrt(G); other rows untouched."""
  params, batch = rows_and_batch(seed=1)
  batch["row"][:3] = 2  # one row read three times, by entries of different columns
  config, task = glove_task(lr=0.05, initial=1.0)
  state = {k: np.full_like(v, 1.0) for k, v in params.items()}
  state["input"][2] = 4.0  # an accumulator that has grown: the step divides by the root of more than 4
  as_f32 = lambda tree: jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), tree)
  got, got_state, metrics, finite = task.update(as_f32(params), as_f32(state), as_f32(batch) | {
      "row": jnp.asarray(batch["row"]), "col": jnp.asarray(batch["col"])}, jax.random.PRNGKey(0))
  assert bool(finite)
  assert float(metrics["loss"]) == pytest.approx(reference_cost(params, batch) / len(batch["row"]), rel=1e-5)

  r, c, x = batch["row"], batch["col"], batch["count"]
  diff = np.sum(params["input"][r] * params["context"][c], 1) + params["input_bias"][r] + params["context_bias"][c] - np.log(x)
  fdiff = np.minimum(1.0, (x / 100.0) ** 0.75) * diff
  grads = {name: np.zeros_like(v) for name, v in params.items()}
  for n in range(len(r)):
    grads["input"][r[n]] += fdiff[n] * params["context"][c[n]]
    grads["context"][c[n]] += fdiff[n] * params["input"][r[n]]
    grads["input_bias"][r[n]] += fdiff[n]
    grads["context_bias"][c[n]] += fdiff[n]
  for name in params:
    read = np.unique(r if name.startswith("input") else c)
    want, want_state = params[name].copy(), state[name].copy()
    scaled = 0.05 * grads[name][read]
    want_state[read] += scaled ** 2
    want[read] -= scaled / np.sqrt(want_state[read])
    np.testing.assert_allclose(np.asarray(got[name]), want, rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(np.asarray(got_state[name]), want_state, rtol=1e-5, atol=1e-6, err_msg=name)
    untouched = np.setdiff1d(np.arange(7), read)
    assert np.array_equal(np.asarray(got[name])[untouched], np.asarray(params[name], np.float32)[untouched])


def test_glove_refuses_what_it_cannot_train_with():
  config, _ = glove_task()
  model = models.GloVe(num_ids=7, features=4)
  for field, value, match in (("name", "adam", "AdaGrad at a constant rate"),
                              ("schedule", "linear", "AdaGrad at a constant rate"),
                              ("initial_accumulator", 0.0, "initial_accumulator=0.0")):
    bad = load_config("glove_text_corpus", "smoke")
    bad.optim[field] = value
    with pytest.raises(ValueError, match=match):
      glove.make(bad, model, optax.sgd(0.1))
  bad = load_config("glove_text_corpus", "smoke")
  bad.task.x_max = 0.0
  with pytest.raises(ValueError, match="x_max=0.0"):
    glove.make(bad, model, optax.sgd(0.1))


@requires_lee
def test_smoke_config_trains_and_its_held_out_cost_falls(tmp_path):
  config = load_config("glove_text_corpus", "smoke")
  config.train.num_steps = config.train.eval_every_steps = config.train.checkpoint_every_steps = 4
  first = train.run(config, tmp_path / "first")
  config.train.num_steps = config.train.eval_every_steps = config.train.checkpoint_every_steps = 64
  longer = train.run(config, tmp_path / "longer")
  assert longer["final_metrics"]["validation/loss"] < 0.9 * first["final_metrics"]["validation/loss"]
  assert longer["final_metrics"]["train/loss"] < first["final_metrics"]["train/loss"]
