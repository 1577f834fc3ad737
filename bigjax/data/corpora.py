"""Text datasets as ``Dataset``s the loop can batch: character LM windows and Kim (2014) sentence sets.

  tinyshakespeare  splits train / validation (first 90% / last 10%, nanoGPT's); ``{"tokens": [N, seq_len+1]}``
  trec             splits train / test (5,452 / 500), 6 classes           ``{"tokens": [N, T], "label": [N]}``;
                   "validation": a fixed random 10% of train, held out of it when config.data.eval_split names it
  sst2             splits train / dev / test (6,920 / 872 / 1,821), 2 classes, sentence level
  mr               splits train / test: fold ``data.fold`` of ``data.num_folds`` is test, 2 classes; "validation"
                   as trec's, from the fold's training portion
  random_tokens    splits train / validation: uniformly random ids below ``data.vocab_size`` (4,194,304 training
                   and 65,536 validation tokens, windows as tinyshakespeare's); nothing to learn, for measuring
                   speed at a model's real shape (bench/accelerator_check.sh); ``model_fields["vocab_size"]``

``data.features`` "tfidf" or "bow" turns each sentence into its row of a TF-IDF (bag-of-words) `vectorize.Vectorizer`
(options ``data.vectorizer``) fitted on the run's training split only (without the held-out validation 10%), as
bags ``{"bag_ids": [N, M] int32, "bag_weights": [N, M] float32, "label": [N]}`` padded with weight 0 to one width
M for every split (the longest row of any), and ``model_fields["num_features"]`` the vocabulary's size.

Language modelling reads every window of ``seq_len + 1`` characters of the training text (one per start
position, so an epoch visits each start once, like nanoGPT's random offsets drawn without replacement);
validation windows start every ``seq_len`` characters, so each validation character after the first is
predicted exactly once, with the same spread of context lengths as nanoGPT's random validation windows.
"""

import functools
import pathlib
from typing import Any

import numpy as np

from bigjax.data import core, sentences, text, vectorize
from bigjax.data.core import Dataset

DATASETS = ("tinyshakespeare", "trec", "sst2", "mr", "random_tokens")
SPLITS = {"tinyshakespeare": ("train", "validation"), "random_tokens": ("train", "validation"),
          "trec": ("train", "validation", "test"),
          "sst2": ("train", "dev", "test"), "mr": ("train", "validation", "test")}
FEATURES = ("tokens", "tfidf", "bow")  # config.data.features of the sentence sets


class TokenWindows:
  """Array-like ``[N, length]`` int32 view of a token stream: example ``i`` is ``ids[i*stride : i*stride+length]``.

  Rows are cut on read (``windows[rows]``), so the million overlapping windows of a character corpus
  cost no memory beyond the stream itself.
  """

  def __init__(self, ids: np.ndarray, length: int, stride: int):
    if len(ids) < length:
      raise ValueError(f"a stream of {len(ids)} tokens holds no window of {length}")
    self.ids, self.length, self.stride = np.asarray(ids, np.int32), length, stride
    self.dtype = np.dtype(np.int32)
    self.shape = ((len(ids) - length) // stride + 1, length)

  def __len__(self) -> int:
    return self.shape[0]

  def __getitem__(self, rows) -> np.ndarray:
    if isinstance(rows, slice):
      index = np.arange(*rows.indices(len(self)))
    else:  # integer rows: check and wrap them without materialising all N row numbers per batch
      index = np.asarray(rows, np.int64)
      if index.size and (index.min() < -len(self) or index.max() >= len(self)):
        raise IndexError(f"row out of range for {len(self)} windows")
      index = np.where(index < 0, index + len(self), index)
    return self.ids[(index * self.stride)[..., None] + np.arange(self.length)]


@functools.lru_cache(maxsize=4)
def _sentence_splits(name: str, fold: int, num_folds: int, min_freq: int, max_len: int,
                     root: pathlib.Path, validation: bool) -> dict[str, sentences.SentenceData]:
  # One vocabulary for all splits of a run: built once, shared by the train and eval loads.
  return sentences.load(name, fold=fold, num_folds=num_folds, min_freq=min_freq,
                        max_len_cap=max_len or None, data_dir=root, validation=validation)


@functools.lru_cache(maxsize=4)
def _bag_splits(name: str, fold: int, num_folds: int, root: pathlib.Path, validation: bool, features: str,
                options: tuple) -> tuple[dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], vectorize.Vectorizer]:
  # Fitted on "train" alone, once per run; every split padded to one width, so one compiled step evaluates them all.
  splits = sentences.token_splits(name, fold=fold, num_folds=num_folds, data_dir=root, validation=validation)
  vectorizer = vectorize.Vectorizer(use_idf=features == "tfidf", **dict(options)).fit(splits["train"][0])
  rows = {split: vectorizer.transform(tokens) for split, (tokens, _) in splits.items()}
  width = max(1, max(int(np.diff(m.indptr).max(initial=0)) for m in rows.values()))
  return {split: (*vectorize.padded_rows(rows[split], width), labels)
          for split, (_, labels) in splits.items()}, vectorizer


