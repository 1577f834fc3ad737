"""SIGTERM as a request to save and stop: how TPU VMs and most schedulers announce preemption.

Kept free of jax so that ``bigjax.main`` can install the handler before its slow imports: a SIGTERM
that arrives while jax loads is remembered, and the loop saves and stops at its first step boundary.
"""

import signal
import threading

REQUESTED = threading.Event()
_installed = False
_previous = signal.SIG_DFL


def installed() -> bool:
  return _installed


def install() -> None:
  """Routes SIGTERM to ``REQUESTED`` (main thread only; elsewhere a no-op). Idempotent."""
  global _installed, _previous
  if threading.current_thread() is threading.main_thread() and not _installed:
    previous = signal.signal(signal.SIGTERM, lambda *_: REQUESTED.set())
    _previous = signal.SIG_DFL if previous is None else previous
    _installed = True


def uninstall() -> None:
  """Puts the previous SIGTERM handler back and forgets any request."""
  global _installed
  if _installed:
    signal.signal(signal.SIGTERM, _previous)
    _installed = False
  REQUESTED.clear()
