#!/usr/bin/env bash
# The compute host of the embedded local cloud: a nested VM (QEMU TCG) with two guest NUMA
# nodes running libvirtd + nova-compute (Debian 12, Nova 26 Zed).
#
#   compute-vm.sh build          build the root filesystem image into $NUMA_CLOUD_CACHE (once)
#   compute-vm.sh up             build if needed, boot, wait until the inner libvirtd answers on
#                                127.0.0.1:$PORT_COMPUTE_LIBVIRT (idempotent)
#   compute-vm.sh down           stop the VM's QEMU process (by its PID) and wait until it is gone
#   compute-vm.sh status         VM, libvirt and nova-compute state; exit 0 when libvirt answers
#   compute-vm.sh caps           the inner libvirt's capabilities XML (over TCP)
#   compute-vm.sh ssh [CMD...]   a shell (or CMD) in the VM as root
#   compute-vm.sh restart-nova   re-render nova-compute.conf (COMPUTE_CPU_MODE...) and restart
#                                nova-compute in the VM (no servers may be on the host when the
#                                CPU sets change)
#   compute-vm.sh restart-libvirtd  stop the VM's libvirtd and start it again (its domains keep
#                                running), then wait until it answers on the host's port again;
#                                tests use it to show the harness survives a libvirtd restart
#   compute-vm.sh logs           where the logs are, and their last lines
#
# Settings: ci/local-cloud/cloud.env, plus these (environment):
#   COMPUTE_CPU_MODE   none (default): no CPU sets, every guest floats over all 4 host CPUs;
#                      split: cpu_shared_set=0-1 (node 0), cpu_dedicated_set=2-3 (node 1),
#                             the layout of the recorded samples (pinned tests);
#                      pernode: cpu_shared_set=0,2 and cpu_dedicated_set=1,3 (one of each per
#                             node: 2-node shared and 2-node pinned guests both fit);
#                      dedicated: cpu_dedicated_set=0-3 and no cpu_shared_set (pinned guests
#                             only; emulator threads have no shared CPUs to go to);
#                      custom: COMPUTE_CPU_SHARED_SET / COMPUTE_CPU_DEDICATED_SET as given.
#   COMPUTE_NODE_MEM_MB (4096), COMPUTE_HUGEPAGES_PER_NODE (128 x 2 MiB),
#   COMPUTE_RESERVED_HOST_MEMORY_MB (256), COMPUTE_NOVA_DEBUG (false),
#   COMPUTE_BOOT_TIMEOUT (240 s to libvirtd answering), COMPUTE_INIT_TIMEOUT (90 s to the
#   VM's init starting; a boot stalled before it is recorded in compute/hang-1/ and retried
#   once), COMPUTE_SMP_THREADS (2: thread siblings 0-1 and 2-3; 1: four single-thread
#   sockets, for hw:cpu_thread_policy=isolate),
#   COMPUTE_QEMU_CPU (max,vendor=GenuineIntel).
#
# Files: image    $NUMA_CLOUD_CACHE/compute-<hash>.{img,vmlinuz,initrd}
#        per run  $NUMA_CLOUD_STATE/compute/ (overlay.qcow2, console.log, qemu.pid, boot/, ssh key)
#        logs     $NUMA_CLOUD_STATE/logs/compute/ (init.log, libvirtd.log, nova-compute.log,
#                 libvirt-qemu/ = the nested domains' QEMU logs)
# The controller writes $NUMA_CLOUD_STATE/nova-compute.conf.fragment; nova-compute in the VM
# waits for it (it may appear after `up`), then starts with it as /etc/nova/nova.conf; it
# restarts nova-compute when the controller rewrites it, and after nova-compute exits.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=cloud.env
. "$HERE/cloud.env"

