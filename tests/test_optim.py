"""Tests for bigjax.optim: schedules against their closed forms, one update of every optimizer against
hand-derived values, the weight-decay mask, gradient clipping, errors, and Adam against float64 NumPy.
"""

import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from bigjax import optim
from bigjax.config_base import base_config


def optim_config(**overrides):
  """``config.optim`` with the defaults of ``base_config`` (so new fields keep their defaults)."""
  cfg = ml_collections.ConfigDict(base_config().optim.to_dict())
  cfg.update(overrides)
  return cfg


def params_and_grads():
  params = {"Dense_0": {"kernel": jnp.array([[1.0, -2.0], [3.0, 0.5]]), "bias": jnp.array([0.5, -1.0])},
            "Conv_0": {"kernel": jnp.full((2, 2, 1, 1), 2.0), "bias": jnp.array([4.0])}}
  grads = {"Dense_0": {"kernel": jnp.array([[0.1, -0.2], [0.3, 0.0]]), "bias": jnp.array([-0.5, 0.25])},
           "Conv_0": {"kernel": jnp.full((2, 2, 1, 1), -0.1), "bias": jnp.array([1.0])}}
  return params, grads


def one_update(cfg, params, grads, total_steps=100):
  tx, _ = optim.make_optimizer(cfg, total_steps)
  updates, _ = tx.update(grads, tx.init(params), params)
  return updates


def assert_tree_close(actual, expected, rtol=1e-6, atol=1e-7):
  jax.tree.map(lambda a, e: np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(e, np.float64),
                                                       rtol=rtol, atol=atol), actual, expected)


# ------------------------------------------------------------------------------------ schedules ---

LR, END_FACTOR, TOTAL, WARMUP = 0.1, 0.01, 1000, 100
END = LR * END_FACTOR


def cosine(t, span, hi, lo):
  return lo + (hi - lo) * 0.5 * (1 + math.cos(math.pi * t / span))


