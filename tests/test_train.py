"""End-to-end tests of the training loop: smoke configs, compile-once, resume after SIGKILL and SIGTERM,
corrupt checkpoints, NaN, bad configs. Real runs on real data; no mocks."""

import json
import math
import pathlib
import re
import shutil
import signal
import subprocess
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from bigjax import program, runs, train
from conftest import REPO, cli_command, cli_env, load_config, read_metrics, requires_mnist, run_cli, train_losses

# digits_mlp, long enough to be interrupted: 20 epochs x 44 steps, 4 steps per call, a checkpoint every 8.
FAULT_OVERRIDES = ("--config.train.num_epochs=20", "--config.train.log_every_steps=4",
                   "--config.train.checkpoint_every_steps=8", "--config.train.keep_checkpoints=3")
FAULT_STEPS = 880


def final_state(workdir: pathlib.Path) -> dict:
  """The train state of the newest checkpoint, as NumPy arrays."""
  manager = ocp.CheckpointManager(workdir / "checkpoints")
  step = manager.latest_step()
  restored = manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore()))
  manager.close()
  return jax.tree.map(np.asarray, restored["state"])


def assert_bitwise_equal(a: dict, b: dict) -> None:
  leaves_a, tree_a = jax.tree.flatten(a)
  leaves_b, tree_b = jax.tree.flatten(b)
  assert tree_a == tree_b
  for x, y in zip(leaves_a, leaves_b):
    np.testing.assert_array_equal(x, y)


# ---------------------------------------------------------------------------------------------- smoke configs

@pytest.mark.parametrize("name", [
    "digits_mlp",
    pytest.param("mnist_mlp", marks=requires_mnist),
    pytest.param("mnist_seed_cnn", marks=requires_mnist),
    pytest.param("mnist_cnn", marks=requires_mnist),
])
def test_smoke_config_trains_and_compiles_once(name, tmp_path):
  config = load_config(name, "smoke")
  results = train.run(config, tmp_path)
  on_disk = json.loads((tmp_path / "results.json").read_text())
  assert on_disk["steps"] == results["steps"] > 0
  for key in ("config", "seed", "git_revision", "jax_version", "device_kind", "device_count", "wall_time_s",
              "compile_time_s", "final_metrics"):
    assert key in on_disk, key
  # The whole run used exactly one compiled train step and one compiled eval step.
  assert results["trace_counts"] == {"train_call": 1, "eval_call": 1}
  metrics = results["final_metrics"]
  assert all(math.isfinite(v) for v in metrics.values())
  assert metrics["test/accuracy"] > (0.85 if name == "digits_mlp" else 0.2)  # chance is 0.1
  assert (tmp_path / "config.json").exists() and (tmp_path / "metrics.jsonl").exists()
  assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
  assert results["steps"] in [int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit()]


def test_steps_per_call_does_not_change_the_updates(tmp_path):
  """K steps per jitted call apply the same updates to the same batches as one step per call."""
  results = {}
  for k in (1, 4):
    config = load_config("digits_mlp", "smoke")
    config.train.steps_per_call = k
    config.train.log_every_steps = 4
    train.run(config, tmp_path / f"k{k}")
    results[k] = train_losses(tmp_path / f"k{k}")
  assert results[1].keys() == results[4].keys()
  np.testing.assert_allclose([results[1][s] for s in sorted(results[1])],
                             [results[4][s] for s in sorted(results[4])], rtol=1e-5)
  for a, b in zip(jax.tree.leaves(final_state(tmp_path / "k1")["params"]),
                  jax.tree.leaves(final_state(tmp_path / "k4")["params"])):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------- faults

@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> pathlib.Path:
  workdir = tmp_path_factory.mktemp("uninterrupted")
  proc = run_cli("digits_mlp.py", workdir, *FAULT_OVERRIDES)
  assert proc.returncode == 0, proc.stderr[-3000:]
  # keep_checkpoints=3: only the newest three of the 110 saved checkpoints remain.
  kept = sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
  assert kept == [FAULT_STEPS - 16, FAULT_STEPS - 8, FAULT_STEPS]
  return workdir


