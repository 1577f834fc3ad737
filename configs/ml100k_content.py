"""Content-based filtering on MovieLens-100K: items as TF-IDF of their title words, year and genres, users
as the TF-IDF profile of the movies they trained on, scored by a learned 64-wide projection of both
(``ncf.Content``: no user or item ids); trained and evaluated with the NCF protocol (configs/ml100k_neumf.py).

Command:  python -m bigjax.main --config=configs/ml100k_content.py --workdir=runs/ncf/ml100k_content
Result:   test HR@10 0.5196†, NDCG@10 0.2839 after 20 epochs†; 48 s, on a 2-core CPU shared with other runs†.
          experiments/ncf/RESULTS.md.
          † its record's git revision ends in -dirty: run from uncommitted changes; rerun to clear.
Variants: ``smoke`` (a few steps, for tests); ``validation`` (scored on each user's latest training item).
"""

from bigjax import configs
from bigjax.config_base import base_config

common_ncf = configs.sibling(__file__, "common_ncf")

VARIANTS = {**common_ncf.VARIANTS}


def get_config(arg: str | None = None):
  c = common_ncf.ncf(base_config(), "ml-100k", "ncf.Content")
  c.model.factors = 64
  c.data.item_features = True
  return common_ncf.ncf_variant(c, arg, VARIANTS)
