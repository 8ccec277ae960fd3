#!/usr/bin/env bash
# Starts a local Cairn cluster on 127.0.0.1 (3 manager members, 3 extent nodes) and runs the main job:
# a write workload whose every block is read back from all 3 replicas and checked (CRC32C), then a
# latency summary. The cluster keeps running afterwards.
#
#   ./run.sh [--data-dir DIR] [--duration-s N] [--size-bytes N] [--no-build]
#   ./run.sh status      is the cluster up? (cairn status)
#   ./run.sh stop        stops the cluster (SIGTERM, then SIGKILL after 20 s)
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
STATE_DIR="$ROOT/.run"            # pids and the data dir of the running cluster
MANAGERS="0=127.0.0.1:20110,1=127.0.0.1:20120,2=127.0.0.1:20130"
NODE_PORT_BASE=20200
READY_TIMEOUT_S=90

log() { echo "[run] $*"; }
die() { echo "[run] error: $*" >&2; exit 1; }

usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

stop_cluster() {
    [ -f "$STATE_DIR/pids" ] || { log "no local cluster recorded in $STATE_DIR"; return 0; }
    local pids=() pid name
    while read -r pid name; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
            log "stopping $name (pid $pid)"
        fi
    done < "$STATE_DIR/pids"
    local waited=0
    while [ ${#pids[@]} -gt 0 ] && [ $waited -lt 20 ]; do
        local alive=()
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
        pids=("${alive[@]+"${alive[@]}"}")
        [ ${#pids[@]} -eq 0 ] && break
        sleep 1; waited=$((waited + 1))
    done
    for pid in "${pids[@]+"${pids[@]}"}"; do
        log "pid $pid did not stop in 20 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -f "$STATE_DIR/pids"
    log "local cluster stopped"
}

# wait_ready LOGFILE PATTERN PID NAME
wait_ready() {
    local logfile=$1 pattern=$2 pid=$3 name=$4 waited=0
    until grep -q "$pattern" "$logfile" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || { tail -30 "$logfile" >&2; die "$name exited during start (log: $logfile)"; }
        [ $waited -ge $READY_TIMEOUT_S ] && { tail -30 "$logfile" >&2; die "$name not ready after ${READY_TIMEOUT_S}s (log: $logfile)"; }
        sleep 1; waited=$((waited + 1))
        [ $((waited % 10)) -eq 0 ] && log "  still waiting for $name (${waited}s)"
    done
    return 0
}

start_process() { # NAME LOGFILE COMMAND...
    local name=$1 logfile=$2
    shift 2
    setsid "$@" > "$logfile" 2>&1 < /dev/null &
    local pid=$!
    echo "$pid $name" >> "$STATE_DIR/pids"
    STARTED_PID=$pid
}

case "${1:-}" in
    stop) stop_cluster; exit 0 ;;
    status)
        [ -f "$STATE_DIR/pids" ] || die "no local cluster running (start one with ./run.sh)"
        exec ./bin/cairn --managers "$MANAGERS" status ;;
esac

DATA_DIR="$ROOT/data"
DURATION_S=10
SIZE_BYTES=4096
BUILD=1
while [ $# -gt 0 ]; do
    case "$1" in
        --data-dir) [ $# -ge 2 ] || usage; DATA_DIR=$2; shift 2 ;;
        --duration-s) [ $# -ge 2 ] || usage; DURATION_S=$2; shift 2 ;;
        --size-bytes) [ $# -ge 2 ] || usage; SIZE_BYTES=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) usage ;;
        *) echo "[run] unknown argument: $1" >&2; usage ;;
    esac
done
[[ "$DURATION_S" =~ ^[0-9]+$ ]] && [ "$DURATION_S" -ge 1 ] || die "--duration-s must be a whole number >= 1"
[[ "$SIZE_BYTES" =~ ^[0-9]+$ ]] || die "--size-bytes must be a whole number"

./bin/setup.sh
# shellcheck source=bin/cairn-env.sh
source bin/cairn-env.sh

if [ $BUILD -eq 1 ]; then
    log "building (mvn -DskipTests install; the first build downloads dependencies from Maven Central)"
    # Progress: one line per module; the full log is kept for when it fails.
    mkdir -p "$STATE_DIR"
    if ! mvn -B -ntp -DskipTests install > "$STATE_DIR/build.log" 2>&1 < /dev/null; then
        grep -E "ERROR|FAILURE" "$STATE_DIR/build.log" | head -30 >&2
        die "build failed (full log: $STATE_DIR/build.log)"
    fi
    grep -E "^\[INFO\] (Cairn[^:]*\.+ SUCCESS|BUILD SUCCESS|Total time)" "$STATE_DIR/build.log" | sed 's/^\[INFO\] /[run]   /' 
fi

mkdir -p "$STATE_DIR"
if [ -f "$STATE_DIR/pids" ]; then
    log "a local cluster is already recorded: stopping it first"
    stop_cluster
fi
mkdir -p "$DATA_DIR/logs" "$DATA_DIR/conf"
DATA_DIR=$(cd "$DATA_DIR" && pwd)
echo "$DATA_DIR" > "$STATE_DIR/data-dir"
: > "$STATE_DIR/pids"

log "starting 3 manager members (Aeron Cluster) on $MANAGERS; data in $DATA_DIR"
MANAGER_PIDS=()
for i in 0 1 2; do
    # One config file per daemon, as on a server (docs/operating/configuration.md).
    cat > "$DATA_DIR/conf/manager-$i.toml" <<TOML
member-id = $i
managers = "$MANAGERS"
dir = "$DATA_DIR/manager-$i"
TOML
    start_process "manager-$i" "$DATA_DIR/logs/manager-$i.log" \
        ./bin/cairn-manager --config "$DATA_DIR/conf/manager-$i.toml"
    MANAGER_PIDS+=("$STARTED_PID")
done
for i in 0 1 2; do
    wait_ready "$DATA_DIR/logs/manager-$i.log" "cairn-manager $i ready" "${MANAGER_PIDS[$i]}" "manager-$i"
    log "  manager-$i ready (pid ${MANAGER_PIDS[$i]})"
done

log "starting 3 extent nodes (io_uring, O_DIRECT) on 127.0.0.1:$((NODE_PORT_BASE + 1))-$((NODE_PORT_BASE + 3))"
NODE_PIDS=()
for i in 1 2 3; do
    mkdir -p "$DATA_DIR/node-$i/disk0"
    cat > "$DATA_DIR/conf/node-$i.toml" <<TOML
node-id = $i
endpoint = "127.0.0.1:$((NODE_PORT_BASE + i))"
data-dir = ["$DATA_DIR/node-$i/disk0"]
managers = "$MANAGERS"
format-if-empty = true
TOML
    start_process "node-$i" "$DATA_DIR/logs/node-$i.log" \
        ./bin/cairn-node --config "$DATA_DIR/conf/node-$i.toml"
    NODE_PIDS+=("$STARTED_PID")
done
for i in 1 2 3; do
    wait_ready "$DATA_DIR/logs/node-$i.log" "cairn-node $i ready" "${NODE_PIDS[$((i - 1))]}" "node-$i"
    log "  node-$i ready (pid ${NODE_PIDS[$((i - 1))]})"
done

log "cluster status:"
./bin/cairn --managers "$MANAGERS" status

log "workload: ${DURATION_S}s of ${SIZE_BYTES}-byte appends, then every block read back from all 3 replicas"
if ./bin/cairn-bench write --managers "$MANAGERS" --duration-s "$DURATION_S" --warmup-s 2 \
        --size-bytes "$SIZE_BYTES" --verify; then
    RESULT=0
else
    RESULT=$?
    log "workload FAILED (exit $RESULT); logs in $DATA_DIR/logs"
fi

cat <<MSG

[run] The local cluster is still running (logs: $DATA_DIR/logs).
[run]   ./bin/cairn status                      members, leader, nodes
[run]   ./bin/cairn stream create NAME          and: stream info|append|read (./bin/cairn --help)
[run]   ./run.sh stop                           stop the cluster
MSG
exit $RESULT
