"""Kim (2014) CNN-static and CNN-non-static on MR with word vectors bigjax trained, beside CNN-rand (issue 24).

Kim's CNN as configs/text_cnn_mr.py trains it (filter widths 3, 4, 5 with 100 maps each, dropout 0.5, batch 50,
Adam at 1e-3), its embedding table started from the skip-gram vectors of configs/word2vec_text_corpus.py (100
dimensions, 5 epochs over the 12.4M-word English corpus; Kim started from word2vec's 300-dimensional vectors
of 100B words of Google News). MR words the vectors have get theirs; the others (punctuation, clitics such as
's, rare words) keep random rows of the vectors' spread (``tasks/classification.py``,
``embeddings_from_vectors``). Variants: CNN-non-static (the default) trains the vectors on, ``static``
(CNN-static) keeps them fixed, and ``rand`` is CNN-rand at the same 100 dimensions: the like-for-like baseline
beside text_cnn_mr's 300-dimensional CNN-rand.

Protocol (text_cnn_mr's): per fold a random 10% of the training portion is the validation split, not trained
on; each variant's epoch count is the best mean validation accuracy of its ``*choose_epochs`` curves (folds
0-2, 10 epochs, no test read); each fold's test part is read once, after the last epoch.

Vectors:   python -m bigjax.main --config=configs/word2vec_text_corpus.py --workdir=runs/embeddings/skipgram
Choose:    python -m bigjax.sweep --config=configs/text_cnn_mr_word2vec.py:choose_epochs --workdir=runs/text_cnn_mr_word2vec_choose_epochs
           (and :static_choose_epochs, :rand_choose_epochs into runs/text_cnn_mr_{static,rand100}_choose_epochs)
All folds: python -m bigjax.sweep --config=configs/text_cnn_mr_word2vec.py --workdir=runs/text_cnn_mr_word2vec
           (and :static, :rand into runs/text_cnn_mr_static, runs/text_cnn_mr_rand100)
Result:    CNN-non-static 77.88% ± 1.05% mean test accuracy over the 10 folds, CNN-static 74.18% ± 0.97%,
           CNN-rand at 100 dimensions 77.21% ± 1.01% (text_cnn_mr's CNN-rand, 300 dimensions: 77.24% ± 1.32%;
           Kim (2014) with Google News vectors: non-static 81.5%, static 81.0%); 18-22 s per fold (non-static)
           on a 2-core CPU, jax 0.10.2. experiments/sentence_classification/RESULTS.md.
Variants:  ``smoke`` (16 dimensions, a few steps; point task.word_vectors at a smoke word2vec run); ``static``
           (CNN-static), ``rand`` (CNN-rand, 100 dimensions); ``choose_epochs``, ``static_choose_epochs`` and
           ``rand_choose_epochs`` (10 epochs, validation after each, no test).
"""

from bigjax import configs
from bigjax.config_base import base_config

common_text = configs.sibling(__file__, "common_text")

KINDS = {"nonstatic": "CNN-non-static: the word vectors start the embeddings and train on",
         "static": "CNN-static: the word vectors start the embeddings and stay fixed",
         "rand": "CNN-rand at the vectors' 100 dimensions: random embeddings, trained"}
VARIANTS = {**common_text.VARIANTS, "static": KINDS["static"], "rand": KINDS["rand"],
            "choose_epochs": "CNN-non-static, 10 epochs, validation after each, no test",
            "static_choose_epochs": "CNN-static, 10 epochs, validation after each, no test",
            "rand_choose_epochs": "CNN-rand (100 dimensions), 10 epochs, validation after each, no test"}
WORD_VECTORS = "runs/embeddings/skipgram"  # the word2vec_text_corpus run (its docstring's command)
DIMENSIONS = 100                           # the vectors' (word2vec_text_corpus' model.features)
# Chosen on validation: the best mean of each kind's choose_epochs curves (folds 0-2; RESULTS.md shows them).
EPOCHS = {"nonstatic": 3, "static": 8, "rand": 3}


def get_config(arg: str | None = None):
  if arg and arg not in VARIANTS:
    raise ValueError(f"unknown variant {arg!r} of text_cnn_mr_word2vec; known: {', '.join(VARIANTS)}")
  choose = bool(arg) and arg.endswith("choose_epochs")
  kind = (arg or "").removesuffix("choose_epochs").rstrip("_")
  kind = kind if kind in KINDS else "nonstatic"  # the default, choose_epochs and smoke
  c = common_text.kim_cnn(common_text.sentence_classification(base_config(), "mr"),
                          "smoke" if arg == "smoke" else None)
  c.data.eval_split = "validation"
  c.data.test_split = "test"
  c.model.embed_dim = 16 if arg == "smoke" else DIMENSIONS
  c.model.static_embed = kind == "static"
  c.task.word_vectors = "" if kind == "rand" else WORD_VECTORS
  if arg == "smoke":
    return c
  if choose:
    c.train.num_epochs = 10
    c.data.test_split = ""
  else:
    c.train.num_epochs = EPOCHS[kind]
  return c


def get_sweep(arg: str | None = None):
  from bigjax.sweep import sweep
  # the choose variants: three folds' validation curves, as text_cnn_mr chooses its epochs
  return sweep("data.fold", list(range(3 if arg and arg.endswith("choose_epochs") else 10)))
