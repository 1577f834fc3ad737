"""Trained word vectors as users query them: ``WordVectors``, shaped like gensim's ``KeyedVectors``.

  wv = WordVectors(words, vectors)          words most frequent first, vectors [V, d]
  wv["king"], wv[["king", "queen"]]         [d], [2, d]; a KeyError names an unknown word
  wv.most_similar(positive=["king", "woman"], negative=["man"], topn=10)   [(word, cosine), ...]
  wv.evaluate_word_analogies()              questions-words.txt (3CosAdd, the 30,000 most frequent words)
  wv.evaluate_word_pairs()                  WordSim-353 (or simlex999 / any path): Spearman, Pearson, OOV %
  wv.save("wv.npz"); WordVectors.load("wv.npz")                   .npz (vectors) + JSON (words): no pickle
  wv.save_word2vec_format("wv.bin", binary=True)                  the word2vec C tool's formats, text or binary
  WordVectors.load_word2vec_format("wv.bin", binary=True)

The evaluations are bigjax.evals.word_vectors' pure functions, the files bigjax.data.word_eval's verified readers.
Unlike gensim, the evaluations return named results (``AnalogyResult``, ``WordPairResult``), not tuples.
"""

import json
import logging
import os
import pathlib
import zipfile
from typing import Sequence

import numpy as np

from bigjax.data import word_eval
from bigjax.data.core import DataError
from bigjax.evals import word_projection, word_vectors

__all__ = ["WordVectors"]

_FORMAT = "bigjax.WordVectors"
_VERSION = 1


