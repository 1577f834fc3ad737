"""Bahdanau et al.'s attention RNN on Multi30k task 1, German -> English: the recurrent baseline beside
``transformer_multi30k`` on the same data, vocabulary and test set.

``models/attention_rnn.py``: a bidirectional GRU encoder (256 per direction), additive attention (256), a GRU
decoder (256) with a tanh readout into the shared 8,000-piece SentencePiece table; label smoothing 0.1, Adam at
1e-3 with warm-up and inverse-square-root decay, batches of 128 pairs; beam search of 4 with length penalty 0.6
when scoring.

12 epochs, chosen on the validation set (val, 1,014 pairs): the epoch of the highest BLEU of the ``choose`` run
(seed 0, BLEU after every epoch), its last (still rising there, as the Transformer's).

Result:   seed 0 (the choose run's checkpoint at epoch 12), on the 1,000 test2016 pairs: sacreBLEU 32.69, chrF
          52.96; seeds 1-2 not run yet. The 2-core CPU, jax 0.10.2; the choose run's wall time 14057 s, stopped and
          resumed beside test runs, so not a speed measurement (experiments/translation/RESULTS.md).

Choose:   python -m bigjax.main --config=configs/attention_rnn_multi30k.py:choose --workdir=runs/attention_rnn_multi30k_choose
Command:  python -m bigjax.main --config=configs/attention_rnn_multi30k.py --workdir=runs/attention_rnn_multi30k
Seed 0:   python -m bigjax.main eval --workdir=runs/attention_rnn_multi30k_choose --split=test --step=<chosen step>
          (the choose run's checkpoint at the chosen epoch is seed 0's final run: it keeps every epoch's)
Sweep:    python -m bigjax.sweep --config=configs/attention_rnn_multi30k.py --workdir=runs/attention_rnn_multi30k_seeds
          (``common_seq2seq.sweep_after_choose``: the final runs of seeds 1 and 2, one at a time).
Variants: ``choose`` (validation BLEU after every epoch, no test), ``smoke`` (a few steps of a tiny model on a
          200-piece vocabulary, for tests).
"""

from bigjax import configs

transformer_multi30k = configs.sibling(__file__, "transformer_multi30k")
VARIANTS = transformer_multi30k.VARIANTS
get_sweep = configs.sibling(__file__, "common_seq2seq").sweep_after_choose
EPOCHS = 12          # chosen on validation: the choose run's best BLEU, its last epoch
CHOOSE_EPOCHS = 12


def get_config(arg: str | None = None):
  c = transformer_multi30k.multi30k(arg, "attention_rnn_multi30k", epochs=EPOCHS, choose_epochs=CHOOSE_EPOCHS)
  c.model = c.model.__class__({"name": "attention_rnn.AttentionRNN", "vocab_size": 0, "max_len": c.model.max_len,
                               "embed_dim": 256, "hidden": 256, "attention_dim": 256, "dropout": 0.1,
                               "dtype": c.model.dtype, "param_dtype": c.model.param_dtype})
  c.data.pack = False             # a recurrent state runs through a whole row: one pair a row
  c.data.batch_size = 128 if arg != "smoke" else c.data.batch_size
  c.optim.name = "adam"
  c.optim.weight_decay = 0.0
  c.optim.lr = 1e-3
  if arg == "smoke":
    c.model.embed_dim = c.model.hidden = c.model.attention_dim = 16
  return c
