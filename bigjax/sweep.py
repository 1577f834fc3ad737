"""``python -m bigjax.sweep``: many runs of one config, N at a time, resumable.

A config file may define ``get_sweep(arg=None)`` next to ``get_config`` (in the spirit of big_vision's
``get_hyper``); it returns a list of points, each a dict ``{dotted config key: value}``, built with the
helpers below::

    def get_sweep(arg=None):
      from bigjax.sweep import product, sweep
      return product(sweep("optim.name", ["adam", "sgd"]), sweep("optim.lr", [1e-3, 3e-3]), sweep("seed", [0, 1]))

Lists of points concatenate with ``+``, so a grid that depends on another key is a sum of products.

Usage::

    python -m bigjax.sweep --config=configs/digits_mlp.py[:variant] --workdir=runs/digits_sweep \\
        [--parallel=2] [--dry-run] [--config.train.num_epochs=5 ...]

Each point runs as its own ``python -m bigjax.main`` subprocess in ``ROOT/<name>``, where ``<name>`` encodes
the point (``optim.name=adam,optim.lr=0.001,seed=0``); its stdout and stderr go to ``ROOT/<name>/sweep.log``
(appended, one header per attempt). Extra ``--config.X=V`` flags apply to every point. ``ROOT/sweep.json``
describes the sweep; a different sweep into the same root is refused, as is a second runner while one holds
``ROOT/.sweep.lock``.

Resuming: rerun the same command. Points with ``results.json`` are skipped; the others are rerun with the
same command, and bigjax resumes each from its latest checkpoint. Ctrl-C or SIGTERM forwards SIGTERM to the
running points (they checkpoint and exit) and stops the sweep; a second Ctrl-C kills them outright.

Multi-host (a TPU pod slice, several GPU hosts): every host runs the same sweep command with ``--multihost``
and the same ``--sweep_id`` (``scripts/launch.py --sweep`` does both). Each host walks the points in the same
order, one at a time, and runs each as ``bigjax.main --multihost`` together with the other hosts; logs go to
``ROOT/<name>/sweep.<host>.log``. ``flock`` means nothing across hosts (nor on a bucket mounted with gcsfuse),
so the root is claimed by a lease instead: ``ROOT/sweep.lease.json`` names the sweep id and is renewed every
``ttl/4`` seconds; another sweep id finds it fresh and is refused (exit 3), a lease not renewed for ``ttl``
seconds (its hosts died) is taken over. The hosts of one sweep share the lease.

Exit codes: 0 every point done; 1 some point failed or is unfinished; 2 bad sweep or command line (including
a different sweep already in the root); 3 another sweep holds the root; 128+signal when interrupted.
"""

import argparse
import contextlib
import dataclasses
import fcntl
import hashlib
import itertools
import json
import os
import pathlib
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any, Sequence

from bigjax import configs

Point = dict[str, Any]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_OVERRIDE = re.compile(r"^--config\.([A-Za-z0-9_.]+)=(.*)$", re.DOTALL)
_UNSAFE = re.compile(r"[^A-Za-z0-9._+=,-]")
_MAX_NAME = 200  # well under the 255 bytes most filesystems allow per path component


class SweepError(ValueError):
  """A sweep that cannot run as asked (bad definition, another sweep in the root); the message says why."""


# ============================================================================ sweep definition helpers

def sweep(key: str, values: Sequence[Any]) -> list[Point]:
  """``sweep("optim.lr", [1e-3, 3e-3])`` -> ``[{"optim.lr": 0.001}, {"optim.lr": 0.003}]``."""
  if not isinstance(key, str) or not _KEY.match(key):
    raise SweepError(f"sweep key {key!r} is not a dotted config key such as 'optim.lr'")
  if isinstance(values, (str, bytes)):
    raise SweepError(f"sweep({key!r}, ...) wants a list of values, got the string {values!r}")
  return [{key: v} for v in values]


def product(*sweeps: list[Point]) -> list[Point]:
  """Cartesian product; the last sweep varies fastest. Keys must not repeat across sweeps."""
  return [_merge(combo) for combo in itertools.product(*sweeps)]


