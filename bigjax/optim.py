"""Optax optimizer, learning-rate schedule, gradient clipping and weight-decay mask from ``config.optim``.

Fields: ``name`` (adam | adamw | sgd | momentum), ``lr``, ``b1``, ``b2``, ``eps``, ``momentum``,
``nesterov``, ``weight_decay``, ``schedule`` (constant | cosine | warmup_cosine | linear | cooldown),
``warmup_steps``, ``end_lr_factor`` (final lr = lr * end_lr_factor), ``cooldown_steps`` (``cooldown``: constant,
then linear to the final lr over the last ``cooldown_steps`` steps; the warmup-stable-decay schedule of Hägele et
al. 2024 without the warmup), ``clip_norm`` (0 disables).
"""

from typing import Any

import jax
import optax

OPTIMIZERS = ("adam", "adamw", "sgd", "momentum")
SCHEDULES = ("constant", "cosine", "warmup_cosine", "linear", "cooldown")


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
  else:
    raise ValueError(f"config.optim.name={cfg.name!r} is unknown; choose one of {OPTIMIZERS}")
  if cfg.weight_decay and cfg.name != "adamw":
    # Coupled L2 decay (added to the gradient) for optimizers without a decoupled variant.
    tx = optax.chain(optax.add_decayed_weights(cfg.weight_decay, mask=decay_mask), tx)
  if cfg.clip_norm:
    tx = optax.chain(optax.clip_by_global_norm(cfg.clip_norm), tx)
  return tx, schedule
