"""Validation splits held out of training, and the test split read once at the end (issue 23, point 1)."""

import json

import numpy as np
import pytest

from bigjax import data, train
from bigjax.configs import ConfigError
from bigjax.data import corpora, images, sentences
from conftest import load_config, read_metrics, requires_mnist, requires_mr


def _rows(ds) -> set[bytes]:
  return {row.tobytes() for row in np.asarray(ds.arrays["image"])}


def test_digits_validation_is_the_last_sixth_of_train_and_leaves_it_when_validating():
  full = images.load("digits", "train")
  train_part = images.load("digits", "train", validating=True)
  validation = images.load("digits", "validation", validating=True)
  held = round(len(full) / 6)
  assert (len(train_part), len(validation)) == (len(full) - held, held)
  np.testing.assert_array_equal(train_part.arrays["image"], full.arrays["image"][:-held])
  np.testing.assert_array_equal(validation.arrays["label"], full.arrays["label"][-held:])
  assert not _rows(train_part) & _rows(validation) - _rows(images.load("digits", "test"))
  np.testing.assert_array_equal(images.load("digits", "test", validating=True).arrays["image"],
                                images.load("digits", "test").arrays["image"])  # test untouched


def test_validation_split_is_refused_where_the_run_trains_on_it():
  with pytest.raises(ValueError, match="trains on it unless config.data.eval_split='validation'"):
    images.load("digits", "validation")


@requires_mnist
def test_mnist_validation_is_the_last_10000_training_images():
  validation = images.load("mnist", "validation", validating=True)
  assert len(validation) == 10_000 and len(images.load("mnist", "train", validating=True)) == 50_000
  np.testing.assert_array_equal(validation.arrays["label"], images.load("mnist", "train").arrays["label"][50_000:])


def test_hold_out_is_a_seeded_partition():
  keep, held = sentences.hold_out(1000, 0.1, seed=0)
  assert len(held) == 100 and len(keep) == 900
  np.testing.assert_array_equal(np.sort(np.concatenate([keep, held])), np.arange(1000))
  np.testing.assert_array_equal(held, sentences.hold_out(1000, 0.1, seed=0)[1])
  assert not np.array_equal(held, sentences.hold_out(1000, 0.1, seed=1)[1])
  with pytest.raises(ValueError):
    sentences.hold_out(1, 0.1)


@requires_mr
def test_mr_validation_comes_out_of_the_folds_training_portion_and_its_vocabulary():
  plain = sentences.load("mr", fold=3)
  held = sentences.load("mr", fold=3, validation=True)
  assert len(held["train"]) + len(held["validation"]) == len(plain["train"])
  assert len(held["validation"]) == round(len(plain["train"]) * sentences.VALIDATION_FRACTION)
  np.testing.assert_array_equal(held["test"].labels, plain["test"].labels)  # the fold's test part unchanged
  assert len(held["train"].vocab) < len(plain["train"].vocab)  # words seen only in validation are unknown
  config = load_config("text_cnn_mr")
  assert (config.data.eval_split, config.data.test_split) == ("validation", "test")
  with pytest.raises(ValueError, match="10% of the training portion"):
    config.data.eval_split = "test"
    corpora.load(config.data, "validation", data.default_data_dir())


def test_test_split_is_read_once_after_the_last_step(tmp_path):
  config = load_config("digits_mlp", "smoke")
  config.data.eval_split, config.data.test_split = "validation", "test"
  config.train.eval_every_steps = config.train.log_every_steps  # several evaluations, one test reading
  results = train.run(config, tmp_path)
  records = read_metrics(tmp_path)
  test_steps = [r["step"] for r in records if "test/accuracy" in r]
  validation_steps = [r["step"] for r in records if "validation/accuracy" in r]
  assert test_steps == [results["steps"]] and len(validation_steps) > 1
  assert {"test/accuracy", "validation/accuracy"} <= set(results["final_metrics"])
  saved = json.loads((tmp_path / "results.json").read_text())["final_metrics"]
  assert saved["test/accuracy"] == results["final_metrics"]["test/accuracy"]


@pytest.mark.parametrize("splits, role", [(("train", "validation", "validation"), "eval_split"),
                                          (("test", "validation", "test"), "train_split"),
                                          (("train", "test", "test"), "eval_split")])
def test_a_test_split_trained_or_evaluated_on_is_refused_before_anything_is_written(splits, role, tmp_path):
  config = load_config("digits_mlp", "smoke")
  config.data.train_split, config.data.eval_split, config.data.test_split = splits
  with pytest.raises(ConfigError, match=f"config.data.{role}"):
    train.run(config, tmp_path / "run")
  assert not (tmp_path / "run").exists()