def zip_(*sweeps: list[Point]) -> list[Point]:
  """Elementwise combination: point i merges point i of every sweep. All lengths must match."""
  lengths = [len(s) for s in sweeps]
  if len(set(lengths)) > 1:
    described = ", ".join(f"{'/'.join(_keys(s)) or '(empty)'}: {len(s)}" for s in sweeps)
    raise SweepError(f"zip_ needs sweeps of equal length; got {described}")
  return [_merge(combo) for combo in zip(*sweeps)]


def _keys(points: list[Point]) -> list[str]:
  return list(dict.fromkeys(k for p in points for k in p))


def _merge(points: Sequence[Point]) -> Point:
  merged: Point = {}
  for p in points:
    repeated = set(p) & set(merged)
    if repeated:
      raise SweepError(f"key {sorted(repeated)[0]!r} is set by two of the combined sweeps")
    merged.update(p)
  return merged


# ============================================================================ points -> names, commands

def format_value(value: Any) -> str:
  """The command-line form of a value, as ml_collections parses it: ``0.001``, ``adam``, ``(256,128)``."""
  if isinstance(value, bool):
    return str(value)
  if isinstance(value, float):
    return repr(value)  # shortest round-trip form: stable, and 1e-3 and 0.001 give the same name
  if isinstance(value, (tuple, list)):
    inner = ",".join(repr(v) if isinstance(v, str) else format_value(v) for v in value)
    return f"({inner}{',' if len(value) == 1 else ''})"
  if value is None or isinstance(value, (int, str)):
    return str(value)
  raise SweepError(f"sweep value {value!r} of type {type(value).__name__} has no command-line form; "
                   f"use bool, int, float, str, tuple or None")


def _name_value(value: Any) -> str:
  if isinstance(value, (tuple, list)):
    return "-".join(_name_value(v) for v in value) or "empty"
  return format_value(value)


def point_name(point: Point) -> str:
  """A readable, filesystem-safe, deterministic directory name: ``optim.name=adam,optim.lr=0.001,seed=0``.

  Keys keep the point's order. Characters outside ``[A-Za-z0-9._+=,-]`` become ``_``; when that loses
  information, or the name would be too long, a short hash of the exact point keeps names unique.
  """
  if not point:
    return "default"
  readable = ",".join(f"{k}={_name_value(v)}" for k, v in point.items())
  safe = _UNSAFE.sub("_", readable)
  if safe.startswith((".", "-")):
    safe = "_" + safe
  lossy = safe != readable
  if lossy or len(safe) > _MAX_NAME:
    exact = json.dumps([[k, format_value(v)] for k, v in point.items()])
    digest = hashlib.sha256(exact.encode()).hexdigest()[:8]
    safe = f"{safe[:_MAX_NAME - 9]}~{digest}"
  return safe


def point_command(config_arg: str, root: str | pathlib.Path, point: Point,
                  extra_overrides: Sequence[str] = (), main_flags: Sequence[str] = ()) -> list[str]:
  """The ``bigjax.main`` command of one point: its own workdir, its values, then the sweep-wide overrides.

  ``main_flags`` are further ``bigjax.main`` flags (``--multihost`` and the coordinator's).
  """
  overrides = [f"--config.{k}={format_value(v)}" for k, v in point.items()]
  return [sys.executable, "-m", "bigjax.main", f"--config={config_arg}",
          f"--workdir={pathlib.Path(root) / point_name(point)}", *main_flags, *overrides, *extra_overrides]


# ============================================================================ loading a sweep

def _resolve(config_arg: str) -> str:
  """``path[:variant]`` with its path as ``bigjax.configs`` finds it (as given, else in the repository), so
  every point's ``bigjax.main`` reads the file the sweep read; ``SweepError`` when there is none."""
  path, variant = configs.split(config_arg)
  try:
    file = configs.resolve(path)
  except configs.ConfigError as error:
    raise SweepError(str(error)) from None
  if file == pathlib.Path(path):  # found as given: the argument stays as written
    return config_arg
  return str(file) if variant is None else f"{file}:{variant}"


