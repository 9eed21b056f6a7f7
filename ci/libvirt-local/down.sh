#!/usr/bin/env bash
# down.sh: stops the libvirtd and virtlogd that up.sh started (by their pidfiles in
# $LIBVIRT_LOCAL_STATE), and nothing else. Domains left defined stay defined.
set -euo pipefail
STATE=${LIBVIRT_LOCAL_STATE:-/run/numa-libvirt-local}

# PID 1 reaps slowly, so "kill -0" says nothing: a process is alive while /proc says it is
# not a zombie.
alive() { local s; s=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) && [ -n "$s" ] && [ "$s" != Z ]; }

for name in libvirtd virtlogd; do
  f=$STATE/$name.pid
  [ -s "$f" ] || continue
  pid=$(cat "$f")
  if alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]; then
    echo "libvirt-local: stopping $name (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$f"
done
