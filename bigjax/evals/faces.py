"""Face recognition on the host (NumPy): identification, verification ROC, and the classical baselines.

Identification (closed set, rank 1): each probe takes the label of its most similar gallery vector. Similarity is
cosine similarity or the negative euclidean distance (`similarity`); where several gallery vectors are equally
similar (equal computed scores), the one of lowest gallery index wins, as ``np.argmax`` picks.

Verification: every unordered pair of a set (i < j) is a "same" or a "different" pair; a pair is accepted when its
score (higher = more similar) is >= a threshold. The ROC is tie-aware: pairs of equal score are accepted together,
so they form one step of the curve, and its AUC equals the Mann-Whitney statistic P(s_same > s_diff) +
P(s_same = s_diff) / 2 (scikit-learn's ``roc_curve(drop_intermediate=False)`` and ``roc_auc_score`` agree).

Baselines, each a fixed linear projection of the flattened pixels followed by 1-NN (euclidean) in its space:
  eigenfaces   (Turk & Pentland 1991): pixels centred on the training mean, the top principal directions of the
               training images (SVD of the centred [N, pixels] matrix).
  fisherfaces  (Belhumeur, Hespanha & Kriegman 1997): PCA to N - c dimensions (N training images, c classes), so
               the within-class scatter is nonsingular there (or fewer: `fisher_projection`'s
               ``pca_components``), then Fisher's LDA to c - 1 dimensions: the
               generalised eigenvectors of S_B w = lambda S_W w, largest lambda first, scaled so W' S_W W = I.
               (The paper fixes the directions, not their scale; this scale is scikit-learn's ``solver="eigen"``
               up to one common factor sqrt(N), which 1-NN ignores, and it makes the euclidean distance there the
               within-class Mahalanobis distance.)
"""

import numpy as np
import scipy.linalg
import scipy.spatial.distance
import scipy.stats

METRICS = ("cosine", "euclidean")


def similarity(a: np.ndarray, b: np.ndarray, metric: str = "cosine") -> np.ndarray:
  """``[n, m]`` float64 similarity (higher = more alike) of rows ``a`` ``[n, d]`` and ``b`` ``[m, d]``.

  "cosine": the cosine of the angle (a zero vector has similarity 0 with everything); "euclidean": minus the
  distance, each pair computed on its own (``cdist``), so identical rows give exactly equal scores.
  """
  a, b = _rows(a, "a"), _rows(b, "b")
  if a.shape[1] != b.shape[1]:
    raise ValueError(f"vectors of different lengths: {a.shape[1]} and {b.shape[1]}")
  if metric == "euclidean":
    return -scipy.spatial.distance.cdist(a, b, "euclidean")
  if metric == "cosine":
    return _unit(a) @ _unit(b).T
  raise ValueError(f"unknown metric {metric!r}; valid metrics: {', '.join(METRICS)}")


def nearest_neighbour_labels(gallery: np.ndarray, gallery_labels: np.ndarray, probes: np.ndarray,
                             metric: str = "euclidean") -> np.ndarray:
  """``[m]``: the label of each probe's most similar gallery row (ties: the lowest gallery index)."""
  gallery_labels = np.asarray(gallery_labels)
  if len(gallery_labels) != len(gallery):
    raise ValueError(f"{len(gallery)} gallery vectors but {len(gallery_labels)} gallery labels")
  return gallery_labels[np.argmax(similarity(probes, gallery, metric), axis=1)]


def identification_accuracy(gallery: np.ndarray, gallery_labels: np.ndarray, probes: np.ndarray,
                            probe_labels: np.ndarray, metric: str = "cosine") -> float:
  """Rank-1 identification accuracy of probes ``[m, d]`` against a gallery ``[n, d]`` (module docstring)."""
  probe_labels = np.asarray(probe_labels)
  if len(probe_labels) != len(probes):
    raise ValueError(f"{len(probes)} probes but {len(probe_labels)} probe labels")
  return float(np.mean(nearest_neighbour_labels(gallery, gallery_labels, probes, metric) == probe_labels))


def verification_pairs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """All unordered pairs of a set of ``[n]`` labels: ``(i, j, same)``, each ``[n (n - 1) / 2]``, i < j, in
  row-major order (0, 1), (0, 2), ..., (1, 2), ...; ``same`` is True where the two labels are equal."""
  labels = np.asarray(labels).reshape(-1)
  i, j = np.triu_indices(len(labels), k=1)
  return i, j, labels[i] == labels[j]


