"""Social rating prediction through the loop: the fold as the loop reads it (cold-start flags, relations built
from the training rows only) and a smoke config that trains, validates and tests."""

import ml_collections
import numpy as np
import pytest

from bigjax import train
from bigjax.data import social

from conftest import load_config, requires_data

requires_filmtrust = requires_data("filmtrust/ratings.txt")


def data_config(**overrides):
  fields = dict(name="filmtrust", data_dir="", fold=2, split_seed=0, train_split="train", eval_split="validation")
  return ml_collections.ConfigDict({**fields, **overrides})


@requires_filmtrust
def test_a_fold_as_the_loop_reads_it():
  config = data_config()
  raw = social.read("filmtrust")
  splits = {s: social.load(config, s, social.data_root(None)) for s in social.SPLITS}
  train_rows = social.split_indices(len(raw.ratings), 2, "train", True)
  fields = splits["train"].model_fields
  assert fields["num_ratings"] == len(train_rows) == len(splits["train"].arrays["rating"])
  assert fields["global_mean"] == pytest.approx(raw.ratings[train_rows].astype(np.float64).mean())
  assert (fields["rating_min"], fields["rating_max"]) == (0.5, 4.0)
  # Who rated what: the training rows only, never a validation or test rating.
  rated = fields["rated"]
  assert len(rated.rows) == len(train_rows)
  assert set(zip(rated.rows.tolist(), rated.cols.tolist())) == set(zip(raw.users[train_rows].tolist(),
                                                                         raw.items[train_rows].tolist()))
  assert rated.row_counts.sum() == len(train_rows) and rated.col_counts.sum() == len(train_rows)
  trust, friends = fields["trust"], fields["friends"]
  assert len(trust.rows) == len(raw.trustors) and len(friends.rows) >= len(trust.rows)
  assert (friends.dense() == np.maximum(trust.dense(), trust.dense().T)).all()
  # Cold-start flags: users with fewer than 5 training ratings, counted by hand.
  counts = np.bincount(raw.users[train_rows], minlength=raw.num_users)
  for split in ("validation", "test"):
    arrays = splits[split].arrays
    assert "cold" not in splits["train"].arrays and arrays["cold"].dtype == np.float32
    np.testing.assert_array_equal(arrays["cold"] > 0, counts[arrays["user"]] < 5)
    assert 0 < arrays["cold"].mean() < 0.2
  with pytest.raises(ValueError, match="config.data.fold=7"):
    social.load(data_config(fold=7), "train", social.data_root(None))


@requires_filmtrust
def test_the_smoke_config_trains_validates_and_tests(tmp_path):
  results = train.run(load_config("social_filmtrust", "smoke"), tmp_path)
  metrics = results["final_metrics"]
  for split in ("validation", "test"):
    assert 0.0 < metrics[f"{split}/mae"] <= metrics[f"{split}/rmse"] < 3.5
    assert 0.0 < metrics[f"{split}/cold_fraction"] < 0.2 and metrics[f"{split}/cold_rmse"] > 0
  assert np.isfinite(metrics["train/loss"]) and results["steps"] == 16


@requires_filmtrust
def test_tables_sharded_over_fsdp_train_as_on_one_device(tmp_path):
  """Every user and item table's rows over ``fsdp`` (4 CPU devices; the relations gathered across the shards):
  the same steps, the same numbers as on one device."""
  import json
  from conftest import run_cli
  one = run_cli("social_filmtrust.py:smoke", tmp_path / "one")
  four = run_cli("social_filmtrust.py:smoke", tmp_path / "four", "--config.mesh.fsdp=4", "--config.mesh.data=1",
                 num_devices=4)
  assert one.returncode == 0, one.stderr[-2000:]
  assert four.returncode == 0, four.stderr[-2000:]
  results = [json.loads((tmp_path / name / "results.json").read_text()) for name in ("one", "four")]
  assert results[1]["mesh"] == {"data": 1, "fsdp": 4, "tensor": 1}
  for key in ("train/loss", "validation/rmse", "test/rmse", "test/cold_rmse"):
    assert results[1]["final_metrics"][key] == pytest.approx(results[0]["final_metrics"][key], rel=1e-4), key
