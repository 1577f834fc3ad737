"""Transformer encoder sentence classifier on SST-2, sentence level (6,920 train / 872 dev / 1,821 test).

4 pre-LayerNorm layers, 4 heads, 128 wide, learned positions, padding masked, mean pooling over the
tokens, dropout 0.1, AdamW 5e-4 with warmup and cosine decay, batch 50. Trained from scratch on 6,920
sentences, so it is the weakest of the three SST-2 models: transformers need pre-training or more data.

Command:  python -m bigjax.main --config=configs/text_transformer_sst2.py --workdir=runs/text_transformer_sst2
Result:   80.34% test accuracy†; 476 s on a 2-core CPU shared with other runs†.
          experiments/sentence_classification/RESULTS.md.
          † its record's git revision ends in -dirty: run from uncommitted changes; rerun to clear.
Variants: ``smoke`` (a few steps, for tests).
"""

from bigjax import configs
from bigjax.config_base import base_config, smoke

common_text = configs.sibling(__file__, "common_text")

VARIANTS = {"smoke": "a few steps of a tiny model, for tests"}


def get_config(arg: str | None = None):
  c = common_text.sentence_classification(base_config(), "sst2")
  c.data.batch_size = 50
  c.data.eval_batch_size = 250
  c.data.max_len = 64              # SST-2's longest training sentence has 52 tokens
  c.model.name = "transformer.Encoder"
  c.model.max_len = 64
  c.model.num_layers = 4
  c.model.num_heads = 4
  c.model.embed_dim = 128
  c.model.dropout = 0.1
  c.optim.name = "adamw"
  c.optim.lr = 5e-4
  c.optim.weight_decay = 0.01
  c.optim.schedule = "warmup_cosine"
  c.optim.warmup_steps = 100
  c.train.num_epochs = 5
  c.train.steps_per_call = 8
  c.train.log_every_steps = 24
  if arg == "smoke":
    c.model.num_layers = 1
    c.model.embed_dim = 16
    c.model.num_heads = 2
    c.data.eval_batch_size = 50
    c.optim.warmup_steps = 4
    smoke(c, steps=16, eval_examples=200)
  elif arg:
    raise ValueError(f"unknown variant {arg!r} of text_transformer_sst2; known: {', '.join(VARIANTS)}")
  return c
