"""Word vectors with gensim's shape: ``from bigjax.embeddings import Word2Vec, GloVe``.

  model = Word2Vec(sentences, size=100, window=5, min_count=1, workers=4)     gensim 3's spelling
  model = Word2Vec(sentences, vector_size=100, window=5, min_count=1, sg=1)    gensim 4's
  model = GloVe(sentences, vector_size=100, window=10, epochs=50)
  model.wv["king"], model.wv.most_similar("king"), model.wv.evaluate_word_analogies()
  model.save("w2v.npz"); Word2Vec.load("w2v.npz")
  model.wv.save_word2vec_format("w2v.bin", binary=True)    gensim's KeyedVectors.load_word2vec_format reads it

The constructor trains, as gensim's does: the sentences (lists of string tokens) are written one per line to a
file in ``workdir`` (a temporary folder unless given) and trained by ``bigjax.train.run`` from the recipe of
``configs/word2vec_text_corpus.py`` / ``configs/glove_text_corpus.py`` (``bigjax.embeddings.settings``), with
the arguments mapped onto its config (``model.config``); the loop shows its progress bar on a terminal. The
vectors land in ``model.wv``, a ``WordVectors``.

gensim's arguments that change nothing here (``workers``: XLA uses the machine's cores itself; ``batch_words``,
``compute_loss``, ``callbacks``) are accepted and ignored; those bigjax does not implement (``hs=1``, ``cbow_mean=0``,
``sorted_vocab=0``, ``trim_rule``, ``null_word``) are refused by name. ``alpha`` left out is bigjax's rate for
the recipe (``settings``), not gensim's 0.025: rows move by the mean of their steps in a batch, which wants a
larger rate than one example at a time (configs/word2vec_text_corpus.py's ``get_sweep`` chose it).

``vectors_from_run(workdir)`` and ``evaluate_run(workdir)`` read the vectors of any word2vec or GloVe run.
"""

import json
import os
import pathlib
import shutil
import tempfile
from typing import Any, Iterable, Sequence

import ml_collections
import numpy as np

from bigjax import config_base, runs, tasks, train
from bigjax.data import cooccurrence, word_corpus, word_eval
from bigjax.embeddings import settings
from bigjax.embeddings.vectors import WordVectors
from bigjax.tasks import word2vec

__all__ = ["Word2Vec", "GloVe", "WordVectors", "vectors_from_run", "evaluate_run"]

_IGNORED = ("workers", "batch_words", "compute_loss", "callbacks", "max_final_vocab", "shrink_windows", "hashfxn",
            "comment")
_MODEL_FORMAT = "bigjax.embeddings"


def vectors_from_run(workdir: str | os.PathLike, step: int | None = None) -> WordVectors:
  """The word vectors of the word2vec or GloVe run in ``workdir`` (its checkpoint at ``step``, default the
  newest): Word2Vec's ``input`` table, GloVe's ``input + context`` (W + W~), words from its ``vocab.json``."""
  workdir = pathlib.Path(workdir)
  try:
    vocab = word_corpus.Vocabulary.from_json((workdir / "vocab.json").read_text(encoding="utf-8"))
  except FileNotFoundError:
    raise runs.ConfigError(f"{workdir} holds no word-vector run: {workdir / 'vocab.json'} not found") from None
  config, model, params = runs.restore_params(workdir, step=step)
  words, table = word2vec.word_vectors(tasks.Part(str(workdir), config, model, params, vocab))
  return WordVectors(list(words), table)


