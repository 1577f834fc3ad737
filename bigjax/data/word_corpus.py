"""Word corpora as one stream of word ids, for word vectors (Word2Vec, GloVe): read, tokenised, counted once.

  text_corpus   ``text_corpus/english_corpus.txt.xz``: 12.4M words of English (Wikipedia, news, books;
                MANIFEST.md), lowercased words (``tokenizer="lower"``)
  lee           ``word_eval/lee_background.cor``: the Lee corpus, ~60k words (smoke runs, tests)
  file          ``config.data.corpus_file``: any UTF-8 text file, one sentence per line (the front door,
                ``bigjax.embeddings``, writes its sentences so, tokens split on whitespace: ``tokenizer="split"``)

The stream holds every kept word of every sentence in file order, each sentence followed by id 0 (the
sentence end: the word2vec C tool's ``</s>``, never trained, never inside a window). Words are numbered 1..V
by count, most frequent first (ties by word), so the first R ids are the R most frequent words; words seen
fewer than ``min_count`` times are dropped from the stream before anything is windowed, as gensim and the
C tool drop them. A line longer than ``MAX_SENTENCE`` words is cut into sentences of that length (gensim's
``LineSentence`` cut; text8 is one 1.2M-word line).

Encoding 12.4M words takes about a minute, so the stream and vocabulary are kept in a verified cache
(``core.default_cache_dir()/word_corpus/v<VERSION>/<digest of source, tokenizer, min_count>/``) and read from
there afterwards.
"""

import collections
import dataclasses
import hashlib
import io
import json
import logging
import lzma
import pathlib
import re
from typing import Iterable, Iterator, Sequence

import numpy as np

from bigjax.data import cooccurrence
from bigjax.data.core import (DataError, Dataset, check_held_out, default_cache_dir, read_verified, store_npz,
                               validating)

SOURCES = {"text_corpus": "text_corpus/english_corpus.txt.xz", "lee": "word_eval/lee_background.cor"}
DATASETS = (*SOURCES, "file")
TOKENIZERS = ("lower", "split")
MAX_SENTENCE = 10000
VERSION = 1
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)*")


def tokenize(line: str, tokenizer: str) -> list[str]:
  """``"lower"``: lowercased runs of letters and digits (inner apostrophes kept: "don't"), punctuation dropped;
  ``"split"``: the line's whitespace-separated tokens as they are."""
  if tokenizer == "lower":
    return _WORD.findall(line.lower())
  if tokenizer == "split":
    return line.split()
  raise ValueError(f"config.data.tokenizer={tokenizer!r} is unknown; choose one of {TOKENIZERS}")


def sentences(text: str, tokenizer: str) -> Iterator[list[str]]:
  """The non-empty sentences of ``text``: one per line (split on "\\n" only), cut at ``MAX_SENTENCE`` words."""
  for line in text.split("\n"):
    words = tokenize(line, tokenizer)
    for start in range(0, len(words), MAX_SENTENCE):
      yield words[start:start + MAX_SENTENCE]


