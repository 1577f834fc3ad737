"""The front door, bigjax.embeddings: the seed's code with only the import changed, gensim 3 and 4 spellings, the
arguments it maps and refuses, save/load, files gensim reads, and a run's vectors."""

import collections

import gensim
import numpy as np
import pytest

from bigjax import runs
from bigjax.data import core, word_corpus
from bigjax.embeddings import GloVe, Word2Vec, WordVectors, evaluate_run, vectors_from_run

from conftest import requires_data

requires_lee = requires_data("word_eval/lee_background.cor")

SENTENCES = [["cat", "say", "meow"], ["dog", "say", "woof"]]


def lee_sentences():
  text = (core.default_data_dir() / "word_eval" / "lee_background.cor").read_text(encoding="utf-8")
  return list(word_corpus.sentences(text, "lower"))


def test_the_seeds_calls_run_with_only_the_import_changed():
  model = Word2Vec(SENTENCES, size=100, window=5, min_count=1, workers=4)
  assert model.wv["cat"].shape == (100,) and sorted(model.wv.index_to_key) == ["cat", "dog", "meow", "say", "woof"]
  assert model.config.task.mode == "cbow" and model.config.task.window == 5  # gensim's default: sg=0
  assert [w for w, _ in model.wv.most_similar("cat", topn=4)] != []
  glove = GloVe(SENTENCES, size=100, window=5, min_count=1, workers=4)
  assert glove.wv["meow"].shape == (100,) and glove.config.data.cooccurrence_window == 5


def test_gensim_4_spelling_and_what_the_arguments_set():
  model = Word2Vec(sentences=SENTENCES, vector_size=8, window=2, min_count=1, sg=1, negative=3, sample=0,
                   alpha=0.05, min_alpha=0.001, epochs=2, seed=7)
  c = model.config
  assert (c.model.features, c.task.window, c.task.mode, c.task.negatives, c.task.sample) == (8, 2, "skipgram", 3, 0)
  assert (c.optim.lr, c.train.num_epochs, c.seed) == (0.05, 2, 7)
  assert c.optim.lr * c.optim.end_lr_factor == pytest.approx(0.001)  # gensim's min_alpha: the floor
  assert model.wv.vector_size == 8 and model.results["steps"] > 0
  glove = GloVe(SENTENCES, vector_size=8, window=3, min_count=1, epochs=2, x_max=10, alpha=0.5, learning_rate=0.1)
  assert (glove.config.task.x_max, glove.config.task.alpha, glove.config.optim.lr) == (10, 0.5, 0.1)


def test_bad_arguments_are_named():
  with pytest.raises(TypeError, match="vector_size .*size"):
    Word2Vec(SENTENCES, size=10, vector_size=10, min_count=1)
  with pytest.raises(TypeError, match="unexpected keyword argument 'windw'"):
    Word2Vec(SENTENCES, windw=3, min_count=1)
  with pytest.raises(ValueError, match="hs=1"):
    Word2Vec(SENTENCES, hs=1, min_count=1)
  with pytest.raises(ValueError, match="negative=0"):
    Word2Vec(SENTENCES, negative=0, min_count=1)
  with pytest.raises(TypeError, match="sentences or corpus_file"):
    Word2Vec(min_count=1)
  with pytest.raises(TypeError, match="sentence 1 is a string"):
    Word2Vec([["a", "b"], "c d"], min_count=1)
  with pytest.raises(ValueError, match="'a b'"):
    Word2Vec([["a b", "c"]], min_count=1)


def test_save_load_and_the_word2vec_files_gensim_reads(tmp_path):
  model = Word2Vec(SENTENCES, vector_size=6, min_count=1, epochs=1)
  model.save(tmp_path / "model.npz")
  back = Word2Vec.load(tmp_path / "model.npz")
  np.testing.assert_array_equal(back.wv.vectors, model.wv.vectors)
  assert back.wv.index_to_key == model.wv.index_to_key and back.config.task.mode == model.config.task.mode
  with pytest.raises(Exception, match="holds Word2Vec, not a GloVe"):
    GloVe.load(tmp_path / "model.npz")
  for binary in (False, True):
    path = tmp_path / f"vectors.{'bin' if binary else 'txt'}"
    model.wv.save_word2vec_format(path, binary=binary)
    theirs = gensim.models.KeyedVectors.load_word2vec_format(str(path), binary=binary)
    assert theirs.index_to_key == model.wv.index_to_key
    np.testing.assert_array_equal(theirs.vectors, model.wv.vectors)


