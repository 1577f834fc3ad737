"""Tests for bigjax.data.text (tokenizers, Tiny Shakespeare) and bigjax.data.sentences (Kim 2014 data).

Real files only: the shared data root for the published sizes, small files written in tmp_path
for checksums and errors. Tests that need the shared data skip, saying where they looked.
"""

import hashlib
import random

import numpy as np
import pytest

from bigjax import data
from bigjax.data import sentences, text
from conftest import requires_data

DATA_DIR = data.default_data_dir()


needs_shakespeare = requires_data("tinyshakespeare/input.txt")
needs_sent = requires_data("sent_classification/TREC.train.all")
needs_mr = requires_data("mr/rt-polarity.pos")


# ------------------------------------------------------------------------------- CharTokenizer ---

def test_char_tokenizer_round_trip_and_order():
  tok = text.CharTokenizer.from_text("hello, world\n")
  assert tok.chars == "\n ,dehlorw" and len(tok) == tok.vocab_size == 10
  ids = tok.encode("world, hello")
  assert ids.dtype == np.int32 and ids.tolist()[:5] == [9, 7, 8, 6, 3]
  assert tok.decode(ids) == "world, hello"
  assert tok.decode([]) == "" and tok.encode("").shape == (0,)


def test_char_tokenizer_unknown_character_is_named():
  tok = text.CharTokenizer.from_text("abc")
  with pytest.raises(ValueError, match=r"character 'é' \(U\+00E9\) at position 2"):
    tok.encode("abé")
  with pytest.raises(ValueError, match=r"id 3 at position 1 is outside"):
    tok.decode([0, 3])


def test_char_tokenizer_json_and_file(tmp_path):
  tok = text.CharTokenizer.from_text("The quick brown fox\n€ñ")
  assert text.CharTokenizer.from_json(tok.to_json()) == tok
  tok.save(tmp_path / "vocab.json")
  assert text.CharTokenizer.load(tmp_path / "vocab.json") == tok
  with pytest.raises(ValueError, match="not a saved CharTokenizer"):
    text.CharTokenizer.from_json(text.WordVocab.build([["a"]]).to_json())


