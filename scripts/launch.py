"""Launch `bigjax.main` on a TPU VM pod slice, on a set of GPU hosts, as a Slurm job or a Kubernetes Job.

For TPU and GPU hosts the launcher only builds command lines; each host then runs the same
`python3 -m bigjax.main --config=... --workdir=... --multihost` (GPU hosts also
get `--coordinator_address/--num_processes/--process_id`, which TPU VMs detect
by themselves). `--dry-run` prints every command, shell-quoted so that it can be
pasted, one per line on stdout, and runs nothing; what the launcher derived (worker
counts, warnings) goes to stderr so stdout stays exactly the commands.

Examples:

  # Create a v4-32 slice (4 workers), install the repo on every worker, train:
  python scripts/launch.py tpu --name=my-v4 --zone=us-central2-b --accelerator-type=v4-32 \\
      --create --setup --repo-url=https://github.com/ME/bigjax.git \\
      --config=configs/lm1b.py --workdir=gs://my-bucket/runs/lm1b --config.optim.lr=3e-4

  # See what would run, without running it:
  python scripts/launch.py tpu --name=my-v4 --zone=us-central2-b --accelerator-type=v4-32 \\
      --config=configs/lm1b.py --workdir=gs://my-bucket/runs/lm1b --dry-run

  # Two GPU hosts; the first one is the coordinator (gpu1:1234):
  python scripts/launch.py gpu --hosts=gpu1,gpu2 --gpus-per-host=8 \\
      --config=configs/lm1b.py --workdir=/nfs/runs/lm1b --dry-run

  # A Slurm cluster: 2 nodes x 4 GPUs, one process per GPU, requeued when preempted or at the time limit:
  python scripts/launch.py slurm --nodes=2 --gpus-per-node=4 --time=04:00:00 --requeue \\
      --config=configs/lm1b.py --workdir=/shared/runs/lm1b --dry-run

  # The config's sweep as a Slurm job array, one point per array task, finished points skipped:
  python scripts/launch.py slurm --sweep --gpus-per-node=1 --config=configs/mnist_cnn.py \\
      --workdir=/shared/runs/mnist_sweep

Slurm: the batch script runs `srun` with one task per GPU (`--tasks-per-node`, default `--gpus-per-node`, or
1 without GPUs); each task sees only its own GPUs (`CUDA_VISIBLE_DEVICES` from its `SLURM_LOCALID`) and runs
`python -m bigjax.main ... --multihost`, which leaves coordinator, process count and id to jax's Slurm
detection (`jax.distributed.initialize()`). `--requeue` adds `#SBATCH --requeue` and `--signal=TERM@S`: S
seconds before the time limit (or when `scancel --signal=TERM` asks) every task saves a checkpoint at the
next step boundary and exits 0; the script then finds no `results.json` and requeues its job, which resumes
from that checkpoint. The workdir (a shared filesystem) holds the batch script and the job logs under
`slurm/`. Submitting prints the job id on stdout; `--dry-run` prints the batch script and submits nothing.
`scripts/local_slurm.sh` starts a real one-node Slurm on 127.0.0.1 to try this on (tests/test_slurm.py).

Kubernetes: `k8s` writes an Indexed Job (`--processes` pods, one bigjax process each) and a headless Service
of the same name, so pod i is `NAME-i.NAME` and pod 0 coordinates; `--dry-run` prints the YAML, otherwise it
goes to `kubectl apply -f -`. The workdir lives on a shared volume (`--pvc`, mounted at `--mount-path`).
A pod stopped early (evicted, its node drained or preempted: SIGTERM) saves a checkpoint and exits 75
(`--preempted_exit_code`), not 0, which the Job would count as finished; the Job's pod failure policy ignores
exit 75 and a DisruptionTarget condition (no `--backoff-limit` spent) and starts a pod of the same index,
which resumes from the checkpoint. With several pods, all of them stop at the same step (bigjax.train).

  python scripts/launch.py k8s --name=mnist-cnn --image=ghcr.io/me/bigjax:1 --processes=2 \\
      --gpus-per-process=8 --pvc=runs --config=configs/mnist_cnn.py --workdir=/shared/runs/cnn --dry-run

Assumptions about TPU names (Cloud TPU docs, `--accelerator-type`):
  * v2-N, v3-N, v4-N, v5p-N: N counts TensorCores. Each chip has 2 TensorCores
    and each host 4 chips, so a host is 8 TensorCores: v4-8 is 1 host, v4-32 is 4.
  * v5litepod-N (v5e) and v6e-N: N counts chips. Slices of up to 8 chips are a
    single host (v5litepod-8 is one VM with 8 chips); larger slices have 4 chips
    per host: v5litepod-16 is 4 hosts, v6e-256 is 64.
A single-host slice runs without `--multihost`: there is nothing to coordinate.

Workdirs: bigjax reads and writes its workdir through the filesystem. A `gs://BUCKET/PATH` workdir is
mounted with Cloud Storage FUSE on every host (`gcsfuse --implicit-dirs BUCKET /tmp/bigjax-gcs/BUCKET`,
installed by `--setup` where missing) and the run sees `/tmp/bigjax-gcs/BUCKET/PATH`; any other
filesystem shared by all hosts (NFS, Filestore) is passed as a plain path with `--shared-workdir`.

Sweeps: `--sweep` runs the config's `get_sweep` (`python -m bigjax.sweep`) instead of one run. On several
hosts every host runs the same sweep command with `--multihost` and one `--sweep_id` made per launch; each
point then trains on all hosts at once, one point after the other, and the sweep claims its root with a
lease file that works on a bucket (see bigjax/sweep.py).
The default `--runtime-version` is `tpu-ubuntu2204-base` (v2-v4); v5e, v5p and
v6e want their own images (e.g. `v2-alpha-tpuv5-lite`, `v2-alpha-tpuv6e`).
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# family -> (what N counts, N per host).
_TPU_FAMILIES = {
    "v2": ("TensorCores", 8),
    "v3": ("TensorCores", 8),
    "v4": ("TensorCores", 8),
    "v5p": ("TensorCores", 8),
    "v5litepod": ("chips", 4),
    "v6e": ("chips", 4),
}
_MAX_SINGLE_HOST_CHIPS = 8  # v5litepod-8 / v6e-8: one VM holding 8 chips.
GCS_MOUNT_ROOT = "/tmp/bigjax-gcs"  # writable without root on every host; one mount point per bucket
# Cloud Storage FUSE from Google's apt repository, as its install guide describes, only where it is missing.
_INSTALL_GCSFUSE = (
    "command -v gcsfuse >/dev/null || { "
    "echo \"deb https://packages.cloud.google.com/apt gcsfuse-$(lsb_release -c -s) main\" "
    "| sudo tee /etc/apt/sources.list.d/gcsfuse.list >/dev/null && "
    "curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg | sudo apt-key add - && "
    "sudo apt-get update -q && sudo apt-get install -y -q gcsfuse; }")


class LaunchError(ValueError):
  """Bad launcher input; the message says what to change."""


# ---------------------------------------------------------------------------
# Pure command builders.
# ---------------------------------------------------------------------------


def tpu_num_workers(accelerator_type: str) -> int:
  """Number of TPU VM hosts (= processes) in a slice, e.g. 'v4-32' -> 4."""
  match = re.fullmatch(r"(v\d+[a-z]*)-(\d+)", accelerator_type.strip().lower())
  family = match and match.group(1)
  if family not in _TPU_FAMILIES:
    hint = " (v5e slices are named v5litepod-N)" if accelerator_type.startswith("v5e") else ""
    raise LaunchError(
        f"unknown TPU accelerator type {accelerator_type!r}{hint}; expected FAMILY-N with "
        f"FAMILY one of {', '.join(_TPU_FAMILIES)}, e.g. v4-32 or v5litepod-16")
  size = int(match.group(2))
  unit, per_host = _TPU_FAMILIES[family]
  if unit == "chips" and 0 < size <= _MAX_SINGLE_HOST_CHIPS:
    return 1
  if size <= 0 or size % per_host:
    raise LaunchError(
        f"invalid TPU accelerator type {accelerator_type!r}: {family}-N counts {unit}, "
        f"{per_host} per host, so N must be a positive multiple of {per_host}")
  return size // per_host


def _remote_path(path: str) -> str:
  """Shell-quotes a path for the remote shell, keeping a leading '~/' expandable."""
  if path.startswith("~/"):
    return "~/" + shlex.quote(path[2:])
  return shlex.quote(path)


def _is_remote_storage(workdir: str) -> bool:
  return "://" in workdir and not workdir.startswith("file://")


def workdir_on_host(workdir: str) -> tuple[str, str]:
  """``(shell prefix that makes the workdir reachable, the path the run uses)`` on each host.

  ``gs://B/P`` -> mount bucket B with gcsfuse (unless mounted) and use ``/tmp/bigjax-gcs/B/P``.
  """
  if not _is_remote_storage(workdir):
    return "", workdir
  match = re.fullmatch(r"gs://([a-z0-9][a-z0-9._-]{1,61}[a-z0-9])(/.*)?", workdir)
  if not match:
    raise LaunchError(
        f"--workdir={workdir}: bigjax writes its workdir through the filesystem; gs://BUCKET/PATH is mounted "
        f"with gcsfuse by this launcher, any other storage must be mounted on every host and passed as a "
        f"path with --shared-workdir")
  bucket, path = match.group(1), (match.group(2) or "/").rstrip("/")
  mount = f"{GCS_MOUNT_ROOT}/{bucket}"
  prefix = (f"mkdir -p {mount} && {{ mountpoint -q {mount} || "
            f"gcsfuse --implicit-dirs {shlex.quote(bucket)} {mount}; }} && ")
  return prefix, mount + path


def _train_command(args: argparse.Namespace, extra_flags: list[str], env: str = "") -> str:
  """`[mount &&] cd REPO && [ENV=..] python3 -m bigjax.main|bigjax.sweep ...` as one remote shell string.

  ``extra_flags`` are the multi-host flags; a sweep passes them on to each of its points.
  """
  mount, workdir = workdir_on_host(args.workdir)
  if args.sweep:
    flags = [*extra_flags, f"--sweep_id={args.sweep_id}"] if extra_flags else [f"--parallel={args.parallel}"]
    argv = [args.python, "-m", "bigjax.sweep", f"--config={args.config}", f"--workdir={workdir}", *flags,
            *args.overrides]
  else:
    argv = [args.python, "-m", "bigjax.main", f"--config={args.config}", f"--workdir={workdir}",
            *args.overrides, *extra_flags]
  return f"{mount}cd {_remote_path(args.repo_dir)} && {env}{shlex.join(argv)}"


def _check_sweep_flags(args: argparse.Namespace, hosts: int) -> None:
  args.parallel = 1 if args.parallel is None else args.parallel
  if not args.sweep and (args.parallel != 1 or args.sweep_id):
    raise LaunchError("--parallel and --sweep-id apply to sweeps only: add --sweep")
  if args.sweep and hosts > 1 and args.parallel != 1:
    raise LaunchError(f"--parallel={args.parallel}: on {hosts} hosts every sweep point uses all of them, "
                      f"so points run one at a time")
  if args.sweep and not args.sweep_id:
    args.sweep_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def preflight_command(args: argparse.Namespace) -> list[str]:
  """The local ``bigjax.preflight`` run that checks the config compiles for the target mesh (and fits)."""
  command = [sys.executable, "-m", "bigjax.preflight", f"--config={args.config}",
             f"--devices={args.preflight_devices}", *args.overrides]
  if args.device_memory_gb:
    command.append(f"--device_memory_gb={args.device_memory_gb}")
  return command


def tpu_commands(args: argparse.Namespace) -> list[list[str]]:
  """Commands for a TPU slice, in order: [create], [setup...], train on all workers."""
  workers = tpu_num_workers(args.accelerator_type)
  _check_sweep_flags(args, workers)
  if workers > 1 and not (_is_remote_storage(args.workdir) or args.shared_workdir):
    raise LaunchError(
        f"--workdir={args.workdir} is a local path, but {args.accelerator_type} has {workers} "
        f"workers that must all write checkpoint shards to the same place: use a bucket, "
        f"e.g. --workdir=gs://BUCKET/runs/NAME, or pass --shared-workdir if the path is a "
        f"filesystem mounted on every worker")
  where = ["--zone", args.zone] + (["--project", args.project] if args.project else [])
  tpu_vm = ["gcloud", "compute", "tpus", "tpu-vm"]

  def on_all_workers(remote: str) -> list[str]:
    return [*tpu_vm, "ssh", args.name, *where, "--worker=all", "--command", remote]

  commands = []
  if args.create:
    commands.append([*tpu_vm, "create", args.name, *where, "--accelerator-type",
                     args.accelerator_type, "--version", args.runtime_version])
  if args.setup:
    repo = _remote_path(args.repo_dir)
    install = f"cd {repo} && {shlex.join([args.python, '-m', 'pip', 'install', '-e', '.', 'jax[tpu]'])}"
    if workdir_on_host(args.workdir)[0]:
      install = f"{_INSTALL_GCSFUSE} && {install}"
    if args.repo_url:
      url = shlex.quote(args.repo_url)
      commands.append(on_all_workers(
          f"if [ -d {repo}/.git ]; then git -C {repo} pull --ff-only; "
          f"else git clone {url} {repo}; fi && {install}"))
    else:  # Copy the committed tree (HEAD) of this checkout to every worker.
      archive = str(Path(tempfile.gettempdir()) / f"bigjax-{args.name}.tar.gz")
      commands.append(["git", "-C", str(REPO_ROOT), "archive", "--format=tar.gz", "-o", archive, "HEAD"])
      commands.append([*tpu_vm, "scp", archive, f"{args.name}:bigjax.tar.gz", *where, "--worker=all"])
      commands.append(on_all_workers(
          f"mkdir -p {repo} && tar -xzf bigjax.tar.gz -C {repo} && {install}"))
  # TPU VMs find coordinator and process ids themselves; one host needs no distributed init.
  commands.append(on_all_workers(_train_command(args, ["--multihost"] if workers > 1 else [])))
  return commands


def gpu_commands(args: argparse.Namespace) -> list[list[str]]:
  """One ssh command per GPU host; process i runs on host i, host 0 coordinates."""
  hosts = [h.strip() for h in args.hosts.split(",") if h.strip()]
  if not hosts:
    raise LaunchError("--hosts is empty: give a comma-separated list, e.g. --hosts=gpu1,gpu2")
  if len(set(hosts)) != len(hosts):
    raise LaunchError(f"--hosts lists a host twice: {args.hosts}")
  if args.gpus_per_host is not None and args.gpus_per_host < 1:
    raise LaunchError(f"--gpus-per-host must be >= 1, got {args.gpus_per_host}")
  _check_sweep_flags(args, len(hosts))
  coordinator = args.coordinator_host or hosts[0].rsplit("@", 1)[-1]  # drop 'user@'
  ssh = shlex.split(args.ssh)
  env = ""
  if args.gpus_per_host:
    env = f"CUDA_VISIBLE_DEVICES={','.join(map(str, range(args.gpus_per_host)))} "
  commands = []
  for process_id, host in enumerate(hosts):
    flags = ["--multihost", f"--coordinator_address={coordinator}:{args.port}",
             f"--num_processes={len(hosts)}", f"--process_id={process_id}"] if len(hosts) > 1 else []
    commands.append([*ssh, host, _train_command(args, flags, env)])
  return commands


_SLURM_TIME = re.compile(r"(\d+-)?\d+(:\d{1,2}){0,2}")  # minutes, MM:SS, HH:MM:SS, D-HH[:MM[:SS]]


def _slurm_task_env(gpus_per_node: int, tasks_per_node: int) -> str:
  """The shell line each task runs first: its own share of the node's GPUs, renumbered from 0 for jax.

  jax's Slurm detection would restrict each process to device ``SLURM_LOCALID`` of the GPUs it sees; with
  ``CUDA_VISIBLE_DEVICES`` already narrowed to the task's own GPUs, ``JAX_LOCAL_DEVICE_IDS`` says they are
  devices 0..k-1 of that narrowed view.
  """
  if not gpus_per_node:
    return ""
  k = gpus_per_node // tasks_per_node
  return (f"first=$((SLURM_LOCALID * {k})); "
          f"export CUDA_VISIBLE_DEVICES=$(seq -s, $first $((first + {k - 1}))) "
          f"JAX_LOCAL_DEVICE_IDS={','.join(map(str, range(k)))}; ")


def slurm_plan(args: argparse.Namespace) -> tuple[list[tuple[str, list[str]]], int, dict | None]:
  """``([(workdir, bigjax.main argv) of each job or array task], points finished before, sweep.json or None)``.

  One run is one entry; ``--sweep`` gives one entry per point without a ``results.json``.
  """
  tasks = args.nodes * args.tasks_per_node
  multihost = ["--multihost"] if tasks > 1 else []  # jax's Slurm detection supplies the rest
  workdir = str(Path(args.workdir).expanduser().resolve())
  if not args.sweep:
    argv = [args.python, "-m", "bigjax.main", f"--config={args.config}", f"--workdir={workdir}",
            *args.overrides, *multihost]
    return [(workdir, argv)], 0, None
  sys.path.insert(0, str(REPO_ROOT))
  from bigjax import sweep  # pylint: disable=import-outside-toplevel  (only a sweep needs the package)
  try:
    config_arg, points, description = sweep.resolve(args.config, args.overrides)
  except sweep.SweepError as error:
    raise LaunchError(str(error)) from None
  old = Path(workdir) / "sweep.json"
  if old.exists():
    diffs = sweep.sweep_differences(json.loads(old.read_text()), description)
    if diffs:
      raise LaunchError(f"{workdir} holds a different sweep (differs in: {'; '.join(diffs)}); use a new "
                        f"--workdir, or the same config, variant, points and overrides to resume")
  entries, done = [], 0
  for point in points:
    argv = sweep.point_command(config_arg, workdir, point, args.overrides, multihost)
    point_dir = str(Path(workdir) / sweep.point_name(point))
    if sweep.is_done(Path(point_dir)):
      done += 1
    else:
      entries.append((point_dir, [args.python, *argv[1:]]))
  return entries, done, description


def slurm_script(args: argparse.Namespace, entries: list[tuple[str, list[str]]]) -> str:
  """The ``sbatch`` script: one job, or a job array over ``entries`` (one point per array task)."""
  logs = Path(args.workdir).expanduser().resolve() / "slurm"
  array = args.sweep
  directives = [f"--job-name={args.job_name or Path(args.config.split(':')[0]).stem}",
                f"--nodes={args.nodes}", f"--ntasks-per-node={args.tasks_per_node}"]
  if args.gpus_per_node:
    directives.append(f"--gpus-per-node={args.gpus_per_node}")
  for flag in ("cpus_per_task", "time", "partition", "account"):
    if getattr(args, flag):
      directives.append(f"--{flag.replace('_', '-')}={getattr(args, flag)}")
  directives.append(f"--output={logs}/%x-{'%A_%a' if array else '%j'}.out")
  if args.requeue:
    directives += ["--requeue", f"--signal=TERM@{args.signal_before}", "--open-mode=append"]  # keep both logs
  if array:
    limit = f"%{args.parallel}" if args.parallel else ""
    directives.append(f"--array=0-{len(entries) - 1}{limit}")
  directives += args.sbatch_arg
  lines = ["#!/bin/bash", "# Written by scripts/launch.py slurm; submit with sbatch.",
           *(f"#SBATCH {d}" for d in directives), "set -uo pipefail",
           f"cd {shlex.quote(str(Path(args.repo_dir).expanduser().resolve()))}"]
  lines += [f"export {shlex.quote(pair)}" for pair in args.env]
  lines.append('case "${SLURM_ARRAY_TASK_ID:-0}" in')
  for i, (workdir, argv) in enumerate(entries):
    lines.append(f"  {i}) WORKDIR={shlex.quote(workdir)}; ARGV=({shlex.join(argv)}) ;;")
  lines += ['  *) echo "launch: no point for array task ${SLURM_ARRAY_TASK_ID}" >&2; exit 2 ;;', "esac",
            'if [ -e "$WORKDIR/results.json" ]; then',
            '  echo "launch: $WORKDIR finished before (results.json); nothing to run"; exit 0',
            "fi",
            "srun --kill-on-bad-exit=1 bash -c "
            + shlex.quote(_slurm_task_env(args.gpus_per_node, args.tasks_per_node) + 'exec "$@"')
            + ' bigjax-task "${ARGV[@]}"',
            "status=$?"]
  if args.requeue:  # SIGTERM (time limit near, scancel --signal, preemption) made every task save and exit 0
    lines += ['if [ "$status" = 0 ] && [ ! -e "$WORKDIR/results.json" ]; then',
              '  echo "launch: stopped before the end with a checkpoint saved; requeueing job $SLURM_JOB_ID to resume"',
              '  scontrol requeue "$SLURM_JOB_ID"',
              "fi"]
  lines.append('exit "$status"')
  return "\n".join(lines) + "\n"


def _check_env(pairs: list[str]) -> None:
  for pair in pairs:
    if not re.fullmatch(r"[A-Za-z_]\w*=.*", pair, flags=re.DOTALL):
      raise LaunchError(f"--env={pair} is not NAME=VALUE")


def check_slurm_args(args: argparse.Namespace) -> None:
  for flag in ("nodes", "signal_before"):
    if getattr(args, flag) < 1:
      raise LaunchError(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
  if args.gpus_per_node < 0:
    raise LaunchError(f"--gpus-per-node must be >= 0, got {args.gpus_per_node}")
  if args.tasks_per_node is None:
    args.tasks_per_node = args.gpus_per_node or 1
  if args.tasks_per_node < 1:
    raise LaunchError(f"--tasks-per-node must be >= 1, got {args.tasks_per_node}")
  if args.gpus_per_node and args.gpus_per_node % args.tasks_per_node:
    raise LaunchError(f"--gpus-per-node={args.gpus_per_node} cannot be shared evenly by "
                      f"--tasks-per-node={args.tasks_per_node} processes")
  if args.time and not _SLURM_TIME.fullmatch(args.time):
    raise LaunchError(f"--time={args.time} is not a Slurm time limit (MM, HH:MM:SS or D-HH:MM:SS)")
  if args.parallel is not None and not args.sweep:
    raise LaunchError("--parallel applies to sweeps only: add --sweep")
  if args.parallel is not None and args.parallel < 1:
    raise LaunchError(f"--parallel must be >= 1, got {args.parallel}")
  _check_env(args.env)
  if not Path(args.repo_dir).expanduser().is_dir():
    raise LaunchError(f"--repo-dir={args.repo_dir} is not a directory here; the batch script runs from the "
                      f"repository on the shared filesystem")


def submit_slurm(args: argparse.Namespace) -> int:
  """Writes the batch script under WORKDIR/slurm/ and submits it; prints the job id."""
  check_slurm_args(args)
  entries, done, description = slurm_plan(args)
  what = f"{args.nodes} node{'s' * (args.nodes > 1)} x {args.tasks_per_node} task{'s' * (args.tasks_per_node > 1)}"
  if args.sweep:
    print(f"launch: sweep of {len(entries) + done} points, {done} finished before, {len(entries)} to run as a "
          f"job array; each point {what}", file=sys.stderr)
    if not entries:
      print("launch: every point is finished; nothing submitted", file=sys.stderr)
      return 0
  else:
    print(f"launch: one job, {what}", file=sys.stderr)
  script = slurm_script(args, entries)
  if args.dry_run:
    print(script, end="")
    return 0
  root = Path(args.workdir).expanduser().resolve()
  (root / "slurm").mkdir(parents=True, exist_ok=True)
  if description is not None:
    from bigjax import sweep  # pylint: disable=import-outside-toplevel  (slurm_plan put the repo on the path)
    try:
      sweep.prepare_root(root, description)
    except sweep.SweepError as error:
      raise LaunchError(str(error)) from None
  path = root / "slurm" / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}.sbatch"
  path.write_text(script)
  proc = subprocess.run([args.sbatch, "--parsable", str(path)], capture_output=True, text=True, check=False)
  if proc.returncode:
    print(f"launch: {args.sbatch} failed (exit {proc.returncode}): {proc.stderr.strip()}", file=sys.stderr)
    return proc.returncode
  job_id = proc.stdout.strip().split(";")[0]
  print(f"launch: submitted {path} as job {job_id}; logs in {root / 'slurm'}", file=sys.stderr)
  print(job_id)
  return 0


_K8S_NAME = re.compile(r"[a-z]([-a-z0-9]{0,50}[a-z0-9])?")  # a DNS label, short enough for NAME-INDEX pods
K8S_COORDINATOR_PORT = 1234
K8S_PREEMPTED_EXIT = 75  # EX_TEMPFAIL: stopped early with a checkpoint saved; the Job restarts the pod


def k8s_manifest(args: argparse.Namespace) -> list[dict]:
  """``[headless Service, Indexed Job]`` for ``args.processes`` pods, one bigjax process each.

  Pod i of an Indexed Job is named ``NAME-i`` and, with ``subdomain: NAME`` and the headless Service NAME,
  reachable at ``NAME-i.NAME``: process 0 coordinates at ``NAME-0.NAME:PORT``. Each pod gets its process id from
  its completion index (downward API) and passes coordinator, count and id to ``bigjax.main`` explicitly, so
  nothing needs the Kubernetes API (jax's own Kubernetes detection reads pods through it, which needs the
  ``kubernetes`` package and a service account allowed to list pods).
  """
  name, n = args.name, args.processes
  multihost = n > 1
  env = [{"name": "JOB_COMPLETION_INDEX",
          "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}},
         {"name": "JAX_COORDINATOR_ADDRESS", "value": f"{name}-0.{name}:{args.port}"}]
  env += [{"name": key, "value": value} for key, value in (pair.split("=", 1) for pair in args.env)]
  argv = [args.python, "-m", "bigjax.main", f"--config={args.config}", f"--workdir={args.workdir}",
          f"--preempted_exit_code={K8S_PREEMPTED_EXIT}", *args.overrides]
  if multihost:
    argv += ["--multihost", "--coordinator_address=$(JAX_COORDINATOR_ADDRESS)", f"--num_processes={n}",
             "--process_id=$(JOB_COMPLETION_INDEX)"]
  container: dict = {"name": "bigjax", "image": args.image, "workingDir": args.repo_dir, "command": argv, "env": env,
                     "ports": [{"containerPort": args.port, "name": "coordinator"}]}
  if args.gpus_per_process:
    container["resources"] = {"limits": {"nvidia.com/gpu": args.gpus_per_process}}
  pod: dict = {"subdomain": name, "restartPolicy": "Never", "containers": [container]}
  if args.pvc:
    container["volumeMounts"] = [{"name": "workdir", "mountPath": args.mount_path}]
    pod["volumes"] = [{"name": "workdir", "persistentVolumeClaim": {"claimName": args.pvc}}]
  def labels() -> dict:  # a fresh dict each time: YAML would otherwise print anchors
    return {"app.kubernetes.io/name": "bigjax", "bigjax/job": name}

  # publishNotReadyAddresses: pod 0's DNS name exists as soon as the pod has an address, before it is ready.
  service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": labels()},
             "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": {"bigjax/job": name},
                      "ports": [{"name": "coordinator", "port": args.port, "targetPort": args.port}]}}
  job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "labels": labels()},
         "spec": {"completionMode": "Indexed", "completions": n, "parallelism": n,
                  "backoffLimit": args.backoff_limit,
                  # A pod that saved a checkpoint and stopped (exit 75), or that the cluster disrupted (eviction,
                  # preemption, a drained node), is replaced without spending the backoff limit; the new pod
                  # resumes. Any other failure counts.
                  "podFailurePolicy": {"rules": [
                      {"action": "Ignore",
                       "onExitCodes": {"containerName": "bigjax", "operator": "In", "values": [K8S_PREEMPTED_EXIT]}},
                      {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]},
                  "template": {"metadata": {"labels": labels()}, "spec": pod}}}
  return [service, job]


def check_k8s_args(args: argparse.Namespace) -> None:
  if not _K8S_NAME.fullmatch(args.name):
    raise LaunchError(f"--name={args.name} must be a lower-case DNS label of at most 52 characters "
                      f"(a-z, 0-9, '-'), e.g. mnist-cnn")
  for flag in ("processes", "port"):
    if getattr(args, flag) < 1:
      raise LaunchError(f"--{flag} must be >= 1, got {getattr(args, flag)}")
  if args.gpus_per_process < 0:
    raise LaunchError(f"--gpus-per-process must be >= 0, got {args.gpus_per_process}")
  if args.sweep or args.parallel is not None or args.preflight_devices:
    raise LaunchError("--sweep, --parallel and --preflight-devices are not offered for k8s; launch one Job per "
                      "point (or run the sweep inside one pod)")
  _check_env(args.env)
  if args.pvc and not (args.workdir + "/").startswith(args.mount_path.rstrip("/") + "/"):
    raise LaunchError(f"--workdir={args.workdir} is not under --mount-path={args.mount_path}, where --pvc "
                      f"{args.pvc} is mounted: the pods would write it to their own, lost, disks")
  if args.processes > 1 and not args.pvc and not _is_remote_storage(args.workdir):
    raise LaunchError(f"--workdir={args.workdir}: {args.processes} pods must share it; mount a volume with "
                      f"--pvc=CLAIM --mount-path=DIR and put the workdir under DIR")


def launch_k8s(args: argparse.Namespace) -> int:
  """Prints the manifest (``--dry-run``), or applies it with kubectl."""
  import yaml  # pylint: disable=import-outside-toplevel  (PyYAML comes with ml_collections' dependencies)
  check_k8s_args(args)
  text = yaml.safe_dump_all(k8s_manifest(args), sort_keys=False)
  print(f"launch: Indexed Job {args.name}: {args.processes} pod{'s' * (args.processes > 1)}"
        f"{f' x {args.gpus_per_process} GPUs' if args.gpus_per_process else ''}, headless Service {args.name}",
        file=sys.stderr)
  if args.dry_run:
    print(text, end="")
    return 0
  return subprocess.run([*shlex.split(args.kubectl), "apply", "-f", "-"], input=text, text=True,
                        check=False).returncode


# ---------------------------------------------------------------------------
# Command line.
# ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
  """Parses launcher flags; `--config.a.b=v` overrides land in `args.overrides`."""
  common = argparse.ArgumentParser(add_help=False)
  common.add_argument("--config", required=True, help="configs/x.py[:variant], relative to the repo")
  common.add_argument("--workdir", required=True, help="run directory, shared by all hosts")
  common.add_argument("--repo-dir", default=None,
                      help="repo on each host, relative to $HOME or absolute (default: bigjax; slurm: this "
                           "checkout, on the filesystem the nodes share)")
  common.add_argument("--python", default="python3", help="python executable on each host")
  common.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
  common.add_argument("--sweep", action="store_true",
                      help="run the config's get_sweep (python -m bigjax.sweep) instead of one run")
  common.add_argument("--sweep-id", default=None,
                      help="with --sweep on several hosts: the id all hosts share (default: a new one)")
  common.add_argument("--parallel", type=int, default=None,
                      help="with --sweep: points at a time (one host: default 1; slurm: the array's %%N limit, "
                           "default none)")
  common.add_argument("--preflight-devices", type=int, default=0,
                      help="first compile the config here for a mesh over this many devices "
                           "(python -m bigjax.preflight) and launch nothing if it fails")
  common.add_argument("--device-memory-gb", type=float, default=0.0,
                      help="with --preflight-devices: fail if the step needs more memory per device")

  parser = argparse.ArgumentParser(
      description=__doc__.split("\n\n")[0], epilog="Any --config.a.b=v flag is passed to bigjax.main.")
  sub = parser.add_subparsers(dest="platform", required=True)

  tpu = sub.add_parser("tpu", parents=[common], help="TPU VM slice via gcloud")
  tpu.add_argument("--name", required=True, help="TPU VM name")
  tpu.add_argument("--zone", required=True)
  tpu.add_argument("--project", help="GCP project (default: gcloud's)")
  tpu.add_argument("--accelerator-type", required=True, help="e.g. v4-32, v5litepod-16")
  tpu.add_argument("--create", action="store_true", help="create the TPU VM first")
  tpu.add_argument("--runtime-version", default="tpu-ubuntu2204-base", help="TPU VM image for --create")
  tpu.add_argument("--setup", action="store_true", help="install the repo and jax[tpu] on all workers")
  tpu.add_argument("--repo-url", help="git URL to clone in --setup (default: copy this checkout's HEAD)")
  tpu.add_argument("--shared-workdir", action="store_true",
                   help="accept a local --workdir path: it is a filesystem shared by all workers")

  gpu = sub.add_parser("gpu", parents=[common], help="GPU hosts via ssh, one process per host")
  gpu.add_argument("--hosts", required=True, help="comma-separated; the first is the coordinator")
  gpu.add_argument("--gpus-per-host", type=int, help="sets CUDA_VISIBLE_DEVICES=0..n-1 (default: all)")
  gpu.add_argument("--port", type=int, default=1234, help="coordinator port")
  gpu.add_argument("--coordinator-host", help="address the other hosts reach host 0 at (default: its name)")
  gpu.add_argument("--ssh", default="ssh", help="ssh command, may carry options: 'ssh -p 2222'")

  slurm = sub.add_parser("slurm", parents=[common], help="a Slurm batch job (sbatch), or a job array with --sweep")
  slurm.add_argument("--nodes", type=int, default=1)
  slurm.add_argument("--gpus-per-node", type=int, default=0, help="GPUs per node (0: CPU only)")
  slurm.add_argument("--tasks-per-node", type=int, default=None,
                     help="processes per node (default: one per GPU, or 1); each gets an equal share of the GPUs")
  slurm.add_argument("--cpus-per-task", type=int, help="#SBATCH --cpus-per-task")
  slurm.add_argument("--time", help="time limit, e.g. 04:00:00 or 1-00:00:00")
  slurm.add_argument("--partition")
  slurm.add_argument("--account")
  slurm.add_argument("--job-name", help="default: the config file's name")
  slurm.add_argument("--requeue", action="store_true",
                     help="when SIGTERM comes (time limit near, preemption, scancel --signal=TERM): save, requeue, "
                          "resume")
  slurm.add_argument("--signal-before", type=int, default=120,
                     help="with --requeue: seconds before the time limit that Slurm sends SIGTERM")
  slurm.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                     help="export in the batch script (repeatable), e.g. --env=XLA_FLAGS=...")
  slurm.add_argument("--sbatch-arg", action="append", default=[], metavar="FLAG",
                     help="a further #SBATCH line, e.g. --sbatch-arg=--mem=64G (repeatable)")
  slurm.add_argument("--sbatch", default="sbatch", help="the sbatch executable")

  k8s = sub.add_parser("k8s", parents=[common], help="a Kubernetes Indexed Job and its headless Service")
  k8s.add_argument("--name", required=True, help="Job and Service name (a DNS label)")
  k8s.add_argument("--image", required=True, help="container image holding the repository and its dependencies")
  k8s.add_argument("--processes", type=int, default=1, help="pods, one bigjax process each")
  k8s.add_argument("--gpus-per-process", type=int, default=0, help="nvidia.com/gpu limit per pod")
  k8s.add_argument("--port", type=int, default=K8S_COORDINATOR_PORT, help="coordinator port on pod 0")
  k8s.add_argument("--pvc", help="PersistentVolumeClaim shared by the pods, holding the workdir")
  k8s.add_argument("--mount-path", default="/shared", help="where --pvc is mounted in each pod")
  k8s.add_argument("--backoff-limit", type=int, default=0,
                   help="pod failures before the Job fails (a rerun resumes from the newest checkpoint); a pod "
                        "stopped early with a checkpoint saved does not count")
  k8s.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="container env (repeatable)")
  k8s.add_argument("--kubectl", default="kubectl", help="the kubectl command, may carry options")

  args, unknown = parser.parse_known_args(argv)
  bad = [a for a in unknown if not re.fullmatch(r"--config\.[\w.]+=.*", a, flags=re.DOTALL)]
  if bad:
    parser.error(f"unrecognized arguments: {' '.join(bad)} (overrides take the form --config.a.b=VALUE)")
  args.overrides = unknown
  if args.repo_dir is None:  # a Slurm login node sees the filesystem of the compute nodes
    args.repo_dir = {"slurm": str(REPO_ROOT), "k8s": "/bigjax"}.get(args.platform, "bigjax")
  return args


def _run_sequentially(commands: list[list[str]]) -> int:
  for command in commands:
    print(f"+ {shlex.join(command)}", file=sys.stderr, flush=True)
    returncode = subprocess.run(command, check=False).returncode
    if returncode:
      print(f"launch: command failed with exit code {returncode}", file=sys.stderr)
      return returncode
  return 0


def _run_concurrently(commands: list[list[str]]) -> int:
  """Starts all commands at once (each host blocks until all have joined), waits for all."""
  processes = []
  try:
    for command in commands:
      print(f"+ {shlex.join(command)}", file=sys.stderr, flush=True)
      processes.append(subprocess.Popen(command))
    codes = [p.wait() for p in processes]
  except KeyboardInterrupt:
    for p in processes:
      p.terminate()
    raise
  failed = [i for i, code in enumerate(codes) if code]
  for i in failed:
    print(f"launch: process {i} failed with exit code {codes[i]}", file=sys.stderr)
  return codes[failed[0]] if failed else 0


def main(argv: list[str] | None = None) -> int:
  args = parse_args(argv)
  try:
    if args.platform == "slurm":
      return submit_slurm(args)
    if args.platform == "k8s":
      return launch_k8s(args)
    if args.platform == "tpu":
      commands = tpu_commands(args)
      workers = tpu_num_workers(args.accelerator_type)
      print(f"launch: {args.accelerator_type} -> {workers} worker{'s' * (workers > 1)}"
            f"{'' if workers > 1 else ' (single host, no --multihost)'}", file=sys.stderr)
    else:
      commands = gpu_commands(args)
      per_host = f" x {args.gpus_per_host} GPUs" if args.gpus_per_host else ""
      print(f"launch: {len(commands)} GPU hosts{per_host}", file=sys.stderr)
      if len(commands) > 1 and not _is_remote_storage(args.workdir):
        print(f"launch: warning: --workdir={args.workdir} is a local path; all hosts must "
              f"see the same directory (shared filesystem)", file=sys.stderr)
  except LaunchError as e:
    print(f"launch.py {args.platform}: error: {e}", file=sys.stderr)
    return 2
  preflight = [preflight_command(args)] if args.preflight_devices else []
  if args.dry_run:
    for command in preflight + commands:
      print(shlex.join(command))
    return 0
  if preflight:
    print(f"launch: preflight: {shlex.join(preflight[0])}", file=sys.stderr)
    code = subprocess.run(preflight[0], cwd=REPO_ROOT).returncode
    if code:
      print(f"launch: preflight failed (exit {code}); nothing was launched", file=sys.stderr)
      return code
  return _run_sequentially(commands) if args.platform == "tpu" else _run_concurrently(commands)


if __name__ == "__main__":
  sys.exit(main())
