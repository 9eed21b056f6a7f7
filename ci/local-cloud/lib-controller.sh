# shellcheck shell=bash disable=SC2153 # CTL_PIDS, CTL_LOGS: set by controller.sh
# Helpers of ci/local-cloud/controller.sh: messages, timing, port probes and
# background processes tracked by PID (no systemd here). Sourced, not run.
#
# A service started here is its own session and process group (setsid), so
# its PID is also its PGID: stopping it signals the whole group (uwsgi and
# oslo.service workers, erlang helpers). A PID file holds "PID STARTTIME"
# (field 22 of /proc/PID/stat), so a reused PID is never mistaken for ours,
# and a zombie (PID 1 reaps slowly here) counts as dead.

# --- messages and timing --------------------------------------------------

ctl_log() { printf '[controller %s] %s\n' "$(date +%T)" "$*"; }
ctl_warn() { printf '[controller %s] WARNING: %s\n' "$(date +%T)" "$*" >&2; }
ctl_die() {
  printf '[controller %s] ERROR: %s\n' "$(date +%T)" "$*" >&2
  exit 1
}

# ctl_elapsed START: seconds since START (an $EPOCHREALTIME value), one decimal.
ctl_elapsed() { awk -v s="$1" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f", e - s }'; }

# ctl_tail_log NAME [LINES]: the last lines of a service's log, for failures.
ctl_tail_log() {
  local f="$CTL_LOGS/$1.log" n="${2:-30}"
  if [[ -s $f ]]; then
    printf -- '----- last %s lines of %s -----\n' "$n" "$f" >&2
    tail -n "$n" "$f" >&2
    printf -- '----- end of %s -----\n' "$f" >&2
  else
    printf -- '(log %s is empty or missing)\n' "$f" >&2
  fi
}

# --- ports -----------------------------------------------------------------

# ctl_port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
ctl_port_open() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# ctl_port_owner PORT: "name pid=N" of whoever listens on PORT (best effort).
ctl_port_owner() {
  ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(([^)]*))' | head -n1 || true
}

# ctl_http_code URL: the HTTP status code (000 when nothing answers).
ctl_http_code() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" 2>/dev/null || true
}

# --- processes -------------------------------------------------------------

# ctl_proc_stat PID: "STATE STARTTIME" of PID, nothing if it does not exist.
ctl_proc_stat() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  s=${s##*) } # drop "pid (comm) ": comm may contain spaces and parentheses
  # shellcheck disable=SC2086
  set -- $s
  printf '%s %s\n' "$1" "${20}"
}

