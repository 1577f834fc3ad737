"""bigjax.evals.faces: identification and verification metrics against hand-computed values and scikit-learn,
eigenfaces and Fisherfaces against scikit-learn's PCA / LDA + 1-NN, and scripts/face_baselines.py's guards."""

import subprocess
import sys

import numpy as np
import pytest
import threadpoolctl
from scipy.spatial.distance import cdist
from sklearn import metrics as sk_metrics
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.neighbors import KNeighborsClassifier

from bigjax.data import vision_sets
from bigjax.evals import faces
from conftest import REPO, load_module, requires_data

requires_orl = requires_data("orl_faces/att_faces/s1/1.pgm")


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
  """The SVDs here take 0.3 s on one thread and several seconds when OpenBLAS threads contend for a shared CPU."""
  with threadpoolctl.threadpool_limits(1):
    yield


# ====================================================================================== identification

def test_identification_takes_the_nearest_gallery_label_and_the_lowest_index_on_ties():
  gallery = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [2.0, 0.0]])
  labels = np.array([7, 8, 9, 8])
  probes = np.array([[0.9, 0.1], [0.5, 0.5], [0.0, 3.0], [1.6, 0.0]])
  # euclidean: (0.5, 0.5) is sqrt(0.5) from the first three (a tie: index 0); (1.6, 0) is nearer (2, 0).
  assert list(faces.nearest_neighbour_labels(gallery, labels, probes, "euclidean")) == [8, 7, 9, 8]
  # cosine: the zero vector scores 0; (0.5, 0.5) ties between (1, 0) and (0, 1): index 1; (1.6, 0) ties
  # between (1, 0) and (2, 0) (the same direction): index 1.
  assert list(faces.nearest_neighbour_labels(gallery, labels, probes, "cosine")) == [8, 8, 9, 8]
  assert faces.identification_accuracy(gallery, labels, probes, [8, 7, 9, 9], "euclidean") == 0.75
  assert faces.identification_accuracy(gallery, labels, probes, [8, 7, 9, 9], "cosine") == 0.5


def test_similarity_values():
  a, b = np.array([[3.0, 4.0]]), np.array([[0.0, 0.0], [3.0, 0.0], [-3.0, -4.0]])
  np.testing.assert_allclose(faces.similarity(a, b, "euclidean"), [[-5.0, -4.0, -10.0]])
  np.testing.assert_allclose(faces.similarity(a, b, "cosine"), [[0.0, 0.6, -1.0]])


@pytest.mark.parametrize("call, message", [
    (lambda: faces.identification_accuracy(np.zeros((3, 2)), [0, 1], np.zeros((1, 2)), [0]), "gallery labels"),
    (lambda: faces.identification_accuracy(np.zeros((3, 2)), [0, 1, 2], np.zeros((2, 2)), [0]), "probe labels"),
    (lambda: faces.similarity(np.zeros((3, 2)), np.zeros((3, 3))), "different lengths"),
    (lambda: faces.similarity(np.zeros((3, 2)), np.zeros((3, 2)), "manhattan"), "unknown metric"),
    (lambda: faces.similarity(np.zeros(3), np.zeros((3, 3))), r"\[n, d\]"),
])
def test_identification_refuses_bad_input(call, message):
  with pytest.raises(ValueError, match=message):
    call()


# ====================================================================================== verification

def test_verification_pairs_and_scores():
  i, j, same = faces.verification_pairs([5, 5, 6, 5])
  assert list(zip(i, j)) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
  assert list(same) == [True, False, True, False, True, False]
  embeddings = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 0.0], [0.0, 2.0]])
  scores, same = faces.verification_scores(embeddings, [5, 5, 6, 5], "euclidean")
  np.testing.assert_allclose(scores, [-5.0, -1.0, -2.0, -np.hypot(2, 4), -np.hypot(3, 2), -np.hypot(1, 2)])
  with pytest.raises(ValueError, match="3 labels"):
    faces.verification_scores(embeddings, [5, 5, 6], "euclidean")


