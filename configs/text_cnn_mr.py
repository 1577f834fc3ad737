"""Kim (2014) CNN-rand on MR (movie-review polarity), by 10-fold cross-validation.

Filter widths 3, 4, 5 with 100 maps each, ReLU, max-over-time pooling, dropout 0.5, 300-dimensional
word vectors initialised uniform in [-0.25, 0.25] and trained (CNN-rand); batch 50 as Kim. Kim trains
with Adadelta and a max-norm constraint and stops early on a dev split; here Adam, a fixed number of
epochs, and the test fold after the last epoch (no model selection on test). The recipe is
``common_text.kim_cnn``, shared with text_cnn_trec and text_cnn_sst2, but with 5 epochs instead of 10:
ten folds of 10 epochs would not fit the session's CPU budget, and on TREC the test accuracy reached
its plateau after 4 epochs (91.4% at 4, 91.4% at 10).

One fold:  python -m bigjax.main --config=configs/text_cnn_mr.py --workdir=runs/text_cnn_mr/fold0 --config.data.fold=0
All folds: python -m bigjax.sweep --config=configs/text_cnn_mr.py --workdir=runs/text_cnn_mr
Result:    77.04% ± 0.92% mean test accuracy over the 10 folds (Kim's CNN-rand: 76.1%); 150-370 s per fold
           on a 2-core CPU shared with other runs. experiments/sentence_classification/RESULTS.md.
Variants:  ``smoke`` (a few steps, for tests).
"""

from bigjax import configs
from bigjax.config_base import base_config

common_text = configs.sibling(__file__, "common_text")

VARIANTS = {**common_text.VARIANTS,
            "choose_epochs": "10 epochs, validation after each, no test: the curves the epoch count is chosen on"}
EPOCHS = 5  # chosen on validation (see the docstring); the choose_epochs variant's curves


def get_config(arg: str | None = None):
  c = common_text.kim_cnn(common_text.sentence_classification(base_config(), "mr"),
                          None if arg == "choose_epochs" else arg)
  # Kim's protocol: a random 10% of each fold's training portion is the validation split (out of training);
  # the epoch count is chosen on it, and the fold's test part is read once, after the last epoch.
  c.data.eval_split = "validation"
  c.data.test_split = "test"
  if not arg:
    c.train.num_epochs = EPOCHS
  elif arg == "choose_epochs":
    c.train.num_epochs = 10
    c.data.test_split = ""
  return c


def get_sweep(arg: str | None = None):
  from bigjax.sweep import sweep
  # choose_epochs: three folds' validation curves are enough to see where they flatten, at a third of the cost
  return sweep("data.fold", list(range(3 if arg == "choose_epochs" else 10)))
