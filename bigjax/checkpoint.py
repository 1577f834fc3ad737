"""Orbax checkpoints of the whole run: train state (params, optimizer, step, rng) AND data-iterator state.

Saves are asynchronous (training continues while arrays are written) and atomic (orbax writes to a
temporary directory and renames it when complete), so a kill mid-save leaves the previous checkpoint
as the latest. All processes write their own array shards; the JSON data state is written by process 0
(it is the same on every process, as the input layout is a pure function of the step).
"""

import logging
import pathlib
import shutil
import time
from typing import Any

import jax
import orbax.checkpoint as ocp


class Checkpointer:
  """Keeps the last ``max_to_keep`` checkpoints under ``directory``; restores the newest readable one."""

  def __init__(self, directory: str | pathlib.Path, max_to_keep: int = 3, async_save: bool = True):
    self.directory = pathlib.Path(directory).absolute()
    self._options = ocp.CheckpointManagerOptions(
        max_to_keep=max_to_keep, enable_async_checkpointing=async_save, create=True)
    self._manager = ocp.CheckpointManager(self.directory, options=self._options)

  def all_steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state: Any, data_state: dict) -> None:
    """Starts writing ``state`` and ``data_state`` as checkpoint ``step`` (returns before it is done)."""
    if step in self._manager.all_steps():
      return  # already saved (e.g. final step coinciding with a periodic save)
    self._manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), data=ocp.args.JsonSave(data_state)), force=True)

  def restore(self, step: int, abstract_state: Any) -> tuple[Any, dict]:
    """Reads checkpoint ``step`` into arrays with the shardings of ``abstract_state`` (ShapeDtypeStructs)."""
    restored = self._manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract_state), data=ocp.args.JsonRestore()))
    return restored["state"], restored["data"]

  def restore_latest(self, abstract_state: Any) -> tuple[int, Any, dict] | None:
    """Newest checkpoint that reads back whole; unreadable ones are moved aside (never deleted).

    A corrupt checkpoint goes to ``<directory>/../corrupt_checkpoints/<step>`` so that it stays for
    inspection, and so that training can later write a fresh checkpoint at that step.
    """
    for step in reversed(self.all_steps()):
      try:
        state, data_state = self.restore(step, abstract_state)
        return step, state, data_state
      except Exception as error:  # orbax raises many types for unreadable files; all mean "corrupt"
        logging.error("checkpoint at step %d in %s is unreadable (%s: %s); falling back to the previous one",
                      step, self.directory, type(error).__name__, error)
        self._quarantine(step)
    return None

  def _quarantine(self, step: int) -> None:
    if jax.process_index() == 0:
      target = self.directory.parent / "corrupt_checkpoints" / f"{step}-{int(time.time())}"
      target.parent.mkdir(parents=True, exist_ok=True)
      shutil.move(str(self.directory / str(step)), target)
      logging.error("moved corrupt checkpoint %d to %s", step, target)
    if jax.process_count() > 1:
      from jax.experimental import multihost_utils
      multihost_utils.sync_global_devices(f"bigjax_quarantine_{step}")
    self._manager.reload()

  def wait(self) -> None:
    """Blocks until pending asynchronous saves are committed."""
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()
