"""A neural extractive summariser on BBC News Summary, from scratch: which sentences of an article its summary
holds, scored by ROUGE-1/2/L F1 against the reference summaries (``tasks/extractive.py``).

``models/summariser.py``'s SentenceScorer: SentencePiece pieces (8,000, trained on the training articles), a
width-3 convolution max-pooled per sentence (128 wide), the sentence's position, 2 Transformer blocks over the
article's first 64 sentences, a logit each; sigmoid cross-entropy against "the summary holds this sentence";
a summary is the sentences with p >= 1/2. Adam, batches of 16 articles, 12 epochs: chosen on the validation
articles (10% of each category, ``text_pairs.load_bbc_news``) as the epoch of the highest mean ROUGE-1/2/L F1 of
a 20-epoch run (experiments/summarisation/RESULTS.md); the test articles are read once, after the last epoch.
The baselines (Lead-3, TextRank) are ``scripts/summarisation_baselines.py``'s.

Result:   on the 223 test articles, ROUGE-1 / 2 / L F1 0.7286 +- 0.0085 / 0.6273 +- 0.0098 / 0.4564 +- 0.0032
          (seeds 0-2); TextRank 0.6948 / 0.6106 / 0.4566, Lead-3 0.4520 / 0.3691 / 0.3578: above both on
          ROUGE-1 and -2; on ROUGE-L level with TextRank, not above it. 2-core CPU, jax 0.10.2, 1403-1608 s a
          run with two runs sharing the cores (experiments/summarisation/RESULTS.md).

Command:  python -m bigjax.main --config=configs/summariser_bbc_news.py --workdir=runs/summariser_bbc_news
Sweep:    python -m bigjax.sweep --config=configs/summariser_bbc_news.py --workdir=runs/summariser_seeds --parallel=2
          (``get_sweep``: seeds 0-2, the final runs).
Variants: ``smoke`` (a few steps of a tiny model on a 300-piece vocabulary, for tests).
"""

from bigjax.config_base import base_config, smoke

VARIANTS = {"smoke": "a few steps of a tiny model on a 300-piece vocabulary, for tests"}


def get_config(arg: str | None = None):
  if arg and arg not in VARIANTS:
    raise ValueError(f"unknown variant {arg!r} of summariser_bbc_news; known: {', '.join(VARIANTS)}")
  c = base_config()
  c.data.name = "bbc_news"
  c.data.vocab_size = 8000
  c.data.subword_model = "unigram"
  c.data.max_sentences = 64
  c.data.sentence_len = 64         # pieces of a sentence the model reads (99.9% of sentences have <= 101)
  c.data.article_len = 2048        # the first 64 sentences' pieces: at most 1,730 in validation, 1,309 in test
  c.data.summary_len = 2048        # at most 1,942 in validation, 597 in test
  c.data.batch_size = 16
  c.data.eval_batch_size = 32
  c.data.eval_split = "validation"
  c.data.test_split = "test"
  c.model.name = "summariser.SentenceScorer"
  c.model.vocab_size = 0
  c.model.max_sentences = 64
  c.model.num_layers = 2
  c.model.num_heads = 4
  c.model.embed_dim = 128
  c.model.dropout = 0.1
  c.task.name = "extractive"
  c.task.threshold = 0.5
  c.optim.name = "adam"
  c.optim.lr = 5e-4
  c.train.num_epochs = 12          # chosen on validation (the docstring)
  c.train.log_every_steps = 20
  if arg == "smoke":
    c.data.vocab_size = 300
    c.data.article_len = c.data.summary_len = 4096  # 300 pieces are short: texts take more of them
    c.data.batch_size = 4
    c.data.eval_batch_size = 4
    c.model.num_layers = 1
    c.model.embed_dim = 16
    c.model.num_heads = 2
    smoke(c, steps=3, eval_examples=4)
  return c


def get_sweep(arg: str | None = None):
  """The final runs, seeds 0-2, each reading the test articles once::

    python -m bigjax.sweep --config=configs/summariser_bbc_news.py --workdir=runs/summariser_seeds --parallel=2
  """
  from bigjax.sweep import sweep
  if arg:
    raise ValueError(f"summariser_bbc_news's sweep is its seeds, for no variant; got {arg!r}")
  return sweep("seed", [0, 1, 2])
