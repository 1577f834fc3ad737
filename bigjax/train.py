"""The one training loop: config -> data -> task(model) -> jit-compiled steps over a mesh -> checkpoints, metrics.

Sections, top to bottom: config & workdir -> mesh & rng -> data -> init (eval_shape, then jit with
out_shardings) -> restore -> step (compiled once, donated state) -> loop with periodic log, eval,
checkpoint, preemption -> final results. The loop knows no model family: the task module supplies
``init``, ``loss`` and ``evaluate`` (see ``bigjax.tasks``), and may supply its own update (``make_update``,
``init_opt_state``: e.g. a GAN's two players, each with its own optimizer state) and evaluation of generated
samples (``make_sample_eval``).
"""

import dataclasses
import importlib
import json
import logging
import pathlib
import subprocess
import time
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jax.experimental import multihost_utils

from bigjax import checkpoint, config_base, data, optim, parallel, preemption, writers
from bigjax.data import pipeline

# How many times each jitted function was traced in this process (the loop compiles each once per run).
TRACE_COUNTS: dict[str, int] = {}


class ConfigError(ValueError):
  """A config value that cannot work; raised before anything is computed or written."""


class NonFiniteError(FloatingPointError):
  """Loss or gradient norm became NaN/Inf; the message names the step and the last good checkpoint."""


class Preempted(Exception):
  """SIGTERM arrived; a checkpoint was saved at ``step`` and the run can be resumed from the workdir."""

  def __init__(self, step: int):
    super().__init__(f"preempted: checkpoint saved at step {step}")
    self.step = step


@flax.struct.dataclass
class TrainState:
  step: jax.Array            # int32 []: number of optimizer updates applied
  params: Any                # what task.init returns: the parameters, or (a task with its own update) any
                             # pytree of variables, e.g. {"generator": {"params", "batch_stats"}, ...}
  opt_state: Any             # tx.init(params), or task.init_opt_state(tx, params)
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
  fields = {f.name for f in dataclasses.fields(cls)} - {"parent", "name"}
  unknown = sorted(set(kwargs) - fields)
  if unknown:
    raise ConfigError(f"config.model.{unknown[0]} is not a field of {name}; its fields are {sorted(fields)}")
  return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()})


def resolve_task(name: str):
  try:
    return importlib.import_module(f"bigjax.tasks.{name}")
  except ImportError:
    raise ConfigError(f"config.task.name={name!r} is not a module under bigjax/tasks") from None


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
  total = t.num_steps if t.num_steps > 0 else whole_calls(t.num_epochs * steps_per_epoch)
  eval_every = t.eval_every_steps if t.eval_every_steps > 0 else whole_calls(steps_per_epoch)
  ckpt_every = t.checkpoint_every_steps if t.checkpoint_every_steps > 0 else whole_calls(steps_per_epoch)
  sched = Schedule(total, steps_per_epoch, k, t.log_every_steps, eval_every, ckpt_every)
  cooldown = config.optim.get("cooldown_steps", 0)
  if config.optim.schedule == "cooldown" and not 0 < cooldown <= total:
    raise ConfigError(f"config.optim.cooldown_steps={cooldown} must be in 1..{total} (the run's steps) for "
                      f"config.optim.schedule='cooldown'")
  for field in ("total_steps", "log_every", "eval_every", "checkpoint_every"):
    value = getattr(sched, field)
    if value <= 0 or value % k:
      raise ConfigError(f"{field}={value} (from config.train) must be a positive multiple of "
                        f"config.train.steps_per_call={k}")
  return sched


def validate(config: ml_collections.ConfigDict) -> tuple[nn.Module, Any]:
  """Checks every choice that can be checked without data; returns (model, task module)."""
  model = resolve_model(config.model)
  task = resolve_task(config.task.name)
  if hasattr(task, "LOSSES") and config.task.get("loss") not in task.LOSSES:
    raise ConfigError(f"config.task.loss={config.task.get('loss')!r} is unknown; choose one of {task.LOSSES}")
  if config.optim.name not in optim.OPTIMIZERS:
    raise ConfigError(f"config.optim.name={config.optim.name!r} is unknown; choose one of {optim.OPTIMIZERS}")
  if config.optim.schedule not in optim.SCHEDULES:
    raise ConfigError(f"config.optim.schedule={config.optim.schedule!r} is unknown; choose one of {optim.SCHEDULES}")
  try:
    decay = optim.ema_decay(config.optim)
  except ValueError as error:
    raise ConfigError(str(error)) from None
  if decay and hasattr(task, "make_update"):
    raise ConfigError(f"config.optim.ema_decay={decay}: task {config.task.name!r} updates its own variables "
                      f"(e.g. a GAN's players) and averages what it needs itself (config.task.generator_ema)")
  try:
    parallel.mesh_shape(config.mesh, jax.device_count())
  except parallel.ShardingError as error:
    raise ConfigError(str(error)) from None
  return model, task