SCHEDULE_CASES = {  # name -> [(step, expected lr)] from the closed forms
    "constant": [(0, LR), (WARMUP, LR), (TOTAL // 2, LR), (TOTAL, LR), (5 * TOTAL, LR)],
    "cosine": [(0, LR), (TOTAL // 4, cosine(TOTAL // 4, TOTAL, LR, END)), (TOTAL // 2, (LR + END) / 2),
               (TOTAL, END), (2 * TOTAL, END)],
    "warmup_cosine": [(0, 0.0), (WARMUP // 4, LR / 4), (WARMUP, LR),
                      (WARMUP + (TOTAL - WARMUP) // 2, (LR + END) / 2),
                      (WARMUP + (TOTAL - WARMUP) // 3, cosine((TOTAL - WARMUP) // 3, TOTAL - WARMUP, LR, END)),
                      (TOTAL, END), (2 * TOTAL, END)],
    "linear": [(0, LR), (TOTAL // 4, LR + (END - LR) / 4), (TOTAL // 2, (LR + END) / 2), (TOTAL, END),
               (2 * TOTAL, END)],
    # constant until TOTAL - WARMUP (the cooldown is WARMUP steps here), then linear to END
    "cooldown": [(0, LR), (TOTAL - WARMUP, LR), (TOTAL - WARMUP // 2, (LR + END) / 2),
                 (TOTAL - WARMUP // 4, END + (LR - END) / 4), (TOTAL, END), (2 * TOTAL, END)],
    # linear to LR over WARMUP, then LR * sqrt(WARMUP / step): half the peak at 4 x WARMUP
    "warmup_rsqrt": [(0, 0.0), (WARMUP // 4, LR / 4), (WARMUP, LR), (4 * WARMUP, LR / 2),
                     (TOTAL, LR * math.sqrt(WARMUP / TOTAL)), (9 * TOTAL, LR * math.sqrt(WARMUP / (9 * TOTAL)))],
}


@pytest.mark.parametrize("name", list(SCHEDULE_CASES))
def test_schedule_closed_form(name):
  schedule = optim.make_schedule(
      optim_config(lr=LR, end_lr_factor=END_FACTOR, schedule=name, warmup_steps=WARMUP, cooldown_steps=WARMUP), TOTAL)
  for step, expected in SCHEDULE_CASES[name]:
    assert float(schedule(step)) == pytest.approx(expected, rel=1e-5, abs=1e-9), f"{name} at step {step}"


def test_warmup_cosine_without_warmup_starts_at_peak():
  schedule = optim.make_schedule(optim_config(lr=LR, end_lr_factor=0.0, schedule="warmup_cosine",
                                              warmup_steps=0), TOTAL)
  assert float(schedule(0)) == pytest.approx(LR)
  assert float(schedule(TOTAL // 2)) == pytest.approx(LR / 2, rel=1e-5)
  assert float(schedule(TOTAL)) == pytest.approx(0.0, abs=1e-9)


def test_warmup_rsqrt_does_not_depend_on_the_runs_length():
  """A shorter run's learning rates are a longer one's first ones: epochs can be chosen from one curve."""
  config = optim_config(lr=LR, schedule="warmup_rsqrt", warmup_steps=WARMUP)
  short, long = optim.make_schedule(config, TOTAL), optim.make_schedule(config, 10 * TOTAL)
  assert [float(short(s)) for s in range(0, TOTAL, 7)] == [float(long(s)) for s in range(0, TOTAL, 7)]
  with pytest.raises(ValueError, match="config.optim.warmup_steps=0 must be >= 1"):
    optim.make_schedule(optim_config(schedule="warmup_rsqrt", warmup_steps=0), TOTAL)


def test_schedule_unknown_raises_naming_value():
  with pytest.raises(ValueError, match="'exponential'"):
    optim.make_schedule(optim_config(schedule="exponential"), 10)


# ------------------------------------------------------------------------------------ optimizers ---

@pytest.mark.parametrize("name", optim.OPTIMIZERS)
def test_every_optimizer_runs_one_update(name):
  params, grads = params_and_grads()
  tx, schedule = optim.make_optimizer(optim_config(name=name, lr=0.01, weight_decay=1e-4), 10)
  state = tx.init(params)
  updates, state = tx.update(grads, state, params)
  new = optax.apply_updates(params, updates)
  assert jax.tree.structure(new) == jax.tree.structure(params)
  for u, g in zip(jax.tree.leaves(updates), jax.tree.leaves(grads)):
    u, g = np.asarray(u), np.asarray(g)
    assert np.all(np.isfinite(u))
    # Every optimizer here steps against the gradient where it is non-zero.
    nz = np.abs(g) > 0
    assert np.all(np.sign(u[nz]) == -np.sign(g[nz]))
  assert float(schedule(0)) == pytest.approx(0.01)


def test_sgd_update_is_minus_lr_times_grad():
  params, grads = params_and_grads()
  updates = one_update(optim_config(name="sgd", lr=0.3), params, grads)
  assert_tree_close(updates, jax.tree.map(lambda g: -0.3 * g, grads))


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_two_updates(nesterov):
  params, g1 = params_and_grads()
  g2 = jax.tree.map(lambda g: 2.0 * g + 0.1, g1)
  lr, m = 0.1, 0.9
  tx, _ = optim.make_optimizer(optim_config(name="momentum", lr=lr, momentum=m, nesterov=nesterov), 10)
  state = tx.init(params)
  u1, state = tx.update(g1, state, params)
  u2, state = tx.update(g2, state, params)
  # Heavy ball: trace_t = g_t + m trace_{t-1}; update = -lr * trace_t (nesterov: -lr * (g_t + m trace_t)).
  t1 = g1
  t2 = jax.tree.map(lambda a, b: b + m * a, t1, g2)
  if nesterov:
    e1 = jax.tree.map(lambda g, t: -lr * (g + m * t), g1, t1)
    e2 = jax.tree.map(lambda g, t: -lr * (g + m * t), g2, t2)
  else:
    e1, e2 = jax.tree.map(lambda t: -lr * t, t1), jax.tree.map(lambda t: -lr * t, t2)
  assert_tree_close(u1, e1)
  assert_tree_close(u2, e2)


def test_optimizer_unknown_raises_naming_value():
  with pytest.raises(ValueError, match="'lamb'"):
    optim.make_optimizer(optim_config(name="lamb"), 10)


# ------------------------------------------------------------------------------ parameter average ---

def test_param_average_follows_the_float64_recurrence_and_leaves_the_updates_alone():
  """``optim.ema_decay``: after update t the parameters p_{t+1} enter the average as
  a <- d_t a + (1 - d_t) p_{t+1}, d_t = min(decay, (1 + t) / (10 + t)), a starting at p_0; the updates are SGD's."""
  params, grads = params_and_grads()
  lr, decay, steps = 0.1, 0.5, 12  # (1 + t) / (10 + t) passes 0.5 at t = 8: both branches of the min are taken
  tx, _ = optim.make_optimizer(optim_config(name="sgd", lr=lr, ema_decay=decay), steps)
  plain, _ = optim.make_optimizer(optim_config(name="sgd", lr=lr), steps)
  state, p = tx.init(params), params
  ref_p = jax.tree.map(lambda x: np.asarray(x, np.float64), params)
  ref_a = ref_p
  for t in range(steps):
    g = jax.tree.map(lambda x: (t + 1.0) * x - 0.05 * t, grads)
    updates, state = tx.update(g, state, p)
    assert_tree_close(updates, plain.update(g, plain.init(p), p)[0])
    p = optax.apply_updates(p, updates)
    ref_p = jax.tree.map(lambda x, gx: x - lr * np.asarray(gx, np.float64), ref_p, g)
    d = min(decay, (1 + t) / (10 + t))
    ref_a = jax.tree.map(lambda a, x: d * a + (1 - d) * x, ref_a, ref_p)
  assert steps / (9 + steps) > decay > 1 / 10  # the warm-up and the constant decay both ran
  average = optim.eval_params(state, p)
  for got, want in zip(jax.tree.leaves(average), jax.tree.leaves(ref_a)):
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)
  assert not np.allclose(jax.tree.leaves(average)[0], jax.tree.leaves(p)[0])


def test_eval_params_are_the_live_ones_without_an_average():
  params, grads = params_and_grads()
  tx, _ = optim.make_optimizer(optim_config(name="adam", lr=0.01), 10)
  state = tx.init(params)
  assert optim.eval_params(state, params) is params


@pytest.mark.parametrize("decay", [1.0, -0.1])
def test_ema_decay_outside_zero_one_raises_naming_it(decay):
  with pytest.raises(ValueError, match=f"ema_decay={decay}"):
    optim.make_optimizer(optim_config(ema_decay=decay), 10)


# ---------------------------------------------------------------------------------- weight decay ---

def test_decay_mask_excludes_biases():
  params, _ = params_and_grads()
  params["scale"] = jnp.ones(())
  assert optim.decay_mask(params) == {"Dense_0": {"kernel": True, "bias": False},
                                      "Conv_0": {"kernel": True, "bias": False}, "scale": False}


@pytest.mark.parametrize("name", ["adamw", "sgd", "momentum", "adam"])
def test_weight_decay_skips_biases(name):
  """With zero gradients the whole update is the decay term: -lr * wd * p on kernels, 0 on biases."""
  params, grads = params_and_grads()
  zeros = jax.tree.map(jnp.zeros_like, grads)
  lr, wd = 0.1, 0.5
  updates = one_update(optim_config(name=name, lr=lr, weight_decay=wd), params, zeros)
  if name == "adam":
    # Coupled L2 goes through Adam's normalisation: the first step is -lr * sign(wd * p) (up to eps).
    expected_kernel = lambda p: -lr * np.sign(p) * (np.abs(wd * p) / (np.abs(wd * p) + 1e-8))
  else:
    expected_kernel = lambda p: -lr * wd * np.asarray(p)
  for layer in params:
    np.testing.assert_allclose(np.asarray(updates[layer]["kernel"]), expected_kernel(np.asarray(params[layer]["kernel"])),
                               rtol=1e-5)  # Adam's float32 bias correction: ~7e-6 relative
    np.testing.assert_array_equal(np.asarray(updates[layer]["bias"]), 0.0)


def test_sgd_coupled_weight_decay_adds_to_gradient():
  params, grads = params_and_grads()
  lr, wd = 0.1, 0.5
  updates = one_update(optim_config(name="sgd", lr=lr, weight_decay=wd), params, grads)
  expected = jax.tree.map(lambda g, p: -lr * (g + (wd * p if p.ndim >= 2 else 0.0)), grads, params)
  assert_tree_close(updates, expected)


# ------------------------------------------------------------------------------------- clipping ---

def global_norm(tree):
  return math.sqrt(sum(float(np.sum(np.asarray(x, np.float64) ** 2)) for x in jax.tree.leaves(tree)))


def test_clip_norm_clips_global_norm():
  params, grads = params_and_grads()
  norm = global_norm(grads)
  clip = norm / 4
  updates = one_update(optim_config(name="sgd", lr=1.0, clip_norm=clip), params, grads)
  assert_tree_close(updates, jax.tree.map(lambda g: -g * clip / norm, grads))
  assert global_norm(updates) == pytest.approx(clip, rel=1e-6)


def test_clip_norm_leaves_small_gradients_alone():
  params, grads = params_and_grads()
  updates = one_update(optim_config(name="sgd", lr=1.0, clip_norm=10 * global_norm(grads)), params, grads)
  assert_tree_close(updates, jax.tree.map(lambda g: -g, grads))


def test_clip_applies_to_gradient_before_weight_decay_and_optimizer():
  params, grads = params_and_grads()
  lr, wd = 0.1, 0.5
  norm = global_norm(grads)
  clip = norm / 2
  updates = one_update(optim_config(name="sgd", lr=lr, weight_decay=wd, clip_norm=clip), params, grads)
  expected = jax.tree.map(lambda g, p: -lr * (g * clip / norm + (wd * p if p.ndim >= 2 else 0.0)), grads, params)
  assert_tree_close(updates, expected)


# ------------------------------------------------------------------------------- Adam vs NumPy ---

def np_adam_updates(grads, lrs, b1, b2, eps):
  m = v = np.zeros_like(grads[0])
  out = []
  for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
    out.append(-lr * m_hat / (np.sqrt(v_hat) + eps))
  return out


@pytest.mark.parametrize("schedule", ["constant", "linear"])
def test_adam_first_two_updates_match_numpy(schedule):
  b1, b2, eps, lr, total = 0.8, 0.95, 1e-3, 0.05, 4
  cfg = optim_config(name="adam", lr=lr, b1=b1, b2=b2, eps=eps, schedule=schedule, end_lr_factor=0.5)
  tx, sched = optim.make_optimizer(cfg, total)
  # Gradients of the size of eps, so that eps visibly matters.
  g1 = np.array([[2e-3, -1e-3, 5e-4], [0.0, 3e-2, -4e-3]])
  g2 = np.array([[-1e-3, -2e-3, 1e-3], [1e-3, 1e-2, 4e-3]])
  params = {"w": jnp.ones((2, 3))}
  state = tx.init(params)
  u1, state = tx.update({"w": jnp.asarray(g1, jnp.float32)}, state, params)
  u2, state = tx.update({"w": jnp.asarray(g2, jnp.float32)}, state, params)
  # optax evaluates the schedule at the step count before the update: lr(0), then lr(1).
  lrs = [lr, lr] if schedule == "constant" else [lr, lr + (lr * 0.5 - lr) / total]
  assert float(sched(1)) == pytest.approx(lrs[1])
  e1, e2 = np_adam_updates([g1, g2], lrs, b1, b2, eps)
  np.testing.assert_allclose(np.asarray(u1["w"], np.float64), e1, rtol=1e-5, atol=1e-9)
  np.testing.assert_allclose(np.asarray(u2["w"], np.float64), e2, rtol=1e-5, atol=1e-9)
  # eps matters here: without it the first update would be -lr * sign(g).
  assert not np.allclose(e1, -lr * np.sign(g1), rtol=1e-2)