def start_and_signal(workdir: pathlib.Path, sig: int, at_step: int, config: str = "digits_mlp.py",
                     overrides: tuple[str, ...] = FAULT_OVERRIDES, env: dict | None = None,
                     timeout: float = 120) -> subprocess.Popen:
  """Starts a run and sends ``sig`` once metrics.jsonl shows a step >= at_step; returns the finished process."""
  proc = subprocess.Popen(cli_command(config, workdir, *overrides), env=env or cli_env(), cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  deadline = time.time() + timeout
  while time.time() < deadline and proc.poll() is None:
    try:
      steps = [m["step"] for m in read_metrics(workdir)]
    except (FileNotFoundError, json.JSONDecodeError):
      steps = []
    if steps and max(steps) >= at_step:
      proc.send_signal(sig)
      break
    time.sleep(0.002)
  proc.wait(timeout=120)
  return proc


def test_kill_and_resume_is_bitwise_identical(uninterrupted, tmp_path):
  """SIGKILL at a random step, restart: the same batches follow and the final parameters are bitwise equal."""
  at_step = int(np.random.default_rng().integers(40, 600))
  proc = start_and_signal(tmp_path, signal.SIGKILL, at_step)
  assert proc.returncode == -signal.SIGKILL, f"run was not killed (exit {proc.returncode}): {proc.stdout.read()[-2000:]}"
  assert not (tmp_path / "results.json").exists()
  resumed = run_cli("digits_mlp.py", tmp_path, *FAULT_OVERRIDES)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  results = json.loads((tmp_path / "results.json").read_text())
  assert 0 < results["resumed_from_step"] < FAULT_STEPS, (at_step, results["resumed_from_step"])
  assert_bitwise_equal(final_state(tmp_path), final_state(uninterrupted))
  # Every step logged after the restart saw the same batch as the uninterrupted run: equal losses, bitwise.
  expected, got = train_losses(uninterrupted), train_losses(tmp_path)
  after = [s for s in got if s > results["resumed_from_step"]]
  assert after and all(got[s] == expected[s] for s in after)


def test_sigterm_saves_a_checkpoint_and_exits_cleanly(uninterrupted, tmp_path):
  at_step = int(np.random.default_rng().integers(40, 600))
  proc = start_and_signal(tmp_path, signal.SIGTERM, at_step)
  output = proc.stdout.read()
  assert proc.returncode == 0, output[-3000:]
  assert "preempted: checkpoint saved at step" in output
  saved = max(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit())
  assert at_step <= saved < FAULT_STEPS
  assert f"checkpoint saved at step {saved}" in output
  assert not (tmp_path / "results.json").exists()
  resumed = run_cli("digits_mlp.py", tmp_path, *FAULT_OVERRIDES)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert json.loads((tmp_path / "results.json").read_text())["resumed_from_step"] == saved
  assert_bitwise_equal(final_state(tmp_path), final_state(uninterrupted))


def test_corrupt_latest_checkpoint_falls_back_to_the_previous_one(uninterrupted, tmp_path):
  workdir = tmp_path / "run"
  shutil.copytree(uninterrupted, workdir)
  (workdir / "results.json").unlink()
  latest = workdir / "checkpoints" / str(FAULT_STEPS)
  damaged = [p for p in (latest / "state").rglob("*") if p.is_file()]
  assert damaged
  for path in damaged:
    path.write_bytes(b"\x00garbage" * 16)
  proc = run_cli("digits_mlp.py", workdir, *FAULT_OVERRIDES)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert f"checkpoint at step {FAULT_STEPS}" in proc.stderr and "unreadable" in proc.stderr
  results = json.loads((workdir / "results.json").read_text())
  assert results["resumed_from_step"] == FAULT_STEPS - 8
  # The corrupt checkpoint is kept aside, not deleted; training redid the last steps identically.
  assert len(list((workdir / "corrupt_checkpoints").iterdir())) == 1
  assert_bitwise_equal(final_state(workdir), final_state(uninterrupted))


def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
  config = load_config("digits_mlp", "smoke")
  config.optim.lr = 1e30  # one Adam step moves weights by ~1e30: the next forward pass overflows
  config.train.steps_per_call = 1
  config.train.checkpoint_every_steps = 1
  config.train.log_every_steps = 1
  config.train.async_checkpoint = False
  with pytest.raises(train.NonFiniteError, match=r"non-finite loss or gradient norm at step (\d+)") as error:
    train.run(config, tmp_path)
  bad_step = int(re.search(r"at step (\d+)", str(error.value)).group(1))
  saved = sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit())
  assert saved and max(saved) == bad_step, (saved, bad_step)  # the state before the bad step, nothing after
  assert f"Last good checkpoint: step {bad_step}" in str(error.value)
  state = final_state(tmp_path)
  assert int(state["step"]) == bad_step
  assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(state["params"]))
  assert not (tmp_path / "results.json").exists()