def _has_key(config: Any, key: str) -> bool:
  node = config
  for part in key.split("."):
    try:
      if part not in node:
        return False
      node = node[part]
    except TypeError:  # reached a leaf before the key ended
      return False
  return True


def load_sweep(config_arg: str) -> list[Point]:
  """The points of ``get_sweep(variant)`` in ``config_arg`` (``path[:variant]``), checked against the config.

  Raises ``SweepError`` when the file has no ``get_sweep``, a point is not a dict of known config keys, or
  two points share a name.
  """
  path, variant = configs.split(config_arg)
  module = configs.load_module(_resolve(path))
  if not hasattr(module, "get_sweep"):
    raise SweepError(f"{path} defines no get_sweep(arg=None); add one returning a list of "
                     f"{{dotted key: value}} points (see bigjax/sweep.py)")
  points = module.get_sweep(variant)
  if not isinstance(points, (list, tuple)) or not points:
    raise SweepError(f"{path}: get_sweep({variant!r}) must return a non-empty list of points, got {points!r}")
  config = module.get_config(variant) if hasattr(module, "get_config") else None
  names: dict[str, Point] = {}
  for i, point in enumerate(points):
    if not isinstance(point, dict) or not all(isinstance(k, str) and _KEY.match(k) for k in point):
      raise SweepError(f"{path}: point {i} is not a dict of dotted config keys: {point!r}")
    for key in point:
      if config is not None and not _has_key(config, key):
        raise SweepError(f"{path}: point {i} sets {key!r}, which is not a field of the config")
    name = point_name(point)
    if name in names:
      raise SweepError(f"{path}: points {names[name]!r} and {point!r} share the workdir name {name!r}")
    names[name] = point
  return list(points)


def _check_overrides(extra_overrides: Sequence[str], points: list[Point]) -> None:
  swept = {k for p in points for k in p}
  for flag in extra_overrides:
    match = _OVERRIDE.match(flag)
    if not match:
      raise SweepError(f"extra override {flag!r} is not of the form --config.KEY=VALUE")
    if match.group(1) in swept:
      raise SweepError(f"{flag} overrides {match.group(1)!r}, which the sweep itself varies")


def describe(config_arg: str, points: list[Point], extra_overrides: Sequence[str]) -> dict[str, Any]:
  """What ``sweep.json`` holds: enough to tell whether a root was made by the same sweep."""
  path, variant = configs.split(config_arg)
  described = {"config": str(pathlib.Path(path).resolve()), "variant": variant,
               "overrides": list(extra_overrides),
               "points": [{"name": point_name(p), "point": p} for p in points]}
  return json.loads(json.dumps(described))  # tuples -> lists, as they read back from the file


def resolve(config_arg: str, extra_overrides: Sequence[str] = ()) -> tuple[str, list[Point], dict[str, Any]]:
  """``(config argument as every point reads it, the points, what sweep.json holds)``; ``SweepError`` when the
  config has no valid sweep or an override sets a swept key. Also what ``scripts/launch.py slurm --sweep`` plans
  its job array from."""
  config_arg = _resolve(config_arg)
  points = load_sweep(config_arg)
  _check_overrides(extra_overrides, points)
  return config_arg, points, describe(config_arg, points, extra_overrides)


def _same_repository_config(old: Any, new: Any) -> bool:
  """Two absolute paths of one repository config, ``.../configs/NAME.py``, in two checkouts: a sweep root copied
  from one clone to another (its records kept in git, resumed elsewhere) resumes, where its points agree."""
  if not (isinstance(old, str) and isinstance(new, str)):
    return False
  a, b = pathlib.PurePath(old), pathlib.PurePath(new)
  return a.name == b.name and a.parent.name == b.parent.name == "configs"


