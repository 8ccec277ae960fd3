#!/usr/bin/env bash
# Cairn's manager against etcd on metadata operations, in one go on one machine (a benchmark, not a test).
#
#   perf/manager-bench.sh [CLIENTS] [SECONDS_PER_OP]        (defaults: 16, 10)
#
# Starts a 3-member Cairn manager (bin/cairn-manager, loopback, ports 21110..21134, a temp dir), drives it with
# `cairn-bench manager --target cairn`, stops it; then starts a 3-member etcd (Debian etcd-server, loopback, ports
# 23790..23812, same temp dir's file system), drives it over its v3 HTTP/JSON gateway, stops it. Each system runs
# alone on the machine. Operations (see ManagerBenchmark): put, txn (CAS), range (linearizable, 10 keys),
# alloc (extent allocation). Closed loop, CLIENTS concurrent clients, one operation in flight each; HdrHistogram.
#
# Durability is alike by default and reported, not hidden: etcd fsyncs its WAL before acknowledging; Cairn's
# manager acknowledges once a majority forced the entry to its archive (Aeron Archive file sync level 1, the default).
# A third run, etcd with its data dir on tmpfs (/dev/shm: fsync returns at once; etcd 3.4 has no --unsafe-no-fsync),
# shows etcd without the fsync cost (set ETCD_TMPFS=0 to skip).
#
# Needs a build (./run.sh or mvn -DskipTests install) and etcd on PATH (apt-get install etcd-server).
# Leaves nothing running (trap). Results: perf/results/manager-<time>/ (summary.txt, table.txt, .hgrm, logs).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLIENTS=${1:-16}
SECONDS_PER_OP=${2:-10}
WARMUP_SECONDS=${WARMUP_SECONDS:-2}
ETCD_TMPFS=${ETCD_TMPFS:-1}
OUT=$ROOT/perf/results/manager-$(date +%Y%m%d-%H%M%S)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-manager-bench.XXXXXX")
SHM_WORK=$(mktemp -d /dev/shm/cairn-manager-bench.XXXXXX)
BENCH="$ROOT/bin/cairn-bench"
SUMMARY=$OUT/summary.txt
PIDS=()
command -v etcd >/dev/null || { echo "manager-bench: etcd is not installed (apt-get install etcd-server)" >&2; exit 1; }
mkdir -p "$OUT"
: > "$SUMMARY"

stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}
cleanup() {
    stop_all
    rm -rf "$WORK" "$SHM_WORK"
}
trap cleanup EXIT INT TERM

# wait_for FILE PATTERN SECONDS
wait_for() {
    local file=$1 pattern=$2 seconds=$3
    for _ in $(seq 1 $((seconds * 10))); do
        grep -q "$pattern" "$file" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "manager-bench: '$pattern' not seen in $file after ${seconds}s" >&2
    tail -20 "$file" >&2 || true
    return 1
}

MANAGERS="0=127.0.0.1:21110,1=127.0.0.1:21120,2=127.0.0.1:21130"
echo "manager-bench: clients=$CLIENTS seconds/op=$SECONDS_PER_OP warmup=$WARMUP_SECONDS results=$OUT ($(etcd --version | head -1))"

# --- Cairn ---------------------------------------------------------------------------------------------------------
for id in 0 1 2; do
    "$ROOT/bin/cairn-manager" --member-id "$id" --managers "$MANAGERS" --dir "$WORK/cairn-$id" \
        --snapshot-interval-bytes $((1024 * 1024 * 1024)) > "$OUT/cairn-$id.log" 2>&1 &
    PIDS+=($!)
done
for id in 0 1 2; do
    wait_for "$OUT/cairn-$id.log" "cairn-manager $id ready" 60
done
"$BENCH" manager --target cairn --managers "$MANAGERS" --clients "$CLIENTS" --seconds "$SECONDS_PER_OP" \
    --warmup-seconds "$WARMUP_SECONDS" --out "$SUMMARY" --hgrm-dir "$OUT"
stop_all

# --- etcd ----------------------------------------------------------------------------------------------------------
# run_etcd LABEL DATA_BASE_DIR: a fresh 3-member cluster, driven, stopped.
run_etcd() {
    local label=$1 base=$2
    local cluster="e0=http://127.0.0.1:23800,e1=http://127.0.0.1:23801,e2=http://127.0.0.1:23802"
    local urls=""
    for id in 0 1 2; do
        local client=$((23790 + id)) peer=$((23800 + id))
        etcd --name "e$id" --data-dir "$base/$label-$id" \
            --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
            --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
            --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token "bench-$label" \
            --listen-metrics-urls "http://127.0.0.1:$((23810 + id))" > "$OUT/$label-$id.log" 2>&1 &
        PIDS+=($!)
        urls="$urls${urls:+,}http://127.0.0.1:$client"
    done
    for _ in $(seq 1 300); do
        curl -fs "http://127.0.0.1:23790/health" 2>/dev/null | grep -q '"health":"true"' && break
        sleep 0.1
    done
    curl -fs "http://127.0.0.1:23790/health" | grep -q '"health":"true"' ||
        { echo "manager-bench: etcd cluster $label not healthy" >&2; exit 1; }
    "$BENCH" manager --target etcd --etcd "$urls" --label "$label" --clients "$CLIENTS" \
        --seconds "$SECONDS_PER_OP" --warmup-seconds "$WARMUP_SECONDS" --out "$SUMMARY" --hgrm-dir "$OUT"
    stop_all
}
run_etcd etcd "$WORK"
if [ "$ETCD_TMPFS" = 1 ]; then
    run_etcd etcd-tmpfs "$SHM_WORK"
fi

"$BENCH" manager --table "$SUMMARY" | tee "$OUT/table.txt"
echo "manager-bench: histograms, logs and summary in $OUT"
