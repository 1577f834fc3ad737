"""Config -> model, task, mesh, shardings, abstract state and the ahead-of-time compiled train and eval steps.

What one run executes, built without touching a parameter: ``train.run`` trains it, ``bigjax.preflight``
compiles it for a target mesh and prints its memory, ``runs.restore_params`` reads a checkpoint into its
state's shapes. Nothing here reads or writes a run directory.
"""

import dataclasses
import importlib
import time
from types import ModuleType
from typing import Any, Iterable, Mapping

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from bigjax import data, optim, parallel, selection, tasks
from bigjax.configs import ConfigError
from bigjax.models import precision

# How many times each jitted step was traced in this process (a run compiles each once).
TRACE_COUNTS: dict[str, int] = {}

Example = dict[str, tuple[tuple[int, ...], Any]]  # {name: (shape of one example, dtype)}


@flax.struct.dataclass
class TrainState:
  step: jax.Array            # int32 []: number of optimizer updates applied
  params: Any                # what task.init returns: the parameters, or any pytree of trained variables
                             # (a GAN's {"generator": {"params", "batch_stats"}, ...})
  opt_state: Any             # task.init_opt_state(params)
  rng: jax.Array             # uint32 [2]: per-step keys are fold_in(rng, step)
  first_bad_step: jax.Array  # int32 []: first step with a non-finite loss or grad norm, -1 if none


# ====================================================================================== config

def resolve_model(model_config: ml_collections.ConfigDict) -> nn.Module:
  """``config.model.name = "cnn.SeedCNN"`` -> ``bigjax.models.cnn.SeedCNN(**other fields)``."""
  name = model_config.name
  module_name, _, class_name = name.rpartition(".")
  try:
    cls = getattr(importlib.import_module(f"bigjax.models.{module_name}"), class_name)
  except (ImportError, AttributeError, ValueError) as error:
    raise ConfigError(f"config.model.name={name!r} does not name a model: expected '<file>.<Class>' "
                      f"under bigjax/models ({error})") from None
  kwargs = {k: v for k, v in model_config.items() if k != "name"}
  if "dtype" in kwargs or "param_dtype" in kwargs:  # every family computes and stores as config.model says
    try:
      precision.check(model_config)
    except ValueError as error:
      raise ConfigError(str(error)) from None
    cls = precision.with_precision(cls)
  fields = {f.name for f in dataclasses.fields(cls)} - {"parent", "name"}
  unknown = sorted(set(kwargs) - fields)
  if unknown:
    raise ConfigError(f"config.model.{unknown[0]} is not a field of {name}; its fields are {sorted(fields)}")
  return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()})


def resolve_family(name: str) -> ModuleType:
  """``config.task.name`` -> the module ``bigjax.tasks.<name>`` (its ``parts`` and ``make``)."""
  try:
    return importlib.import_module(f"bigjax.tasks.{name}")
  except ImportError:
    raise ConfigError(f"config.task.name={name!r} is not a module under bigjax/tasks") from None


def make_task(config: ml_collections.ConfigDict, family: ModuleType, model: nn.Module,
              optimizer: optax.GradientTransformation, context: tasks.Context = tasks.Context()) -> tasks.Task:
  """``family.make``, its complaints about the config as ``ConfigError``."""
  try:
    return family.make(config, model, optimizer, context)
  except ValueError as error:
    raise ConfigError(str(error)) from None


def validate(config: ml_collections.ConfigDict) -> tuple[nn.Module, ModuleType]:
  """Checks every choice that can be checked without data; returns (model, task family module)."""
  model = resolve_model(config.model)
  family = resolve_family(config.task.name)
  if config.optim.name not in optim.OPTIMIZERS:
    raise ConfigError(f"config.optim.name={config.optim.name!r} is unknown; choose one of {optim.OPTIMIZERS}")
  if config.optim.schedule not in optim.SCHEDULES:
    raise ConfigError(f"config.optim.schedule={config.optim.schedule!r} is unknown; choose one of {optim.SCHEDULES}")
  try:
    decay = optim.ema_decay(config.optim)
    family.parts(config)
    selection.check_splits(config.data.train_split, config.data.eval_split, config.data.test_split)
  except ValueError as error:
    raise ConfigError(str(error)) from None
  task = make_task(config, family, model, optax.identity())  # the family checks its own fields (e.g. its loss)
  if decay and task.own_average:
    raise ConfigError(f"config.optim.ema_decay={decay}: task {config.task.name!r} updates its own variables "
                      f"(e.g. a GAN's players) and averages what it needs itself (config.task.generator_ema)")
  try:
    parallel.mesh_shape(config.mesh, jax.device_count())
  except parallel.ShardingError as error:
    raise ConfigError(str(error)) from None
  return model, family


