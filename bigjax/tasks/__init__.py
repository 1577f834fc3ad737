"""What is learned: each ``tasks/<family>.py`` builds a ``Task`` record of pure functions that the loop runs.

A family module (chosen by ``config.task.name``) has two entry points and nothing else the loop looks for:

  ``parts(config) -> {name: PartSpec}``   the trained runs it starts from or scores with (NeuMF's GMF and MLP, a
                                          GAN's evaluator classifier); the loop loads them (``bigjax.runs``) and
                                          hands them over in ``Context.parts``. Most families have none
                                          (``parts = tasks.no_parts``).
  ``make(config, model, optimizer, context=Context()) -> Task``   checks the family's config fields (a bad one is
                                          a ``ValueError`` naming it) and closes the functions over the model.

The math stays in module-level pure functions (``loss``, ``evaluate``, ...) that the tests check directly;
``supervised`` turns a ``loss`` and an ``evaluate`` into a Task whose update is one gradient step. A task
reads no file and imports neither the loop nor the run directory: what it needs arrives as arguments.
"""

import dataclasses
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import optax

Batch = Mapping[str, jax.Array]


def _same(metrics: dict[str, float]) -> dict[str, float]:
  return metrics


def _all(params: Any) -> Any:
  return params


@dataclasses.dataclass(frozen=True)
class Predictor:
  """Inference on new inputs, as served (``bigjax.export``): pure and jit-able, any batch size.

  ``apply(variables, inputs) -> outputs``: ``inputs`` ``{name: [b, ...]}`` -> an array ``[b, ...]``.
  ``variables(params) -> variables``: the part of the trained ``params`` that ``apply`` reads (a GAN's averaged
      generator, not its discriminator); all of them by default.
  ``inputs(example) -> {name: (shape of one input, dtype)}``: ``apply``'s inputs, from ``example``, the training
      batches' ``{name: (shape of one example, dtype)}`` (``program.example_spec``), which fixes e.g. an image's size.
      A dimension may be a name instead (``"t"``: any size, as the batch's), bounded by ``constraints``
      (``("t <= 256",)``, ``jax.export``'s syntax).
  ``outputs``: what ``apply`` returns, in words with its shape, for the readers of an exported file.
  """
  apply: Callable[[Any, Batch], jax.Array]
  inputs: Callable[[Mapping[str, tuple[tuple[int, ...], Any]]], dict[str, tuple[tuple[int | str, ...], Any]]]
  outputs: str
  variables: Callable[[Any], Any] = _all
  constraints: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Task:
  """The functions one run executes; each is pure and jit-able unless said otherwise.

  ``init(rng, batch) -> params``: the trained variables (any pytree; leaves may carry logical axis names),
      from a batch of one example ``{name: [1, ...]}``.
  ``init_opt_state(params) -> opt_state``.
  ``update(params, opt_state, batch, rng) -> (params, opt_state, {name: scalar}, finite)``: one step; ``finite``
      (bool ``[]``) False makes the loop keep the previous state and stop.
  ``evaluate(params, batch) -> {name: sum over the batch's real examples}`` with ``"count"``; ``batch["mask"]``
      (``[b]``, 1 real, 0 padding) weights every sum.
  ``finalize({name: mean}) -> {name: value}`` (host side): metrics that are not means (perplexity).
  ``warm_start(params) -> params`` (host side, or None): the run's first parameters from pre-trained parts.
  ``evaluate_split(params, arrays) -> ({name: float}, {name: image})`` (host side, or None): scores that need the
      evaluated split whole, not summed batch by batch (a face's nearest training face, verification over all
      pairs of the split, a GAN's samples against the split's real images); ``arrays`` is the split's
      ``{name: [N, ...]}``; the images (``[h, w]`` or ``[h, w, c]`` uint8) go to the run's writer.
  ``own_average``: the task averages what it needs itself (a GAN's ``generator_ema``), so
      ``config.optim.ema_decay`` would average nothing it evaluates.
  ``predict`` (or None): what a served model runs on new inputs (``Predictor``; ``bigjax.export`` writes it).
  ``masks_bad_steps``: ``update`` itself returns the params and opt_state it was given when its ``finite`` is
      False (a task that moves only the rows a batch reads zeroes their steps), so the loop skips its select
      between the old and the new state, which reads and writes every table whole: for Word2Vec's and GloVe's
      tables it costs many times the step itself (``bench/sparse_guard.py``).
  """
  init: Callable[[jax.Array, Batch], Any]
  init_opt_state: Callable[[Any], Any]
  update: Callable[[Any, Any, Batch, jax.Array], tuple[Any, Any, dict[str, jax.Array], jax.Array]]
  evaluate: Callable[[Any, Batch], dict[str, jax.Array]]
  finalize: Callable[[dict[str, float]], dict[str, float]] = _same
  warm_start: Callable[[Any], Any] | None = None
  evaluate_split: Callable[[Any, Mapping[str, Any]], tuple[dict[str, float], dict[str, Any]]] | None = None
  own_average: bool = False
  predict: Predictor | None = None
  masks_bad_steps: bool = False