@needs_shakespeare
def test_tiny_shakespeare_nanogpt_split():
  train, val, tok = text.tiny_shakespeare()
  assert len(tok) == 65 and tok.chars[:3] == "\n !" and tok.chars[-1] == "z"
  assert (len(train), len(val)) == (1_003_854, 111_540)
  assert train.dtype == val.dtype == np.int32
  whole = (DATA_DIR / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
  assert tok.decode(train) + tok.decode(val) == whole
  assert tok.decode(train[:14]) == "First Citizen:"


def test_read_verified_checks_sha256(tmp_path):
  (tmp_path / "tinyshakespeare").mkdir()
  path = tmp_path / "tinyshakespeare" / "input.txt"
  path.write_text("To be, or not to be\n")
  digest = hashlib.sha256(path.read_bytes()).hexdigest()
  (tmp_path / "SHA256SUMS").write_text(f"{digest}  tinyshakespeare/input.txt\n")
  train, val, tok = text.tiny_shakespeare(tmp_path)
  assert (len(train), len(val)) == (18, 2) and tok.decode(val) == "e\n"

  path.write_text("To be, or not to be?\n")  # a new size too, so no cached digest can apply
  with pytest.raises(data.DataError, match="sha256 mismatch") as info:
    text.tiny_shakespeare(tmp_path)
  assert str(path) in str(info.value)
  path.unlink()
  with pytest.raises(data.DataError, match="not found") as info:
    text.tiny_shakespeare(tmp_path)
  assert str(path) in str(info.value) and "BIGJAX_DATA_DIR" in str(info.value)


# ---------------------------------------------------------------------------------- WordVocab ---

SENTENCES = [["the", "cat", "sat"], ["the", "dog", "sat"], ["a", "cat"], ["the", "<unk>", "zebra"]]


def test_word_vocab_specials_order_and_cutoff():
  vocab = text.WordVocab.build(SENTENCES)
  # the x3, then cat/sat x2 (ties by word), then a/dog/zebra x1; a literal <unk> is the special.
  assert vocab.itos == ["<pad>", "<unk>", "the", "cat", "sat", "a", "dog", "zebra"]
  assert text.WordVocab.build(SENTENCES, min_freq=2).itos == ["<pad>", "<unk>", "the", "cat", "sat"]
  assert text.WordVocab.build(SENTENCES, max_size=4).itos == ["<pad>", "<unk>", "the", "cat"]
  assert len(vocab) == 8 and "zebra" in vocab and "horse" not in vocab


def test_word_vocab_is_independent_of_sentence_order():
  shuffled = [list(s) for s in SENTENCES]
  random.Random(0).shuffle(shuffled)
  assert text.WordVocab.build(shuffled) == text.WordVocab.build(SENTENCES)


def test_word_vocab_encode_and_save_load(tmp_path):
  vocab = text.WordVocab.build(SENTENCES, min_freq=2)
  ids = vocab.encode(["the", "horse", "sat"])
  assert ids.dtype == np.int32 and ids.tolist() == [2, 1, 4]
  assert vocab.encode(["the", "cat"], max_len=4).tolist() == [2, 3, 0, 0]
  assert vocab.encode(["the", "cat", "sat"], max_len=2).tolist() == [2, 3]
  assert vocab.decode(ids) == ["the", "<unk>", "sat"]
  vocab.save(tmp_path / "vocab.json")
  loaded = text.WordVocab.load(tmp_path / "vocab.json")
  assert loaded == vocab and loaded.stoi == vocab.stoi


def test_word_vocab_rejects_bad_input():
  with pytest.raises(ValueError, match="must start with"):
    text.WordVocab(["a", "b"])
  with pytest.raises(ValueError, match="min_freq"):
    text.WordVocab.build(SENTENCES, min_freq=0)


def test_pad_batch_pads_and_truncates():
  out = text.pad_batch([np.array([5, 6, 7]), [1], []], max_len=2, pad_id=9)
  assert out.dtype == np.int32
  np.testing.assert_array_equal(out, [[5, 6], [1, 9], [9, 9]])


# ------------------------------------------------------------------------------ Kim's cleaning ---

@pytest.mark.parametrize("raw, expected", [
    ("It's a test, isn't it?", "it 's a test , is n't it ?"),
    ("We've (really) won!!", "we 've ( really ) won ! !"),
    ("They're here; you'd   go & we'll stay.", "they 're here you 'd go we 'll stay"),
    ("don't `quote` me -- 100%", "do n't `quote` me 100"),
])
def test_clean_str(raw, expected):
  assert sentences.clean_str(raw) == expected


def test_clean_str_trec_keeps_case_and_sst_only_squeezes():
  assert sentences.clean_str("What's Popeye's name?", lower=False) == "What 's Popeye 's name ?"
  assert sentences.clean_str_sst("  It 's -LRB- fine -RRB- , isn't it ?  ") == "it 's lrb fine rrb , isn't it ?"


# ----------------------------------------------------------------------------------- datasets ---

@needs_sent
def test_trec_sizes_and_vocabulary():
  train, test = sentences.trec("train"), sentences.trec("test")
  assert (len(train[0]), len(test[0])) == (5452, 500)
  assert set(train[1].tolist()) == set(test[1].tolist()) == set(range(6)) and train[1].dtype == np.int32
  assert train[0][0] == ["How", "did", "serfdom", "develop", "in", "and", "then", "leave", "Russia", "?"]
  assert len({w for s in train[0] + test[0] for w in s}) == 9592  # |V| in Kim's Table 1
  with pytest.raises(ValueError, match="unknown trec split 'dev'"):
    sentences.trec("dev")


@needs_sent
def test_sst2_sizes():
  sizes = {split: len(sentences.sst2(split)[0]) for split in ("train", "dev", "test")}
  assert sizes == {"train": 6920, "dev": 872, "test": 1821}
  assert set(sentences.sst2("dev")[1].tolist()) == {0, 1}


@needs_mr
def test_mr_sizes_labels_and_vocabulary():
  sents, labels = sentences.mr()
  assert len(sents) == len(labels) == 10_662  # str.splitlines() would split at byte 0x85 and give more
  assert (labels == 1).sum() == (labels == 0).sum() == 5331 and labels[0] == 1 and labels[-1] == 0
  assert len({w for s in sents for w in s}) == 18_765  # |V| in Kim's Table 1
  assert all(sents)


def test_malformed_labelled_line_is_named(tmp_path):
  (tmp_path / "sent_classification").mkdir()
  path = tmp_path / "sent_classification" / "TREC.test.all"
  path.write_bytes(b"0 How far is it ?\nno label here\n")
  (tmp_path / "SHA256SUMS").write_text(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  "
                                       "sent_classification/TREC.test.all\n")
  with pytest.raises(data.DataError, match="line 2: expected 'LABEL sentence'") as info:
    sentences.trec("test", tmp_path)
  assert str(path) in str(info.value)


def test_kfold_partitions_exactly_and_is_deterministic():
  n, k = 103, 10
  tests = []
  for fold in range(k):
    train_idx, test_idx = sentences.kfold(n, k, fold, seed=7)
    assert np.array_equal(np.sort(np.concatenate([train_idx, test_idx])), np.arange(n))
    assert len(test_idx) in (10, 11)
    np.testing.assert_array_equal(sentences.kfold(n, k, fold, seed=7)[1], test_idx)
    tests.append(test_idx)
  assert np.array_equal(np.sort(np.concatenate(tests)), np.arange(n))  # each index tested exactly once
  assert not np.array_equal(sentences.kfold(n, k, 0, seed=8)[1], tests[0])
  with pytest.raises(ValueError, match="fold must be in"):
    sentences.kfold(n, k, fold=10)


def test_build_takes_vocab_and_max_len_from_train_only():
  splits = {"train": ([["good", "film"], ["bad", "film", "indeed"]], np.array([1, 0])),
            "test": ([["good", "unseen", "words", "here", "too"]], np.array([1]))}
  out = sentences.build(splits, num_classes=2, name="toy")
  vocab = out["train"].vocab
  assert vocab is out["test"].vocab and "unseen" not in vocab
  assert out["train"].tokens.shape == (2, 3) and out["test"].tokens.shape == (1, 3)
  np.testing.assert_array_equal(out["test"].tokens, [[vocab.stoi["good"], 1, 1]])
  assert out["test"].num_truncated == 1 and out["train"].num_truncated == 0
  assert out["train"].tokens[0, 2] == 0 and out["train"].labels.dtype == np.int32
  assert sentences.build(splits, 2, "toy", max_len_cap=2)["train"].tokens.shape == (2, 2)
  with pytest.raises(ValueError, match=r"toy:train: need 2 labels in \[0, 2\)"):
    sentences.build({"train": (splits["train"][0], np.array([1, 2]))}, 2, "toy")


@needs_mr
def test_load_mr_fold_is_ready_to_train():
  ds = sentences.load("mr", fold=3)
  train, test = ds["train"], ds["test"]
  assert len(train) + len(test) == 10_662 and len(test) in (1066, 1067)
  assert train.tokens.dtype == np.int32 and train.tokens.shape[1] == test.tokens.shape[1]
  assert train.num_classes == 2 and train.tokens.max() < len(train.vocab)
  # max_len is the longest training sentence: some row fills it, and no training row is cut.
  assert (train.tokens[:, -1] != 0).any() and train.num_truncated == 0
