"""TF-IDF + logistic regression on MR (movie-review polarity), by Kim's 10-fold cross-validation: a classical
baseline beside Kim's CNN (configs/text_cnn_mr.py), through the same loop.

The recipe of configs/tfidf_logreg_trec.py (``common_text.tfidf_logreg``): per fold, a random 10% of the training
portion validates (out of training and of the vectoriser's fit), TF-IDF rows from a vectoriser fitted on the rest,
multinomial logistic regression with an L2 penalty on W, Adam at 0.03, batch 50. The L2 strength and the epochs are
chosen on validation, folds 0-2 (the ``choose`` sweeps, no test); each fold's test part is then read once.

Choose:   for l2 in 0.0 1e-5 3e-5 1e-4 3e-4 1e-3; do python -m bigjax.sweep --config=configs/tfidf_logreg_mr.py:choose
            --workdir=runs/tfidf_logreg_mr_choose/weight_decay=$l2 --config.optim.weight_decay=$l2; done
Command:  python -m bigjax.sweep --config=configs/tfidf_logreg_mr.py --workdir=runs/tfidf_logreg_mr
Result:   77.37% ± 1.41% mean test accuracy over the 10 folds (Kim's CNN-rand: 76.1%), validation 78.01%; L2 3e-05 and
          1 epoch, chosen on validation; 2-3 s per fold on a 2-core CPU. experiments/sentence_classification/RESULTS.md.
Variants: ``smoke`` (a few steps, for tests), ``choose`` (20 epochs, validation after each, no test).
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