def sweep_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
  """Human-readable differences between two ``sweep.json`` descriptions; empty when they are the same."""
  diffs = [f"{field}: {old.get(field)!r} -> {new.get(field)!r}"
           for field in ("config", "variant", "overrides") if old.get(field) != new.get(field)
           and not (field == "config" and _same_repository_config(old.get(field), new.get(field)))]
  old_points = {p["name"]: p["point"] for p in old.get("points", [])}
  new_points = {p["name"]: p["point"] for p in new.get("points", [])}
  removed = [n for n in old_points if n not in new_points]
  added = [n for n in new_points if n not in old_points]
  if removed:
    diffs.append(f"points removed: {', '.join(removed)}")
  if added:
    diffs.append(f"points added: {', '.join(added)}")
  changed = [n for n in new_points if n in old_points and old_points[n] != new_points[n]]
  if changed:
    diffs.append(f"points changed: {', '.join(changed)}")
  return diffs


# ============================================================================ running

@dataclasses.dataclass
class PointRun:
  name: str
  command: list[str]
  workdir: pathlib.Path
  log: pathlib.Path
  status: str = "pending"   # pending -> running -> done | failed | interrupted; or skipped; or not started
  exit_code: int | None = None
  wall_s: float | None = None
  process: subprocess.Popen | None = None
  started: float = 0.0


class _Stop:
  """Turns SIGINT/SIGTERM into a flag; the first forwards SIGTERM to the points, a second SIGKILL."""

  def __init__(self):
    self.signum: int | None = None
    self.count = 0
    self._previous: dict[int, Any] = {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for sig in (signal.SIGINT, signal.SIGTERM):
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def _handle(self, signum, frame):
    self.signum = self.signum or signum
    self.count += 1

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)


@dataclasses.dataclass(frozen=True)
class MultiHost:
  """This host's part in a sweep that runs every point on all hosts at once."""
  sweep_id: str
  main_flags: tuple[str, ...] = ("--multihost",)  # plus the coordinator's flags where the platform needs them
  host: str = dataclasses.field(default_factory=socket.gethostname)  # names this host's logs: p<process_id> or
                                                                     # the host name (TPU workers differ in it)