# Keys a resumed run may change to train longer, provided every step already taken keeps its learning rate
# (a constant run extended, or turned into a cooldown that starts after its last step): training on then
# equals asking for the new run from the start (tests/test_train.py).
EXTENDABLE_KEYS = ("train.num_epochs", "train.num_steps", "optim.schedule", "optim.cooldown_steps",
                   "optim.end_lr_factor")


def _first_changed_lr(old: ml_collections.ConfigDict, new: ml_collections.ConfigDict, old_total: int,
                      new_total: int) -> tuple[int, float, float] | None:
  """``(step, old lr, new lr)`` of the first of steps ``0..old_total-1`` whose learning rate differs, or None."""
  steps = np.arange(old_total)
  # As the step sees them: float32 (a constant schedule returns a Python scalar, the others float32 arrays).
  lr = lambda c, total: np.broadcast_to(np.asarray(optim.make_schedule(c.optim, total)(steps), np.float32), steps.shape)
  a, b = lr(old, old_total), lr(new, new_total)
  differ = np.flatnonzero(a != b)
  return (int(differ[0]), float(a[differ[0]]), float(b[differ[0]])) if len(differ) else None


def _prepare_workdir(workdir: pathlib.Path, config: ml_collections.ConfigDict, num_train_examples: int) -> None:
  """Creates the workdir and ``config.json``; refuses to resume a run made with another config.

  The one change allowed is a longer run (more total steps through ``train.num_epochs`` or
  ``train.num_steps``, possibly with a new schedule) in which every step already taken keeps its learning
  rate: ``config.json`` is rewritten and the change appended to ``extensions.jsonl``.
  """
  config_json = json.loads(config.to_json_best_effort(sort_keys=True))
  path = workdir / "config.json"
  if path.exists():
    old_json = json.loads(path.read_text())
    old, new = writers.flatten(old_json), writers.flatten(config_json)
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    # A field added to bigjax after the run started, left at its default, is the behaviour the run had.
    defaults = writers.flatten(json.loads(config_base.base_config().to_json_best_effort()))
    added = [k for k in changed if k not in old and k in defaults and new[k] == defaults[k]]
    changed = [k for k in changed if k not in added]
    if not changed:
      if added:
        logging.warning("%s was started before bigjax had %s; resuming with the default%s", workdir,
                        ", ".join(f"{k}={new[k]!r}" for k in added), "s" if len(added) > 1 else "")
        if jax.process_index() == 0:
          writers.write_json(path, config_json)
      return
    refused = (f"{workdir} holds a run made with a different config (differs in: {', '.join(changed)}); use a "
               f"new --workdir, or the same config to resume (a run may only be extended: more steps, every "
               f"step taken keeping its learning rate, through {', '.join(EXTENDABLE_KEYS)}")
    if not set(changed) <= set(EXTENDABLE_KEYS):
      raise ConfigError(refused + ")")
    old_config = ml_collections.ConfigDict(old_json)
    old_total = make_schedule(old_config, num_train_examples).total_steps
    new_total = make_schedule(config, num_train_examples).total_steps
    if new_total <= old_total:
      raise ConfigError(refused + f"; {old_total} -> {new_total} steps here)")
    first = _first_changed_lr(old_config, config, old_total, new_total)
    if first is not None:
      raise ConfigError(refused + f"; here step {first[0]}, already taken, would change its learning rate from "
                        f"{first[1]:g} to {first[2]:g})")
    logging.warning("extending the run in %s from %d to %d steps (%s)", workdir, old_total, new_total,
                    ", ".join(f"{k} {old.get(k)} -> {new.get(k)}" for k in changed))
    if jax.process_index() == 0:
      with open(workdir / "extensions.jsonl", "a") as f:
        f.write(json.dumps({"time": time.time(), "total_steps": [old_total, new_total],
                            "changed": {k: [old.get(k), new.get(k)] for k in changed}}) + "\n")
      writers.write_json(path, config_json)
    return
  if jax.process_index() == 0:
    workdir.mkdir(parents=True, exist_ok=True)
    writers.write_json(path, config_json)


