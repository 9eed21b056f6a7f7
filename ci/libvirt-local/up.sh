#!/usr/bin/env bash
# up.sh: a libvirtd on this machine for pkg/clouds/hosts' tests, without systemd.
#
#   up.sh [--tcp] [--tls] [--ssh]
#
# Idempotent: installs Debian's libvirt daemon and QEMU only when missing, starts virtlogd and
# libvirtd only when they do not answer, and waits until qemu:///system answers.
#   --tcp   libvirtd also listens on 127.0.0.1:$LIBVIRT_TCP_PORT (16509) without authentication:
#           anyone on this machine gets read-write libvirt there, so it binds to loopback only
#           and is meant for throw-away test machines.
#   --tls   libvirtd also listens with TLS on 127.0.0.1:$LIBVIRT_TLS_PORT (16514), with a CA,
#           server and client certificate made here, in $LIBVIRT_LOCAL_STATE/pki
#           (cacert.pem, clientcert.pem, clientkey.pem for the client).
#   --ssh   installs openssh-server; the SSH test starts its own sshd on a loopback port.
# A libvirtd this script started with other listeners is restarted; one it did not start is
# left alone (and up.sh fails if it lacks a listener asked for).
#
# Records what it started in $LIBVIRT_LOCAL_STATE (default /run/numa-libvirt-local) for down.sh.
# Environment: LIBVIRT_UP_TIMEOUT (60 s; the first start probes QEMU's capabilities, ~12 s).
set -euo pipefail

STATE=${LIBVIRT_LOCAL_STATE:-/run/numa-libvirt-local}
TCP_PORT=${LIBVIRT_TCP_PORT:-16509}
TLS_PORT=${LIBVIRT_TLS_PORT:-16514}
TIMEOUT=${LIBVIRT_UP_TIMEOUT:-60}
URI=qemu:///system
want_tcp=0 want_tls=0 want_ssh=0
for a in "$@"; do
  case $a in
    --tcp) want_tcp=1 ;;
    --tls) want_tls=1 ;;
    --ssh) want_ssh=1 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d;s/^# \{0,1\}//'; exit 0 ;;
    *) echo "up.sh: unknown argument $a (want --tcp, --tls, --ssh)" >&2; exit 2 ;;
  esac
done

