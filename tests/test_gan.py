"""GANs: losses against hand computation, the Fréchet distance against SciPy in float64, each player's step leaves
the other player alone, smoke configs train, kill-and-resume is bitwise identical for both players. No mocks."""

import json
import math
import signal
import subprocess

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.linalg

from bigjax import program, train
from bigjax.evals import gan as gan_metrics
from bigjax.models import gan as gan_models
from bigjax.tasks import gan
from conftest import REPO, cli_command, cli_env, load_config, requires_mnist
from test_train import assert_bitwise_equal, final_state, start_and_signal

pytestmark = pytest.mark.usefixtures("fast_compiles")

REAL = np.array([2.0, -1.0, 0.5])
FAKE = np.array([-0.5, 1.5, 0.0])


# ---------------------------------------------------------------------------------------------- losses

def _softplus(x):
  return np.log1p(np.exp(x))


@pytest.mark.parametrize("loss, d_expected, g_expected", [
    # -log s(r) = softplus(-r), -log(1 - s(f)) = softplus(f), -log s(f) = softplus(-f)
    ("non_saturating", np.mean(_softplus(-REAL)) + np.mean(_softplus(FAKE)), np.mean(_softplus(-FAKE))),
    # D: relu(1 - r) = (0, 2, 0.5), relu(1 + f) = (0.5, 2.5, 1); G: -mean(f) = -1/3
    ("hinge", (0 + 2 + 0.5) / 3 + (0.5 + 2.5 + 1) / 3, -1.0 / 3),
    # D: (r-1)^2/2 = (0.5, 2, 0.125), f^2/2 = (0.125, 1.125, 0); G: (f-1)^2/2 = (1.125, 0.125, 0.5)
    ("least_squares", (0.5 + 2 + 0.125) / 3 + (0.125 + 1.125 + 0) / 3, (1.125 + 0.125 + 0.5) / 3),
])
def test_losses_match_hand_computation(loss, d_expected, g_expected):
  r, f = jnp.asarray(REAL, jnp.float32), jnp.asarray(FAKE, jnp.float32)
  np.testing.assert_allclose(gan.discriminator_loss(r, f, loss), d_expected, rtol=1e-6)
  np.testing.assert_allclose(gan.generator_loss(f, loss), g_expected, rtol=1e-6)


def test_unknown_loss_is_named():
  with pytest.raises(ValueError, match="config.task.loss='wasserstein'.*non_saturating"):
    gan.discriminator_loss(jnp.zeros(2), jnp.zeros(2), "wasserstein")
  config = load_config("mnist_dcgan", "smoke")
  config.task.loss = "wasserstein"
  with pytest.raises(train.ConfigError, match="config.task.loss='wasserstein'"):
    program.validate(config)


# ---------------------------------------------------------------------------------------------- metrics

def test_frechet_distance_matches_scipy_in_float64():
  rng = np.random.default_rng(0)
  a = rng.normal(size=(400, 12)) @ rng.normal(size=(12, 12))
  b = rng.normal(size=(300, 12)) @ rng.normal(size=(12, 12)) + 0.5
  mu_a, mu_b = a.mean(0), b.mean(0)
  cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
  root = scipy.linalg.sqrtm(cov_a @ cov_b).real
  expected = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * root)
  np.testing.assert_allclose(gan_metrics.features_frechet_distance(a.astype(np.float32), b.astype(np.float32)),
                             expected, rtol=1e-5)
  np.testing.assert_allclose(gan_metrics.frechet_distance(mu_a, cov_a, mu_b, cov_b), expected, rtol=1e-10)
  # 1-D Gaussians: (m1 - m2)^2 + (s1 - s2)^2
  np.testing.assert_allclose(gan_metrics.frechet_distance(np.array([1.0]), np.array([[4.0]]),
                                                          np.array([-2.0]), np.array([[9.0]])), 9.0 + 1.0)
  assert abs(gan_metrics.features_frechet_distance(a, a)) < 1e-8


