"""DCGAN (Radford et al. 2016) with InfoGAN's categorical code (Chen et al. 2016) on MNIST, scored by the fixed
classifier of ``configs/mnist_gan_evaluator.py``.

Generator [62 noise, one-hot code of 10] -> Dense 1024 -> 7x7x128 -> ConvT 14x14x64 -> ConvT 28x28x1 (batch norm,
ReLU, tanh); discriminator Conv 64 /2 -> Conv 128 /2 -> Dense 1024 (batch norm after the first layer, LeakyReLU
0.2) -> logit, and InfoGAN's Q head (Dense 128 -> 10 code logits) on the same trunk (``features`` 64; the
1024-unit layers are InfoGAN's, ``dense_features``; ``code_classes``). Non-saturating loss plus the code's
cross-entropy (InfoGAN's mutual-information term, weight 1) for both players; no labels. Adam b1 0.5, the
generator at 1e-3 and the discriminator at 2e-4 (InfoGAN's rates); batch 64; 16 epochs; samples drawn from the
generator's running average (decay 0.999).

First train the evaluator (once, shared by every GAN run):
          python -m bigjax.main --config=configs/mnist_gan_evaluator.py --workdir=runs/gan_evaluator
Command:  python -m bigjax.main --config=configs/mnist_dcgan.py --workdir=runs/gan/infogan_recipe
Sweep:    ``get_sweep``: this recipe and ``plain``, seeds 0-2, chosen between on the validation images:
          python -m bigjax.sweep --config=configs/mnist_dcgan.py --workdir=runs/gan_choose --parallel=2
Result:   chosen on validation over seeds 0-2 (experiments/gan/RESULTS.md). On the test images, read once per
          run, mean +- std over the seeds: Fréchet distance 2.90 +- 0.16 on the evaluator's features (real-data
          floor 2.76: 1.05 +- 0.06x; target <= 3x), 97.4% +- 1.4% of samples confident >= 0.9 (target 90%),
          class entropy 2.302 +- 0.000 (target 2.25): all three met, after 16 epochs; about 126 minutes a run,
          two at once on the 2-core CPU, jax 0.10.2.
          ``:plain`` (no code, Radford et al.'s 100 noise dimensions and 2e-4 for both players), the same way:
          3.33 +- 0.09 (1.21 +- 0.03x) / 86.8% +- 0.6% / 2.300 +- 0.001.
Variants: ``plain`` (no code: the runs before it); ``smoke`` (a tiny pair for 8 steps, 128 samples scored; for
          tests).
"""

from bigjax import configs
from bigjax.config_base import base_config, smoke

common_gan = configs.sibling(__file__, "common_gan")

VARIANTS = {"plain": "no code: Radford et al.'s 100 noise dimensions, 2e-4 for both players",
            "smoke": "a tiny pair for 8 steps, 128 samples scored, for tests"}


def get_config(arg: str | None = None):
  c = common_gan.add_fields(base_config())
  c.data.name = "mnist"
  c.data.batch_size = 64
  c.data.eval_batch_size = 500    # also the chunk in which samples are generated and scored
  c.model.name = "gan.DCGAN"
  c.model.latent_dim = 62         # InfoGAN's MNIST noise (Chen et al. 2016), followed by the code
  c.model.features = 64
  c.model.conv_impl = "patches"   # "xla" on accelerators (bigjax/models/layers.py)
  c.model.dense_features = 1024   # > 0: InfoGAN's fully-connected layer after the noise and before the logit
  c.model.code_classes = 10       # InfoGAN's categorical code and Q head: the latent falls into ten parts
  c.task.name = "gan"
  c.task.loss = "non_saturating"
  c.task.eval_samples = 10000
  c.task.generator_ema = 0.999    # sample and score the generator's running average
  c.optim.name = "adam"
  c.optim.lr = 1e-3               # the generator's, as InfoGAN's; the discriminator's is 0.2x, 2e-4
  c.optim.b1 = 0.5
  c.task.discriminator_lr_scale = 0.2
  c.train.num_epochs = 16
  c.train.steps_per_call = 4      # 937 steps per epoch -> evaluated and checkpointed every 936
  c.train.log_every_steps = 200
  # Scored against the last 10,000 training images while training (trained on the first 50,000; the recipe is
  # chosen there, get_sweep); the test images are read once, after the last epoch.
  c.data.eval_split = "validation"
  c.data.test_split = "test"
  if arg == "plain":  # Radford et al.'s noise and learning rates, no code: the runs before InfoGAN's code
    c.update_from_flattened_dict(RECIPES["plain"])
  elif arg == "smoke":
    c.model.features = 8
    c.model.dense_features = 16
    c.data.batch_size = 32
    c.data.eval_batch_size = 64
    c.task.eval_samples = 128
    c.task.evaluator_workdir = "runs/gan_evaluator_smoke"
    smoke(c, steps=8, eval_examples=256)
  elif arg:
    raise ValueError(f"unknown variant {arg!r} of mnist_dcgan; known: {', '.join(VARIANTS)}")
  return c


# The two recipes compared on validation over three seeds (get_sweep): InfoGAN's latent and learning rates, and
# Radford et al.'s DCGAN without the code.
RECIPES = {
    "infogan": {"model.latent_dim": 62, "model.code_classes": 10, "optim.lr": 1e-3,
                "task.discriminator_lr_scale": 0.2},
    "plain": {"model.latent_dim": 100, "model.code_classes": 0, "optim.lr": 2e-4, "task.discriminator_lr_scale": 1.0},
}


def get_sweep(arg: str | None = None):
  """Seeds 0-2 x the recipes of ``RECIPES`` for ``python -m bigjax.sweep``, scored on validation (the choice).

  Seeds vary slowest, so each finished pair of points compares the two recipes at one seed."""
  del arg
  from bigjax.sweep import product, sweep
  return product(sweep("seed", [0, 1, 2]), [dict(r) for r in RECIPES.values()])
