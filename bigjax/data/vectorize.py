"""Bag-of-words and TF-IDF vectors of tokenised documents, as ``scipy.sparse.csr_matrix`` float32 rows.

A document is a list of tokens (the sentence sets give them: ``bigjax.data.sentences``); the vectoriser is
fitted on the training documents only, so a word first seen outside them gets no column, and its document
frequencies (the idf) are the training split's.

  tf-idf(t, d) = tf(t, d) * idf(t), each row then scaled to unit norm (``norm``)

  tf(t, d)   the count of t in d; 1 where it occurs (``binary``); 1 + log(count) (``sublinear_tf``)
  idf(t)     log((1 + n) / (1 + df(t))) + 1 (``smooth_idf``: as if one more document held every term once)
             log(n / df(t)) + 1                 (unsmoothed)
             with n the training documents and df(t) those that contain t; the + 1 keeps a term that every
             document holds from vanishing. ``use_idf=False``: idf(t) = 1, the bag of words.

Options, and the scikit-learn setting each matches (``TfidfVectorizer``, or ``CountVectorizer`` where
``use_idf=False, norm=None``, given the same tokens, e.g. ``analyzer=lambda tokens: tokens``):

  min_df, max_df   keep terms whose df is >= min_df and <= max_df: an int counts documents, a float in [0, 1]
                   is a fraction of n (same-named, same meaning)
  max_features     then keep the this many most frequent terms, by their total (tf) count over the training
                   documents, binarised where ``binary`` is (``max_features``); ties go to the
                   alphabetically first term (scikit-learn leaves ties to its sort, an unstable one)
  binary           ``binary``          sublinear_tf  ``sublinear_tf``
  use_idf          ``use_idf``         smooth_idf    ``smooth_idf``
  norm             ``norm``: "l2", "l1" or None (a row of zeros stays zeros)

Columns are the kept terms in sorted order (scikit-learn's ``vocabulary_`` ids). Sums run in float64, rows
come out float32. Pure NumPy and SciPy.
"""

import collections
import json
import numbers
from typing import Iterable, Sequence

import numpy as np
from scipy import sparse

NORMS = ("l2", "l1", None)


class Vectorizer:
  """Bag-of-words / TF-IDF vectoriser of token lists (see the module docstring for the formula and options).

  ``fit(train_documents)`` fixes the vocabulary and idf; ``transform(documents)`` -> csr float32 ``[n, terms]``.
  """

  def __init__(self, *, min_df: int | float = 1, max_df: int | float = 1.0, max_features: int | None = None,
               binary: bool = False, sublinear_tf: bool = False, use_idf: bool = True, smooth_idf: bool = True,
               norm: str | None = "l2"):
    for name, value in (("min_df", min_df), ("max_df", max_df)):
      if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}={value!r}: give a document count (int >= 0) or a fraction (float in [0, 1])")
      valid = value >= 0 if isinstance(value, numbers.Integral) else 0.0 <= value <= 1.0
      if not valid:
        raise ValueError(f"{name}={value!r}: a document count must be >= 0, a fraction in [0, 1]")
    if max_features is not None and (isinstance(max_features, bool) or not isinstance(max_features, numbers.Integral)
                                     or max_features < 1):
      raise ValueError(f"max_features={max_features!r}: give a positive int, or None to keep every term")
    for name, value in (("binary", binary), ("sublinear_tf", sublinear_tf), ("use_idf", use_idf),
                        ("smooth_idf", smooth_idf)):
      if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}={value!r}: give True or False")
    if norm not in NORMS:
      raise ValueError(f"norm={norm!r}: choose one of {NORMS}")
    self.min_df, self.max_df, self.max_features = min_df, max_df, max_features
    self.binary, self.sublinear_tf, self.use_idf = bool(binary), bool(sublinear_tf), bool(use_idf)
    self.smooth_idf, self.norm = bool(smooth_idf), norm
    self.vocabulary: dict[str, int] | None = None  # term -> column, after fit
    self.idf: np.ndarray | None = None             # float64 [terms], after fit

  # ------------------------------------------------------------------ fitting

  def fit(self, documents: Sequence[Sequence[str]]) -> "Vectorizer":
    """Vocabulary and idf from ``documents`` (the training split only). Raises ValueError on an empty
    vocabulary (no tokens, or none left by min_df / max_df)."""
    documents = _checked(documents)
    n = len(documents)
    terms = sorted({token for document in documents for token in document})
    if not terms:
      raise ValueError(f"empty vocabulary: the {n} training documents hold no tokens")
    counts = _counts(documents, {term: i for i, term in enumerate(terms)}, len(terms), self.binary)
    df = np.bincount(counts.indices, minlength=len(terms))
    low = self.min_df if isinstance(self.min_df, numbers.Integral) else self.min_df * n
    high = self.max_df if isinstance(self.max_df, numbers.Integral) else self.max_df * n
    if high < low:
      raise ValueError(f"max_df={self.max_df} keeps terms of at most {high:g} documents, fewer than min_df="
                       f"{self.min_df} asks for ({low:g}) of the {n} training documents")
    keep = np.flatnonzero((df >= low) & (df <= high))
    if self.max_features is not None and len(keep) > self.max_features:
      total = np.asarray(counts.sum(axis=0)).ravel()[keep]
      # Most frequent first; a stable sort of the (sorted) terms puts the alphabetically first of equals first.
      keep = np.sort(keep[np.argsort(-total, kind="stable")[:self.max_features]])
    if not len(keep):
      raise ValueError(f"empty vocabulary: no term of the {n} training documents occurs in at least min_df="
                       f"{self.min_df} and at most max_df={self.max_df} of them; lower min_df or raise max_df")
    self.vocabulary = {terms[i]: column for column, i in enumerate(keep)}
    if self.use_idf:
      smooth = int(self.smooth_idf)
      self.idf = np.log((n + smooth) / (df[keep] + smooth)) + 1.0
    else:
      self.idf = np.ones(len(keep))
    return self

  def fit_transform(self, documents: Sequence[Sequence[str]]) -> sparse.csr_matrix:
    return self.fit(documents).transform(documents)

  # ------------------------------------------------------------------ transforming

  def transform(self, documents: Sequence[Sequence[str]]) -> sparse.csr_matrix:
    """``[n, terms]`` float32 rows of ``documents``; tokens outside the fitted vocabulary are dropped."""
    if self.vocabulary is None:
      raise ValueError("this Vectorizer is not fitted: call fit(train_documents) before transform")
    matrix = _counts(_checked(documents), self.vocabulary, len(self.vocabulary), self.binary)
    if self.sublinear_tf:
      matrix.data = np.log(matrix.data) + 1.0
    matrix = matrix @ sparse.diags(self.idf) if self.use_idf else matrix
    matrix = sparse.csr_matrix(matrix)
    if self.norm is not None:
      rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
      per_row = np.abs(matrix.data) if self.norm == "l1" else matrix.data ** 2
      norms = np.bincount(rows, per_row, minlength=matrix.shape[0])
      norms = norms if self.norm == "l1" else np.sqrt(norms)
      matrix.data = matrix.data / norms[rows]  # a row with entries has a positive norm
    return matrix.astype(np.float32)

  # ------------------------------------------------------------------ what a run saves

  def __len__(self) -> int:
    """The number of columns (terms kept); 0 before fit."""
    return 0 if self.vocabulary is None else len(self.vocabulary)

  @property
  def terms(self) -> list[str]:
    """The kept terms, column by column."""
    return sorted(self.vocabulary or {}, key=self.vocabulary.get)

  def options(self) -> dict:
    return {"min_df": self.min_df, "max_df": self.max_df, "max_features": self.max_features, "binary": self.binary,
            "sublinear_tf": self.sublinear_tf, "use_idf": self.use_idf, "smooth_idf": self.smooth_idf,
            "norm": self.norm}

  def to_json(self) -> str:
    """Options, terms and idf: what a run saves as vocab.json, so the vectors mean something later."""
    if self.vocabulary is None:
      raise ValueError("this Vectorizer is not fitted: call fit(train_documents) before saving it")
    return json.dumps({"type": "Vectorizer", "options": self.options(), "terms": self.terms,
                       "idf": self.idf.tolist()})

  @classmethod
  def from_json(cls, text: str) -> "Vectorizer":
    record = json.loads(text)
    if not isinstance(record, dict) or record.get("type") != "Vectorizer":
      raise ValueError(f"not a saved Vectorizer: {text[:80]!r}")
    vectorizer = cls(**record["options"])
    vectorizer.vocabulary = {term: i for i, term in enumerate(record["terms"])}
    vectorizer.idf = np.asarray(record["idf"], np.float64)
    return vectorizer

  def __repr__(self) -> str:
    options = ", ".join(f"{k}={v!r}" for k, v in self.options().items())
    return f"Vectorizer({options}; {'not fitted' if self.vocabulary is None else f'{len(self)} terms'})"


