"""TF-IDF + logistic regression on trec (a classical baseline beside Kim's CNN: configs/text_cnn_trec.py).

Result:   (pending)
Variants: ``smoke`` (a few steps, for tests), ``choose`` (the validation sweep, no test).
"""

from bigjax import configs
from bigjax.config_base import base_config

common_text = configs.sibling(__file__, "common_text")

VARIANTS = {**common_text.TFIDF_VARIANTS}
WEIGHT_DECAY = 1e-5  # chosen on validation (the docstring)
EPOCHS = 19          # chosen on validation (the docstring)


def get_config(arg: str | None = None):
  return common_text.tfidf_logreg(common_text.sentence_classification(base_config(), "trec"), arg, WEIGHT_DECAY, EPOCHS)


def get_sweep(arg: str | None = None):
  return common_text.tfidf_sweep("trec", arg)
