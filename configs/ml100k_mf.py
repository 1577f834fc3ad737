"""Matrix factorisation (dot product with user, item and global biases) on MovieLens-100K: the baseline
of Rendle et al. (2020), trained with the NCF protocol (configs/ml100k_neumf.py), 64 factors.

Command:  python -m bigjax.main --config=configs/ml100k_mf.py --workdir=runs/ml100k_mf
Result:   not yet run.
Variants: ``smoke`` (a few steps, for tests).
"""

from bigjax.config_base import base_config, ncf, ncf_variant


def get_config(arg: str | None = None):
  c = ncf(base_config(), "ml-100k", "ncf.MF")
  c.model.factors = 64
  return ncf_variant(c, arg)
