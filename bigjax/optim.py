"""Optax optimizer, learning-rate schedule, gradient clipping and weight-decay mask from ``config.optim``.

Fields: ``name`` (adam | adamw | sgd | momentum | adagrad), ``lr``, ``b1``, ``b2``, ``eps``, ``momentum``,
``initial_accumulator`` (adagrad's starting sum of squared gradients),
``nesterov``, ``weight_decay``, ``schedule`` (constant | cosine | warmup_cosine | linear | cooldown |
warmup_rsqrt), ``warmup_steps``, ``end_lr_factor`` (final lr = lr * end_lr_factor), ``cooldown_steps`` (``cooldown``: constant,
then linear to the final lr over the last ``cooldown_steps`` steps; the warmup-stable-decay schedule of Hägele et
al. 2024 without the warmup; ``warmup_rsqrt``: linear to ``lr`` over ``warmup_steps``, then
``lr * sqrt(warmup_steps / step)``, Vaswani et al. 2017's shape with its peak at ``lr``: it does not depend on the
run's length, so a shorter run is exactly a longer one's beginning and one validation curve chooses the epochs),
``clip_norm`` (0 disables), ``ema_decay`` (> 0: keep an exponential moving average of
the parameters in the optimizer state, which the loop evaluates, checkpoints and restores instead of the live
parameters; ``param_average``).
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

OPTIMIZERS = ("adam", "adamw", "sgd", "momentum", "adagrad")
SCHEDULES = ("constant", "cosine", "warmup_cosine", "linear", "cooldown", "warmup_rsqrt")


def make_schedule(cfg: Any, total_steps: int) -> optax.Schedule:
  lr, end = cfg.lr, cfg.lr * cfg.end_lr_factor
  if cfg.schedule == "constant":
    return optax.constant_schedule(lr)
  if cfg.schedule == "cosine":
    return optax.cosine_decay_schedule(lr, max(total_steps, 1), alpha=cfg.end_lr_factor)
  if cfg.schedule == "warmup_cosine":
    return optax.warmup_cosine_decay_schedule(0.0, lr, cfg.warmup_steps, max(total_steps, cfg.warmup_steps + 1), end)
  if cfg.schedule == "linear":
    return optax.linear_schedule(lr, end, max(total_steps, 1))
  if cfg.schedule == "cooldown":
    cooldown = cfg.cooldown_steps
    if not 0 < cooldown <= total_steps:
      raise ValueError(f"config.optim.cooldown_steps={cooldown} must be in 1..{total_steps} (the run's steps) "
                       f"for config.optim.schedule='cooldown'")
    return optax.join_schedules([optax.constant_schedule(lr), optax.linear_schedule(lr, end, cooldown)],
                                [total_steps - cooldown])
  if cfg.schedule == "warmup_rsqrt":
    warmup = cfg.warmup_steps
    if warmup < 1:
      raise ValueError(f"config.optim.warmup_steps={warmup} must be >= 1 for config.optim.schedule='warmup_rsqrt'")
    return optax.join_schedules(
        [optax.linear_schedule(0.0, lr, warmup), lambda after: lr * jnp.sqrt(warmup / jnp.maximum(warmup + after, warmup))], [warmup])
  raise ValueError(f"config.optim.schedule={cfg.schedule!r} is unknown; choose one of {SCHEDULES}")


def decay_mask(params: Any) -> Any:
  """Weight decay applies to matrices and conv kernels (ndim >= 2), never to biases or norms."""
  return jax.tree.map(lambda p: p.ndim >= 2, params)


def make_optimizer(cfg: Any, total_steps: int) -> tuple[optax.GradientTransformation, optax.Schedule]:
  schedule = make_schedule(cfg, total_steps)
  if cfg.name == "adam":
    tx = optax.adam(schedule, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps)
  elif cfg.name == "adamw":
    tx = optax.adamw(schedule, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps, weight_decay=cfg.weight_decay, mask=decay_mask)
  elif cfg.name == "sgd":
    tx = optax.sgd(schedule)
  elif cfg.name == "momentum":
    tx = optax.sgd(schedule, momentum=cfg.momentum, nesterov=cfg.nesterov)
  elif cfg.name == "adagrad":
    tx = optax.adagrad(schedule, initial_accumulator_value=cfg.initial_accumulator, eps=cfg.eps)
  else:
    raise ValueError(f"config.optim.name={cfg.name!r} is unknown; choose one of {OPTIMIZERS}")
  if cfg.weight_decay and cfg.name != "adamw":
    # Coupled L2 decay (added to the gradient) for optimizers without a decoupled variant.
    tx = optax.chain(optax.add_decayed_weights(cfg.weight_decay, mask=decay_mask), tx)
  if cfg.clip_norm:
    tx = optax.chain(optax.clip_by_global_norm(cfg.clip_norm), tx)
  decay = ema_decay(cfg)
  if decay:
    tx = optax.chain(tx, param_average(decay))
  return tx, schedule


def ema_decay(cfg: Any) -> float:
  """``cfg.ema_decay``, checked: a number in [0, 1) (0 for runs recorded before the field existed)."""
  decay = cfg.get("ema_decay", 0.0)
  if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 <= decay < 1.0:
    raise ValueError(f"config.optim.ema_decay={decay!r} must be a number in [0, 1) (0: evaluate the live parameters)")
  return float(decay)


class ParamAverageState(NamedTuple):
  count: jax.Array  # int32 []: updates averaged so far
  average: Any      # the running average, shaped (and boxed, sharded) like the parameters


def param_average(decay: float) -> optax.GradientTransformation:
  """Passes the updates through and keeps an exponential moving average of the parameters they lead to.

  This is Polyak averaging in its exponential form (as TensorFlow's ``ExponentialMovingAverage`` with
  ``num_updates``): after update t (counted from 0) the parameters ``p`` enter as
  ``average = d_t * average + (1 - d_t) * p`` with ``d_t = min(decay, (1 + t) / (10 + t))``, so the first
  updates are not swamped by the initialisation. The average starts at the initial parameters. Last in a
  chain, ``params + updates`` are the parameters after the step. Integer leaves are carried, not averaged.
  """
  def init(params):
    return ParamAverageState(jnp.zeros([], jnp.int32), jax.tree.map(jnp.copy, params))

  def update(updates, state, params=None):
    if params is None:
      raise ValueError("param_average needs the parameters: call tx.update(grads, state, params)")
    new = optax.apply_updates(params, updates)
    t = state.count.astype(jnp.float32)
    d = jnp.minimum(decay, (1.0 + t) / (10.0 + t))
    mix = lambda a, p: (d * a + (1.0 - d) * p).astype(a.dtype) if jnp.issubdtype(a.dtype, jnp.inexact) else p
    return updates, ParamAverageState(state.count + 1, jax.tree.map(mix, state.average, new))

  return optax.GradientTransformation(init, update)


def eval_params(opt_state: Any, params: Any) -> Any:
  """The parameters a run evaluates: the ``param_average`` in ``opt_state`` if it keeps one, else ``params``."""
  is_average = lambda x: isinstance(x, ParamAverageState)
  return next((s.average for s in jax.tree.leaves(opt_state, is_leaf=is_average) if is_average(s)), params)
