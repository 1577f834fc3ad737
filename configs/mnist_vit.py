"""Vision transformer on MNIST: 7x7 patches (16 per image), 4 layers, 4 heads, 128 wide, mean pooling.

AdamW 1e-3 (weight decay 0.05) with 1 warmup epoch and cosine decay, batch 128, 1-pixel random shifts,
dropout 0.1; 10 epochs (sized for a 2-core CPU).

Command:  python -m bigjax.main --config=configs/mnist_vit.py --workdir=runs/mnist_vit
Result:   98.85% test accuracy† after 10 epochs (seed 0); 2,051 s on a 2-core CPU† (AMD EPYC) shared with other
          runs, jax 0.10.2. Record: experiments/mnist/RESULTS.md.
          † its record's git revision ends in -dirty: run from uncommitted changes; rerun to clear.
Variants: ``smoke`` (a few steps of a tiny model, for tests).
"""

from bigjax import configs
from bigjax.config_base import base_config, smoke

common_classification = configs.sibling(__file__, "common_classification")

VARIANTS = {"smoke": "a few steps of a tiny model, for tests"}


def get_config(arg: str | None = None):
  c = common_classification.add_fields(base_config())
  c.data.name = "mnist"
  c.data.batch_size = 128
  c.data.eval_batch_size = 1000
  c.model.name = "transformer.ViT"
  c.model.patch_size = 7
  c.model.num_classes = 10
  c.model.num_layers = 4
  c.model.num_heads = 4
  c.model.embed_dim = 128
  c.model.dropout = 0.1
  c.task.random_shift = 1
  c.optim.name = "adamw"
  c.optim.lr = 1e-3
  c.optim.weight_decay = 0.05
  c.optim.schedule = "warmup_cosine"
  c.optim.warmup_steps = 468      # 1 epoch
  c.train.num_epochs = 10
  c.train.steps_per_call = 12
  c.train.log_every_steps = 156
  if arg == "smoke":
    c.model.num_layers = 1
    c.model.embed_dim = 16
    c.model.num_heads = 2
    c.data.batch_size = 32
    c.optim.warmup_steps = 4
    c.train.steps_per_call = 4
    smoke(c, steps=16, eval_examples=1000)
  elif arg:
    raise ValueError(f"unknown variant {arg!r} of mnist_vit; known: {', '.join(VARIANTS)}")
  return c
