"""The fixed MNIST classifier whose features and predictions score every GAN run (``configs/mnist_dcgan.py``).

The VGG-style CNN of ``configs/mnist_cnn.py``, trained for 3 epochs instead of 10. Its ``Dense_0`` layer (256
units, before the ReLU) gives the features of the Fréchet distance; its softmax gives the confidence and the
class entropy (``bigjax/evals/gan.py``). Every GAN run reads the same checkpoint through
``config.task.evaluator_workdir`` (default ``runs/gan_evaluator``).

Command:  python -m bigjax.main --config=configs/mnist_gan_evaluator.py --workdir=runs/gan_evaluator
Result:   99.21% test accuracy after 3 epochs (seed 0); 164 s on the 2-core CPU. Record:
          experiments/gan/runs/gan_evaluator_clean (the scorer of the recipe choice in experiments/gan/RESULTS.md).
Variants: ``smoke`` (12 steps; the evaluator of the GAN smoke tests).
"""

from bigjax import configs
from bigjax.config_base import base_config, smoke

common_classification = configs.sibling(__file__, "common_classification")

VARIANTS = {"smoke": "12 steps; the evaluator of the GAN smoke tests"}


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
  c.train.num_epochs = 3
  c.train.steps_per_call = 12     # 468 steps per epoch = 39 calls
  c.train.log_every_steps = 156
  if arg == "smoke":
    smoke(c, steps=12)
  elif arg:
    raise ValueError(f"unknown variant {arg!r} of mnist_gan_evaluator; known: {', '.join(VARIANTS)}")
  return c
