"""Datasets as in-memory ``Dataset``s, one loader for all: ``load_for_config(config.data, split)``.

  images.py      digits, mnist, fashion_mnist, tfds:<name>   {"image": [N, H, W, C], "label": [N]}
  corpora.py     tinyshakespeare, trec, sst2, mr              {"tokens": [N, T]} (+ "label": [N])
  word_corpus.py text_corpus, lee, file (word vectors)        {"tokens": [N, T]}: chunks of one word-id stream;
                 with data.cooccurrence_window (GloVe)        {"row": [N], "col": [N], "count": [N]} (cooccurrence.py)
  word_eval.py   analogy and word-pair sets (questions-words, WordSim-353, SimLex-999): what word vectors are
                 scored on (bigjax.evals.word_vectors), not a training dataset
  movielens/     ml-100k, ml-1m (implicit feedback)           {"user": [N], "item": [N], ...}
  social.py      filmtrust, ciao, epinions, ciaodvd (explicit   {"user": [N], "item": [N], "rating": [N]} of a
                 ratings with trust links; relations.py)       cross-validation fold (data.fold), with the trust
                                                              and rating relations as model_fields
  vision_sets.py raccoon, kangaroo, penn_fudan (boxes, masks),  NumPy arrays and lists of images of any size, with
                 isbi_em (membranes), orl_faces               recorded splits (splits/*.json); through
                                                              load_for_config: orl_faces {"image", "label"},
                                                              isbi_em (data.fold) and penn_fudan_masks
                                                              (data.image_size) {"image", "segmentation": [N, H, W]},
                                                              raccoon, kangaroo, penn_fudan (data.image_size,
                                                              data.max_boxes) {"image", "boxes", "labels", "scale"}
  translation.py multi30k, tatoeba through a joint subword vocabulary {"source": [N, L], "target": [N, L + 1]}
  summaries.py   bbc_news: articles as sentence stacks with summary labels {"sentences": [N, S, T], "labels":
                 [N, S], "summary": [N, L]}
  text_pairs.py  multi30k, tatoeba (translation pairs), bbc_news (articles with summaries): lists of strings, with
                 recorded splits; subword.py: SentencePiece tokenizers trained on a training split, cached
  core.py        the Dataset record, DataError, the data root and the one sha256-verified reader
  pipeline.py    the grain pipeline that batches a Dataset's arrays

Batching, shuffling and sharding are the pipeline's job, not the loaders'.
"""

import pathlib

from bigjax.data import core
from bigjax.data.core import DataError, Dataset, default_data_dir

__all__ = ["DataError", "Dataset", "default_data_dir", "load_for_config", "vocab_from_json"]


def load_for_config(data_config, split: str) -> Dataset:
  """The split that ``config.data`` names: text datasets through ``corpora``, MovieLens through ``movielens``,
  image datasets through ``images``.

  Raises:
    ValueError: an unknown dataset or split (the message lists the valid ones).
    DataError: the data is missing, corrupt or malformed (the message names the file).
  """
  # Imported here: a run imports only the family it reads.
  from bigjax.data import corpora, images, movielens, summaries, translation, word_corpus
  root = default_data_dir() if not data_config.data_dir else pathlib.Path(data_config.data_dir)
  if data_config.name in translation.DATASETS:
    return translation.load(data_config, split, root)
  if data_config.name in summaries.DATASETS:
    return summaries.load(data_config, split, root)
  if data_config.name in corpora.DATASETS:
    return corpora.load(data_config, split, root)
  if data_config.name in word_corpus.DATASETS:
    return word_corpus.dataset(data_config, split, root)
  if data_config.name in movielens.DATASETS:
    return movielens.load(data_config, split, root)
  if data_config.name in ("filmtrust", "ciao", "epinions", "ciaodvd"):
    from bigjax.data import social
    return social.load(data_config, split, root)
  if data_config.name in ("orl_faces", "isbi_em", "penn_fudan_masks", "raccoon", "kangaroo", "penn_fudan"):
    from bigjax.data import vision_sets
    validating = core.validating(data_config)
    if data_config.name in vision_sets.DETECTION_SETS:
      return vision_sets.detection_dataset(data_config.name, split, data_config.image_size, data_config.max_boxes,
                                           root, validating=validating)
    if data_config.name == "isbi_em":
      return vision_sets.isbi_em_dataset(split, data_config.fold, root, validating=validating)
    if data_config.name == "penn_fudan_masks":
      return vision_sets.penn_fudan_masks_dataset(split, data_config.image_size, root, validating=validating)
    return vision_sets.orl_dataset(split, data_config.split_seed, root, validating=validating)
  return images.load(data_config.name, split, data_config.data_dir or None,
                     validating=core.validating(data_config))


def vocab_from_json(text: str):
  """A run's saved vocabulary (its ``vocab.json``) as the reader that wrote it, by its ``"type"``:
  ``text.WordVocab`` (sentence sets), ``text.CharTokenizer`` (character corpora), ``word_corpus.Vocabulary``
  (word-vector corpora) or ``subword.SubwordTokenizer`` (SentencePiece models). ``ValueError`` for any other text."""
  import json
  from bigjax.data import subword, text as text_module, word_corpus
  readers = {"WordVocab": text_module.WordVocab, "CharTokenizer": text_module.CharTokenizer,
             "WordCounts": word_corpus.Vocabulary, "SubwordTokenizer": subword.SubwordTokenizer}
  try:
    kind = json.loads(text).get("type")
  except (json.JSONDecodeError, AttributeError):
    kind = None
  if kind not in readers:
    raise ValueError(f"not a saved vocabulary (its 'type' is {kind!r}; known: {', '.join(readers)})")
  return readers[kind].from_json(text)
