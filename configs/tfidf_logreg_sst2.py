"""TF-IDF + logistic regression on SST-2, sentence level (6,920 train / 872 dev / 1,821 test): a classical baseline
beside Kim's CNN (configs/text_cnn_sst2.py), through the same loop.

The recipe of configs/tfidf_logreg_trec.py (``common_text.tfidf_logreg``): TF-IDF rows from a vectoriser fitted on
the train split only, multinomial logistic regression with an L2 penalty on W, Adam at 0.03, batch 50. The L2
strength and the epochs are chosen on SST-2's dev split (the ``choose`` sweeps, 3 seeds each, no test); the test
split is then read once per run, after the last epoch.

Choose:   for l2 in 0.0 1e-5 3e-5 1e-4 3e-4 1e-3; do python -m bigjax.sweep --config=configs/tfidf_logreg_sst2.py:choose
            --workdir=runs/tfidf_logreg_sst2_choose/weight_decay=$l2 --config.optim.weight_decay=$l2; done
Command:  python -m bigjax.sweep --config=configs/tfidf_logreg_sst2.py --workdir=runs/tfidf_logreg_sst2
Result:   81.90% ± 0.22% mean test accuracy over seeds 0-2 (Kim's CNN-rand, with phrase-level training data: 82.7%),
          dev 79.70%; L2 0.0001 and 3 epochs, chosen on dev; 3-4 s per run on a 2-core CPU.
          experiments/sentence_classification/RESULTS.md.
Variants: ``smoke`` (a few steps, for tests), ``choose`` (20 epochs, validation after each, no test).
"""

from bigjax import configs
from bigjax.config_base import base_config

common_text = configs.sibling(__file__, "common_text")

VARIANTS = {**common_text.TFIDF_VARIANTS}
WEIGHT_DECAY = 1e-4  # chosen on validation (the docstring)
EPOCHS = 3           # chosen on validation (the docstring)


def get_config(arg: str | None = None):
  return common_text.tfidf_logreg(common_text.sentence_classification(base_config(), "sst2"), arg, WEIGHT_DECAY, EPOCHS)


def get_sweep(arg: str | None = None):
  return common_text.tfidf_sweep("sst2", arg)
