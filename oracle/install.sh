#!/bin/sh
# Install what the Nova oracle (oracle/nova_oracle.py) needs: Debian's
# python3-nova, importable by the system interpreter.
#
# Idempotent: does nothing (and says so) when the interpreter can already
# `import nova`.  Otherwise runs `apt-get update` and
# `apt-get install --no-install-recommends python3-nova` as root (or through
# `sudo -n` when not root), waiting for the dpkg/apt locks if another apt is
# running (it never kills anything).  Prints what it did and how long it took;
# exits non-zero with a clear message if it could not install.
#
# Environment:
#   NOVA_ORACLE_PYTHON   interpreter to check (default /usr/bin/python3)
#   NOVA_ORACLE_LOCK_WAIT  seconds to wait for apt/dpkg locks (default 900)
set -u

PY="${NOVA_ORACLE_PYTHON:-/usr/bin/python3}"
LOCK_WAIT="${NOVA_ORACLE_LOCK_WAIT:-900}"
PKG=python3-nova
start=$(date +%s)

say() { printf 'oracle/install.sh: %s\n' "$*"; }
die() { printf 'oracle/install.sh: ERROR: %s\n' "$*" >&2; exit 1; }
elapsed() { echo $(( $(date +%s) - start ))s; }

nova_version() {
	"$PY" -c 'import importlib.metadata as m; print(m.version("nova"))' 2>/dev/null \
		|| "$PY" -c 'from nova import version; print(version.version_string())' 2>/dev/null
}

if [ -x "$PY" ] && "$PY" -c 'import nova' >/dev/null 2>&1; then
	say "nova $(nova_version) already importable by $PY; nothing to do ($(elapsed))"
	exit 0
fi

command -v apt-get >/dev/null 2>&1 \
	|| die "$PY cannot import nova and apt-get is not available; install Debian's $PKG (or point NOVA_ORACLE_PYTHON at an interpreter with nova)"

if [ "$(id -u)" -eq 0 ]; then
	SUDO=
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	SUDO="sudo -n"
else
	die "$PY cannot import nova and installing $PKG needs root (run as root, or allow passwordless sudo)"
fi

log=$(mktemp /tmp/oracle-install.XXXXXX) || die "mktemp failed"
trap 'rm -f "$log"' EXIT

# run_apt DESCRIPTION ARGS...: runs apt-get, retrying while another apt/dpkg
# holds the locks (DPkg::Lock::Timeout covers most of it; the loop covers
# apt versions or lock files it does not).
run_apt() {
	what=$1; shift
	deadline=$(( $(date +%s) + LOCK_WAIT ))
	tries=0
	while :; do
		say "$what: apt-get $*"
		if $SUDO env DEBIAN_FRONTEND=noninteractive apt-get \
			-o DPkg::Lock::Timeout="$LOCK_WAIT" "$@" >"$log" 2>&1; then
			return 0
		fi
		if grep -Eqi 'could not get lock|unable to acquire the dpkg frontend lock|unable to lock|is another process using it' "$log" \
			&& [ "$(date +%s)" -lt "$deadline" ]; then
			say "$what: apt/dpkg lock held by another process; waiting 10s and retrying"
			sleep 10
			continue
		fi
		tries=$((tries + 1))
		if [ "$tries" -lt 3 ]; then
			# Mirrors fail transiently; a second attempt usually works.
			say "$what failed (attempt $tries of 3); last lines:"
			tail -n 5 "$log" | sed 's/^/    /'
			sleep 5
			continue
		fi
		tail -n 30 "$log" >&2
		die "$what failed 3 times (apt-get $*) after $(elapsed); see the apt output above"
	done
}

say "$PY cannot import nova; installing $PKG with apt"
run_apt "update" update
run_apt "install" install -y --no-install-recommends "$PKG"

[ -x "$PY" ] || die "$PKG installed but $PY does not exist"
"$PY" -c 'import nova' >"$log" 2>&1 || {
	cat "$log" >&2
	die "$PKG installed but $PY still cannot import nova"
}
pkgver=$(dpkg-query -W -f='${Version}' "$PKG" 2>/dev/null || echo unknown)
say "installed $PKG $pkgver (nova $(nova_version)) in $(elapsed)"