class WordVectors:
  """A vocabulary and one vector per word.

  Attributes:
    index_to_key: the words, most frequent first [V].
    key_to_index: word -> row.
    vectors: [V, d] float (float32 unless built from float64).
  """

  def __init__(self, words: Sequence[str], vectors: np.ndarray):
    vectors = np.asarray(vectors)
    if vectors.dtype not in (np.float32, np.float64):
      vectors = vectors.astype(np.float32)
    if vectors.ndim != 2 or len(words) != len(vectors):
      raise ValueError(f"need one vector per word: {len(words)} words, vectors of shape {vectors.shape}")
    self.index_to_key = list(words)
    self.key_to_index = {w: i for i, w in enumerate(self.index_to_key)}
    if len(self.key_to_index) != len(self.index_to_key):
      seen = set()
      twice = next(w for w in self.index_to_key if w in seen or seen.add(w))
      raise ValueError(f"each word needs one vector, but {twice!r} appears more than once")
    if not all(isinstance(w, str) and w for w in self.index_to_key):
      raise ValueError("words must be non-empty strings")
    self.vectors = vectors
    self._norms = None

  # ------------------------------------------------------------------------------------ lookup

  def __len__(self) -> int:
    return len(self.index_to_key)

  def __contains__(self, word) -> bool:
    return word in self.key_to_index

  def __repr__(self) -> str:
    return f"WordVectors({len(self)} words, vector_size={self.vector_size}, dtype={self.vectors.dtype})"

  @property
  def vector_size(self) -> int:
    return self.vectors.shape[1]

  def get_index(self, word: str) -> int:
    """``word``'s row. Raises KeyError naming the word."""
    try:
      return self.key_to_index[word]
    except KeyError:
      raise KeyError(f"word {word!r} is not in the vocabulary ({len(self)} words)") from None

  def get_vector(self, word: str, norm: bool = False) -> np.ndarray:
    """``word``'s vector [d]; ``norm``: scaled to unit length."""
    row = self.get_index(word)
    return self.get_normed_vectors()[row] if norm else self.vectors[row]

  def __getitem__(self, words: str | Sequence[str]) -> np.ndarray:
    """``wv["king"]`` -> [d]; ``wv[["king", "queen"]]`` -> [2, d]."""
    if isinstance(words, str):
      return self.get_vector(words)
    return self.vectors[np.array([self.get_index(w) for w in words], np.int64).reshape(-1)]

  @property
  def norms(self) -> np.ndarray:
    """The vectors' L2 norms [V], computed once (the vectors are not meant to change after construction)."""
    if self._norms is None:
      self._norms = np.linalg.norm(self.vectors, axis=1)
    return self._norms

  def get_normed_vectors(self) -> np.ndarray:
    """The vectors scaled to unit length [V, d] (zero vectors stay zero)."""
    return word_vectors.unit_rows(self.vectors)[0]

  # ------------------------------------------------------------------------------------ similarity

  def similarity(self, first: str, second: str) -> float:
    """Cosine similarity of two words' vectors."""
    a, b = self.get_vector(first), self.get_vector(second)
    scale = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / scale if scale > 0 else 0.0

  def most_similar(self, positive=(), negative=(), topn: int = 10, restrict_vocab: int | None = None
                   ) -> list[tuple[str, float]]:
    """The ``topn`` words closest (cosine) to the mean of ``positive`` minus ``negative`` unit vectors, query
    words excluded: ``most_similar(positive=["king", "woman"], negative=["man"])`` -> [("queen", 0.71), ...].
    See ``bigjax.evals.word_vectors.most_similar``."""
    positive, negative = (() if p is None else p for p in (positive, negative))
    return word_vectors.most_similar(self.index_to_key, self.vectors, positive, negative, topn,
                                     key_to_index=self.key_to_index, norms=self.norms,
                                     restrict_vocab=restrict_vocab)

  def evaluate_word_analogies(self, analogies=None, restrict_vocab: int = word_vectors.ANALOGY_RESTRICT_VOCAB,
                              case_insensitive: bool = True, dummy4unknown: bool = False
                              ) -> word_vectors.AnalogyResult:
    """3CosAdd accuracy on an analogy set: None = the data root's questions-words.txt (sha256-verified), a path
    to a file of its layout, or parsed sections. ``.accuracy`` is gensim's score; see ``analogy_accuracy``."""
    if analogies is None:
      analogies = word_eval.questions_words()
    elif isinstance(analogies, (str, os.PathLike)):
      analogies = word_eval.read_analogies(analogies)
    return word_vectors.analogy_accuracy(self.index_to_key, self.vectors, analogies, restrict_vocab=restrict_vocab,
                                         case_insensitive=case_insensitive, dummy4unknown=dummy4unknown)

  def evaluate_word_pairs(self, pairs=None, restrict_vocab: int = word_vectors.PAIRS_RESTRICT_VOCAB,
                          case_insensitive: bool = True, dummy4unknown: bool = False
                          ) -> word_vectors.WordPairResult:
    """Spearman/Pearson of cosine similarity against human scores: None = the data root's wordsim353.tsv, a path
    to a file of its layout, or (w1, w2, score) rows. See ``word_pair_correlation``."""
    if pairs is None:
      pairs = word_eval.wordsim353()
    elif isinstance(pairs, (str, os.PathLike)):
      pairs = word_eval.read_word_pairs(pairs)
    return word_vectors.word_pair_correlation(self.index_to_key, self.vectors, pairs, restrict_vocab=restrict_vocab,
                                              case_insensitive=case_insensitive, dummy4unknown=dummy4unknown)

  def plot(self, words: Sequence[str], path: str | os.PathLike, method: str = "pca") -> np.ndarray:
    """A 2-D projection ("pca" or "tsne") of ``words``' vectors saved as an annotated PNG; returns the [n, 2]
    coordinates."""
    return word_projection.plot_words(list(words), self[list(words)], path, method=method)

  # ------------------------------------------------------------------------------------ files

  def save(self, path: str | os.PathLike, extra: dict | None = None) -> None:
    """One .npz file at exactly ``path``: the vectors as an array, the words (and ``extra``, JSON-serialisable:
    what a model saved with them) as UTF-8 JSON bytes (no pickle)."""
    meta = json.dumps({"format": _FORMAT, "version": _VERSION, "words": self.index_to_key, "extra": extra or {}},
                      ensure_ascii=False)
    with _atomic(path) as f:
      np.savez(f, vectors=self.vectors, meta=np.frombuffer(meta.encode("utf-8"), np.uint8))

  @classmethod
  def load(cls, path: str | os.PathLike, with_extra: bool = False):
    """What ``save`` wrote (with ``with_extra``: ``(vectors, extra)``). Raises DataError for a missing file or
    one that ``save`` did not write."""
    try:
      archive = np.load(path, allow_pickle=False)
      if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError("a single array, not an .npz archive")
      with archive:
        meta = json.loads(archive["meta"].tobytes().decode("utf-8"))
        if meta.get("format") != _FORMAT or meta.get("version") != _VERSION:
          raise ValueError(f"format {meta.get('format')!r} version {meta.get('version')!r}")
        loaded = cls(meta["words"], archive["vectors"])
        return (loaded, meta.get("extra", {})) if with_extra else loaded
    except FileNotFoundError:
      raise DataError(f"{path} not found") from None
    except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile) as e:
      raise DataError(f"{path} is not a WordVectors file written by WordVectors.save ({e}); for the word2vec C "
                      f"tool's formats use WordVectors.load_word2vec_format") from None

  def save_word2vec_format(self, path: str | os.PathLike, binary: bool = False) -> None:
    """The word2vec C tool's format: a "V d" header line, then per word, most frequent first, ``word v1 ... vd\\n``
    (text; each value the shortest decimal that reads back to the same float32, as gensim writes it) or ``word ``
    followed by d little-endian float32 and ``\\n`` (binary)."""
    bad = next((w for w in self.index_to_key if any(c in w for c in " \t\n\r")), None)
    if bad is not None:
      raise ValueError(f"the word2vec format cannot hold the word {bad!r}: a word ends at a space, tab or newline")
    vectors = self.vectors.astype("<f4")
    with _atomic(path) as f:
      f.write(f"{len(self)} {self.vector_size}\n".encode("utf-8"))
      for word, vector in zip(self.index_to_key, vectors):
        if binary:
          f.write(word.encode("utf-8") + b" " + vector.tobytes() + b"\n")
        else:
          f.write(f"{word} {' '.join(map(str, vector))}\n".encode("utf-8"))

  @classmethod
  def load_word2vec_format(cls, path: str | os.PathLike, binary: bool = False, limit: int | None = None
                           ) -> "WordVectors":
    """A file in the word2vec C tool's text or binary format (as ``save_word2vec_format``, gensim or the C tool
    write it: binary records with or without the trailing newline); the first ``limit`` words only, if given.
    As gensim, a word listed twice keeps its first vector (with a warning).

    Raises:
      DataError: the file is missing, truncated, or not in the format ``binary`` names.
    """
    try:
      data = pathlib.Path(path).read_bytes()
    except FileNotFoundError:
      raise DataError(f"{path} not found") from None
    header, _, body = data.partition(b"\n")
    try:
      count, size = map(int, header.split())
    except ValueError:
      raise DataError(f"{path}: the first line should be '<number of words> <vector size>', got "
                      f"{header[:80]!r}") from None
    count = count if limit is None else min(count, limit)
    parse = _read_binary if binary else _read_text
    try:
      words, vectors = parse(body, count, size, str(path))
    except UnicodeDecodeError as e:
      raise DataError(f"{path}: a word is not UTF-8 ({e}); is binary={binary} the file's format?") from None
    if len(set(words)) != len(words):
      first = {}
      for row, word in enumerate(words):
        first.setdefault(word, row)
      logging.warning("%s: %d words appear more than once; keeping each one's first vector",
                      path, len(words) - len(first))
      words, vectors = list(first), vectors[list(first.values())]
    return cls(words, vectors)