# ---------------------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("override, expected", [
    ("--config.optim.lrr=0.1", "lrr"),
    ("--config.optim.lr=fast", "lr"),
    ("--config.train.num_epochs=[1]", "num_epochs"),
])
def test_bad_config_override_fails_before_anything_is_written(override, expected, tmp_path):
  workdir = tmp_path / "run"
  proc = run_cli("digits_mlp.py", workdir, override)
  assert proc.returncode != 0
  assert expected in proc.stderr
  assert not workdir.exists()


@pytest.mark.parametrize("overrides, expected", [
    (("--config.model.name=mlp.Perceptron",), "config.model.name='mlp.Perceptron'"),
    (("--config.task.loss=hinge",), "config.task.loss='hinge'"),
    (("--config.optim.name=lion",), "config.optim.name='lion'"),
    (("--config.train.steps_per_call=5",), "steps_per_call=5"),
    (("--config.data.batch_size=5000",), "batch_size=5000"),
    (("--config.data.name=cifar",), "cifar"),
])
def test_bad_config_value_is_named_and_nothing_is_written(overrides, expected, tmp_path):
  workdir = tmp_path / "run"
  proc = run_cli("digits_mlp.py", workdir, *overrides)
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert expected in proc.stderr
  assert not workdir.exists()


def test_bucket_url_workdir_is_refused_not_written_locally(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  with pytest.raises(train.ConfigError, match="mount the bucket"):
    train.run(load_config("digits_mlp", "smoke"), "gs://bucket/run")
  assert list(tmp_path.iterdir()) == []  # no local gs:/bucket/run directory


def test_resuming_with_a_different_config_is_refused(tmp_path):
  config = load_config("digits_mlp", "smoke")
  train.run(config, tmp_path)
  before = (tmp_path / "config.json").read_text()
  config.optim.lr = 0.5
  with pytest.raises(train.ConfigError, match=r"differs in: optim\.lr"):
    train.run(config, tmp_path)
  assert (tmp_path / "config.json").read_text() == before


def test_a_resumed_run_may_keep_another_number_of_checkpoints_and_does_from_then_on(tmp_path):
  """train.keep_checkpoints decides what is kept, not what is computed: a resumed run may change it (a choose run
  made to keep every evaluated checkpoint), and from the resumption on keeps that many."""
  config = load_config("digits_mlp", "smoke")
  config.train.num_steps, config.train.checkpoint_every_steps, config.train.keep_checkpoints = 16, 4, 3
  train.run(config, tmp_path)
  kept = lambda: sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit())
  assert kept() == [8, 12, 16]
  (tmp_path / "results.json").unlink()
  for step in ("12", "16"):
    shutil.rmtree(tmp_path / "checkpoints" / step)
  config.train.keep_checkpoints = 1
  assert train.run(config, tmp_path)["resumed_from_step"] == 8
  assert kept() == [16]
  assert json.loads((tmp_path / "config.json").read_text())["train"]["keep_checkpoints"] == 1


