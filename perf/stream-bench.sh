#!/usr/bin/env bash
# The stream layer against the sum of its parts, on this machine, in one run (a benchmark, not a test).
#
#   perf/stream-bench.sh [--quick] [--sizes 4096,65536]
#
# For each append size (default 4 KiB and 64 KiB of payload), measured in the same run:
#   echo      raw Aeron UDP echo RTT: cairn-bench echo-server --ack-only (the payload one way, a 12-byte answer back,
#             like an append and its ack) driven by the load rig, closed loop, 1 client. Same media-driver settings as
#             the cluster (AeronDefaults: SHARED threading, backoff idle), same loopback (127.0.0.1).
#   append    the local extent store alone: cairn-bench disk --mode write --qd 1 --payload-bytes SIZE (append +
#             fdatasync, closed loop, QD 1) in data/stream-bench-disk, the file system the cluster's data dir is on.
#   replicated  a local 3-manager/3-node cluster (./run.sh --no-build), replication factor 3: the load rig's append
#             target, closed loop QD 1, then open loop at half of that rate (latency from the scheduled send time).
# The echo and the disk run while the cluster is down, so no part shares the 2 CPUs with the cluster.
#
# The limit, per percentile:   limit = 2 x echo RTT + local append
#   A replicated append's critical path is client -> primary (payload), primary -> both secondaries (payload, sent
#   in parallel), the secondaries' acks -> primary, primary's ack -> client: two payload-out/ack-back round trips,
#   i.e. 2 echo RTTs. The three writes (primary's and the two secondaries') run in parallel with each other and
#   with the forwarding, so one local append is on the path. Summing percentiles is conservative at the tails.
#   The limit's ops/s is 1 / (2 / echo ops/s + 1 / append ops/s): the parts back to back at QD 1.
#   Ratios: replicated/limit for each percentile (and limit/replicated for ops/s): 1.00 = nothing added.
#
# Installs nothing (bash and the build only: no python3, fio or apt-get); needs a build (./run.sh once, or
# mvn -DskipTests package). Starts and stops everything itself (trap on EXIT); refuses to run if a ./run.sh cluster
# is already up. Results:
# perf/results/stream-<time>/ (runs/*/ with .hlog/.hgrm/summary.json/PNG, disk-*.hgrm, table.txt, plots of
# `cairn-bench compare`). About 2 minutes on 2 cores (--quick: about 1.5), plus the build.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
QUICK=0
SIZES="4096,65536"
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1; shift ;;
        --sizes)
            [ $# -ge 2 ] || { echo "stream-bench: --sizes needs a value (e.g. 4096,65536)" >&2; exit 2; }
            SIZES=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "stream-bench: unknown argument $1" >&2; exit 2 ;;
    esac
done
# The largest append the node takes is 1 MiB (NodeProtocol.MAX_PAYLOAD_BYTES).
MAX_SIZE=1048576
for s in ${SIZES//,/ }; do
    [[ "$s" =~ ^[0-9]+$ ]] && [ "$s" -ge 1 ] && [ "$s" -le $MAX_SIZE ] ||
        { echo "stream-bench: --sizes '$s' is not a whole number of bytes in [1, $MAX_SIZE]" >&2; exit 2; }
done
[ -n "${SIZES//,/}" ] || { echo "stream-bench: --sizes is empty" >&2; exit 2; }

if [ $QUICK = 1 ]; then
    RUN_S=4; WARM_S=2; DISK_S=3
else
    RUN_S=8; WARM_S=3; DISK_S=6
fi
HOPS=2
OUT=$ROOT/perf/results/stream-$(date +%Y%m%d-%H%M%S)
BENCH="$ROOT/bin/cairn-bench"
DISK_DIR=$ROOT/data/stream-bench-disk
CLUSTER_DIR=$ROOT/data/stream-bench-cluster
# Ports of the echo server on 127.0.0.1, clear of the cluster's and of perf/compare.sh's echo servers.
ECHO_PORT=21931
PIDS=()
CLUSTER_STARTED=0
T0=$(date +%s)
log() { echo "[stream-bench $(( $(date +%s) - T0 ))s] $*"; }

cleanup() {
    local pid
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    PIDS=()
    if [ $CLUSTER_STARTED = 1 ]; then ./run.sh stop > "$OUT/cluster-stop.log" 2>&1 || true; CLUSTER_STARTED=0; fi
    rm -rf "$DISK_DIR" "$CLUSTER_DIR"
}
trap cleanup EXIT INT TERM

[ -x "$BENCH" ] || { echo "stream-bench: $BENCH missing" >&2; exit 1; }
cluster_alive() {
    local pid
    [ -f .run/pids ] || return 1
    while read -r pid _; do kill -0 "$pid" 2>/dev/null && return 0; done < .run/pids
    return 1
}
if cluster_alive; then
    echo "stream-bench: a ./run.sh cluster is running (.run/pids); stop it first (./run.sh stop)" >&2
    exit 1
fi
mkdir -p "$OUT/runs"

# load LABEL SIZE ARGS...: one load-rig run into $OUT/runs/LABEL
load() {
    local label=$1 size=$2
    shift 2
    "$BENCH" load --label "$label" --out "$OUT/runs/$label" --size-bytes "$size" --warmup-s "$WARM_S" \
        --duration-s "$RUN_S" "$@" > "$OUT/runs-$label.log" 2>&1 || { tail -5 "$OUT/runs-$label.log"; return 1; }
    log "  $(grep -m1 ' requests in ' "$OUT/runs-$label.log")"
    log "  $(grep -m1 '^latency µs' "$OUT/runs-$label.log")"
}
throughput() { # LABEL -> measured ops/s of that run
    sed -n 's/^ *"throughputPerS": *\([0-9]*\).*/\1/p' "$OUT/runs/$1/summary.json"
}

log "results in $OUT; sizes $SIZES; $(nproc) cores, $(uname -r); load runs ${RUN_S}s + ${WARM_S}s warm-up, disk ${DISK_S}s"

# --- the parts: echo RTT and local append (cluster down) ---------------------------------------------------------------
log "echo: cairn-bench echo-server --ack-only on 127.0.0.1:$ECHO_PORT"
"$BENCH" echo-server --port "$ECHO_PORT" --ack-only > "$OUT/echo-server.log" 2>&1 & PIDS+=($!)
for _ in $(seq 1 300); do grep -q ready "$OUT/echo-server.log" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$OUT/echo-server.log" || { tail -20 "$OUT/echo-server.log"; echo "stream-bench: echo server did not start" >&2; exit 1; }
for s in ${SIZES//,/ }; do
    load "echo-$s" "$s" --target echo --echo "127.0.0.1:$ECHO_PORT" --mode closed
done
cleanup
for s in ${SIZES//,/ }; do
    log "append: local extent store, $s-byte appends + fdatasync, QD 1, ${DISK_S}s (in $DISK_DIR)"
    mkdir -p "$DISK_DIR"
    "$BENCH" disk --dir "$DISK_DIR" --mode write --qd 1 --payload-bytes "$s" --seconds "$DISK_S" \
        --warmup-seconds 1 --hgrm "$OUT/disk-$s.hgrm" --label "disk-$s" > "$OUT/disk-$s.txt" 2> "$OUT/disk-$s.log" ||
        { cat "$OUT/disk-$s.log"; exit 1; }
    log "  $(cat "$OUT/disk-$s.txt")"
    rm -rf "$DISK_DIR"
done

# --- the replicated append ---------------------------------------------------------------------------------------------
log "replicated: ./run.sh --no-build (3 managers + 3 extent nodes, data in $CLUSTER_DIR)"
rm -rf "$CLUSTER_DIR"
CLUSTER_STARTED=1
./run.sh --no-build --data-dir "$CLUSTER_DIR" --duration-s 1 > "$OUT/cluster-start.log" 2>&1 ||
    { tail -20 "$OUT/cluster-start.log"; exit 1; }
for s in ${SIZES//,/ }; do
    log "replicated $s B: closed loop QD 1"
    load "replicated-$s-closed" "$s" --target append --mode closed
    RATE=$(( $(throughput "replicated-$s-closed") / 2 ))
    [ "$RATE" -ge 1 ] || RATE=1
    log "replicated $s B: open loop at $RATE/s (half the closed-loop rate)"
    load "replicated-$s-open" "$s" --target append --mode open --rate "$RATE"
done
cleanup

# --- the table and the plots -------------------------------------------------------------------------------------------
for s in ${SIZES//,/ }; do
    "$BENCH" compare --out "$OUT/compare-$s" --title "replicated append vs its parts ($s B)" \
        "$OUT/runs/echo-$s" "$OUT/runs/replicated-$s-closed" "$OUT/runs/replicated-$s-open" > "$OUT/compare-$s.txt"
done
{
    echo "== Cairn stream layer vs the sum of its parts: $(basename "$OUT") =="
    echo "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) cores, $(uname -r)"
    echo "limit = $HOPS x echo RTT + local append, per percentile (see perf/stream-bench.sh's header)"
    for s in ${SIZES//,/ }; do
        echo
        "$BENCH" stream-table --size-bytes "$s" --hops "$HOPS" --echo "$OUT/runs/echo-$s" --disk "$OUT/disk-$s.txt" \
            --closed "$OUT/runs/replicated-$s-closed" --open "$OUT/runs/replicated-$s-open"
    done
} | tee "$OUT/table.txt"
log "done in $(( $(date +%s) - T0 ))s: table $OUT/table.txt, plots $OUT/compare-*/ and $OUT/runs/*/"