def _read_text(body: bytes, count: int, size: int, source: str) -> tuple[list[str], np.ndarray]:
  lines = body.split(b"\n", count)
  if len(lines) < count or (len(lines) == count and not lines[-1].strip()):
    raise DataError(f"{source}: the header announces {count} words but the file ends after {len(lines) - 1}; "
                    f"it is truncated (or binary: pass binary=True)")
  words, vectors = [], np.empty((count, size), np.float32)
  for row, line in enumerate(lines[:count]):
    fields = line.rstrip().decode("utf-8", errors="strict").split(" ")
    if len(fields) != size + 1:
      raise DataError(f"{source} line {row + 2}: expected a word and {size} numbers, got {len(fields) - 1} "
                      f"fields after the word (a binary file? pass binary=True)")
    words.append(fields[0])
    try:
      vectors[row] = np.asarray(fields[1:], np.float32)
    except ValueError:
      raise DataError(f"{source} line {row + 2}: {fields[0]!r} is followed by something that is not numbers: "
                      f"{line[:80]!r}") from None
  return words, vectors


def _read_binary(body: bytes, count: int, size: int, source: str) -> tuple[list[str], np.ndarray]:
  words, vectors, at, nbytes = [], np.empty((count, size), np.float32), 0, 4 * size
  for row in range(count):
    space = body.find(b" ", at)
    if space < 0 or space + 1 + nbytes > len(body):
      raise DataError(f"{source}: the header announces {count} words but the file ends after {row}; it is "
                      f"truncated (or text: pass binary=False)")
    words.append(body[at:space].decode("utf-8").lstrip("\n"))  # the C tool ends each record with "\n"
    vectors[row] = np.frombuffer(body, "<f4", size, space + 1)
    at = space + 1 + nbytes
  return words, vectors


class _atomic:
  """A binary file written to ``path + '.tmp'`` and renamed into place on success: no half-written file."""

  def __init__(self, path: str | os.PathLike):
    self.path = pathlib.Path(path)
    self.tmp = self.path.with_name(self.path.name + ".tmp")

  def __enter__(self):
    self.file = open(self.tmp, "wb")
    return self.file

  def __exit__(self, kind, *_):
    self.file.close()
    if kind is None:
      os.replace(self.tmp, self.path)
    else:
      self.tmp.unlink(missing_ok=True)