def test_a_run_started_before_a_field_existed_resumes_at_its_default_and_not_otherwise(tmp_path):
  """A config field bigjax gained after a run started (absent from its config.json) does not block resuming it
  while the field keeps its default, the behaviour the run had; set to anything else it is a different run."""
  config = load_config("digits_mlp", "smoke")
  config.train.num_steps, config.train.checkpoint_every_steps = 16, 8
  train.run(config, tmp_path)
  recorded = json.loads((tmp_path / "config.json").read_text())
  del recorded["optim"]["ema_decay"], recorded["train"]["eval_at_start"]  # as written before they existed
  (tmp_path / "config.json").write_text(json.dumps(recorded))
  (tmp_path / "results.json").unlink()
  shutil.rmtree(tmp_path / "checkpoints" / "16")
  config.optim.ema_decay = 0.5
  with pytest.raises(train.ConfigError, match=r"differs in: optim\.ema_decay\)"):
    train.run(config, tmp_path)
  assert json.loads((tmp_path / "config.json").read_text()) == recorded
  config.optim.ema_decay = 0.0
  assert train.run(config, tmp_path)["resumed_from_step"] == 8
  assert json.loads((tmp_path / "config.json").read_text()) == json.loads(config.to_json_best_effort())


def test_a_resumed_run_s_wall_time_counts_every_segment(tmp_path):
  """results.json's wall_time_s of a run stopped and resumed is both segments' (its checkpoint keeps the time so
  far), segment_wall_time_s the last one's; a checkpoint written before it kept its time gives the last segment
  alone, marked wall_time_complete false."""
  config = load_config("digits_mlp", "smoke")
  config.train.num_steps, config.train.checkpoint_every_steps = 16, 8
  first = train.run(config, tmp_path)
  assert first["wall_time_complete"] and first["wall_time_s"] == first["segment_wall_time_s"]
  (tmp_path / "results.json").unlink()
  shutil.rmtree(tmp_path / "checkpoints" / "16")
  data = tmp_path / "checkpoints" / "8" / "data" / "metadata"  # orbax's JsonSave file
  saved = json.loads(data.read_text())
  assert 0 < saved["wall_time_s"] < first["wall_time_s"]
  resumed = train.run(config, tmp_path)
  assert resumed["resumed_from_step"] == 8 and resumed["wall_time_complete"]
  assert resumed["wall_time_s"] == pytest.approx(saved["wall_time_s"] + resumed["segment_wall_time_s"])
  (tmp_path / "results.json").unlink()
  shutil.rmtree(tmp_path / "checkpoints" / "16")
  data.write_text(json.dumps({k: v for k, v in saved.items() if k != "wall_time_s"}))  # as written before it kept it
  old = train.run(config, tmp_path)
  assert not old["wall_time_complete"] and old["wall_time_s"] == old["segment_wall_time_s"]


def test_a_run_started_before_its_family_had_a_field_resumes_at_the_family_s_default(tmp_path):
  """The same for a field a family's recipe module (``configs/common_*.py``) gained after the run started:
  digits_mlp's ``task.random_shift`` (configs/common_classification.py) absent from its config.json."""
  config = load_config("digits_mlp", "smoke")
  config.train.num_steps, config.train.checkpoint_every_steps = 16, 8
  train.run(config, tmp_path)
  recorded = json.loads((tmp_path / "config.json").read_text())
  del recorded["task"]["random_shift"]
  (tmp_path / "config.json").write_text(json.dumps(recorded))
  (tmp_path / "results.json").unlink()
  shutil.rmtree(tmp_path / "checkpoints" / "16")
  assert runs.known_defaults()["task.random_shift"] == 0
  config.task.random_shift = 2
  with pytest.raises(train.ConfigError, match=r"differs in: task\.random_shift\)"):
    train.run(config, tmp_path)
  config.task.random_shift = 0
  assert train.run(config, tmp_path)["resumed_from_step"] == 8
  assert json.loads((tmp_path / "config.json").read_text()) == json.loads(config.to_json_best_effort())


