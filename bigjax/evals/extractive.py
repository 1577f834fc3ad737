"""Extractive summaries without training, the baselines a neural summariser must beat: Lead-k and TextRank
(Mihalcea and Tarau 2004) over TF-IDF sentence similarity, on an article's sentences (``bigjax.data.text_pairs.
split_sentences`` cuts them).

  lead(sentences, k)           the first k sentences' indices (Lead-3: k = 3)
  textrank(sentences, k)       the k sentences of highest PageRank on the graph whose edge weights are the cosine
                               similarities of the sentences' TF-IDF vectors (scikit-learn's, fitted on the
                               article's own sentences), in article order

A summary is its sentences joined by single spaces (``join``).
"""

from collections.abc import Sequence

import numpy as np

def join(sentences: Sequence[str], indices: Sequence[int]) -> str:
  return " ".join(sentences[i] for i in indices)


def lead(sentences: Sequence[str], k: int) -> list[int]:
  if k < 1:
    raise ValueError(f"lead k={k} must be >= 1")
  return list(range(min(k, len(sentences))))


def pagerank(weights: np.ndarray, damping: float = 0.85, tolerance: float = 1e-10, max_iterations: int = 1000
             ) -> np.ndarray:
  """PageRank of a weighted graph ``[n, n]`` (row i: i's edges out, any nonnegative weights, the diagonal
  ignored): a node without edges spreads its rank evenly, as in TextRank. float64 [n], summing to 1."""
  w = np.asarray(weights, np.float64).copy()
  np.fill_diagonal(w, 0.0)
  n = len(w)
  out = w.sum(axis=1, keepdims=True)
  transition = np.where(out > 0, w / np.where(out > 0, out, 1.0), 1.0 / n)  # row-stochastic
  rank = np.full(n, 1.0 / n)
  for _ in range(max_iterations):
    new = (1 - damping) / n + damping * rank @ transition
    if np.abs(new - rank).sum() < tolerance:
      return new
    rank = new
  return rank


def textrank(sentences: Sequence[str], k: int, damping: float = 0.85) -> list[int]:
  """Indices (in article order) of the ``k`` sentences of highest PageRank; ties go to the earlier sentence."""
  from sklearn.feature_extraction.text import TfidfVectorizer  # Only the baseline pays for importing it.
  if k < 1:
    raise ValueError(f"textrank k={k} must be >= 1")
  if len(sentences) <= k:
    return list(range(len(sentences)))
  try:
    vectors = TfidfVectorizer().fit_transform(sentences)  # rows l2-normalised: products are cosines
  except ValueError:  # no word at all (sentences of punctuation): nothing to rank by
    return lead(sentences, k)
  rank = pagerank((vectors @ vectors.T).toarray(), damping)
  best = sorted(range(len(sentences)), key=lambda i: (-rank[i], i))[:k]
  return sorted(best)
