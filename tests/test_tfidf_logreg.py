"""TF-IDF + logistic regression on the sentence sets: linear.BagLogistic against NumPy, the loader's bags (fitted on
the run's training split only), each config's smoke run, and the L2 strength and epochs its choose records chose."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigjax import configs, data, program, report, train
from bigjax.data import corpora, sentences
from bigjax.data.vectorize import Vectorizer
from bigjax.models.linear import BagLogistic
from conftest import REPO, load_config, requires_mr, requires_sentences

pytestmark = pytest.mark.usefixtures("fast_compiles")

RUNS = REPO / "experiments" / "sentence_classification" / "runs"
DATASETS = [pytest.param("trec", marks=requires_sentences), pytest.param("sst2", marks=requires_sentences),
            pytest.param("mr", marks=requires_mr)]


def test_bag_logistic_is_the_sparse_row_times_w_plus_b():
  model = BagLogistic(num_classes=3, num_features=7)
  ids = np.array([[1, 4, 0], [6, 0, 0], [0, 0, 0]], np.int32)
  weights = np.array([[0.6, 0.8, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]], np.float32)
  bags = {"bag_ids": ids, "bag_weights": weights}
  params = jax.tree.map(lambda p: jnp.asarray(np.random.default_rng(0).normal(size=p.shape), jnp.float32),
                        model.init(jax.random.key(0), bags)["params"])
  dense = np.zeros((3, 7))
  np.add.at(dense, (np.repeat(np.arange(3), 3), ids.ravel()), weights.ravel())
  expected = dense @ np.asarray(params["kernel"], np.float64) + np.asarray(params["bias"], np.float64)
  np.testing.assert_allclose(model.apply({"params": params}, bags), expected, rtol=1e-5, atol=1e-6)
  starts = model.init(jax.random.key(0), bags)["params"]
  assert not any(np.asarray(p).any() for p in jax.tree.leaves(starts))  # zeros: a convex problem's usual start
  with pytest.raises(ValueError, match="num_features"):
    BagLogistic(num_classes=3).init(jax.random.key(0), bags)


@requires_sentences
def test_bags_are_fitted_on_the_training_split_without_the_held_out_validation_part():
  config = load_config("tfidf_logreg_trec")
  root = data.default_data_dir()
  train_ds = corpora.load(config.data, "train", root)
  splits = sentences.token_splits("trec", validation=True)
  expected = Vectorizer().fit(splits["train"][0])
  assert train_ds.vocab.vocabulary == expected.vocabulary and len(train_ds) == len(splits["train"][1])
  np.testing.assert_array_equal(train_ds.vocab.idf, expected.idf)
  seen = {token for sentence in splits["train"][0] for token in sentence}
  validation_only = {t for s in splits["validation"][0] for t in s} - seen
  assert validation_only and not validation_only & set(train_ds.vocab.vocabulary)
  assert train_ds.model_fields == {"num_features": len(expected)}
  # every split: its rows of that one vectoriser, padded to one width
  for split in ("train", "validation", "test"):
    ds = corpora.load(config.data, split, root)
    assert set(ds.arrays) == {"bag_ids", "bag_weights", "label"}
    assert ds.arrays["bag_ids"].shape[1] == train_ds.arrays["bag_ids"].shape[1]
    tokens, labels = splits[split] if split != "test" else sentences.trec("test")
    rows = expected.transform(tokens).toarray()
    dense = np.zeros_like(rows)
    np.add.at(dense, (np.repeat(np.arange(len(ds)), ds.arrays["bag_ids"].shape[1]), ds.arrays["bag_ids"].ravel()),
              ds.arrays["bag_weights"].ravel())
    np.testing.assert_allclose(dense, rows, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(ds.arrays["label"], labels)


@requires_sentences
def test_bad_vectorizer_options_and_features_are_config_errors():
  config = load_config("tfidf_logreg_trec")
  config.data.vectorizer.norm = "l3"
  with pytest.raises(configs.ConfigError, match=r"config.data: config.data.vectorizer.norm='l3'"):
    program.load_split(config.data, "train")
  config = load_config("tfidf_logreg_trec")
  config.data.features = "tf"
  with pytest.raises(configs.ConfigError, match="config.data.features='tf'"):
    program.load_split(config.data, "train")
  config = load_config("tfidf_logreg_trec")
  config.data.vectorizer.min_df = 100000
  with pytest.raises(configs.ConfigError, match="config.data: max_df=1.0 .* min_df=100000"):
    program.load_split(config.data, "train")


@pytest.mark.parametrize("dataset", DATASETS)
def test_smoke_config_trains_and_reads_test_once(dataset, tmp_path):
  config = load_config(f"tfidf_logreg_{dataset}", "smoke")
  results = train.run(config, tmp_path)
  assert results["trace_counts"] == {"train_call": 1, "eval_call": 1}  # test read by the same compiled step
  metrics = results["final_metrics"]
  assert metrics and all(math.isfinite(v) for v in metrics.values()), metrics
  assert {f"{config.data.eval_split}/accuracy", "test/accuracy"} <= set(metrics)
  saved = Vectorizer.from_json((tmp_path / "vocab.json").read_text())
  assert len(saved) == results["num_params"] // config.model.num_classes - 1


# ---------------------------------------------------------------- the choice, read from the choose records

def chosen(dataset: str) -> tuple[float, int]:
  """(L2, epochs) the choose records pick: the weight decay whose runs end (after 20 epochs) with the best mean
  validation accuracy, as bigjax.report's sweep table bolds it, then the epoch of the best mean of its curves, as
  its {{curves}} table bolds it."""
  root = RUNS / f"tfidf_logreg_{dataset}_choose"
  metric = "dev/accuracy" if dataset == "sst2" else "validation/accuracy"
  runs = report.find_results([str(root)])
  points = report.group_points(runs, ["optim.weight_decay"])
  assert len(points) == 6 and all(len(p.runs) == 3 for p in points)
  best = points[report.best_point(points, metric, "max")]
  curves = [report.logged_curve(workdir, metric) for workdir, _ in best.runs]
  steps = sorted(set.intersection(*(set(c) for c in curves)))
  best_step = max(steps, key=lambda s: np.mean([c[s] for c in curves]))
  steps_per_epoch = steps[0]  # evaluated after each epoch
  assert best_step % steps_per_epoch == 0
  for _, results in best.runs:
    assert not results["config"]["data"]["test_split"] and results["git_revision"][-6:] != "-dirty"
  return best.values["optim.weight_decay"], best_step // steps_per_epoch


@pytest.mark.parametrize("dataset", ["trec", "sst2", "mr"])
def test_configs_train_the_l2_strength_and_epochs_chosen_on_validation(dataset):
  module = configs.load_module(REPO / "configs" / f"tfidf_logreg_{dataset}.py")
  assert (module.WEIGHT_DECAY, module.EPOCHS) == chosen(dataset)
  config = module.get_config()
  assert config.optim.weight_decay == module.WEIGHT_DECAY and config.train.num_epochs == module.EPOCHS
  assert config.data.test_split == "test" and config.data.eval_split in ("validation", "dev")


@requires_sentences
def test_bow_features_are_the_training_split_counts():
  config = load_config("tfidf_logreg_sst2")
  config.data.features = "bow"
  config.data.vectorizer.norm = ""
  ds = corpora.load(config.data, "dev", data.default_data_dir())
  train_tokens, _ = sentences.sst2("train")
  dev_tokens, _ = sentences.sst2("dev")
  rows = Vectorizer(use_idf=False, norm=None).fit(train_tokens).transform(dev_tokens).toarray()
  dense = np.zeros_like(rows)
  width = ds.arrays["bag_ids"].shape[1]
  np.add.at(dense, (np.repeat(np.arange(len(ds)), width), ds.arrays["bag_ids"].ravel()), ds.arrays["bag_weights"].ravel())
  np.testing.assert_array_equal(dense, rows)
