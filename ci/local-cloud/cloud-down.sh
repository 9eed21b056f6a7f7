#!/usr/bin/env bash
# make cloud-down: stop exactly what cloud-up started (each half stops its own processes by
# PID). State (databases, the image cache) stays for the next cloud-up.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
start=$EPOCHREALTIME
rc=0
"$HERE/compute-vm.sh" down || rc=$?
"$HERE/controller.sh" down || rc=$?
awk -v s="$start" -v e="$EPOCHREALTIME" 'BEGIN { printf "cloud-down: took %.1fs\n", e - s }'
exit "$rc"
