"""TF-IDF + logistic regression on TREC question classification (6 classes; 5,452 train / 500 test): a classical
baseline beside Kim's CNN (configs/text_cnn_trec.py), through the same loop.

Each question's TF-IDF row (bigjax/data/vectorize.py; scikit-learn's TfidfVectorizer defaults: smoothed idf, rows
L2-normalised, every training word kept), the vectoriser fitted on the training portion only: a random 10% of
TREC's train split validates (``data.eval_split=validation``) and is neither trained on nor in the fit. Then
``linear.BagLogistic`` (logits = x W + b) with softmax cross-entropy, Adam at a constant 0.03, batch 50, and an L2
penalty ``optim.weight_decay`` on W (``common_text.tfidf_logreg``). Chosen on validation (the ``choose`` sweeps,
3 seeds each, no test): the L2 strength with the best mean validation accuracy after 20 epochs, then the epoch
of the best mean of its curves; the test split is then read once per run, after the last epoch.

Choose:   for l2 in 0.0 1e-5 3e-5 1e-4 3e-4 1e-3; do python -m bigjax.sweep --config=configs/tfidf_logreg_trec.py:choose
            --workdir=runs/tfidf_logreg_trec_choose/weight_decay=$l2 --config.optim.weight_decay=$l2; done
Command:  python -m bigjax.sweep --config=configs/tfidf_logreg_trec.py --workdir=runs/tfidf_logreg_trec
Result:   86.67% ± 0.12% mean test accuracy over seeds 0-2 (Kim's CNN-rand: 91.2%), validation 83.18%; L2 1e-05 and
          19 epochs, chosen on validation; 3-6 s per run on a 2-core CPU. experiments/sentence_classification/RESULTS.md.
Variants: ``smoke`` (a few steps, for tests), ``choose`` (20 epochs, validation after each, no test).
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