@dataclasses.dataclass(frozen=True)
class Schedule:
  """Step counts of the run, all multiples of ``steps_per_call``."""
  total_steps: int
  steps_per_epoch: int
  steps_per_call: int
  log_every: int
  eval_every: int
  checkpoint_every: int


def make_schedule(config: ml_collections.ConfigDict, num_train_examples: int) -> Schedule:
  t = config.train
  k = t.steps_per_call
  if k < 1:
    raise ConfigError(f"config.train.steps_per_call={k} must be >= 1")
  steps_per_epoch = num_train_examples // config.data.batch_size
  if steps_per_epoch < 1:
    raise ConfigError(f"config.data.batch_size={config.data.batch_size} exceeds the {num_train_examples} "
                      f"training examples")
  # Counts derived from epochs are rounded to whole calls of K steps; counts set in steps must be multiples of K.
  whole_calls = lambda steps: max(k, int(round(steps / k)) * k)
  if t.num_steps < 0 or t.num_epochs < 0:
    raise ConfigError(f"config.train.num_steps={t.num_steps} and num_epochs={t.num_epochs} must be >= 0")
  evaluate_only = t.num_steps == 0 and t.num_epochs == 0  # no update: the start (a warm start's parts) is read
  total = t.num_steps if t.num_steps > 0 else 0 if evaluate_only else whole_calls(t.num_epochs * steps_per_epoch)
  eval_every = t.eval_every_steps if t.eval_every_steps > 0 else whole_calls(steps_per_epoch)
  ckpt_every = t.checkpoint_every_steps if t.checkpoint_every_steps > 0 else whole_calls(steps_per_epoch)
  sched = Schedule(total, steps_per_epoch, k, t.log_every_steps, eval_every, ckpt_every)
  try:
    optim.make_schedule(config.optim, total)  # the learning-rate schedule must fit the run (e.g. its cooldown)
  except ValueError as error:
    raise ConfigError(str(error)) from None
  for field in ("total_steps", "log_every", "eval_every", "checkpoint_every"):
    value = getattr(sched, field)
    if field == "total_steps" and evaluate_only:
      continue
    if value <= 0 or value % k:
      raise ConfigError(f"{field}={value} (from config.train) must be a positive multiple of "
                        f"config.train.steps_per_call={k}")
  return sched


def load_split(data_config: ml_collections.ConfigDict, split: str) -> data.Dataset:
  try:
    return data.load_for_config(data_config, split)
  except data.DataError:
    raise
  except ValueError as error:  # an unknown dataset or split name: a config mistake
    raise ConfigError(f"config.data: {error}") from None


def fit_model_to_data(model: nn.Module, model_config: ml_collections.ConfigDict, train_ds: data.Dataset) -> nn.Module:
  """Checks the model's ``num_classes``/``vocab_size`` and the dataset's ``model_fields`` (user and item
  counts, item features) against the data; a size of 0 (a constant of None) takes the data's."""
  if getattr(model, "num_classes", train_ds.num_classes) != train_ds.num_classes:
    raise ConfigError(f"config.model.num_classes={model.num_classes} but {train_ds.name} has "
                      f"{train_ds.num_classes} classes")
  if hasattr(model, "vocab_size") and train_ds.vocab is not None:
    size = len(train_ds.vocab)
    if model.vocab_size == 0:  # word vocabularies depend on the data (frequency cut-off, fold)
      return model.clone(vocab_size=size)
    if model.vocab_size != size:
      raise ConfigError(f"config.model.vocab_size={model_config.vocab_size} but the vocabulary of {train_ds.name} "
                        f"has {size} entries; set it to {size} or to 0 (take the data's)")
  for field, value in train_ds.model_fields.items():
    if not hasattr(model, field):
      continue
    current = getattr(model, field)
    if current is None or (isinstance(value, int) and current == 0):  # 0 / None: take the data's
      model = model.clone(**{field: value})
    elif isinstance(value, int) and current != value:
      raise ConfigError(f"config.model.{field}={current} but {train_ds.name} has {value}; set it to {value} or "
                        f"to 0 (take the data's)")
  return model