def test_confidence_and_class_entropy_by_hand():
  probs = np.full((20, 10), 0.01)
  probs[np.arange(20), np.arange(20) % 10] = 0.91  # every class twice, all confident
  assert gan_metrics.confident_fraction(probs) == 1.0
  np.testing.assert_allclose(gan_metrics.class_entropy(probs), math.log(10))
  probs[:5, :] = 0.1                                # five unsure rows, argmax class 0
  assert gan_metrics.confident_fraction(probs) == 0.75
  one_mode = np.zeros((7, 10))
  one_mode[:, 3] = 1.0
  assert gan_metrics.class_entropy(one_mode) == 0.0
  p = np.array([0.5, 0.25, 0.25])                   # two classes of 4 samples... 2/1/1
  np.testing.assert_allclose(gan_metrics.class_entropy(np.eye(3)[[0, 0, 1, 2]]), -(p * np.log(p)).sum())


def test_image_grid_places_each_sample():
  images = np.stack([np.full((3, 2, 1), i / 4) for i in range(5)])
  grid = gan_metrics.image_grid(images, columns=2)
  assert grid.shape == (3 * 4 + 1, 2 * 3 + 1) and grid.dtype == np.uint8
  assert grid[1, 1] == 0 and grid[1, 4] == 64 and grid[9, 1] == 255 and grid[0, 0] == 128


# ---------------------------------------------------------------------------------------------- the two players

@pytest.mark.parametrize("pair, loss", [(gan_models.DCGAN(latent_dim=8, features=4), "non_saturating"),
                                        (gan_models.DCGAN(latent_dim=8, features=4), "hinge"),
                                        (gan_models.DCGAN(latent_dim=8, features=4, dense_features=16), "non_saturating"),
                                        (gan_models.DCGAN(latent_dim=8, features=4, dense_features=16, code_classes=3),
                                         "non_saturating"),
                                        (gan_models.MLPGAN(latent_dim=8, hidden=16, units=8, pieces=2), "least_squares")])
def test_each_players_step_leaves_the_other_player_alone(pair, loss):
  tx = optax.adam(1e-2, b1=0.5)
  config = load_config("mnist_dcgan", "smoke").task
  config.loss = loss
  real = jax.random.uniform(jax.random.PRNGKey(1), (6, 28, 28, 1))
  params = gan.init(pair, jax.random.PRNGKey(0), {"image": real})
  opt_state = gan.init_opt_state(tx, params)
  generate, d_step, g_step = gan.make_player_steps(pair, config, tx)

  @jax.jit
  def both_steps(params, opt_state, real, z, keys):  # as make_update composes them, keeping what is in between
    fake, pull_back, g_state = generate(params, z)
    code = gan_models.code_of(pair, z)
    after_d, opt_d, _ = d_step(params, opt_state, gan.to_model_range(real), fake, keys[0], keys[1], code)
    after_g, opt_g, _ = g_step(after_d, opt_d, fake, pull_back, g_state, keys[2], code)
    return after_d, opt_d, after_g, opt_g

  z = gan_models.latent(pair, jax.random.PRNGKey(2), 6)
  after_d, opt_d, after_g, opt_g = both_steps(params, opt_state, real, z, jax.random.split(jax.random.PRNGKey(3), 3))
  assert_bitwise_equal(after_d["generator"], params["generator"])  # params and batch statistics
  assert_bitwise_equal(opt_d["generator"], opt_state["generator"])
  # (any, not all: under hinge with every margin active, the output bias' gradient is exactly 0)
  assert any(np.any(a != b) for a, b in zip(jax.tree.leaves(after_d["discriminator"]["params"]),
                                            jax.tree.leaves(params["discriminator"]["params"])))
  assert_bitwise_equal(after_g["discriminator"], after_d["discriminator"])
  assert_bitwise_equal(opt_g["discriminator"], opt_d["discriminator"])
  assert any(np.any(a != b) for a, b in zip(jax.tree.leaves(after_g["generator"]["params"]),
                                            jax.tree.leaves(params["generator"]["params"])))
  if "batch_stats" in params["generator"]:  # the generator's running averages move in its forward pass
    assert any(np.any(a != b) for a, b in zip(jax.tree.leaves(after_g["generator"]["batch_stats"]),
                                              jax.tree.leaves(params["generator"]["batch_stats"])))


