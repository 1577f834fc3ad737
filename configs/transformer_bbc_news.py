"""An abstractive summariser on BBC News Summary, from scratch: ``models/seq2seq.py``'s encoder-decoder
Transformer reads an article and writes its summary, scored by ROUGE-1/2/L F1 against the reference summaries
(``tasks/seq2seq.py`` with ``task.metric="rouge"``), beside the extractive summariser and the baselines of
``configs/summariser_bbc_news.py`` on the same split (``text_pairs.load_bbc_news``: 10% of each category for
validation, 10% for test).

``configs/common_seq2seq.py``'s recipe (3 + 3 pre-LN layers, 256 wide, 4 heads, MLP 1024, dropout 0.1), one
8,000-piece SentencePiece unigram vocabulary trained on the training articles and summaries. Articles are
long (median 446 pieces in training, the longest 6,078), so the model reads each article's first 400 pieces (``data.cut``, ``data.source_len``)
and writes at most 400 (90% of the training summaries fit; the longest test summary has 597): a training
summary longer than that is learnt from its beginning, and every evaluated summary is scored against its whole
reference. Label smoothing 0.1, AdamW with warm-up and inverse-square-root decay, batches of 16 articles; beam search of 4
with length penalty 0.6 when scoring.

Not run yet: the number of epochs is to be chosen on the validation articles (``choose``), then the test
articles read once.

Choose:   python -m bigjax.main --config=configs/transformer_bbc_news.py:choose --workdir=runs/transformer_bbc_news_choose
Command:  python -m bigjax.main --config=configs/transformer_bbc_news.py --workdir=runs/transformer_bbc_news
Seed 0:   python -m bigjax.main eval --workdir=runs/transformer_bbc_news_choose --split=test --step=<chosen step>
          (the choose run's checkpoint at the chosen epoch is seed 0's final run: it keeps every one it scores)
Sweep:    python -m bigjax.sweep --config=configs/transformer_bbc_news.py --workdir=runs/transformer_bbc_news_seeds
          (``common_seq2seq.sweep_after_choose``: the final runs of seeds 1 and 2, one at a time).
Variants: ``choose`` (validation ROUGE every 5 epochs, no test), ``smoke`` (a few steps of a tiny model on a
          300-piece vocabulary, for tests).
"""

from bigjax import configs
from bigjax.config_base import base_config

common_seq2seq = configs.sibling(__file__, "common_seq2seq")

get_sweep = common_seq2seq.sweep_after_choose
VARIANTS = common_seq2seq.variants("ROUGE every 5 epochs")
EPOCHS = 20          # not chosen yet: the choose run's curves will set it
CHOOSE_EPOCHS = 30
STEPS_PER_EPOCH = 111  # 1,779 training articles in batches of 16, the last partial batch dropped


def get_config(arg: str | None = None):
  c = base_config()
  c.data.name = "bbc_news_pairs"
  c.data.source = "article"
  c.data.target = "summary"
  c.data.vocab_size = 8000
  c.data.subword_model = "unigram"
  c.data.cut = True
  c.data.source_len = 400         # pieces of an article the model reads, </s> included
  c.data.max_len = 400            # pieces of a summary it learns from and writes, </s> included
  c.data.reference_len = 2048     # the whole reference summaries scored against: at most 1,942 in validation
  c.data.batch_size = 16
  c.data.eval_batch_size = 32
  c.model.max_len = 400
  common_seq2seq.transformer(c, warmup_steps=200)
  c.task.metric = "rouge"
  c.train.log_every_steps = 37
  common_seq2seq.variant(c, "transformer_bbc_news", arg, VARIANTS, epochs=EPOCHS, choose_epochs=CHOOSE_EPOCHS,
                         choose_every=5 * STEPS_PER_EPOCH)
  if arg == "smoke":
    c.data.vocab_size = 300
    c.data.source_len = 48
    c.data.max_len = c.model.max_len = 48
    c.data.reference_len = 4096   # 300 pieces are short: texts take more of them
    c.data.batch_size = 4
  return c