def test_roc_auc_and_tar_hand_computed():
  scores, same = [0.9, 0.8, 0.8, 0.3, 0.1], [True, False, True, False, True]
  far, tar, thresholds = faces.roc_curve(scores, same)
  np.testing.assert_allclose(far, [0, 0, 1 / 2, 1, 1])  # the tie at 0.8 is one step: a same and a different
  np.testing.assert_allclose(tar, [0, 1 / 3, 2 / 3, 2 / 3, 1])
  np.testing.assert_array_equal(thresholds, [np.inf, 0.9, 0.8, 0.3, 0.1])
  # same > different: 0.9 > 0.8, 0.9 > 0.3, 0.8 > 0.3, the tie 0.8 = 0.8 counts 1/2; 0.1 wins none: 3.5 / 6
  assert faces.roc_auc(scores, same) == pytest.approx(7 / 12, abs=1e-15)
  assert faces.tar_at_far(scores, same, 0.0) == pytest.approx(1 / 3)
  assert faces.tar_at_far(scores, same, 0.49) == pytest.approx(1 / 3)  # the tie at 0.8 would make FAR 1/2
  assert faces.tar_at_far(scores, same, 0.5) == pytest.approx(2 / 3)
  assert faces.tar_at_far(scores, same, 1.0) == 1.0


def test_roc_and_auc_equal_scikit_learn_on_random_scores_with_ties():
  rng = np.random.default_rng(0)
  for trial in range(30):
    n = int(rng.integers(2, 300))
    same = rng.random(n) < rng.uniform(0.05, 0.95)
    same[:2] = [True, False]
    levels = int(rng.integers(1, 12))  # few levels: many ties (1: every score tied)
    scores = rng.integers(0, levels, n) / 3.0 + same * rng.uniform(0, 1)  # informative, still tied
    scores = np.round(scores, 1)
    far, tar, thresholds = faces.roc_curve(scores, same)
    sk_far, sk_tar, sk_thresholds = sk_metrics.roc_curve(same, scores, drop_intermediate=False)
    np.testing.assert_allclose(far, sk_far, atol=1e-15, err_msg=f"trial {trial}")
    np.testing.assert_allclose(tar, sk_tar, atol=1e-15, err_msg=f"trial {trial}")
    np.testing.assert_array_equal(thresholds, sk_thresholds)
    auc = faces.roc_auc(scores, same)
    assert auc == pytest.approx(sk_metrics.roc_auc_score(same, scores), abs=1e-12)
    assert auc == pytest.approx(np.trapezoid(tar, far), abs=1e-12)  # the area under our own curve
    diff = scores[same][:, None] - scores[~same][None, :]  # the Mann-Whitney count, pair by pair
    assert auc == pytest.approx(((diff > 0) + 0.5 * (diff == 0)).mean(), abs=1e-12)
    for limit in (0.0, 0.01, 0.1, 0.33, 1.0):  # the best operating point within the limit, from sklearn's ROC
      expected = sk_tar[sk_far <= limit].max()
      assert faces.tar_at_far(scores, same, limit) == expected


def test_tar_at_far_at_the_limit_and_a_tie_across_it():
  # 195 of 19,500 different pairs is FAR 1% exactly: allowed; a tied step that crosses the limit is not
  scores = np.r_[np.full(10, 2.0), np.full(5, 1.0), np.arange(195) * 1e-3 + 0.5, np.zeros(19305)]
  same = np.r_[np.ones(15, bool), np.zeros(19500, bool)]
  assert faces.tar_at_far(scores, same, 0.01) == 1.0
  assert faces.tar_at_far(scores, same, 0.0) == 1.0
  scores[15:210] = 1.0  # the 195 different pairs now tie with 5 same pairs at 1.0: all or none
  assert faces.tar_at_far(scores, same, 0.01) == 1.0
  assert faces.tar_at_far(scores, same, 0.0099) == pytest.approx(10 / 15)
  scores[210] = 1.0  # 196 false accepts at 1.0: over 1%
  assert faces.tar_at_far(scores, same, 0.01) == pytest.approx(10 / 15)


