#!/usr/bin/env bash
# A one-node Slurm cluster on this machine for tests/test_sweep_slurm.c:
#   tests/slurm_local.sh start DIR   munged, slurmctld and slurmd with their
#                                    config, state, spool and logs under DIR;
#                                    prints SLURM_CONF=DIR/slurm.conf
#   tests/slurm_local.sh stop DIR    stops the daemons started in DIR
# It needs root and Debian's slurmctld, slurmd, slurm-client and munge
# (make test-deps), and DIR's parents open to user munge; start says why on
# stderr and exits 1 when it cannot.
set -u
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

stop() {
  for f in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
  done
  for _ in $(seq 50); do
    alive=0
    for f in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
      [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && alive=1
    done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
  for f in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
  done
  return 0
}

if [ "$cmd" = stop ]; then
  stop
  exit 0
fi

fail() {
  echo "$*" >&2
  stop
  exit 1
}

[ "$(id -u)" = 0 ] || fail "not root (the daemons run as root, munged as user munge)"
for p in munged slurmctld slurmd sbatch squeue scontrol; do
  command -v $p >/dev/null || [ -x /usr/sbin/$p ] ||
    fail "$p is not installed (make test-deps installs slurmctld slurmd slurm-client munge)"
done
id munge >/dev/null 2>&1 || fail "no user munge (Debian's munge package creates it)"
[ -r /etc/munge/munge.key ] || fail "no /etc/munge/munge.key (Debian's munge package creates it)"

host=$(hostname -s)
# ports of this cluster only, so that a real Slurm on the machine is left alone
port=$((20000 + ($$ % 5000) * 2))
mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log" || fail "cannot create $dir"
chmod 755 "$dir"
chown munge:munge "$dir/munge" && chmod 711 "$dir/munge" || fail "cannot hand $dir/munge to munge"
cat >"$dir/slurm.conf" <<EOF
ClusterName=dnltest
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CryptoType=crypto/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$dir/slurm.conf
munged=$(command -v munged || echo /usr/sbin/munged)
runuser -u munge -- "$munged" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
  --seed-file="$dir/munge/munged.seed" 2>"$dir/log/munged.err" ||
  fail "munged did not start: $(cat "$dir/log/munged.err")"
$(command -v slurmctld || echo /usr/sbin/slurmctld) 2>"$dir/log/slurmctld.err" ||
  fail "slurmctld did not start: $(tail -n 3 "$dir/log/slurmctld.err" "$dir/log/slurmctld.log" 2>/dev/null)"
$(command -v slurmd || echo /usr/sbin/slurmd) 2>"$dir/log/slurmd.err" ||
  fail "slurmd did not start: $(tail -n 3 "$dir/log/slurmd.err" "$dir/log/slurmd.log" 2>/dev/null)"
for _ in $(seq 100); do
  if sinfo -h -o '%t' 2>/dev/null | grep -q idle; then
    echo "SLURM_CONF=$dir/slurm.conf"
    exit 0
  fi
  sleep 0.1
done
fail "the node did not become idle within 10 s: $(sinfo 2>&1 | tail -n 2; tail -n 3 "$dir/log/slurmd.log" 2>/dev/null)"