def test_a_run_whose_config_held_every_family_s_fields_resumes_without_them_at_their_old_defaults(tmp_path):
  """Until base_config kept only the loop's fields, every config.json also held MovieLens', GANs' and text's
  (runs.RETIRED_DEFAULTS): a config without them resumes such a run while they sat at those defaults; one at
  another value (``data.num_negatives: 8``) made a different run."""
  config = load_config("digits_mlp", "smoke")
  config.train.num_steps, config.train.checkpoint_every_steps = 16, 8
  train.run(config, tmp_path)
  recorded = json.loads((tmp_path / "config.json").read_text())
  for key, value in runs.RETIRED_DEFAULTS.items():  # as written before they were retired
    section, field = key.split(".")
    recorded[section].setdefault(field, list(value) if isinstance(value, tuple) else value)
  recorded["data"]["num_negatives"] = 8
  (tmp_path / "config.json").write_text(json.dumps(recorded))
  (tmp_path / "results.json").unlink()
  shutil.rmtree(tmp_path / "checkpoints" / "16")
  with pytest.raises(train.ConfigError, match=r"differs in: data\.num_negatives\)"):
    train.run(config, tmp_path)
  assert json.loads((tmp_path / "config.json").read_text()) == recorded
  recorded["data"]["num_negatives"] = 4
  (tmp_path / "config.json").write_text(json.dumps(recorded))
  assert train.run(config, tmp_path)["resumed_from_step"] == 8
  assert json.loads((tmp_path / "config.json").read_text()) == json.loads(config.to_json_best_effort())


def test_extending_a_finished_run_equals_the_longer_run_from_the_start(tmp_path):
  """Under a constant learning rate a finished run may be resumed with more steps: the parameters and every
  logged loss equal those of a run asked for the longer length from the start, bitwise."""
  config = load_config("digits_mlp", "smoke")
  config.train.steps_per_call, config.train.log_every_steps = 4, 4
  config.train.eval_every_steps, config.train.checkpoint_every_steps = 12, 12
  config.train.num_steps = 24
  train.run(config, tmp_path / "long")
  config.train.num_steps = 12
  train.run(config, tmp_path / "extended")
  config.train.num_steps = 24
  extended = train.run(config, tmp_path / "extended")
  assert extended["resumed_from_step"] == 12
  assert_bitwise_equal(final_state(tmp_path / "extended"), final_state(tmp_path / "long"))
  assert train_losses(tmp_path / "extended") == train_losses(tmp_path / "long")
  assert json.loads((tmp_path / "extended" / "config.json").read_text())["train"]["num_steps"] == 24
  (line,) = (tmp_path / "extended" / "extensions.jsonl").read_text().splitlines()
  assert json.loads(line)["changed"] == {"train.num_steps": [12, 24]}
  assert json.loads(line)["total_steps"] == [12, 24]


def test_a_constant_run_extended_into_a_cooldown_equals_the_cooldown_run_from_the_start(tmp_path):
  """Constant for 12 steps, then resumed as a 24-step run whose last 8 steps decay: equal to that run, bitwise.
  A cooldown that would start before step 12 changes steps already taken and is refused (its first step, at
  the boundary, still has the full rate)."""
  config = load_config("digits_mlp", "smoke")
  config.train.steps_per_call, config.train.log_every_steps = 4, 4
  config.train.eval_every_steps, config.train.checkpoint_every_steps = 12, 12
  config.train.num_steps, config.optim.schedule, config.optim.cooldown_steps = 24, "cooldown", 8
  train.run(config, tmp_path / "cooldown")
  lr = [m["train/lr"] for m in read_metrics(tmp_path / "cooldown") if "train/lr" in m]
  # Logged as the mean over each 4-step interval: constant for 16 steps, then 1e-3 * (1 - (t - 16) / 8).
  assert lr == pytest.approx([1e-3] * 4 + [1e-3 * (8 + 7 + 6 + 5) / 32, 1e-3 * (4 + 3 + 2 + 1) / 32], rel=1e-5)
  config.train.num_steps, config.optim.schedule, config.optim.cooldown_steps = 12, "constant", 0
  train.run(config, tmp_path / "extended")
  config.train.num_steps, config.optim.schedule, config.optim.cooldown_steps = 24, "cooldown", 16
  with pytest.raises(train.ConfigError, match=r"step 9, already taken, would change its learning rate from 0.001 to 0.0009375"):
    train.run(config, tmp_path / "extended")
  config.optim.cooldown_steps = 8
  assert train.run(config, tmp_path / "extended")["resumed_from_step"] == 12
  assert_bitwise_equal(final_state(tmp_path / "extended"), final_state(tmp_path / "cooldown"))
  assert train_losses(tmp_path / "extended") == train_losses(tmp_path / "cooldown")