say() { echo "libvirt-local: $*"; }
die() { echo "libvirt-local: $*" >&2; exit 1; }
t0=$EPOCHREALTIME
took() { awk -v s="$t0" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f", e - s }'; }

# --- packages -----------------------------------------------------------------------------
want=()
command -v libvirtd >/dev/null || want+=(libvirt-daemon-system)
[ -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ] ||
  want+=(libvirt-daemon-driver-qemu)
command -v virsh >/dev/null || want+=(libvirt-clients)
command -v qemu-system-x86_64 >/dev/null || want+=(qemu-system-x86)
if [ "$want_ssh" = 1 ] && ! [ -x /usr/sbin/sshd ]; then want+=(openssh-server); fi
if [ "$want_tls" = 1 ] && ! command -v openssl >/dev/null; then want+=(openssl); fi
if [ ${#want[@]} -gt 0 ]; then
  say "installing ${want[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Another job may hold the dpkg lock for a while: wait for it rather than fail.
  apt_opts=(-q -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=600)
  log=/tmp/libvirt-local-apt.log
  if ! apt-get install -y "${apt_opts[@]}" --no-install-recommends "${want[@]}" >"$log" 2>&1; then
    apt-get update -q "${apt_opts[@]}" >>"$log" 2>&1 || true
    apt-get install -y "${apt_opts[@]}" --no-install-recommends "${want[@]}" >>"$log" 2>&1 ||
      { tail -n 20 "$log" >&2; die "apt-get install ${want[*]} failed (log: $log)"; }
  fi
  say "installed in $(took)s"
fi

# --- helpers ------------------------------------------------------------------------------
mkdir -p "$STATE"
answers() { timeout 10 virsh -c "$URI" version >/dev/null 2>&1; }

# PID 1 reaps slowly, so "kill -0" says nothing: a process is alive while /proc says it is
# not a zombie.
alive() { local s; s=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) && [ -n "$s" ] && [ "$s" != Z ]; }

stop_pidfile() { # PIDFILE: stop a daemon this script started
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 0
  if alive "$pid"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$1"
}

# --- TLS material -------------------------------------------------------------------------
pki=$STATE/pki
if [ "$want_tls" = 1 ] && ! [ -s "$pki/clientkey.pem" ]; then
  say "making a CA, server and client certificate in $pki"
  mkdir -p "$pki" && chmod 700 "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/CN=numa-conformance test CA" -keyout cakey.pem -out cacert.pem 2>/dev/null
    for who in server client; do
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=numa-conformance test $who" -keyout "${who}key.pem" -out "$who.csr" 2>/dev/null
      ext="extendedKeyUsage=clientAuth"
      [ "$who" = server ] && ext="subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
      openssl x509 -req -in "$who.csr" -CA cacert.pem -CAkey cakey.pem -CAcreateserial -days 3650 \
        -extfile <(echo "$ext") -out "${who}cert.pem" 2>/dev/null
      rm -f "$who.csr"
    done
  )
fi

# --- daemons ------------------------------------------------------------------------------
if ! timeout 5 virt-admin -c virtlogd:///system server-list >/dev/null 2>&1; then
  say "starting virtlogd"
  virtlogd -d -p "$STATE/virtlogd.pid"
fi

# libvirt re-probes QEMU (4-8 s per capabilities or version call) whenever the QEMU user's
# access to /dev/kvm differs from what the probe saw. Debian puts libvirt-qemu in group kvm,
# but in these containers /dev/kvm belongs to another group id: join that one. libvirtd
# caches the answer, so this must happen before it starts.
restart=0
if [ -e /dev/kvm ] && id libvirt-qemu >/dev/null 2>&1 &&
   ! setpriv --reuid=libvirt-qemu --regid="$(id -g libvirt-qemu)" --init-groups test -r /dev/kvm -a -w /dev/kvm 2>/dev/null; then
  say "adding libvirt-qemu to group $(stat -c %G /dev/kvm) (gid $(stat -c %g /dev/kvm)), which owns /dev/kvm"
  usermod -aG "$(stat -c %g /dev/kvm)" libvirt-qemu
  restart=1
fi

conf=$(
  echo "# written by ci/libvirt-local/up.sh"
  if [ "$want_tcp" = 1 ] || [ "$want_tls" = 1 ]; then
    echo 'listen_addr = "127.0.0.1"'
    echo "listen_tcp = $want_tcp"
    echo "listen_tls = $want_tls"
  fi
  if [ "$want_tcp" = 1 ]; then
    echo "tcp_port = \"$TCP_PORT\""
    echo 'auth_tcp = "none"'
  fi
  if [ "$want_tls" = 1 ]; then
    echo "tls_port = \"$TLS_PORT\""
    echo "ca_file = \"$pki/cacert.pem\""
    echo "cert_file = \"$pki/servercert.pem\""
    echo "key_file = \"$pki/serverkey.pem\""
  fi
  echo "log_outputs = \"3:file:$STATE/libvirtd.log\""
)

if answers; then
  if [ -s "$STATE/libvirtd.pid" ]; then
    if [ "$conf" != "$(cat "$STATE/libvirtd.conf" 2>/dev/null)" ]; then
      say "restarting the libvirtd this script started, for other listeners"
      restart=1
    fi
    if [ "$restart" = 1 ]; then stop_pidfile "$STATE/libvirtd.pid"; fi
  elif [ "$want_tcp" = 1 ] || [ "$want_tls" = 1 ]; then
    say "libvirtd runs, not started by up.sh: keeping it, with its listeners"
  fi
fi

start_libvirtd() {
  printf '%s\n' "$conf" >"$STATE/libvirtd.conf"
  args=(-d -f "$STATE/libvirtd.conf" -p "$STATE/libvirtd.pid")
  if [ "$want_tcp" = 1 ] || [ "$want_tls" = 1 ]; then args+=(-l); fi
  say "starting libvirtd ${args[*]}"
  libvirtd "${args[@]}"
  deadline=$((SECONDS + TIMEOUT))
  until answers; do
    if [ $SECONDS -ge $deadline ]; then
      tail -n 20 "$STATE/libvirtd.log" >&2 2>/dev/null || true
      die "libvirtd did not answer at $URI within ${TIMEOUT}s (log: $STATE/libvirtd.log)"
    fi
    sleep 0.5
  done
}
answers || start_libvirtd

# --- ready means a define is fast --------------------------------------------------------------
# Answering is not enough: when the QEMU user's access to /dev/kvm differs from what libvirtd's
# capabilities probe saw, libvirtd probes QEMU again on every define (31 s each, measured), and
# the harness's altered-domain checks time out. Ready is a probe domain defined and undefined
# within PROBE_MAX seconds (the /dev/kvm group of libvirt-qemu is repaired above, before
# libvirtd starts or restarts); if not, up.sh fails naming the cause and the fix.
PROBE_MAX=${LIBVIRT_PROBE_MAX:-5}
probe_xml=$STATE/probe-domain.xml
cat >"$probe_xml" <<'EOF2'
<domain type='qemu'>
  <name>numa-conformance-scratch-probe</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>
EOF2
probe() { # prints the seconds a define + undefine took; fails when either fails
  local t=$EPOCHREALTIME out
  virsh -c "$URI" undefine numa-conformance-scratch-probe >/dev/null 2>&1 || true
  out=$(timeout 120 virsh -c "$URI" define "$probe_xml" 2>&1) || { echo "define failed: $out" >&2; return 1; }
  out=$(timeout 60 virsh -c "$URI" undefine numa-conformance-scratch-probe 2>&1) || { echo "undefine failed: $out" >&2; return 1; }
  awk -v s="$t" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.2f", e - s }'
}
fast() { awk -v t="$1" -v m="$PROBE_MAX" 'BEGIN { exit !(t < m) }'; }
kvm_note() { # why libvirt-qemu cannot use /dev/kvm, or nothing
  [ -e /dev/kvm ] && id libvirt-qemu >/dev/null 2>&1 || return 0
  setpriv --reuid=libvirt-qemu --regid="$(id -g libvirt-qemu)" --init-groups test -r /dev/kvm -a -w /dev/kvm 2>/dev/null && return 0
  echo "libvirt-qemu cannot open /dev/kvm ($(stat -c '%U:%G, gid %g, mode %a' /dev/kvm); libvirt-qemu's groups: $(id -G libvirt-qemu))"
}
took_define=$(probe) || die "libvirtd at $URI answers but cannot define a probe domain (see above; log: $STATE/libvirtd.log)"
if ! fast "$took_define"; then # the first define after a start may include QEMU's probe: once more
  say "the first probe define took ${took_define}s; probing again"
  took_define=$(probe) || die "libvirtd at $URI cannot define a probe domain (see above; log: $STATE/libvirtd.log)"
fi
if ! fast "$took_define"; then
  # The /dev/kvm group was repaired above, before (re)starting libvirtd; what is left is not ours.
  why=$(kvm_note)
  if [ -n "$why" ]; then
    die "a probe define took ${took_define}s (want under ${PROBE_MAX}s): $why. Fix: usermod -aG $(stat -c %g /dev/kvm) libvirt-qemu, then restart libvirtd (libvirtd reads the QEMU user's groups when it starts)"
  fi
  die "a probe define took ${took_define}s (want under ${PROBE_MAX}s) with /dev/kvm usable or absent: libvirtd is slow for another reason, e.g. a /dev/kvm that opens but cannot run QEMU makes it probe QEMU on every define (log: $STATE/libvirtd.log)"
fi

uris=$URI
if [ "$want_tcp" = 1 ]; then
  u=qemu+tcp://127.0.0.1:$TCP_PORT/system
  timeout 10 virsh -c "$u" version >/dev/null 2>&1 || die "libvirtd answers at $URI but not at $u"
  uris+=", $u"
fi
if [ "$want_tls" = 1 ]; then
  # virsh's pkipath wants the client files under these names, which is how they were made.
  u="qemu+tls://127.0.0.1:$TLS_PORT/system?pkipath=$pki"
  timeout 10 virsh -c "$u" version >/dev/null 2>&1 || die "libvirtd answers at $URI but not at $u"
  uris+=", $u"
fi
say "ready in $(took)s (probe define + undefine ${took_define}s): $uris ($(virsh -c "$URI" version --daemon 2>/dev/null | awk '/daemon/ {print "libvirtd", $NF}'))"
