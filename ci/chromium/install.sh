#!/usr/bin/env bash
# Installs Debian's chromium for the headless-browser test of the HTML
# report (pkg/report). Idempotent: does nothing when chromium is present.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
	echo "chromium: $(chromium --version 2>/dev/null || echo present)"
	exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Another apt may hold the dpkg lock (a parallel install step): wait for it rather than fail.
$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
$sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium
echo "chromium: $(chromium --version 2>/dev/null || echo installed)"
