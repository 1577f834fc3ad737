"""The run directory: the lock that keeps it to one run at a time, ``config.json`` and when a run may be extended,
the vocabulary, the code revision, and reading a finished run back (its parameters, its logged curves, its best
step; pre-trained parts for a task).

A workdir holds ``config.json``, ``metrics.jsonl``, ``tensorboard/``, ``checkpoints/``, ``results.json``,
``run.lock`` and, for text, ``vocab.json`` (README.md, "Command line"). ``train.run`` writes it; everything else
reads it here.
"""

import contextlib
import fcntl
import json
import logging
import os
import pathlib
import socket
import subprocess
import time
from types import ModuleType
from typing import Any, Iterator, Mapping

import flax.linen as nn
import jax
import ml_collections
import numpy as np

from bigjax import checkpoint, config_base, configs, data, optim, program, selection, tasks, writers
from bigjax.configs import ConfigError

# Keys a resumed run may change to train longer, provided every step already taken keeps its learning rate
# (a constant run extended, or turned into a cooldown that starts after its last step): training on then
# equals asking for the new run from the start (tests/test_train.py).
EXTENDABLE_KEYS = ("train.num_epochs", "train.num_steps", "optim.schedule", "optim.cooldown_steps",
                   "optim.end_lr_factor")

# Keys that change what is recorded or kept of a run, not the run: a resumed run may change them freely (a run
# resumed with a larger train.keep_checkpoints keeps that many from then on; those already deleted stay deleted).
OBSERVATION_KEYS = ("train.profile_steps", "train.peak_tflops", "train.keep_checkpoints", "writers.wandb",
                    "writers.wandb_project", "writers.wandb_mode")

# Fields every config.json held until base_config kept only the loop's (a family's own now come from its
# configs/common_*.py), with the default they had: a run that left one at it resumes under a config without it.
RETIRED_DEFAULTS = {
    "data.seq_len": 0, "data.max_len": 0, "data.min_freq": 1, "data.fold": -1, "data.num_folds": 10,
    "data.source": "auto", "data.num_negatives": 4, "data.pairs": False, "data.eval_negatives_seed": 0,
    "data.ties": "first", "data.full_ranking": False, "data.item_features": False, "data.history_len": 0,
    "task.random_shift": 0, "task.top_k": (10,), "task.embedding_l2": 0.0, "task.pretrained_gmf": "",
    "task.pretrained_mlp": "", "task.pretrained_alpha": 0.5, "task.pretrained_checkpoint": "latest",
    "task.evaluator_workdir": "runs/gan_evaluator", "task.evaluator_features": "Dense_0", "task.eval_samples": 10000,
    "task.generator_ema": 0.0, "task.discriminator_lr_scale": 1.0, "task.code_weight": 1.0,
}


def _first_changed_lr(old: ml_collections.ConfigDict, new: ml_collections.ConfigDict, old_total: int,
                      new_total: int) -> tuple[int, float, float] | None:
  """``(step, old lr, new lr)`` of the first of steps ``0..old_total-1`` whose learning rate differs, or None."""
  steps = np.arange(old_total)
  # As the step sees them: float32 (a constant schedule returns a Python scalar, the others float32 arrays).
  lr = lambda c, total: np.broadcast_to(np.asarray(optim.make_schedule(c.optim, total)(steps), np.float32), steps.shape)
  a, b = lr(old, old_total), lr(new, new_total)
  differ = np.flatnonzero(a != b)
  return (int(differ[0]), float(a[differ[0]]), float(b[differ[0]])) if len(differ) else None


