"""GMF (He et al. 2017) on MovieLens-100K: 8 factors, the NCF protocol (configs/ml100k_neumf.py). Also the
GMF half of ``ml100k_neumf_pretrained``.

Command:  python -m bigjax.main --config=configs/ml100k_gmf.py --workdir=runs/ncf/ml100k_gmf
Result:   test HR@10 0.6532, NDCG@10 0.3724 after 20 epochs; 8 s, on a 2-core CPU shared with other runs.
          experiments/ncf/RESULTS.md.
Variants: ``smoke`` (a few steps, for tests); ``validation`` (scored on each user's latest training item;
          also the GMF part of ml100k_neumf_pretrained's validation_sgd sweep).
"""

from bigjax import configs
from bigjax.config_base import base_config

common_ncf = configs.sibling(__file__, "common_ncf")

VARIANTS = {**common_ncf.VARIANTS,
            "validation": "the validation split; the GMF part of ml100k_neumf_pretrained:validation_sgd"}


def get_config(arg: str | None = None):
  c = common_ncf.ncf(base_config(), "ml-100k", "ncf.GMF")
  c.model.factors = 8
  return common_ncf.ncf_variant(c, arg, VARIANTS)
