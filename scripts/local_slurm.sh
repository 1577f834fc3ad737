#!/usr/bin/env bash
# A real one-node Slurm cluster on 127.0.0.1: munged, slurmctld and slurmd from Debian's slurm-wlm and munge,
# all as root, state and logs in one folder. For tests (tests/test_slurm.py) and for trying
# `scripts/launch.py slurm` on one machine; nothing here is needed on a real cluster.
#
#   scripts/local_slurm.sh install        # apt-get install slurm-wlm munge (where missing)
#   eval "$(scripts/local_slurm.sh start)"  # start the daemons; prints `export SLURM_CONF=...` for the clients
#   scripts/local_slurm.sh stop
#
# The folder is $BIGJAX_SLURM_DIR (default /tmp/bigjax-slurm). The node is called `localhost`, so the first
# node of a job's SLURM_STEP_NODELIST (where jax.distributed puts its coordinator) resolves to 127.0.0.1. It
# offers $BIGJAX_SLURM_CPUS CPUs (default 4, more than a 2-core machine has: `SlurmdParameters=config_overrides`
# lets a 2-task job and two points of an array sweep share the cores, as processes share them anyway).
# Exit status: 0 on success; 2 on bad use (unknown command, not root, binaries missing), naming what is wrong.
set -euo pipefail

DIR=${BIGJAX_SLURM_DIR:-/tmp/bigjax-slurm}
CPUS=${BIGJAX_SLURM_CPUS:-4}
CONF=$DIR/slurm.conf

die() { echo "local_slurm.sh: $*" >&2; exit 2; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (munged and slurmd manage other users' processes)"; }

install() {
  need_root
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q slurm-wlm munge >/dev/null 2>&1 || {
    apt-get update -q >/dev/null && apt-get install -y -q slurm-wlm munge >/dev/null
  } || die "apt-get install slurm-wlm munge failed"
}

write_conf() {  # rewritten only when it changes: the running daemons read it
  mkdir -p "$DIR/state" "$DIR/spool"
  cat >"$CONF.new" <<EOF
# Written by scripts/local_slurm.sh: one node on 127.0.0.1, everything as root.
ClusterName=bigjax
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# A requeued job may start again once its first attempt's job credential expires: 30 s, not Slurm's 120.
AuthInfo=cred_expire=30
CryptoType=crypto/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
JobRequeue=1
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MinJobAge=600
KillWait=30
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  if cmp -s "$CONF.new" "$CONF"; then rm "$CONF.new"; else mv "$CONF.new" "$CONF"; fi
}

start() {
  need_root
  for b in munged slurmctld slurmd sinfo; do command -v "$b" >/dev/null || die "$b not found: run '$0 install'"; done
  mkdir -p "$DIR"
  exec 9>"$DIR/start.lock"  # two test processes starting it at once: one starts it, the other finds it running
  flock 9
  write_conf
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=128 status=none
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  fi
  # The daemons get the lock's descriptor closed (9>&-): one that inherited it would hold the lock for its whole
  # life, and every later start would wait on it forever.
  pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged 9>&-
  export SLURM_CONF=$CONF
  pgrep -x slurmctld >/dev/null || slurmctld -f "$CONF" 9>&-
  pgrep -x slurmd >/dev/null || slurmd -f "$CONF" -N localhost 9>&-
  for _ in $(seq 60); do  # the node registers within a few seconds
    state=$(sinfo -h -N -n localhost -o %T 2>/dev/null || true)
    case "$state" in idle*|mixed*|allocated*) echo "export SLURM_CONF=$CONF"; return 0 ;; esac
    sleep 1
  done
  die "the node did not come up (state '${state:-none}'); see $DIR/slurmctld.log and $DIR/slurmd.log"
}

stop() {
  need_root
  pkill -x slurmd || true
  pkill -x slurmctld || true
  # (pgrep -x matches a name of at most 15 characters: one pattern per daemon)
  for _ in $(seq 20); do pgrep -x slurmd >/dev/null || pgrep -x slurmctld >/dev/null || break; sleep 0.5; done
  rm -rf "$DIR/state" "$DIR/spool"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) die "usage: $0 install|start|stop (got '${1:-}')" ;;
esac
