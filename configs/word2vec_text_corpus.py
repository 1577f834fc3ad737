"""Word2Vec skip-gram (Mikolov et al. 2013) on the 12.4M-word English corpus, with gensim 4's defaults.

Negative sampling, 5 negatives from unigram^0.75, subsampling at 1e-3, dynamic window 5, 100 dimensions,
words seen 5 times or more, 5 epochs (gensim's defaults); updates of 4 chunks of 1,024 words at a time
(bigjax/tasks/word2vec.py), SGD from 0.2 decaying linearly to 0.2 x 0.004 (gensim: 0.025 to 0.0001). The rate
was chosen on the held-out loss after one epoch, for skip-gram and CBOW alike (``get_sweep``; 0.4 diverges).
The corpus' last 0.5% is held out: its loss is the curve.

Command:  python -m bigjax.main --config=configs/word2vec_text_corpus.py --workdir=runs/embeddings/skipgram
Variants: ``cbow`` (CBOW, gensim's defaults otherwise); ``smoke`` (the Lee corpus, 16 dimensions, a few
          steps; for tests).
"""

from bigjax import configs
from bigjax.config_base import base_config, smoke

common_embeddings = configs.sibling(__file__, "common_embeddings")

VARIANTS = {"cbow": "CBOW instead of skip-gram", "smoke": "the Lee corpus, 16 dimensions, a few steps; for tests"}


def get_config(arg: str | None = None):
  c = common_embeddings.add_fields(base_config())
  if arg == "cbow":
    c.task.mode = "cbow"
  elif arg == "smoke":
    c.data.name = "lee"
    c.data.seq_len = 256
    c.data.batch_size = 2
    c.data.eval_batch_size = 4
    c.model.features = 16
    c.train.steps_per_call = 4
    smoke(c, steps=8, eval_examples=8)
  elif arg:
    raise ValueError(f"unknown variant {arg!r} of word2vec_text_corpus; known: {', '.join(VARIANTS)}")
  return c


def get_sweep(arg: str | None = None):
  """The learning rate, chosen on the held-out text's loss after one epoch (the analogy and word-pair sets are
  the test, never read to choose): rows move by the mean of their steps in a batch (``task.duplicates``), so
  gensim's 0.025 need not suit. Skip-gram (no variant) or ``cbow``, seed 0::

    python -m bigjax.sweep --config=configs/word2vec_text_corpus.py --workdir=runs/embeddings/skipgram_lr
    python -m bigjax.sweep --config=configs/word2vec_text_corpus.py:cbow --workdir=runs/embeddings/cbow_lr
  """
  from bigjax.sweep import product, sweep
  if arg not in (None, "cbow"):
    raise ValueError(f"word2vec_text_corpus's sweep chooses skip-gram's (no variant) or CBOW's (:cbow) rate, "
                     f"not {arg!r}'s")
  return product(sweep("train.num_epochs", [1]), sweep("optim.lr", [0.025, 0.05, 0.1, 0.2, 0.4]))

