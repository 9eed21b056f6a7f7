#!/bin/bash
# PID 1 of the compute VM (no systemd). The image's /sbin/numa-init mounts the run's state dir
# (9p tag numastate, read-only) on /mnt/state and execs this file from
# /mnt/state/compute/boot/, where `compute-vm.sh up` copied it with vm.env and the configs.
#
# Also usable from a shell in the VM (compute-vm.sh restart-nova / ssh):
#   bash /mnt/state/compute/boot/init.sh restart-nova   re-read the configs, restart nova-compute
#   bash /mnt/state/compute/boot/init.sh stop-nova       stop nova-compute (no respawn)
#   bash /mnt/state/compute/boot/init.sh start-nova      respawn it again
#
# Progress and failures go to the serial console (compute/console.log on the host) and to
# /var/log/numa/init.log (= $NUMA_CLOUD_STATE/logs/compute/init.log on the host).
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
BOOT=/mnt/state/compute/boot
LOGDIR=/var/log/numa
. "$BOOT/vm.env"

log() {
  local line
  line="numa-init: [$(cut -d' ' -f1 /proc/uptime)s] $*"
  echo "$line" >/dev/console 2>/dev/null
  [ -w "$LOGDIR/init.log" ] && echo "$line" >>"$LOGDIR/init.log"
  return 0
}
fail() { log "FAILED: $*"; }

# ---- nova-compute: one supervised process; the supervisor respawns it after an exit --------
NOVA_PIDFILE=/run/nova-compute.pid
NOVA_STOP=/run/nova-compute.stop

nova_pid() { # the running nova-compute's PID, if any (zombies and reused PIDs excluded)
  local pid
  pid=$(cat "$NOVA_PIDFILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && grep -qa nova-compute "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

nova_configs() {
  # nova.conf = the controller's fragment (transport_url, [placement], [glance], ...);
  # nova-compute.conf = this host's settings, read second so they win.
  install -m 0640 "/mnt/state/nova-compute.conf.fragment" /etc/nova/nova.conf &&
    install -m 0640 "$BOOT/nova-compute.conf" /etc/nova/nova-compute.conf
}

FRAGMENT=/mnt/state/nova-compute.conf.fragment
frag_stamp() { stat -c '%i %Y %s' "$FRAGMENT" 2>/dev/null; }
alive() { [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

nova_supervise() { # runs in the background for the VM's lifetime
  # Starts nova-compute once the controller's fragment exists; starts it again after it exits
  # (e.g. MessagingTimeout while the controller restarts), and restarts it when the controller
  # rewrites the fragment (the controller writes it only when it changes, or after a purge:
  # a new database that has no service record of this host).
  local first=1 pid rc stamp now i
  while :; do
    if [ -e "$NOVA_STOP" ]; then sleep 2; continue; fi
    if [ ! -s "$FRAGMENT" ]; then
      [ "$first" = 1 ] && log "nova-compute: waiting for \$NUMA_CLOUD_STATE/nova-compute.conf.fragment (written by the controller)"
      first=0; sleep 2; continue
    fi
    sleep 1 # let a writer finish the fragment
    . "$BOOT/vm.env" # compute-vm.sh restart-nova may have changed it
    stamp=$(frag_stamp)
    if ! nova_configs; then fail "nova-compute: cannot install the configs"; sleep 10; continue; fi
    /usr/bin/nova-compute --config-file /etc/nova/nova.conf --config-file /etc/nova/nova-compute.conf \
      --log-file "$LOGDIR/nova-compute.log" >>"$LOGDIR/nova-compute.stdout" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$NOVA_PIDFILE"
    log "nova-compute: started (pid $pid, host $COMPUTE_HOST, cpu mode $COMPUTE_CPU_MODE); log: logs/compute/nova-compute.log"
    while alive "$pid"; do
      sleep 5
      now=$(frag_stamp)
      if [ -n "$now" ] && [ "$now" != "$stamp" ] && alive "$pid" && [ ! -e "$NOVA_STOP" ]; then
        log "nova-compute: the controller rewrote the fragment: restarting nova-compute"
        /bin/kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < 60; i++)); do alive "$pid" || break; sleep 1; done
        alive "$pid" && /bin/kill -KILL "$pid" 2>/dev/null
      fi
    done
    wait "$pid"; rc=$?
    rm -f "$NOVA_PIDFILE"
    log "nova-compute: exited with status $rc"
    [ -e "$NOVA_STOP" ] || sleep 3
  done
}

nova_stop() {
  local pid i
  touch "$NOVA_STOP"
  pid=$(nova_pid) || { log "nova-compute: not running"; return 0; }
  /bin/kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 60; i++)); do
    nova_pid >/dev/null || { log "nova-compute: stopped"; return 0; }
    sleep 1
  done
  /bin/kill -KILL "$pid" 2>/dev/null
  for ((i = 0; i < 10; i++)); do nova_pid >/dev/null || { log "nova-compute: killed"; return 0; }; sleep 1; done
  fail "nova-compute: pid $pid does not go away"; return 1
}