def load_split(data_config: ml_collections.ConfigDict, split: str) -> data.Dataset:
  try:
    return data.load_for_config(data_config, split)
  except data.DataError:
    raise
  except ValueError as error:  # an unknown dataset or split name: a config mistake
    raise ConfigError(f"config.data: {error}") from None


def _save_vocab(path: pathlib.Path, vocab_json: str, is_main: bool) -> None:
  """Writes the run's vocabulary (tokenizer) next to its config; a resumed run must have the same one."""
  if path.exists():
    if path.read_text() != vocab_json:
      raise ConfigError(f"{path} differs from the vocabulary built from the data now: the data changed since "
                        f"this run started; use a new workdir")
  elif is_main:
    writers.write_text(path, vocab_json)


def git_revision() -> str:
  root = pathlib.Path(__file__).resolve().parent.parent
  try:
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                         check=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                           capture_output=True, text=True, check=True).stdout.strip()
    return rev + ("-dirty" if dirty else "")
  except (OSError, subprocess.CalledProcessError):
    return "unknown"


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
  for field, value in getattr(train_ds, "model_fields", {}).items():
    if not hasattr(model, field):
      continue
    current = getattr(model, field)
    if current is None or (isinstance(value, int) and current == 0):  # 0 / None: take the data's
      model = model.clone(**{field: value})
    elif isinstance(value, int) and current != value:
      raise ConfigError(f"config.model.{field}={current} but {train_ds.name} has {value}; set it to {value} or "
                        f"to 0 (take the data's)")
  return model


def example_spec(arrays: dict[str, Any]) -> dict[str, tuple[tuple[int, ...], Any]]:
  """``{name: (shape of one example, dtype)}`` of the arrays the pipeline batches."""
  return {k: (tuple(a.shape[1:]), np.dtype(a.dtype)) for k, a in arrays.items()}


# ====================================================================================== steps

def default_update(model, task, task_config, tx):
  """``(params, opt_state, batch, rng) -> (params, opt_state, metrics, ok)``: one gradient step on ``task.loss``.

  ``ok`` (bool ``[]``) says whether the step is finite; a task with its own update (``task.make_update``,
  e.g. a GAN's alternating steps) returns the same four things.
  """
  def update(params, opt_state, batch, rng):
    loss_fn = lambda p: task.loss(model, p, batch, rng, task_config)
    (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    grad_norm = optax.tree.norm(grads)
    updates, opt_state = tx.update(grads, opt_state, params)
    ok = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
    return optax.apply_updates(params, updates), opt_state, {**metrics, "grad_norm": grad_norm}, ok
  return update


def make_update(model, task, task_config, tx):
  if hasattr(task, "make_update"):
    return task.make_update(model, task_config, tx)
  return default_update(model, task, task_config, tx)


def make_train_call(model, task, task_config, tx, lr_schedule):
  """``(state, metric_sums, batches[K, B, ...]) -> (state, metric_sums)``: K optimizer steps in one call.

  A step whose loss or gradient norm is not finite leaves the state unchanged and records its index
  in ``first_bad_step``; every later step is then a no-op too, so the state stays the last good one.
  """
  update = make_update(model, task, task_config, tx)

  def one_step(state: TrainState, batch):
    rng = jax.random.fold_in(state.rng, state.step)
    params, opt_state, metrics, finite = update(state.params, state.opt_state, batch, rng)
    ok = finite & (state.first_bad_step < 0)
    keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(ok, n, o), new, old)
    bad = jnp.where((state.first_bad_step < 0) & ~ok, state.step, state.first_bad_step)
    new_state = state.replace(step=state.step + 1, params=keep(params, state.params),
                              opt_state=keep(opt_state, state.opt_state), first_bad_step=bad)
    metrics = {**metrics, "lr": lr_schedule(state.step)}
    metrics = {k: jnp.where(ok, v, 0.0) for k, v in metrics.items()}
    return new_state, {**metrics, "steps": ok.astype(jnp.float32)}

  def train_call(state: TrainState, sums: dict, batches: dict):
    TRACE_COUNTS["train_call"] = TRACE_COUNTS.get("train_call", 0) + 1
    state, metrics = jax.lax.scan(one_step, state, batches)
    sums = {k: sums[k] + metrics[k].sum() for k in sums}
    return state, sums

  return train_call


