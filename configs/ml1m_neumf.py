"""NeuMF (He et al. 2017) on MovieLens-1M with the paper's settings: 8 predictive factors (GMF 8, MLP tower
64-32-16-8), 4 negatives per positive, Adam 1e-3, batch 256, 20 epochs; leave-one-out evaluation.

Data: the first ML-1M source present (data/movielens.py). On this machine that is ``ncf+afcfm``: the paper's
own split and 99 test negatives per user (NCF's ml-1m.test.rating / .negative), its training file rebuilt
from the AFCFM copy of all 1,000,209 interactions. ``--config.data.source=afcfm`` is the AFCFM archive's own
split with negatives drawn by config.data.eval_negatives_seed. Full ranking is off (6,040 x 3,706 MLP
scores per evaluation); turn it on with --config.data.full_ranking=True.

Command:  python -m bigjax.main --config=configs/ml1m_neumf.py --workdir=runs/ncf/ml1m_neumf
Result:   on the paper's split, test HR@10 0.6839†, NDCG@10 0.4120 after 20 epochs† (paper: 0.688 / 0.410); seeds
          0-2: HR@10 0.6775 +- 0.0057, NDCG@10 0.4062 +- 0.0052†; 502 s for seed 0† on one core of a 2-core
          CPU shared with other runs. On the AFCFM split: 0.6798 / 0.4066†. With ML-100K's cosine decay
          (--config.optim.schedule=cosine), seeds 0-2: 0.6756 +- 0.0035 / 0.4043 +- 0.0021†.
          experiments/ncf/RESULTS.md.
Variants: ``smoke`` (a few steps, for tests); ``validation`` (scored on each user's latest training item);
          ``f16``, ``f32``, ``f64`` (16, 32, 64 predictive factors: GMF that wide, MLP tower 8f-4f-2f-f).
Pre-trained: at 64 factors (configs/ncf_ablation.py, ``ml1m_factors`` then ``ml1m_pretrained``, seed 1;
          commands in RESULTS): 0.6974 / 0.4308 on the paper's split†, after the last epoch and from the parts'
          last epochs (paper 0.730 / 0.447, a best epoch chosen on the test set, as NCF's code reports it).
          † its record's git revision ends in -dirty: run from uncommitted changes; rerun to clear.
"""

from bigjax import configs
from bigjax.config_base import base_config

common_ncf = configs.sibling(__file__, "common_ncf")

VARIANTS = {**common_ncf.VARIANTS,
            "f16": "16 predictive factors (GMF 16 wide, MLP tower 128-64-32-16)",
            "f32": "32 predictive factors (GMF 32 wide, MLP tower 256-128-64-32)",
            "f64": "64 predictive factors (GMF 64 wide, MLP tower 512-256-128-64)"}


def get_config(arg: str | None = None):
  c = common_ncf.ncf(base_config(), "ml-1m", "ncf.NeuMF")
  c.data.full_ranking = False
  factors = 8
  if arg in ("f16", "f32", "f64"):
    factors, arg = int(arg[1:]), None
  c.model.factors = factors
  c.model.layers = ()   # NCF's code tower (8f, 4f, 2f, f); e.g. (256, 128, 64), the paper's text for 64 factors
  return common_ncf.ncf_variant(c, arg, VARIANTS)