def verification_scores(embeddings: np.ndarray, labels: np.ndarray,
                        metric: str = "cosine") -> tuple[np.ndarray, np.ndarray]:
  """``(scores, same)`` of every pair of `verification_pairs`: `similarity` of the two embeddings ``[n, d]``."""
  embeddings = _rows(embeddings, "embeddings")
  if len(labels) != len(embeddings):
    raise ValueError(f"{len(embeddings)} embeddings but {len(labels)} labels")
  i, j, same = verification_pairs(labels)
  return similarity(embeddings, embeddings, metric)[i, j], same


def roc_curve(scores: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """``(far, tar, thresholds)``, each ``[k + 1]`` for k distinct scores: accepting every pair of score >=
  ``thresholds[t]`` accepts the share ``far[t]`` of different pairs and ``tar[t]`` of same pairs. Thresholds
  are the distinct scores in descending order after a leading +inf (nothing accepted: the point (0, 0))."""
  scores, same = _checked(scores, same)
  order = np.argsort(-scores, kind="stable")
  sorted_scores, sorted_same = scores[order], same[order]
  group_end = np.r_[np.flatnonzero(np.diff(sorted_scores) != 0), len(scores) - 1]  # last of each tied run
  true_accepts = np.cumsum(sorted_same)[group_end]
  false_accepts = (group_end + 1) - true_accepts
  return (np.r_[0.0, false_accepts / (~same).sum()], np.r_[0.0, true_accepts / same.sum()],
          np.r_[np.inf, sorted_scores[group_end]])


def roc_auc(scores: np.ndarray, same: np.ndarray) -> float:
  """Area under `roc_curve`: the Mann-Whitney U of same over different scores / (#same #different), ties
  counted 1/2, from the average ranks of the scores."""
  scores, same = _checked(scores, same)
  num_same, num_different = int(same.sum()), int((~same).sum())
  rank_sum = scipy.stats.rankdata(scores, method="average")[same].sum()
  return float((rank_sum - num_same * (num_same + 1) / 2) / (num_same * num_different))


def tar_at_far(scores: np.ndarray, same: np.ndarray, far: float) -> float:
  """True accept rate at false accept rate ``far``: the highest TAR of any threshold that accepts at most
  ``far`` x #different of the different pairs (an operating point of `roc_curve`, never interpolated between
  two: that would need a randomised decision). Tied scores are accepted together, so a tie across the limit
  is left out whole; ``far=0`` gives the share of same pairs scored above every different pair."""
  if not 0.0 <= far <= 1.0:
    raise ValueError(f"far must lie in [0, 1], got {far}")
  false_rate, true_rate, _ = roc_curve(scores, same)  # k / n correctly rounded: FAR 195 / 19500 == 0.01
  return float(true_rate[false_rate <= far].max())


# ====================================================================================== classical baselines

def pca_projection(train_x: np.ndarray, num_components: int) -> tuple[np.ndarray, np.ndarray]:
  """``(mean [d], basis [d, k])``: the training mean and the top ``num_components`` principal directions of
  the training images ``[N, ...]`` (flattened, float64); project with `project`. k <= N - 1, the rank of
  the centred images (further directions would be an arbitrary basis of their null space)."""
  x = _flat(train_x)
  if not 1 <= num_components <= len(x) - 1:
    raise ValueError(f"num_components={num_components}: {len(x)} training images span at most {len(x) - 1} "
                     f"directions once centred; choose 1..{len(x) - 1}")
  mean = x.mean(axis=0)
  _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
  return mean, vt[:num_components].T


def fisher_projection(train_x: np.ndarray, train_y: np.ndarray, num_components: int | None = None,
                      pca_components: int | None = None) -> tuple[np.ndarray, np.ndarray]:
  """``(mean [d], basis [d, k])`` of Fisherfaces (module docstring): PCA to ``pca_components`` (default N - c,
  the paper's), then LDA to ``num_components`` (default and most c - 1) directions, the most discriminant first.

  At N - c the within-class scatter is estimated from exactly as many degrees of freedom as it has dimensions;
  with few images per class LDA then finds directions in which each class's training images nearly coincide,
  and they generalise poorly (ORL's 5/5 splits: see scripts/face_baselines.py, where N - c loses to a PCA
  dimension chosen on validation). A smaller ``pca_components``, chosen on validation, is the usual remedy.
  """
  x, y = _flat(train_x), np.asarray(train_y).reshape(-1)
  if len(y) != len(x):
    raise ValueError(f"{len(x)} training images but {len(y)} labels")
  classes, class_of = np.unique(y, return_inverse=True)
  n, c = len(x), len(classes)
  num_components = c - 1 if num_components is None else num_components
  pca_components = n - c if pca_components is None else pca_components
  if not 1 <= num_components <= c - 1:
    raise ValueError(f"num_components={num_components}: LDA of {c} classes has 1..{c - 1} directions")
  if not num_components <= pca_components <= n - c:
    raise ValueError(f"pca_components={pca_components}: {n} images of {c} classes need {num_components} (the "
                     f"LDA directions) <= pca_components <= N - c = {n - c} (the rank of the within-class "
                     f"scatter; at least 2 images per class)")
  mean, pca = pca_projection(x, pca_components)
  z = (x - mean) @ pca  # [n, pca_components], centred
  class_means = np.stack([z[class_of == k].mean(axis=0) for k in range(c)])
  within = z - class_means[class_of]
  counts = np.bincount(class_of, minlength=c)
  s_within = within.T @ within
  s_between = (class_means * counts[:, None]).T @ class_means
  try:
    eigenvalues, eigenvectors = scipy.linalg.eigh(s_between, s_within)  # normalised: W' S_W W = I
  except np.linalg.LinAlgError as error:
    raise ValueError(f"the within-class scatter is singular after PCA to {pca_components} dimensions ({error}): "
                     f"duplicate or degenerate training images?") from None
  order = np.argsort(-eigenvalues, kind="stable")[:num_components]
  return mean, pca @ eigenvectors[:, order]


def project(x: np.ndarray, mean: np.ndarray, basis: np.ndarray) -> np.ndarray:
  """``[n, k]``: images ``[n, ...]`` flattened, centred on ``mean`` and projected onto ``basis`` ``[d, k]``."""
  return (_flat(x) - mean) @ basis


def eigenfaces(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, num_components: int) -> np.ndarray:
  """``[m]`` predicted labels of ``test_x`` ``[m, ...]``: 1-NN (euclidean) among the training images ``[N, ...]``
  in the space of their top ``num_components`` principal directions (Turk & Pentland 1991)."""
  mean, basis = pca_projection(train_x, num_components)
  return nearest_neighbour_labels(project(train_x, mean, basis), train_y, project(test_x, mean, basis),
                                  "euclidean")


def fisherfaces(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, num_components: int | None = None,
                pca_components: int | None = None) -> np.ndarray:
  """``[m]`` predicted labels of ``test_x``: 1-NN (euclidean) in the Fisherfaces space of the training images
  (Belhumeur et al. 1997; `fisher_projection`, PCA to N - c unless ``pca_components`` says otherwise)."""
  mean, basis = fisher_projection(train_x, train_y, num_components, pca_components)
  return nearest_neighbour_labels(project(train_x, mean, basis), train_y, project(test_x, mean, basis),
                                  "euclidean")


# ====================================================================================== helpers

def _flat(x: np.ndarray) -> np.ndarray:
  x = np.asarray(x, np.float64)
  return x.reshape(len(x), -1)


def _rows(x: np.ndarray, name: str) -> np.ndarray:
  x = np.asarray(x, np.float64)
  if x.ndim != 2:
    raise ValueError(f"{name} must be [n, d] vectors, got shape {x.shape}")
  return x


def _unit(x: np.ndarray) -> np.ndarray:
  norms = np.linalg.norm(x, axis=1, keepdims=True)
  return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def _checked(scores: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  scores, same = np.asarray(scores, np.float64).reshape(-1), np.asarray(same).reshape(-1)
  if len(scores) != len(same):
    raise ValueError(f"{len(scores)} scores but {len(same)} same/different flags")
  if not np.all(np.isfinite(scores)):
    raise ValueError("scores must be finite (a NaN or inf score has no place on the ROC)")
  same = same.astype(bool)
  if same.all() or not same.any():
    raise ValueError(f"the ROC needs both same and different pairs; got {int(same.sum())} same of {len(same)}")
  return scores, same