class Lease:
  """Claims a sweep root across hosts through a file on the shared storage (see the module docstring).

  ``acquire`` writes ``{sweep_id, host, renewed}`` to ``ROOT/sweep.lease.json`` unless another sweep id holds
  a lease renewed less than ``ttl_s`` ago, then waits ``settle_s`` and reads it back: of two sweeps that
  write at once, the one whose write landed last keeps the root and the other one is refused. A thread
  renews the lease every ``ttl_s / 4``; if it finds another id there (its lease expired, e.g. this host was
  suspended), ``lost`` is set and the runner stops its points.
  """

  def __init__(self, root: pathlib.Path, sweep_id: str, host: str, ttl_s: float = 120.0, settle_s: float = 2.0):
    self.path = root / "sweep.lease.json"
    self.sweep_id, self.host, self.ttl_s, self.settle_s = sweep_id, host, ttl_s, settle_s
    self.lost = threading.Event()
    self._stop = threading.Event()
    self._thread: threading.Thread | None = None

  def read(self) -> dict[str, Any] | None:
    try:
      lease = json.loads(self.path.read_text())
    except FileNotFoundError:
      return None
    except (OSError, json.JSONDecodeError):  # torn by a concurrent writer: treat as held, fresh
      return {"sweep_id": "?", "host": "?", "renewed": time.time()}
    return lease if isinstance(lease, dict) else None

  def _write(self) -> None:
    tmp = self.path.with_name(f".{self.path.name}.{self.host}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"sweep_id": self.sweep_id, "host": self.host, "renewed": time.time()}) + "\n")
    tmp.replace(self.path)

  def _held_by_other(self) -> str | None:
    """A description of a live foreign lease, or None if the root is free or ours."""
    lease = self.read()
    if lease is None or lease.get("sweep_id") == self.sweep_id:
      return None
    age = time.time() - float(lease.get("renewed", 0))
    if age >= self.ttl_s:
      return None
    return (f"sweep {lease.get('sweep_id')!r} (host {lease.get('host')}) holds {self.path}, renewed {age:.0f}s ago; "
            f"it expires {self.ttl_s:.0f}s after its hosts stop renewing it")

  def acquire(self) -> str | None:
    """None when the root is ours (lease renewal started), else why it is not."""
    holder = self._held_by_other()
    if holder:
      return holder
    self._write()
    time.sleep(self.settle_s)
    holder = self._held_by_other()
    if holder:
      return holder + " (it claimed the root at the same time as this sweep)"
    self._thread = threading.Thread(target=self._renew, name="sweep-lease", daemon=True)
    self._thread.start()
    return None

  def _renew(self) -> None:
    while not self._stop.wait(self.ttl_s / 4):
      if self._held_by_other():
        self.lost.set()
        return
      self._write()

  def release(self) -> None:
    """Stops renewing and removes the lease if it is still ours (another host of the sweep may renew it again)."""
    self._stop.set()
    if self._thread:
      self._thread.join()
    lease = self.read()
    if lease is not None and lease.get("sweep_id") == self.sweep_id and not self.lost.is_set():
      self.path.unlink(missing_ok=True)


def is_done(workdir: pathlib.Path) -> bool:
  """A point is finished when its run wrote ``results.json`` (a preempted run exits 0 without one)."""
  return (workdir / "results.json").exists()


def _print(*args) -> None:
  print(*args, flush=True)


def prepare_root(root: pathlib.Path, description: dict[str, Any]) -> None:
  """Writes ``ROOT/sweep.json`` for a new root; ``SweepError`` when the root holds a different sweep."""
  path = root / "sweep.json"
  if path.exists():
    old = json.loads(path.read_text())
    diffs = sweep_differences(old, description)
    if diffs:
      raise SweepError(f"{root} holds a different sweep (differs in: {'; '.join(diffs)}); use a new --workdir, "
                       f"or the same config, variant, points and overrides to resume")
    return
  tmp = path.with_name(f".sweep.json.{socket.gethostname()}.{os.getpid()}.tmp")  # hosts of one sweep write it at once
  tmp.write_text(json.dumps({**description, "created": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=2) + "\n")
  tmp.replace(path)


def _terminate_with_parent() -> None:
  """In the child, before exec: SIGTERM when the runner dies, even by SIGKILL (Linux ``PR_SET_PDEATHSIG``).

  An orphaned point would otherwise keep training while a rerun of the sweep starts it again in the
  same workdir; with this it checkpoints and stops, and the rerun resumes it.
  """
  if sys.platform.startswith("linux"):
    import ctypes
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _launch(run: PointRun) -> None:
  run.workdir.mkdir(parents=True, exist_ok=True)
  with open(run.log, "a") as log:
    log.write(f"=== bigjax.sweep {time.strftime('%Y-%m-%d %H:%M:%S')}: {shlex.join(run.command)}\n")
    log.flush()
    # A new session: a terminal's Ctrl-C reaches only the runner, which forwards SIGTERM (a clean checkpoint).
    run.process = subprocess.Popen(run.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, preexec_fn=_terminate_with_parent)
  run.started = time.perf_counter()
  run.status = "running"


def _finish(run: PointRun, code: int) -> None:
  run.exit_code = code
  run.wall_s = time.perf_counter() - run.started
  if code != 0:
    run.status = "failed"
  else:
    run.status = "done" if is_done(run.workdir) else "interrupted"  # 0 without results: preempted, saved
  run.process = None


def _summary(runs: list[PointRun]) -> str:
  rows = [("point", "status", "exit", "wall", "log")]
  for r in runs:
    status = "skipped (done before)" if r.status == "skipped" else r.status
    rows.append((r.name, status, "" if r.exit_code is None else str(r.exit_code),
                 "" if r.wall_s is None else f"{r.wall_s:.1f}s", str(r.log) if r.log.exists() else "-"))
  widths = [max(len(row[i]) for row in rows) for i in range(4)]
  lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + "  " + row[4] for row in rows]
  lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 3)
  return "\n".join(lines)


def _last_line(log: pathlib.Path) -> str:
  try:
    lines = [l for l in log.read_text(errors="replace").splitlines() if l.strip()]
  except OSError:
    return ""
  return lines[-1].strip() if lines else ""


