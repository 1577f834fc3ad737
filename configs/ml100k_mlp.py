"""NCF's MLP (He et al. 2017) on MovieLens-100K: tower 64-32-16-8 (8 predictive factors), the NCF protocol
(configs/ml100k_neumf.py). Also the MLP half of ``ml100k_neumf_pretrained``.

Command:  python -m bigjax.main --config=configs/ml100k_mlp.py --workdir=runs/ncf/ml100k_mlp
Result:   test HR@10 0.6225, NDCG@10 0.3611 after 20 epochs; 25 s, on a 2-core CPU shared with other runs.
          experiments/ncf/RESULTS.md.
Variants: ``smoke`` (a few steps, for tests); ``validation`` (scored on each user's latest training item;
          also the MLP part of ml100k_neumf_pretrained's validation_sgd sweep).
"""

from bigjax import configs
from bigjax.config_base import base_config

common_ncf = configs.sibling(__file__, "common_ncf")

VARIANTS = {**common_ncf.VARIANTS,
            "validation": "the validation split; the MLP part of ml100k_neumf_pretrained:validation_sgd"}


def get_config(arg: str | None = None):
  c = common_ncf.ncf(base_config(), "ml-100k", "ncf.MLP")
  c.model.factors = 8             # tower 64-32-16-8
  return common_ncf.ncf_variant(c, arg, VARIANTS)
