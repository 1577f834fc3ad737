"""TF-IDF content features: each item's feature words (title words, year, genres) and each user's profile."""

import functools

import numpy as np

from bigjax.data.core import DataError
from bigjax.data.movielens.model_constants import Bags
from bigjax.data.movielens.protocol import Interactions


def _to_bags(matrix, width: int, num_features: int) -> Bags:
  """The ``width`` largest entries of each row of a scipy sparse matrix, renormalised to unit L2 norm."""
  matrix = matrix.tocsr()
  ids = np.zeros((matrix.shape[0], width), np.int32)
  weights = np.zeros((matrix.shape[0], width), np.float32)
  for r in range(matrix.shape[0]):
    lo, hi = matrix.indptr[r], matrix.indptr[r + 1]
    cols, vals = matrix.indices[lo:hi], matrix.data[lo:hi]
    keep = np.argsort(-vals, kind="stable")[:width]
    norm = np.linalg.norm(vals[keep])
    ids[r, :len(keep)] = cols[keep]
    weights[r, :len(keep)] = vals[keep] / norm if norm > 0 else 0.0
  return Bags(ids, weights, num_features)


@functools.lru_cache(maxsize=4)
def content_features(interactions: Interactions, item_width: int = 32, profile_width: int = 64) -> tuple[Bags, Bags]:
  """``(items, profiles)``: TF-IDF of each item's feature words (title words, year, genres) and each user's
  profile, the L2-normalised sum of the TF-IDF rows of the items they trained on (only training data).

  TF-IDF is scikit-learn's (smooth idf, sublinear tf off, L2-normalised rows) over items, keeping words of
  at least 2 items; rows are cut to their ``item_width`` / ``profile_width`` heaviest features.
  """
  from scipy import sparse
  from sklearn.feature_extraction.text import TfidfVectorizer

  if not any(interactions.item_text):
    raise DataError(f"{interactions.name} has no item titles or genres to build content features from")
  vectorizer = TfidfVectorizer(analyzer=str.split, min_df=2, dtype=np.float64)
  items = vectorizer.fit_transform(list(interactions.item_text))
  history = sparse.csr_matrix((np.ones(len(interactions.train_items)), interactions.train_items,
                               interactions.train_offsets), shape=(interactions.num_users, interactions.num_items))
  profiles = history @ items
  num_features = len(vectorizer.vocabulary_)
  return _to_bags(items, item_width, num_features), _to_bags(profiles, profile_width, num_features)
