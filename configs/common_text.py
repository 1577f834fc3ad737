"""Sentence classification (Kim 2014's sets, read by bigjax/data/corpora.py): the data fields those runs read,
the sets, and Kim's CNN recipe shared by text_cnn_mr, text_cnn_sst2 and text_cnn_trec."""

import ml_collections

from bigjax import configs
from bigjax.config_base import smoke

common_classification = configs.sibling(__file__, "common_classification")

# The variants kim_cnn accepts; text_cnn_mr, text_cnn_sst2 and text_cnn_trec declare these.
VARIANTS = {"smoke": "a few steps of a small model, for tests"}

# Kim (2014) sentence-classification sets: (classes, split trained on, split reported, protocol).
SENTENCE_SETS = {"trec": (6, "train", "test", "fixed split"), "sst2": (2, "train", "test", "fixed split"),
                 "mr": (2, "train", "test", "10-fold cross-validation, data.fold = 0..9")}


def add_fields(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  c.data.max_len = 0              # cap on tokens per sentence; 0: longest training one
  c.data.min_freq = 1             # word vocabulary: drop words seen fewer times in the training split
  c.data.fold = -1                # k-fold cross-validation (MR): which fold is held out; -1 where splits are fixed
  c.data.num_folds = 10
  return c


def sentence_classification(c: ml_collections.ConfigDict, dataset: str) -> ml_collections.ConfigDict:
  """Points ``c.data`` at a Kim (2014) sentence set (``trec``, ``sst2``, ``mr``) and sizes the model for it."""
  num_classes, train_split, eval_split, _ = SENTENCE_SETS[dataset]
  add_fields(common_classification.add_fields(c))
  c.data.name = dataset
  c.data.train_split = train_split
  c.data.eval_split = eval_split
  c.data.fold = 0 if dataset == "mr" else -1
  c.model.vocab_size = 0          # from the data: every word of the training split (min_freq 1)
  c.model.num_classes = num_classes
  c.task.name = "classification"
  return c


def kim_cnn(c: ml_collections.ConfigDict, variant: str | None) -> ml_collections.ConfigDict:
  """Kim (2014) CNN-rand on the sentence set ``c.data`` names (see configs/text_cnn_mr.py for the recipe)."""
  c.data.batch_size = 50
  c.data.eval_batch_size = 250
  c.model.name = "text_cnn.KimCNN"
  c.model.embed_dim = 300
  c.model.filter_widths = (3, 4, 5)
  c.model.num_filters = 100
  c.model.dropout = 0.5
  c.optim.name = "adam"
  c.optim.lr = 1e-3
  c.train.num_epochs = 10
  c.train.steps_per_call = 8
  c.train.log_every_steps = 48
  if variant == "smoke":
    c.model.embed_dim = 32
    c.model.num_filters = 8
    c.data.eval_batch_size = 50
    smoke(c, steps=16, eval_examples=200)
  elif variant:
    raise ValueError(f"unknown variant {variant!r} of text_cnn_{c.data.name}; known: {', '.join(VARIANTS)}")
  return c