@pytest.mark.parametrize("scores, same, message", [
    ([0.1, 0.2], [True, True], "both same and different"),
    ([0.1, 0.2], [False, False], "both same and different"),
    ([0.1, np.nan], [True, False], "finite"),
    ([0.1, 0.2, 0.3], [True, False], "3 scores but 2"),
])
def test_roc_refuses_bad_input(scores, same, message):
  for fn in (faces.roc_curve, faces.roc_auc):
    with pytest.raises(ValueError, match=message):
      fn(scores, same)


def test_tar_at_far_refuses_a_rate_outside_0_1():
  with pytest.raises(ValueError, match=r"\[0, 1\]"):
    faces.tar_at_far([0.1, 0.2], [True, False], 1.5)


# ====================================================================================== eigenfaces, Fisherfaces

def _synthetic(num_classes=12, per_class=5, dim=300, noise=2.5, seed=0):
  """Images [n, 15, 20] of class centres plus noise: hard enough that 1-NN makes mistakes."""
  rng = np.random.default_rng(seed)
  centres = rng.normal(size=(num_classes, dim))
  y = np.repeat(np.arange(num_classes), per_class)
  train = centres[y] + noise * rng.normal(size=(len(y), dim))
  test = centres[y] + noise * rng.normal(size=(len(y), dim))
  return train.reshape(-1, 15, 20), y, test.reshape(-1, 15, 20), y


def _sklearn_eigenfaces(train_x, train_y, test_x, k):
  pca = PCA(k, svd_solver="full").fit(train_x.reshape(len(train_x), -1))
  a, b = pca.transform(train_x.reshape(len(train_x), -1)), pca.transform(test_x.reshape(len(test_x), -1))
  return KNeighborsClassifier(1).fit(a, train_y).predict(b), a, b


def _sklearn_fisherfaces(train_x, train_y, test_x, solver, pca_components=None):
  n, c = len(train_x), len(np.unique(train_y))
  pca = PCA(n - c if pca_components is None else pca_components, svd_solver="full")
  a = pca.fit_transform(train_x.reshape(n, -1).astype(np.float64))
  b = pca.transform(test_x.reshape(len(test_x), -1).astype(np.float64))
  lda = LinearDiscriminantAnalysis(solver=solver).fit(a, train_y)
  a, b = lda.transform(a), lda.transform(b)
  return KNeighborsClassifier(1).fit(a, train_y).predict(b), a, b


def _check_eigenfaces(train_x, train_y, test_x, k):
  expected, a, b = _sklearn_eigenfaces(train_x, train_y, test_x, k)
  np.testing.assert_array_equal(faces.eigenfaces(train_x, train_y, test_x, k), expected)
  mean, basis = faces.pca_projection(train_x, k)  # the same space up to the signs of its axes
  np.testing.assert_allclose(cdist(faces.project(test_x, mean, basis), faces.project(train_x, mean, basis)),
                             cdist(b, a), rtol=1e-9)
  return expected


def _check_fisherfaces(train_x, train_y, test_x, pca_components=None):
  """Same predictions as PCA + LDA + 1-NN of scikit-learn; our directions are its directions up to sign and the
  common factor sqrt(N) (its scatter matrices are ours / N: W' (S_W / N) W = I), so distances agree x sqrt(N)."""
  mean, basis = faces.fisher_projection(train_x, train_y, pca_components=pca_components)
  ours = cdist(faces.project(test_x, mean, basis), faces.project(train_x, mean, basis))
  predictions = faces.fisherfaces(train_x, train_y, test_x, pca_components=pca_components)
  for solver in ("eigen", "svd"):
    expected, a, b = _sklearn_fisherfaces(train_x, train_y, test_x, solver, pca_components)
    np.testing.assert_array_equal(predictions, expected, err_msg=solver)
    np.testing.assert_allclose(ours * np.sqrt(len(train_x)), cdist(b, a), rtol=1e-7, err_msg=solver)
  return predictions