def known_defaults() -> dict[str, Any]:
  """``{dotted field: default}`` of every field this checkout knows: the loop's (``config_base``) and each
  family's (``add_fields`` of ``configs/common_*.py``, where the configs folder sits beside the package; a recipe
  module without ``add_fields``, such as common_seq2seq, sets values and adds no fields). A field that two
  families default differently has no default here."""
  defaults = writers.flatten(json.loads(config_base.base_config().to_json_best_effort()))
  family_defaults: dict[str, Any] = {}
  conflicting = set()
  for path in sorted((configs.REPO / "configs").glob("common_*.py")):
    module = configs.load_module(path)
    if not hasattr(module, "add_fields"):
      continue
    family = module.add_fields(config_base.base_config())
    fields = writers.flatten(json.loads(family.to_json_best_effort()))
    for key, value in fields.items():
      if key in defaults:
        continue
      if key in family_defaults and family_defaults[key] != value:
        conflicting.add(key)
      family_defaults[key] = value
  return {**defaults, **{k: v for k, v in family_defaults.items() if k not in conflicting}}


LOCK_FILE = "run.lock"


@contextlib.contextmanager
def lock_workdir(workdir: pathlib.Path, enabled: bool = True) -> Iterator[None]:
  """Holds ``<workdir>/run.lock`` for the life of a run: a second run into the same workdir (a second terminal,
  a rerun while a scheduler's copy still trains) is refused with a ``ConfigError`` naming the pid and host of
  the run that holds it, instead of both writing the same checkpoints and logs.

  The lock is an exclusive ``fcntl.flock`` on the file, tried once, never waited for; the holder writes its
  pid, host and start time into the file for the refusal to name, and empties it when done. The kernel drops a
  flock when its process ends, however it ends, so a run killed by SIGKILL or the OOM killer leaves a file no
  one holds and the next run takes it over (saying whose it was). Only process 0 of a multi-host run takes it
  (``enabled``); the others share its workdir.

  flock excludes exactly on a local filesystem and on NFS (Linux >= 2.6.12 maps it to a lock the server keeps);
  on a filesystem that keeps locks per host (gcsfuse and other FUSE mounts) it refuses a second run on the same
  host only, and where the filesystem has no locks at all (ENOLCK, EOPNOTSUPP) the run goes on with a warning.
  """
  if not enabled:
    yield
    return
  workdir.mkdir(parents=True, exist_ok=True)
  path = workdir / LOCK_FILE
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  held = False
  try:
    held = _take_lock(fd, path, workdir)
    yield
  finally:
    if held:
      os.ftruncate(fd, 0)  # a clean end: the next run has no one to take over from
    os.close(fd)  # releases the flock


def _take_lock(fd: int, path: pathlib.Path, workdir: pathlib.Path) -> bool:
  """Takes the flock on ``fd`` and writes this run into it; False where the filesystem has no locks."""
  try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    raise ConfigError(f"{workdir} is in use by another run ({_lock_holder(fd)}); wait for it to finish or stop it "
                      f"(Ctrl-C or SIGTERM saves a checkpoint), or use another --workdir") from None
  except OSError as error:
    logging.warning("cannot lock %s (%s); a second run into this workdir would not be refused", path, error)
    return False
  before = _lock_holder(fd, wait_s=0.0)
  if before:  # a holder that ended without emptying the file: killed
    logging.warning("%s: taking over the lock of %s, which ended without releasing it (killed?)", workdir, before)
  record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
  os.ftruncate(fd, 0)
  os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
  return True


def _lock_holder(fd: int, wait_s: float = 1.0) -> str:
  """``pid P on HOST since T`` from the lock file ("" if empty); waits up to ``wait_s`` for a holder that has
  just taken the lock to write itself in."""
  deadline = time.monotonic() + wait_s
  while True:
    try:
      record = json.loads(os.pread(fd, 4096, 0).decode())
      return f"pid {record['pid']} on {record['host']} since {record['started']}"
    except (ValueError, KeyError, TypeError):
      if time.monotonic() >= deadline:
        return "" if wait_s == 0 else "pid and host unknown: its lock file is empty"
      time.sleep(0.05)


