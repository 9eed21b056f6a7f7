#!/usr/bin/env bash
# Builds the compute VM's root filesystem image. Called by `compute-vm.sh build`; not meant
# to be run by hand (but it can be: see the variables below).
#
#   OUT          output prefix: writes OUT.img (raw ext4), OUT.vmlinuz, OUT.initrd
#   WORK_DIR     scratch folder for the root filesystem tree (removed at the end)
#   DEB_CACHE    folder keeping downloaded .deb files between builds (speeds up rebuilds)
#   PACKAGES     package list (one a line, '#' comments)
#   MIRROR, SECURITY_MIRROR, IMAGE_SIZE
#
# The image is keyed by a hash of this file and the package list (see compute-vm.sh): what it
# bakes in must depend on nothing else. Everything that changes per run (init script, configs,
# keys) reaches the VM through the 9p share at boot, so editing those needs no rebuild.
set -euo pipefail

: "${OUT:?}" "${WORK_DIR:?}" "${DEB_CACHE:?}" "${PACKAGES:?}"
: "${MIRROR:=http://deb.debian.org/debian}"
: "${SECURITY_MIRROR:=http://deb.debian.org/debian-security}"
: "${IMAGE_SIZE:=6G}"
SUITE=bookworm

ts() { date +%s.%N; }
phase_start=$(ts)
phase() { # phase NAME: prints the previous phase's duration, starts a new one
  local now; now=$(ts)
  [ -n "${phase_name:-}" ] && awk -v s="$phase_start" -v e="$now" -v n="$phase_name" \
    'BEGIN { printf "compute-vm: build: %s took %.1fs\n", n, e - s }'
  phase_name=$1; phase_start=$now
}