@dataclasses.dataclass(frozen=True)
class PartSpec:
  """A trained run a task needs, named by the config field ``field`` (for messages). ``best``: a metric name
  (``"hr@10"``) picks the checkpoint at the run's highest logged ``<its eval split>/<best>`` after step 0; None
  picks the newest. ``hint`` says how to make one."""
  field: str
  workdir: str
  best: str | None = None
  hint: str = ""


@dataclasses.dataclass(frozen=True)
class Part:
  """A loaded ``PartSpec``: the run's config, its model (fitted to its data), the parameters it evaluated and
  its vocabulary (``bigjax.data.vocab_from_json`` of its ``vocab.json``; None where its data has none)."""
  workdir: str
  config: Any
  model: Any
  params: Any
  vocab: Any = None


@dataclasses.dataclass(frozen=True)
class Context:
  """What the loop hands ``make`` besides config, model and optimizer."""
  parts: Mapping[str, Part] = dataclasses.field(default_factory=dict)
  train_arrays: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # the host's training split
  eval_arrays: Mapping[str, Any] = dataclasses.field(default_factory=dict)   # the evaluation split
  vocab: Any = None  # the training split's vocabulary (a text dataset's ``Dataset.vocab``), or None


def check_loss(config: Any, losses: tuple[str, ...]) -> None:
  """``config.task.loss`` must name one of the family's ``losses``."""
  if config.task.loss not in losses:
    raise ValueError(f"config.task.loss={config.task.loss!r} is unknown; choose one of {losses}")


def no_parts(config: Any) -> dict[str, PartSpec]:
  """``parts`` of a family that needs no other run."""
  return {}


def gradient_step(loss_fn: Callable, optimizer: optax.GradientTransformation) -> Callable:
  """``update`` of one gradient step on ``loss_fn(params, batch, rng) -> (loss, {name: scalar})``; the metrics
  gain ``grad_norm``, and the step is finite when the loss and the gradient norm are."""
  def update(params, opt_state, batch, rng):
    (loss, metrics), grads = jax.value_and_grad(lambda p: loss_fn(p, batch, rng), has_aux=True)(params)
    grad_norm = optax.tree.norm(grads)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
    return optax.apply_updates(params, updates), opt_state, {**metrics, "grad_norm": grad_norm}, finite
  return update


def supervised(model: Any, task_config: Any, optimizer: optax.GradientTransformation, *, init: Callable,
               loss: Callable, evaluate: Callable, **fields: Any) -> Task:
  """A Task from a family's module-level functions ``init(model, rng, batch)``, ``loss(model, params, batch, rng,
  task_config)`` and ``evaluate(model, params, batch, task_config)``; ``fields`` sets the optional ones."""
  return Task(init=lambda rng, batch: init(model, rng, batch),
              init_opt_state=optimizer.init,
              update=gradient_step(lambda p, batch, rng: loss(model, p, batch, rng, task_config), optimizer),
              evaluate=lambda params, batch: evaluate(model, params, batch, task_config),
              **fields)
