"""MLP on scikit-learn's 8x8 digits: the README's default experiment, offline on data that ships with a dependency.

Command:  python -m bigjax.main --config=configs/digits_mlp.py --workdir=runs/digits_mlp
Result:   98.70% ± 0.16% test accuracy on the 360 held-out digits (30 epochs, seeds 0, 1, 2); 4 s for seed 0 on
          a 2-core CPU (jax 0.10.2), 0.7 s of it compiling. Record: experiments/digits/RESULTS.md.
Variants: ``smoke`` (2 epochs, for tests).
Sweep:    python -m bigjax.sweep --config=configs/digits_mlp.py --workdir=runs/digits_sweep --parallel=2
          (optimizer x lr x seed, 8 runs; see get_sweep).
"""

from bigjax import configs
from bigjax.config_base import base_config

common_classification = configs.sibling(__file__, "common_classification")

VARIANTS = {"smoke": "2 epochs, for tests"}


def get_config(arg: str | None = None):
  c = common_classification.add_fields(base_config())
  c.data.name = "digits"
  c.data.batch_size = 32
  c.data.eval_batch_size = 360
  c.model.name = "mlp.MLP"
  c.model.hidden = (256,)
  c.model.num_classes = 10
  c.optim.lr = 1e-3
  c.train.num_epochs = 30
  c.train.log_every_steps = 44
  c.train.steps_per_call = 4
  if arg == "smoke":
    c.train.num_epochs = 2
  elif arg:
    raise ValueError(f"unknown variant {arg!r} of digits_mlp; known: {', '.join(VARIANTS)}")
  return c


def get_sweep(arg: str | None = None):
  """Optimizer x learning rate x seed: 8 runs for ``python -m bigjax.sweep``."""
  del arg  # the same points for every variant
  from bigjax.sweep import product, sweep
  return product(sweep("optim.name", ["adam", "sgd"]), sweep("optim.lr", [1e-3, 3e-3]), sweep("seed", [0, 1]))
