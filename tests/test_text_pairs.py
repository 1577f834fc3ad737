"""Text-to-text data (bigjax/data/text_pairs.py) on the real files, and the SentencePiece tokenizer
(bigjax/data/subword.py): the recorded splits' sizes and disjointness, refusals, round trips, the cache."""


import pytest

from bigjax import data
from bigjax.data import subword, text_pairs
from bigjax.data.core import DataError

from conftest import requires_data

requires_multi30k = requires_data("multi30k/task1/raw/train.de.gz")
requires_tatoeba = requires_data("tatoeba/spa-eng.zip")
requires_bbc = requires_data("bbc_news_summary/BBC_News_Summary.tar.xz")


@requires_multi30k
def test_multi30k_splits_are_the_published_ones_and_aligned():
  sizes = {split: len(text_pairs.load_multi30k(split, "de", "en")[0]) for split in text_pairs.SPLITS}
  assert sizes == {"train": 29000, "validation": 1014, "test": 1000}
  de, en = text_pairs.load_multi30k("train", "de", "en")
  assert de[0] == "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche."
  assert en[0] == "Two young, White males are outside near many bushes."
  en2, de2 = text_pairs.load_multi30k("test", "en", "de")
  assert len(en2) == len(de2) == 1000 and all(en2) and all(de2)


@pytest.mark.parametrize("args, message", [(("dev", "de", "en"), "unknown split 'dev'"),
                                           (("train", "de", "xx"), "language 'xx'"),
                                           (("train", "en", "en"), "both 'en'")])
def test_multi30k_bad_arguments_are_named(args, message):
  with pytest.raises(ValueError, match=message):
    text_pairs.load_multi30k(*args)


def test_a_missing_file_names_itself(tmp_path):
  with pytest.raises(DataError, match="multi30k/task1/raw/train.de.gz not found"):
    text_pairs.load_multi30k("train", "de", "en", data_dir=tmp_path)


@requires_tatoeba
def test_tatoeba_split_is_recorded_by_rule_and_keeps_each_english_sentence_on_one_side():
  parts = {split: text_pairs.load_tatoeba("spa-eng", split, validating=True) for split in text_pairs.SPLITS}
  assert {split: len(p[0]) for split, p in parts.items()} == {"train": 107038, "validation": 5964, "test": 5962}
  assert sum(len(p[0]) for p in parts.values()) == 118964  # every pair of the file, once
  english = {split: set(p[1]) for split, p in parts.items()}
  assert not english["train"] & english["test"] and not english["validation"] & english["test"]
  assert not english["train"] & english["validation"]
  assert all(text_pairs.tatoeba_bucket(e) < text_pairs.TATOEBA_TEST for e in english["test"])
  assert parts["train"][0][0] == "Ve." and parts["train"][1][0] == "Go."  # file order: foreign, then English
  unvalidated = text_pairs.load_tatoeba("spa-eng", "train")
  assert len(unvalidated[0]) == 107038 + 5964
  with pytest.raises(ValueError, match="validation split is"):
    text_pairs.load_tatoeba("spa-eng", "validation")
  with pytest.raises(ValueError, match="pair 'deu-eng'"):
    text_pairs.load_tatoeba("deu-eng", "train")


@requires_bbc
def test_bbc_split_is_ten_percent_of_each_category_and_articles_meet_their_summaries():
  parts = {split: text_pairs.load_bbc_news(split, validating=True) for split in text_pairs.SPLITS}
  assert {split: len(p) for split, p in parts.items()} == {"train": 1779, "validation": 223, "test": 223}
  keys = {split: {(a.category, a.number) for a in p} for split, p in parts.items()}
  assert not keys["train"] & keys["test"] and not keys["train"] & keys["validation"]
  by_category = {c: sum(a.category == c for a in parts["test"]) for c in text_pairs.BBC_CATEGORIES}
  assert by_category == {"business": 51, "entertainment": 39, "politics": 42, "sport": 51, "tech": 40}
  everything = [a for p in parts.values() for a in p]
  assert len(everything) == 2225
  latin1 = next(a for a in everything if (a.category, a.number) == ("sport", "199"))
  assert "£" in latin1.body and "\ufffd" not in latin1.body
  for article in everything[:50]:
    assert article.title and article.body and article.summary
    # Extractive: the summary's first sentence lies in the article verbatim.
    first = article.summary.split(". ")[0][:60]
    assert first in article.body or first in article.title + " " + article.body
  assert len(text_pairs.load_bbc_news("train")) == 1779 + 223


# ====================================================================================== SentencePiece

@requires_multi30k
def test_subword_tokenizer_round_trips_the_test_sets_and_is_cached_and_deterministic(tmp_path):
  de, en = text_pairs.load_multi30k("train", "de", "en")
  tokenizer = subword.SubwordTokenizer.train(de + en, 8000, cache_dir=tmp_path / "a")
  assert len(tokenizer) == 8000
  for language in ("de", "en"):
    test = text_pairs.load_multi30k("test", language, "en" if language == "de" else "de")[0]
    assert all(tokenizer.decode(tokenizer.encode(line)) == line for line in test)
  again = subword.SubwordTokenizer.train(de + en, 8000, cache_dir=tmp_path / "a")  # from the cache
  fresh = subword.SubwordTokenizer.train(de + en, 8000, cache_dir=tmp_path / "b")  # trained anew
  assert again.model == tokenizer.model == fresh.model
  assert (tmp_path / "a").rglob("model.npz")


def test_subword_ids_specials_and_decoding_stop_at_the_end():
  sentences = ["the cat sat on the mat", "a dog sat on a log", "the dog and the cat"] * 20
  tokenizer = subword.SubwordTokenizer.train(sentences, 30, model_type="bpe", cache_dir=None)
  ids = tokenizer.encode("the cat sat", bos=True, eos=True)
  assert ids[0] == subword.BOS_ID and ids[-1] == subword.EOS_ID and min(ids[1:-1]) > subword.EOS_ID
  assert tokenizer.decode(ids + [5, 6, 0, 0]) == "the cat sat"  # stops at </s>; padding never decoded
  assert tokenizer.encode_batch(["the cat", "a dog"]) == [tokenizer.encode("the cat"), tokenizer.encode("a dog")]
  restored = data.vocab_from_json(tokenizer.to_json())  # as a run's vocab.json is read back
  assert restored.model == tokenizer.model and restored.encode("a log") == tokenizer.encode("a log")


@pytest.mark.parametrize("kwargs, message", [({"vocab_size": 4}, "vocab_size=4"),
                                             ({"model_type": "word2"}, "model_type='word2'"),
                                             ({"vocab_size": 5000}, "5000 ids")])
def test_subword_bad_options_are_named(kwargs, message, tmp_path):
  with pytest.raises(ValueError, match=message):
    subword.SubwordTokenizer.train(["a few words only"] * 3, **{"vocab_size": 100, **kwargs}, cache_dir=tmp_path)


def test_subword_refuses_what_is_not_its_json():
  with pytest.raises(ValueError, match="not a saved SubwordTokenizer"):
    subword.SubwordTokenizer.from_json('{"type": "WordVocab", "itos": []}')
  with pytest.raises(ValueError, match="not a SentencePiece model"):
    subword.SubwordTokenizer(b"not a model")
