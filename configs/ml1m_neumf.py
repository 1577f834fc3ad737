"""NeuMF (He et al. 2017) on MovieLens-1M with the paper's settings: 8 predictive factors (GMF 8, MLP tower
64-32-16-8), 4 negatives per positive, Adam 1e-3, batch 256, 20 epochs; leave-one-out evaluation.

Data: the first ML-1M source present (data/movielens.py): NCF's own files, GroupLens' ratings.dat, else
the AFCFM copy of all 1,000,209 interactions with its own held-out item per user and 99 test negatives
drawn with config.data.eval_negatives_seed. Full ranking is off (6,040 x 3,706 MLP scores per
evaluation); turn it on with --config.data.full_ranking=True.

Command:  python -m bigjax.main --config=configs/ml1m_neumf.py --workdir=runs/ncf/ml1m_neumf
Result:   test HR@10 0.6798, NDCG@10 0.4066 after 20 epochs on the AFCFM split (paper, its own split:
          0.688 / 0.410); 247 s, on one core of a 2-core CPU shared with other runs.
          experiments/ncf/RESULTS.md.
Variants: ``smoke`` (a few steps, for tests); ``f16``, ``f32``, ``f64`` (16, 32, 64 predictive factors:
          GMF that wide, MLP tower 8f-4f-2f-f). With pre-training at 64 factors (configs/ncf_ablation.py,
          ``ml1m_factors`` then ``ml1m_pretrained``, seed 1): 0.6970 / 0.4278 (paper 0.730 / 0.447).
"""

from bigjax.config_base import base_config, ncf, ncf_variant


def get_config(arg: str | None = None):
  c = ncf(base_config(), "ml-1m", "ncf.NeuMF")
  c.data.full_ranking = False
  factors = 8
  if arg and arg.startswith("f") and arg[1:].isdigit():
    factors, arg = int(arg[1:]), None
  c.model.factors = factors
  return ncf_variant(c, arg)
