#!/usr/bin/env bash
# Installs the Debian packages Distributary needs to build, test and run the demo.
# Does nothing when they are all present; needs root (or sudo) otherwise.
set -euo pipefail
packages=(libmariadb-dev libhiredis-dev pkg-config mariadb-server mariadb-client redis-server redis-tools
          libzstd-dev zlib1g-dev curl procps)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
echo "installing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install these packages as root: apt-get install ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the packaged servers; ours run on their own ports, so those may stay.
if ! command -v swift >/dev/null; then
    echo "swift is not on PATH: install the Swift 6 toolchain (https://www.swift.org/install) and retry" >&2
    exit 1
fi