def test_a_cooldown_longer_than_the_run_is_a_config_error(tmp_path):
  config = load_config("digits_mlp", "smoke")
  config.optim.schedule, config.optim.cooldown_steps = "cooldown", 10 ** 6
  with pytest.raises(train.ConfigError, match=r"cooldown_steps=1000000 must be in 1\.\.88"):
    train.run(config, tmp_path / "run")
  assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("change, expected", [
    ({"num_steps": 8}, r"differs in: train\.num_steps.*88 -> 8 steps here"),  # 2 epochs of 44 steps, then 8 steps
    ({"num_epochs": 1.0}, r"differs in: train\.num_epochs.*88 -> 44 steps here"),
    ({"schedule": "cosine", "num_epochs": 4.0}, r"differs in: optim\.schedule, train\.num_epochs"),
])
def test_a_run_may_only_grow_and_only_under_a_constant_learning_rate(change, expected, tmp_path):
  config = load_config("digits_mlp", "smoke")
  train.run(config, tmp_path)
  before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
  for key, value in change.items():
    (config.optim if key == "schedule" else config.train)[key] = value
  with pytest.raises(train.ConfigError, match=expected):
    train.run(config, tmp_path)
  assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_extending_under_a_decaying_schedule_is_refused(tmp_path):
  config = load_config("digits_mlp", "smoke")
  config.optim.schedule = "cosine"
  train.run(config, tmp_path)
  before = (tmp_path / "config.json").read_text()
  config.train.num_epochs *= 2
  with pytest.raises(train.ConfigError, match=r"step 1, already taken, would change its learning rate"):
    train.run(config, tmp_path)
  assert (tmp_path / "config.json").read_text() == before
  assert not (tmp_path / "extensions.jsonl").exists()


def test_rerunning_a_finished_run_changes_nothing(tmp_path):
  config = load_config("digits_mlp", "smoke")
  first = train.run(config, tmp_path)
  before = {p: p.read_bytes() for p in (tmp_path / "results.json", tmp_path / "metrics.jsonl")}
  again = train.run(config, tmp_path)
  assert again == json.loads((tmp_path / "results.json").read_text())
  assert again["final_metrics"] == pytest.approx(first["final_metrics"])
  assert {p: p.read_bytes() for p in before} == before


def test_missing_data_is_a_clear_error(tmp_path):
  proc = run_cli("mnist_mlp.py", tmp_path / "run", "--config.data.data_dir=" + str(tmp_path / "nowhere"))
  assert proc.returncode == 2
  assert "train-images-idx3-ubyte.gz" in proc.stderr and "not found" in proc.stderr
  assert not (tmp_path / "run").exists()


def test_eval_at_start_scores_the_initial_parameters_once(tmp_path):
  """``train.eval_at_start``: an evaluation at step 0, of the parameters before any update. At a zero learning
  rate every later evaluation scores the same parameters and must equal it; a resumed run does not repeat it."""
  config = load_config("digits_mlp", "smoke")
  config.train.num_steps, config.train.steps_per_call = 16, 4
  config.train.log_every_steps, config.train.eval_every_steps = 4, 8
  config.train.checkpoint_every_steps, config.train.keep_checkpoints = 8, 3
  split = config.data.eval_split

  def evals(workdir):
    return [{k: v for k, v in m.items() if k.startswith(f"{split}/")} | {"step": m["step"]}
            for m in read_metrics(workdir) if any(k.startswith(f"{split}/") for k in m)]

  train.run(config, tmp_path / "off")
  assert [e["step"] for e in evals(tmp_path / "off")] == [8, 16]
  config.train.eval_at_start = True
  frozen = config.copy_and_resolve_references()
  frozen.optim.lr = 0.0
  train.run(frozen, tmp_path / "frozen")
  still = evals(tmp_path / "frozen")
  assert [e.pop("step") for e in still] == [0, 8, 16]
  assert still[0] == still[1] == still[2] and f"{split}/accuracy" in still[0]
  train.run(config, tmp_path / "trained")
  moved = evals(tmp_path / "trained")
  assert [e.pop("step") for e in moved] == [0, 8, 16]
  assert moved[0] == still[0]  # the same initialisation, scored before the first update
  assert moved[2] != moved[0]
  shutil.copytree(tmp_path / "trained", tmp_path / "resumed")
  (tmp_path / "resumed" / "results.json").unlink()
  shutil.rmtree(tmp_path / "resumed" / "checkpoints" / "16")
  assert train.run(config, tmp_path / "resumed")["resumed_from_step"] == 8
  # step 16 redone, and logged once (the first attempt's row after the checkpoint dropped); step 0 not redone
  assert [e["step"] for e in evals(tmp_path / "resumed")] == [0, 8, 16]


