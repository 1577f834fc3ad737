"""What is learned, as pure functions; chosen by ``config.task.name`` (module name under ``bigjax.tasks``).

Every task module exposes:
  ``init(model, rng, batch) -> params``
  ``loss(model, params, batch, rng, task_config) -> (scalar loss, {name: per-batch mean})``
  ``evaluate(model, params, batch, task_config) -> {name: sum over valid examples}``, with ``"count"``;
  ``batch["mask"]`` (``[b]``, 1 for real examples, 0 for padding) weights every sum.
  ``LOSSES``: the names ``task_config.loss`` may take.

Optional hooks, each used by the loop only where a task defines it:
  ``finalize_metrics(means) -> means``: metrics that are not means over examples (perplexity).
  ``initial_params(model, params, task_config) -> params``: start from other runs (NeuMF from GMF + MLP).
  ``make_update(model, task_config, tx) -> update``, ``update(params, opt_state, batch, rng) -> (params,
  opt_state, metrics, finite)``: the task's own step in place of one gradient step on ``loss`` (a GAN's two
  players); ``init_opt_state(tx, params)`` then builds its optimizer state.
  ``make_sample_eval(model, config, train_arrays, eval_arrays, workdir, is_main) -> (params, step) -> metrics``:
  scores generated samples at each evaluation (Fréchet distance, confidence, class entropy).
"""