: "${COMPUTE_CPU_MODE:=none}"
: "${COMPUTE_NODE_MEM_MB:=4096}"
: "${COMPUTE_HUGEPAGES_PER_NODE:=128}"
: "${COMPUTE_RESERVED_HOST_MEMORY_MB:=256}"
: "${COMPUTE_NOVA_DEBUG:=false}"
: "${COMPUTE_BOOT_TIMEOUT:=240}"
: "${COMPUTE_INIT_TIMEOUT:=90}"
: "${COMPUTE_SMP_THREADS:=2}"
: "${COMPUTE_QEMU_CPU:=max,vendor=GenuineIntel}" # an Intel vendor makes the guest see thread siblings
: "${COMPUTE_MIRROR:=http://deb.debian.org/debian}"
: "${COMPUTE_SECURITY_MIRROR:=http://deb.debian.org/debian-security}"
VM_IP=10.0.2.15       # QEMU user networking's default guest address
VM_GATEWAY=10.0.2.2
SRC=$HERE/compute
# COMPUTE_INDEX=2 is a second compute host (numa-compute-2), for migrations: its own state
# dir, ports and 9p share (the VM's init finds its boot files at compute/boot/ in the share).
: "${COMPUTE_INDEX:=1}"
case $COMPUTE_INDEX in
  1)
    VM_NAME=numa-compute-vm
    RUN=$NUMA_CLOUD_STATE/compute
    LOGS=$NUMA_CLOUD_STATE/logs/compute
    SHARE=$NUMA_CLOUD_STATE
    ;;
  2)
    COMPUTE_HOST=$COMPUTE2_HOST PORT_COMPUTE_LIBVIRT=$PORT_COMPUTE2_LIBVIRT PORT_COMPUTE_SSH=$PORT_COMPUTE2_SSH
    COMPUTE_NODE_MEM_MB=$COMPUTE2_NODE_MEM_MB
    VM_NAME=numa-compute-vm-2
    RUN=$NUMA_CLOUD_STATE/compute-2
    LOGS=$NUMA_CLOUD_STATE/logs/compute-2
    SHARE=$RUN/share
    ;;
  *) echo "compute-vm: ERROR: COMPUTE_INDEX must be 1 or 2 (got '$COMPUTE_INDEX')" >&2; exit 1 ;;
esac
BOOT_DIR=$SHARE/compute/boot
# The hosts' private link for migrations: a second NIC per VM, joined by QEMU's UDP datagram
# netdev on the host's loopback (VM 1 <-> VM 2); nova-compute's my_ip and libvirt's
# live_migration_inbound_addr are the VM's address on it.
MIGRATION_IP=192.168.76.$COMPUTE_INDEX
MIGRATION_KEY=$NUMA_CLOUD_STATE/compute-migration/id_ed25519 # root's key on both VMs
PIDFILE=$RUN/qemu.pid
CONSOLE=$RUN/console.log
LIBVIRT_URI="qemu+tcp://127.0.0.1:$PORT_COMPUTE_LIBVIRT/system"
# controller ports the VM reaches at $GUESTFWD_ADDR (MariaDB is not needed by nova-compute)
FWD_PORTS="$PORT_RABBIT $PORT_KEYSTONE $PORT_GLANCE $PORT_PLACEMENT $PORT_NOVA $PORT_NEUTRON"

say() { echo "compute-vm: $*"; }
die() { echo "compute-vm: ERROR: $*" >&2; exit 1; }
now() { echo "$EPOCHREALTIME"; }
took() { awk -v s="$2" -v e="$EPOCHREALTIME" -v n="$1" 'BEGIN { printf "compute-vm: %s took %.1fs\n", n, e - s }'; }

