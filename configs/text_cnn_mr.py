"""Kim (2014) CNN-rand on MR (movie-review polarity), by 10-fold cross-validation.

Filter widths 3, 4, 5 with 100 maps each, ReLU, max-over-time pooling, dropout 0.5, 300-dimensional
word vectors initialised uniform in [-0.25, 0.25] and trained (CNN-rand); batch 50 as Kim. Kim trains
with Adadelta and a max-norm constraint and stops early on a dev split; here Adam at a constant rate
(``common_text.kim_cnn``, shared with text_cnn_trec and text_cnn_sst2) and a fixed number of epochs chosen
as Kim chose his: a random 10% of each fold's training portion is the validation split, out of training,
and the ``choose_epochs`` sweep trains folds 0-2 for 10 epochs, scoring validation after each; the best mean
is after 3 epochs. Each fold's test part is then read once, after the last epoch.

Choose:    python -m bigjax.sweep --config=configs/text_cnn_mr.py:choose_epochs --workdir=runs/text_cnn_mr_choose_epochs
One fold:  python -m bigjax.main --config=configs/text_cnn_mr.py --workdir=runs/text_cnn_mr/fold0 --config.data.fold=0
All folds: python -m bigjax.sweep --config=configs/text_cnn_mr.py --workdir=runs/text_cnn_mr
Result:    77.24% ± 1.32% mean test accuracy over the 10 folds (Kim's CNN-rand: 76.1%), validation 77.49%;
           38-44 s per fold on a quiet 2-core CPU (AMD EPYC), jax 0.10.2. experiments/sentence_classification/RESULTS.md.
Variants:  ``smoke`` (a few steps, for tests), ``choose_epochs`` (10 epochs, validation after each, no test).
"""

from bigjax import configs
from bigjax.config_base import base_config

common_text = configs.sibling(__file__, "common_text")

VARIANTS = {**common_text.VARIANTS,
            "choose_epochs": "10 epochs, validation after each, no test: the curves the epoch count is chosen on"}
EPOCHS = 3  # chosen on validation: the best mean of the choose_epochs variant's curves (the docstring)


def get_config(arg: str | None = None):
  if arg and arg not in VARIANTS:
    raise ValueError(f"unknown variant {arg!r} of text_cnn_mr; known: {', '.join(VARIANTS)}")
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
