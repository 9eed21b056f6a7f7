#!/usr/bin/env bash
# Sample nightly job: numa-conformance against a real devstack (OpenStack Zed) in a nested VM
# with two NUMA nodes. Guide and background: ci/devstack/README.md.
#
# Runs on the "L0" machine (Linux with KVM, libvirt's qemu:///system with its "default" NAT
# network, this repository checked out), as root: it writes the VM's disks under
# /var/lib/libvirt/images. From the repository root:
#
#   ci/devstack/nightly.sh
#
# Phases (each timed; the exit status is the first failure's, else make conformance's):
#   1. l1-vm     Ubuntu 22.04 cloud image (cached, checksum verified) + a fresh qcow2 overlay,
#                a cloud-init seed (user "stack", ssh keys generated for this run,
#                numa-hugepages.service), ci/devstack/l1-vm.xml defined and started; wait for
#                ssh and cloud-init; check 2 NUMA nodes, thread siblings, huge pages per node.
#   2. stack     devstack $DEVSTACK_BRANCH with ci/devstack/local.conf (random passwords).
#   3. checks    libvirt in the VM shows 2 cells with siblings; nova-compute's resource provider
#                has the PCPU/VCPU inventory of the CPU sets; the blank test image; clouds.yaml
#                and the harness hosts file written on L0.
#   4. conformance  make conformance with OS_CLOUD=devstack-admin.
#   5. always    reports/ and the VM's logs into $ARTIFACTS; the VM destroyed and undefined and
#                its disks deleted (KEEP_L1=1 keeps it and prints how to reach it).
# One run per L1_NAME at a time: a run first destroys a leftover VM of that name.
#
# Settings (environment):
#   DEVSTACK_REPO (https://opendev.org/openstack/devstack), DEVSTACK_BRANCH (unmaintained/zed:
#   upstream's name for Zed since stable/zed was deleted), L0_URI (qemu:///system),
#   L1_NAME (numa-devstack-l1), L1_HOSTNAME (devstack-compute: Nova's compute host name),
#   L1_IMAGE_URL (Ubuntu 22.04 jammy cloud image), L1_DISK_DIR (/var/lib/libvirt/images),
#   L1_DISK_GB (60), L1_NETWORK (default), BOOT_TIMEOUT (600 s to ssh + cloud-init),
#   STACK_TIMEOUT (7200 s for stack.sh), TEST_IMAGE (numa-conformance-blank),
#   ARTIFACTS (/var/tmp/numa-conformance-nightly/<UTC time>), KEEP_L1 (0).
set -euo pipefail
shopt -s inherit_errexit # set -e also inside $(...)

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
stamp=$(date -u +%Y%m%dT%H%M%SZ)

: "${DEVSTACK_REPO:=https://opendev.org/openstack/devstack}"
: "${DEVSTACK_BRANCH:=unmaintained/zed}"
: "${L0_URI:=qemu:///system}"
: "${L1_NAME:=numa-devstack-l1}"
: "${L1_HOSTNAME:=devstack-compute}"
: "${L1_IMAGE_URL:=https://cloud-images.ubuntu.com/jammy/current/jammy-server-cloudimg-amd64.img}"
: "${L1_DISK_DIR:=/var/lib/libvirt/images}"
: "${L1_DISK_GB:=60}"
: "${L1_NETWORK:=default}"
: "${BOOT_TIMEOUT:=600}"
: "${STACK_TIMEOUT:=7200}"
: "${TEST_IMAGE:=numa-conformance-blank}"
: "${ARTIFACTS:=/var/tmp/numa-conformance-nightly/$stamp}"
: "${KEEP_L1:=0}"

DISK=$L1_DISK_DIR/$L1_NAME.qcow2
SEED=$L1_DISK_DIR/$L1_NAME-seed.iso
VIRSH=(virsh -q -c "$L0_URI")
WORK=""   # keys, seed files, clouds.yaml, harness.yaml of this run
L1_IP=""

say() { echo "nightly: $*"; }
die() { echo "nightly: ERROR: $*" >&2; exit 1; }

