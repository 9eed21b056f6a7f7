#!/usr/bin/env bash
# The local cloud's end-to-end check: boot a 2-vCPU guest with hw:numa_nodes=2 and no network,
# wait until ACTIVE, read its domain XML over the compute host's loopback libvirt URI (read-only)
# and check two guest cells bound strictly to host nodes 0 and 1. Everything it creates is
# deleted on exit, also on failure or interrupt. Until the Ginkgo suites run here, this is the
# check that proves the cloud does what the suites need.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=cloud.env
. "$HERE/cloud.env"
use_local_cloud
# --nic none needs microversion 2.37 or later (networks "none"); 2.79 also shows the server topology.
export OS_COMPUTE_API_VERSION=2.79
: "${SMOKE_TIMEOUT:=300}"
: "${TEST_IMAGE:=numa-conformance-blank}"
run_id=smoke-$(date +%s)-$$
flavor=numa-conformance-$run_id
server=numa-conformance-$run_id
start=$EPOCHREALTIME
say() { echo "smoke: $*"; }

cleanup() {
  set +e
  if openstack server show "$server" -f value -c id >/dev/null 2>&1; then
    openstack server delete --wait "$server" >/dev/null 2>&1 || say "could not delete server $server"
  fi
  openstack flavor delete "$flavor" >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

openstack flavor create --vcpus 2 --ram 512 --disk 1 --property hw:numa_nodes=2 "$flavor" -f value -c id >/dev/null
say "flavor $flavor (2 vCPU, 512 MiB, hw:numa_nodes=2)"
id=$(openstack server create --flavor "$flavor" --image "$TEST_IMAGE" --nic none "$server" -f value -c id)
say "server $server ($id) created"
deadline=$(( $(date +%s) + SMOKE_TIMEOUT ))
while :; do
  status=$(openstack server show "$id" -f value -c status)
  case $status in
    ACTIVE) break ;;
    ERROR)
      openstack server show "$id" -f json >&2
      echo "smoke: server $id went to ERROR (fault above)" >&2; exit 1 ;;
  esac
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "smoke: server $id still $status after ${SMOKE_TIMEOUT}s" >&2
    tail -n 30 "$NUMA_CLOUD_STATE/logs/compute/nova-compute.log" >&2 2>/dev/null
    exit 1
  fi
  sleep 2
done
awk -v s="$start" -v e="$EPOCHREALTIME" 'BEGIN { printf "smoke: ACTIVE after %.1fs\n", e - s }'

xml=$(virsh -r -c "qemu+tcp://127.0.0.1:$PORT_COMPUTE_LIBVIRT/system" dumpxml "$id")
check=$(cat <<'PY'
import sys, xml.etree.ElementTree as ET
d = ET.fromstring(sys.stdin.read())
problems = []
cells = d.findall("./cpu/numa/cell")
if len(cells) != 2:
    problems.append(f"want 2 guest cells, found {len(cells)}")
mem = d.find("./numatune/memory")
if mem is None or mem.get("mode", "strict") != "strict" or mem.get("nodeset") != "0-1":
    problems.append(f"numatune/memory: want mode strict nodeset 0-1, found {None if mem is None else mem.attrib}")
nodes = {n.get("cellid"): (n.get("mode", "strict"), n.get("nodeset")) for n in d.findall("./numatune/memnode")}
for cell, node in (("0", "0"), ("1", "1")):
    if nodes.get(cell) != ("strict", node):
        problems.append(f"memnode cellid={cell}: want mode strict nodeset {node}, found {nodes.get(cell)}")
if problems:
    print("smoke: domain " + sys.argv[1] + " does not conform:\n  " + "\n  ".join(problems), file=sys.stderr)
    sys.exit(1)
print("smoke: domain " + sys.argv[1] + ": 2 guest cells, memnode 0->0 and 1->1, mode strict")
PY
)
/usr/bin/python3 -c "$check" "$id" <<<"$xml" || { echo "$xml" >&2; exit 1; }
awk -v s="$start" -v e="$EPOCHREALTIME" 'BEGIN { printf "smoke: passed in %.1fs\n", e - s }'
