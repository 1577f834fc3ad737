"""Face recognition: the margin logits against their formulas in float64, FaceNet's embeddings, the ORL splits
as the loop reads them, and a smoke run scored by identification and verification."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigjax import train
from bigjax.data import augment, vision_sets
from bigjax.models import face

from conftest import load_config, requires_data

requires_orl = requires_data("orl_faces/att_faces/s1/1.pgm")


def reference_logits(cosines, labels, kind, s, m):
  """float64, one entry at a time, from the papers' definitions."""
  out = np.array(cosines, np.float64) * s
  for i, y in enumerate(labels):
    c = float(cosines[i, y])
    theta = math.acos(c)
    if kind == "arcface":
      out[i, y] = s * (math.cos(theta + m) if theta + m <= math.pi else c - m * math.sin(m))
    elif kind == "cosface":
      out[i, y] = s * (c - m)
  return out


@pytest.mark.parametrize("kind", face.MARGINS)
def test_margin_logits_against_the_definitions(kind):
  rng = np.random.default_rng(0)
  cosines = rng.uniform(-0.999, 0.999, (6, 5)).astype(np.float32)
  cosines[0, 2] = -0.95  # theta + m past pi: ArcFace's continuation
  labels = np.array([2, 0, 4, 1, 1, 3])
  got = face.margin_logits(jnp.asarray(cosines), jnp.asarray(labels), kind, 30.0, 0.5)
  np.testing.assert_allclose(got, reference_logits(cosines, labels, kind, 30.0, 0.5), rtol=2e-5, atol=2e-4)


def test_arcface_gradient_against_finite_differences():
  rng = np.random.default_rng(1)
  cosines = rng.uniform(-0.9, 0.9, (4, 3))
  labels = np.array([0, 2, 1, 2])

  def reference_loss(c):
    logits = reference_logits(c, labels, "arcface", 8.0, 0.3)
    logits -= logits.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(logits).sum(axis=1)) - logits[np.arange(4), labels]))

  def loss(c):
    logits = face.margin_logits(c, jnp.asarray(labels), "arcface", 8.0, 0.3)
    return jnp.mean(jax.nn.logsumexp(logits, axis=1) - logits[jnp.arange(4), labels])

  grad = np.asarray(jax.grad(loss)(jnp.asarray(cosines, jnp.float32)))
  h, numeric = 1e-6, np.zeros_like(cosines)
  for i in range(4):
    for j in range(3):
      up, down = cosines.copy(), cosines.copy()
      up[i, j] += h
      down[i, j] -= h
      numeric[i, j] = (reference_loss(up) - reference_loss(down)) / (2 * h)
  np.testing.assert_allclose(grad, numeric, rtol=1e-3, atol=1e-4)


def test_unknown_margin_is_named():
  with pytest.raises(ValueError, match="unknown margin 'sphere'"):
    face.margin_logits(jnp.zeros((1, 2)), jnp.zeros((1,), jnp.int32), "sphere", 1.0, 0.1)


def test_facenet_embeddings_are_unit_vectors_and_cosines_their_products():
  model = face.FaceNet(num_classes=5, embed_dim=8, widths=(4, 8), downsample=2)
  images = jax.random.uniform(jax.random.key(0), (3, 28, 24, 1))
  params = model.init(jax.random.key(1), images)["params"]
  embeddings, cosines = model.apply({"params": params}, images)
  assert embeddings.shape == (3, 8) and cosines.shape == (3, 5)
  np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-5)
  centres = np.asarray(params["centres"], np.float64)
  centres /= np.linalg.norm(centres, axis=1, keepdims=True)
  np.testing.assert_allclose(cosines, np.asarray(embeddings, np.float64) @ centres.T, rtol=1e-4, atol=1e-5)


@requires_orl
def test_orl_splits_as_the_loop_reads_them():
  train_split = vision_sets.orl_dataset("train", 3, validating=True)
  validation = vision_sets.orl_dataset("validation", 3, validating=True)
  everything = vision_sets.orl_dataset("train", 3)
  test = vision_sets.orl_dataset("test", 3)
  assert (len(train_split), len(validation), len(everything), len(test)) == (160, 40, 200, 200)
  for split, per_person in ((train_split, 4), (validation, 1), (everything, 5), (test, 5)):
    assert np.array_equal(np.bincount(split.labels, minlength=40), np.full(40, per_person))
    assert split.images.shape[1:] == (112, 92, 1) and split.images.dtype == np.float32
  # the validation faces are training faces, held out; none is a test face
  as_rows = lambda d: {d.images[i].tobytes() for i in range(len(d))}
  assert as_rows(validation) | as_rows(train_split) == as_rows(everything)
  assert not as_rows(validation) & as_rows(train_split) and not as_rows(everything) & as_rows(test)
  with pytest.raises(ValueError, match="validation split"):
    vision_sets.orl_dataset("validation", 3)


@requires_orl
def test_smoke_config_trains_and_is_scored_by_identification_and_verification(tmp_path):
  results = train.run(load_config("face_orl", "smoke"), tmp_path / "run")
  metrics = results["final_metrics"]
  for split in ("validation", "test"):
    assert 0.0 <= metrics[f"{split}/identification"] <= 1.0
    assert np.isfinite(metrics[f"{split}/loss"])
  assert 0.0 <= metrics["test/verification_auc"] <= 1.0  # 5 faces a person: same-person pairs to verify
  assert "validation/verification_auc" not in metrics      # 1 a person: none
  assert (tmp_path / "run" / "tensorboard").exists()


def test_shift_image_moves_pixels_and_repeats_the_edges():
  image = jnp.asarray(np.arange(30, dtype=np.float32).reshape(5, 6, 1))
  seen = set()
  for seed in range(300):
    out = np.asarray(augment.shift_image(image, jax.random.key(seed), 2))[..., 0]
    # Recover (dy, dx) from where the centre pixel went, then compare with the shifted, edge-clamped reference.
    (dy, dx), = np.argwhere(out == 14) - [2, 2]  # an interior pixel lands exactly once
    ys = np.clip(np.arange(5) - dy, 0, 4)
    xs = np.clip(np.arange(6) - dx, 0, 5)
    np.testing.assert_array_equal(out, np.asarray(image)[..., 0][np.ix_(ys, xs)])
    seen.add((dy, dx))
  assert seen == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}


@requires_orl
def test_augmented_training_keeps_the_loss_finite_and_refuses_a_negative_shift(tmp_path):
  config = load_config("face_orl", "smoke")
  config.task.flip, config.task.shift = True, 2
  metrics = train.run(config, tmp_path / "run")["final_metrics"]
  assert np.isfinite(metrics["train/loss"])
  config.task.shift = -1
  with pytest.raises(ValueError, match="config.task.shift=-1"):
    train.run(config, tmp_path / "bad")
