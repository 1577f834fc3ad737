"""SASRec (Kang & McAuley 2018) on MovieLens-100K under the NCF protocol's evaluation: each user's latest item
held out and ranked among 100 candidates (HR@10 / NDCG@10), and by full ranking; the same split and test
negatives as every other ``ml100k_*`` config.

Model (bigjax/models/sasrec.py): each user's latest 200 training items in time order (``data.history_len``;
ML-100K's median user has 65), 64-dimensional item and position embeddings, 2 causal self-attention blocks of
1 head, dropout 0.2, the item table shared by input and output; trained on every position's next item with
the full softmax over all 1,682 items (``task.loss = "softmax"``). Adam 1e-3, batch 128 users (7 steps an
epoch), 65 epochs: the best of a 200-epoch run on the validation split evaluated every 5 epochs (constant
learning rate, so its first N epochs are the N-epoch run)::

  python -m bigjax.main --config=configs/ml100k_sasrec.py:validation --workdir=runs/ncf/ml100k_sasrec_validation --config.train.num_epochs=200 --config.train.eval_every_steps=35

Command:  python -m bigjax.main --config=configs/ml100k_sasrec.py --workdir=runs/ncf/ml100k_sasrec
Result:   test HR@10 0.7508†, NDCG@10 0.4800 (full ranking: recall@10 0.2195†, NDCG@10 0.1199), seed 0†; over
          seeds 0-2 HR@10 0.7395 +- 0.0130† (``--workdir=runs/ncf/ml100k_sasrec_seeds/seedS --config.seed=S``);
          368 s on one core of a 2-core CPU shared with other runs†. experiments/ncf/RESULTS.md.
          † its record's git revision ends in -dirty: run from uncommitted changes; rerun to clear.
Variants: ``smoke`` (a few steps, for tests); ``validation`` (scored on each user's latest training item).
"""

from bigjax import configs
from bigjax.config_base import base_config

common_ncf = configs.sibling(__file__, "common_ncf")

VARIANTS = {**common_ncf.VARIANTS}


def get_config(arg: str | None = None):
  c = common_ncf.ncf(base_config(), "ml-100k", "sasrec.SASRec")
  c.data.history_len = 200
  c.data.batch_size = 128
  c.model.embed_dim = 64
  c.model.num_layers = 2
  c.model.num_heads = 1
  c.model.dropout = 0.2
  c.task.loss = "softmax"
  c.train.num_epochs = 65          # the best evaluation of the validation run (docstring)
  c.train.steps_per_call = 7       # 943 users / 128 = 7 steps per epoch: evaluated after every epoch
  c.train.log_every_steps = 140
  c = common_ncf.ncf_variant(c, arg, VARIANTS)
  if arg == "smoke":
    c.data.history_len = 16
    c.model.embed_dim = 8
    c.data.batch_size = 32
  return c