@dataclasses.dataclass(frozen=True, eq=False)
class Vocabulary:
  """The kept words, most frequent first: word ``words[i]`` has id ``i + 1`` and was seen ``counts[i]`` times
  (id 0 is the sentence end). ``total``: the words of the corpus the counts come from, kept or not."""
  words: tuple[str, ...]
  counts: np.ndarray  # int64 [V]
  total: int

  @classmethod
  def build(cls, sents: Iterable[Sequence[str]], min_count: int = 5, max_size: int = 0) -> "Vocabulary":
    """Counts ``sents`` (lists of tokens); keeps words seen ``min_count`` times or more, at most ``max_size``
    of them (0: no limit), by count then word."""
    if min_count < 1:
      raise ValueError(f"min_count={min_count} must be >= 1 (config.data.min_freq)")
    counter = collections.Counter()
    for sentence in sents:
      counter.update(sentence)
    kept = sorted((w for w, c in counter.items() if c >= min_count), key=lambda w: (-counter[w], w))
    if max_size:
      kept = kept[:max_size]
    if not kept:
      raise DataError(f"no word is seen {min_count} times or more (config.data.min_freq); the corpus holds "
                      f"{sum(counter.values())} words")
    return cls(tuple(kept), np.array([counter[w] for w in kept], np.int64), sum(counter.values()))

  def __len__(self) -> int:
    return len(self.words)

  @property
  def index(self) -> dict[str, int]:
    """word -> id (1..V)."""
    return {w: i + 1 for i, w in enumerate(self.words)}

  def encode(self, sents: Iterable[Sequence[str]]) -> np.ndarray:
    """int32 [N]: the kept words' ids of each sentence, each sentence (of at least one kept word) then 0."""
    index, out = self.index, []
    for sentence in sents:
      ids = [index[w] for w in sentence if w in index]
      if ids:
        out.extend(ids)
        out.append(0)
    return np.asarray(out, np.int32)

  def to_json(self) -> str:
    return json.dumps({"type": "WordCounts", "words": list(self.words), "counts": self.counts.tolist(),
                       "total": self.total})

  @classmethod
  def from_json(cls, text: str) -> "Vocabulary":
    blob = json.loads(text)
    if blob.get("type") != "WordCounts":
      raise ValueError(f"not a word-count vocabulary (type {blob.get('type')!r})")
    return cls(tuple(blob["words"]), np.asarray(blob["counts"], np.int64), int(blob["total"]))


def _read_text(name: str, root: pathlib.Path, corpus_file: str) -> tuple[str, str]:
  """``(text, sha256 of the bytes read)`` of the corpus ``name``."""
  if name == "file":
    if not corpus_file:
      raise ValueError("config.data.name='file' reads config.data.corpus_file, which is empty")
    try:
      data = pathlib.Path(corpus_file).read_bytes()
    except OSError as error:
      raise DataError(f"config.data.corpus_file={corpus_file!r}: {error.strerror}") from None
  else:
    data = read_verified(root, SOURCES[name], fix="It comes with the project's shared data folder (MANIFEST.md).")
    if name == "text_corpus":
      data = lzma.decompress(data)
  try:
    return data.decode("utf-8"), hashlib.sha256(data).hexdigest()
  except UnicodeDecodeError as error:
    raise DataError(f"{corpus_file or SOURCES[name]}: not UTF-8 text ({error})") from None


def load(name: str, root: pathlib.Path, *, tokenizer: str = "lower", min_count: int = 5, max_size: int = 0,
         corpus_file: str = "", cache_dir: pathlib.Path | None = None) -> tuple[np.ndarray, Vocabulary]:
  """``(stream int32 [N], vocabulary)`` of the corpus ``name`` (module docstring), from the cache when an entry for
  exactly this source text and these settings verifies there, else built and stored there."""
  if name not in DATASETS:
    raise ValueError(f"config.data.name={name!r} is not a word corpus; choose one of {DATASETS}")
  tokenize("", tokenizer)  # an unknown tokenizer is refused before anything is read
  text, digest = _read_text(name, root, corpus_file)
  key = json.dumps([VERSION, digest, tokenizer, min_count, max_size, MAX_SENTENCE, _WORD.pattern])
  entry = (cache_dir or default_cache_dir()) / "word_corpus" / f"v{VERSION}" / hashlib.sha256(key.encode()).hexdigest()
  try:
    blob = read_verified(entry, "corpus.npz", fix="It is a cache entry; it will be rebuilt.")
    with np.load(io.BytesIO(blob)) as arrays:
      return arrays["stream"], Vocabulary.from_json(str(arrays["vocabulary"]))
  except (DataError, KeyError, ValueError, OSError):
    pass
  logging.getLogger(__name__).info("encoding %s (%.1f MB of text) into %s", name, len(text) / 1e6, entry)
  vocab = Vocabulary.build(sentences(text, tokenizer), min_count, max_size)
  stream = vocab.encode(sentences(text, tokenizer))
  store_npz(entry, "corpus.npz", "the word corpus", stream=stream, vocabulary=np.array(vocab.to_json()))
  return stream, vocab


