#!/usr/bin/env bash
# cpu-mode.sh MODE: switch the running local cloud's compute host to COMPUTE_CPU_MODE=MODE
# (none | split | pernode; see cloud.env), wait until placement shows the VCPU and PCPU
# inventories that mode gives, and rewrite $NUMA_CLOUD_STATE/harness.yaml to match.
#
# Pinned guests need PCPU inventory (split or pernode), while the seed scenarios need shared
# CPUs on both nodes (none): `make conformance` runs the pinning fixtures in between. The
# host must have no servers (Nova refuses to change CPU sets under running guests).
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
  *) die "usage: cpu-mode.sh none|split|pernode (got '${mode}')" ;;
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

matches() { # placement's totals are the mode's (an absent class counts as 0)
  local inv vcpu pcpu
  inv=$(inventory)
  vcpu=$(total VCPU "$inv") pcpu=$(total PCPU "$inv")
  seen="VCPU ${vcpu:-0} PCPU ${pcpu:-0}"
  [ "${vcpu:-0}" = "$want_vcpu" ] && [ "${pcpu:-0}" = "$want_pcpu" ]
}
# The scheduler's ComputeFilter drops a host whose nova-compute has not sent a heartbeat within
# service_down_time; nova-compute updates placement before its first heartbeat, so placement
# alone can say "ready" while every boot still ends in NoValidHost. Wait for a heartbeat the
# restarted service sent (recorded after $restarted, both in the controller's UTC clock).
service_up_since() {
  local line
  line=$(openstack compute service list --service nova-compute --host "$COMPUTE_HOST" -f value -c Status -c State -c "Updated At" 2>/dev/null) || return 1
  seen_service=$line
  read -r status state updated <<<"$line"
  [ "$status" = enabled ] && [ "$state" = up ] && [[ ${updated%%.*} > $1 ]]
}
seen="" seen_service=""
# split and pernode have the same totals: only "none" can be recognised from placement.
if [ "$mode" = none ] && matches; then
  say "already in mode $mode (VCPU $want_vcpu, PCPU $want_pcpu)"
else
  restarted=$(date -u +%FT%T)
  COMPUTE_CPU_MODE=$mode bash "$HERE/compute-vm.sh" restart-nova
  deadline=$(($(date +%s) + CPU_MODE_TIMEOUT))
  until matches; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      die "after ${CPU_MODE_TIMEOUT}s placement shows $seen for $COMPUTE_HOST, want VCPU $want_vcpu PCPU $want_pcpu (see: compute-vm.sh logs)"
    fi
    sleep 5
  done
  until service_up_since "$restarted"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      die "after ${CPU_MODE_TIMEOUT}s nova-compute on $COMPUTE_HOST has sent no heartbeat since its restart at $restarted UTC (status, state, last heartbeat: ${seen_service:-not listed}; see: compute-vm.sh logs)"
    fi
    sleep 2
  done
fi
COMPUTE_CPU_MODE=$mode write_harness_config
awk -v s="$start" -v e="$EPOCHREALTIME" -v m="$mode" 'BEGIN { printf "cpu-mode: %s (VCPU and PCPU as expected in placement, nova-compute up) in %.1fs\n", m, e - s }'
