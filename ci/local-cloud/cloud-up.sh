#!/usr/bin/env bash
# make cloud-up: the embedded local cloud, controller and two-NUMA-node compute VM, ready for
# the suites. Idempotent: run it again after a crash or a killed service and it converges.
#
# Steps (each timed): controller and compute VM start in parallel; then the readiness check
# waits until nova-compute is registered in placement, mapped into cell1 and its libvirt reports
# two NUMA cells; then the blank test image is uploaded and the harness host config written.
# Outputs in $NUMA_CLOUD_STATE: clouds.yaml (cloud "$CLOUD_NAME"), harness.yaml (how to reach
# the compute host's libvirt, and its CPU sets), logs/, pids/.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=cloud.env
. "$HERE/cloud.env"
use_local_cloud
: "${CLOUD_READY_TIMEOUT:=600}"   # seconds for nova-compute to register (TCG is slow)
: "${TEST_IMAGE:=numa-conformance-blank}"

say() { echo "cloud-up: $*"; }
die() { echo "cloud-up: ERROR: $*" >&2; exit 1; }
took() { awk -v s="$2" -v e="$EPOCHREALTIME" -v n="$1" 'BEGIN { printf "cloud-up: phase %s took %.1fs\n", n, e - s }'; }
start=$EPOCHREALTIME
mkdir -p "$NUMA_CLOUD_STATE/logs"

# 1. Controller and compute VM in parallel: the VM boots under TCG while the control plane
#    starts, and nova-compute inside waits for the controller's fragment.
t=$EPOCHREALTIME
ctl_log=$NUMA_CLOUD_STATE/logs/cloud-up-controller.log
vm_log=$NUMA_CLOUD_STATE/logs/cloud-up-compute-vm.log
"$HERE/controller.sh" up >"$ctl_log" 2>&1 & ctl=$!
"$HERE/compute-vm.sh" up >"$vm_log" 2>&1 & vm=$!
ctl_rc=0; vm_rc=0
wait "$ctl" || ctl_rc=$?
wait "$vm" || vm_rc=$?
grep -h "took\|phase" "$ctl_log" "$vm_log" | sed 's/^/  /' || true
if [ "$ctl_rc" != 0 ]; then
  tail -n 40 "$ctl_log" >&2
  die "controller.sh up failed (exit $ctl_rc); full log: $ctl_log"
fi
if [ "$vm_rc" != 0 ]; then
  tail -n 40 "$vm_log" >&2
  die "compute-vm.sh up failed (exit $vm_rc); full log: $vm_log"
fi
took "controller + compute VM" "$t"

# 2. Readiness: nova-compute registered (service up, resource provider, mapped to cell1) and
#    its libvirt showing two NUMA cells.
t=$EPOCHREALTIME
compute_log=$NUMA_CLOUD_STATE/logs/compute/nova-compute.log
deadline=$(( $(date +%s) + CLOUD_READY_TIMEOUT ))
vm_boot=$(stat -c %Y "$NUMA_CLOUD_STATE/compute/qemu.pid")
state=""
while :; do
  svc=$(openstack compute service list --service nova-compute -f value -c Host -c State -c "Updated At" 2>/dev/null || true)
  rp=$(openstack resource provider list -f value -c name 2>/dev/null || true)
  # "up" alone is not enough: after the VM restarts, the old nova-compute's last heartbeat keeps
  # the service "up" for a minute. Only a heartbeat newer than the VM's boot is the new one.
  beat=$(awk -v h="$COMPUTE_HOST" '$1 == h && $2 == "up" { print $3 }' <<<"$svc")
  beat_s=0
  [ -z "$beat" ] || beat_s=$(date -u -d "${beat%%.*}" +%s 2>/dev/null || echo 0)
  if [ "$beat_s" -gt "$vm_boot" ] && grep -qx "$COMPUTE_HOST" <<<"$rp"; then
    # Map it into cell1 now rather than waiting for the scheduler's periodic discovery.
    nova-manage --config-file "$NUMA_CLOUD_STATE/etc/nova/nova.conf" cell_v2 discover_hosts \
      >>"$NUMA_CLOUD_STATE/logs/discover-hosts.log" 2>&1 || true
    if openstack hypervisor list -f value -c "Hypervisor Hostname" 2>/dev/null | grep -q .; then
      break
    fi
    state="registered, not yet in a cell"
  else
    state="service: ${svc:-none} (VM booted $(date -u -d "@$vm_boot" +%H:%M:%S)); resource providers: ${rp:-none}"
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "cloud-up: nova-compute on $COMPUTE_HOST not ready after ${CLOUD_READY_TIMEOUT}s ($state)" >&2
    echo "--- last lines of $compute_log" >&2
    tail -n 30 "$compute_log" >&2 2>/dev/null || echo "(no log)" >&2
    exit 1
  fi
  sleep 5
done
caps=$("$HERE/compute-vm.sh" caps)
cells=$(grep -c "<cell id=" <<<"$caps" || true)
[ "$cells" = 2 ] || die "the compute host's libvirt reports $cells NUMA cells, want 2"
took "readiness (nova-compute in placement and cell1, 2 NUMA cells)" "$t"

# 3. The test image: a blank qcow2 (the guest sits in SeaBIOS, the domain runs).
t=$EPOCHREALTIME
if ! openstack image show "$TEST_IMAGE" -f value -c id >/dev/null 2>&1; then
  img=$NUMA_CLOUD_STATE/blank.qcow2
  [ -s "$img" ] || qemu-img create -q -f qcow2 "$img" 64M
  openstack image create --disk-format qcow2 --container-format bare --public \
    --file "$img" "$TEST_IMAGE" -f value -c id >/dev/null
fi
took "test image" "$t"

# 4. The harness's host config: which libvirt serves which compute host, and the host state no
#    API exposes (its CPU sets, as compute-vm.sh configured them).
write_harness_config || die "COMPUTE_CPU_MODE=$COMPUTE_CPU_MODE: want none, split, pernode, dedicated or custom"

say "ready: OS_CLIENT_CONFIG_FILE=$OS_CLIENT_CONFIG_FILE OS_CLOUD=$CLOUD_NAME, hosts in $NUMA_CLOUD_STATE/harness.yaml"
took "cloud-up (total)" "$start"
