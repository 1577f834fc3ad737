"""SIGTERM and Ctrl-C as a request to save and stop: SIGTERM is how TPU VMs and most schedulers announce
preemption; SIGINT is a user at the terminal who wants the run to stop now and resume later.

The first of either sets ``REQUESTED``; the loop saves a checkpoint at its next step boundary and stops with
status 0. A second Ctrl-C ends the process at once, without saving: SIGINT's handler is then the system's
default, which acts even while Python waits inside a compiled step or a checkpoint write (a KeyboardInterrupt
would wait for them). The checkpoints already written stay, and a rerun resumes from the newest.

Kept free of jax so that ``bigjax.main`` can install the handlers before its slow imports: a signal that arrives
while jax loads is remembered, and the loop saves and stops at its first step boundary.
"""

import os
import signal
import threading
from typing import Any

REQUESTED = threading.Event()
_installed = False
_previous: dict[int, Any] = {}
_reason = ""


def installed() -> bool:
  return _installed


def reason() -> str:
  """What asked the run to stop: ``"preempted"`` (SIGTERM) or ``"interrupted"`` (Ctrl-C); ``""`` if nothing."""
  return _reason if REQUESTED.is_set() else ""


def _request(signum: int, frame: Any) -> None:
  global _reason
  del frame
  if signum == signal.SIGINT:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # the next Ctrl-C ends the process at once
    os.write(2, b"\nCtrl-C: saving a checkpoint at the next step, then stopping (rerun the same command to "
                b"resume); press Ctrl-C again to abort at once without saving\n")
  if not REQUESTED.is_set():
    _reason = "interrupted" if signum == signal.SIGINT else "preempted"
  REQUESTED.set()


def install(interrupt: bool = True) -> None:
  """Routes SIGTERM, and with ``interrupt`` the first SIGINT, to ``REQUESTED`` (main thread only; elsewhere a
  no-op). Idempotent. The command line takes Ctrl-C; a run started from Python (a test, a notebook) passes
  ``interrupt=False`` and keeps its caller's KeyboardInterrupt."""
  global _installed
  if threading.current_thread() is threading.main_thread() and not _installed:
    for sig in (signal.SIGTERM, signal.SIGINT) if interrupt else (signal.SIGTERM,):
      previous = signal.signal(sig, _request)
      _previous[sig] = signal.SIG_DFL if previous is None else previous
    _installed = True


def uninstall() -> None:
  """Puts the previous handlers back and forgets any request."""
  global _installed, _reason
  if _installed:
    for sig, previous in _previous.items():
      signal.signal(sig, previous)
    _previous.clear()
    _installed = False
  REQUESTED.clear()
  _reason = ""


def reclaim_sigterm() -> None:
  """Routes SIGTERM to ``REQUESTED`` again after a library replaced the handler (main thread, when installed).

  ``jax.distributed.initialize()`` installs the coordination service's own SIGTERM handler (its preemption
  notifier), which only logs "SIGTERM caught": a multi-process run would then never save and stop when a
  scheduler asks (found on a real Slurm, tests/test_slurm.py). The processes agree on the stopping step
  through the loop's own collective instead (train.py ``_PreemptionFlag``).
  """
  if _installed and threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, _request)
