"""The NCF paper's ablations (He et al. 2017, Sec. 4.2-4.4) as sweeps, on MovieLens-100K or -1M.

Variant ``<dataset>_<stage>``, dataset ``ml100k`` or ``ml1m``; each stage is one sweep:

  factors     GMF, MLP and NeuMF (no pre-training) at 8, 16, 32 and 64 predictive factors: 12 runs
  pretrained  NeuMF at 8-64 factors started from the ``factors`` stage's GMF and MLP runs (trained with
              SGD, as the paper does): 4 runs; run it after ``factors``, which it reads from
              ``runs/ncf_ablation/<dataset>_factors``
  negatives   NeuMF, 8 factors, 1 to 10 negatives per positive: 10 runs

Everything else is the NCF protocol of configs/ml100k_neumf.py (Adam 1e-3, batch 256, 20 epochs).

Variants: ``ml100k_factors``, ``ml100k_pretrained``, ``ml100k_negatives``, ``ml1m_factors``, ``ml1m_pretrained``,
          ``ml1m_negatives`` (no default: name one).

Commands (ML-100K; about 1-3 minutes per run on a 2-core CPU):
  python -m bigjax.sweep --config=configs/ncf_ablation.py:ml100k_factors --workdir=runs/ncf_ablation/ml100k_factors
  python -m bigjax.sweep --config=configs/ncf_ablation.py:ml100k_pretrained --workdir=runs/ncf_ablation/ml100k_pretrained
  python -m bigjax.sweep --config=configs/ncf_ablation.py:ml100k_negatives --workdir=runs/ncf_ablation/ml100k_negatives
ML-1M, on the paper's split (the 8-, 32- and 64-factor points were run one by one, each workdir named on
the command line; commands in experiments/ncf/RESULTS.md): GMF-8 HR@10 0.6371, MLP-8 0.6679†, NeuMF-8
pre-trained (seed 1) 0.6707† (paper 0.701); GMF-32 0.7041†, MLP-32 0.6654†, NeuMF-32 pre-trained 0.6851† (paper
0.726); GMF-64 0.6924, MLP-64 0.6737†, NeuMF-64 pre-trained 0.6974 / 0.4308† (paper 0.730 / 0.447). All after
the last epoch, from the parts' last epochs; the paper's numbers are best epochs, chosen on the test set, as
NCF's code reports them. The ``pretrained`` stage takes seed 1, not its parts' 0: with theirs it replays their
negatives and order epoch by epoch, and on ML-1M (the AFCFM split) its last epoch dropped to 0.6861 / 0.4217†
(``--config.seed=0``).
† its record's git revision ends in -dirty: run from uncommitted changes; rerun to clear.
Result:   experiments/ncf/RESULTS.md.
"""

from bigjax import configs
from bigjax.config_base import base_config

common_ncf = configs.sibling(__file__, "common_ncf")

DATASETS = {"ml100k": "ml-100k", "ml1m": "ml-1m"}
STAGES = {"factors": "GMF, MLP and NeuMF at 8, 16, 32 and 64 factors: 12 runs",
          "pretrained": "NeuMF at 8-64 factors from the factors stage's GMF and MLP, SGD: 4 runs",
          "negatives": "NeuMF, 8 factors, 1 to 10 negatives per positive: 10 runs"}
VARIANTS = {f"{dataset}_{stage}": f"{DATASETS[dataset]}, {what}" for dataset in DATASETS for stage, what in STAGES.items()}
FACTORS = (8, 16, 32, 64)
ROOT = "runs/ncf_ablation"


def _parse(arg: str | None) -> tuple[str, str]:
  dataset, _, stage = (arg or "").partition("_")
  if dataset not in DATASETS or stage not in STAGES:
    raise ValueError(f"variant {arg!r} of ncf_ablation: expected <dataset>_<stage>; known: {', '.join(VARIANTS)}")
  return dataset, stage


def get_config(arg: str | None = None):
  dataset, stage = _parse(arg)
  c = common_ncf.ncf(base_config(), DATASETS[dataset], "ncf.NeuMF")
  c.model.factors = 8
  if dataset == "ml1m":
    c.data.full_ranking = False
  if stage == "pretrained":
    c.task.pretrained_gmf, c.task.pretrained_mlp = pretrained_runs(dataset, 8)
    # Not the parts' seed (0): with it, epoch e would replay their epoch e's negatives and order exactly
    # (measured on ML-1M, experiments/ncf/RESULTS.md: the last epoch then drops HR@10 by 0.012).
    c.seed = 1
    c.optim.name = "sgd"
    c.optim.momentum = 0.0
    c.train.eval_at_start = True  # the joined parts before any update: NCF's code counts it in its best epoch
    c.model.layers = ()           # the MLP part's tower; () = NCF's code tower (8f, 4f, 2f, f)
  return c


def pretrained_runs(dataset: str, factors: int) -> tuple[str, str]:
  """``(task.pretrained_gmf, task.pretrained_mlp)`` for ``factors``: the GMF and MLP points of the ``factors`` stage."""
  from bigjax.sweep import point_name
  root = f"{ROOT}/{dataset}_factors"
  gmf, mlp = (f"{root}/{point_name({'model.name': f'ncf.{kind}', 'model.factors': factors})}" for kind in ("GMF", "MLP"))
  return gmf, mlp


def get_sweep(arg: str | None = None):
  from bigjax.sweep import product, sweep, zip_
  dataset, stage = _parse(arg)
  if stage == "factors":
    return product(sweep("model.name", ["ncf.GMF", "ncf.MLP", "ncf.NeuMF"]), sweep("model.factors", list(FACTORS)))
  if stage == "pretrained":
    return zip_(sweep("model.factors", list(FACTORS)),
                sweep("task.pretrained_gmf", [pretrained_runs(dataset, f)[0] for f in FACTORS]),
                sweep("task.pretrained_mlp", [pretrained_runs(dataset, f)[1] for f in FACTORS]))
  return sweep("data.num_negatives", list(range(1, 11)))
