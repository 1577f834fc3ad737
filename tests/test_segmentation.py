"""Segmentation: the augmentation against SciPy and hand-computed cases, the U-Net's shapes and a small fit, the
task's metrics against bigjax.evals.segmentation's NumPy definitions (padding ignored), the ISBI folds and the
Penn-Fudan masks as the loop reads them, smoke runs, and scripts/segmentation_baselines.py."""

import json
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from scipy import ndimage

from bigjax import train
from bigjax.data import augment, vision_sets
from bigjax.evals import segmentation as seg
from bigjax.models import unet
from bigjax.tasks import segmentation

from conftest import load_config, requires_data

requires_isbi = requires_data("isbi_em/train/image/0.png")
requires_penn_fudan = requires_data("penn_fudan/PennFudanPed/PedMasks/FudanPed00001_mask.png")
REPO = pathlib.Path(__file__).resolve().parents[1]


def task_config(**overrides):
  fields = dict(crop=0, flips="none", elastic_grid=3, elastic_sigma=0.0, grey_jitter=0.0, rand_error=True)
  return ml_collections.ConfigDict({**fields, **overrides})


# ====================================================================================== augmentation

def test_dihedral_gives_the_eight_symmetries_of_the_square_to_image_and_target_alike():
  image = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
  seen = set()
  for k in range(8):
    out, target = augment.dihedral(jnp.asarray(image), jnp.asarray(image[..., 0].astype(np.int32)), k)
    np.testing.assert_array_equal(np.asarray(out)[..., 0], np.asarray(target))
    seen.add(np.asarray(target).tobytes())
  assert len(seen) == 8
  np.testing.assert_array_equal(augment.dihedral(jnp.asarray(image), jnp.zeros((4, 4)), 0)[0], image)
  np.testing.assert_array_equal(augment.dihedral(jnp.asarray(image), jnp.zeros((4, 4)), 4)[0], image[:, ::-1])
  with pytest.raises(ValueError, match="square"):
    augment.dihedral(jnp.zeros((4, 5, 1)), jnp.zeros((4, 5)), 1)


def test_cubic_weights_are_keys_and_the_field_passes_through_its_lattice():
  np.testing.assert_allclose(augment._cubic_weights(jnp.float32(0.0)), [0, 1, 0, 0], atol=1e-7)
  t = jnp.linspace(0, 0.99, 7)
  np.testing.assert_allclose(augment._cubic_weights(t).sum(-1), 1.0, rtol=1e-6)
  rng = jax.random.PRNGKey(3)
  field = np.asarray(augment.elastic_field(rng, (41, 41), 5, 10.0))
  drawn = 10.0 * np.asarray(jax.random.normal(rng, (2, 5, 5), jnp.float32))
  np.testing.assert_allclose(field[:, ::10, ::10], drawn, rtol=1e-5, atol=1e-4)  # lattice point i at pixel 10 i
  assert np.all(augment.elastic_field(rng, (8, 8), 3, 0.0) == 0)


def test_bicubic_reproduces_a_linear_ramp_between_interior_lattice_points():
  values = jnp.asarray(np.add.outer(np.arange(5.0), 2 * np.arange(5.0)), jnp.float32)  # v(i, j) = i + 2 j
  coords = jnp.linspace(1.0, 3.0, 9)
  got = augment._bicubic(values, coords, coords)
  np.testing.assert_allclose(got, np.add.outer(np.asarray(coords), 2 * np.asarray(coords)), rtol=1e-5, atol=1e-5)


def test_warp_crop_samples_as_scipy_does():
  rng = np.random.default_rng(0)
  image = rng.uniform(size=(24, 20, 2)).astype(np.float32)
  target = (rng.uniform(size=(24, 20)) > 0.5).astype(np.int32)
  field = np.asarray(augment.elastic_field(jax.random.PRNGKey(1), (24, 20), 3, 3.0))
  corner = np.array([2, 5])
  got_image, got_target = augment.warp_crop(jnp.asarray(image), jnp.asarray(target), jnp.asarray(field),
                                            jnp.asarray(corner), 12)
  ys, xs = np.meshgrid(np.arange(12) + 2, np.arange(12) + 5, indexing="ij")
  coords = [ys + field[0, 2:14, 5:17], xs + field[1, 2:14, 5:17]]
  for c in range(2):
    want = ndimage.map_coordinates(image[..., c].astype(np.float64), coords, order=1, mode="mirror")
    np.testing.assert_allclose(got_image[..., c], want, atol=1e-5)
  # Nearest for the target: every label read from the pixel nearest its displaced position (ties aside).
  near = ndimage.map_coordinates(target, coords, order=0, mode="mirror")
  assert np.mean(np.asarray(got_target) == near) > 0.99
  assert set(np.unique(np.asarray(got_target))) <= {0, 1}


