"""Hybrid NeuMF on MovieLens-100K: NeuMF (8 factors, tower 64-32-16-8) whose item vectors add a learned
projection of the item's TF-IDF features (title words, year, genres); the NCF protocol
(configs/ml100k_neumf.py).

Command:  python -m bigjax.main --config=configs/ml100k_hybrid.py --workdir=runs/ncf/ml100k_hybrid
Result:   test HR@10 0.6352†, NDCG@10 0.3734 after 20 epochs†; 34 s, on a 2-core CPU shared with other runs†.
          experiments/ncf/RESULTS.md.
          † its record's git revision ends in -dirty: run from uncommitted changes; rerun to clear.
Variants: ``smoke`` (a few steps, for tests); ``validation`` (scored on each user's latest training item).
"""

from bigjax import configs
from bigjax.config_base import base_config

common_ncf = configs.sibling(__file__, "common_ncf")

VARIANTS = {**common_ncf.VARIANTS}


def get_config(arg: str | None = None):
  c = common_ncf.ncf(base_config(), "ml-100k", "ncf.HybridNeuMF")
  c.model.factors = 8
  c.data.item_features = True
  return common_ncf.ncf_variant(c, arg, VARIANTS)