@pytest.mark.parametrize("scale", [0.5, 4.0])
def test_discriminator_lr_scale_multiplies_its_step_and_only_its_step(scale):
  """With SGD, the discriminator's change under ``discriminator_lr_scale = k`` is k times its change at k = 1; the
  generator, stepped before any discriminator change reaches it here, gets the same update either way."""
  pair = gan_models.DCGAN(latent_dim=8, features=4)
  tx = optax.sgd(1e-2)
  config = load_config("mnist_dcgan", "smoke").task
  real = gan.to_model_range(jax.random.uniform(jax.random.PRNGKey(1), (6, 28, 28, 1)))
  params = gan.init(pair, jax.random.PRNGKey(0), {"image": real})
  opt_state = gan.init_opt_state(tx, params)
  z = jax.random.normal(jax.random.PRNGKey(2), (6, pair.latent_dim))
  keys = jax.random.split(jax.random.PRNGKey(3), 3)

  def d_then_g(k):
    config.discriminator_lr_scale = k
    generate, d_step, g_step = gan.make_player_steps(pair, config, tx)
    fake, pull_back, g_state = generate(params, z)
    after_d, opt_d, _ = d_step(params, opt_state, real, fake, keys[0], keys[1])
    after_g, _, _ = g_step(params, opt_state, fake, pull_back, g_state, keys[2])  # against the same (old) D
    return after_d["discriminator"]["params"], after_g["generator"]["params"]

  d_one, g_one = d_then_g(1.0)
  d_k, g_k = d_then_g(scale)
  old = params["discriminator"]["params"]
  for one, k, start in zip(jax.tree.leaves(d_one), jax.tree.leaves(d_k), jax.tree.leaves(old)):
    np.testing.assert_allclose(np.asarray(k) - start, scale * (np.asarray(one) - start), rtol=1e-4, atol=1e-6)
  assert_bitwise_equal(g_k, g_one)
  config.discriminator_lr_scale = 0.0
  with pytest.raises(ValueError, match="discriminator_lr_scale"):
    gan.make_player_steps(pair, config, tx)


# ---------------------------------------------------------------------------------------------- InfoGAN's code

def test_latent_without_a_code_is_the_plain_noise_and_with_one_appends_a_uniform_one_hot_code():
  key = jax.random.PRNGKey(5)
  assert_bitwise_equal(gan_models.latent(gan_models.DCGAN(latent_dim=8), key, 7),
                       jax.random.normal(key, (7, 8), jnp.float32))  # what runs without a code always drew
  pair = gan_models.DCGAN(latent_dim=8, code_classes=4)
  z = np.asarray(gan_models.latent(pair, key, 4000))
  assert z.shape == (4000, pair.latent_size) == (4000, 12)
  assert_bitwise_equal(z[:, :8], jax.random.normal(key, (4000, 8), jnp.float32))
  code = gan_models.code_of(pair, jnp.asarray(z))
  assert set(np.unique(code)) == {0.0, 1.0} and np.all(code.sum(1) == 1)
  counts = np.bincount(np.argmax(code, 1), minlength=4)
  assert np.all(np.abs(counts - 1000) < 4 * np.sqrt(4000 * 0.25 * 0.75)), counts  # uniform within 4 sigma
  assert gan_models.code_of(gan_models.DCGAN(latent_dim=8), jnp.asarray(z)) is None
  with pytest.raises(ValueError, match="code_classes=1"):
    gan_models.DCGAN(code_classes=1)


def test_code_cross_entropy_matches_hand_computation():
  logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
  code = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
  log_q = logits - np.log(np.exp(logits).sum(1, keepdims=True))
  expected = -(log_q[0, 0] + log_q[1, 1]) / 2
  np.testing.assert_allclose(gan.code_cross_entropy(jnp.asarray(logits, jnp.float32), jnp.asarray(code, jnp.float32)),
                             expected, rtol=1e-6)


