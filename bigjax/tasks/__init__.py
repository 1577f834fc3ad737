"""What is learned, as pure functions; chosen by ``config.task.name`` (module name under ``bigjax.tasks``).

Every task module exposes:
  ``init(model, rng, batch) -> params``
  ``loss(model, params, batch, rng, task_config) -> (scalar loss, {name: per-batch mean})``
  ``evaluate(model, params, batch, task_config) -> {name: sum over valid examples}``, with ``"count"``;
  ``batch["mask"]`` (``[b]``, 1 for real examples, 0 for padding) weights every sum.
  ``LOSSES``: the names ``task_config.loss`` may take.
"""