def prepare_workdir(workdir: pathlib.Path, config: ml_collections.ConfigDict, num_train_examples: int) -> None:
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
    defaults = known_defaults()
    added = [k for k in changed if k not in old and k in defaults and new[k] == defaults[k]]
    # And one its family never reads, retired from base_config, that the run left at its default.
    retired = [k for k in changed if k not in new and k in RETIRED_DEFAULTS and old[k] == RETIRED_DEFAULTS[k]]
    observed = [k for k in changed if k in OBSERVATION_KEYS]
    changed = [k for k in changed if k not in added and k not in retired and k not in observed]
    if not changed:
      if added:
        logging.warning("%s was started before bigjax had %s; resuming with the default%s", workdir,
                        ", ".join(f"{k}={new[k]!r}" for k in added), "s" if len(added) > 1 else "")
      if retired:
        logging.warning("%s was started when every config held %s; resuming without", workdir, ", ".join(retired))
      if added or retired or observed:
        if jax.process_index() == 0:
          writers.write_json(path, config_json)
      return
    refused = (f"{workdir} holds a run made with a different config (differs in: {', '.join(changed)}); use a "
               f"new --workdir, or the same config to resume (a run may only be extended: more steps, every "
               f"step taken keeping its learning rate, through {', '.join(EXTENDABLE_KEYS)}")
    if not set(changed) <= set(EXTENDABLE_KEYS):
      raise ConfigError(refused + ")")
    old_config = ml_collections.ConfigDict(old_json)
    old_total = program.make_schedule(old_config, num_train_examples).total_steps
    new_total = program.make_schedule(config, num_train_examples).total_steps
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


def save_vocab(path: pathlib.Path, vocab_json: str, is_main: bool) -> None:
  """Writes the run's vocabulary (tokenizer) next to its config; a resumed run must have the same one."""
  if path.exists():
    if path.read_text() != vocab_json:
      raise ConfigError(f"{path} differs from the vocabulary built from the data now: the data changed since "
                        f"this run started; use a new workdir")
  elif is_main:
    writers.write_text(path, vocab_json)


def script_record(what: str, script: str, argv: list[str] | None, start: float, **fields: Any) -> dict:
  """The provenance a script's record starts with: ``what``, the ``command`` as typed (``argv`` None: this
  process's), ``git_revision``, ``date`` (UTC), ``wall_time_s`` since ``start`` (``time.time()``); then ``fields``."""
  import datetime
  import shlex
  import sys
  command = sys.argv if argv is None else [script, *argv]
  return {"what": what, "command": shlex.join(["python", *command]), "git_revision": git_revision(),
          "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
          "wall_time_s": round(time.time() - start, 2), **fields}


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


def checkpoint_mismatch(workdir, step, data_state) -> RuntimeError:
  return RuntimeError(f"checkpoint at step {step} in {workdir} holds data-iterator state {data_state}, which "
                      f"does not match its step; the checkpoint was written by a different config")


def read_config(workdir: str | pathlib.Path) -> ml_collections.ConfigDict:
  workdir = pathlib.Path(workdir)
  try:
    return ml_collections.ConfigDict(json.loads((workdir / "config.json").read_text()))
  except FileNotFoundError:
    raise ConfigError(f"{workdir} holds no run: {workdir / 'config.json'} not found") from None


def fitted_model(config: ml_collections.ConfigDict) -> tuple[nn.Module, ModuleType, Any]:
  """``(model, task family, training split)`` of a run's config: the model fitted to its training data
  (vocabulary, class, user and item counts) as ``program.plan`` fits it, without a mesh or the eval split."""
  model, family = program.validate(config)
  train_ds = program.load_split(config.data, config.data.train_split)
  return program.fit_model_to_data(model, config.model, train_ds), family, train_ds