def test_ema_run_evaluates_checkpoints_and_restores_the_parameter_average(tmp_path):
  """``optim.ema_decay``: the average lives in the optimizer state of the checkpoint; the run's evaluations
  score it, not the live parameters, and ``restore_params`` returns it."""
  config = load_config("digits_mlp", "smoke")
  config.optim.ema_decay = 0.9
  results = train.run(config, tmp_path)
  state = final_state(tmp_path)
  averages = [s for s in jax.tree.leaves(state["opt_state"], is_leaf=lambda x: isinstance(x, dict) and "average" in x)
              if isinstance(s, dict) and "average" in s]
  assert len(averages) == 1 and int(averages[0]["count"]) == results["steps"]
  _, model, restored = runs.restore_params(tmp_path)
  assert_bitwise_equal(jax.tree.map(np.asarray, restored), averages[0]["average"])
  assert not np.allclose(jax.tree.leaves(restored)[0], jax.tree.leaves(state["params"])[0])
  _, task = program.validate(config)
  split = program.load_split(config.data, config.data.eval_split)
  batch = {k: v[np.arange(len(split))] for k, v in split.arrays.items()} | {"mask": np.ones(len(split), np.float32)}

  def accuracy(params):
    sums = task.evaluate(model, params, batch, config.task)
    return float(sums["accuracy"] / sums["count"])

  split_name = config.data.eval_split
  assert results["final_metrics"][f"{split_name}/accuracy"] == pytest.approx(accuracy(restored), abs=1e-6)
  assert accuracy(restored) != accuracy(state["params"])  # the live parameters score differently
  config.optim.ema_decay = 1.0
  with pytest.raises(train.ConfigError, match="ema_decay=1.0"):
    train.run(config, tmp_path / "bad")
  assert not (tmp_path / "bad").exists()


def test_resume_mid_log_interval_logs_what_an_uninterrupted_run_logs(tmp_path):
  """A checkpoint between two logs carries the train-metric sums so far: the resumed run's next log and its
  final train metrics equal the uninterrupted run's."""
  config = load_config("digits_mlp", "smoke")
  config.train.num_steps, config.train.steps_per_call = 16, 4
  config.train.log_every_steps, config.train.eval_every_steps = 8, 16
  config.train.checkpoint_every_steps, config.train.keep_checkpoints = 4, 10
  whole = train.run(config, tmp_path / "whole")
  shutil.copytree(tmp_path / "whole", tmp_path / "resumed")
  (tmp_path / "resumed" / "results.json").unlink()
  for step in (8, 12, 16):  # back to the checkpoint at step 4, half-way through the first log interval
    shutil.rmtree(tmp_path / "resumed" / "checkpoints" / str(step))
  resumed = train.run(config, tmp_path / "resumed")
  assert resumed["resumed_from_step"] == 4
  assert train_losses(tmp_path / "resumed")[8] == train_losses(tmp_path / "whole")[8]
  train_metrics = lambda r: {k: v for k, v in r["final_metrics"].items() if k.startswith("train/")}
  assert train_metrics(resumed) == train_metrics(whole)
