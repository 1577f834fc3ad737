"""Sample-quality metrics of a generator, scored by a fixed classifier: pure functions of features and probabilities.

- ``frechet_distance``: the Fréchet distance between two Gaussians fitted to classifier features (the FID of
  Heusel et al. 2017, with an MNIST classifier in place of Inception), in float64.
- ``confident_fraction``: how many samples the classifier assigns to a class with probability >= a threshold.
- ``class_entropy``: entropy (nats) of the distribution of predicted classes over many samples; ln 10 = 2.303
  when every digit is generated equally often, 0 when one mode is all the generator makes.
- ``image_grid``: samples tiled into one picture (the loop's writer saves it).
"""


import numpy as np


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """``[n, d] -> (mean [d], covariance [d, d])``, float64, covariance unbiased (divides by n - 1)."""
  if features.ndim != 2 or features.shape[0] < 2:
    raise ValueError(f"gaussian_stats needs [n >= 2, d] features, got shape {features.shape}")
  x = np.asarray(features, np.float64)
  return x.mean(axis=0), np.cov(x, rowvar=False)


def trace_sqrt_product(cov1: np.ndarray, cov2: np.ndarray) -> float:
  """``tr sqrt(cov1 @ cov2)`` for symmetric PSD ``[d, d]`` matrices, as ``sum sqrt(eig(s1 cov2 s1))``, s1 = cov1^1/2.

  ``cov1 @ cov2`` is similar to the symmetric PSD ``s1 cov2 s1``, so its square root has the same trace, and
  symmetric eigendecompositions stay real where a general ``sqrtm`` picks up imaginary round-off.
  """
  w1, v1 = np.linalg.eigh(cov1)
  s1 = (v1 * np.sqrt(np.clip(w1, 0.0, None))) @ v1.T
  middle = s1 @ cov2 @ s1
  return float(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum())


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
  """``|mu1 - mu2|^2 + tr(cov1 + cov2 - 2 sqrt(cov1 cov2))`` between N(mu1, cov1) and N(mu2, cov2); ``[d], [d, d]``."""
  mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
  cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
  if mu1.shape != mu2.shape or cov1.shape != cov2.shape or cov1.shape != (mu1.shape[0],) * 2:
    raise ValueError(f"frechet_distance: shapes {mu1.shape}, {cov1.shape}, {mu2.shape}, {cov2.shape} do not match")
  diff = mu1 - mu2
  return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * trace_sqrt_product(cov1, cov2))


def features_frechet_distance(features1: np.ndarray, features2: np.ndarray) -> float:
  """The Fréchet distance between Gaussians fitted to ``[n1, d]`` and ``[n2, d]`` features."""
  return frechet_distance(*gaussian_stats(features1), *gaussian_stats(features2))


def confident_fraction(probs: np.ndarray, threshold: float = 0.9) -> float:
  """Fraction of rows of ``[n, k]`` class probabilities whose largest entry is >= ``threshold``."""
  return float(np.mean(np.max(probs, axis=-1) >= threshold))


def class_entropy(probs: np.ndarray) -> float:
  """Entropy (nats) of the histogram of ``argmax`` classes of ``[n, k]`` probabilities (0 log 0 = 0)."""
  counts = np.bincount(np.argmax(probs, axis=-1), minlength=probs.shape[-1]).astype(np.float64)
  p = counts / counts.sum()
  p = p[p > 0]
  return float(max(0.0, -(p * np.log(p)).sum()))  # max: no -0.0 when one class is all there is


def image_grid(images: np.ndarray, columns: int = 8) -> np.ndarray:
  """``[n, h, w, 1]`` in [0, 1] -> uint8 ``[rows * (h + 1) + 1, columns * (w + 1) + 1]``, 1-pixel grey borders."""
  n, h, w, _ = images.shape
  rows = -(-n // columns)
  grid = np.full((rows * (h + 1) + 1, columns * (w + 1) + 1), 128, np.uint8)
  pixels = np.round(np.clip(images[..., 0], 0.0, 1.0) * 255).astype(np.uint8)
  for i in range(n):
    r, c = divmod(i, columns)
    grid[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + c * (w + 1): 1 + c * (w + 1) + w] = pixels[i]
  return grid