case "${1:-boot}" in
  stop-nova) nova_stop; exit $? ;;
  start-nova) rm -f "$NOVA_STOP"; log "nova-compute: respawn enabled"; exit 0 ;;
  restart-nova)
    nova_stop || exit 1
    # the supervisor re-installs the configs before it starts the new process
    rm -f "$NOVA_STOP"
    for ((i = 0; i < 30; i++)); do pid=$(nova_pid) && { echo "nova-compute restarted: pid $pid"; exit 0; }; sleep 1; done
    echo "nova-compute did not come back within 30 s (is the fragment there?)" >&2; exit 1 ;;
  boot) ;;
  *) echo "usage: $0 [boot|stop-nova|start-nova|restart-nova]" >&2; exit 2 ;;
esac

# ---- boot ----------------------------------------------------------------------------------
if [ "$$" != 1 ]; then echo "init.sh boot must run as PID 1" >&2; exit 2; fi

mkdir -p "$LOGDIR"
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 numalogs "$LOGDIR"; then
  : >"$LOGDIR/init.log"
else
  fail "cannot mount the 9p share numalogs (host: \$NUMA_CLOUD_STATE/logs/compute): logs stay in the VM"
fi
log "boot: kernel $(uname -r), $(nproc) CPUs"

# Pseudo filesystems (the initramfs moved /proc, /sys and /dev here).
mountpoint -q /run || mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mkdir -p /dev/pts /dev/shm /run/lock /run/sshd /tmp
mountpoint -q /dev/pts || mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mountpoint -q /dev/shm || mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
mountpoint -q /tmp || mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
ln -sfn /run/lock /var/lock 2>/dev/null
# cgroup v2 with every controller libvirt and Nova use delegated to child groups.
mountpoint -q /sys/fs/cgroup || mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup ||
  fail "cannot mount cgroup2"
for c in cpuset cpu io memory pids; do
  echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || fail "cgroup controller $c not enabled"
done
log "cgroup2: subtree_control = $(cat /sys/fs/cgroup/cgroup.subtree_control)"

# Huge pages per NUMA node, and hugetlbfs mounted, before libvirtd starts.
mkdir -p /dev/hugepages
for n in /sys/devices/system/node/node[0-9]*; do
  f=$n/hugepages/hugepages-2048kB/nr_hugepages
  [ -w "$f" ] && echo "$COMPUTE_HUGEPAGES_PER_NODE" >"$f"
done
mountpoint -q /dev/hugepages || mount -t hugetlbfs -o pagesize=2M hugetlbfs /dev/hugepages ||
  fail "cannot mount hugetlbfs on /dev/hugepages"
hp=""
for n in /sys/devices/system/node/node[0-9]*; do
  hp="$hp ${n##*/}=$(cat "$n/hugepages/hugepages-2048kB/nr_hugepages" 2>/dev/null || echo -)"
done
log "hugepages 2M per node (wanted $COMPUTE_HUGEPAGES_PER_NODE):$hp"

# Identity: the hostname is what libvirt reports and Nova's hypervisor_hostname.
hostname "$COMPUTE_HOST"
echo "$COMPUTE_HOST" >/etc/hostname
cat >/etc/hosts <<EOF
127.0.0.1 localhost
$VM_IP $COMPUTE_HOST
EOF
: >/etc/resolv.conf # nothing to resolve: every endpoint is an IP address
[ -s /etc/machine-id ] || tr -d - </proc/sys/kernel/random/uuid >/etc/machine-id

# Drivers the small initramfs did not load (no udev runs after it: load them by name).
modprobe -a virtio_net virtio_rng 2>/dev/null || fail "modprobe virtio_net virtio_rng"

