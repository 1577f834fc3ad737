"""Rating prediction with and without trust on FilmTrust (Guo et al. 2013: film ratings and trust): 5-fold
cross-validation, RMSE and MAE over all users and cold-start users (configs/common_social.py). The variant picks the
model (TrustSVD when none).

Per fold, the regularisation is chosen on the training fold's validation 10%, then the chosen run reads its test
fold once: every model's RMSE and MAE (all and cold-start users, mean ± std over the folds) are in
experiments/social/RESULTS.md. Hardware: the 2-core CPU, 10-25 s a run.

Command:  python -m bigjax.sweep --config=configs/social_filmtrust.py:trustsvd --workdir=runs/social/filmtrust/trustsvd
          python scripts/social_cv.py runs/social/filmtrust/trustsvd
Variants: one per model: ``biased_mf``, ``svdpp``, ``sorec``, ``socialmf``, ``trustsvd``, ``socialgcn`` and
          ``gcn`` (without trust edges); ``smoke`` (TrustSVD, a few steps).
"""

from bigjax import configs
from bigjax.config_base import base_config

common_social = configs.sibling(__file__, "common_social")
VARIANTS = common_social.VARIANTS


def get_config(arg: str | None = None):
  return common_social.social(base_config(), "filmtrust", arg)


def get_sweep(arg: str | None = None):
  return common_social.sweep(arg)