def test_a_given_workdir_keeps_the_run_and_its_vectors_read_back(tmp_path):
  model = Word2Vec(SENTENCES, vector_size=6, min_count=1, epochs=1, workdir=tmp_path / "w2v")
  assert (tmp_path / "w2v" / "sentences.txt").read_text() == "cat say meow\ndog say woof\n"
  again = vectors_from_run(tmp_path / "w2v" / "run")
  np.testing.assert_array_equal(again.vectors, model.wv.vectors)
  with pytest.raises(Exception, match="holds no word-vector run"):
    vectors_from_run(tmp_path)


@requires_lee
def test_on_the_lee_corpus_skipgram_learns_and_glove_vectors_are_w_plus_w_tilde(tmp_path):
  sentences = lee_sentences()
  model = Word2Vec(sentences, vector_size=32, min_count=2, sg=1, epochs=10, workdir=tmp_path / "sg")
  counts = collections.Counter(word for sentence in sentences for word in sentence)
  assert sorted(model.wv.index_to_key) == sorted(w for w, n in counts.items() if n >= 2)
  start = np.log(2) * (1 + model.config.task.negatives)  # output rows start at 0: every pair's loss
  run = tmp_path / "sg" / "run"
  assert model.results["final_metrics"]["train/loss"] < 0.9 * start
  scores = evaluate_run(run)
  assert {"analogy/accuracy", "wordsim353/spearman", "simlex999/spearman"} <= set(scores)
  glove = GloVe(sentences, vector_size=16, window=5, min_count=2, epochs=3, workdir=tmp_path / "glove")
  _, _, params = runs.restore_params(tmp_path / "glove" / "run")
  ids = [glove.wv.key_to_index[w] + 1 for w in ("the", "and")]
  np.testing.assert_allclose(glove.wv[["the", "and"]], np.asarray(params["input"])[ids] + np.asarray(params["context"])[ids],
                             rtol=1e-6)
  assert isinstance(glove.wv, WordVectors)


def test_command_line_neighbours_plot_and_bad_input(tmp_path, capsys):
  from bigjax.embeddings import __main__ as cli
  rng = np.random.default_rng(0)
  wv = WordVectors(["king", "queen", "man", "woman", "apple"], rng.normal(size=(5, 4)).astype(np.float32))
  wv.save(tmp_path / "wv.npz")
  wv.save_word2vec_format(tmp_path / "wv.bin", binary=True)
  assert cli.main(["neighbours", str(tmp_path / "wv.npz"), "--words", "king,apple", "--topn", "2",
                   "--json", str(tmp_path / "n.json")]) == 0
  record = __import__("json").loads((tmp_path / "n.json").read_text())
  got = record["neighbours"]
  assert record["table_markdown"].splitlines()[2].startswith(f"| king | {got['king'][0][0]} (")
  assert [w for w, _ in got["king"]] == [w for w, _ in wv.most_similar("king", topn=2)]
  assert cli.main(["plot", str(tmp_path / "wv.bin"), "--words", "king,queen,man", "--out", str(tmp_path / "p.png")]) == 0
  assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  capsys.readouterr()
  before = (tmp_path / "n.json").read_text()
  for argv, named in ((["neighbours", str(tmp_path / "nothing.npz"), "--words", "king"], "nothing.npz"),
                      (["neighbours", str(tmp_path / "wv.npz"), "--words", "king,zebra"], "zebra"),
                      (["neighbours", str(tmp_path / "wv.npz"), "--words", "king", "--json", str(tmp_path / "n.json")],
                       "n.json exists"),
                      (["plot", str(tmp_path / "wv.npz"), "--words", "king", "--out", str(tmp_path / "p.png")],
                       "p.png exists")):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert named in err and len(err.splitlines()) == 1, err
  assert (tmp_path / "n.json").read_text() == before


@requires_lee
@pytest.mark.parametrize("config", ["word2vec_text_corpus.py:smoke", "glove_text_corpus.py:smoke"])
def test_tables_sharded_over_fsdp_train_as_on_one_device(tmp_path, config):
  """The embedding dimension of every table over ``fsdp`` (4 CPU devices): the same steps, the same numbers."""
  from conftest import run_cli
  flags = ["--config.data.batch_size=4"] if config.startswith("word2vec") else []
  one = run_cli(config, tmp_path / "one", *flags)
  four = run_cli(config, tmp_path / "four", *flags, "--config.mesh.fsdp=4", num_devices=4)
  assert one.returncode == 0, one.stderr[-2000:]
  assert four.returncode == 0, four.stderr[-2000:]
  results = [__import__("json").loads((tmp_path / name / "results.json").read_text()) for name in ("one", "four")]
  assert results[1]["mesh"] == {"data": 1, "fsdp": 4, "tensor": 1}
  for key in ("train/loss", "validation/loss"):
    assert results[1]["final_metrics"][key] == pytest.approx(results[0]["final_metrics"][key], rel=1e-4), key
