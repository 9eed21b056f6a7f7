#!/usr/bin/env bash
# second-compute.sh up|down: a second compute host ($COMPUTE2_HOST, a compute VM like the first,
# with two NUMA nodes of $COMPUTE2_NODE_MEM_MB MiB) for the migration fixtures, and gone again.
#
# up:   boot it (compute-vm.sh with COMPUTE_INDEX=2, CPU mode none), wait until its nova-compute
#       has sent a heartbeat, is in placement and mapped to cell1, check the private link to
#       the first VM both ways (cold migration copies disks over ssh on it; live migration
#       streams over it), and add it to $NUMA_CLOUD_STATE/harness.yaml.
# down: refuse while it has servers; take it out of harness.yaml, stop the VM, and disable its
#       nova-compute service so that the scheduler never waits on a host that is gone.
#
# Both hosts run with CPU mode none while it is up (the first is left as it is).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cloud.env
. "$HERE/cloud.env"
say() { echo "second-compute: $*"; }
die() { echo "second-compute: ERROR: $*" >&2; exit 1; }
: "${SECOND_COMPUTE_TIMEOUT:=420}"
use_local_cloud
start=$EPOCHREALTIME
MARK=$NUMA_CLOUD_STATE/compute-2/up

cmd_up() {
  local booted deadline
  "$HERE/compute-vm.sh" status >/dev/null 2>&1 || die "the first compute VM is not running (make cloud-up)"
  booted=$(date -u +%FT%T)
  COMPUTE_INDEX=2 COMPUTE_CPU_MODE=none bash "$HERE/compute-vm.sh" up
  # A disabled service (the last `down`) stays disabled across restarts: enable it.
  openstack compute service set --enable "$COMPUTE2_HOST" nova-compute >/dev/null 2>&1 || true
  deadline=$(($(date +%s) + SECOND_COMPUTE_TIMEOUT))
  SERVICE_SEEN=""
  until compute_service_up_since "$COMPUTE2_HOST" "$booted" &&
    openstack resource provider list --name "$COMPUTE2_HOST" -f value -c uuid 2>/dev/null | grep -q . &&
    openstack hypervisor list -f value -c "Hypervisor Hostname" 2>/dev/null | grep -qx "$COMPUTE2_HOST"; do
    [ "$(date +%s)" -lt "$deadline" ] ||
      die "after ${SECOND_COMPUTE_TIMEOUT}s $COMPUTE2_HOST is not ready (service: ${SERVICE_SEEN:-not listed}; see COMPUTE_INDEX=2 compute-vm.sh logs)"
    # enable again once the service exists; map the host into cell1 without waiting for the
    # scheduler's periodic discovery
    openstack compute service set --enable "$COMPUTE2_HOST" nova-compute >/dev/null 2>&1 || true
    nova-manage --config-file "$NUMA_CLOUD_STATE/etc/nova/nova.conf" cell_v2 discover_hosts \
      >>"$NUMA_CLOUD_STATE/logs/discover-hosts.log" 2>&1 || true
    sleep 5
  done
  # The private link, both ways (and the ssh that cold migration uses on it).
  COMPUTE_INDEX=1 bash "$HERE/compute-vm.sh" ssh ssh -o BatchMode=yes -o ConnectTimeout=10 192.168.76.2 true ||
    die "$COMPUTE_HOST cannot ssh to $COMPUTE2_HOST at 192.168.76.2 over the private link (a first compute VM started before the link existed needs compute-vm.sh down; up)"
  COMPUTE_INDEX=2 bash "$HERE/compute-vm.sh" ssh ssh -o BatchMode=yes -o ConnectTimeout=10 192.168.76.1 true ||
    die "$COMPUTE2_HOST cannot ssh to $COMPUTE_HOST at 192.168.76.1 over the private link"
  touch "$MARK"
  write_harness_config
  awk -v s="$start" -v e="$EPOCHREALTIME" -v h="$COMPUTE2_HOST" 'BEGIN { printf "second-compute: %s up and in harness.yaml in %.1fs\n", h, e - s }'
}

cmd_down() {
  local servers
  if openstack compute service list --service nova-compute --host "$COMPUTE2_HOST" -f value -c Host 2>/dev/null | grep -q .; then
    servers=$(openstack server list --all-projects --host "$COMPUTE2_HOST" -f value -c ID -c Name 2>&1) ||
      die "cannot list the servers on $COMPUTE2_HOST: $servers"
    [ -z "$servers" ] || die "$COMPUTE2_HOST still has servers; delete them first (numa-conformance sweep):"$'\n'"$servers"
    openstack compute service set --disable --disable-reason "numa-conformance: second compute VM stopped" \
      "$COMPUTE2_HOST" nova-compute >/dev/null || die "cannot disable nova-compute on $COMPUTE2_HOST"
  fi
  rm -f "$MARK"
  write_harness_config
  COMPUTE_INDEX=2 bash "$HERE/compute-vm.sh" down
  awk -v s="$start" -v e="$EPOCHREALTIME" -v h="$COMPUTE2_HOST" 'BEGIN { printf "second-compute: %s down in %.1fs\n", h, e - s }'
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
