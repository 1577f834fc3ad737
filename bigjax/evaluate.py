"""``bigjax eval --workdir=DIR [--split=NAME]``: a trained run scored on any split of its data, training nothing.

The run's ``config.json`` rebuilds its program (``program.build``) and its newest checkpoint (or ``step``) gives the
parameters it evaluated (``runs.restore_params``: the parameter average where it kept one); the split, whole (a
smoke run's ``config.data.eval_examples`` prefix is for its periodic evaluations only), goes through the compiled
eval step and the metric finishing of the loop (``program.evaluate_params``): on the run's eval split and
checkpoint, the numbers are those the run logged there, bitwise. A GAN's samples are scored by its evaluator run,
as in training. The split is the config's ``data.eval_split`` by default, else any its dataset loader has
(``data.train_split``, ``"validation"``, ``"test"``, ...).

Writes ``<workdir>/eval_<split>.json`` atomically and nothing else::

  {"split": "test", "metrics": {"test/accuracy": 0.97, ...}, "step": 880, "checkpoint": "latest",
   "examples": 10000, "git_revision": "...", "command": "python -m bigjax.main eval ...",
   "trained_git_revision": "...", "time": 1.7e9, "wall_time_s": 4.2, ...}

Errors a user can fix (no such workdir, no checkpoint, a split the data lacks) are ``ConfigError``; missing or
corrupt data is ``bigjax.data.DataError``.
"""

import json
import pathlib
import re
import time
from typing import Any

import jax
import ml_collections

from bigjax import checkpoint, data, program, runs, tasks, writers
from bigjax.configs import ConfigError
from bigjax.data import pipeline


def run_dir(workdir: str | pathlib.Path) -> tuple[pathlib.Path, ml_collections.ConfigDict]:
  """``(workdir, its config)`` of a directory that holds a trained run; refuses one without a checkpoint."""
  workdir = pathlib.Path(workdir)
  if not workdir.is_dir():
    raise ConfigError(f"--workdir={workdir}: no such directory")
  config = runs.read_config(workdir)
  if not (workdir / "checkpoints").is_dir():  # looked for here: orbax would create it, and eval writes nothing else
    raise ConfigError(f"{workdir} holds no checkpoint: {workdir / 'checkpoints'} not found (has the run trained?)")
  return workdir, config


def chosen_step(workdir: pathlib.Path, step: int | None) -> tuple[int, str]:
  """``(step, how it was chosen)``: the newest checkpoint's, or ``step``, which must be kept."""
  ckpt = checkpoint.Checkpointer(workdir / "checkpoints")
  try:
    kept = ckpt.all_steps()
  finally:
    ckpt.close()
  if not kept:
    raise ConfigError(f"{workdir / 'checkpoints'} holds no checkpoint (has the run trained?)")
  if step is None:
    return kept[-1], "latest"
  if step not in kept:
    raise ConfigError(f"{workdir / 'checkpoints'} holds no checkpoint at step {step}, only at {kept}")
  return step, f"step {step}"


def load_split(config: ml_collections.ConfigDict, split: str, train_ds: data.Dataset) -> data.Dataset:
  """``split`` of the run's data, whole; a name its loader does not know is a ``ConfigError`` naming it."""
  if split == config.data.train_split:
    return train_ds
  try:
    split_ds = program.load_split(config.data, split)
  except ConfigError as error:
    raise ConfigError(f"--split={split}: {str(error).removeprefix('config.data: ')}") from None
  if not len(split_ds):
    raise data.DataError(f"split {split!r} of {split_ds.name} holds no example")
  return split_ds


def output_path(workdir: pathlib.Path, split: str) -> pathlib.Path:
  """``<workdir>/eval_<split>.json``, the split's characters that are not safe in a file name as ``_``
  (a TFDS slice such as ``test[:50%]``)."""
  return workdir / f"eval_{re.sub(r'[^A-Za-z0-9_.-]', '_', split)}.json"


def evaluate_workdir(workdir: str | pathlib.Path, split: str | None = None, *, step: int | None = None,
                     command: str = "") -> tuple[pathlib.Path, dict[str, float]]:
  """Scores the run in ``workdir`` on ``split`` (default: its config's eval split) at its newest checkpoint (or
  ``step``); returns ``(path of eval_<split>.json, {"<split>/<metric>": value})`` (module docstring).
  ``command``, the command line that asked for it, is recorded (``bigjax.report`` marks a record without one)."""
  wall_start = time.perf_counter()
  revision = runs.git_revision()
  workdir, config = run_dir(workdir)
  split = split or config.data.eval_split
  step, choice = chosen_step(workdir, step)

  # The run's model fitted to its training data (vocabulary, user and item counts), as train.run builds it.
  model, family, train_ds = runs.fitted_model(config)
  mesh = program.make_checked_mesh(config)
  split_ds = load_split(config, split, train_ds)
  example = program.example_spec(train_ds.arrays)
  _, _, params = runs.restore_params(workdir, model, example, step=step)

  parts = runs.load_parts(family.parts(config))  # e.g. the GAN's evaluator, which scores its samples
  sched = program.make_schedule(config, len(train_ds))
  context = tasks.Context(parts, train_ds.arrays, split_ds.arrays, train_ds.vocab)
  try:
    built = program.build(config, family, model, mesh, example, sched, program.example_spec(split_ds.arrays), context)
  except KeyError as error:  # the split lacks what the task scores (e.g. MovieLens training rows: no candidates)
    if split == config.data.eval_split:
      raise
    raise ConfigError(f"--split={split}: its examples hold {sorted(split_ds.arrays)}, without the {error} that task "
                      f"{config.task.name!r} evaluates; evaluate on config.data.eval_split "
                      f"({config.data.eval_split!r}) or a split like it") from None
  params = jax.device_put(params, built.state_sharding.params)
  batches = pipeline.eval_batches(split_ds.arrays, config.data.eval_batch_size, jax.process_index(),
                                  jax.process_count())
  means, _ = program.evaluate_params(built.task, built.eval_call, params, batches, mesh, split_ds.arrays)
  metrics = {f"{split}/{k}": v for k, v in means.items()}

  path = output_path(workdir, split)
  record = {
      "split": split,
      "metrics": metrics,
      "step": step,
      "checkpoint": choice,
      "examples": len(split_ds),
      "dataset": split_ds.name,
      "model": config.model.name,
      "task": config.task.name,
      "git_revision": revision,
      "command": command,
      "trained_git_revision": _trained_revision(workdir),
      "jax_version": jax.__version__,
      "device_kind": jax.devices()[0].device_kind,
      "time": time.time(),
      "wall_time_s": time.perf_counter() - wall_start,
  }
  if jax.process_index() == 0:
    writers.write_json(path, record)
  return path, metrics


def _trained_revision(workdir: pathlib.Path) -> Any:
  """The code revision of the run's results.json, or None before it finished."""
  try:
    return json.loads((workdir / "results.json").read_text()).get("git_revision")
  except (FileNotFoundError, json.JSONDecodeError):
    return None
