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
  # tokens: padded word ids; tfidf / bow: each sentence's TF-IDF / bag-of-words row as sparse bags
  # (bigjax/data/vectorize.py), the vectoriser fitted on the training split only
  c.data.features = "tokens"
  c.task.word_vectors = ""        # a Word2Vec or GloVe run's workdir: the embeddings start from its vectors
  c.data.vectorizer = ml_collections.ConfigDict({
      "min_df": 1,            # keep words of at least this many training sentences (a count)
      "max_df": 1.0,          # and of at most this fraction of them
      "max_features": 0,      # then the most frequent N; 0: all
      "binary": False,        # tf: 1 where a word occurs, not its count
      "sublinear_tf": False,  # tf: 1 + log(count)
      "smooth_idf": True,     # idf: log((1 + n) / (1 + df)) + 1; False: log(n / df) + 1
      "norm": "l2"})          # each row scaled to unit "l2" or "l1" norm; "": not scaled
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


# TF-IDF + logistic regression (tfidf_logreg_mr, tfidf_logreg_sst2, tfidf_logreg_trec declare these variants).
TFIDF_VARIANTS = {"smoke": "a few steps, for tests",
                  "choose": "20 epochs, validation after each, no test: the curves L2 and epochs are chosen on"}
L2_GRID = (0.0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3)  # the config.optim.weight_decay of each choose sweep
CHOOSE_EPOCHS = 20


def tfidf_logreg(c: ml_collections.ConfigDict, variant: str | None, weight_decay: float,
                 epochs: int) -> ml_collections.ConfigDict:
  """Logistic regression on TF-IDF rows (``linear.BagLogistic``; data.features "tfidf", the vectoriser fitted on
  the training split only) of the sentence set ``c.data`` names. The L2 strength (``optim.weight_decay``) and the
  epochs come from the ``choose`` curves on the validation split (SST-2: dev); the test split is read once."""
  c.data.features = "tfidf"
  c.data.eval_split = "dev" if c.data.name == "sst2" else "validation"
  c.data.test_split = "test"
  c.data.batch_size = 50
  c.data.eval_batch_size = 500
  del c.model["vocab_size"]       # the vocabulary is the vectoriser's: model.num_features
  c.model.name = "linear.BagLogistic"
  c.model.num_features = 0        # from the data
  c.optim.name = "adam"           # with weight_decay: L2 on the weights (not the bias), added to the gradient
  c.optim.lr = 0.03
  c.optim.weight_decay = weight_decay
  c.train.num_epochs = epochs
  c.train.steps_per_call = 1      # evaluations fall on whole epochs, so a run of E epochs ends on a curve's step
  c.train.log_every_steps = 50
  if variant == "choose":
    c.train.num_epochs = CHOOSE_EPOCHS
    c.data.test_split = ""
  elif variant == "smoke":
    smoke(c, steps=16, eval_examples=200)
  elif variant:
    raise ValueError(f"unknown variant {variant!r} of tfidf_logreg_{c.data.name}; known: "
                     f"{', '.join(TFIDF_VARIANTS)}")
  return c


def tfidf_sweep(dataset: str, variant: str | None) -> list:
  """3 seeds (MR: folds; ``choose``: folds 0-2, the final recipe: all 10) of a tfidf_logreg config."""
  from bigjax.sweep import sweep
  if dataset == "mr":
    return sweep("data.fold", list(range(3 if variant == "choose" else 10)))
  return sweep("seed", [0, 1, 2])