def test_the_code_term_trains_the_q_head_and_reaches_the_generator():
  """With SGD: at ``code_weight = 0`` the discriminator's step leaves its Q head exactly as it was and the generator's
  step equals the code-free loss's; at ``code_weight = 1`` the Q head moves and the generator's update changes.
  The generator's loss is the non-saturating loss plus the weight times the code cross-entropy, by hand."""
  pair = gan_models.DCGAN(latent_dim=8, features=4, dense_features=16, code_classes=3)
  tx = optax.sgd(1e-1)
  config = load_config("mnist_dcgan", "smoke").task
  real = gan.to_model_range(jax.random.uniform(jax.random.PRNGKey(1), (6, 28, 28, 1)))
  params = gan.init(pair, jax.random.PRNGKey(0), {"image": real})
  opt_state = gan.init_opt_state(tx, params)
  z = gan_models.latent(pair, jax.random.PRNGKey(2), 6)
  code = gan_models.code_of(pair, z)
  keys = jax.random.split(jax.random.PRNGKey(3), 3)

  def steps(weight):
    config.code_weight = weight
    generate, d_step, g_step = gan.make_player_steps(pair, config, tx)
    fake, pull_back, g_state = generate(params, z)
    after_d, _, _ = d_step(params, opt_state, real, fake, keys[0], keys[1], code)
    after_g, _, metrics = g_step(params, opt_state, fake, pull_back, g_state, keys[2], code)
    return fake, after_d["discriminator"]["params"], after_g["generator"]["params"], metrics

  fake, d0, g0, m0 = steps(0.0)
  _, d1, g1, m1 = steps(1.0)
  q_head = ("code_hidden", "code_logits")
  old = params["discriminator"]["params"]
  for name in q_head:
    assert_bitwise_equal(d0[name], old[name])
    assert any(np.any(a != b) for a, b in zip(jax.tree.leaves(d1[name]), jax.tree.leaves(old[name])))
  assert any(np.any(a != b) for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g0)))
  (logits, code_logits), _ = pair.discriminator().apply(params["discriminator"], fake, train=True,
                                                       mutable=["batch_stats"])
  logits, code_logits = np.asarray(logits, np.float64), np.asarray(code_logits, np.float64)
  log_q = code_logits - np.log(np.exp(code_logits).sum(1, keepdims=True))
  xent = -np.mean(np.sum(np.asarray(code) * log_q, 1))
  np.testing.assert_allclose(m0["g_loss"], np.mean(_softplus(-logits)), rtol=1e-5)
  np.testing.assert_allclose(m1["g_loss"], np.mean(_softplus(-logits)) + xent, rtol=1e-5)
  np.testing.assert_allclose(m1["code_mi"], np.log(3) - xent, rtol=1e-5, atol=1e-6)
  generate, d_step, g_step = gan.make_player_steps(pair, config, tx)
  fake, pull_back, g_state = generate(params, z)
  with pytest.raises(ValueError, match="3-class code"):
    d_step(params, opt_state, real, fake, keys[0], keys[1])
  config.code_weight = -1.0
  with pytest.raises(ValueError, match="code_weight"):
    gan.make_player_steps(pair, config, tx)


@pytest.mark.parametrize("decay", [0.0, 0.9])
def test_generator_average_follows_its_recurrence(decay):
  """After each update: ema = d * ema + (1 - d) * generator (params and batch statistics), from ema_0 = generator_0;
  with d = 0 it is the live generator. The players' optimizer states leave the average out."""
  pair = gan_models.DCGAN(latent_dim=8, features=4)
  tx = optax.adam(1e-2, b1=0.5)
  config = load_config("mnist_dcgan", "smoke").task
  config.generator_ema = decay
  real = jax.random.uniform(jax.random.PRNGKey(1), (6, 28, 28, 1))
  params = gan.init(pair, jax.random.PRNGKey(0), {"image": real})
  assert_bitwise_equal(params["generator_ema"], params["generator"])
  opt_state = gan.init_opt_state(tx, params)
  assert set(opt_state) == {"generator", "discriminator"}
  update = jax.jit(gan.make_update(pair, config, tx))
  expected = jax.tree.map(np.asarray, params["generator_ema"])
  for step in range(3):
    params, opt_state, _, finite = update(params, opt_state, {"image": real}, jax.random.PRNGKey(10 + step))
    assert bool(finite)
    expected = jax.tree.map(lambda e, g: decay * e + (1 - decay) * np.asarray(g), expected, params["generator"])
    for ours, reference in zip(jax.tree.leaves(params["generator_ema"]), jax.tree.leaves(expected)):
      np.testing.assert_allclose(ours, reference, rtol=1e-6, atol=1e-7)
  if decay == 0.0:
    assert_bitwise_equal(params["generator_ema"], params["generator"])
  config.generator_ema = 1.0
  with pytest.raises(ValueError, match="generator_ema"):
    gan.make_update(pair, config, tx)


# ---------------------------------------------------------------------------------------------- runs

@pytest.fixture(scope="module")
def evaluator(tmp_path_factory, fast_compiles):
  """A smoke evaluator classifier (12 steps), trained here; stands in for runs/gan_evaluator."""
  workdir = tmp_path_factory.mktemp("gan_evaluator")
  train.run(load_config("mnist_gan_evaluator", "smoke"), workdir)
  return workdir