def example_spec(arrays: dict[str, Any]) -> Example:
  """``{name: (shape of one example, dtype)}`` of the arrays the pipeline batches."""
  return {k: (tuple(a.shape[1:]), np.dtype(a.dtype)) for k, a in arrays.items()}


def make_checked_mesh(config: ml_collections.ConfigDict) -> jax.sharding.Mesh:
  """The mesh of ``config.mesh`` over all devices; refuses one whose batch shards do not divide the batches."""
  mesh = parallel.make_mesh(config.mesh)
  shards = parallel.batch_shards(mesh)
  for field in ("batch_size", "eval_batch_size"):
    if config.data[field] % shards:
      raise ConfigError(f"config.data.{field}={config.data[field]} is not divisible by the {shards} batch "
                        f"shards (data x fsdp) of mesh {dict(mesh.shape)}")
  return mesh


@dataclasses.dataclass(frozen=True)
class Plan:
  """A config checked against the devices and the data: everything a run decides before it compiles."""
  model: nn.Module           # fitted to the data (vocabulary, class, user and item counts)
  family: ModuleType         # bigjax.tasks.<config.task.name>
  mesh: jax.sharding.Mesh
  train_ds: data.Dataset
  eval_ds: data.Dataset      # a prefix of the split where config.data.eval_examples > 0
  sched: Schedule
  test_ds: data.Dataset | None = None  # config.data.test_split, read once after training (bigjax.selection)


def plan(config: ml_collections.ConfigDict) -> Plan:
  """Validates ``config``, builds its mesh, loads both splits and fits the model to them (``train.run`` and
  ``bigjax.preflight`` start alike)."""
  model, family = validate(config)
  mesh = make_checked_mesh(config)
  train_ds = load_split(config.data, config.data.train_split)
  eval_ds = load_split(config.data, config.data.eval_split)
  test_ds = load_split(config.data, config.data.test_split) if config.data.test_split else None
  if config.data.eval_examples > 0:  # smoke variants evaluate on a prefix to stay fast
    eval_ds = eval_ds.prefix(config.data.eval_examples)
    test_ds = test_ds and test_ds.prefix(config.data.eval_examples)
  sched = make_schedule(config, len(train_ds))
  return Plan(fit_model_to_data(model, config.model, train_ds), family, mesh, train_ds, eval_ds, sched, test_ds)


# ====================================================================================== steps

def make_train_call(task: tasks.Task, lr_schedule: optax.Schedule):
  """``(state, metric_sums, batches[K, B, ...]) -> (state, metric_sums)``: K updates in one call.

  A step whose update is not finite leaves the state unchanged and records its index in ``first_bad_step``;
  every later step is then a no-op too, so the state stays the last good one (``Task.masks_bad_steps``: the
  task's update keeps the bad step out itself, and later steps do not run).
  """
  def one_step(state: TrainState, batch):
    rng = jax.random.fold_in(state.rng, state.step)
    run = lambda: task.update(state.params, state.opt_state, batch, rng)
    if task.masks_bad_steps:  # the update keeps a bad step out itself; after one, no update runs at all
      shapes = jax.eval_shape(run)
      skip = lambda: (state.params, state.opt_state, jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), shapes[2]),
                      jnp.array(False))
      params, opt_state, metrics, finite = jax.lax.cond(state.first_bad_step < 0, run, skip)
      keep = lambda new, old: new
    else:
      params, opt_state, metrics, finite = run()
      keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(ok, n, o), new, old)
    ok = finite & (state.first_bad_step < 0)
    bad = jnp.where((state.first_bad_step < 0) & ~ok, state.step, state.first_bad_step)
    new_state = state.replace(step=state.step + 1, params=keep(params, state.params),
                              opt_state=keep(opt_state, state.opt_state), first_bad_step=bad)
    metrics = {**metrics, "lr": lr_schedule(state.step)}
    metrics = {k: jnp.where(ok, v, 0.0) for k, v in metrics.items()}
    return new_state, {**metrics, "steps": ok.astype(jnp.float32)}

  def train_call(state: TrainState, sums: dict, batches: dict):
    TRACE_COUNTS["train_call"] = TRACE_COUNTS.get("train_call", 0) + 1
    if jax.tree.leaves(batches)[0].shape[0] == 1:
      # One step: no loop. XLA:CPU runs a convolution inside a loop body (scan's while) on a slow path: a U-Net
      # step took 7.0 s in a scan of one and 0.53 s without (bench/conv_in_scan.py).
      state, metrics = one_step(state, jax.tree.map(lambda a: a[0], batches))
      metrics = {k: v[None] for k, v in metrics.items()}
    else:
      state, metrics = jax.lax.scan(one_step, state, batches)
    sums = {k: sums[k] + metrics[k].sum() for k in sums}
    return state, sums

  return train_call