def test_warp_crop_without_displacement_is_the_plain_window():
  image = np.arange(64, dtype=np.float32).reshape(8, 8, 1)
  target = np.arange(64).reshape(8, 8) % 3
  out, labels = augment.warp_crop(jnp.asarray(image), jnp.asarray(target), jnp.zeros((2, 8, 8)),
                                  jnp.asarray([3, 1]), 4)
  np.testing.assert_array_equal(out, image[3:7, 1:5])
  np.testing.assert_array_equal(labels, target[3:7, 1:5])


def test_augmented_example_keeps_labels_and_window_size():
  rng = np.random.default_rng(2)
  image = jnp.asarray(rng.uniform(size=(32, 32, 1)), jnp.float32)
  target = jnp.asarray(rng.integers(0, 2, (32, 32)), jnp.int32)
  config = task_config(crop=16, flips="dihedral", elastic_sigma=5.0, grey_jitter=0.2)
  out, labels = segmentation.augment_example(image, target, jax.random.PRNGKey(0), config)
  assert out.shape == (16, 16, 1) and labels.shape == (16, 16)
  assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
  assert set(np.unique(np.asarray(labels))) <= {0, 1}
  # With nothing but flips, a whole image comes back as one of its 8 symmetries, image and target alike.
  out, labels = segmentation.augment_example(image, target, jax.random.PRNGKey(5), task_config(flips="dihedral"))
  matches = [k for k in range(8) if np.array_equal(augment.dihedral(image, target, k)[1], labels)
             and np.array_equal(augment.dihedral(image, target, k)[0], out)]
  assert matches


# ====================================================================================== model

def test_unet_maps_images_to_same_sized_logits_and_refuses_odd_sides():
  model = unet.UNet(num_classes=3, widths=(4, 8, 16))
  x = jnp.zeros((2, 16, 24, 1))
  params = model.init(jax.random.PRNGKey(0), x)["params"]
  assert model.apply({"params": params}, x).shape == (2, 16, 24, 3)
  assert {"down0_0", "down0_norm0", "upconv1", "up1_1", "head"} <= set(params)
  with pytest.raises(ValueError, match="divisible by 4"):
    model.apply({"params": params}, jnp.zeros((1, 18, 24, 1)))
  with pytest.raises(ValueError, match="norm"):
    unet.UNet(num_classes=2, widths=(4, 8), norm="batch").init(jax.random.PRNGKey(0), x)


def test_unet_learns_to_segment_bright_disks():
  rng = np.random.default_rng(0)
  ys, xs = np.mgrid[:16, :16]
  centres = rng.uniform(4, 12, (32, 2))
  targets = np.stack([((ys - cy) ** 2 + (xs - cx) ** 2 < 12).astype(np.int32) for cy, cx in centres])
  images = (0.6 * targets + rng.normal(0, 0.15, targets.shape))[..., None].astype(np.float32)
  model = unet.UNet(num_classes=2, widths=(8, 16))
  params = model.init(jax.random.PRNGKey(0), images[:1])["params"]
  optimizer = optax.adam(3e-3)
  opt_state = optimizer.init(params)
  config = task_config()
  batch = {"image": jnp.asarray(images), "segmentation": jnp.asarray(targets)}

  @jax.jit
  def step(params, opt_state, key):
    (value, _), grads = jax.value_and_grad(
        lambda p: segmentation.loss(model, p, batch, key, config), has_aux=True)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, value

  for i in range(150):
    params, opt_state, value = step(params, opt_state, jax.random.PRNGKey(i))
  pred = np.asarray(jnp.argmax(model.apply({"params": params}, batch["image"]), -1))
  assert seg.pixel_error(pred, targets) < 0.05
  assert seg.foreground_iou(pred, targets) > 0.8


