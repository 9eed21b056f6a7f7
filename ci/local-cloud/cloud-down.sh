#!/usr/bin/env bash
# make cloud-down: stop exactly what cloud-up started (each half stops its own processes by
# PID). State (databases, the image cache) stays for the next cloud-up.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
start=$EPOCHREALTIME
rc=0
COMPUTE_INDEX=2 "$HERE/compute-vm.sh" down || rc=$? # second-compute.sh's VM, if it runs
rm -f "${NUMA_CLOUD_STATE:-/var/lib/numa-conformance/local-cloud}/compute-2/up"
"$HERE/compute-vm.sh" down || rc=$?
"$HERE/controller.sh" down || rc=$?
awk -v s="$start" -v e="$EPOCHREALTIME" 'BEGIN { printf "cloud-down: took %.1fs\n", e - s }'
exit "$rc"
