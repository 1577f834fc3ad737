"""bigjax.data.vectorize against scikit-learn's TfidfVectorizer / CountVectorizer configured to the same formula
(given the same tokens), hand-computed values, fitting on training text only, and its refusals."""

import itertools
import json
import math

import numpy as np
import pytest
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from bigjax.data import sentences
from bigjax.data.vectorize import Vectorizer, padded_rows
from conftest import requires_sentences

DOCS = [["the", "cat", "sat", "on", "the", "mat"],
        ["the", "dog", "sat"],
        ["a", "cat", "and", "a", "dog", "and", "a", "bird"],
        ["birds", "fly"],
        [],
        ["the", "the", "the", "cat"],
        ["on", "a", "mat", "a", "cat", "sat", "sat"]]
NEW_DOCS = [["the", "cat", "flew"], ["zebra"], ["a", "a", "dog", "mat", "unknown", "the"]]


def sklearn_for(options: dict):
  """scikit-learn's vectoriser for our ``options`` (tokens as given: the analyzer is the identity)."""
  common = {k: options[k] for k in ("min_df", "max_df", "max_features", "binary") if k in options}
  if options.get("use_idf", True) is False and options.get("norm", "l2") is None and not options.get("sublinear_tf"):
    return CountVectorizer(analyzer=lambda d: d, dtype=np.float64, **common)
  rest = {k: options[k] for k in ("sublinear_tf", "use_idf", "smooth_idf", "norm") if k in options}
  return TfidfVectorizer(analyzer=lambda d: d, dtype=np.float64, **common, **rest)


GRID = [dict(zip(("sublinear_tf", "smooth_idf", "norm", "binary"), values))
        for values in itertools.product((False, True), (False, True), ("l2", "l1", None), (False, True))]
CUTOFFS = [{}, {"min_df": 2}, {"max_df": 0.5}, {"min_df": 0.2, "max_df": 3}, {"max_features": 4},
           {"min_df": 2, "max_features": 2}]  # cuts between terms of different counts (ties: below)


