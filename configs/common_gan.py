"""The GAN family's fields (bigjax/tasks/gan.py reads them), with their defaults: mnist_dcgan, mnist_gan_mlp."""

import ml_collections


def add_fields(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  c.task.evaluator_workdir = "runs/gan_evaluator"  # workdir of the fixed classifier scoring samples
  c.task.evaluator_features = "Dense_0"  # the evaluator layer whose outputs the Fréchet distance compares
  c.task.eval_samples = 10000     # samples scored at each evaluation (and training images in the floor)
  c.task.generator_ema = 0.0      # decay of the generator's running average, which is sampled and scored
  c.task.discriminator_lr_scale = 1.0  # the discriminator's step size relative to config.optim's (TTUR)
  c.task.code_weight = 1.0        # with config.model.code_classes > 0: InfoGAN's lambda on the code term
  return c