# ====================================================================================== task metrics

def test_evaluate_and_finalize_agree_with_the_numpy_definitions_and_ignore_padding():
  rng = np.random.default_rng(1)
  model = unet.UNet(num_classes=2, widths=(4, 8))
  images = rng.uniform(size=(5, 8, 8, 1)).astype(np.float32)
  targets = rng.integers(0, 2, (5, 8, 8)).astype(np.int32)
  params = model.init(jax.random.PRNGKey(2), images[:1])["params"]
  logits = np.asarray(model.apply({"params": params}, images), np.float64)
  preds = logits.argmax(-1)
  mask = np.array([1, 1, 1, 0, 0], np.float32)  # the last two rows are padding
  sums = segmentation.evaluate(model, params, {"image": images, "segmentation": targets, "mask": mask},
                               task_config(), 2)
  count = float(sums.pop("count"))
  assert count == 3
  got = segmentation.finalize({k: float(v) / count for k, v in sums.items()})
  real_p, real_t = preds[:3], targets[:3]
  np.testing.assert_allclose(got["pixel_error"], np.mean([seg.pixel_error(p, t) for p, t in zip(real_p, real_t)]),
                             rtol=1e-6)
  np.testing.assert_allclose(got["foreground_iou"], seg.foreground_iou(real_p, real_t), rtol=1e-6)
  np.testing.assert_allclose(got["mean_iou"], seg.mean_iou(real_p, real_t, 2), rtol=1e-6)
  shifted = logits[:3] - logits[:3].max(-1, keepdims=True)
  log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
  nll = -np.take_along_axis(log_probs, real_t[..., None], -1)[..., 0].mean(axis=(1, 2))
  np.testing.assert_allclose(got["loss"], nll.mean(), rtol=1e-5)
  assert not any(k.startswith(("intersection", "union")) for k in got)


def test_finalize_of_a_perfect_prediction_and_of_an_absent_class():
  assert segmentation.finalize({"intersection_0": 5.0, "union_0": 5.0, "intersection_1": 0.0, "union_1": 0.0}) == {
      "foreground_iou": 1.0, "mean_iou": 1.0}  # foreground absent from both: exactly right
  out = segmentation.finalize({"intersection_0": 3.0, "union_0": 4.0, "intersection_1": 1.0, "union_1": 4.0})
  assert out == {"foreground_iou": 0.25, "mean_iou": 0.5}


def test_predictions_image_colours_the_errors():
  images = np.zeros((1, 4, 4, 1), np.float32)
  targets = np.array([[[1, 1, 0, 0]] * 4])
  preds = np.array([[[1, 0, 1, 0]] * 4])
  picture = segmentation.predictions_image(images, targets, preds)
  assert picture.shape == (8, 24, 3) and picture.dtype == np.uint8
  shown = picture[2:6, 2 * 8 + 2:2 * 8 + 6]  # the third panel
  assert tuple(shown[0, 0]) == (255, 255, 255) and tuple(shown[0, 1]) == (0, 90, 255)
  assert tuple(shown[0, 2]) == (220, 0, 0) and tuple(shown[0, 3]) == (0, 0, 0)
  np.testing.assert_array_equal(picture[2:6, 8 + 2:8 + 6, 0], targets[0] * 255)


@pytest.mark.parametrize("field,value", [("flips", "mirror"), ("crop", -1), ("elastic_sigma", -2.0)])
def test_bad_task_fields_are_named(field, value):
  config = load_config("unet_penn_fudan", "smoke")
  config.task[field] = value
  model = unet.UNet(num_classes=2, widths=(4, 8))
  with pytest.raises(ValueError, match=f"config.task.{field}"):
    segmentation.make(config, model, optax.adam(1e-3))


