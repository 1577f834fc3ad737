"""The evaluation-only run (``bigjax.evaluate``), the export for serving (``bigjax.export``) and the GAN's hint to
its evaluator: real smoke runs on real data; each exported file is reloaded in a fresh Python process and checked
against ``model.apply`` on the restored parameters. No mocks."""

import hashlib
import json
import math
import pathlib
import re
import shlex
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigjax import data, evaluate, export, runs, train
from bigjax.configs import ConfigError
from bigjax.tasks import gan
from conftest import (REPO, cli_env, load_config, requires_data, requires_mnist, requires_ml100k,
                      requires_shakespeare)

pytestmark = pytest.mark.usefixtures("fast_compiles")


def snapshot(workdir: pathlib.Path) -> dict[str, str]:
  """``{relative path: sha256}`` of every file under ``workdir`` but the evaluations' and exports' own, and every
  directory (as "dir")."""
  return {str(p.relative_to(workdir)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
          for p in sorted(workdir.rglob("*")) if not re.fullmatch(r"eval_.*\.json|export\.npz", p.name)}


def restored(workdir: pathlib.Path):
  """``(config, model, params)`` of the run's newest checkpoint, as a user reads it back."""
  return runs.restore_params(workdir)


# A fresh process loads the file twice: with jax and NumPy only (the recipe of bigjax/export.py's docstring, before
# bigjax is imported), then with bigjax.export.load; both must agree, on a batch of 7 and on its first 3 rows.
RELOAD = """
import json, sys
import jax, numpy as np
with np.load(sys.argv[1], allow_pickle=False) as f:
  function = jax.export.deserialize(bytearray(f["function"]))
  meta = json.loads(str(f["meta"]))
  variables = {name: f[name] for name in meta["variables"]}
with np.load(sys.argv[2]) as f:
  inputs = dict(f)
raw = np.asarray(function.call(variables, inputs))
assert not any(name.startswith("bigjax") for name in sys.modules), "the recipe needs no bigjax"
from bigjax import export
served = export.load(sys.argv[1])
out = np.asarray(served(inputs))
np.testing.assert_array_equal(out, raw)
# Another batch size may tile the matmuls otherwise: equal to float32 rounding.
np.testing.assert_allclose(np.asarray(served(**{k: v[:3] for k, v in inputs.items()})), out[:3], rtol=1e-5, atol=1e-6)
np.save(sys.argv[3], out)
"""


def reload_and_run(path: pathlib.Path, inputs: dict[str, np.ndarray], tmp_path: pathlib.Path) -> np.ndarray:
  """The exported model at ``path`` run on ``inputs`` in a fresh Python process."""
  np.savez(tmp_path / "inputs.npz", **inputs)
  proc = subprocess.run([sys.executable, "-c", RELOAD, str(path), str(tmp_path / "inputs.npz"),
                         str(tmp_path / "outputs.npy")], env=cli_env(), cwd=REPO, capture_output=True, text=True,
                        timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return np.load(tmp_path / "outputs.npy")


def check_export(workdir: pathlib.Path, inputs: dict[str, np.ndarray], reference: np.ndarray, tmp_path: pathlib.Path,
                 tolerance: float = 1e-5) -> dict:
  """Exports the run, reloads it elsewhere, compares with ``reference``; returns the file's meta."""
  path = export.export_workdir(workdir)
  assert path == workdir / "export.npz"
  out = reload_and_run(path, inputs, tmp_path)
  assert out.shape == reference.shape and out.dtype == np.float32
  np.testing.assert_allclose(out, reference, rtol=tolerance, atol=tolerance)
  meta = export.load(path).meta
  assert set(meta["inputs"]) == set(inputs)
  assert meta["outputs"]["shape"][0] == "b" and set(meta["platforms"]) == {"cpu", "cuda", "tpu"}
  assert meta["step"] == json.loads((workdir / "results.json").read_text())["steps"]
  return meta


# ---------------------------------------------------------------------------------------------- evaluation only

@pytest.fixture(scope="module")
def digits_run(tmp_path_factory, fast_compiles):
  """digits_mlp's smoke run (it evaluates on the whole test split: no eval_examples prefix)."""
  config = load_config("digits_mlp", "smoke")
  assert config.data.eval_examples == 0
  workdir = tmp_path_factory.mktemp("digits_mlp")
  train.run(config, workdir)
  return workdir


def test_eval_repeats_the_runs_last_evaluation_and_touches_nothing_else(digits_run):
  before = snapshot(digits_run)
  results = json.loads((digits_run / "results.json").read_text())
  path, metrics = evaluate.evaluate_workdir(str(digits_run))
  assert path == digits_run / "eval_test.json"
  # The same compiled eval step and averaging as the loop's: its final numbers, bitwise.
  logged = {k: v for k, v in results["final_metrics"].items() if k.startswith("test/")}
  assert metrics == logged and set(logged) == {"test/accuracy", "test/loss"}
  record = json.loads(path.read_text())
  assert record["metrics"] == metrics
  assert (record["split"], record["step"], record["checkpoint"], record["examples"]) == ("test", results["steps"],
                                                                                         "latest", 360)
  assert record["git_revision"] and record["trained_git_revision"] == results["git_revision"]
  assert record["time"] > 0 and record["wall_time_s"] > 0
  assert snapshot(digits_run) == before


def test_eval_of_an_earlier_checkpoint(digits_run):
  path, metrics = evaluate.evaluate_workdir(digits_run, "test", step=44)  # the run keeps steps 44 and 88
  record = json.loads(path.read_text())
  assert (record["step"], record["checkpoint"]) == (44, "step 44")
  final = json.loads((digits_run / "results.json").read_text())["final_metrics"]
  assert metrics["test/loss"] > final["test/loss"]  # half-way through its 88 steps, it had learned less


def test_eval_on_the_training_split_matches_numpy(digits_run):
  path, metrics = evaluate.evaluate_workdir(digits_run, "train")
  assert path == digits_run / "eval_train.json"
  _, model, params = restored(digits_run)
  arrays = data.load_for_config(load_config("digits_mlp", "smoke").data, "train").arrays
  images, labels = arrays["image"], arrays["label"]
  logits = np.asarray(model.apply({"params": params}, images, train=False), np.float64)
  log_probs = logits - logits.max(1, keepdims=True)
  log_probs -= np.log(np.exp(log_probs).sum(1, keepdims=True))
  assert len(labels) == 1437
  assert metrics["train/accuracy"] == np.mean(logits.argmax(1) == labels)
  np.testing.assert_allclose(metrics["train/loss"], -log_probs[np.arange(len(labels)), labels].mean(), rtol=1e-5)


def test_eval_user_errors_name_the_thing(digits_run, tmp_path):
  def refused(match, *args, **kwargs):
    with pytest.raises(ConfigError, match=match) as error:
      evaluate.evaluate_workdir(*args, **kwargs)
    assert "\n" not in str(error.value)

  refused(r"--workdir=.*nowhere: no such directory", str(tmp_path / "nowhere"))
  empty = tmp_path / "empty"
  empty.mkdir()
  refused(r"empty holds no run: .*config.json not found", empty)
  untrained = tmp_path / "untrained"
  untrained.mkdir()
  (untrained / "config.json").write_text((digits_run / "config.json").read_text())
  refused(r"untrained holds no checkpoint", untrained)
  assert sorted(p.name for p in untrained.iterdir()) == ["config.json"]  # no checkpoints/ made on the way
  refused(r"--split=dev: unknown split 'dev'; valid splits: train, validation, test", digits_run, "dev")
  # A validation split the run trained on is no validation split: refused, saying why.
  refused(r"--split=validation: digits: the validation split is the last sixth of the training images; a run "
          r"trains on it unless config.data.eval_split='validation' holds it out", digits_run, "validation")
  assert not (digits_run / "eval_validation.json").exists()
  refused(r"checkpoints holds no checkpoint at step 3, only at \[44, 88\]", digits_run, step=3)
  with pytest.raises(ConfigError, match="no such directory"):
    export.export_workdir(tmp_path / "nowhere")


# ---------------------------------------------------------------------------------------------- export, per family

def test_classifier_exports_its_logits(digits_run, tmp_path):
  _, model, params = restored(digits_run)
  images = np.random.default_rng(0).random((7, 8, 8, 1), np.float32) * 16
  reference = np.asarray(model.apply({"params": params}, images, train=False))
  meta = check_export(digits_run, {"image": images}, reference, tmp_path)
  assert meta["inputs"] == {"image": {"shape": ["b", 8, 8, 1], "dtype": "float32"}}
  assert meta["outputs"]["shape"] == ["b", 10] and meta["task"] == "classification"
  served = export.load(digits_run / "export.npz")
  with pytest.raises(ValueError, match=r"inputs \['images'\]; this model reads image"):
    served(images=images)


@requires_shakespeare
def test_language_model_evaluates_and_exports_next_token_logits(tmp_path_factory, tmp_path):
  config = load_config("shakespeare_char_gpt", "smoke")
  config.data.eval_examples = 0  # the whole validation split, so the run's numbers are the eval's
  workdir = tmp_path_factory.mktemp("char_gpt")
  results = train.run(config, workdir)
  _, metrics = evaluate.evaluate_workdir(workdir)
  assert metrics == {k: v for k, v in results["final_metrics"].items() if k.startswith("validation/")}
  assert metrics["validation/perplexity"] == math.exp(metrics["validation/loss"])  # the task's finishing
  _, model, params = restored(workdir)
  tokens = np.random.default_rng(0).integers(0, 65, (7, 11), dtype=np.int32)  # shorter than the trained window
  reference = np.asarray(model.apply({"params": params}, tokens, train=False))
  meta = check_export(workdir, {"tokens": tokens}, reference, tmp_path)
  assert meta["inputs"] == {"tokens": {"shape": ["b", "t"], "dtype": "int32"}}
  assert meta["constraints"] == [f"t <= {model.max_len}"] and meta["outputs"]["shape"] == ["b", "t", 65]
  assert meta["vocab"]["type"] == "CharTokenizer" and len(meta["vocab"]["chars"]) == 65


@requires_ml100k
@pytest.mark.parametrize("name", ["ml100k_neumf", "ml100k_sasrec"])  # SASRec scores through its users' histories
def test_recommender_exports_pair_scores(name, tmp_path_factory, tmp_path):
  workdir = tmp_path_factory.mktemp(name)
  train.run(load_config(name, "smoke"), workdir)
  with pytest.raises(ConfigError, match=r"--split=train: its examples hold .* without the 'candidates'"):
    evaluate.evaluate_workdir(workdir, "train")
  _, model, params = restored(workdir)
  rng = np.random.default_rng(0)
  pairs = {"user": rng.integers(0, model.num_users, 7, dtype=np.int32),
           "item": rng.integers(0, model.num_items, 7, dtype=np.int32)}
  reference = np.asarray(model.apply({"params": params}, pairs["user"], pairs["item"], train=False))
  meta = check_export(workdir, pairs, reference, tmp_path)
  assert meta["outputs"]["shape"] == ["b"]


# ---------------------------------------------------------------------------------------------- GAN: hint and export

def missing_evaluator_message(config) -> str:
  with pytest.raises(ConfigError) as error:
    runs.load_parts(gan.parts(config))
  return str(error.value)


@pytest.mark.parametrize("name", ["mnist_dcgan", "mnist_gan_mlp"])
def test_a_full_gan_run_points_at_the_full_evaluator(name, tmp_path):
  config = load_config(name)
  config.task.evaluator_workdir = str(tmp_path / "evaluator")
  message = missing_evaluator_message(config)
  assert (f"train it first: python -m bigjax.main --config=configs/mnist_gan_evaluator.py "
          f"--workdir={tmp_path / 'evaluator'} (") in message
  assert ":smoke" not in message


@pytest.mark.parametrize("name", ["mnist_dcgan", "mnist_gan_mlp"])
def test_a_smoke_gan_run_points_at_the_smoke_evaluator_then_the_full_one(name, tmp_path):
  config = load_config(name, "smoke")
  config.task.evaluator_workdir = str(tmp_path / "evaluator")
  message = missing_evaluator_message(config)
  command = "python -m bigjax.main --config=configs/mnist_gan_evaluator.py{} --workdir=" + str(tmp_path / "evaluator")
  smoke_command, full_command = command.format(":smoke"), command.format("")
  assert f"train it first: {smoke_command} (" in message
  assert message.index(smoke_command) < message.index(full_command)


@pytest.fixture(scope="module")
def hinted_evaluator(tmp_path_factory):
  """The evaluator a smoke GAN run's error message says to train, trained by running its command as given."""
  workdir = tmp_path_factory.mktemp("gan") / "evaluator"
  config = load_config("mnist_dcgan", "smoke")
  config.task.evaluator_workdir = str(workdir)
  command = re.search(r"train it first: (python -m bigjax\.main \S+ \S+) ", missing_evaluator_message(config)).group(1)
  argv = shlex.split(command)
  proc = subprocess.run([sys.executable, *argv[1:]], env=cli_env(), cwd=REPO, capture_output=True, text=True,
                        timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert json.loads((workdir / "results.json").read_text())["config"]["train"]["num_steps"] == 12  # the smoke one
  return workdir


@requires_mnist
def test_gan_evaluates_with_its_evaluator_and_exports_its_generator(hinted_evaluator, tmp_path_factory, tmp_path):
  config = load_config("mnist_dcgan", "smoke")
  config.task.evaluator_workdir = str(hinted_evaluator)
  workdir = tmp_path_factory.mktemp("dcgan")
  results = train.run(config, workdir)  # trains: the hinted command made an evaluator the run accepts
  before = snapshot(workdir)
  # Samples scored by the evaluator part, as in training, against the whole test split (the same metrics as the
  # run's test reading, other values).
  _, metrics = evaluate.evaluate_workdir(workdir, "test")
  assert set(metrics) == {k for k in results["final_metrics"] if k.startswith("test/")}
  assert {"test/fid", "test/confident", "test/class_entropy", "test/d_real"} <= set(metrics)
  assert all(math.isfinite(v) for v in metrics.values()) and metrics["test/fid"] > metrics["test/fid_floor"] > 0
  assert json.loads((workdir / "eval_test.json").read_text())["examples"] == 10000
  # The loop's one test reading (of the first 256 test images, as smoke limits every evaluated split) scored the
  # samples against the test images, not the validation images it chose on.
  final = results["final_metrics"]
  assert final["test/fid_floor"] != final["validation/fid_floor"]
  assert final["test/real_class_entropy"] != final["validation/real_class_entropy"]
  assert snapshot(workdir) == before  # no sample grid written

  _, model, params = restored(workdir)
  rng = np.random.default_rng(0)
  noise = rng.standard_normal((7, model.latent_dim), np.float32)
  code = rng.integers(0, model.code_classes, 7, dtype=np.int32)
  z = jnp.concatenate([noise, jax.nn.one_hot(code, model.code_classes)], axis=1)
  reference = (np.asarray(model.generator().apply(params["generator_ema"], z, train=False)) + 1.0) / 2.0
  meta = check_export(workdir, {"noise": noise, "code": code}, reference, tmp_path)
  assert meta["inputs"] == {"noise": {"shape": ["b", 62], "dtype": "float32"},
                            "code": {"shape": ["b"], "dtype": "int32"}}
  assert meta["outputs"]["shape"] == ["b", 28, 28, 1]
  # The averaged generator's variables only, not the discriminator's nor the live generator's.
  assert {name.split("/")[1] for name in meta["variables"]} == {"params", "batch_stats"}
  assert len(meta["variables"]) == len(jax.tree.leaves(params["generator_ema"]))


@requires_data("raccoon/data/test_labels.csv")
def test_detector_evaluates_on_any_split_and_exports_its_decoded_boxes(tmp_path_factory, tmp_path):
  from bigjax.tasks import detection
  config = load_config("centernet_raccoon", "smoke")
  config.data.eval_examples = 0  # the whole validation split, so the run's numbers are the eval's
  workdir = tmp_path_factory.mktemp("centernet")
  results = train.run(config, workdir)
  _, metrics = evaluate.evaluate_workdir(workdir)
  assert metrics == {k: v for k, v in results["final_metrics"].items() if k.startswith("validation/")}
  _, train_metrics = evaluate.evaluate_workdir(workdir, split="train")  # train vs test AP: what limits a detector
  assert 0.0 <= train_metrics["train/map50"] <= 1.0
  _, model, params = restored(workdir)
  images = np.random.default_rng(0).random((7, 64, 64, 3), np.float32)
  boxes, scores, labels = detection.decode(model.apply({"params": params}, images), model.stride, 100)
  reference = np.concatenate([np.asarray(boxes), np.asarray(scores)[..., None], np.asarray(labels)[..., None]], -1)
  meta = check_export(workdir, {"image": images}, reference, tmp_path)
  assert meta["outputs"]["shape"] == ["b", 100, 6] and meta["task"] == "detection"
