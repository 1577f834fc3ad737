"""Bidirectional LSTM sentence classifier on SST-2, sentence level (6,920 train / 872 dev / 1,821 test).

300-dimensional random word vectors (trained), one bidirectional LSTM layer of 150 units per direction,
the two directions' final states joined, dropout 0.5, Adam 1e-3, batch 50.

Command:  python -m bigjax.main --config=configs/text_lstm_sst2.py --workdir=runs/text_lstm_sst2
Result:   80.67% test accuracy†; 411 s on a 2-core CPU shared with other runs†.
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
  c.model.name = "rnn.RNNClassifier"
  c.model.cell = "lstm"
  c.model.embed_dim = 300
  c.model.hidden = 150
  c.model.num_layers = 1
  c.model.bidirectional = True
  c.model.pool = "last"
  c.model.dropout = 0.5
  c.optim.name = "adam"
  c.optim.lr = 1e-3
  c.train.num_epochs = 5
  c.train.steps_per_call = 8
  c.train.log_every_steps = 24
  if arg == "smoke":
    c.model.embed_dim = 16
    c.model.hidden = 16
    c.data.eval_batch_size = 50
    smoke(c, steps=16, eval_examples=200)
  elif arg:
    raise ValueError(f"unknown variant {arg!r} of text_lstm_sst2; known: {', '.join(VARIANTS)}")
  return c