# phase NAME CMD...: run CMD and print its wall time. CMD runs under set -e (not in an || list,
# which would switch set -e off inside it): a failure exits the script, and the EXIT trap prints
# the failed phase's time and status.
PHASE="" PHASE_START=""
phase() {
  PHASE=$1 PHASE_START=$EPOCHREALTIME
  shift
  echo "=== phase: $PHASE"
  "$@"
  phase_done 0
}
phase_done() {
  [ -n "$PHASE" ] || return 0
  awk -v s="$PHASE_START" -v e="$EPOCHREALTIME" -v n="$PHASE" -v rc="$1" \
    'BEGIN { printf "=== phase %s took %.1fs (exit %d)\n", n, e - s, rc }'
  PHASE=""
}

# conf_get META SECTION KEY: a value of ci/devstack/local.conf, e.g.
# conf_get 'post-config|$NOVA_CPU_CONF' compute cpu_shared_set (the single source of the sets).
conf_get() {
  awk -v meta="[[$1]]" -v sect="[$2]" -v key="$3" '
    /^\[\[/ { inmeta = ($0 == meta); s = ""; next }
    inmeta && /^\[/ { s = $0; next }
    inmeta && s == sect && $0 !~ /^[ \t]*#/ {
      i = index($0, "="); if (!i) next
      k = substr($0, 1, i - 1); gsub(/[ \t]/, "", k)
      if (k == key) { v = substr($0, i + 1); gsub(/^[ \t]+|[ \t]+$/, "", v); print v; exit }
    }' "$HERE/local.conf"
}

cpu_count() { # number of CPUs in a list such as 0-1,4 (no ^exclusions)
  local n=0 part parts
  IFS=, read -ra parts <<<"$1"
  for part in "${parts[@]}"; do
    if [[ $part == *-* ]]; then n=$((n + ${part#*-} - ${part%-*} + 1)); else n=$((n + 1)); fi
  done
  echo "$n"
}

l1() { # ssh to the L1 VM as stack, host key checked against the key this run generated
  ssh -q -i "$WORK/id_ed25519" -o UserKnownHostsFile="$WORK/known_hosts" \
    -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=10 \
    -o ServerAliveInterval=30 "stack@$L1_IP" "$@"
}

preflight() {
  local t missing=()
  for t in virsh qemu-img curl sha256sum ssh ssh-keygen base64 make go; do
    command -v "$t" >/dev/null || missing+=("$t")
  done
  command -v cloud-localds >/dev/null || command -v genisoimage >/dev/null ||
    command -v xorriso >/dev/null || missing+=("cloud-localds|genisoimage|xorriso")
  [ ${#missing[@]} = 0 ] || die "missing on this machine: ${missing[*]}"
  [ -w "$L1_DISK_DIR" ] || die "$L1_DISK_DIR is not writable (run as root, or set L1_DISK_DIR)"
  "${VIRSH[@]}" uri >/dev/null || die "cannot connect to $L0_URI"
  [ -e /dev/kvm ] || say "warning: no /dev/kvm; l1-vm.xml asks for KVM (README: the TCG variant)"
}

destroy_l1() {
  "${VIRSH[@]}" dominfo "$L1_NAME" >/dev/null 2>&1 || { rm -f "$DISK" "$SEED"; return 0; }
  "${VIRSH[@]}" destroy "$L1_NAME" >/dev/null 2>&1 || true
  "${VIRSH[@]}" undefine "$L1_NAME" >/dev/null
  rm -f "$DISK" "$SEED"
  say "L1 VM $L1_NAME destroyed and undefined, disks deleted"
}

base_image() { # prints the cached, checksum-verified base image
  local sums want base f
  sums=$(curl -fsSL --retry 3 "${L1_IMAGE_URL%/*}/SHA256SUMS") || die "cannot fetch SHA256SUMS next to $L1_IMAGE_URL"
  want=$(awk -v f="${L1_IMAGE_URL##*/}" '$2 == f || $2 == "*" f { print $1 }' <<<"$sums")
  [ -n "$want" ] || die "${L1_IMAGE_URL##*/} is not in SHA256SUMS"
  base=$L1_DISK_DIR/$L1_NAME-base-${want:0:16}.img
  if [ ! -s "$base" ]; then
    say "downloading $L1_IMAGE_URL" >&2
    curl -fsSL --retry 3 -o "$base.part" "$L1_IMAGE_URL"
    echo "$want  $base.part" | sha256sum -c --quiet - >&2 || { rm -f "$base.part"; die "checksum mismatch"; }
    mv "$base.part" "$base"
    for f in "$L1_DISK_DIR/$L1_NAME"-base-*.img; do [ "$f" = "$base" ] || rm -f "$f"; done
  fi
  echo "$base"
}

seed() { # cloud-init NoCloud seed: user stack, this run's ssh keys, the huge pages unit
  ssh-keygen -q -t ed25519 -N '' -C numa-nightly -f "$WORK/id_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C "$L1_HOSTNAME" -f "$WORK/l1_host_ed25519"
  cat >"$WORK/meta-data" <<EOF
instance-id: $L1_NAME-$stamp
local-hostname: $L1_HOSTNAME
EOF
  cat >"$WORK/user-data" <<EOF
#cloud-config
hostname: $L1_HOSTNAME
manage_etc_hosts: true
ssh_pwauth: false
users:
  - name: stack
    gecos: devstack
    homedir: /opt/stack
    shell: /bin/bash
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    lock_passwd: true
    ssh_authorized_keys:
      - $(cat "$WORK/id_ed25519.pub")
ssh_deletekeys: true
ssh_genkeytypes: []
ssh_keys:
  ed25519_private: |
$(sed 's/^/    /' "$WORK/l1_host_ed25519")
  ed25519_public: $(cat "$WORK/l1_host_ed25519.pub")
write_files:
  - path: /etc/systemd/system/numa-hugepages.service
    permissions: "0644"
    encoding: b64
    content: $(base64 -w0 "$HERE/numa-hugepages.service")
runcmd:
  - [chmod, "0755", /opt/stack]
  - [systemctl, daemon-reload]
  - [systemctl, enable, --now, numa-hugepages.service]
package_update: true
packages: [git]
EOF
  (
    cd "$WORK"
    if command -v cloud-localds >/dev/null; then
      cloud-localds "$SEED" user-data meta-data
    elif command -v genisoimage >/dev/null; then
      genisoimage -quiet -output "$SEED" -volid cidata -joliet -rock user-data meta-data
    else
      xorriso -as mkisofs -quiet -o "$SEED" -V cidata -J -R user-data meta-data
    fi
  )
}

boot_l1() {
  local base deadline rc
  destroy_l1 # a VM of an interrupted run
  base=$(base_image)
  qemu-img create -q -f qcow2 -F qcow2 -b "$base" "$DISK" "${L1_DISK_GB}G"
  seed
  sed -e "s|<name>numa-devstack-l1</name>|<name>$L1_NAME</name>|" \
    -e "s|/var/lib/libvirt/images/numa-devstack-l1.qcow2|$DISK|" \
    -e "s|/var/lib/libvirt/images/numa-devstack-l1-seed.iso|$SEED|" \
    -e "s|<source network='default'/>|<source network='$L1_NETWORK'/>|" \
    "$HERE/l1-vm.xml" >"$WORK/l1-vm.xml"
  if [ "$("${VIRSH[@]}" net-info "$L1_NETWORK" | awk '$1 == "Active:" { print $2 }')" != yes ]; then
    "${VIRSH[@]}" net-start "$L1_NETWORK" >/dev/null
  fi
  "${VIRSH[@]}" define "$WORK/l1-vm.xml" >/dev/null
  "${VIRSH[@]}" start "$L1_NAME" >/dev/null
  say "L1 VM $L1_NAME started: 4 vCPUs (2 sockets x 1 core x 2 threads), 2 NUMA nodes"

  deadline=$((SECONDS + BOOT_TIMEOUT))
  until L1_IP=$("${VIRSH[@]}" domifaddr "$L1_NAME" --source lease 2>/dev/null |
    awk '$3 == "ipv4" { sub(/\/.*/, "", $4); print $4; exit }') && [ -n "$L1_IP" ]; do
    ((SECONDS < deadline)) || die "no DHCP lease for $L1_NAME on network $L1_NETWORK within ${BOOT_TIMEOUT}s"
    sleep 5
  done
  echo "$L1_IP $(cut -d' ' -f1,2 "$WORK/l1_host_ed25519.pub")" >"$WORK/known_hosts"
  say "L1 address $L1_IP"
  until l1 true 2>/dev/null; do
    ((SECONDS < deadline)) || die "no ssh to stack@$L1_IP within ${BOOT_TIMEOUT}s"
    sleep 5
  done
  rc=0
  l1 cloud-init status --wait >/dev/null || rc=$?
  # cloud-init 23.4+ exits 2 for warnings only (e.g. a deprecated key): not a failure here
  [ "$rc" = 0 ] || [ "$rc" = 2 ] || die "cloud-init failed in the VM (exit $rc): $(l1 cloud-init status --long 2>&1 | tail -5)"

  # the topology stack.sh would otherwise spend an hour on
  local nodes sib hp want
  nodes=$(l1 'ls -d /sys/devices/system/node/node[0-9]* | wc -l')
  [ "$nodes" = 2 ] || die "the VM has $nodes NUMA nodes, want 2"
  sib=$(l1 cat /sys/devices/system/cpu/cpu0/topology/thread_siblings_list)
  [ "$sib" = 0-1 ] || die "CPU 0's thread siblings in the VM are '$sib', want 0-1 (CPU model: see l1-vm.xml)"
  want=$(sed -n 's/^Environment=HUGEPAGES_PER_NODE=//p' "$HERE/numa-hugepages.service")
  hp=$(l1 'cat /sys/devices/system/node/node*/hugepages/hugepages-2048kB/nr_hugepages' | tr '\n' ' ')
  [ "$hp" = "$want $want " ] || die "2 MiB huge pages per node in the VM: $hp, want $want on each"
  say "VM: 2 NUMA nodes, siblings 0-1, $want x 2 MiB huge pages per node"
}

stack() {
  local pw
  pw=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
  sed "s/^\([A-Z_]*_PASSWORD\)=change-me-.*/\1=$pw/" "$HERE/local.conf" | l1 'cat >local.conf'
  l1 "rm -rf devstack && git clone -q --depth 1 -b '$DEVSTACK_BRANCH' '$DEVSTACK_REPO' devstack && cp local.conf devstack/local.conf"
  say "stack.sh ($DEVSTACK_BRANCH; output in $ARTIFACTS/stack.sh.out)"
  timeout "$STACK_TIMEOUT" ssh -i "$WORK/id_ed25519" -o UserKnownHostsFile="$WORK/known_hosts" \
    -o StrictHostKeyChecking=yes -o BatchMode=yes -o ServerAliveInterval=30 "stack@$L1_IP" \
    'cd devstack && ./stack.sh' >"$ARTIFACTS/stack.sh.out" 2>&1 || {
    tail -n 40 "$ARTIFACTS/stack.sh.out" >&2
    die "stack.sh failed (full output: $ARTIFACTS/stack.sh.out)"
  }
}

checks() {
  local shared dedicated
  # shellcheck disable=SC2016 # literal meta-section names of local.conf
  shared=$(conf_get 'post-config|$NOVA_CPU_CONF' compute cpu_shared_set)
  # shellcheck disable=SC2016
  dedicated=$(conf_get 'post-config|$NOVA_CPU_CONF' compute cpu_dedicated_set)
  l1 HOST="$L1_HOSTNAME" IMG="$TEST_IMAGE" PCPUS="$(cpu_count "$dedicated")" VCPUS="$(cpu_count "$shared")" \
    bash -s <<'EOF'
set -euo pipefail
export OS_CLOUD=devstack-admin OS_PLACEMENT_API_VERSION=1.6 # traits need placement 1.6
caps=$(virsh -r -c qemu:///system capabilities)
cells=$(grep -c "<cell id=" <<<"$caps")
[ "$cells" = 2 ] || { echo "libvirt in the VM reports $cells NUMA cells, want 2" >&2; exit 1; }
grep -q "siblings='0-1'" <<<"$caps" || { echo "libvirt in the VM shows no thread siblings 0-1" >&2; exit 1; }
rps=$(openstack resource provider list -f value -c uuid -c name)
rp=$(awk -v h="$HOST" '$2 == h || index($2, h ".") == 1 { print $1; exit }' <<<"$rps")
[ -n "$rp" ] || { echo "no resource provider named $HOST; there are: $rps" >&2; exit 1; }
inv=$(openstack resource provider inventory list "$rp" -f value -c resource_class -c total | sort | tr '\n' ' ')
echo "resource provider $HOST: $inv"
grep -q "PCPU $PCPUS " <<<"$inv" && grep -q "VCPU $VCPUS " <<<"$inv" ||
  { echo "want PCPU $PCPUS and VCPU $VCPUS (local.conf's cpu_dedicated_set and cpu_shared_set)" >&2; exit 1; }
traits=$(openstack resource provider trait list "$rp" -f value)
grep -qx HW_CPU_HYPERTHREADING <<<"$traits" ||
  { echo "no HW_CPU_HYPERTHREADING trait on $HOST" >&2; exit 1; }
if ! openstack image show "$IMG" -f value -c id >/dev/null 2>&1; then
  qemu-img create -q -f qcow2 /tmp/blank.qcow2 64M
  openstack image create --disk-format qcow2 --container-format bare --public \
    --file /tmp/blank.qcow2 "$IMG" -f value -c id >/dev/null
fi
EOF
  l1 cat /etc/openstack/clouds.yaml >"$WORK/clouds.yaml"
  cat >"$WORK/harness.yaml" <<EOF
# Written by ci/devstack/nightly.sh: the devstack L1 VM's compute host.
hosts:
  $L1_HOSTNAME:
    uri: qemu+ssh://stack@$L1_IP/system
    ssh: {key: $WORK/id_ed25519, known_hosts: $WORK/known_hosts}
    readonly: true
    cpu_shared_set: "$shared"
    cpu_dedicated_set: "$dedicated"
EOF
  cp "$WORK/harness.yaml" "$ARTIFACTS/harness.yaml"
}

conformance() {
  # NUMA_HARNESS_HOSTS: the hosts file for the suites (its variable name is settled when the
  # suites land; today `make conformance` with OS_CLOUD set only says they are not built yet).
  cd "$REPO"
  OS_CLIENT_CONFIG_FILE=$WORK/clouds.yaml OS_CLOUD=devstack-admin \
    NUMA_HARNESS_HOSTS=$WORK/harness.yaml TEST_IMAGE=$TEST_IMAGE \
    make conformance 2>&1 | tee "$ARTIFACTS/make-conformance.log"
}

collect() {
  mkdir -p "$ARTIFACTS"
  if [ -d "$REPO/reports" ]; then
    mkdir -p "$ARTIFACTS/reports" && cp -a "$REPO/reports/." "$ARTIFACTS/reports/"
  fi
  [ -n "$L1_IP" ] && l1 true 2>/dev/null || return 0
  l1 'sudo journalctl --no-pager -o short-precise -u "devstack@*"' >"$ARTIFACTS/l1-devstack-services.log" 2>&1 || true
  l1 'sudo journalctl --no-pager -b -u numa-hugepages -u libvirtd -u cloud-final' >"$ARTIFACTS/l1-boot.log" 2>&1 || true
  l1 'virsh -r -c qemu:///system capabilities' >"$ARTIFACTS/l1-capabilities.xml" 2>&1 || true
  # shellcheck disable=SC2016 # expanded in the VM
  l1 'for d in $(virsh -r -c qemu:///system list --all --name); do echo "<!-- $d -->"; virsh -r -c qemu:///system dumpxml "$d"; done' \
    >"$ARTIFACTS/l1-domains.xml" 2>&1 || true
  # configs hold this run's random passwords; the VM is gone after the run
  l1 'sudo tar -C / -czf - --ignore-failed-read opt/stack/logs etc/nova etc/libvirt var/log/libvirt 2>/dev/null' \
    >"$ARTIFACTS/l1-logs.tar.gz" || true
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  phase_done "$rc"
  phase collect collect
  if [ "$KEEP_L1" = 1 ] && [ -n "$L1_IP" ]; then
    say "KEEP_L1=1: the VM stays: ssh -i $WORK/id_ed25519 -o UserKnownHostsFile=$WORK/known_hosts stack@$L1_IP"
    say "remove it with: virsh -c $L0_URI destroy $L1_NAME; virsh -c $L0_URI undefine $L1_NAME; rm -rf $DISK $SEED $WORK"
  else
    destroy_l1
    [ -z "$WORK" ] || rm -rf "$WORK"
  fi
  say "artifacts in $ARTIFACTS; exit $rc"
  exit "$rc"
}

mkdir -p "$ARTIFACTS"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/numa-devstack.XXXXXX")
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$EPOCHREALTIME
phase preflight preflight
phase l1-vm boot_l1
phase stack stack
phase checks checks
phase conformance conformance
awk -v s="$start" -v e="$EPOCHREALTIME" 'BEGIN { printf "nightly: total %.1fs\n", e - s }'
