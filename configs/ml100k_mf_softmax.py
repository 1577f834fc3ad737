"""Matrix factorisation (configs/ml100k_mf.py, 64 factors) on MovieLens-100K trained with the full-softmax loss:
each positive's cross-entropy among all 1,682 items (``task.loss = "softmax"``, bigjax/tasks/recommendation.py)
instead of NCF's log loss on 4 sampled negatives; otherwise the NCF protocol (configs/ml100k_neumf.py): Adam
1e-3, batch 256 (positives), 20 epochs.

Command:  python -m bigjax.main --config=configs/ml100k_mf_softmax.py --workdir=runs/ncf/ml100k_mf_softmax
Result:   test HR@10 0.6776†, NDCG@10 0.4050 after 20 epochs† (full ranking: recall@10 0.1495†, NDCG@10 0.0768);†
          38 s, on a 2-core CPU shared with other runs†. Weight decay 3e-05 and 14,976 steps†, chosen on the
          validation split (``get_sweep``): 0.6713 / 0.4001 (full ranking 0.1506 / 0.0792)†.
          experiments/ncf/RESULTS.md.
          † its record's git revision ends in -dirty: run from uncommitted changes; rerun to clear.
Variants: ``smoke`` (a few steps, for tests); ``validation`` (scored on each user's latest training item).
"""

from bigjax import configs
from bigjax.config_base import base_config

common_ncf = configs.sibling(__file__, "common_ncf")

VARIANTS = {**common_ncf.VARIANTS,
            "validation": "the validation split; its sweep chooses weight decay, factors and epochs"}


def get_config(arg: str | None = None):
  c = common_ncf.ncf(base_config(), "ml-100k", "ncf.MF")
  c.model.factors = 64
  c.data.pairs = True         # positives only: the softmax's negatives are every other item
  c.data.num_negatives = 1    # the sampled negatives are unused; one keeps the batches small
  c.task.loss = "softmax"
  return common_ncf.ncf_variant(c, arg, VARIANTS)


def get_sweep(arg: str | None = None):
  """``:validation``: L2 weight decay x factors on the validation split, 60 epochs evaluated after each (the
  learning rate is constant, so each run's first N epochs are the N-epoch run; 8 runs)::

    python -m bigjax.sweep --config=configs/ml100k_mf_softmax.py:validation --workdir=runs/ncf/ml100k_mf_softmax_validation
  """
  from bigjax.sweep import product, sweep
  if arg != "validation":
    raise ValueError("ml100k_mf_softmax's sweep chooses hyperparameters on the validation split: use :validation")
  return product(sweep("model.factors", [64, 128]), sweep("optim.weight_decay", [0.0, 1e-5, 3e-5, 1e-4]),
                 sweep("train.num_epochs", [60.0]))
