"""VGG-style CNN on MNIST (two stages of two 3x3 convs, 32 and 64 maps, dropout; Dense 256).

Command:  python -m bigjax.main --config=configs/mnist_cnn.py --workdir=runs/mnist_cnn
Result:   99.50% test accuracy after 10 epochs (seed 0); 1521 s on a 2-core CPU shared with other
          jobs, jax 0.10.2. Record: experiments/mnist/RESULTS.md.
Variants: ``smoke`` (12 steps, for tests).
"""

from bigjax import configs
from bigjax.config_base import base_config, smoke

common_classification = configs.sibling(__file__, "common_classification")

VARIANTS = {"smoke": "12 steps, for tests"}


def get_config(arg: str | None = None):
  c = common_classification.add_fields(base_config())
  c.data.name = "mnist"
  c.data.batch_size = 128
  c.data.eval_batch_size = 1000
  c.model.name = "cnn.CNN"
  c.model.num_classes = 10
  c.model.stages = (32, 64)
  c.model.dense = 256
  c.model.impl = "patches"
  c.optim.name = "adam"
  c.optim.lr = 1e-3
  c.optim.schedule = "cosine"
  c.train.num_epochs = 10
  c.train.steps_per_call = 12     # 468 steps per epoch = 39 calls
  c.train.log_every_steps = 156
  if arg == "smoke":
    smoke(c, steps=12)
  elif arg:
    raise ValueError(f"unknown variant {arg!r} of mnist_cnn; known: {', '.join(VARIANTS)}")
  return c