def restore_params(workdir: str | pathlib.Path, model: nn.Module | None = None,
                   example: program.Example | None = None, step: int | None = None
                   ) -> tuple[ml_collections.ConfigDict, nn.Module, Any]:
  """``(config, model, params)`` of the run in ``workdir``, from its checkpoint at ``step`` (default: the
  newest), on one device. The parameters are those the run evaluated: its parameter average where
  ``config.optim.ema_decay`` kept one, else the live parameters.

  ``model`` (fitted to the run's data) and ``example`` (``program.example_spec`` of its batches) may be given,
  e.g. from a saved vocabulary; otherwise both come from the run's ``config.json`` and its training split.
  Nothing in ``workdir`` is written or moved: an unreadable checkpoint is an error that names it.
  """
  workdir = pathlib.Path(workdir)
  config = read_config(workdir)
  if model is None or example is None:
    fitted, family, train_ds = fitted_model(config)
    model = model or fitted
    example = example or program.example_spec(train_ds.arrays)
  else:
    _, family = program.validate(config)
  mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]).reshape(1, 1, 1), ("data", "fsdp", "tensor"))
  # The optimizer's state has the same shapes whatever its schedule's length: that of config.train will do.
  tx, _ = optim.make_optimizer(config.optim, max(config.train.num_steps, 1))
  _, abstract_state = program.abstract_train_state(config, program.make_task(config, family, model, tx), mesh, example)
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


def best_step(workdir: str | pathlib.Path, metric: str = "hr@10") -> int:
  """The step of the run's highest ``<eval split>/<metric>`` in its metrics.jsonl (the earliest of equal ones)
  after its first update: a step-0 evaluation (``train.eval_at_start``) scores the initialisation, not a
  trained model. A run that evaluated a test split has no best step (``selection.SelectionError``)."""
  try:
    data_config = json.loads((pathlib.Path(workdir) / "config.json").read_text())["data"]
    split = data_config["eval_split"]
  except (FileNotFoundError, KeyError, json.JSONDecodeError) as error:
    raise ValueError(f"{workdir}: no readable config.json to find its evaluation split ({error})") from None
  selection.check_selectable(f"{split}/{metric}", f"the best checkpoint of {workdir}",
                             data_config.get("test_split", ""))
  curve = {step: value for step, value in writers.read_curve(workdir, f"{split}/{metric}").items() if step > 0}
  if not curve:
    raise ValueError(f"{workdir}/metrics.jsonl logs no {split}/{metric} after step 0: no best checkpoint to choose")
  return max(sorted(curve), key=lambda step: curve[step])


def _part_vocab(path: pathlib.Path) -> Any:
  """A part's vocabulary (``data.vocab_from_json``), or None where its run wrote none or a kind of its own (a
  MovieLens run's id maps), which no task reads from a part."""
  if not path.exists():
    return None
  try:
    return data.vocab_from_json(path.read_text(encoding="utf-8"))
  except ValueError:
    return None


def load_part(spec: tasks.PartSpec) -> tasks.Part:
  """The trained run ``spec`` names, at its newest checkpoint or (``spec.best``) its best evaluation's."""
  hint = f"; {spec.hint}" if spec.hint else ""
  if not spec.workdir or not (pathlib.Path(spec.workdir) / "config.json").exists():
    raise ConfigError(f"{spec.field}={spec.workdir!r} holds no trained run{hint}")
  try:
    step = best_step(spec.workdir, spec.best) if spec.best else None
    config, model, params = restore_params(spec.workdir, step=step)
    vocab_file = pathlib.Path(spec.workdir) / "vocab.json"
    vocab = _part_vocab(vocab_file)
  except (ConfigError, ValueError) as error:
    raise ConfigError(f"{spec.field}={spec.workdir!r}: {error}{hint}") from None
  return tasks.Part(workdir=spec.workdir, config=config, model=model, params=params, vocab=vocab)


def load_parts(specs: Mapping[str, tasks.PartSpec]) -> dict[str, tasks.Part]:
  return {name: load_part(spec) for name, spec in specs.items()}
