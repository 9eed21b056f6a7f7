#!/usr/bin/env bash
# cpu-mode.sh MODE: switch the running local cloud's compute host to COMPUTE_CPU_MODE=MODE
# (none | split | pernode | dedicated; see cloud.env), wait until placement shows the VCPU and PCPU
# inventories that mode gives and nova-compute is up again, and rewrite
# $NUMA_CLOUD_STATE/harness.yaml to match.
#
# Pinned guests need PCPU inventory (split or pernode), while the seed scenarios need shared
# CPUs on both nodes (none): `make conformance` runs the pinning fixtures in between. The
# host must have no servers (Nova refuses to change CPU sets under running guests).
#
# COMPUTE_SMP_THREADS (default 2) also sets the compute VM's thread siblings: 2 gives two
# cores of two threads per node, 1 four single-thread sockets (what
# hw:cpu_thread_policy=isolate needs: placement forbids HW_CPU_HYPERTHREADING for it). A change
# of threads restarts the whole compute VM (its CPUs are fixed at boot); placement's
# HW_CPU_HYPERTHREADING trait tells which the running VM has.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cloud.env
. "$HERE/cloud.env"
say() { echo "cpu-mode: $*"; }
die() { echo "cpu-mode: ERROR: $*" >&2; exit 1; }

mode=${1:-}
case $mode in
  none) want_vcpu=4 want_pcpu=0 ;;
  split | pernode) want_vcpu=2 want_pcpu=2 ;;
  dedicated) want_vcpu=0 want_pcpu=4 ;;
  *) die "usage: cpu-mode.sh none|split|pernode|dedicated (got '${mode}')" ;;
esac
: "${COMPUTE_SMP_THREADS:=2}"
case $COMPUTE_SMP_THREADS in
  1) want_ht=no ;;
  2) want_ht=yes ;;
  *) die "COMPUTE_SMP_THREADS must be 1 or 2 (got '$COMPUTE_SMP_THREADS')" ;;
esac
: "${CPU_MODE_TIMEOUT:=300}"
use_local_cloud
start=$EPOCHREALTIME

servers=$(openstack server list --all-projects --host "$COMPUTE_HOST" -f value -c ID -c Name 2>&1) ||
  die "cannot list the servers on $COMPUTE_HOST: $servers"
[ -z "$servers" ] || die "$COMPUTE_HOST still has servers; delete them first (numa-conformance sweep):"$'\n'"$servers"

rp=$(openstack resource provider list --name "$COMPUTE_HOST" -f value -c uuid) ||
  die "no resource provider named $COMPUTE_HOST"
inventory() { openstack resource provider inventory list "$rp" -f value -c resource_class -c total 2>/dev/null; }
total() { awk -v c="$1" '$1 == c { print $2 }' <<<"$2"; }

hyperthreading() { # does placement show the HW_CPU_HYPERTHREADING trait? yes | no
  local traits
  traits=$(openstack --os-placement-api-version 1.6 resource provider trait list "$rp" -f value 2>/dev/null) || return 1
  if grep -qx HW_CPU_HYPERTHREADING <<<"$traits"; then echo yes; else echo no; fi
}
matches() { # placement's totals are the mode's (an absent class counts as 0), the trait the threads'
  local inv vcpu pcpu ht
  inv=$(inventory)
  vcpu=$(total VCPU "$inv") pcpu=$(total PCPU "$inv")
  ht=$(hyperthreading) || ht=unknown
  seen="VCPU ${vcpu:-0} PCPU ${pcpu:-0} HW_CPU_HYPERTHREADING $ht"
  [ "${vcpu:-0}" = "$want_vcpu" ] && [ "${pcpu:-0}" = "$want_pcpu" ] && [ "$ht" = "$want_ht" ]
}
seen="" SERVICE_SEEN=""
# split and pernode have the same totals: only "none" is recognised from placement (and a
# restart is cheap next to a wrong CPU set).
if [ "$mode" = none ] && matches; then
  say "already in mode $mode (VCPU $want_vcpu, PCPU $want_pcpu, $COMPUTE_SMP_THREADS threads per core)"
else
  restarted=$(date -u +%FT%T)
  if [ "$(hyperthreading)" = "$want_ht" ]; then
    COMPUTE_CPU_MODE=$mode bash "$HERE/compute-vm.sh" restart-nova
  else
    say "restarting the compute VM with $COMPUTE_SMP_THREADS threads per core"
    bash "$HERE/compute-vm.sh" down
    COMPUTE_CPU_MODE=$mode COMPUTE_SMP_THREADS=$COMPUTE_SMP_THREADS bash "$HERE/compute-vm.sh" up
  fi
  deadline=$(($(date +%s) + CPU_MODE_TIMEOUT))
  until matches; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      die "after ${CPU_MODE_TIMEOUT}s placement shows $seen for $COMPUTE_HOST, want VCPU $want_vcpu PCPU $want_pcpu HW_CPU_HYPERTHREADING $want_ht (see: compute-vm.sh logs)"
    fi
    sleep 5
  done
  until compute_service_up_since "$COMPUTE_HOST" "$restarted"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      die "after ${CPU_MODE_TIMEOUT}s nova-compute on $COMPUTE_HOST has sent no heartbeat since its restart at $restarted UTC (status, state, last heartbeat: ${SERVICE_SEEN:-not listed}; see: compute-vm.sh logs)"
    fi
    sleep 2
  done
fi
COMPUTE_CPU_MODE=$mode write_harness_config
awk -v s="$start" -v e="$EPOCHREALTIME" -v m="$mode" -v t="$COMPUTE_SMP_THREADS" 'BEGIN { printf "cpu-mode: %s, %s threads per core (placement as expected, nova-compute up) in %.1fs\n", m, t, e - s }'