def run_sweep(config_arg: str, root: str | pathlib.Path, parallel: int = 1,
              extra_overrides: Sequence[str] = (), dry_run: bool = False, poll_s: float = 0.2,
              multihost: MultiHost | None = None, lease_ttl_s: float = 120.0, lease_settle_s: float = 2.0) -> int:
  """Runs every point of the sweep in ``config_arg`` under ``root``, ``parallel`` at a time; returns the exit code.

  See the module docstring for the exit codes. ``dry_run`` prints the commands of the points still to run
  (one per line, shell-quoted) and touches nothing. With ``multihost`` this host runs its part of every
  point together with the other hosts, one point at a time, under a lease instead of a lock.
  """
  root = pathlib.Path(root)
  try:
    if parallel < 1:
      raise SweepError(f"--parallel={parallel} must be >= 1")
    if multihost and parallel != 1:
      raise SweepError(f"--parallel={parallel} with --multihost: every point uses all hosts, so points run "
                       f"one at a time (--parallel=1)")
    config_arg, points, description = resolve(config_arg, extra_overrides)
  except SweepError as error:
    _print(f"bigjax.sweep: error: {error}")
    return EXIT_USAGE

  main_flags = multihost.main_flags if multihost else ()
  log_name = f"sweep.{multihost.host}.log" if multihost else "sweep.log"
  runs = []
  for point in points:
    workdir = root / point_name(point)
    runs.append(PointRun(point_name(point), point_command(config_arg, root, point, extra_overrides, main_flags),
                         workdir, workdir / log_name))

  if dry_run:
    if (root / "sweep.json").exists():
      diffs = sweep_differences(json.loads((root / "sweep.json").read_text()), description)
      if diffs:
        _print(f"bigjax.sweep: error: {root} holds a different sweep (differs in: {'; '.join(diffs)})")
        return EXIT_USAGE
    for run in runs:
      if is_done(run.workdir):
        print(f"# done before: {run.name}", file=sys.stderr)
      else:
        _print(shlex.join(run.command))
    return 0

  root.mkdir(parents=True, exist_ok=True)
  with contextlib.ExitStack() as claim:
    if multihost:  # the hosts of this sweep share the root; flock would shut them out of each other on NFS
      lease = Lease(root, multihost.sweep_id, multihost.host, lease_ttl_s, lease_settle_s)
      holder = lease.acquire()
      if holder:
        _print(f"bigjax.sweep: error: another sweep is running in {root}: {holder}")
        return EXIT_LOCKED
      claim.callback(lease.release)
    else:
      lease = None
      lock = claim.enter_context(open(root / ".sweep.lock", "w"))
      try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
      except BlockingIOError:
        _print(f"bigjax.sweep: error: another sweep is running in {root} (it holds {root / '.sweep.lock'}); "
               f"wait for it to finish or use another --workdir")
        return EXIT_LOCKED
    try:
      prepare_root(root, description)
    except SweepError as error:
      _print(f"bigjax.sweep: error: {error}")
      return EXIT_USAGE
    return _execute(runs, root, parallel, poll_s, lease)


