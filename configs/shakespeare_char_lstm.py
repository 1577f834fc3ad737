"""Character-level LSTM language model on Tiny Shakespeare (char-rnn's task; nanoGPT's 90/10 split).

2 LSTM layers of 512 units, 64-dimensional character embeddings, dropout 0.1, the untied softmax of
Zaremba et al.; sequences of 64 characters cut at random offsets (each training window once per
epoch), batch 64; Adam 2e-3, cosine decay to 1e-4 after 100 warmup steps, gradient clipping at 5 (as
char-rnn); 1,400 steps (5.7M characters, ~5.7 epochs), sized to finish within 30 minutes on the
2-core CPU (0.9 steps/s measured; 256 units ran 1.5 steps/s, too small a model to gain from it).
The validation loss is over every validation character (windows every 64 characters, each started
from a zero state).

Command:  python -m bigjax.main --config=configs/shakespeare_char_lstm.py --workdir=runs/shakespeare_char_lstm
Result:   validation loss 1.5126† (2.18 bits per character) after 1,400 steps in 1,721 s† (28.7 min)† on a 2-core
          CPU (AMD EPYC), jax 0.10.2; below the 1.70 target between the evaluations at steps 400 and 600.
          experiments/shakespeare_char/RESULTS.md.
          † its record's git revision ends in -dirty: run from uncommitted changes; rerun to clear.
Variants: ``smoke`` (a few steps of a tiny model, for tests).
Sample:   python -m bigjax.sample --workdir=runs/shakespeare_char_lstm --prompt="ROMEO:" --num_tokens=500
"""

from bigjax.config_base import base_config, smoke

VARIANTS = {"smoke": "a few steps of a tiny model, for tests"}


def get_config(arg: str | None = None):
  c = base_config()
  c.data.name = "tinyshakespeare"
  c.data.train_split = "train"
  c.data.eval_split = "validation"
  c.data.seq_len = 64             # language modelling's own field: tokens of context per example (block size)
  c.data.batch_size = 64
  c.data.eval_batch_size = 134
  c.model.name = "rnn.RNNLanguageModel"
  c.model.vocab_size = 0          # from the data: 65 characters
  c.model.cell = "lstm"
  c.model.embed_dim = 64
  c.model.hidden = 512
  c.model.num_layers = 2
  c.model.dropout = 0.1
  c.task.name = "language_model"
  c.optim.name = "adam"
  c.optim.lr = 2e-3
  c.optim.schedule = "warmup_cosine"
  c.optim.warmup_steps = 100
  c.optim.end_lr_factor = 0.05
  c.optim.clip_norm = 5.0
  c.train.num_steps = 1400
  c.train.steps_per_call = 10
  c.train.log_every_steps = 50
  c.train.eval_every_steps = 200
  c.train.checkpoint_every_steps = 200
  if arg == "smoke":
    c.model.embed_dim = 8
    c.model.hidden = 16
    c.data.seq_len = 16
    c.data.batch_size = 8
    c.data.eval_batch_size = 64
    c.train.steps_per_call = 5
    smoke(c, steps=20, eval_examples=256)
  elif arg:
    raise ValueError(f"unknown variant {arg!r} of shakespeare_char_lstm; known: {', '.join(VARIANTS)}")
  return c
