"""bigjax's command line (``bigjax`` once installed; ``python -m bigjax.main`` is the same command).

  bigjax [train] --config=configs/<name>.py[:variant] --workdir=DIR [--config.<a>.<b>=VALUE ...]
  bigjax train --config=configs/<name>.py[:variant] [--config.<a>.<b>=VALUE ...] --print_config
  bigjax eval --workdir=DIR [--split=NAME] [--step=N]
  bigjax export --workdir=DIR [--out=PATH] [--step=N]
  bigjax configs

train     trains the config into DIR, or resumes the run DIR holds (``bigjax.train``); ``--print_config`` prints
          the config with its variant and overrides applied, every field, and stops.
eval      restores the run in DIR (its newest checkpoint, or that of step N) and evaluates it on a split its data
          has (default: the config's eval split), writing DIR/eval_<split>.json (``bigjax.evaluate``).
export    writes the run's inference function, serialised with jax.export, and its parameters
          (``bigjax.export``; default DIR/export.npz).
configs   lists the config files, what each trains, and their variants.

A relative config path is looked up in the working directory, then in ``--config_dir``, then in the bigjax
checkout, so the command works from any folder.

Multi-host training: add ``--multihost`` on every host (TPU VMs detect the rest; elsewhere also pass
``--coordinator_address=HOST:PORT --num_processes=N --process_id=I``). See ``scripts/launch.py``.

Exit status: 0 done, or preempted (SIGTERM, Ctrl-C) with a checkpoint saved (``--preempted_exit_code`` says
otherwise: a Kubernetes Job counts a pod that exits 0 as finished, so ``scripts/launch.py k8s`` passes 75 and
restarts such pods); 1 a training failure (a NaN); 2 a user error (a config file, variant, field or value, a flag, the workdir, the data, the mesh), told in one
line that names it.
"""

import logging
import os
import re
import shlex
import sys
from typing import NoReturn

from absl import app, flags
import ml_collections
from ml_collections import config_flags

from bigjax import configs, preemption

COMMANDS = ("train", "eval", "export", "configs")

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory: checkpoints, metrics, results; reused to resume.")
_CONFIG_DIR = flags.DEFINE_string("config_dir", None, "Folder of config files, searched for a relative --config.")
_PRINT_CONFIG = flags.DEFINE_bool("print_config", False, "train: print the resolved config and stop.")
_SPLIT = flags.DEFINE_string("split", None, "eval: the split to evaluate on (default: the config's eval split).")
_OUT = flags.DEFINE_string("out", None, "export: the file to write (default: WORKDIR/export.npz).")
_STEP = flags.DEFINE_integer("step", None, "eval, export: the checkpoint's step (default: the newest kept).")
_MULTIHOST = flags.DEFINE_bool("multihost", False, "Call jax.distributed.initialize() before anything else.")
_COORDINATOR = flags.DEFINE_string("coordinator_address", None, "HOST:PORT of process 0 (multi-host only).")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Number of processes (multi-host only).")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index (multi-host only).")
_PREEMPTED_EXIT = flags.DEFINE_integer(
    "preempted_exit_code", 0, "train: the exit status when SIGTERM or Ctrl-C stopped the run early with a "
    "checkpoint saved (1-255 for a scheduler that restarts only failed work, e.g. a Kubernetes Job).")

# The flags each command reads; any other given is a mistake worth a line (``--split`` to ``train``).
_FLAGS_OF = {
    "train": {"config", "workdir", "config_dir", "print_config", "multihost", "coordinator_address",
              "num_processes", "process_id", "preempted_exit_code"},
    "eval": {"workdir", "split", "step"},
    "export": {"workdir", "out", "step"},
    "configs": {"config_dir"},
}


class _QuietLibraries(logging.Filter):
  """Drops INFO chatter of orbax (dozens of lines per checkpoint); its warnings and errors still show."""

  def filter(self, record: logging.LogRecord) -> bool:
    return record.levelno > logging.INFO or "/orbax/" not in record.pathname


def fail(message: object) -> NoReturn:
  """A user error: one line on stderr, exit status 2."""
  print(f"bigjax: error: {' '.join(str(message).split())}", file=sys.stderr)
  sys.exit(2)


def _take_value(argv: list[str], name: str) -> tuple[str | None, list[str]]:
  """The value of ``--name=V`` or ``--name V`` in ``argv`` (the last one given) and ``argv`` without it."""
  value, rest, i = None, [], 0
  while i < len(argv):
    arg = argv[i]
    if re.fullmatch(rf"--?{name}=.*", arg):
      value = arg.split("=", 1)[1]
    elif re.fullmatch(rf"--?{name}", arg) and i + 1 < len(argv):
      value, i = argv[i + 1], i + 1
    else:
      rest.append(arg)
    i += 1
  return value, rest


def _overridden_fields(argv: list[str]) -> list[str]:
  """``--config.optim.lr=1e-3`` -> ``optim.lr`` for every override in ``argv``."""
  return [re.sub(r"^--?(no)?config\.", "", arg).split("=", 1)[0] for arg in argv
          if re.match(r"^--?(no)?config\.", arg)]


def _load_config(argv: list[str]) -> tuple[str | None, list[str]]:
  """Reads ``--config=FILE[:variant]`` itself, so that a missing file, an unknown variant or a misspelt field
  is one line and status 2, then defines the ``config`` flag holding it, whose ``--config.a.b=V`` overrides
  absl and ml_collections parse with the field's type. Returns the spec and ``argv`` without it."""
  spec, argv = _take_value(argv, "config")
  config_dir, _ = _take_value(argv, "config_dir")
  overridden = _overridden_fields(argv)
  config = ml_collections.ConfigDict()
  if spec is not None:
    try:
      config = configs.load(spec, lock=False, config_dir=config_dir)
      for field in overridden:
        configs.check_field(config, field)
    except configs.ConfigError as error:
      fail(error)
  elif overridden:
    fail(f"--config.{overridden[0]} overrides a field, but no --config=FILE[:variant] names the config")
  config_flags.DEFINE_config_dict("config", config, "Experiment config file[:variant]; --config.a.b=V sets a field.",
                                  lock_config=True, sys_argv=argv)
  return spec, argv