# ---- host packages -------------------------------------------------------------------------
ensure_host_tools() {
  local want=() t0
  command -v qemu-system-x86_64 >/dev/null || want+=(qemu-system-x86)
  command -v qemu-img >/dev/null || want+=(qemu-utils)
  command -v debootstrap >/dev/null || want+=(debootstrap)
  command -v virsh >/dev/null || want+=(libvirt-clients)
  command -v socat >/dev/null || want+=(socat)
  command -v mkfs.ext4 >/dev/null || want+=(e2fsprogs)
  command -v ssh >/dev/null || want+=(openssh-client)
  command -v ss >/dev/null || want+=(iproute2)
  command -v flock >/dev/null || want+=(util-linux)
  [ ${#want[@]} = 0 ] && return 0
  t0=$(now)
  say "installing host packages: ${want[*]}"
  local i
  for ((i = 0; i < 30; i++)); do # another apt may hold the lists lock
    apt-get -o DPkg::Lock::Timeout=300 update -qq && break
    sleep 10
  done
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${want[@]}" >/dev/null || die "apt-get install ${want[*]} failed"
  took "host packages" "$t0"
}

# ---- image ---------------------------------------------------------------------------------
image_key() { cat "$SRC/packages.txt" "$SRC/build-image.sh" | sha256sum | cut -c1-16; }
image_prefix() { echo "$NUMA_CLOUD_CACHE/compute-$(image_key)"; }
caps_cache() { # per image and QEMU CPU model (libvirt's probe records the host CPU)
  echo "$(image_prefix).qemu-caps-$(printf %s "$COMPUTE_QEMU_CPU" | sha256sum | cut -c1-8)"
}
image_id() { stat -c '%i %Y' "$(image_prefix).img" 2>/dev/null; } # this build of the image
save_caps() { # keep the QEMU capabilities libvirtd probed in the VM, for the next boots
  local dst
  dst=$(cat "$RUN/caps-cache" 2>/dev/null) || return 0 # chosen by the run's `up`
  ls "$LOGS"/qemu-caps/*.xml >/dev/null 2>&1 || return 0
  # only from a run of this very build (a rebuild changes the binaries' ctimes: libvirtd
  # re-probes, and then the cache is refreshed from that run)
  [ "$(cat "$RUN/image-id" 2>/dev/null)" = "$(image_id)" ] || return 0
  diff -rq "$LOGS/qemu-caps" "$dst" >/dev/null 2>&1 && return 0
  rm -rf "$dst.tmp" && mkdir -p "$dst.tmp" && cp "$LOGS"/qemu-caps/*.xml "$dst.tmp/" &&
    rm -rf "$dst" && mv "$dst.tmp" "$dst" && say "saved the VM's QEMU capabilities cache in $dst"
}
image_ready() { local p; p=$(image_prefix); [ -s "$p.img" ] && [ -s "$p.vmlinuz" ] && [ -s "$p.initrd" ]; }

cmd_build() {
  ensure_host_tools
  mkdir -p "$NUMA_CLOUD_CACHE"
  local prefix t0 lock
  prefix=$(image_prefix)
  exec {lock}>"$NUMA_CLOUD_CACHE/compute-build.lock"
  if ! flock -n "$lock"; then
    say "another build holds $NUMA_CLOUD_CACHE/compute-build.lock: waiting"
    flock "$lock"
  fi
  if image_ready; then
    say "image cached: $prefix.img"
    exec {lock}>&-
    return 0
  fi
  rm -rf "$prefix".qemu-caps*
  say "building $prefix.img (debootstrap + packages from $SRC/packages.txt; several minutes)"
  t0=$(now)
  OUT=$prefix WORK_DIR=$NUMA_CLOUD_CACHE/compute-build DEB_CACHE=$NUMA_CLOUD_CACHE/compute-debs \
    PACKAGES=$SRC/packages.txt MIRROR=$COMPUTE_MIRROR SECURITY_MIRROR=$COMPUTE_SECURITY_MIRROR \
    bash "$SRC/build-image.sh" || die "image build failed (log above)"
  took "image build" "$t0"
  # older images (other package lists) only take space; a running VM keeps its open copy
  local f
  for f in "$NUMA_CLOUD_CACHE"/compute-*.img "$NUMA_CLOUD_CACHE"/compute-*.vmlinuz \
    "$NUMA_CLOUD_CACHE"/compute-*.initrd "$NUMA_CLOUD_CACHE"/compute-*.qemu-caps*; do
    [ -e "$f" ] || continue
    case $f in "$prefix".*) ;; *) say "removing old image file $f"; rm -rf "$f" ;; esac
  done
  exec {lock}>&-
}

# ---- process ---------------------------------------------------------------------------------
qemu_pid() { # PID of this state dir's QEMU if it runs (zombies and reused PIDs excluded)
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [ -n "$pid" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "guest=$VM_NAME.*$RUN/" || return 1
  grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && return 1
  echo "$pid"
}

libvirt_answers() { # capabilities over TCP with 2 NUMA cells and thread siblings
  local caps
  caps=$(timeout 15 virsh -c "$LIBVIRT_URI" capabilities 2>/dev/null) || return 1
  [ "$(grep -c '<cell id=' <<<"$caps")" = 2 ] && grep -q 'siblings=' <<<"$caps"
}

cpu_sets() {
  case $COMPUTE_CPU_MODE in
    none) echo "# no cpu_shared_set / cpu_dedicated_set: every guest floats over all host CPUs" ;;
    split) printf 'cpu_shared_set = 0-1\ncpu_dedicated_set = 2-3\n' ;;
    pernode) printf 'cpu_shared_set = 0,2\ncpu_dedicated_set = 1,3\n' ;;
    dedicated) printf 'cpu_dedicated_set = 0-3\n' ;;
    custom)
      [ -n "${COMPUTE_CPU_SHARED_SET:-}${COMPUTE_CPU_DEDICATED_SET:-}" ] ||
        die "COMPUTE_CPU_MODE=custom needs COMPUTE_CPU_SHARED_SET and/or COMPUTE_CPU_DEDICATED_SET"
      if [ -n "${COMPUTE_CPU_SHARED_SET:-}" ]; then echo "cpu_shared_set = $COMPUTE_CPU_SHARED_SET"; fi
      if [ -n "${COMPUTE_CPU_DEDICATED_SET:-}" ]; then echo "cpu_dedicated_set = $COMPUTE_CPU_DEDICATED_SET"; fi
      ;;
    *) die "COMPUTE_CPU_MODE must be none, split, pernode, dedicated or custom (got '$COMPUTE_CPU_MODE')" ;;
  esac
}

render_boot_files() { # everything the VM reads from the share: $RUN/boot/
  # Files are replaced one by one with rename(2): a running VM (PID 1 runs init.sh from here)
  # keeps reading the version it opened.
  local boot=$BOOT_DIR tmp sets f
  sets=$(cpu_sets)
  mkdir -p "$boot"
  tmp=$(mktemp -d "$RUN/.boot.XXXXXX")
  install -m 0644 "$SRC/init.sh" "$SRC/libvirtd.conf" "$tmp/"
  awk -v host="$COMPUTE_HOST" -v ip="$MIGRATION_IP" -v res="$COMPUTE_RESERVED_HOST_MEMORY_MB" \
    -v dbg="$COMPUTE_NOVA_DEBUG" -v mode="$COMPUTE_CPU_MODE" -v sets="$sets" '{
      gsub(/@COMPUTE_HOST@/, host); gsub(/@MIGRATION_IP@/, ip); gsub(/@COMPUTE_RESERVED_HOST_MEMORY_MB@/, res)
      gsub(/@COMPUTE_NOVA_DEBUG@/, dbg); gsub(/@COMPUTE_CPU_MODE@/, mode)
      if ($0 == "@COMPUTE_CPU_SETS@") $0 = sets
      print }' "$SRC/nova-compute.conf.in" >"$tmp/nova-compute.conf"
  cat >"$tmp/vm.env" <<EOF
COMPUTE_HOST=$COMPUTE_HOST
COMPUTE_CPU_MODE=$COMPUTE_CPU_MODE
COMPUTE_HUGEPAGES_PER_NODE=$COMPUTE_HUGEPAGES_PER_NODE
GUESTFWD_ADDR=$GUESTFWD_ADDR
VM_IP=$VM_IP
VM_GATEWAY=$VM_GATEWAY
MIGRATION_IP=$MIGRATION_IP
EOF
  cat "$RUN/id_ed25519.pub" "$MIGRATION_KEY.pub" >"$tmp/authorized_keys"
  install -m 0600 "$MIGRATION_KEY" "$tmp/migration_key"
  if [ "$SHARE" != "$NUMA_CLOUD_STATE" ] && [ -s "$NUMA_CLOUD_STATE/nova-compute.conf.fragment" ]; then
    # the controller's fragment, as VM 1 sees it (a copy: this share is the VM's own)
    install -m 0644 "$NUMA_CLOUD_STATE/nova-compute.conf.fragment" "$SHARE/nova-compute.conf.fragment"
  fi
  mkdir -p "$boot"
  rm -rf "$boot/qemu-caps"
  if ls "$(caps_cache)"/*.xml >/dev/null 2>&1; then
    mkdir -p "$boot/qemu-caps" && cp "$(caps_cache)"/*.xml "$boot/qemu-caps/"
  fi
  for f in "$tmp"/*; do mv -f "$f" "$boot/"; done
  rmdir "$tmp"
}

print_failure() { # what the VM said last: console and init log
  echo "---- last lines of $CONSOLE" >&2
  if [ -s "$CONSOLE" ]; then
    tail -n 25 "$CONSOLE" | sed 's/\r$//' >&2
  else
    echo "(empty: QEMU has not run the kernel's first lines yet)" >&2
  fi
  if [ -s "$LOGS/init.log" ]; then
    echo "---- $LOGS/init.log (the VM's init; FAILED lines name what failed)" >&2
    tail -n 15 "$LOGS/init.log" >&2
  fi
  if grep -q "FAILED.*libvirtd" "$LOGS/init.log" 2>/dev/null && [ -s "$LOGS/libvirtd.log" ]; then
    echo "---- $LOGS/libvirtd.log" >&2
    tail -n 10 "$LOGS/libvirtd.log" >&2
  fi
  [ -s "$RUN/qemu.log" ] && { echo "---- $RUN/qemu.log" >&2; tail -n 10 "$RUN/qemu.log" >&2; }
  return 0
}

qesc() { echo "${1//,/,,}"; } # a path inside a QEMU option (commas doubled)
port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

cmd_up() {
  local t_all t0 pid
  t_all=$(now)
  ensure_host_tools
  if pid=$(qemu_pid); then
    if libvirt_answers; then
      say "already up (QEMU pid $pid); libvirt answers at $LIBVIRT_URI"
      return 0
    fi
    say "QEMU runs (pid $pid) but libvirt does not answer yet: waiting"
    local rc=0
    BOOT_ATTEMPT=0 # its evidence goes to hang-0/
    wait_ready "$pid" "$t_all" || rc=$?
    [ "$rc" = 2 ] || return "$rc"
    say "that VM never reached init and is stopped: booting a new one"
  fi
  image_ready || cmd_build
  local prefix
  prefix=$(image_prefix)

  t0=$(now)
  port_busy "$PORT_COMPUTE_LIBVIRT" && die "127.0.0.1:$PORT_COMPUTE_LIBVIRT is taken by another process (PORT_COMPUTE_LIBVIRT)"
  port_busy "$PORT_COMPUTE_SSH" && die "127.0.0.1:$PORT_COMPUTE_SSH is taken by another process (PORT_COMPUTE_SSH)"
  mkdir -p "$RUN" "$LOGS" "$SHARE"
  save_caps
  # this run's logs start empty; the previous run's stay in logs/compute/prev/
  rm -rf "$LOGS"/qemu-caps "$LOGS/prev"
  mkdir -p "$LOGS/prev"
  find "$LOGS" -mindepth 1 -maxdepth 1 ! -name prev -exec mv -t "$LOGS/prev/" {} +
  [ -s "$RUN/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "$VM_NAME" -f "$RUN/id_ed25519"
  if [ ! -s "$MIGRATION_KEY" ]; then
    mkdir -p "${MIGRATION_KEY%/*}"
    ssh-keygen -q -t ed25519 -N '' -C numa-compute-migration -f "$MIGRATION_KEY"
  fi
  render_boot_files
  echo "$prefix" >"$RUN/image"
  image_id >"$RUN/image-id"
  caps_cache >"$RUN/caps-cache"
  [ -e "$NUMA_CLOUD_STATE/nova-compute.conf.fragment" ] ||
    say "note: $NUMA_CLOUD_STATE/nova-compute.conf.fragment does not exist yet; nova-compute in the VM waits for it"
  took "prepare (configs)" "$t0"

  # A TCG boot on a loaded 2-core machine has, rarely, stalled in the kernel before init ran
  # (empty console for minutes, QEMU alive). Such a boot gets a second chance; a VM whose init
  # started and then failed does not (that is a real error with its own evidence).
  local attempt rc
  rm -rf "$RUN/hang-1" "$RUN/hang-2"
  for attempt in 1 2; do
    BOOT_ATTEMPT=$attempt
    start_qemu "$prefix"
    pid=$(qemu_pid) || { print_failure; die "QEMU started but exited at once"; }
    rc=0
    wait_ready "$pid" "$t_all" || rc=$?
    [ "$rc" = 0 ] && return 0
    [ "$attempt" = 1 ] && [ "$rc" = 2 ] || exit 1
    say "boot attempt 1 never reached init (evidence above and in $RUN/hang-1/): booting again"
  done
}

start_qemu() { # PREFIX: a fresh overlay, then QEMU daemonized (returns once it forked)
  local prefix=$1 t0 net p mem=$COMPUTE_NODE_MEM_MB threads=$COMPUTE_SMP_THREADS sockets
  t0=$(now)
  rm -f "$CONSOLE" "$RUN/qemu.log" "$PIDFILE" "$RUN/qmp.sock" "$RUN/overlay.qcow2"
  # a fresh overlay per boot: the cached image stays pristine
  qemu-img create -q -f qcow2 -b "$prefix.img" -F raw "$RUN/overlay.qcow2"
  case $threads in 1) sockets=4 ;; 2) sockets=2 ;; *) die "COMPUTE_SMP_THREADS must be 1 or 2" ;; esac
  net="user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$PORT_COMPUTE_LIBVIRT-:16509"
  net+=",hostfwd=tcp:127.0.0.1:$PORT_COMPUTE_SSH-:22"
  local link_local=$((PORT_MIGRATION_LINK + COMPUTE_INDEX)) link_remote=$((PORT_MIGRATION_LINK + 3 - COMPUTE_INDEX))
  for p in $FWD_PORTS; do
    net+=",guestfwd=tcp:$GUESTFWD_ADDR:$p-cmd:socat STDIO TCP:127.0.0.1:$p"
  done
  # loglevel=7: the kernel's info lines reach the console, so a boot that stalls shows where
  qemu-system-x86_64 \
    -name "guest=$VM_NAME,process=$VM_NAME" \
    -machine pc -accel tcg,thread=multi \
    -cpu "$COMPUTE_QEMU_CPU" \
    -smp "4,sockets=$sockets,cores=1,threads=$threads" \
    -m "$((2 * mem))M" \
    -object "memory-backend-memfd,id=mem0,size=${mem}M,share=on" \
    -object "memory-backend-memfd,id=mem1,size=${mem}M,share=on" \
    -numa node,nodeid=0,cpus=0-1,memdev=mem0 \
    -numa node,nodeid=1,cpus=2-3,memdev=mem1 \
    -kernel "$prefix.vmlinuz" -initrd "$prefix.initrd" \
    -append "root=/dev/vda rw console=ttyS0 init=/sbin/numa-init panic=-1 loglevel=7" \
    -drive "file=$(qesc "$RUN/overlay.qcow2"),format=qcow2,if=virtio,cache=unsafe,discard=unmap" \
    -netdev "$net" -device virtio-net-pci,netdev=n0 \
    -netdev "dgram,id=n1,local.type=inet,local.host=127.0.0.1,local.port=$link_local,remote.type=inet,remote.host=127.0.0.1,remote.port=$link_remote" \
    -device "virtio-net-pci,netdev=n1,mac=52:54:00:76:00:0$COMPUTE_INDEX" \
    -virtfs "local,path=$(qesc "$SHARE"),mount_tag=numastate,security_model=none,readonly=on,id=numastate" \
    -virtfs "local,path=$(qesc "$LOGS"),mount_tag=numalogs,security_model=none,id=numalogs" \
    -device virtio-rng-pci \
    -nodefaults -display none -vga none -no-reboot \
    -serial "file:$(qesc "$CONSOLE")" \
    -qmp "unix:$(qesc "$RUN/qmp.sock"),server=on,wait=off" \
    -pidfile "$PIDFILE" -daemonize \
    2>>"$RUN/qemu.log" || { print_failure; die "QEMU did not start (see $RUN/qemu.log)"; }
  took "QEMU start" "$t0"
  say "QEMU pid $(qemu_pid || echo '?'): 4 vCPUs ($sockets sockets x 1 core x $threads threads), 2 NUMA nodes x $mem MiB, TCG"
}

init_started() { grep -q 'numa-init:' "$CONSOLE" 2>/dev/null || [ -s "$LOGS/init.log" ]; }

qmp() { # COMMAND-LINE...: human monitor commands over QMP, their output as text
  local c req='{"execute":"qmp_capabilities"}'
  for c in "$@"; do req+=$'\n'"{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":\"$c\"}}"; done
  printf '%s\n' "$req" | timeout 10 socat -t 5 - "UNIX-CONNECT:$RUN/qmp.sock" 2>&1 |
    sed -n 's/.*"return": "\(.*\)"}.*/\1/p' | sed 's/\\r\\n/\n/g; s/\\n/\n/g'
}

record_hang() { # DIR: what a VM stalled before init was doing, then stop it
  local dir=$1
  rm -rf "$dir" && mkdir -p "$dir"
  qmp "info status" "info cpus" "info registers -a" >"$dir/qmp.txt" 2>&1 || true
  cp "$CONSOLE" "$dir/console.log" 2>/dev/null || true
  echo "---- $dir/qmp.txt (QEMU's view of the stalled guest)" >&2
  grep -E '^(VM status|\*? *CPU #|RIP=|EIP=)' "$dir/qmp.txt" | head -n 12 >&2 || true
  cmd_down >&2
}

wait_ready() { # PID START: until libvirt answers over TCP, or QEMU dies, or the timeout
  # Returns 2 (VM stopped, evidence recorded) when init has not started within
  # COMPUTE_INIT_TIMEOUT; a healthy boot reaches init in under 10 s here.
  local pid=$1 t_all=$2 t0 deadline init_deadline
  t0=$(now)
  deadline=$((SECONDS + COMPUTE_BOOT_TIMEOUT))
  init_deadline=$((SECONDS + COMPUTE_INIT_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! qemu_pid >/dev/null; then
      print_failure
      die "the VM's QEMU (pid $pid) exited during boot"
    fi
    if libvirt_answers; then
      took "boot to libvirtd answering over TCP" "$t0"
      if ! ls "$(caps_cache)"/*.xml >/dev/null 2>&1; then
        # first boot of this image: keep libvirt's QEMU probe for the next boots (the VM
        # copies it to logs/compute/qemu-caps right after its own readiness check)
        local i
        for ((i = 0; i < 20; i++)); do
          ls "$LOGS"/qemu-caps/*.xml >/dev/null 2>&1 && break
          sleep 0.5
        done
        save_caps
      fi
      took "up" "$t_all"
      say "ready: libvirt at $LIBVIRT_URI; nova-compute log: $LOGS/nova-compute.log"
      return 0
    fi
    if ((SECONDS >= init_deadline)) && ! init_started; then
      print_failure
      echo "compute-vm: ERROR: the VM's init did not start within ${COMPUTE_INIT_TIMEOUT}s (COMPUTE_INIT_TIMEOUT)" >&2
      record_hang "$RUN/hang-${BOOT_ATTEMPT:-1}"
      return 2
    fi
    sleep 2
  done
  print_failure
  die "libvirtd in the VM did not answer at $LIBVIRT_URI within ${COMPUTE_BOOT_TIMEOUT}s (VM still running: compute-vm.sh down)"
}

cmd_down() {
  local pid t0 i
  t0=$(now)
  if ! pid=$(qemu_pid); then
    say "not running"
    rm -f "$PIDFILE"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do # 30 s
    qemu_pid >/dev/null || break
    sleep 0.2
  done
  if qemu_pid >/dev/null; then
    say "QEMU pid $pid ignores SIGTERM: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do qemu_pid >/dev/null || break; sleep 0.2; done
    qemu_pid >/dev/null && die "QEMU pid $pid does not go away"
  fi
  rm -f "$PIDFILE" "$RUN/qmp.sock"
  say "stopped QEMU pid $pid"
  save_caps
  took "down" "$t0"
}

cmd_status() {
  local pid rc=0
  if pid=$(qemu_pid); then
    say "VM: running, QEMU pid $pid, image $(cat "$RUN/image" 2>/dev/null)"
  else
    say "VM: not running"
    return 3
  fi
  if libvirt_answers; then say "libvirt: answers at $LIBVIRT_URI (2 NUMA cells, thread siblings)"
  else say "libvirt: does not answer at $LIBVIRT_URI"; rc=1; fi
  if [ -s "$NUMA_CLOUD_STATE/nova-compute.conf.fragment" ]; then say "controller fragment: present"
  else say "controller fragment: missing ($NUMA_CLOUD_STATE/nova-compute.conf.fragment)"; fi
  local last
  last=$(grep 'nova-compute:' "$LOGS/init.log" 2>/dev/null | tail -1) || true
  if [ -n "$last" ]; then say "nova-compute: ${last#numa-init: }"; else say "nova-compute: no news in $LOGS/init.log"; fi
  return $rc
}

ssh_vm() {
  local tty=()
  [ $# = 0 ] && [ -t 0 ] && tty=(-t)
  ssh "${tty[@]}" -q -i "$RUN/id_ed25519" -p "$PORT_COMPUTE_SSH" -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 -o BatchMode=yes root@127.0.0.1 "$@"
}

cmd_restart_nova() {
  qemu_pid >/dev/null || die "the VM is not running"
  render_boot_files
  say "nova-compute.conf [compute]: $(cpu_sets | tr '\n' ' ')"
  ssh_vm bash /mnt/state/compute/boot/init.sh restart-nova
}

cmd_restart_libvirtd() {
  qemu_pid >/dev/null || die "the VM is not running"
  local t0 deadline
  t0=$(now)
  # bash inside (the VM's /bin/sh is dash), with the command line init.sh starts libvirtd with.
  ssh_vm bash -s <<'EOF2' || die "restarting libvirtd in the VM failed"
pid=$(cat /run/libvirtd.pid)
kill "$pid"
alive() { local s; s=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null) && [ -n "$s" ] && [ "$s" != Z ]; }
for _ in $(seq 100); do alive || break; sleep 0.2; done
if alive; then echo "libvirtd $pid did not stop within 20 s" >&2; exit 1; fi
/usr/sbin/libvirtd -d --listen -f /etc/libvirt/libvirtd.conf -p /run/libvirtd.pid
EOF2
  deadline=$(( $(date +%s) + COMPUTE_BOOT_TIMEOUT ))
  until timeout 10 virsh -c "$LIBVIRT_URI" version >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || die "the VM's libvirtd does not answer at $LIBVIRT_URI ${COMPUTE_BOOT_TIMEOUT}s after its restart"
    sleep 1
  done
  took "libvirtd restart in the VM" "$t0"
}

cmd_logs() {
  local f
  say "console: $CONSOLE"
  for f in "$LOGS"/init.log "$LOGS"/libvirtd.log "$LOGS"/nova-compute.log; do
    echo "---- $f"
    tail -n "${LINES_PER_LOG:-15}" "$f" 2>/dev/null || echo "(none)"
  done
}

case "${1:-}" in
  build) cmd_build ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  caps) virsh -c "$LIBVIRT_URI" capabilities ;;
  ssh) shift; ssh_vm "$@" ;;
  restart-nova) cmd_restart_nova ;;
  restart-libvirtd) cmd_restart_libvirtd ;;
  logs) cmd_logs ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
