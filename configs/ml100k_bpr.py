"""BPR-MF (Rendle et al. 2009) on MovieLens-100K: matrix factorisation (64 factors) trained with the
pairwise loss -log sigmoid(s(u, i) - s(u, j)) on (positive, negative) pairs, 4 negatives per positive
redrawn every epoch; otherwise the NCF protocol (configs/ml100k_neumf.py).

Command:  python -m bigjax.main --config=configs/ml100k_bpr.py --workdir=runs/ncf/ml100k_bpr
Result:   test HR@10 0.6628†, NDCG@10 0.3908 after 20 epochs†; 29 s, on a 2-core CPU shared with other runs†.
          experiments/ncf/RESULTS.md.
          † its record's git revision ends in -dirty: run from uncommitted changes; rerun to clear.
Variants: ``smoke`` (a few steps, for tests); ``validation`` (scored on each user's latest training item), the sweep's.
"""

from bigjax import configs
from bigjax.config_base import base_config

common_ncf = configs.sibling(__file__, "common_ncf")

VARIANTS = {**common_ncf.VARIANTS, "validation": "the validation split; its sweep chooses the weight decay"}


def get_config(arg: str | None = None):
  c = common_ncf.ncf(base_config(), "ml-100k", "ncf.MF")
  c.model.factors = 64
  c.data.pairs = True
  c.task.loss = "bpr"
  return common_ncf.ncf_variant(c, arg, VARIANTS)


def get_sweep(arg: str | None = None):
  """``:validation``: L2 weight decay for BPR-MF, chosen on the validation split (4 runs)::

    python -m bigjax.sweep --config=configs/ml100k_bpr.py:validation --workdir=runs/ncf/ml100k_bpr_validation --parallel=2
  """
  from bigjax.sweep import sweep
  if arg != "validation":
    raise ValueError("ml100k_bpr's sweep chooses hyperparameters on the validation split: use :validation")
  return sweep("optim.weight_decay", [0.0, 3e-6, 1e-5, 3e-5])
