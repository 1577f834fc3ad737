"""Rating prediction with and without trust on CiaoDVD (Guo et al. 2014: DVD ratings and trust): 5-fold
cross-validation, RMSE and MAE over all users and cold-start users (configs/common_social.py). The variant picks the
model (TrustSVD when none).

Not run yet: per fold, the regularisation is chosen on the training fold's validation 10%, then the chosen run
reads its test fold once.

Command:  python -m bigjax.sweep --config=configs/social_ciaodvd.py:trustsvd --workdir=runs/social/ciaodvd/trustsvd
          python scripts/social_cv.py runs/social/ciaodvd/trustsvd
Variants: one per model: ``biased_mf``, ``svdpp``, ``sorec``, ``socialmf``, ``trustsvd``, ``socialgcn`` and
          ``gcn`` (without trust edges); ``smoke`` (TrustSVD, a few steps).
"""

from bigjax import configs
from bigjax.config_base import base_config

common_social = configs.sibling(__file__, "common_social")
VARIANTS = common_social.VARIANTS


def get_config(arg: str | None = None):
  return common_social.social(base_config(), "ciaodvd", arg)


def get_sweep(arg: str | None = None):
  return common_social.sweep(arg)