root=$WORK_DIR/rootfs
mounted=()
cleanup() {
  local m
  for ((i=${#mounted[@]}-1; i>=0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
  mounted=()
}

rm -rf "$WORK_DIR"
mkdir -p "$WORK_DIR" "$DEB_CACHE"

# What runs inside the chroot must leave the host as it was. Owner, group and mode of every node
# in the host's /dev are compared before and after the build (entries that come or go meanwhile,
# such as terminals, are not this build's doing and are ignored).
dev_state() { find /dev -xdev -maxdepth 2 \( -path /dev/pts -o -path /dev/shm -o -path /dev/mqueue \) -prune -o -printf '%p %u:%g %m\n' | sort; }
dev_before=$(dev_state)
check_host_dev() {
  local changed
  changed=$(join -j1 <(sed 's/ /\t/' <<<"$dev_before" | sort -t$'\t' -k1,1) <(dev_state | sed 's/ /\t/' | sort -t$'\t' -k1,1) -t$'\t' |
    awk -F'\t' '$2 != $3 { print "  " $1 ": was " $2 ", now " $3 }')
  if [ -n "$changed" ]; then
    echo "compute-vm: build: FAILED: the image build changed the host's /dev (owner:group mode):" >&2
    echo "$changed" >&2
    echo "compute-vm: build: restore them by hand (e.g. chown root:kvm /dev/kvm; chmod 660 /dev/kvm) and report this as a bug" >&2
    return 1
  fi
}
# On failure too: a half-done build must not leave the host changed unnoticed.
on_exit() {
  local rc=$?
  cleanup
  if [ "$rc" != 0 ]; then check_host_dev || true; fi
}
trap on_exit EXIT

phase debootstrap
debootstrap --variant=minbase --cache-dir="$DEB_CACHE" "$SUITE" "$root" "$MIRROR" \
  >"$WORK_DIR/debootstrap.log" 2>&1 || { tail -30 "$WORK_DIR/debootstrap.log" >&2; exit 1; }

phase "apt-get install"
cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
cat >"$root/etc/apt/apt.conf.d/90numa" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Retries "3";
EOF
# No daemon may start while installing (there is no init in the chroot anyway).
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
# dpkg without fsync (the tree becomes an image anyway) and without docs: much faster unpacking.
cat >"$root/etc/dpkg/dpkg.cfg.d/90numa" <<'EOF2'
force-unsafe-io
path-exclude=/usr/share/doc/*
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
EOF2
# No initramfs-tools initrd: QEMU boots a tiny busybox initramfs made below (initramfs-tools'
# udev coldplug costs 10-20 s under TCG). update-initramfs is diverted to a no-op for good.
chroot "$root" dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs
printf '#!/bin/sh\nexit 0\n' >"$root/usr/sbin/update-initramfs"
chmod 755 "$root/usr/sbin/update-initramfs"
# The chroot gets a /dev of its own: a tmpfs holding only the character devices apt and dpkg
# use, each bind-mounted from the host, and a new devpts instance. Never the host's whole /dev:
# package scripts in the chroot (udev's, qemu's) re-own device nodes such as /dev/kvm to the
# chroot's group ids, which changed the host's /dev/kvm and broke its libvirtd.
mount -t proc proc "$root/proc"; mounted+=("$root/proc")
mount -t sysfs sysfs "$root/sys"; mounted+=("$root/sys")
mount -t tmpfs -o mode=755,size=16m devtmpfs-private "$root/dev"; mounted+=("$root/dev")
for n in null zero full random urandom tty; do
  : >"$root/dev/$n"
  mount --bind "/dev/$n" "$root/dev/$n"; mounted+=("$root/dev/$n")
done
mkdir -p "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$root/dev/pts"; mounted+=("$root/dev/pts")
ln -s pts/ptmx "$root/dev/ptmx"
ln -s /proc/self/fd "$root/dev/fd"
mkdir -p "$root/var/cache/apt/archives"
mount --bind "$DEB_CACHE" "$root/var/cache/apt/archives"
mounted+=("$root/var/cache/apt/archives")

# Every OpenStack debconf question answered "no": nothing is configured at install time.
pkgs=$(sed -e 's/#.*//' "$PACKAGES" | tr -s ' \t\n' ' ')
chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
  LANG=C.UTF-8 /bin/bash -ec "
    apt-get update -qq
    apt-get install -y -q -o Dpkg::Use-Pty=0 $pkgs
  " >"$WORK_DIR/apt.log" 2>&1 || { tail -40 "$WORK_DIR/apt.log" >&2; exit 1; }
grep -c '^Setting up' "$WORK_DIR/apt.log" | sed 's/^/compute-vm: build: packages set up: /'

phase initramfs
# busybox (static) + the modules that mounting the virtio root disk needs, in load order;
# /init mounts /dev/vda and switches to /sbin/numa-init. init.sh loads the other drivers.
kver=$(ls "$root/lib/modules" | sort -V | tail -1)
ird=$WORK_DIR/initramfs
rm -rf "$ird" && mkdir -p "$ird/bin" "$ird/dev" "$ird/proc" "$ird/sys" "$ird/root"
cp "$root/bin/busybox" "$ird/bin/busybox"
: >"$ird/modules"
for m in virtio_pci virtio_blk crc32c_generic ext4; do
  chroot "$root" modprobe --show-depends -S "$kver" "$m" | awk '$1 == "insmod" { print $2 }'
done | awk '!seen[$0]++' | while read -r ko; do
  mkdir -p "$ird$(dirname "$ko")" && cp "$root$ko" "$ird$ko" && echo "$ko" >>"$ird/modules"
done
[ -s "$ird/modules" ] || { echo "build: no modules found for the initramfs" >&2; exit 1; }
cat >"$ird/init" <<'EOF2'
#!/bin/busybox sh
# initramfs of the compute VM (build-image.sh): virtio disk -> ext4 root -> /sbin/numa-init
B=/bin/busybox
$B mount -t devtmpfs devtmpfs /dev
$B mount -t proc proc /proc
$B mount -t sysfs sysfs /sys
fail() { echo "initramfs: FAILED: $*" >/dev/console; $B sleep 2; $B reboot -f; }
for ko in $($B cat /modules); do $B insmod "$ko" || fail "insmod $ko"; done
i=0
while [ ! -b /dev/vda ]; do
  i=$((i + 1)); [ "$i" -gt 100 ] && fail "no /dev/vda (virtio disk) after 10 s"
  $B sleep 0.1
done
$B mount -t ext4 -o rw /dev/vda /root || fail "mount /dev/vda"
$B mount --move /dev /root/dev && $B mount --move /proc /root/proc && $B mount --move /sys /root/sys
exec $B switch_root /root /sbin/numa-init
EOF2
chmod 755 "$ird/init"
# cpio from the image (the host may have none), reading the tree through a bind mount
mkdir -p "$root/mnt/initramfs"
mount --bind "$ird" "$root/mnt/initramfs"; mounted+=("$root/mnt/initramfs")
chroot "$root" sh -c 'cd /mnt/initramfs && find . | sort | cpio --quiet -o -H newc' >"$WORK_DIR/initrd.cpio" ||
  { echo "build: cpio failed" >&2; exit 1; }
umount "$root/mnt/initramfs" && rmdir "$root/mnt/initramfs"
echo "compute-vm: build: initramfs $(wc -l <"$ird/modules") modules, $(du -h "$WORK_DIR/initrd.cpio" | cut -f1)"

phase configure
# PID 1 of the VM: mounts the run's 9p share and hands over to the init script found there
# (ci/local-cloud/compute/init.sh, copied into the state dir by `compute-vm.sh up`).
cat >"$root/sbin/numa-init" <<'EOF'
#!/bin/bash
# Baked into the compute VM image by build-image.sh. Kernel command line: init=/sbin/numa-init
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mount -o remount,rw / 2>/dev/null
modprobe 9pnet_virtio 2>/dev/null; modprobe 9p 2>/dev/null
mkdir -p /mnt/state
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro numastate /mnt/state &&
   [ -r /mnt/state/compute/boot/init.sh ]; then
  exec /bin/bash /mnt/state/compute/boot/init.sh
fi
echo "numa-init: FAILED: cannot mount the 9p share 'numastate' or find compute/boot/init.sh in it" >/dev/console
exec /bin/bash </dev/console >/dev/console 2>&1
EOF
chmod 755 "$root/sbin/numa-init"
: >"$root/etc/fstab"
echo numa-compute >"$root/etc/hostname"
# Debian's nova-compute.conf sets virt_type=kvm: it is rewritten at every boot, start empty.
[ -f "$root/etc/nova/nova-compute.conf" ] && : >"$root/etc/nova/nova-compute.conf"
# Root logs in over ssh with the per-run key only (port forwarded to 127.0.0.1 on the host).
mkdir -p "$root/root/.ssh" && chmod 700 "$root/root/.ssh"
cat >"$root/etc/ssh/sshd_config.d/numa.conf" <<'EOF'
PermitRootLogin prohibit-password
PasswordAuthentication no
UseDNS no
EOF
# Smaller image: no docs, no apt lists, no man pages.
rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
  "$root"/usr/share/locale/* "$root"/var/log/*.log "$root"/tmp/*

phase "kernel + initrd"
vmlinuz=$(ls "$root"/boot/vmlinuz-* | sort -V | tail -1)
[ -f "$vmlinuz" ] || { echo "build: no kernel in /boot" >&2; exit 1; }
cp "$vmlinuz" "$OUT.vmlinuz.tmp"
cp "$WORK_DIR/initrd.cpio" "$OUT.initrd.tmp"

cleanup
check_host_dev
phase "mkfs.ext4 -d"
rm -f "$OUT.img.tmp"
mkfs.ext4 -q -F -L numa-root -d "$root" -E lazy_itable_init=1,lazy_journal_init=1 \
  "$OUT.img.tmp" "$IMAGE_SIZE" >/dev/null
du -sh --apparent-size "$root" | awk '{print "compute-vm: build: root filesystem " $1}'
mv "$OUT.vmlinuz.tmp" "$OUT.vmlinuz"
mv "$OUT.initrd.tmp" "$OUT.initrd"
mv "$OUT.img.tmp" "$OUT.img"
rm -rf "$WORK_DIR"
phase end
