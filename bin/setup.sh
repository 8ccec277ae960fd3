#!/usr/bin/env bash
# Installs what building and running Cairn needs on Debian 12, only where it is missing.
# Used by ./run.sh and ./test.sh; safe to run again.
set -euo pipefail

missing=()
dpkg -s liburing-dev >/dev/null 2>&1 || missing+=(liburing-dev)
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v nm >/dev/null 2>&1 || missing+=(binutils)
command -v pgrep >/dev/null 2>&1 || missing+=(procps)

if [ ${#missing[@]} -gt 0 ]; then
    echo "[setup] installing: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        SUDO=sudo
        command -v sudo >/dev/null 2>&1 || { echo "[setup] need root to apt-get install ${missing[*]}" >&2; exit 1; }
    else
        SUDO=
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Fails with a clear message when there is no JDK 25.
# shellcheck source=bin/cairn-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/cairn-env.sh"
echo "[setup] JDK 25: $JAVA_HOME; liburing-dev $(dpkg-query -W -f='${Version}' liburing-dev)"