def _parse_flags(argv: list[str]) -> list[str]:
  """absl's parse, with every mistake (unknown flag, a value of the wrong type) one line and status 2."""
  if any(arg in ("-h", "--help", "-help", "--helpshort", "--helpfull") for arg in argv[1:]):
    print(__doc__)
    print(flags.FLAGS.module_help(__name__))
    sys.exit(0)
  try:
    return flags.FLAGS(argv)
  except (flags.Error, ValueError, TypeError, AttributeError, KeyError) as error:
    fail(error)


def _print_configs(config_dir: str | None) -> int:
  for path, summary, variants in configs.catalogue(config_dir):
    print(f"{path}\n    {summary}")
    for name, description in variants.items():
      print(f"    :{name:<20} {description}")
  return 0


def main(command: str, spec: str | None, argv: list[str]) -> int:
  """Runs ``command`` with the parsed flags; returns the exit status."""
  for handler in logging.getLogger().handlers:
    handler.addFilter(_QuietLibraries())
  if len(argv) > 1:
    fail(f"unexpected arguments {argv[1:]}; commands: {', '.join(COMMANDS)} (bigjax --help)")
  stray = sorted(name for name in (_FLAGS_OF["train"] | {"split", "out"}) - _FLAGS_OF[command]
                 if name != "config" and flags.FLAGS[name].present)
  if stray or (spec is not None and "config" not in _FLAGS_OF[command]):
    fail(f"--{stray[0] if stray else 'config'} is not a flag of 'bigjax {command}'")
  if command == "configs":
    try:
      return _print_configs(_CONFIG_DIR.value)
    except configs.ConfigError as error:
      fail(error)
  if command == "train" and spec is None:
    fail("--config=FILE[:variant] is required (bigjax configs lists them)")
  if command == "train" and _PRINT_CONFIG.value:
    print(flags.FLAGS["config"].value)
    return 0
  if _WORKDIR.value is None:
    fail(f"--workdir=DIR is required by 'bigjax {command}'")
  if command == "train":
    if not 0 <= _PREEMPTED_EXIT.value <= 255 or _PREEMPTED_EXIT.value in (1, 2):
      fail(f"--preempted_exit_code={_PREEMPTED_EXIT.value} must be 0 or 3-255 (1 and 2 mean a failure and a "
           f"user error)")
    if os.path.exists(_WORKDIR.value) and not os.path.isdir(_WORKDIR.value):
      fail(f"--workdir={_WORKDIR.value} is a file, not a directory; give a new or an existing run directory")
    return _train()
  return _inspect(command)


def _train() -> int:
  preemption.install()  # before jax loads: a SIGTERM (or Ctrl-C) during start-up is kept, not fatal
  from bigjax import parallel
  if _MULTIHOST.value:
    parallel.initialize_distributed(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
    preemption.reclaim_sigterm()  # jax's own preemption notifier took SIGTERM over; the loop's flag needs it
  from bigjax import data, train  # after distributed init: nothing may touch devices before it
  # An import, not part of the run: outside train.run's wall clock. (tensorboardX imports torch when it is
  # installed, 1.4 s on a 2-core CPU.)
  import tensorboardX  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import

  command = _command_line()
  try:
    results = train.run(flags.FLAGS["config"].value, _WORKDIR.value, command=command)
  except (configs.ConfigError, data.DataError) as error:
    fail(error)
  except train.Preempted as preempted:
    logging.warning("%s; rerun the same command to resume", preempted)
    return _PREEMPTED_EXIT.value
  except train.NonFiniteError as error:
    logging.error("%s", error)
    return 1
  shown = "  ".join(f"{k}={v:.4f}" for k, v in sorted(results["final_metrics"].items()))
  logging.info("done in %.1fs (compile %.1fs): %s", results["wall_time_s"], results["compile_time_s"], shown)
  return 0


def _command_line() -> str:
  """This process's command line as typed (``python -m bigjax.main ...``), recorded with what it writes."""
  return shlex.join(["python", "-m", "bigjax.main", *sys.argv[1:]])


def _inspect(command: str) -> int:
  """``eval`` and ``export`` of a trained run (one process)."""
  from bigjax import data
  try:
    if command == "eval":
      from bigjax import evaluate
      path, metrics = evaluate.evaluate_workdir(
          _WORKDIR.value, _SPLIT.value, step=_STEP.value,
          command=_command_line())
      shown = "  ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items()))
      logging.info("%s: %s", path, shown)
    else:
      from bigjax import export
      logging.info("exported to %s", export.export_workdir(_WORKDIR.value, _OUT.value, step=_STEP.value))
  except (configs.ConfigError, data.DataError) as error:
    fail(error)
  return 0


def run_cli(argv: list[str] | None = None) -> None:
  """The console script: ``bigjax [command] [flags]``."""
  argv = list(sys.argv if argv is None else argv)
  command = argv.pop(1) if len(argv) > 1 and argv[1] in COMMANDS else "train"
  spec, argv = _load_config(argv)
  app.run(lambda rest: sys.exit(main(command, spec, rest)), argv=argv, flags_parser=_parse_flags)


if __name__ == "__main__":
  run_cli()
