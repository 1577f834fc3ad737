"""A GPT-2-small-shaped decoder on random tokens, in bfloat16: a speed and MFU measurement, not a model.

GPT-2 small's shape (Radford et al. 2019; nanoGPT's ``gpt2`` config): 12 layers, 12 heads, 768 wide, context
1024, vocabulary 50,257 padded to 50,304 (a multiple of 64, as nanoGPT pads it for the GPU's sake), tied LM
head, no biases, no dropout. Computation in bfloat16 with float32 parameters, optimizer state, logits and
loss (``model.dtype``; the layer norms and softmax run in float32 inside). AdamW at 6e-4 with a short
warm-up, batch 16 sequences (16,384 tokens) per step, 300 steps. The data are uniformly random ids
(``data.name=random_tokens``), so the loss can only fall to ln(50,304) = 10.83 nats: what is measured is
the step's speed at this shape, nothing learnt. MFU is XLA's FLOP count of the compiled step over the
device's dense bf16 peak (``perf/mfu``; README "Accounting").

Command:  python -m bigjax.main --config=configs/gpt2_small_random.py --workdir=runs/gpt2_small_random
          (bench/accelerator_check.sh runs it on a GPU and records its MFU)

Variants: ``cpu`` (2 layers, 128 wide, context 64, vocabulary 512, batch 4, 20 steps: the same path in
seconds on a CPU, for bench/accelerator_check.sh --dry-run and tests).
"""

from bigjax.config_base import base_config

VARIANTS = {"cpu": "2 layers, 128 wide, context 64, vocabulary 512, 20 steps: the path on a CPU"}


def get_config(arg: str | None = None):
  c = base_config()
  c.data.name = "random_tokens"
  c.data.vocab_size = 50304
  c.data.seq_len = 1024
  c.data.batch_size = 16
  c.data.eval_batch_size = 16
  c.data.train_split = "train"
  c.data.eval_split = "validation"

  c.model.name = "transformer.Decoder"
  c.model.vocab_size = 0          # from the data: data.vocab_size
  c.model.max_len = 1024
  c.model.num_layers = 12
  c.model.num_heads = 12
  c.model.embed_dim = 768
  c.model.dropout = 0.0
  c.model.attention_dropout = 0.0
  c.model.use_bias = False
  c.model.scan_layers = False
  c.model.remat = False
  c.model.dtype = "bfloat16"

  c.task.name = "language_model"

  c.optim.name = "adamw"
  c.optim.lr = 6e-4
  c.optim.b1 = 0.9
  c.optim.b2 = 0.95
  c.optim.weight_decay = 0.1
  c.optim.schedule = "warmup_cosine"
  c.optim.warmup_steps = 30
  c.optim.clip_norm = 1.0

  c.train.num_steps = 300
  c.train.steps_per_call = 10
  c.train.log_every_steps = 50
  c.train.eval_every_steps = 300
  c.train.checkpoint_every_steps = 300
  c.train.keep_checkpoints = 1

  if arg == "cpu":
    c.data.vocab_size = 512
    c.data.seq_len = 64
    c.data.batch_size = 4
    c.data.eval_batch_size = 64
    c.model.max_len = 64
    c.model.num_layers = 2
    c.model.num_heads = 2
    c.model.embed_dim = 128
    c.train.num_steps = 20
    c.train.log_every_steps = 10
    c.train.eval_every_steps = 20
    c.train.checkpoint_every_steps = 20
    c.optim.warmup_steps = 2
  elif arg:
    raise ValueError(f"unknown variant {arg!r} of gpt2_small_random; known: {', '.join(VARIANTS)}")
  return c