def make_eval_call(model, task, task_config):
  def eval_call(params, batch):
    TRACE_COUNTS["eval_call"] = TRACE_COUNTS.get("eval_call", 0) + 1
    return task.evaluate(model, params, batch, task_config)
  return eval_call


def train_metric_names(model, task, task_config, tx, abstract_state, batch: dict[str, Any]) -> tuple[str, ...]:
  """The metrics one update reports (found by tracing it abstractly), plus what the step adds."""
  one = {k: jax.ShapeDtypeStruct(v.shape[1:], v.dtype) for k, v in batch.items()}  # drop the K axis
  update = make_update(model, task, task_config, tx)
  _, _, metrics, _ = jax.eval_shape(lambda p, o, b: update(p, o, b, jax.random.PRNGKey(0)),
                                    abstract_state.params, abstract_state.opt_state, one)
  return (*sorted(metrics), "lr", "steps")


# ====================================================================================== program

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
class Program:
  """What one run executes: the state's init, layout and shardings, and its steps compiled for the mesh."""
  init_state: Any            # rng -> TrainState
  abstract_state: Any        # TrainState of ShapeDtypeStructs carrying their shardings
  state_sharding: Any
  train_call: Any            # compiled: (state, sums, batches[K, B, ...]) -> (state, sums); donates state, sums
  eval_call: Any             # compiled: (params, batch[B_eval, ...]) -> metric sums
  init_opt_state: Any        # jitted: params -> the optimizer's initial state for them, placed like the state's
  zero_sums: Any             # () -> fresh replicated metric accumulators
  num_params: int
  compile_time: float
  memory: dict[str, int]     # compiled memory of train_call (per device), where the backend reports it


def _init_opt_state(task: Any, tx: optax.GradientTransformation, params: Any) -> Any:
  """The optimizer's initial state for ``params``: the task's own (``init_opt_state``, e.g. a GAN's two players)
  where it has one, else ``tx.init``."""
  return task.init_opt_state(tx, params) if hasattr(task, "init_opt_state") else tx.init(params)


def abstract_train_state(config: ml_collections.ConfigDict, model: nn.Module, task: Any, mesh: jax.sharding.Mesh,
                         example: dict[str, tuple[tuple[int, ...], Any]], total_steps: int) -> tuple[Any, Any]:
  """``(init_state, abstract_state)``: ``rng -> TrainState`` and its ShapeDtypeStructs carrying their shardings.

  Nothing is computed: the state's shapes come from ``jax.eval_shape``. Parameters that carry logical axis
  names (``nn.with_logical_partitioning``) are placed by ``config.sharding.logical_rules``; the others by the
  path-regex rules and auto-FSDP.
  """
  tx, _ = optim.make_optimizer(config.optim, total_steps)
  dummy = {k: jnp.zeros((1, *shape), dtype) for k, (shape, dtype) in example.items()}

  def boxed_init_state(rng):  # parameters (and their optimizer moments) still in their logical-name boxes
    params_rng, train_rng = jax.random.split(rng)
    params = task.init(model, params_rng, dummy)
    opt_state = _init_opt_state(task, tx, params)
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=opt_state,
                      rng=train_rng, first_bad_step=jnp.full((), -1, jnp.int32))

  boxed = jax.eval_shape(boxed_init_state, jax.random.PRNGKey(0))
  abstract_state = nn.meta.unbox(boxed)
  shardings = parallel.tree_shardings(
      abstract_state, mesh, [tuple(r) for r in config.sharding.rules], config.sharding.fsdp_min_size,
      logical_names=parallel.logical_names(boxed), logical_rules=[tuple(r) for r in config.sharding.logical_rules])
  abstract_state = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
                                abstract_state, shardings)
  return (lambda rng: nn.meta.unbox(boxed_init_state(rng))), abstract_state