def _execute(runs: list[PointRun], root: pathlib.Path, parallel: int, poll_s: float, lease: Lease | None) -> int:
  for run in runs:
    if is_done(run.workdir):
      run.status = "skipped"
  todo = [r for r in runs if r.status == "pending"]
  _print(f"bigjax.sweep: {len(runs)} points in {root}: {len(runs) - len(todo)} done before, "
         f"{len(todo)} to run, {parallel} at a time")
  running: list[PointRun] = []
  forwarded = 0
  with _Stop() as stop:
    while todo or running:
      if lease and lease.lost.is_set() and stop.signum is None:
        _print(f"bigjax.sweep: lost the lease on {root} to {lease.read()}; stopping this host's points")
        stop.signum, stop.count = signal.SIGTERM, 1
      if stop.count > forwarded:  # forward each new signal: SIGTERM first (checkpoint), then SIGKILL
        sig = signal.SIGTERM if forwarded == 0 else signal.SIGKILL
        if forwarded == 0:
          _print(f"bigjax.sweep: {signal.Signals(stop.signum).name}: asking {len(running)} running point(s) to "
                 f"checkpoint and stop; signal again to kill them")
        for run in running:
          try:
            run.process.send_signal(sig)
          except ProcessLookupError:
            pass
        forwarded = stop.count
      while todo and len(running) < parallel and stop.signum is None:
        run = todo.pop(0)
        _launch(run)
        running.append(run)
        _print(f"bigjax.sweep: started {run.name}  (log: {run.log})")
      time.sleep(poll_s)
      for run in list(running):
        code = run.process.poll()
        if code is not None:
          _finish(run, code)
          running.remove(run)
          _print(f"bigjax.sweep: {run.status} {run.name}  (exit {code}, {run.wall_s:.1f}s)")
      if stop.signum is not None and not running:
        break
  for run in todo:
    run.status = "not started"

  _print("\n" + _summary(runs))
  failed = [r for r in runs if r.status == "failed"]
  for run in failed:
    _print(f"failed: {run.name}: {_last_line(run.log)}\n        full log: {run.log}")
  if stop.signum is not None:
    _print(f"bigjax.sweep: interrupted; rerun the same command to finish the remaining points")
    return 128 + stop.signum
  unfinished = [r for r in runs if r.status == "interrupted"]
  if unfinished:
    _print(f"bigjax.sweep: {len(unfinished)} point(s) stopped without results (preempted); rerun to resume them")
  return EXIT_FAILED if failed or unfinished else 0


# ============================================================================ command line

def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
  """Our flags, plus the ``--config.KEY=VALUE`` pass-throughs (returned in order)."""
  parser = argparse.ArgumentParser(prog="python -m bigjax.sweep", description=__doc__.split("\n\n")[0],
                                   epilog="Extra --config.KEY=VALUE flags apply to every point.")
  parser.add_argument("--config", required=True, help="config file[:variant] that defines get_sweep")
  parser.add_argument("--workdir", required=True, help="sweep root; each point runs in ROOT/<point name>")
  parser.add_argument("--parallel", type=int, default=1, help="how many points run at once")
  parser.add_argument("--dry-run", "--dry_run", action="store_true", help="print the commands, run nothing")
  group = parser.add_argument_group("multi-host (every host runs the same command)")
  group.add_argument("--multihost", action="store_true", help="run each point on all hosts with bigjax.main --multihost")
  group.add_argument("--sweep_id", "--sweep-id", default=None,
                     help="the same on every host of one sweep (a fresh one per launch); required with --multihost")
  group.add_argument("--coordinator_address", default=None, help="HOST:PORT of process 0, passed to every point")
  group.add_argument("--num_processes", type=int, default=None, help="passed to every point")
  group.add_argument("--process_id", type=int, default=None, help="this host's index, passed to every point")
  args, rest = parser.parse_known_args(list(argv))
  bad = [a for a in rest if not _OVERRIDE.match(a)]
  if bad:
    parser.error(f"unrecognized arguments: {' '.join(bad)} (config overrides take the form --config.KEY=VALUE)")
  return args, rest


def main(argv: Sequence[str] | None = None) -> int:
  args, overrides = parse_args(sys.argv[1:] if argv is None else argv)
  multihost = None
  coordinator = [f"--{k}={getattr(args, k)}" for k in ("coordinator_address", "num_processes", "process_id")
                 if getattr(args, k) is not None]
  if coordinator and not args.multihost:
    _print(f"bigjax.sweep: error: {' '.join(coordinator)} only make sense with --multihost")
    return EXIT_USAGE
  if args.multihost:
    if not args.sweep_id:
      _print("bigjax.sweep: error: --multihost needs --sweep_id=ID, the same on every host and new for each "
             "launch (scripts/launch.py --sweep makes one)")
      return EXIT_USAGE
    host = f"p{args.process_id}" if args.process_id is not None else socket.gethostname()
    multihost = MultiHost(args.sweep_id, ("--multihost", *coordinator), _UNSAFE.sub("_", host))
  try:
    return run_sweep(args.config, args.workdir, args.parallel, overrides, dry_run=args.dry_run, multihost=multihost)
  except BrokenPipeError:  # `--dry-run | head`: the reader has all it wants
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes at exit
    return 0


if __name__ == "__main__":
  sys.exit(main())
