"""Encoder-decoder Transformer on Tatoeba, Spanish -> English (``--config.data.source=fra`` for French ->
English), scored by sacreBLEU on the recorded test split.

Tatoeba's spa-eng pairs (``text_pairs.load_tatoeba``): 107,038 training, 5,964 validation and 5,962 test pairs,
split by a hash of the English sentence, so that no English sentence is on both sides of the split. The model and
its training are ``configs/common_seq2seq.py``'s (3 + 3 pre-LN layers, 256 wide; label smoothing 0.1, AdamW with
warm-up and inverse-square-root decay; beam search of 4 with length penalty 0.6), over one 8,000-piece
SentencePiece unigram vocabulary trained on the training pairs' two sides. The sentences are short (9 pieces
with </s>, median; 63 the longest evaluated), so training pairs are packed several to a 64-piece row.

Not run yet: the number of epochs is to be chosen on the validation pairs from the ``choose`` run's BLEU curve;
then the test pairs are read once, after the last epoch of the final runs.

Choose:   python -m bigjax.main --config=configs/transformer_tatoeba.py:choose --workdir=runs/transformer_tatoeba_choose
Command:  python -m bigjax.main --config=configs/transformer_tatoeba.py --workdir=runs/transformer_tatoeba
Seed 0:   python -m bigjax.main eval --workdir=runs/transformer_tatoeba_choose --split=test --step=<chosen step>
          (the choose run's checkpoint at the chosen epoch is seed 0's final run: it keeps every one it scores)
Sweep:    python -m bigjax.sweep --config=configs/transformer_tatoeba.py --workdir=runs/transformer_tatoeba_seeds
          (``common_seq2seq.sweep_after_choose``: the final runs of seeds 1 and 2, one at a time).
Variants: ``choose`` (validation BLEU after every epoch, no test), ``smoke`` (a few steps of a tiny model on a
          200-piece vocabulary, for tests).
"""

from bigjax import configs
from bigjax.config_base import base_config

common_seq2seq = configs.sibling(__file__, "common_seq2seq")

get_sweep = common_seq2seq.sweep_after_choose
VARIANTS = common_seq2seq.variants("BLEU after every epoch")
EPOCHS = 4           # not chosen yet: the choose run's curve will set it
CHOOSE_EPOCHS = 6


def get_config(arg: str | None = None):
  c = base_config()
  c.data.name = "tatoeba"
  c.data.source = "spa"
  c.data.target = "eng"
  c.data.vocab_size = 8000
  c.data.subword_model = "unigram"
  c.data.max_len = 64             # pieces with </s>: 63 the longest validation pair (training pairs up to 73: left out)
  c.data.pack = True
  c.data.batch_size = 40          # rows of packed pairs: about 250 pairs
  c.data.eval_batch_size = 500
  c.model.max_len = 64
  common_seq2seq.transformer(c, warmup_steps=400)
  c.train.log_every_steps = 50
  common_seq2seq.variant(c, "transformer_tatoeba", arg, VARIANTS, epochs=EPOCHS, choose_epochs=CHOOSE_EPOCHS)
  if arg == "smoke":
    c.data.max_len = c.model.max_len = 160  # 200 pieces are short: texts take more of them
  return c