def test_eigenfaces_and_fisherfaces_equal_scikit_learn_on_synthetic_faces():
  train_x, train_y, test_x, test_y = _synthetic()
  for k in (5, 20, 59):
    accuracy = np.mean(_check_eigenfaces(train_x, train_y, test_x, k) == test_y)
    assert 0.2 < accuracy < 1.0, k  # mistakes to agree on
  for m in (None, 20):
    accuracy = np.mean(_check_fisherfaces(train_x, train_y, test_x, m) == test_y)
    assert 0.2 < accuracy < 1.0, m
  mean, basis = faces.fisher_projection(train_x, train_y, num_components=4)
  assert basis.shape == (300, 4)


@requires_orl
def test_eigenfaces_and_fisherfaces_equal_scikit_learn_on_orl():
  images, labels = vision_sets.load_orl_faces()
  train, test = vision_sets.orl_split(0)
  eigen = _check_eigenfaces(images[train], labels[train], images[test], 40)
  assert np.mean(eigen == labels[test]) > 0.9
  fisher = _check_fisherfaces(images[train], labels[train], images[test], 60)
  assert np.mean(fisher == labels[test]) > 0.9
  _check_fisherfaces(images[train], labels[train], images[test])  # N - c = 160: poor, but the same mistakes


@pytest.mark.parametrize("kwargs, message", [
    ({"num_components": 12}, r"1\.\.11"),
    ({"pca_components": 49}, "N - c = 48"),
    ({"num_components": 8, "pca_components": 6}, "8 .* <= pca_components"),
])
def test_fisher_projection_refuses_impossible_sizes(kwargs, message):
  train_x, train_y, _, _ = _synthetic(per_class=5)
  with pytest.raises(ValueError, match=message):
    faces.fisher_projection(train_x, train_y, **kwargs)


def test_projections_refuse_impossible_sizes():
  train_x, train_y, _, _ = _synthetic(num_classes=4, per_class=1)
  with pytest.raises(ValueError, match="N - c = 0"):
    faces.fisher_projection(train_x, train_y)
  with pytest.raises(ValueError, match=r"choose 1\.\.3"):
    faces.pca_projection(train_x, 4)
  with pytest.raises(ValueError, match="3 labels"):
    faces.fisher_projection(train_x, train_y[:3])


# ====================================================================================== scripts/face_baselines.py

SCRIPT = REPO / "scripts" / "face_baselines.py"


def test_baselines_script_refuses_to_overwrite_its_record(tmp_path):
  record = tmp_path / "record.json"
  record.write_text("kept\n")
  done = subprocess.run([sys.executable, str(SCRIPT), "--json", str(record)], capture_output=True, text=True,
                        timeout=60)
  assert done.returncode == 2
  assert done.stderr.strip().count("\n") == 0 and "refusing to overwrite" in done.stderr
  assert record.read_text() == "kept\n"


def test_baselines_validation_is_one_training_image_per_person_and_ties_choose_the_smaller_count():
  script = load_module(SCRIPT)
  labels = np.repeat(np.arange(40), 10)
  for seed in (0, 3):
    train, test = vision_sets.orl_split(seed)
    held = vision_sets.orl_validation_rows(train, labels, seed)  # what the script and orl_dataset hold out
    assert np.isin(held, train).all() and not np.isin(held, test).any()
    assert sorted(labels[held]) == list(range(40))
  assert script.choose({10: 0.9, 20: 0.95, 40: 0.95, 60: 0.9}) == 20