SPLITS = ("train", "validation")
VALIDATION_FRACTION = 0.005  # the corpus' last half percent (from a sentence start): held-out text


def held_out_cut(stream: np.ndarray) -> int:
  """Where the held-out text starts: after the last sentence end in the first ``1 - VALIDATION_FRACTION`` of
  ``stream`` (0 when none ends there)."""
  ends = np.flatnonzero(stream[:int(len(stream) * (1 - VALIDATION_FRACTION))] == 0)
  return int(ends[-1]) + 1 if len(ends) else 0


def dataset(data_config, split: str, root: pathlib.Path, cache_dir: pathlib.Path | None = None) -> Dataset:
  """The ``split`` of the word corpus ``data_config.name`` as chunks of ``data_config.seq_len`` ids
  (``{"tokens": int32 [N, seq_len]}``, cut from the stream on read); ``model_fields``: ``num_ids`` (V + 1) and
  ``word_counts`` (float32 [V + 1], 0 for the sentence end), which subsampling and negative sampling read.
  With ``data_config.cooccurrence_window`` > 0 (GloVe), the split's co-occurrence counts instead, one example per
  nonzero entry: ``{"row": int32 [N], "col": int32 [N], "count": float32 [N]}`` (``bigjax/data/cooccurrence.py``);
  the held-out text's counts are scaled by (training words / held-out words), so that both estimate the same
  matrix and a cost on ``log X`` compares them.
  "validation" is the corpus' last ``VALIDATION_FRACTION``, out of "train" when the run validates on it."""
  from bigjax.data.corpora import TokenWindows  # the same chunking as the character corpora
  if split not in SPLITS:
    raise ValueError(f"{data_config.name} has splits {SPLITS}, not {split!r} (config.data.train_split/eval_split)")
  if data_config.seq_len < 1:
    raise ValueError(f"config.data.seq_len={data_config.seq_len}: word corpora are cut into chunks of seq_len "
                     f"words per example, e.g. 1024")
  held_out = validating(data_config)
  check_held_out(data_config.name, split, held_out, f"the corpus' last {VALIDATION_FRACTION:.1%}")
  stream, vocab = load(data_config.name, root, tokenizer=data_config.tokenizer, min_count=data_config.min_freq,
                       max_size=data_config.max_vocab, corpus_file=data_config.corpus_file, cache_dir=cache_dir)
  cut = held_out_cut(stream)
  part = stream if not held_out else stream[:cut] if split == "train" else stream[cut:]
  counts = np.concatenate([[0.0], vocab.counts]).astype(np.float32)
  window = data_config.get("cooccurrence_window", 0)
  if window > 0:  # GloVe: the split's co-occurrence counts, one example per nonzero entry
    rows, cols, values = cooccurrence.counts(part, window, len(vocab) + 1, cache_dir)
    if held_out and split == "validation":  # counts at the training text's scale, so log X means the same
      values = values * np.float32(cut / max(len(part), 1))
    if not len(rows):
      raise DataError(f"{data_config.name}:{split} holds no two words within {window} of each other")
    return Dataset({"row": rows, "col": cols, "count": values}, num_classes=0, name=f"{data_config.name}:{split}",
                   vocab=vocab, model_fields={"num_ids": len(vocab) + 1})
  if len(part) < data_config.seq_len:
    raise DataError(f"{data_config.name}:{split} holds {len(part)} words, fewer than one chunk of "
                    f"config.data.seq_len={data_config.seq_len}")
  return Dataset({"tokens": TokenWindows(part, data_config.seq_len, data_config.seq_len)}, num_classes=0,
                 name=f"{data_config.name}:{split}", vocab=vocab,
                 model_fields={"num_ids": len(vocab) + 1, "word_counts": counts})
