"""Word-word co-occurrence counts for GloVe (Pennington et al. 2014), from a word-id stream, built once and cached.

``X[i, j]`` sums ``1 / distance`` over every occurrence of word ``j`` within ``window`` words of word ``i`` in the
same sentence (the stream's id 0 ends a sentence; windows never cross it), left and right alike, so ``X`` is
symmetric: the GloVe tool's ``cooccur`` with ``-symmetric 1`` and its distance weighting. The sentence end (id 0)
never co-occurs.

Counting 12.4M words with a window of 10 takes a minute or two, so ``counts`` keeps its result in a verified
cache (``core.default_cache_dir()/cooccurrence/v<VERSION>/<digest of the stream and window>/``).
"""

import hashlib
import io
import json
import logging
import pathlib

import numpy as np
import scipy.sparse

from bigjax.data.core import DataError, default_cache_dir, read_verified, store_npz

VERSION = 1


def count(stream: np.ndarray, window: int, num_ids: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """``(rows int32 [nnz], cols int32 [nnz], values float32 [nnz])``: the nonzero entries of ``X`` (module
  docstring) for ``stream`` (int ids in ``0..num_ids - 1``), sorted by row then column."""
  if window < 1:
    raise ValueError(f"config.data.cooccurrence_window={window} must be >= 1")
  stream = np.asarray(stream)
  if stream.size and (stream.min() < 0 or stream.max() >= num_ids):
    raise ValueError(f"word ids must lie in 0..{num_ids - 1}; the stream holds {stream.min()}..{stream.max()}")
  sentence = np.cumsum(stream == 0)
  upper = scipy.sparse.csr_matrix((num_ids, num_ids), dtype=np.float64)
  for distance in range(1, min(window, max(len(stream) - 1, 0)) + 1):
    left, right = stream[:-distance], stream[distance:]
    ok = (left > 0) & (right > 0) & (sentence[:-distance] == sentence[distance:])
    upper = upper + scipy.sparse.csr_matrix(
        (np.full(int(ok.sum()), 1.0 / distance), (left[ok], right[ok])), shape=(num_ids, num_ids))
  both = (upper + upper.T).tocoo()  # the left context of one word is the right context of the other
  order = np.lexsort((both.col, both.row))
  return (both.row[order].astype(np.int32), both.col[order].astype(np.int32), both.data[order].astype(np.float32))


def counts(stream: np.ndarray, window: int, num_ids: int, cache_dir: pathlib.Path | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """``count(stream, window, num_ids)``, from the cache when an entry for exactly this stream and window verifies
  there, else counted and stored there (a cache that cannot be written is skipped)."""
  stream = np.ascontiguousarray(stream, dtype=np.int32)
  key = json.dumps([VERSION, hashlib.sha256(stream.tobytes()).hexdigest(), window, num_ids])
  entry = (cache_dir or default_cache_dir()) / "cooccurrence" / f"v{VERSION}" / hashlib.sha256(key.encode()).hexdigest()
  try:
    blob = read_verified(entry, "cooccurrence.npz", fix="It is a cache entry; it will be rebuilt.")
    with np.load(io.BytesIO(blob)) as arrays:
      return arrays["rows"], arrays["cols"], arrays["values"]
  except (DataError, KeyError, ValueError, OSError):
    pass
  logging.getLogger(__name__).info("counting co-occurrences of %d words, window %d, into %s", len(stream), window,
                                   entry)
  rows, cols, values = count(stream, window, num_ids)
  store_npz(entry, "cooccurrence.npz", "the co-occurrences", rows=rows, cols=cols, values=values)
  return rows, cols, values