def build_program(config: ml_collections.ConfigDict, model: nn.Module, task: Any, mesh: jax.sharding.Mesh,
                  example: dict[str, tuple[tuple[int, ...], Any]], sched: Schedule,
                  eval_example: dict[str, tuple[tuple[int, ...], Any]] | None = None) -> Program:
  """Creates the state abstractly (``jax.eval_shape``), places it by the sharding rules and compiles both
  steps ahead of time (``jit(...).lower(...).compile()``) for ``mesh``: no parameter is materialised.

  ``example`` is ``{name: (shape of one example, dtype)}`` of the training batches (``example_spec``),
  ``eval_example`` that of the evaluation batches where they differ (e.g. candidates to rank); the state is
  placed as ``abstract_train_state`` says.
  """
  tx, lr_schedule = optim.make_optimizer(config.optim, sched.total_steps)
  init_state, abstract_state = abstract_train_state(config, model, task, mesh, example, sched.total_steps)
  state_sharding = jax.tree.map(lambda a: a.sharding, abstract_state)

  replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  train_batch = {k: jax.ShapeDtypeStruct((sched.steps_per_call, config.data.batch_size, *shape), dtype,
                                         sharding=parallel.batch_sharding(mesh, 1))
                 for k, (shape, dtype) in example.items()}
  eval_batch = {k: jax.ShapeDtypeStruct((config.data.eval_batch_size, *shape), dtype,
                                        sharding=parallel.batch_sharding(mesh))
                for k, (shape, dtype) in {**(eval_example or example), "mask": ((), np.dtype(np.float32))}.items()}
  sum_names = train_metric_names(model, task, config.task, tx, abstract_state, train_batch)
  zero_sums = lambda: {k: jax.device_put(np.float32(0), replicated) for k in sum_names}
  compile_start = time.perf_counter()
  # No mesh context while tracing: activations follow from the parameter and batch shardings (XLA's
  # propagation), and flax's logical constraints stay no-ops (with a mesh set, flax 0.12 re-applies them to
  # DenseGeneral's reshaped kernels with the wrong rank).
  train_call = jax.jit(
      make_train_call(model, task, config.task, tx, lr_schedule),
      in_shardings=(state_sharding, replicated, parallel.batch_sharding(mesh, 1)),
      out_shardings=(state_sharding, replicated), donate_argnums=(0, 1),
  ).lower(abstract_state, jax.eval_shape(zero_sums), train_batch).compile()
  eval_call = jax.jit(make_eval_call(model, task, config.task),
                      in_shardings=(state_sharding.params, parallel.batch_sharding(mesh)),
                      out_shardings=replicated).lower(abstract_state.params, eval_batch).compile()
  init_opt_state = jax.jit(lambda p: _init_opt_state(task, tx, p), out_shardings=state_sharding.opt_state)
  return Program(init_state=init_state, abstract_state=abstract_state, state_sharding=state_sharding,
                 train_call=train_call, eval_call=eval_call, init_opt_state=init_opt_state, zero_sums=zero_sums,
                 num_params=sum(int(np.prod(x.shape)) for x in jax.tree.leaves(abstract_state.params)),
                 compile_time=time.perf_counter() - compile_start, memory=_memory_analysis(train_call))


# ====================================================================================== run