def test_a_crop_larger_than_the_images_is_refused():
  from bigjax import tasks
  config = load_config("unet_penn_fudan", "smoke")
  config.task.crop = 64
  context = tasks.Context(train_arrays={"image": np.zeros((2, 32, 32, 3), np.float32)})
  with pytest.raises(ValueError, match="config.task.crop=64 exceeds the 32 x 32"):
    segmentation.make(config, unet.UNet(num_classes=2, widths=(4, 8)), optax.adam(1e-3), context)


# ====================================================================================== data as the loop reads it

@requires_isbi
def test_isbi_folds_as_the_loop_reads_them():
  test = vision_sets.isbi_em_dataset("test", 1)
  train_all = vision_sets.isbi_em_dataset("train", 1)
  train = vision_sets.isbi_em_dataset("train", 1, validating=True)
  validation = vision_sets.isbi_em_dataset("validation", 1, validating=True)
  assert (len(test), len(train_all), len(train), len(validation)) == (6, 24, 18, 6)
  images, membrane = vision_sets.load_isbi_em()
  np.testing.assert_array_equal(test.arrays["image"][..., 0], images[6:12])
  np.testing.assert_array_equal(validation.arrays["image"][..., 0], images[12:18])  # the next fold's slices
  np.testing.assert_array_equal(test.arrays["segmentation"], 1 - membrane[6:12])  # 1 = cell interior
  assert 0.7 < test.arrays["segmentation"].mean() < 0.85  # membranes are about a fifth of the pixels
  with pytest.raises(ValueError, match="validation split is the slices of the next fold"):
    vision_sets.isbi_em_dataset("validation", 1)


@requires_penn_fudan
def test_penn_fudan_masks_as_the_loop_reads_them():
  test = vision_sets.penn_fudan_masks_dataset("test", 64)
  assert test.arrays["image"].shape == (50, 64, 64, 3) and test.arrays["segmentation"].shape == (50, 64, 64)
  assert set(np.unique(test.arrays["segmentation"])) == {0, 1}
  raw = vision_sets.load_penn_fudan("test")
  full = np.mean([(m > 0).mean() for m in raw.masks])
  assert abs(test.arrays["segmentation"].mean() - full) < 0.01  # resizing keeps the person fraction
  with pytest.raises(ValueError, match="image_size=4"):
    vision_sets.penn_fudan_masks_dataset("test", 4)


# ====================================================================================== runs

@requires_isbi
def test_isbi_smoke_config_trains_and_is_scored_by_the_rand_error(tmp_path):
  results = train.run(load_config("unet_isbi_em", "smoke"), tmp_path / "run")
  metrics = results["final_metrics"]
  for split in ("validation", "test"):
    assert 0.0 <= metrics[f"{split}/rand_error"] <= 1.0 and 0.0 <= metrics[f"{split}/pixel_error"] <= 1.0
    assert 0.0 <= metrics[f"{split}/foreground_iou"] <= 1.0
  assert list((tmp_path / "run" / "predictions").glob("step_*.png"))


@requires_penn_fudan
def test_penn_fudan_smoke_config_trains_and_is_scored_by_iou(tmp_path):
  metrics = train.run(load_config("unet_penn_fudan", "smoke"), tmp_path / "run")["final_metrics"]
  assert 0.0 <= metrics["test/mean_iou"] <= 1.0 and "test/rand_error" not in metrics


def test_baselines_script_refuses_to_overwrite_a_record(tmp_path):
  existing = tmp_path / "record.json"
  existing.write_text("{}")
  done = subprocess.run([sys.executable, str(REPO / "scripts" / "segmentation_baselines.py"), "--json",
                         str(existing)], capture_output=True, text=True)
  assert done.returncode == 2 and "refusing to overwrite" in done.stderr
  assert existing.read_text() == "{}"


def test_baseline_scores_are_the_tasks_metrics():
  import importlib.util
  spec = importlib.util.spec_from_file_location("segmentation_baselines",
                                                REPO / "scripts" / "segmentation_baselines.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  targets = np.array([[[1, 1], [0, 0]], [[1, 0], [0, 0]]])
  preds = np.ones_like(targets, bool)
  got = module.scores(preds, targets, rand=False)
  assert got == {"pixel_error": (0.5 + 0.75) / 2, "foreground_iou": 3 / 8, "mean_iou": (0 + 3 / 8) / 2}
  json.dumps(got)