@requires_mnist
def test_missing_evaluator_is_a_clear_error(tmp_path):
  config = load_config("mnist_dcgan", "smoke")
  config.task.evaluator_workdir = str(tmp_path / "no_evaluator")
  with pytest.raises(train.ConfigError, match=r"evaluator_workdir=.*no_evaluator.*configs/mnist_gan_evaluator.py"):
    train.run(config, tmp_path / "run")


@requires_mnist
@pytest.mark.parametrize("name", ["mnist_dcgan", "mnist_gan_mlp"])
def test_smoke_config_trains_scores_samples_and_compiles_once(name, evaluator, tmp_path):
  config = load_config(name, "smoke")
  config.task.evaluator_workdir = str(evaluator)
  results = train.run(config, tmp_path)
  assert results["trace_counts"] == {"train_call": 1, "eval_call": 1}
  metrics = results["final_metrics"]
  for key in ("test/fid", "test/fid_floor", "test/fid_ratio", "test/confident", "test/class_entropy",
              "test/d_real", "train/d_loss", "train/g_loss", "train/d_grad_norm", "train/g_grad_norm"):
    assert math.isfinite(metrics[key]), key
  assert 0 < metrics["test/fid_floor"] < metrics["test/fid"]
  assert 0 <= metrics["test/class_entropy"] <= math.log(10) + 1e-9
  assert list((tmp_path / "samples").glob("step_*.png"))
  state = final_state(tmp_path)
  assert set(state["opt_state"]) == {"generator", "discriminator"}
  assert set(state["params"]) == {"generator", "generator_ema", "discriminator"}


# digits of the smoke DCGAN, long enough to be interrupted: 120 steps, 4 per call, a checkpoint every 8.
FAULT_OVERRIDES = ("--config.train.num_steps=120", "--config.train.log_every_steps=4",
                   "--config.train.eval_every_steps=120", "--config.train.checkpoint_every_steps=8",
                   "--config.task.eval_samples=64", "--config.data.eval_examples=128")


@requires_mnist
def test_kill_and_resume_is_bitwise_identical_for_both_players(evaluator, tmp_path):
  """SIGKILL mid-run, restart: both players' parameters, batch statistics and optimizer states end bitwise equal
  to an uninterrupted run's."""
  overrides = (*FAULT_OVERRIDES, f"--config.task.evaluator_workdir={evaluator}")
  env = {**cli_env(), "JAX_DISABLE_MOST_OPTIMIZATIONS": "1"}
  whole = subprocess.run(cli_command("mnist_dcgan.py:smoke", tmp_path / "whole", *overrides), env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=300)
  assert whole.returncode == 0, whole.stderr[-3000:]

  workdir = tmp_path / "killed"
  at_step = int(np.random.default_rng().integers(20, 80))
  proc = start_and_signal(workdir, signal.SIGKILL, at_step, "mnist_dcgan.py:smoke", overrides, env, timeout=240)
  assert proc.returncode == -signal.SIGKILL, "run finished before it could be killed"
  resumed = subprocess.run(cli_command("mnist_dcgan.py:smoke", workdir, *overrides), env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=300)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  results = json.loads((workdir / "results.json").read_text())
  assert 0 < results["resumed_from_step"] < 120
  assert_bitwise_equal(final_state(workdir), final_state(tmp_path / "whole"))


@requires_mnist
def test_non_finite_losses_stop_the_run(evaluator, tmp_path):
  config = load_config("mnist_dcgan", "smoke")
  config.task.evaluator_workdir = str(evaluator)
  config.optim.lr = 1e30  # one Adam step moves every weight by ~1e30: the discriminator's next pass overflows
  with pytest.raises(train.NonFiniteError, match=r"non-finite loss or gradient norm at step \d+"):
    train.run(config, tmp_path)
  assert not (tmp_path / "results.json").exists()


def test_the_loop_s_parameter_average_is_refused_for_a_gan_naming_its_own():
  """``optim.ema_decay`` averages ``state.params`` through the optimizer; a GAN steps its players itself, so
  the loop refuses it and names the GAN's generator average instead."""
  config = load_config("mnist_dcgan", "smoke")
  config.optim.ema_decay = 0.999
  with pytest.raises(train.ConfigError, match=r"ema_decay=0.999.*config\.task\.generator_ema"):
    program.validate(config)
