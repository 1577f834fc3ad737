"""The fully-connected GAN of Goodfellow et al. (2014) on MNIST, scored like ``configs/mnist_dcgan.py``.

Generator 100 -> 1200 ReLU -> 1200 ReLU -> 784 tanh; discriminator two maxout layers (240 units x 5 pieces) with
dropout 0.5 (0.2 on the input) -> logit; non-saturating loss; Adam 2e-4, b1 0.5; batch 64.

First train the evaluator: python -m bigjax.main --config=configs/mnist_gan_evaluator.py --workdir=runs/gan_evaluator
Command:  python -m bigjax.main --config=configs/mnist_gan_mlp.py --workdir=runs/gan/mnist_gan_mlp
Result:   after 3 epochs (seed 0) the generator has collapsed: Fréchet distance 950.87 (floor 2.69), 0.1% of samples
          confident >= 0.9, class entropy 1.012; 243 s on the 2-core CPU shared with other jobs.
          Record: experiments/gan/RESULTS.md.
Variants: ``smoke`` (a tiny pair for 8 steps, 128 samples scored; for tests).
"""

from bigjax import configs
from bigjax.config_base import base_config, smoke

common_gan = configs.sibling(__file__, "common_gan")

VARIANTS = {"smoke": "a tiny pair for 8 steps, 128 samples scored, for tests"}


def get_config(arg: str | None = None):
  c = common_gan.add_fields(base_config())
  c.data.name = "mnist"
  c.data.batch_size = 64
  c.data.eval_batch_size = 500
  c.model.name = "gan.MLPGAN"
  c.model.latent_dim = 100
  c.model.hidden = 1200
  c.model.units = 240
  c.model.pieces = 5
  c.model.dropout = 0.5
  c.task.name = "gan"
  c.task.loss = "non_saturating"
  c.task.eval_samples = 10000
  c.optim.name = "adam"
  c.optim.lr = 2e-4
  c.optim.b1 = 0.5
  c.train.num_epochs = 3
  c.train.steps_per_call = 4
  c.train.log_every_steps = 200
  if arg == "smoke":
    c.model.hidden = 32
    c.model.units = 16
    c.model.pieces = 2
    c.data.batch_size = 32
    c.data.eval_batch_size = 64
    c.task.eval_samples = 128
    c.task.evaluator_workdir = "runs/gan_evaluator_smoke"
    smoke(c, steps=8, eval_examples=256)
  elif arg:
    raise ValueError(f"unknown variant {arg!r} of mnist_gan_mlp; known: {', '.join(VARIANTS)}")
  return c
