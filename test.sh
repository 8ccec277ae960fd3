#!/usr/bin/env bash
# Installs what is missing, builds everything and runs the whole test suite (unit, property and the
# multi-process system tests). Usage: ./test.sh [extra maven arguments, e.g. -pl manager]
set -euo pipefail
cd "$(dirname "$0")"
./bin/setup.sh
# shellcheck source=bin/cairn-env.sh
source bin/cairn-env.sh
echo "[test] mvn install with tests (JDK: $JAVA_HOME)"
exec mvn -B -e install "$@"