def evaluate_run(workdir: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> dict[str, float]:
  """The field's scores of a run's vectors: analogies (questions-words, 3CosAdd over the 30,000 most frequent
  words), WordSim-353 and SimLex-999 (Spearman), as ``{"analogy/accuracy": ..., "wordsim353/spearman": ...,
  "simlex999/spearman": ...}`` (and each section's, pearson, OOV percentages)."""
  wv = vectors_from_run(workdir)
  return (wv.evaluate_word_analogies(word_eval.questions_words(data_dir)).metrics("analogy")
          | wv.evaluate_word_pairs(word_eval.wordsim353(data_dir)).metrics("wordsim353")
          | wv.evaluate_word_pairs(word_eval.simlex999(data_dir)).metrics("simlex999"))


class _Trained:
  """What ``Word2Vec`` and ``GloVe`` share: map gensim's arguments, write the sentences, train, keep ``wv``."""
  method = ""

  def __init__(self, sentences: Iterable[Sequence[str]] | None = None, corpus_file: str | None = None,
               vector_size: int | None = None, window: int | None = None, min_count: int = 5,
               max_vocab_size: int | None = None, epochs: int | None = None, seed: int = 1,
               workdir: str | os.PathLike | None = None, size: int | None = None, iter: int | None = None,
               **options: Any):
    vector_size = _one_of("vector_size", vector_size, "size", size)
    epochs = _one_of("epochs", epochs, "iter", iter)
    self.config = config_base.base_config()
    settings.add_fields(self.config)
    if self.method == "glove":
      settings.glove(self.config)
    c = self.config
    c.seed = int(seed)
    c.data.name, c.data.tokenizer = "file", "split"
    c.data.min_freq = int(min_count)
    c.data.max_vocab = int(max_vocab_size or 0)
    if vector_size is not None:
      c.model.features = int(vector_size)
    if epochs is not None:
      c.train.num_epochs = int(epochs)
    if window is not None and self.method == "glove":
      c.data.cooccurrence_window = int(window)
    elif window is not None:
      c.task.window = int(window)
    self._apply(options)
    for name in _IGNORED:
      options.pop(name, None)
    if options:
      raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {list(options)[0]!r}")
    if (sentences is None) == (corpus_file is None):
      raise TypeError(f"{type(self).__name__}(): give either sentences or corpus_file (gensim's build_vocab/train "
                      f"later is not supported: the constructor trains)")
    self._train(sentences, corpus_file, workdir)

  def _apply(self, options: dict) -> None:
    raise NotImplementedError

  def _train(self, sentences, corpus_file, workdir) -> None:
    own = workdir is None
    root = pathlib.Path(tempfile.mkdtemp(prefix="bigjax_embeddings_")) if own else pathlib.Path(workdir)
    try:
      root.mkdir(parents=True, exist_ok=True)
      corpus = pathlib.Path(corpus_file) if corpus_file is not None else _write_sentences(sentences, root)
      c = self.config
      c.data.corpus_file = str(corpus)
      stream, vocab = word_corpus.load("file", root, tokenizer="split", min_count=c.data.min_freq,
                                       max_size=c.data.max_vocab, corpus_file=str(corpus))
      _fit_to_corpus(c, stream, len(vocab) + 1)
      self.results = train.run(c, root / "run", command=f"bigjax.embeddings.{type(self).__name__}")
      self.wv = vectors_from_run(root / "run")
    finally:
      if own:
        shutil.rmtree(root, ignore_errors=True)

  def save(self, path: str | os.PathLike) -> None:
    """One .npz at ``path``: the vectors, their words and this model's config (no pickle)."""
    self.wv.save(path, extra={"model": _MODEL_FORMAT, "class": type(self).__name__, "config": self.config.to_dict()})

  @classmethod
  def load(cls, path: str | os.PathLike) -> "_Trained":
    """What ``save`` wrote, as a model whose ``wv`` and ``config`` are back (it does not train further)."""
    wv, extra = WordVectors.load(path, with_extra=True)
    if extra.get("model") != _MODEL_FORMAT or extra.get("class") != cls.__name__:
      raise runs.ConfigError(f"{path} holds {extra.get('class') or 'word vectors only'}, not a {cls.__name__} "
                             f"that {cls.__name__}.save wrote; read plain vectors with WordVectors.load")
    model = cls.__new__(cls)
    model.wv, model.results, model.config = wv, None, ml_collections.ConfigDict(extra["config"])
    return model

  def __repr__(self) -> str:
    return f"{type(self).__name__}<vocab={len(self.wv)}, vector_size={self.wv.vector_size}>"


class Word2Vec(_Trained):
  """gensim's ``Word2Vec`` (3.x and 4.x arguments): skip-gram (``sg=1``) or CBOW (``sg=0``, gensim's default)
  with negative sampling, trained by bigjax's loop (``bigjax/tasks/word2vec.py``). See the module docstring."""
  method = "word2vec"

  def _apply(self, options: dict) -> None:
    c = self.config
    for name, refused, why in (("hs", 1, "hierarchical softmax"), ("cbow_mean", 0, "CBOW by the sum of contexts"),
                               ("sorted_vocab", 0, "an unsorted vocabulary"), ("trim_rule", None, None),
                               ("null_word", 0, None)):
      value = options.pop(name, None if refused is None else 1 - refused)
      if (refused is None and value is not None) or (refused is not None and value == refused and why):
        raise ValueError(f"{type(self).__name__}({name}={value!r}): bigjax trains negative sampling with a "
                         f"sorted vocabulary and the mean of the contexts; {why or name} is not implemented")
    c.task.mode = "skipgram" if options.pop("sg", 0) else "cbow"
    negative = options.pop("negative", 5)
    if not negative:
      raise ValueError(f"{type(self).__name__}(negative=0): bigjax trains by negative sampling only; give negative >= 1")
    c.task.negatives = int(negative)
    c.task.negative_power = float(options.pop("ns_exponent", 0.75))
    c.task.sample = float(options.pop("sample", 1e-3))
    alpha = options.pop("alpha", None)
    min_alpha = float(options.pop("min_alpha", 0.0001))
    if alpha is not None:
      c.optim.lr = float(alpha)
    c.optim.end_lr_factor = min_alpha / c.optim.lr if alpha is not None else c.optim.end_lr_factor


class GloVe(_Trained):
  """GloVe (Pennington et al. 2014) with gensim-shaped arguments: ``window`` the co-occurrence window (default
  10), ``alpha`` the weighting exponent (3/4), ``x_max`` (100), ``learning_rate`` AdaGrad's rate (0.05),
  ``epochs`` (50); trained by bigjax's loop (``bigjax/tasks/glove.py``). See the module docstring."""
  method = "glove"

  def _apply(self, options: dict) -> None:
    c = self.config
    c.task.alpha = float(options.pop("alpha", c.task.alpha))
    c.task.x_max = float(options.pop("x_max", c.task.x_max))
    c.optim.lr = float(options.pop("learning_rate", c.optim.lr))


def _one_of(name: str, value: Any, old_name: str, old_value: Any) -> Any:
  """gensim 4's ``name`` or gensim 3's ``old_name`` (not both)."""
  if value is not None and old_value is not None:
    raise TypeError(f"give {name} (gensim 4) or {old_name} (gensim 3), not both")
  return value if value is not None else old_value


def _write_sentences(sentences: Iterable[Sequence[str]], root: pathlib.Path) -> pathlib.Path:
  """The sentences one per line, tokens separated by one space, UTF-8; a token with whitespace is refused."""
  if isinstance(sentences, (str, bytes)):
    raise TypeError("sentences must be an iterable of token lists, e.g. [['the', 'cat'], ['a', 'dog']], "
                    "not one string")
  path = root / "sentences.txt"
  with open(path, "w", encoding="utf-8") as f:
    for n, sentence in enumerate(sentences):
      if isinstance(sentence, str):
        raise TypeError(f"sentence {n} is a string ({sentence[:40]!r}); each sentence must be a list of tokens")
      tokens = [str(t) for t in sentence]
      bad = next((t for t in tokens if not t or any(ch.isspace() for ch in t)), None)
      if bad is not None:
        raise ValueError(f"sentence {n}: the token {bad!r} is empty or holds whitespace")
      f.write(" ".join(tokens) + "\n")
  return path


def _fit_to_corpus(c, stream: np.ndarray, num_ids: int) -> None:
  """A small corpus still trains: chunks no longer than the corpus, batches no larger than its examples, the
  whole text trained on (evaluation: a few training examples, not a held-out tail)."""
  c.data.eval_split = "train"
  if c.data.cooccurrence_window:
    examples = len(cooccurrence.counts(stream, c.data.cooccurrence_window, num_ids)[0])
  else:
    c.data.seq_len = max(2, min(c.data.seq_len, len(stream)))
    examples = max(1, len(stream) // c.data.seq_len)
  c.data.batch_size = max(1, min(c.data.batch_size, examples))
  c.data.eval_batch_size = min(c.data.eval_batch_size, examples)
  c.data.eval_examples = c.data.eval_batch_size
  steps_per_epoch = examples // c.data.batch_size
  calls = 1
  while calls * 2 <= min(c.train.steps_per_call, steps_per_epoch):
    calls *= 2
  c.train.steps_per_call = calls  # a power of two no larger than an epoch: log_every_steps stays a multiple