# ctl_pid_alive PID STARTTIME: the very process we started is running (not a
# zombie, not a reused PID).
ctl_pid_alive() {
  local st
  st=$(ctl_proc_stat "$1")
  [[ -n $st ]] || return 1
  [[ ${st%% *} != Z && ${st%% *} != X ]] || return 1
  [[ -z $2 || ${st#* } == "$2" ]]
}

# ctl_group_alive PGID: some non-zombie process is still in group PGID.
ctl_group_alive() {
  ps -eo pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

# ctl_read_pid NAME: sets CTL_PID and CTL_START from NAME's PID file
# ($CTL_PIDS/NAME.pid; CTL_PIDS and CTL_LOGS are set by the caller).
ctl_read_pid() {
  CTL_PID='' CTL_START=''
  local f="$CTL_PIDS/$1.pid"
  [[ -s $f ]] || return 1
  read -r CTL_PID CTL_START _ <"$f" || true
  [[ $CTL_PID =~ ^[0-9]+$ ]]
}

# ctl_svc_pid_alive NAME: NAME's recorded process is alive.
ctl_svc_pid_alive() {
  ctl_read_pid "$1" && ctl_pid_alive "$CTL_PID" "$CTL_START"
}

# ctl_start_bg NAME CMD...: runs CMD in its own session from /, stdin from
# /dev/null, output appended to logs/NAME.log, and records its PID.
ctl_start_bg() {
  local name=$1
  shift
  local log="$CTL_LOGS/$name.log"
  printf '===== %s controller.sh starting %s: %s\n' "$(date -Is)" "$name" "$*" >>"$log"
  # Without job control a background job is not a group leader, so setsid
  # does not fork: $! is the service's PID, its session and its group.
  # The service must not inherit controller.sh's lock (or trace) descriptor:
  # it would hold the lock for as long as it runs.
  (
    [[ -z ${CTL_LOCK_FD:-} ]] || exec {CTL_LOCK_FD}>&-
    [[ -z ${CTL_TRACE_FD:-} ]] || { set +x; exec {CTL_TRACE_FD}>&-; }
    cd / && exec setsid "$@" </dev/null >>"$log" 2>&1
  ) &
  local pid=$! st=''
  local _
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    st=$(ctl_proc_stat "$pid")
    [[ -n $st ]] && break
    sleep 0.05
  done
  printf '%s %s\n' "$pid" "${st#* }" >"$CTL_PIDS/$name.pid"
}

# ctl_stop NAME [TIMEOUT]: TERM to NAME's process group, KILL after TIMEOUT
# seconds (default 15); removes the PID file. Only the recorded PID's group,
# and only while that PID is still ours: running or a zombie with the
# recorded start time, or gone (the kernel does not reuse a PID while its
# process group has members). A PID reused by another process is left alone.
ctl_stop() {
  local name=$1 timeout=${2:-15} pid start st t0
  if ! ctl_read_pid "$name"; then
    rm -f "$CTL_PIDS/$name.pid" "$CTL_PIDS/$name.cfg"
    return 0
  fi
  pid=$CTL_PID start=$CTL_START
  st=$(ctl_proc_stat "$pid")
  if [[ -n $st && -n $start && ${st#* } != "$start" ]] || ! ctl_group_alive "$pid"; then
    rm -f "$CTL_PIDS/$name.pid" "$CTL_PIDS/$name.cfg"
    return 0
  fi
  t0=$EPOCHREALTIME
  kill -TERM -- "-$pid" 2>/dev/null || true
  local deadline=$((SECONDS + timeout))
  while ctl_group_alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
  if ctl_group_alive "$pid"; then
    ctl_warn "$name (pid $pid) still running after ${timeout}s: SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || true
    deadline=$((SECONDS + 5))
    while ctl_group_alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
  fi
  rm -f "$CTL_PIDS/$name.pid" "$CTL_PIDS/$name.cfg"
  ctl_log "stopped $name (pid $pid) in $(ctl_elapsed "$t0")s"
}

# ctl_wait NAME TIMEOUT WHAT CHECK...: polls CHECK until it succeeds; on
# timeout, or when NAME's process died, prints NAME's log tail and fails.
ctl_wait() {
  local name=$1 timeout=$2 what=$3
  shift 3
  local deadline=$((SECONDS + timeout))
  while :; do
    if "$@"; then return 0; fi
    if [[ -f $CTL_PIDS/$name.pid ]] && ! ctl_svc_pid_alive "$name"; then
      printf '[controller %s] ERROR: %s exited while waiting for %s\n' "$(date +%T)" "$name" "$what" >&2
      ctl_tail_log "$name"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      printf '[controller %s] ERROR: %s: no %s within %ss\n' "$(date +%T)" "$name" "$what" "$timeout" >&2
      ctl_tail_log "$name"
      return 1
    fi
    sleep 0.3
  done
}

# --- files -----------------------------------------------------------------

# ctl_write FILE [MODE]: writes stdin to FILE only when the content differs
# (so modification times and config hashes stay stable across runs).
ctl_write() {
  local f=$1 mode=${2:-0644} tmp
  tmp=$(mktemp "$f.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if [[ -f $f ]] && cmp -s "$tmp" "$f"; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "$f"
  fi
}

# ctl_hash STRING...: a short digest of its arguments and of files named @PATH.
ctl_hash() {
  local a
  for a in "$@"; do
    if [[ $a == @* ]]; then cat "${a#@}" 2>/dev/null || true; else printf '%s\n' "$a"; fi
  done | sha256sum | cut -c1-16
}