def make_eval_call(task: tasks.Task):
  def eval_call(params, batch):
    TRACE_COUNTS["eval_call"] = TRACE_COUNTS.get("eval_call", 0) + 1
    return task.evaluate(params, batch)
  return eval_call


def evaluate_params(task: tasks.Task, eval_call: Any, params: Any, host_batches: Iterable[dict[str, np.ndarray]],
                    mesh: jax.sharding.Mesh, split_arrays: Mapping[str, Any] | None = None
                    ) -> tuple[dict[str, float], dict[str, Any]]:
  """``({name: value}, {name: image})`` of ``params`` (placed as the program places its state's) on a split.

  ``host_batches`` are the split's padded batches with their ``mask`` (``pipeline.eval_batches``), this process's
  part of each; ``eval_call`` (``Program.eval_call``) returns sums over each batch's real examples, which are
  added over all batches and divided by the summed ``count``; then the task's own finishing (perplexity) and, for
  a task that scores the split whole (face recognition, a GAN's samples against the split's images), its scores of
  ``split_arrays``, the split's arrays. The loop's periodic evaluation and the
  evaluation-only run (``bigjax.evaluate``) both go through here, so their numbers agree bitwise.
  """
  totals: dict[str, float] = {}
  for host_batch in host_batches:
    sums = jax.device_get(eval_call(params, parallel.host_to_global(host_batch, mesh)))
    for k, v in sums.items():
      totals[k] = totals.get(k, 0.0) + float(v)
  count = totals.pop("count")
  if not count > 0:
    raise ValueError("the evaluated split holds no example (every mask is 0)")
  means = task.finalize({k: v / count for k, v in totals.items()})
  images: dict[str, Any] = {}
  if task.evaluate_split is not None:
    if split_arrays is None:
      raise ValueError("the task scores the evaluated split whole, and no split_arrays were given")
    scores, images = task.evaluate_split(params, split_arrays)
    means = {**means, **scores}
  return means, images


def model_constants(model: nn.Module) -> dict[str, Any]:
  """The model's fields that hold data (a recommender's histories and TF-IDF bags): values that are pytrees
  whose leaves are all arrays. ``build`` hands them to the compiled steps as arguments."""
  out = {}
  for field in dataclasses.fields(model):
    value = getattr(model, field.name, None) if field.name not in ("parent", "name") else None
    leaves = jax.tree.leaves(value)
    if leaves and all(isinstance(leaf, (np.ndarray, jax.Array)) for leaf in leaves):
      out[field.name] = value
  return out


def train_metric_names(task: tasks.Task, abstract_state: Any, batch: dict[str, Any]) -> tuple[str, ...]:
  """The metrics one update reports (found by tracing it abstractly), plus what the step adds."""
  one = {k: jax.ShapeDtypeStruct(v.shape[1:], v.dtype) for k, v in batch.items()}  # drop the K axis
  _, _, metrics, _ = jax.eval_shape(lambda p, o, b: task.update(p, o, b, jax.random.PRNGKey(0)),
                                    abstract_state.params, abstract_state.opt_state, one)
  return (*sorted(metrics), "lr", "steps")