def run(config: ml_collections.ConfigDict, workdir: str | pathlib.Path, command: str = "") -> dict[str, Any]:
  """Trains ``config`` in ``workdir`` (resuming from its latest checkpoint) and returns results.json's dict.

  ``command`` (the command line that started the run) is recorded in results.json.
  """
  # ---------------------------------------------------------------- config & workdir
  wall_start = time.perf_counter()
  revision = git_revision()  # the code this process imported: read it before a long run, not after
  TRACE_COUNTS.clear()
  if "://" in str(workdir):  # pathlib would quietly turn gs://b/x into the local directory gs:/b/x
    raise ConfigError(f"--workdir={workdir}: bigjax writes its workdir through the filesystem; mount the bucket "
                      f"(gcsfuse, as scripts/launch.py does for gs://) and pass the mounted path")
  workdir = pathlib.Path(workdir)
  model, task = validate(config)
  is_main = jax.process_index() == 0

  # ---------------------------------------------------------------- mesh & rng
  mesh = make_checked_mesh(config)
  rng = jax.random.PRNGKey(config.seed)

  # ---------------------------------------------------------------- data
  train_ds = load_split(config.data, config.data.train_split)
  eval_ds = load_split(config.data, config.data.eval_split)
  if config.data.eval_examples > 0:  # smoke variants evaluate on a prefix to stay fast
    eval_ds = eval_ds.prefix(config.data.eval_examples)
  sched = make_schedule(config, len(train_ds))
  layout = pipeline.TrainLayout(len(train_ds), config.data.batch_size, sched.steps_per_call,
                                jax.process_index(), jax.process_count())
  train_arrays, eval_arrays = train_ds.arrays, eval_ds.arrays
  model = fit_model_to_data(model, config.model, train_ds)
  _prepare_workdir(workdir, config, len(train_ds))
  if train_ds.vocab is not None:
    _save_vocab(workdir / "vocab.json", train_ds.vocab.to_json(), is_main)

  # ---------------------------------------------------------------- init & step (compiled once)
  program = build_program(config, model, task, mesh, example_spec(train_arrays), sched, example_spec(eval_arrays))
  state_sharding, abstract_state = program.state_sharding, program.abstract_state
  train_call, eval_call, zero_sums = program.train_call, program.eval_call, program.zero_sums

  # ---------------------------------------------------------------- restore
  ckpt = checkpoint.Checkpointer(workdir / "checkpoints", config.train.keep_checkpoints,
                                 config.train.async_checkpoint)
  restored = ckpt.restore_latest(abstract_state)
  num_calls = sched.total_steps // sched.steps_per_call
  train_iter = pipeline.train_iterator(train_arrays, layout, seed=config.seed, num_calls=num_calls,
                                       shuffle=config.data.shuffle,
                                       prefetch=pipeline.resolve_prefetch(config.data.prefetch, jax.default_backend()))
  if restored is None:
    state = jax.jit(program.init_state, out_shardings=state_sharding)(rng)
    if hasattr(task, "initial_params"):  # e.g. NeuMF starting from trained GMF and MLP runs
      params = task.initial_params(model, state.params, config.task)
      if params is not state.params:  # and the optimizer's state (e.g. a parameter average) starts from them
        params = jax.device_put(params, state_sharding.params)
        state = state.replace(params=params, opt_state=program.init_opt_state(params))
    start_step, restored_sums = 0, {}
  else:
    start_step, state, data_state = restored
    # The train metrics summed since the last log, so a run resumed mid-interval logs what an uninterrupted
    # one would (checkpoints written before this was saved hold none: the interval restarts).
    restored_sums = data_state.pop("metric_sums", {})
    if start_step >= sched.total_steps and (workdir / "results.json").exists():
      logging.info("%s holds a finished run (step %d); its results.json is kept as it is", workdir, start_step)
      train_iter.close()
      ckpt.close()
      return json.loads((workdir / "results.json").read_text())
    if data_state.get("next_index") != start_step // sched.steps_per_call:
      raise checkpoint_mismatch(workdir, start_step, data_state)
    train_iter.set_state(data_state)
    logging.info("resumed from checkpoint at step %d", start_step)
  compile_time, memory, num_params = program.compile_time, program.memory, program.num_params

  eval_host_batches = list(pipeline.eval_batches(eval_arrays, config.data.eval_batch_size,
                                                 jax.process_index(), jax.process_count()))  # padded once

  # A task that generates (GAN) also scores samples: metrics that are not sums over eval batches.
  sample_eval = (task.make_sample_eval(model, config, train_arrays, eval_arrays, workdir, is_main)
                 if hasattr(task, "make_sample_eval") else None)

  def evaluate(state, step: int) -> dict[str, float]:
    # The parameter average where config.optim.ema_decay keeps one (placed like the parameters), else the live ones.
    params = jax.device_put(optim.eval_params(state.opt_state, state.params), state_sharding.params)
    totals: dict[str, float] = {}
    for host_batch in eval_host_batches:
      sums = jax.device_get(eval_call(params, parallel.host_to_global(host_batch, mesh)))
      for k, v in sums.items():
        totals[k] = totals.get(k, 0.0) + float(v)
    count = totals.pop("count")
    means = {k: v / count for k, v in totals.items()}
    if hasattr(task, "finalize_metrics"):  # metrics that are not means (perplexity = exp(mean loss))
      means = task.finalize_metrics(means)
    if sample_eval is not None:
      means = {**means, **sample_eval(params, step)}
    return {f"{config.data.eval_split}/{k}": v for k, v in means.items()}

  def check_finite(state) -> None:
    bad = int(jax.device_get(state.first_bad_step))
    if bad >= 0:
      ckpt.wait()
      raise NonFiniteError(f"non-finite loss or gradient norm at step {bad}; training stopped and the state "
                           f"of step {bad} was not applied. Last good checkpoint: step {ckpt.latest_step()} "
                           f"in {ckpt.directory} (untouched). Lower config.optim.lr or set config.optim.clip_norm.")

  # ---------------------------------------------------------------- loop
  writer = writers.MetricWriter(workdir, enabled=is_main)
  progress = writers.Progress(sched.total_steps, config.data.batch_size, start_step, enabled=is_main)
  stop = _PreemptionFlag()
  logging.info("model %s: %d parameters; mesh %s; %d steps (%d per epoch, %d per call); compile %.1fs",
               config.model.name, num_params, dict(mesh.shape), sched.total_steps, sched.steps_per_epoch,
               sched.steps_per_call, compile_time)
  step = start_step
  sums = zero_sums()
  if restored_sums:
    if set(restored_sums) != set(sums):
      raise checkpoint_mismatch(workdir, start_step, {"metric_sums": restored_sums})
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    sums = {k: jax.device_put(np.float32(v), replicated) for k, v in restored_sums.items()}

  def evaluate_and_write(state, step: int) -> dict[str, float]:
    metrics = evaluate(state, step)
    writer.write(step, metrics)
    if is_main:
      logging.info("step %d: %s", step, "  ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items())))
    return metrics

  eval_metrics: dict[str, float] = {}
  train_metrics: dict[str, float] = {}
  train_start = time.perf_counter()
  try:
    if start_step == 0 and config.train.eval_at_start:  # the model before any update: a fresh init or a warm start
      eval_metrics = evaluate_and_write(state, 0)
      progress.restart_clock(0)
    while step < sched.total_steps:
      batch = parallel.host_to_global(next(train_iter), mesh, leading_dims=1)
      with jax.transfer_guard("disallow"):  # every host<->device copy in the hot path must be explicit
        state, sums = train_call(state, sums, batch)
      step += sched.steps_per_call
      done = step == sched.total_steps
      at_log = step % sched.log_every == 0 or done
      at_eval = step % sched.eval_every == 0 or done
      at_checkpoint = step % sched.checkpoint_every == 0 or done
      preempted = not done and stop.is_set(at_boundary=step % sched.log_every == 0)
      if at_log or at_eval or at_checkpoint or preempted:
        check_finite(state)  # one device->host sync per boundary; never log, evaluate or save a bad state
      if at_log:
        host_sums = jax.device_get(sums)
        sums = zero_sums()
        n = max(float(host_sums.pop("steps")), 1.0)
        train_metrics = {f"train/{k}": float(v) / n for k, v in host_sums.items()}
        rates = progress.report(step, train_metrics)
        writer.write(step, {**train_metrics, **rates, "train/epoch": step / sched.steps_per_epoch})
      if at_eval:
        eval_metrics = evaluate_and_write(state, step)
      if at_checkpoint or preempted:
        partial = {k: float(v) for k, v in jax.device_get(sums).items()}  # float32 -> float -> float32 is exact
        ckpt.save(step, state, {**train_iter.get_state(), "metric_sums": partial})
      if at_eval or at_checkpoint:
        progress.restart_clock(step)  # the next logged rate counts training steps only
      if preempted:
        ckpt.wait()
        raise Preempted(step)
    check_finite(state)  # also covers a run resumed from its final checkpoint
    if not eval_metrics:  # resumed from the final checkpoint of a run that died before writing results
      eval_metrics = evaluate(state, step)
    jax.block_until_ready(state)
    train_time = time.perf_counter() - train_start
    ckpt.wait()
  finally:
    stop.restore()
    train_iter.close()
    ckpt.close()
    writer.close()

  # ---------------------------------------------------------------- results
  results = {
      "final_metrics": {**train_metrics, **eval_metrics},
      "command": command,
      "config": json.loads(config.to_json_best_effort(sort_keys=True)),
      "seed": config.seed,
      "git_revision": revision,
      "jax_version": jax.__version__,
      "device_kind": jax.devices()[0].device_kind,
      "platform": jax.devices()[0].platform,
      "device_count": jax.device_count(),
      "process_count": jax.process_count(),
      "mesh": dict(mesh.shape),
      "num_params": num_params,
      "steps": sched.total_steps,
      "resumed_from_step": start_step,
      "wall_time_s": time.perf_counter() - wall_start,
      "compile_time_s": compile_time,
      "train_time_s": train_time,
      "train_steps_per_s": (sched.total_steps - start_step) / max(train_time, 1e-9),
      "compiled_memory": memory,
      "trace_counts": dict(TRACE_COUNTS),
  }
  if is_main:
    writers.write_json(workdir / "results.json", results)
  if jax.process_count() > 1:  # no process reports "done" (e.g. to a multi-host sweep) before results.json exists
    multihost_utils.sync_global_devices("bigjax: results.json written")
  return results


def restore_params(workdir: str | pathlib.Path, model: nn.Module | None = None,
                   example: dict[str, tuple[tuple[int, ...], Any]] | None = None, step: int | None = None
                   ) -> tuple[ml_collections.ConfigDict, nn.Module, Any]:
  """``(config, model, params)`` of the run in ``workdir``, from its checkpoint at ``step`` (default: the
  newest), on one device. The parameters are those the run evaluated: its parameter average where
  ``config.optim.ema_decay`` kept one, else the live parameters.

  ``model`` (fitted to the run's data) and ``example`` (``example_spec`` of its batches) may be given, e.g.
  from a saved vocabulary; otherwise both come from the run's ``config.json`` and its training split.
  Nothing in ``workdir`` is written or moved: an unreadable checkpoint is an error that names it.
  """
  workdir = pathlib.Path(workdir)
  try:
    config = ml_collections.ConfigDict(json.loads((workdir / "config.json").read_text()))
  except FileNotFoundError:
    raise ConfigError(f"{workdir} holds no run: {workdir / 'config.json'} not found") from None
  config_model, task = validate(config)
  if model is None or example is None:
    train_ds = load_split(config.data, config.data.train_split)
    model = model or fit_model_to_data(config_model, config.model, train_ds)
    example = example or example_spec(train_ds.arrays)
  mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]).reshape(1, 1, 1), ("data", "fsdp", "tensor"))
  # The optimizer's state has the same shapes whatever its schedule's length: that of config.train will do.
  _, abstract_state = abstract_train_state(config, model, task, mesh, example, max(config.train.num_steps, 1))
  ckpt = checkpoint.Checkpointer(workdir / "checkpoints")
  try:
    kept = ckpt.all_steps()
    if not kept:
      raise ConfigError(f"{workdir / 'checkpoints'} holds no checkpoint")
    if step is None:
      step = max(kept)
    elif step not in kept:
      raise ConfigError(f"{workdir / 'checkpoints'} holds no checkpoint at step {step}, only at {sorted(kept)}; "
                        f"a run keeps its last config.train.keep_checkpoints of them")
    try:
      state, _ = ckpt.restore(step, abstract_state)
    except Exception as error:  # orbax raises many types for unreadable files
      raise ConfigError(f"checkpoint {step} in {workdir / 'checkpoints'} is unreadable or does not fit the run's "
                        f"config ({type(error).__name__}: {error})") from None
  finally:
    ckpt.close()
  logging.info("restored %s at step %d (%s)", workdir, step, config.model.name)
  return config, model, optim.eval_params(state.opt_state, state.params)


def checkpoint_mismatch(workdir, step, data_state) -> RuntimeError:
  return RuntimeError(f"checkpoint at step {step} in {workdir} holds data-iterator state {data_state}, which "
                      f"does not match its step; the checkpoint was written by a different config")


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


class _PreemptionFlag:
  """Set by SIGTERM (``bigjax.preemption``); the loop then saves a checkpoint and stops.

  With several processes, all of them agree through a collective before the next step, so every
  process saves the same step.
  """

  def __init__(self):
    self._installed_here = not preemption.installed()  # main.py installs it before jax loads
    preemption.install()

  def is_set(self, at_boundary: bool) -> bool:
    """Single process: checked every call. Several: only at log boundaries, where all agree by a collective."""
    local = preemption.REQUESTED.is_set()
    if jax.process_count() == 1:
      return local
    if not at_boundary:
      return False
    return bool(np.any(multihost_utils.process_allgather(np.array(local))))

  def restore(self) -> None:
    if self._installed_here:
      preemption.uninstall()