def _vectorizer_options(options: Any) -> tuple:
  """config.data.vectorizer -> Vectorizer keyword arguments (max_features 0: all; norm "": none), as a tuple."""
  fields = dict(options)
  fields["max_features"] = fields["max_features"] or None
  fields["norm"] = fields["norm"] or None
  return tuple(sorted(fields.items()))


RANDOM_TOKENS = {"train": (2**22, 0), "validation": (2**16, 1)}  # split -> (tokens, seed)


def random_tokens(vocab_size: int, seq_len: int, split: str) -> Dataset:
  """Uniformly random token ids, the same on every machine (NumPy's PCG64, a fixed seed per split)."""
  if vocab_size < 2 or seq_len < 1:
    raise ValueError(f"random_tokens needs config.data.vocab_size >= 2 and config.data.seq_len >= 1, got "
                     f"{vocab_size} and {seq_len}")
  length, seed = RANDOM_TOKENS[split]
  ids = np.random.default_rng(seed).integers(0, vocab_size, size=length, dtype=np.int32)
  windows = TokenWindows(ids, seq_len + 1, 1 if split == "train" else seq_len)
  return Dataset({"tokens": windows}, num_classes=0, name=f"random_tokens:{split}",
                 model_fields={"vocab_size": vocab_size})


def load(data_config: Any, split: str, root: pathlib.Path) -> Dataset:
  """The ``split`` of the text dataset ``data_config.name`` (see the module docstring)."""
  name = data_config.name
  if split not in SPLITS[name]:
    raise ValueError(f"{name} has splits {SPLITS[name]}, not {split!r} (config.data.train_split/eval_split)")
  if name == "random_tokens":
    return random_tokens(data_config.vocab_size, data_config.seq_len, split)
  if name == "tinyshakespeare":
    if data_config.seq_len < 1:
      raise ValueError(f"config.data.seq_len={data_config.seq_len}: language modelling needs the context "
                       f"length (nanoGPT's block_size), e.g. 256")
    train_ids, val_ids, tokenizer = text.tiny_shakespeare(root)
    ids, stride = (train_ids, 1) if split == "train" else (val_ids, data_config.seq_len)
    windows = TokenWindows(ids, data_config.seq_len + 1, stride)
    return Dataset({"tokens": windows}, num_classes=0, name=f"{name}:{split}", vocab=tokenizer)
  if name == "mr":
    if not 0 <= data_config.fold < data_config.num_folds:
      raise ValueError(f"config.data.fold={data_config.fold}: MR is evaluated by {data_config.num_folds}-fold "
                       f"cross-validation; choose a fold in [0, {data_config.num_folds})")
  elif data_config.fold != -1:
    raise ValueError(f"config.data.fold={data_config.fold}: {name} has fixed splits; leave it at -1")
  # "validation" (trec, mr): Kim's random 10% of the training portion, out of "train" when the run validates on it.
  held_out = core.validating(data_config)
  core.check_held_out(name, split, held_out, "10% of the training portion")
  if data_config.features not in FEATURES:
    raise ValueError(f"config.data.features={data_config.features!r}: choose one of {FEATURES}")
  if data_config.features != "tokens":
    options = _vectorizer_options(data_config.vectorizer)
    try:
      vectorize.Vectorizer(**dict(options))  # its options checked before any data is read
    except ValueError as error:
      raise ValueError(f"config.data.vectorizer.{error}") from None
    bags, vectorizer = _bag_splits(name, max(data_config.fold, 0), data_config.num_folds, root, held_out,
                                   data_config.features, options)
    ids, weights, labels = bags[split]
    return Dataset({"bag_ids": ids, "bag_weights": weights, "label": labels},
                   num_classes=sentences.NUM_CLASSES[name], name=f"{name}:{split}", vocab=vectorizer,
                   model_fields={"num_features": len(vectorizer)})
  part = _sentence_splits(name, max(data_config.fold, 0), data_config.num_folds, data_config.min_freq,
                          data_config.max_len, root, held_out)[split]
  return Dataset({"tokens": part.tokens, "label": part.labels}, num_classes=part.num_classes, name=part.name,
                 vocab=part.vocab)
