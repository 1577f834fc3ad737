"""NeuMF on MovieLens-100K started from trained GMF and MLP (He et al. 2017, Sec. 3.4.1): both towers are
copied from the runs of configs/ml100k_gmf.py and configs/ml100k_mlp.py, the output layer joins them with
alpha 0.5, and NeuMF is then trained with plain SGD (the paper: Adam's moments are not carried over).

Command:  python -m bigjax.main --config=configs/ml100k_gmf.py --workdir=runs/ncf/ml100k_gmf
          python -m bigjax.main --config=configs/ml100k_mlp.py --workdir=runs/ncf/ml100k_mlp
          python -m bigjax.main --config=configs/ml100k_neumf_pretrained.py --workdir=runs/ncf/ml100k_neumf_pretrained
Result:   test HR@10 0.6458†, NDCG@10 0.3774 after 20 epochs† (seed 1; with the parts' seed 0: 0.6479 / 0.3785†);
          43 s, on a 2-core CPU shared with other runs†; from the parts' last epochs (NCF's code takes each part
          at its best test epoch, a choice on the test set). experiments/ncf/RESULTS.md.
          † its record's git revision ends in -dirty: run from uncommitted changes; rerun to clear.
Chosen:   on validation (``get_sweep``): the joined parts, no update, each part after PART_EPOCHS epochs; 3 seeds,
          test read once: the variant ``joined`` (the commands in ``get_sweep``'s docstring);
          test HR@10 0.6451 ± 0.0060 / NDCG@10 0.3753 ± 0.0029 (seeds 0-2).
Variants: ``smoke`` (a few steps, for tests; give it smoke runs of GMF and MLP with
          --config.task.pretrained_gmf=GMF_RUN --config.task.pretrained_mlp=MLP_RUN); ``validation`` (scored on each user's latest training item, but
          from the default parts, which trained on those items: choose with the next); ``validation_sgd``, the
          sweep below, on the validation split from parts trained on it; ``joined`` (no update: what validation
          chose, read on test).
"""

from bigjax import configs
from bigjax.config_base import base_config

common_ncf = configs.sibling(__file__, "common_ncf")

VARIANTS = {**common_ncf.VARIANTS,
            "validation": "the validation split, but from the default parts, which trained on its items",
            "validation_sgd": "the validation split from parts trained on it; its sweep: the SGD rate",
            "joined": "what validation chose: the joined parts, no update, test read once"}

# GMF's and MLP's best validation HR@10 both come after 17 of their 20 epochs (runs/ncf/ml100k_validation_parts,
# checked by tests/test_quoted_numbers.py): the parts of the ``joined`` variant train that long on the whole
# training split.
PART_EPOCHS = 17


def get_config(arg: str | None = None):
  c = common_ncf.ncf(base_config(), "ml-100k", "ncf.NeuMF")
  c.model.factors = 8
  c.task.pretrained_gmf = "runs/ncf/ml100k_gmf"
  c.task.pretrained_mlp = "runs/ncf/ml100k_mlp"
  c.task.pretrained_alpha = 0.5
  c.seed = 1  # not the parts' seed: with theirs every epoch replays their negatives and order (configs/ncf_ablation.py)
  c.optim.name = "sgd"
  c.optim.momentum = 0.0
  c.optim.lr = 1e-3
  c.train.eval_at_start = True  # the joined parts before any update: NCF's code counts it in its best epoch
  if arg == "joined":  # validation_sgd's sweep: every rate ends at or below the joined parts' first evaluation
    c.train.num_epochs = 0
    return c
  if arg == "validation_sgd":
    c.task.pretrained_gmf, c.task.pretrained_mlp = (f"{VALIDATION_PARTS}/{part}" for part in ("gmf", "mlp"))
    c.task.pretrained_checkpoint = "best"
    return common_ncf.ncf_variant(c, "validation")
  return common_ncf.ncf_variant(c, arg, VARIANTS)


VALIDATION_PARTS = "runs/ncf/ml100k_validation_parts"


def get_sweep(arg: str | None = None):
  """``:validation_sgd``: the joined model's SGD rate (the paper gives none; 1e-3 is Adam's for the parts), x 2
  seeds, on the validation split (each user's latest training item held out; the test items never looked at),
  10 runs. NeuMF starts from GMF and MLP trained on that split, at their best validation HR@10::

    python -m bigjax.main --config=configs/ml100k_gmf.py:validation --workdir=runs/ncf/ml100k_validation_parts/gmf --config.train.keep_checkpoints=21
    python -m bigjax.main --config=configs/ml100k_mlp.py:validation --workdir=runs/ncf/ml100k_validation_parts/mlp --config.train.keep_checkpoints=21
    python -m bigjax.sweep --config=configs/ml100k_neumf_pretrained.py:validation_sgd --workdir=runs/ncf/ml100k_neumf_pretrained_validation_sgd --parallel=2

  Every rate ends at or below its first evaluation, the joined parts. ``:joined`` is that choice on the test
  split, 3 seeds: GMF and MLP trained PART_EPOCHS epochs on the whole training split, joined, no update, test
  read once::

    P=runs/ncf/ml100k_neumf_joined_parts
    for s in 0 1 2; do
      python -m bigjax.main --config=configs/ml100k_gmf.py --workdir=$P/seed$s/gmf --config.seed=$s --config.train.num_epochs=17
      python -m bigjax.main --config=configs/ml100k_mlp.py --workdir=$P/seed$s/mlp --config.seed=$s --config.train.num_epochs=17
      python -m bigjax.main --config=configs/ml100k_neumf_pretrained.py:joined --workdir=runs/ncf/ml100k_neumf_joined/seed$s --config.seed=$s --config.task.pretrained_gmf=$P/seed$s/gmf --config.task.pretrained_mlp=$P/seed$s/mlp
    done
  """
  from bigjax.sweep import product, sweep
  if arg == "validation_sgd":
    return product(sweep("optim.lr", [1e-3, 3e-3, 1e-2, 3e-2, 1e-1]), sweep("seed", [1, 2]))
  raise ValueError(f"ml100k_neumf_pretrained's sweep chooses the joined model's rate on the validation split: use "
                   f":validation_sgd, not {arg!r}")