def _checked(documents: Iterable[Sequence[str]]) -> list[Sequence[str]]:
  documents = list(documents)
  for i, document in enumerate(documents):
    if isinstance(document, (str, bytes)):
      raise ValueError(f"document {i} is a string ({document[:40]!r}); documents are lists of tokens: split "
                       f"them first (the sentence sets in bigjax.data.sentences give tokens)")
  return documents


def _counts(documents: list[Sequence[str]], vocabulary: dict[str, int], num_terms: int,
            binary: bool) -> sparse.csr_matrix:
  """float64 ``[n, num_terms]`` term counts (1 where present, with ``binary``); unknown tokens dropped."""
  indptr, indices, values = [0], [], []
  for document in documents:
    row = collections.Counter(vocabulary[t] for t in document if t in vocabulary)
    columns = sorted(row)
    indices += columns
    values += [1 if binary else row[c] for c in columns]
    indptr.append(len(indices))
  return sparse.csr_matrix((np.asarray(values, np.float64), np.asarray(indices, np.int64), np.asarray(indptr)),
                           shape=(len(documents), num_terms))


def padded_rows(matrix: sparse.csr_matrix, width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
  """A csr matrix as fixed-width bags: ``(ids int32 [n, width], weights float32 [n, width])``, each row's
  entries in column order, padded with id 0 and weight 0 (so ``sum_j weights[j] * W[ids[j]]`` is the row times
  ``W``). ``width`` defaults to the longest row; a row longer than ``width`` is a ValueError."""
  matrix = sparse.csr_matrix(matrix)
  matrix.sort_indices()
  lengths = np.diff(matrix.indptr)
  longest = int(lengths.max(initial=0))
  width = max(longest, 1) if width is None else width
  if longest > width:
    raise ValueError(f"a row holds {longest} entries, more than width={width}")
  rows = np.repeat(np.arange(matrix.shape[0]), lengths)
  slots = np.arange(len(matrix.data)) - matrix.indptr[rows]
  ids = np.zeros((matrix.shape[0], width), np.int32)
  weights = np.zeros((matrix.shape[0], width), np.float32)
  ids[rows, slots] = matrix.indices
  weights[rows, slots] = matrix.data
  return ids, weights
