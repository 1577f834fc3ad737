"""Word vectors seen in two dimensions: a PCA (or t-SNE) projection of chosen words, drawn as an annotated PNG.

  project_2d   [n, d] -> [n, 2] (PCA by SVD; t-SNE by scikit-learn)
  plot_words   words + their vectors -> a scatter plot with each point labelled, saved as PNG (Agg, no display)
"""

import os
import pathlib
from typing import Sequence

import numpy as np

__all__ = ["plot_words", "project_2d"]

METHODS = ("pca", "tsne")


def project_2d(vectors: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
  """``vectors`` [n, d] -> coordinates [n, 2] float64.

  "pca": the centred vectors on their two leading principal axes, each axis's sign fixed so its largest loading is
  positive (deterministic). "tsne": scikit-learn's t-SNE (perplexity min(30, n - 1), ``seed``), for n >= 3.
  """
  vectors = np.asarray(vectors, np.float64)
  if vectors.ndim != 2 or len(vectors) < 2:
    raise ValueError(f"need at least 2 vectors [n, d] to project, got shape {vectors.shape}")
  if method == "pca":
    centred = vectors - vectors.mean(0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    axes = axes[:2]
    axes *= np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(1)])[:, None]
    coords = centred @ axes.T
    return np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))  # d == 1: a flat second axis
  if method == "tsne":
    if len(vectors) < 3:
      raise ValueError(f"t-SNE needs at least 3 words, got {len(vectors)}")
    from sklearn.manifold import TSNE  # imported here: only t-SNE needs scikit-learn
    return TSNE(2, perplexity=min(30.0, len(vectors) - 1.0), init="pca", random_state=seed).fit_transform(vectors)
  raise ValueError(f"unknown projection {method!r}; valid: {METHODS}")


def plot_words(words: Sequence[str], vectors: np.ndarray, path: str | os.PathLike, *, method: str = "pca",
               title: str | None = None, seed: int = 0) -> np.ndarray:
  """Projects ``vectors`` [n, d] (row i is ``words[i]``) to 2-D and saves a labelled scatter plot to ``path``.

  Returns:
    the plotted coordinates [n, 2].
  """
  if len(words) != len(vectors):
    raise ValueError(f"need one vector per word: {len(words)} words, {len(vectors)} vectors")
  coords = project_2d(vectors, method, seed)
  # The object-oriented API with an explicit Agg canvas: no pyplot global state, no display needed.
  from matplotlib.backends.backend_agg import FigureCanvasAgg
  from matplotlib.figure import Figure
  figure = Figure(figsize=(7, 6), layout="constrained")
  FigureCanvasAgg(figure)
  axes = figure.add_subplot()
  axes.scatter(coords[:, 0], coords[:, 1], s=12)
  for word, (x, y) in zip(words, coords):
    axes.annotate(word, (x, y), xytext=(3, 3), textcoords="offset points", fontsize="small")
  axes.set(title=title or f"{len(words)} words, {method.upper()} projection",
           xlabel=f"{method} 1", ylabel=f"{method} 2")
  axes.grid(alpha=0.3)
  figure.savefig(pathlib.Path(path), dpi=110)
  return coords