# ====================================================================================== program

@dataclasses.dataclass(frozen=True)
class WithConstants:
  """A compiled step called with the model's data (``model_constants``, replicated) as its last argument."""
  compiled: Any
  constants: dict[str, Any]

  def __call__(self, *args):
    return self.compiled(*args, self.constants)


@dataclasses.dataclass(frozen=True)
class Program:
  """What one run executes: its task, the state's init, layout and shardings, and its steps compiled for the mesh."""
  task: tasks.Task
  init_state: Any            # jitted: rng -> TrainState, placed by state_sharding
  abstract_state: Any        # TrainState of ShapeDtypeStructs carrying their shardings
  state_sharding: Any
  train_call: Any            # compiled: (state, sums, batches[K, B, ...]) -> (state, sums); donates state, sums
  eval_call: Any             # compiled: (params, batch[B_eval, ...]) -> metric sums
  init_opt_state: Any        # jitted: params -> the optimizer's initial state for them, placed like the state's
  zero_sums: Any             # () -> fresh replicated metric accumulators
  num_params: int
  compile_time: float
  memory: dict[str, int]     # compiled memory of train_call (per device), where the backend reports it
  flops_per_step: float = 0.0  # XLA's count for one optimizer step, per device (0: the backend gave none)


def abstract_train_state(config: ml_collections.ConfigDict, task: tasks.Task, mesh: jax.sharding.Mesh,
                         example: Example) -> tuple[Any, Any]:
  """``(init_state, abstract_state)``: ``(rng, task=task) -> TrainState`` and its ShapeDtypeStructs carrying their
  shardings.

  Nothing is computed: the state's shapes come from ``jax.eval_shape``. Parameters that carry logical axis
  names (``nn.with_logical_partitioning``) are placed by ``config.sharding.logical_rules``; the others by the
  path-regex rules and auto-FSDP.
  """
  dummy = {k: jnp.zeros((1, *shape), dtype) for k, (shape, dtype) in example.items()}

  def boxed_init_state(rng, task):  # parameters (and their optimizer moments) still in their logical-name boxes
    params_rng, train_rng = jax.random.split(rng)
    params = task.init(params_rng, dummy)
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=task.init_opt_state(params),
                      rng=train_rng, first_bad_step=jnp.full((), -1, jnp.int32))

  boxed = jax.eval_shape(lambda rng: boxed_init_state(rng, task), jax.random.PRNGKey(0))
  abstract_state = nn.meta.unbox(boxed)
  shardings = parallel.tree_shardings(
      abstract_state, mesh, [tuple(r) for r in config.sharding.rules], config.sharding.fsdp_min_size,
      logical_names=parallel.logical_names(boxed), logical_rules=[tuple(r) for r in config.sharding.logical_rules])
  abstract_state = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
                                abstract_state, shardings)
  return (lambda rng, traced_task=task: nn.meta.unbox(boxed_init_state(rng, traced_task))), abstract_state