# Network: QEMU user networking (restrict=on); static address, no DHCP client needed.
ip link set lo up
nic=""
for d in /sys/class/net/*; do
  [ "${d##*/}" = lo ] && continue
  nic=${d##*/}; break
done
if [ -n "$nic" ]; then
  ip link set "$nic" up && ip addr add "$VM_IP/24" dev "$nic" && ip route add default via "$VM_GATEWAY" ||
    fail "network set-up of $nic"
  log "network: $nic $VM_IP/24 via $VM_GATEWAY; controller at $GUESTFWD_ADDR"
else
  fail "no network interface"
fi

# The hosts' private link (second NIC) for migrations between compute VMs.
link=""
for d in /sys/class/net/*; do
  case ${d##*/} in lo | "$nic") continue ;; esac
  link=${d##*/}; break
done
if [ -n "$link" ] && [ -n "${MIGRATION_IP:-}" ]; then
  ip link set "$link" up && ip addr add "$MIGRATION_IP/24" dev "$link" ||
    fail "network set-up of $link (migration link)"
  log "network: $link $MIGRATION_IP/24 (link between compute VMs)"
fi

# ssh: for debugging (compute-vm.sh ssh, the run's key) and between compute VMs (nova-compute
# as root copies disks to the other host on a cold migration).
if [ -x /usr/sbin/sshd ] && [ -s "$BOOT/authorized_keys" ]; then
  install -d -m 700 /root/.ssh && install -m 600 "$BOOT/authorized_keys" /root/.ssh/authorized_keys
  if [ -s "$BOOT/migration_key" ]; then
    install -m 600 "$BOOT/migration_key" /root/.ssh/id_ed25519
    printf 'Host 192.168.76.*\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n' >/root/.ssh/config
  fi
  /usr/sbin/sshd -E "$LOGDIR/sshd.log" && log "sshd: started" || fail "sshd did not start"
fi

# libvirt: virtlogd, then libvirtd listening on TCP 16509 (auth none; reachable only through
# QEMU's hostfwd on the host's loopback).
install -m 0644 "$BOOT/libvirtd.conf" /etc/libvirt/libvirtd.conf
rm -f /etc/libvirt/qemu/networks/autostart/default.xml # no dnsmasq, no bridge needed
mkdir -p "$LOGDIR/libvirt-qemu"
rm -rf /var/log/libvirt/qemu && ln -s "$LOGDIR/libvirt-qemu" /var/log/libvirt/qemu
# QEMU capabilities probed by an earlier boot of the same image (compute-vm.sh keeps them in
# $NUMA_CLOUD_CACHE): saves libvirtd's probe (~15 s under TCG). libvirtd re-probes by itself
# when they do not match this host.
if ls "$BOOT"/qemu-caps/*.xml >/dev/null 2>&1; then
  mkdir -p /var/cache/libvirt/qemu/capabilities
  cp "$BOOT"/qemu-caps/*.xml /var/cache/libvirt/qemu/capabilities/
  log "libvirt: seeded the QEMU capabilities cache"
fi
/usr/sbin/virtlogd -d || fail "virtlogd did not start"
/usr/sbin/libvirtd -d --listen -f /etc/libvirt/libvirtd.conf -p /run/libvirtd.pid ||
  fail "libvirtd did not start (see logs/compute/libvirtd.log)"
t0=$(cut -d' ' -f1 /proc/uptime)
for ((i = 0; i < 120; i++)); do
  if virsh -q -c qemu:///system capabilities >/tmp/caps.xml 2>/tmp/caps.err; then
    log "libvirtd: ready after $(awk -v s="$t0" '{printf "%.1f", $1 - s}' /proc/uptime)s," \
      "$(grep -c '<cell ' /tmp/caps.xml) NUMA cells, $(grep -c '<cpu id=' /tmp/caps.xml) CPUs"
    break
  fi
  sleep 1
done
[ "$i" = 120 ] && fail "libvirtd does not answer on qemu:///system: $(tail -1 /tmp/caps.err)"
mkdir -p "$LOGDIR/qemu-caps" && cp /var/cache/libvirt/qemu/capabilities/*.xml "$LOGDIR/qemu-caps/" 2>/dev/null

# nova-compute, supervised (waits for the controller's config fragment).
rm -f "$NOVA_STOP"
nova_supervise &

# PID 1 duties: reap orphans (bash reaps any child on SIGCHLD) and stay alive.
trap 'log "SIGTERM: stopping"; nova_stop; /bin/kill -TERM $(cat /run/libvirtd.pid) 2>/dev/null; sync; sleep 2; echo o >/proc/sysrq-trigger' TERM
while :; do
  sleep 3600 &
  wait $!
done
