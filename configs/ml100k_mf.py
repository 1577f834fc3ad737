"""Matrix factorisation (dot product with user, item and global biases) on MovieLens-100K: the baseline
of Rendle et al. (2020), trained with the NCF protocol (configs/ml100k_neumf.py), 64 factors.

Command:  python -m bigjax.main --config=configs/ml100k_mf.py --workdir=runs/ncf/ml100k_mf
Result:   test HR@10 0.6458†, NDCG@10 0.3844 after 20 epochs†; 44 s (weight decay 1e-5†, chosen on the
          validation split: 0.6755 / 0.3962), on a 2-core CPU shared with other runs. Refined on validation
          (:validation_refine: 4 negatives†, 34 epochs†): 0.6709 +- 0.0054 / 0.3951† over 3 seeds, no better.
          experiments/ncf/RESULTS.md.
          † its record's git revision ends in -dirty: run from uncommitted changes; rerun to clear.
Variants: ``smoke`` (a few steps, for tests); ``validation`` (scored on each user's latest training item) and
          ``validation_refine`` (the same config): the two sweeps below.
"""

from bigjax import configs
from bigjax.config_base import base_config

common_ncf = configs.sibling(__file__, "common_ncf")

VARIANTS = {**common_ncf.VARIANTS,
            "validation": "the validation split; its sweep: weight decay x factors",
            "validation_refine": "the validation split; its sweep: around the first sweep's best"}


def get_config(arg: str | None = None):
  c = common_ncf.ncf(base_config(), "ml-100k", "ncf.MF")
  c.model.factors = 64
  return common_ncf.ncf_variant(c, "validation" if arg == "validation_refine" else arg, VARIANTS)


def get_sweep(arg: str | None = None):
  """Hyperparameters of MF, chosen on the validation split (test items never looked at):

  ``:validation``: L2 weight decay x factors (12 runs)::

    python -m bigjax.sweep --config=configs/ml100k_mf.py:validation --workdir=runs/ncf/ml100k_mf_validation --parallel=2

  ``:validation_refine``: around the first sweep's best (64 factors, 1e-5, still rising at epoch 20): weight
  decay 5e-6 / 1e-5 / 2e-5 x 4 or 8 negatives per positive, 40 epochs evaluated after each (6 runs). The
  learning rate is constant, so each run's first N epochs are the N-epoch run: the number of epochs is read
  off its per-epoch validation curve::

    python -m bigjax.sweep --config=configs/ml100k_mf.py:validation_refine --workdir=runs/ncf/ml100k_mf_validation_refine --parallel=2
  """
  from bigjax.sweep import product, sweep
  if arg == "validation":
    return product(sweep("model.factors", [64, 128]), sweep("optim.weight_decay", [0.0, 3e-6, 1e-5, 3e-5, 1e-4, 1e-3]))
  if arg == "validation_refine":
    return product(sweep("optim.weight_decay", [5e-6, 1e-5, 2e-5]), sweep("data.num_negatives", [4, 8]),
                   sweep("train.num_epochs", [40.0]))
  raise ValueError("ml100k_mf's sweeps choose hyperparameters on the validation split: use :validation or "
                   ":validation_refine")
