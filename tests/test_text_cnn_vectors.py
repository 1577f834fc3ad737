"""Kim's CNN-static and CNN-non-static: embeddings started from a trained word-vector run (issue 24, point 6)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigjax import runs, train
from bigjax.models.text_cnn import KimCNN
from bigjax.tasks import classification, word2vec

from conftest import load_config, requires_data, requires_mr, run_cli

requires_lee = requires_data("word_eval/lee_background.cor")


def test_embeddings_from_vectors_by_hand():
  initial = np.array([[9, 9], [0.1, -0.3], [1, 1], [2, 2], [0.5, 0.2]], np.float32)
  itos = ["<pad>", "<unk>", "a", "b", "zz"]
  words, vectors = ["b", "c", "a"], np.array([[1.0, 2.0], [3.0, -1.0], [0.0, 4.0]], np.float32)
  table, found = classification.embeddings_from_vectors(initial, itos, words, vectors)
  assert found == 2
  np.testing.assert_array_equal(table[0], [0, 0])        # padding
  np.testing.assert_array_equal(table[2], [0.0, 4.0])    # "a"
  np.testing.assert_array_equal(table[3], [1.0, 2.0])    # "b"
  # the others keep their rows, scaled so their spread is the vectors': per-dimension variances of the
  # three vectors are 2/3*... computed by hand: dim 0 (1, 3, 0): var 14/9; dim 1 (2, -1, 4): var 38/9
  spread = np.sqrt((14 / 9 + 38 / 9) / 2)
  scale = spread / np.std(initial.astype(np.float64))
  np.testing.assert_allclose(table[[1, 4]], initial[[1, 4]] * scale, rtol=1e-6)
  with pytest.raises(ValueError, match="2-dimensional but the word vectors are 3-dimensional"):
    classification.embeddings_from_vectors(initial, itos, words, np.zeros((3, 3), np.float32))


def test_static_embeddings_get_no_gradient_and_non_static_do():
  tokens = jnp.array([[2, 3, 4, 0], [5, 1, 0, 0]], jnp.int32)
  labels = jnp.array([0, 1])

  def grads(static):
    model = KimCNN(8, 2, embed_dim=4, filter_widths=(2,), num_filters=3, static_embed=static)
    params = model.init(jax.random.key(0), tokens)["params"]
    rng = np.random.default_rng(0)  # output weights non-zero (and unequal), so gradients reach the embeddings
    params = jax.tree.map(lambda x: jnp.asarray(rng.normal(0, 0.5, x.shape), jnp.float32), params)
    loss = lambda p: classification.per_example_loss(model.apply({"params": p}, tokens), labels, "softmax_xent").mean()
    return jax.grad(loss)(params)

  assert not np.any(grads(True)["embed"]["embedding"])
  moved = np.abs(np.asarray(grads(False)["embed"]["embedding"])).sum(axis=1)
  # the words of the sentences (1-5) that their max-over-time windows read get a gradient; padding and absent
  # words none
  assert moved[1:6].sum() > 0 and moved[0] == 0 and not np.any(moved[6:])


@pytest.fixture(scope="module")
def vectors_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("w2v") / "run"
  train.run(load_config("word2vec_text_corpus", "smoke"), workdir)
  return workdir


@requires_mr
@requires_lee
@pytest.mark.parametrize("static", [True, False])
def test_a_run_starts_from_the_vectors_and_static_keeps_them(vectors_run, tmp_path, static):
  config = load_config("text_cnn_mr_word2vec", "smoke")
  config.task.word_vectors = str(vectors_run)
  config.model.static_embed = static
  train.run(config, tmp_path / "cnn")
  _, _, params = runs.restore_params(tmp_path / "cnn")
  embedding = np.asarray(params["embed"]["embedding"])
  words, vectors = word2vec.word_vectors(runs.load_part(classification.parts(config)["word_vectors"]))
  index = {w: i for i, w in enumerate(words)}
  itos = json.loads((tmp_path / "cnn" / "vocab.json").read_text())["itos"]
  shared = [(i, index[w]) for i, w in enumerate(itos) if w in index]
  assert len(shared) > 100  # the Lee corpus and MR share the common words
  rows, found = zip(*shared)
  if static:  # trained 16 steps, and every shared row is still its vector
    np.testing.assert_array_equal(embedding[list(rows)], vectors[list(found)])
  else:       # the rows the batches read moved off their vectors
    moved = np.any(embedding[list(rows)] != vectors[list(found)], axis=1)
    assert 0 < moved.sum() < len(rows)
  assert not np.any(embedding[0])


@requires_mr
@requires_lee
def test_bad_word_vectors_are_refused_with_the_field_named(vectors_run, tmp_path):
  result = run_cli("text_cnn_mr_word2vec.py:smoke", tmp_path / "a", f"--config.task.word_vectors={tmp_path}/none")
  assert result.returncode == 2
  assert "config.task.word_vectors" in result.stderr.strip().splitlines()[-1]
  assert not (tmp_path / "a").exists()
  result = run_cli("text_cnn_mr_word2vec.py:smoke", tmp_path / "b", f"--config.task.word_vectors={vectors_run}",
                   "--config.model.embed_dim=32")
  assert result.returncode == 2
  assert "config.model.embed_dim=32" in result.stderr.strip().splitlines()[-1]
