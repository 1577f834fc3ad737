"""NeuMF (He et al. 2017) on MovieLens-100K with the paper's settings: 8 predictive factors (GMF 8 wide, MLP
tower 64-32-16-8), 4 negatives per positive, Adam 1e-3, batch 256, 20 epochs; leave-one-out evaluation.

Command:  python -m bigjax.main --config=configs/ml100k_neumf.py --workdir=runs/ncf/ml100k_neumf
Result:   test HR@10 0.6416†, NDCG@10 0.3796 after 20 epochs† (seed 0; seeds 0-2: HR@10 0.6409 +- 0.0085†); 53 s,
          on a 2-core CPU shared with other runs†.
          Neither regulariser chosen on the validation split lifts it: weight decay (best 0†), and
          ``task.embedding_l2`` (best 0.01; on test 0.6303 +- 0.0058 over seeds 0-2). Adam's schedule chosen on
          validation, cosine decay from 1e-3 (--config.optim.schedule=cosine): HR@10 0.6497 +- 0.0064, NDCG@10
          0.3774 +- 0.0020 over seeds 0-2; the negatives chosen with it stay at 4. A moving average of the
          parameters chosen on validation (--config.optim.ema_decay=0.999, with the cosine decay) changes
          nothing: 0.6497 +- 0.0064 / 0.3774 +- 0.0018. Nor, on validation, does dropout on the MLP tower
          (--config.model.dropout; every rate 0.1-0.5 lower) or another point of the paper's grid of batch
          sizes and rates (batch 256 at 1e-3 stays best). experiments/ncf/RESULTS.md.
          † its record's git revision ends in -dirty: run from uncommitted changes; rerun to clear.
Variants: ``smoke`` (a few steps, for tests); ``validation``, ``validation_l2``, ``validation_schedule``,
          ``validation_negatives``, ``validation_ema``, ``validation_dropout`` and ``validation_grid`` (the
          sweeps below).
"""

from bigjax import configs
from bigjax.config_base import base_config

common_ncf = configs.sibling(__file__, "common_ncf")

SWEEPS = ("validation", "validation_l2", "validation_schedule", "validation_negatives", "validation_ema",
          "validation_dropout", "validation_grid")  # all on the validation split

VARIANTS = {**common_ncf.VARIANTS,
            "validation": "the validation split; its sweep: weight decay",
            "validation_l2": "the validation split; its sweep: task.embedding_l2",
            "validation_schedule": "the validation split; its sweep: Adam's rate and schedule",
            "validation_negatives": "the validation split; its sweep: negatives per positive",
            "validation_ema": "the validation split; its sweep: a moving average of the parameters",
            "validation_dropout": "the validation split; its sweep: dropout on the MLP tower",
            "validation_grid": "the validation split; its sweep: the paper's batch size x learning rate grid"}


def get_config(arg: str | None = None):
  c = common_ncf.ncf(base_config(), "ml-100k", "ncf.NeuMF")
  c.model.factors = 8
  c.model.dropout = 0.0   # on the MLP part's hidden units while training; NCF has none
  return common_ncf.ncf_variant(c, "validation" if arg in SWEEPS else arg, VARIANTS)


def get_sweep(arg: str | None = None):
  """``:validation``: L2 weight decay (coupled, on every matrix) x 2 seeds, scored on the validation split (each
  user's latest training item held out; the test items never looked at), 10 runs::

    python -m bigjax.sweep --config=configs/ml100k_neumf.py:validation --workdir=runs/ncf/ml100k_neumf_validation

  ``:validation_l2``: the same for ``task.embedding_l2``, the L2 penalty on the embedding rows each example
  reads (tasks/recommendation.py), x 2 seeds, 14 runs::

    python -m bigjax.sweep --config=configs/ml100k_neumf.py:validation_l2 --workdir=runs/ncf/ml100k_neumf_validation_l2

  ``:validation_schedule``: Adam's learning rate and its schedule over the 20 epochs (constant, as the paper;
  cosine or linear decay to 0), x 2 seeds, 18 runs::

    python -m bigjax.sweep --config=configs/ml100k_neumf.py:validation_schedule --workdir=runs/ncf/ml100k_neumf_validation_schedule --parallel=2

  ``:validation_negatives``: negatives per positive (1 to 8) under the schedule that sweep chose (cosine from
  1e-3), x 2 seeds, 12 runs::

    python -m bigjax.sweep --config=configs/ml100k_neumf.py:validation_negatives --workdir=runs/ncf/ml100k_neumf_validation_negatives

  ``:validation_ema``: evaluating a moving average of the parameters (``optim.ema_decay``) at the constant rate and
  under the cosine decay, x 2 seeds, 16 runs. 0.999 averages over about half an epoch; at 0.9999 and 0.99995 the
  warm-up term ``(1 + t) / (10 + t)`` of ``optim.param_average`` stays below the decay for all 38,272 steps, so
  both weight step s as about ``(s / T)^8``, the last tenth of the run, and are the same run::

    python -m bigjax.sweep --config=configs/ml100k_neumf.py:validation_ema --workdir=runs/ncf/ml100k_neumf_validation_ema --parallel=2

  ``:validation_dropout``: dropout on the MLP part's hidden units (``model.dropout``; NCF has none) under the
  chosen cosine decay, x 2 seeds, 10 runs::

    python -m bigjax.sweep --config=configs/ml100k_neumf.py:validation_dropout --workdir=runs/ncf/ml100k_neumf_validation_dropout --parallel=2

  ``:validation_grid``: the paper's own tuning grid (He et al. 2017, Sec. 4.1: batch size 128, 256, 512, 1024 and
  learning rate 1e-4, 5e-4, 1e-3, 5e-3) under the chosen cosine decay, x 2 seeds, 32 runs::

    python -m bigjax.sweep --config=configs/ml100k_neumf.py:validation_grid --workdir=runs/ncf/ml100k_neumf_validation_grid --parallel=2
  """
  from bigjax.sweep import product, sweep
  if arg == "validation":
    return product(sweep("optim.weight_decay", [0.0, 1e-6, 3e-6, 1e-5, 3e-5]), sweep("seed", [0, 1]))
  if arg == "validation_l2":
    return product(sweep("task.embedding_l2", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]), sweep("seed", [0, 1]))
  if arg == "validation_schedule":
    return product(sweep("optim.schedule", ["constant", "cosine", "linear"]), sweep("optim.lr", [1e-3, 2e-3, 5e-3]),
                   sweep("seed", [0, 1]))
  if arg == "validation_negatives":
    return product(sweep("optim.schedule", ["cosine"]), sweep("data.num_negatives", [1, 2, 3, 4, 6, 8]),
                   sweep("seed", [0, 1]))
  if arg == "validation_ema":
    return product(sweep("optim.schedule", ["constant", "cosine"]), sweep("optim.ema_decay", [0.0, 0.999, 0.9999, 0.99995]),
                   sweep("seed", [0, 1]))
  if arg == "validation_dropout":
    return product(sweep("optim.schedule", ["cosine"]), sweep("model.dropout", [0.0, 0.1, 0.2, 0.3, 0.5]),
                   sweep("seed", [0, 1]))
  if arg == "validation_grid":
    return product(sweep("optim.schedule", ["cosine"]), sweep("data.batch_size", [128, 256, 512, 1024]),
                   sweep("optim.lr", [1e-4, 5e-4, 1e-3, 5e-3]), sweep("seed", [0, 1]))
  raise ValueError(f"ml100k_neumf's sweeps choose hyperparameters on the validation split: use one of "
                   f"{', '.join(':' + name for name in SWEEPS)}")
