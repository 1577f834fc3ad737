"""BBC News Summary as an extractive summariser trains on it: each article a stack of sentences, each sentence
labelled by whether the reference summary holds it.

``load(config.data, split, root)`` for ``data.name == "bbc_news"`` (``text_pairs.load_bbc_news``'s recorded
split). The vocabulary (``subword.SubwordTokenizer``, ``data.vocab_size`` pieces) is trained on the training
articles' titles and bodies only, whichever split is loaded. Arrays, S = ``data.max_sentences``,
T = ``data.sentence_len``, P = ``data.article_len``, L = ``data.summary_len``:

  "sentences"  int32 [N, S, T]  what a model reads: the first T pieces of each of the body's first S sentences
                                (``text_pairs.split_sentences``), padding 0
  "labels"     int32 [N, S]     1: the summary holds the sentence verbatim (the BBC summaries are article
                                sentences run together), 0: it does not, -1: no sentence there
  "pieces"     int32 [N, P]     those S sentences' pieces whole, one after another
  "spans"      int32 [N, S, 2]  where each sentence's pieces start and end in "pieces": a chosen sentence is
                                quoted whole in a summary however much of it the model read
  "summary"    int32 [N, L]     the reference summary's pieces, whole, for ROUGE

A model reads the first S sentences (an article with more keeps its tail out of any summary). Nothing a summary
is built from or scored against is cut: an article whose first S sentences or summary do not fit in P or L
pieces is refused in an evaluated split, naming the field to raise; in training the summary is cut (unused
there) and so are the pieces (only the first ones a span covers stay quotable), both logged.
"""

import logging

import numpy as np

from bigjax.data import subword, text_pairs
from bigjax.data.core import Dataset, validating as is_validating

DATASETS = ("bbc_news",)


def sentence_labels(article: text_pairs.Article, sentences: list[str]) -> list[int]:
  """1 for each sentence the summary holds verbatim, else 0."""
  return [int(sentence in article.summary) for sentence in sentences]


def tokenizer_for(data_config, root) -> subword.SubwordTokenizer:
  articles = text_pairs.load_bbc_news(data_config.train_split, root, is_validating(data_config))
  texts = [line for a in articles for line in [a.title, *text_pairs.split_sentences(a.body)]]
  return subword.SubwordTokenizer.train(texts, data_config.vocab_size, data_config.subword_model)


def load(data_config, split: str, root) -> Dataset:
  s, t = data_config.max_sentences, data_config.sentence_len
  p, length = data_config.article_len, data_config.summary_len
  if min(s, t, p, length) < 1:
    raise ValueError(f"config.data.max_sentences={s}, sentence_len={t}, article_len={p}, summary_len={length} "
                     f"must be >= 1")
  tokenizer = tokenizer_for(data_config, root)
  articles = text_pairs.load_bbc_news(split, root, is_validating(data_config))
  training = split == data_config.train_split
  name = f"bbc_news:{split}"
  arrays = {"sentences": np.zeros((len(articles), s, t), np.int32), "labels": np.full((len(articles), s), -1, np.int32),
            "pieces": np.zeros((len(articles), p), np.int32), "spans": np.zeros((len(articles), s, 2), np.int32),
            "summary": np.zeros((len(articles), length), np.int32)}
  cut = 0
  for i, article in enumerate(articles):
    texts = text_pairs.split_sentences(article.body)[:s]
    arrays["labels"][i, :len(texts)] = sentence_labels(article, texts)
    encoded = tokenizer.encode_batch(texts)
    start = 0
    for j, ids in enumerate(encoded):
      arrays["sentences"][i, j, :min(len(ids), t)] = ids[:t]
      arrays["spans"][i, j] = (min(start, p), min(start + len(ids), p))
      start += len(ids)
    whole = [piece for ids in encoded for piece in ids]
    summary = tokenizer.encode(article.summary)
    for what, ids, limit, field in (("sentences", whole, p, "article_len"), ("summary", summary, length, "summary_len")):
      if len(ids) > limit:
        if not training:
          raise ValueError(f"config.data.{field}={limit}: {name} article {article.category}/{article.number} has "
                           f"{len(ids)} pieces in its {what}; they are never cut in an evaluated split, so raise it")
        cut += 1
    arrays["pieces"][i, :min(len(whole), p)] = whole[:p]
    arrays["summary"][i, :min(len(summary), length)] = summary[:length]
  if cut:
    logging.getLogger(__name__).info("%s: %d training articles' pieces or summaries cut", name, cut)
  return Dataset(arrays, 2, name, vocab=tokenizer)