def assert_same(ours: Vectorizer, theirs, train, others):
  assert ours.vocabulary == theirs.vocabulary_
  for docs in (train, others):
    expected = theirs.transform(docs)
    got = ours.transform(docs)
    assert sparse.isspmatrix_csr(got) and got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got.toarray(), expected.toarray(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("options", GRID, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_tfidf_equals_sklearn_over_the_formula_options(options):
  ours = Vectorizer(**options).fit(DOCS)
  assert_same(ours, sklearn_for(options).fit(DOCS), DOCS, NEW_DOCS)


@pytest.mark.parametrize("cutoffs", CUTOFFS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "none")
@pytest.mark.parametrize("use_idf", [True, False])
def test_vocabulary_cutoffs_equal_sklearn(cutoffs, use_idf):
  options = {**cutoffs, "use_idf": use_idf, "norm": "l2" if use_idf else None}
  ours = Vectorizer(**options).fit(DOCS)
  assert_same(ours, sklearn_for(options).fit(DOCS), DOCS, NEW_DOCS)


def test_bag_of_words_equals_sklearn_count_vectorizer():
  for binary in (False, True):
    ours = Vectorizer(use_idf=False, norm=None, binary=binary).fit(DOCS)
    theirs = CountVectorizer(analyzer=lambda d: d, binary=binary).fit(DOCS)
    assert_same(ours, theirs, DOCS, NEW_DOCS)
    assert ours.transform([["a", "a", "a", "cat"]]).toarray().max() == (1 if binary else 3)


def test_max_features_ties_go_to_the_alphabetically_first_term():
  docs = [["b", "a", "c", "d"], ["d", "c"]]  # c and d twice, a and b once: a tie at the cut between a and b
  assert Vectorizer(max_features=3).fit(docs).terms == ["a", "c", "d"]
  assert Vectorizer(max_features=2).fit(docs).terms == ["c", "d"]
  # binary: the frequency is the document frequency
  assert Vectorizer(max_features=1, binary=True).fit([["x", "x", "x", "y"], ["y"]]).terms == ["y"]
  assert Vectorizer(max_features=1).fit([["x", "x", "x", "y"], ["y"]]).terms == ["x"]


def test_hand_computed_values_on_three_documents():
  docs = [["a", "b", "a"], ["b", "c"], ["c"]]
  # n = 3; df: a 1, b 2, c 2. Smooth idf: log(4/2)+1 = 1+log 2, log(4/3)+1. Unsmoothed: log(3)+1, log(1.5)+1.
  smooth = {"a": 1 + math.log(2), "b": 1 + math.log(4 / 3), "c": 1 + math.log(4 / 3)}
  raw = {"a": 1 + math.log(3), "b": 1 + math.log(1.5), "c": 1 + math.log(1.5)}
  vectorizer = Vectorizer(norm=None).fit(docs)
  np.testing.assert_allclose(vectorizer.idf, [smooth["a"], smooth["b"], smooth["c"]], rtol=1e-12)
  np.testing.assert_allclose(vectorizer.transform(docs).toarray(),
                             [[2 * smooth["a"], smooth["b"], 0], [0, smooth["b"], smooth["c"]], [0, 0, smooth["c"]]],
                             rtol=1e-6)
  unsmoothed = Vectorizer(norm=None, smooth_idf=False, sublinear_tf=True).fit(docs).transform(docs).toarray()
  np.testing.assert_allclose(unsmoothed[0], [(1 + math.log(2)) * raw["a"], raw["b"], 0], rtol=1e-6)
  row = np.array([2 * smooth["a"], smooth["b"], 0])
  l2 = Vectorizer().fit(docs).transform(docs).toarray()[0]
  np.testing.assert_allclose(l2, row / np.sqrt((row ** 2).sum()), rtol=1e-6)
  l1 = Vectorizer(norm="l1").fit(docs).transform(docs).toarray()[0]
  np.testing.assert_allclose(l1, row / row.sum(), rtol=1e-6)
  counts = Vectorizer(use_idf=False, norm=None).fit(docs).transform(docs).toarray()
  np.testing.assert_array_equal(counts, [[2, 1, 0], [0, 1, 1], [0, 0, 1]])


def test_fitted_on_training_text_only():
  train, test = [["a", "b"], ["b", "c"]], [["a", "zebra"], ["zebra"]]
  vectorizer = Vectorizer().fit(train)
  assert "zebra" not in vectorizer.vocabulary and len(vectorizer) == 3
  rows = vectorizer.transform(test)
  assert rows.shape == (2, 3)
  np.testing.assert_allclose(rows.toarray(), [[1, 0, 0], [0, 0, 0]])  # a test-only word: no column, no weight
  # the idf is the training split's: transforming other text changes nothing
  before = vectorizer.idf.copy()
  vectorizer.transform(test + train)
  np.testing.assert_array_equal(vectorizer.idf, before)


def test_padded_rows_hold_the_sparse_rows():
  matrix = Vectorizer().fit(DOCS).transform(DOCS + NEW_DOCS)
  ids, weights = padded_rows(matrix)
  assert ids.dtype == np.int32 and weights.dtype == np.float32
  assert ids.shape == weights.shape == (matrix.shape[0], np.diff(matrix.indptr).max())
  table = np.random.default_rng(0).normal(size=(matrix.shape[1], 3))
  np.testing.assert_allclose(np.einsum("nm,nmc->nc", weights, table[ids]), matrix @ table, rtol=1e-5, atol=1e-6)
  wide_ids, wide_weights = padded_rows(matrix, width=12)
  assert wide_ids.shape == (matrix.shape[0], 12) and not wide_weights[:, ids.shape[1]:].any()
  with pytest.raises(ValueError, match="width=1"):
    padded_rows(matrix, width=1)


def test_saved_and_reloaded_vectorizer_gives_the_same_rows():
  vectorizer = Vectorizer(sublinear_tf=True, min_df=2, norm="l1").fit(DOCS)
  again = Vectorizer.from_json(vectorizer.to_json())
  assert json.loads(again.to_json()) == json.loads(vectorizer.to_json())
  np.testing.assert_array_equal(again.transform(NEW_DOCS).toarray(), vectorizer.transform(NEW_DOCS).toarray())


@pytest.mark.parametrize("options, option", [
    ({"min_df": -1}, "min_df"), ({"max_df": 1.5}, "max_df"), ({"min_df": "2"}, "min_df"), ({"max_df": True}, "max_df"),
    ({"max_features": 0}, "max_features"), ({"max_features": 2.0}, "max_features"), ({"norm": "l3"}, "norm"),
    ({"binary": 1}, "binary"), ({"sublinear_tf": "yes"}, "sublinear_tf"), ({"smooth_idf": None}, "smooth_idf"),
    ({"use_idf": 0}, "use_idf")])
def test_bad_options_are_refused_naming_the_option(options, option):
  with pytest.raises(ValueError, match=f"^{option}="):
    Vectorizer(**options)


def test_failure_modes():
  with pytest.raises(ValueError, match="not fitted.*fit"):
    Vectorizer().transform(DOCS)
  with pytest.raises(ValueError, match="not fitted"):
    Vectorizer().to_json()
  with pytest.raises(ValueError, match="empty vocabulary.*hold no tokens"):
    Vectorizer().fit([[], []])
  with pytest.raises(ValueError, match="empty vocabulary.*min_df=5"):
    Vectorizer(min_df=5).fit(DOCS)
  with pytest.raises(ValueError, match="max_df=1 .*min_df=2"):
    Vectorizer(min_df=2, max_df=1).fit(DOCS)
  with pytest.raises(ValueError, match="document 1 is a string.*lists of tokens"):
    Vectorizer().fit([["a"], "a b"])
  with pytest.raises(ValueError, match="not a saved Vectorizer"):
    Vectorizer.from_json('{"type": "WordVocab", "itos": []}')


@requires_sentences
@pytest.mark.parametrize("options", [{}, {"sublinear_tf": True, "min_df": 2}, {"smooth_idf": False, "norm": "l1"},
                                     {"max_df": 0.1, "binary": True}, {"use_idf": False, "norm": None}])
def test_equals_sklearn_on_trec(options):
  """TREC's training sentences (Kim's cleaning, bigjax.data.sentences), its test sentences transformed."""
  train, _ = sentences.trec("train")
  test, _ = sentences.trec("test")
  ours = Vectorizer(**options).fit(train)
  assert len(ours) > 1000
  assert_same(ours, sklearn_for(options).fit(train), train, test)
