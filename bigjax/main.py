"""Command line: ``python -m bigjax.main --config=configs/x.py[:variant] --workdir=DIR [--config.a.b=v ...]``.

Multi-host: add ``--multihost`` on every host (TPU VMs detect the rest; elsewhere also pass
``--coordinator_address=HOST:PORT --num_processes=N --process_id=I``). See ``scripts/launch.py``.
Exit codes: 0 done or preempted-and-saved, 1 training failure (e.g. NaN), 2 bad config or data.
"""

import logging
import shlex
import sys

from absl import app, flags
from ml_collections import config_flags

from bigjax import preemption

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file[:variant].", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory: checkpoints, metrics, results; reused to resume.")
_MULTIHOST = flags.DEFINE_bool("multihost", False, "Call jax.distributed.initialize() before anything else.")
_COORDINATOR = flags.DEFINE_string("coordinator_address", None, "HOST:PORT of process 0 (multi-host only).")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Number of processes (multi-host only).")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index (multi-host only).")
flags.mark_flags_as_required(["config", "workdir"])


class _QuietLibraries(logging.Filter):
  """Drops INFO chatter of orbax (dozens of lines per checkpoint); its warnings and errors still show."""

  def filter(self, record: logging.LogRecord) -> bool:
    return record.levelno > logging.INFO or "/orbax/" not in record.pathname


def main(argv: list[str]) -> int:
  for handler in logging.getLogger().handlers:
    handler.addFilter(_QuietLibraries())
  preemption.install()  # before jax loads: a SIGTERM during start-up is kept, not fatal
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  from bigjax import parallel
  if _MULTIHOST.value:
    parallel.initialize_distributed(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
  from bigjax import data, train  # after distributed init: nothing may touch devices before it
  from bigjax.configs import ConfigError
  # An import, not part of the run: outside train.run's wall clock. (tensorboardX imports torch when it is
  # installed, 1.4 s on a 2-core CPU.)
  import tensorboardX  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import

  try:
    results = train.run(_CONFIG.value, _WORKDIR.value, command=shlex.join(["python", "-m", "bigjax.main", *sys.argv[1:]]))
  except (ConfigError, data.DataError) as error:
    logging.error("%s", error)
    return 2
  except train.Preempted as preempted:
    logging.warning("%s; rerun the same command to resume", preempted)
    return 0
  except train.NonFiniteError as error:
    logging.error("%s", error)
    return 1
  shown = "  ".join(f"{k}={v:.4f}" for k, v in sorted(results["final_metrics"].items()))
  logging.info("done in %.1fs (compile %.1fs): %s", results["wall_time_s"], results["compile_time_s"], shown)
  return 0


def run_cli() -> None:
  app.run(lambda argv: sys.exit(main(argv)))


if __name__ == "__main__":
  run_cli()
