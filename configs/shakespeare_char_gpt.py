"""Character-level GPT on Tiny Shakespeare with nanoGPT's ``config/train_shakespeare_char.py`` settings.

6 layers, 6 heads, 384 wide, context 256, dropout 0.2 (residual and attention), no biases, tied LM
head; AdamW lr 1e-3 with 100 warmup steps and cosine decay to 1e-4 over 5000 steps, beta2 0.99,
weight decay 0.1 on matrices and embeddings, gradient clipping at 1.0; batch 64. Data: the first 90%
of the characters train, the last 10% validate (nanoGPT's split); the validation loss is over every
validation character (windows every 256 characters), not nanoGPT's 200 random batches.

Command:  python -m bigjax.main --config=configs/shakespeare_char_gpt.py --workdir=runs/shakespeare_char_gpt
Result:   on one NVIDIA H200 (jax 0.11.2, seed 0): lowest validation loss 1.4604 at step 1750 (nanoGPT's best
          evaluation is 1.4697 on an A100 in ~3 minutes), 1.6955 after step 5000 (it overfits past its best step);
          109.1 s wall time with a 25.1 s compile, 1,220,358 training tokens/s (bench/gpu_char_gpt.sh).
          experiments/shakespeare_char/RESULTS.md.

Variant ``cpu``: nanoGPT's README CPU recipe (4 layers, 4 heads, 128 wide, context 64, batch 12,
2000 steps, lr decay over 2000, no dropout), which it reports at validation loss 1.88.

Command:  python -m bigjax.main --config=configs/shakespeare_char_gpt.py:cpu --workdir=runs/shakespeare_char_gpt_cpu
Result:   validation loss 1.8998 (2.74 bits per character) after 2000 steps, 57 s on a quiet 2-core CPU (AMD
          EPYC), jax 0.10.2; seeds 0-2: 1.9070 ± 0.0083†. PyTorch with the same recipe reaches 1.9174; bigjax's
          wall time is 0.91x PyTorch's at the median of 3 interleaved rounds (bench/char_gpt.py).
          experiments/shakespeare_char/RESULTS.md.
          † two of the three seeds' records end in -dirty: run from uncommitted changes; rerun to clear.

Variants: ``cpu`` (above); ``smoke`` and ``cpu_smoke`` (a few steps of a tiny model, for tests).
Sample:   python -m bigjax.sample --workdir=runs/shakespeare_char_gpt_cpu --prompt="ROMEO:" --num_tokens=500
"""

from bigjax.config_base import base_config, smoke

VARIANTS = {"cpu": "nanoGPT's README CPU recipe: 4 layers, 128 wide, context 64, 2000 steps",
            "smoke": "a few steps of a tiny model, for tests",
            "cpu_smoke": "smoke on the cpu recipe's settings (no dropout), for tests"}


def get_config(arg: str | None = None):
  c = base_config()
  c.data.name = "tinyshakespeare"
  c.data.train_split = "train"
  c.data.eval_split = "validation"
  c.data.seq_len = 256            # language modelling's own field: tokens of context per example (block size)
  c.data.batch_size = 64
  c.data.eval_batch_size = 64

  c.model.name = "transformer.Decoder"
  c.model.vocab_size = 0          # from the data: 65 characters
  c.model.max_len = 256
  c.model.num_layers = 6
  c.model.num_heads = 6
  c.model.embed_dim = 384
  c.model.dropout = 0.2
  c.model.attention_dropout = 0.2
  c.model.use_bias = False
  c.model.scan_layers = False
  c.model.remat = False
  c.model.dtype = "float32"

  c.task.name = "language_model"

  c.optim.name = "adamw"
  c.optim.lr = 1e-3
  c.optim.b1 = 0.9
  c.optim.b2 = 0.99
  c.optim.weight_decay = 0.1
  c.optim.schedule = "warmup_cosine"
  c.optim.warmup_steps = 100
  c.optim.end_lr_factor = 0.1     # min_lr 1e-4
  c.optim.clip_norm = 1.0

  c.train.num_steps = 5000
  c.train.steps_per_call = 10
  c.train.log_every_steps = 50
  c.train.eval_every_steps = 250  # nanoGPT's eval_interval
  c.train.checkpoint_every_steps = 1000

  variant, _, rest = (arg or "").partition("_")
  if variant == "cpu":
    c.data.seq_len = 64
    c.data.batch_size = 12
    c.data.eval_batch_size = 96
    c.model.max_len = 64
    c.model.num_layers = 4
    c.model.num_heads = 4
    c.model.embed_dim = 128
    c.model.dropout = 0.0
    c.model.attention_dropout = 0.0
    c.train.num_steps = 2000
  elif variant:
    rest = variant if not rest else f"{variant}_{rest}"
  if rest == "smoke":
    c.model.num_layers = 2
    c.model.embed_dim = 32
    c.model.num_heads = 2
    c.data.seq_len = c.model.max_len = 32
    c.data.batch_size = 8
    c.data.eval_batch_size = 64
    c.train.steps_per_call = 5
    smoke(c, steps=20, eval_examples=256)
  elif rest:
    raise ValueError(f"unknown variant {arg!r} of shakespeare_char_gpt; known: {', '.join(VARIANTS)}")
  return c
