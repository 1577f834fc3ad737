"""TF-IDF + logistic regression on mr (a classical baseline beside Kim's CNN: configs/text_cnn_mr.py).

Result:   (pending)
Variants: ``smoke`` (a few steps, for tests), ``choose`` (the validation sweep, no test).
"""

from bigjax import configs
from bigjax.config_base import base_config

common_text = configs.sibling(__file__, "common_text")

VARIANTS = {**common_text.TFIDF_VARIANTS}
WEIGHT_DECAY = 3e-5  # chosen on validation (the docstring)
EPOCHS = 1           # chosen on validation (the docstring)


def get_config(arg: str | None = None):
  return common_text.tfidf_logreg(common_text.sentence_classification(base_config(), "mr"), arg, WEIGHT_DECAY, EPOCHS)


def get_sweep(arg: str | None = None):
  return common_text.tfidf_sweep("mr", arg)
