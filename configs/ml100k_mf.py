"""Matrix factorisation (dot product with user, item and global biases) on MovieLens-100K: the baseline
of Rendle et al. (2020), trained with the NCF protocol (configs/ml100k_neumf.py), 64 factors.

Command:  python -m bigjax.main --config=configs/ml100k_mf.py --workdir=runs/ncf/ml100k_mf
Result:   test HR@10 0.6458, NDCG@10 0.3844 after 20 epochs; 44 s (weight decay 1e-5, chosen on the
          validation split: 0.6755 / 0.3962), on a 2-core CPU shared with other runs.
          experiments/ncf/RESULTS.md.
Variants: ``smoke`` (a few steps, for tests).
"""

from bigjax.config_base import base_config, ncf, ncf_variant


def get_config(arg: str | None = None):
  c = ncf(base_config(), "ml-100k", "ncf.MF")
  c.model.factors = 64
  return ncf_variant(c, arg)


def get_sweep(arg: str | None = None):
  """``:validation``: L2 weight decay x factors for MF, chosen on the validation split (12 runs)::

    python -m bigjax.sweep --config=configs/ml100k_mf.py:validation --workdir=runs/ncf/ml100k_mf_validation --parallel=2
  """
  from bigjax.sweep import product, sweep
  if arg != "validation":
    raise ValueError("ml100k_mf's sweep chooses hyperparameters on the validation split: use :validation")
  return product(sweep("model.factors", [64, 128]), sweep("optim.weight_decay", [0.0, 3e-6, 1e-5, 3e-5, 1e-4, 1e-3]))