def build(config: ml_collections.ConfigDict, family: ModuleType, model: nn.Module, mesh: jax.sharding.Mesh,
          example: Example, sched: Schedule, eval_example: Example | None = None,
          context: tasks.Context = tasks.Context()) -> Program:
  """Makes the optimizer and the task, creates the state abstractly (``jax.eval_shape``), places it by the
  sharding rules and compiles both steps ahead of time (``jit(...).lower(...).compile()``) for ``mesh``: no
  parameter is materialised.

  ``example`` is ``example_spec`` of the training batches, ``eval_example`` that of the evaluation batches where
  they differ (e.g. candidates to rank); ``context`` carries the pre-trained parts and data the task may use.
  """
  tx, lr_schedule = optim.make_optimizer(config.optim, sched.total_steps)
  task = make_task(config, family, model, tx, context)
  init_state, abstract_state = abstract_train_state(config, task, mesh, example)
  state_sharding = jax.tree.map(lambda a: a.sharding, abstract_state)
  replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())

  # The model's data (histories, feature bags) enters each compiled step as an argument, replicated, and the
  # step's task is made over the model holding the traced arrays: the program carries no data as constants.
  host_constants = model_constants(model)
  constants = parallel.replicate(host_constants, mesh)
  abstract_constants = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=replicated), constants)
  traced_task = lambda c: make_task(config, family, model.clone(**c), tx, context) if c else task
  with_constants = lambda step: WithConstants(step, constants)
  train_batch = {k: jax.ShapeDtypeStruct((sched.steps_per_call, config.data.batch_size, *shape), dtype,
                                         sharding=parallel.batch_sharding(mesh, 1))
                 for k, (shape, dtype) in example.items()}
  eval_batch = {k: jax.ShapeDtypeStruct((config.data.eval_batch_size, *shape), dtype,
                                        sharding=parallel.batch_sharding(mesh))
                for k, (shape, dtype) in {**(eval_example or example), "mask": ((), np.dtype(np.float32))}.items()}
  sum_names = train_metric_names(task, abstract_state, train_batch)
  zero_sums = lambda: {k: jax.device_put(np.float32(0), replicated) for k in sum_names}
  compile_start = time.perf_counter()
  # No mesh context while tracing: activations follow from the parameter and batch shardings (XLA's
  # propagation), and flax's logical constraints stay no-ops (with a mesh set, flax 0.12 re-applies them to
  # DenseGeneral's reshaped kernels with the wrong rank).
  train_call = jax.jit(
      lambda state, sums, batches, c: make_train_call(traced_task(c), lr_schedule)(state, sums, batches),
      in_shardings=(state_sharding, replicated, parallel.batch_sharding(mesh, 1), replicated),
      out_shardings=(state_sharding, replicated), donate_argnums=(0, 1),
  ).lower(abstract_state, jax.eval_shape(zero_sums), train_batch, abstract_constants).compile()
  eval_call = jax.jit(lambda params, batch, c: make_eval_call(traced_task(c))(params, batch),
                      in_shardings=(state_sharding.params, parallel.batch_sharding(mesh), replicated),
                      out_shardings=replicated).lower(abstract_state.params, eval_batch, abstract_constants).compile()
  init_opt_state = jax.jit(task.init_opt_state, out_shardings=state_sharding.opt_state)
  placed_init = jax.jit(lambda rng, c: init_state(rng, traced_task(c)), out_shardings=state_sharding)
  return Program(task=task, init_state=with_constants(placed_init), abstract_state=abstract_state,
                 state_sharding=state_sharding, train_call=with_constants(train_call),
                 eval_call=with_constants(eval_call), init_opt_state=init_opt_state, zero_sums=zero_sums,
                 num_params=sum(int(np.prod(x.shape)) for x in jax.tree.leaves(abstract_state.params)),
                 compile_time=time.perf_counter() - compile_start, memory=_memory_analysis(train_call),
                 flops_per_step=step_flops(train_call))


def step_flops(compiled) -> float:
  """FLOPs of one optimizer step of a compiled train call, per device, by XLA's cost analysis (0.0 where the
  backend has none).

  The count is of the program as compiled: forward, backward, optimizer update, any recomputation, on this
  device's shard (SPMD). A call of K steps runs them in a ``lax.scan`` (a while loop), whose body the analysis
  counts once, so the call's count is one step's, whatever K (tests/test_accounting.py holds this against a
  hand count, for K = 1 and 4).
  """
  try:
    analysis = compiled.cost_analysis()
  except Exception:  # pylint: disable=broad-except  (not every backend implements it)
    return 0.0
  if isinstance(analysis, (list, tuple)):  # older jax: one dict per computation
    analysis = analysis[0] if analysis else None
  return float(analysis.get("flops", 0.0)) if analysis else 0.0


def _memory_analysis(compiled) -> dict[str, int]:
  try:
    analysis = compiled.memory_analysis()
  except Exception:  # not every backend implements it
    return {}
  if analysis is None:
    return {}
  fields = ("argument_size_in_bytes", "output_size_in_bytes", "temp_size_in_bytes",
            "generated_code_size_in_bytes", "alias_size_in_bytes")
  return {f: int(getattr(analysis, f)) for f in fields if hasattr(analysis, f)}
