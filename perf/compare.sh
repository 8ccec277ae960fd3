#!/usr/bin/env bash
# Cairn side by side with its peers, on this machine, in one run (a benchmark, not a test).
#
#   perf/compare.sh [--quick] [--skip disk,network,cluster,bookkeeper,manager]
#
# Sections, each against the same machine in the same run, each printing Cairn/peer ratios:
#   disk      the disk limit: fio vs Cairn's local extent append/read (perf/disk-bench.sh, 4 KiB, QD 1/8/32)
#   network   the network limit: a raw Aeron UDP echo vs Cairn's replicated append. Two echo shapes: plain echo
#             (4 KiB both ways) and fan-out (client -> primary -> 2 peers -> acks -> primary -> client: the message
#             shape of a replicated append with no disk and no protocol). Closed loop (peak), then open loop at half of
#             Cairn's closed-loop rate (latency from the scheduled send).
#   cluster   Cairn through a local cluster (./run.sh --no-build): append (closed and open), read, manager KV put/get.
#   bookkeeper  Apache BookKeeper 4.17 (ZooKeeper + 3 bookies, separate JVMs from perf/target/bookkeeper-lib, journal
#             and ledgers on the file system of Cairn's data dir, each add fsynced in the journal; ensemble 3 / write
#             quorum 3 / ack quorum 3) vs Cairn's replicated append: same rig, 4 KiB, 1 client, closed loop, then open
#             loop at the same rate as Cairn's open-loop run.
#   manager   the manager vs etcd on metadata operations (perf/manager-bench.sh: put, txn, range, alloc).
#
# Installs fio and etcd-server with apt-get when missing (BookKeeper and ZooKeeper come from Maven Central with the
# perf module's build: mvn -DskipTests package -pl perf -am); starts and stops every peer and the cluster itself (trap);
# refuses to run if a ./run.sh cluster is already up (it would be measured and stopped). Needs a build
# (./run.sh or mvn -DskipTests install). Results: perf/results/compare-<time>/ (every run folder with .hlog, .hgrm,
# summary.json and PNG plots; compare-*.png; table.txt). About 10 minutes on 2 cores (--quick: about 5).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
QUICK=0
SKIP=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1; shift ;;
        --skip)
            [ $# -ge 2 ] || { echo "compare: --skip needs a value (disk,network,cluster,bookkeeper,manager)" >&2; exit 2; }
            SKIP=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "compare: unknown argument $1" >&2; exit 2 ;;
    esac
done
for s in ${SKIP//,/ }; do
    case "$s" in
        disk|network|cluster|bookkeeper|manager) ;;
        *) echo "compare: --skip '$s' is not a section (disk, network, cluster, bookkeeper, manager)" >&2; exit 2 ;;
    esac
done
skipped() { [[ ",$SKIP," == *",$1,"* ]]; }

if [ $QUICK = 1 ]; then
    RUN_S=4; WARM_S=2; DISK_S=2; MGR_CLIENTS=4; MGR_S=3
else
    RUN_S=8; WARM_S=3; DISK_S=3; MGR_CLIENTS=8; MGR_S=5
fi
OUT=$ROOT/perf/results/compare-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
BENCH="$ROOT/bin/cairn-bench"
SIZE=4096
PIDS=()
CLUSTER_STARTED=0
BK_DIR=$ROOT/data/compare-bookkeeper
BK_LIB=$ROOT/perf/target/bookkeeper-lib
# Ports of the BookKeeper peer on 127.0.0.1 (ZooKeeper, then one per bookie); clear of Cairn's and the echo's.
BK_ZK_PORT=21810
BK_BOOKIE_PORTS=21811,21812,21813
T0=$(date +%s)
log() { echo "[compare $(( $(date +%s) - T0 ))s] $*"; }

cleanup() {
    local pid
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    PIDS=()
    if [ $CLUSTER_STARTED = 1 ]; then ./run.sh stop > "$OUT/cluster-stop.log" 2>&1 || true; CLUSTER_STARTED=0; fi
    rm -rf "$BK_DIR"
}
trap cleanup EXIT INT TERM

install_missing() {
    local need=()
    command -v fio >/dev/null || need+=(fio)
    command -v etcd >/dev/null || need+=(etcd-server)
    command -v python3 >/dev/null || need+=(python3)
    command -v curl >/dev/null || need+=(curl)
    if [ ${#need[@]} -gt 0 ]; then
        log "installing ${need[*]} (apt-get)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" > /dev/null
    fi
}

# load LABEL ARGS...: one load-rig run into $OUT/runs/LABEL (with "${LOAD_CMD[@]}", cairn-bench unless set)
LOAD_CMD=("$BENCH")
load() {
    local label=$1
    shift
    "${LOAD_CMD[@]}" load --label "$label" --out "$OUT/runs/$label" --size-bytes "$SIZE" --warmup-s "$WARM_S" \
        --duration-s "$RUN_S" "$@" > "$OUT/runs-$label.log" 2>&1 || { tail -5 "$OUT/runs-$label.log"; return 1; }
    tail -4 "$OUT/runs-$label.log" | head -2
}

throughput() { # LABEL -> measured ops/s of that run
    python3 -c "import json,sys; print(int(json.load(open(sys.argv[1]))['throughputPerS']))" "$OUT/runs/$1/summary.json"
}

install_missing
log "results in $OUT; $(nproc) cores, $(uname -r), run ${RUN_S}s + warm-up ${WARM_S}s per load run"

# --- disk: fio vs the extent store -----------------------------------------------------------------------------------
if ! skipped disk; then
    log "disk: perf/disk-bench.sh (fio vs Cairn extent store, ${DISK_S}s per run)"
    perf/disk-bench.sh "$ROOT/data/compare-disk" "$DISK_S" > "$OUT/disk.log" 2>&1
    DISK_DIR=$(sed -n 's/^disk-bench: histograms and fio JSON in //p' "$OUT/disk.log")
    cp "$DISK_DIR/table.txt" "$OUT/disk-table.txt"
    rm -rf "$ROOT/data/compare-disk"
fi

# --- network + cluster ------------------------------------------------------------------------------------------------
if ! skipped network || ! skipped cluster; then
    cluster_alive() {
        local pid
        [ -f .run/pids ] || return 1
        while read -r pid _; do kill -0 "$pid" 2>/dev/null && return 0; done < .run/pids
        return 1
    }
    if cluster_alive; then
        echo "compare: a ./run.sh cluster is running (.run/pids); stop it first (./run.sh stop)" >&2
        exit 1
    fi
fi
if ! skipped cluster; then
    log "cluster: ./run.sh --no-build (3 managers + 3 extent nodes, data in data/compare-cluster)"
    rm -rf "$ROOT/data/compare-cluster"
    CLUSTER_STARTED=1
    ./run.sh --no-build --data-dir "$ROOT/data/compare-cluster" --duration-s 1 > "$OUT/cluster-start.log" 2>&1 ||
        { tail -20 "$OUT/cluster-start.log"; exit 1; }
    load cairn-append-closed --target append --mode closed
    RATE=$(( $(throughput cairn-append-closed) / 2 ))
    [ "$RATE" -ge 1 ] || RATE=1
    log "open loop at $RATE/s (half of Cairn's closed-loop append rate), for Cairn and the fan-out echo"
    load "cairn-append-open-${RATE}ps" --target append --mode open --rate "$RATE"
    load cairn-read-closed --target read --mode closed --prefill 256
    load cairn-kv-put-closed --target kv-put --mode closed
    load cairn-kv-get-closed --target kv-get --mode closed
    ./run.sh stop > "$OUT/cluster-stop.log" 2>&1 || true
    CLUSTER_STARTED=0
    rm -rf "$ROOT/data/compare-cluster"
fi
if ! skipped network; then
    log "network (after the cluster is stopped, so the two never share the CPUs): starting raw Aeron echo servers (fan-out primary :21901 -> :21911, :21912; plain echo :21921)"
    "$BENCH" echo-server --port 21911 --ack-only > "$OUT/echo-21911.log" 2>&1 & PIDS+=($!)
    "$BENCH" echo-server --port 21912 --ack-only > "$OUT/echo-21912.log" 2>&1 & PIDS+=($!)
    "$BENCH" echo-server --port 21901 --peers 127.0.0.1:21911,127.0.0.1:21912 > "$OUT/echo-21901.log" 2>&1 & PIDS+=($!)
    "$BENCH" echo-server --port 21921 > "$OUT/echo-21921.log" 2>&1 & PIDS+=($!)
    for p in 21901 21911 21912 21921; do
        for _ in $(seq 1 300); do grep -q ready "$OUT/echo-$p.log" 2>/dev/null && break; sleep 0.1; done
    done
    load aeron-echo-closed --target echo --echo 127.0.0.1:21921 --mode closed
    load aeron-fanout-closed --target echo --echo 127.0.0.1:21901 --mode closed
    RATE=${RATE:-200}
    load "aeron-fanout-open-${RATE}ps" --target echo --echo 127.0.0.1:21901 --mode open --rate "$RATE"
fi
cleanup

# --- bookkeeper: Apache BookKeeper vs Cairn's replicated append --------------------------------------------------------
if ! skipped bookkeeper; then
    [ -f "$BK_LIB/bookkeeper-server-4.17.3.jar" ] ||
        { echo "compare: $BK_LIB lacks BookKeeper: build the perf module (mvn -DskipTests package -pl perf -am)" >&2; exit 1; }
    # shellcheck source=bin/cairn-env.sh
    source "$ROOT/bin/cairn-env.sh"
    # BookKeeper's JVMs: its own classpath only (no Aeron/Agrona); Netty and the bookies' JNI need these on JDK 25.
    BK_JVM=("$CAIRN_JAVA" -Xms256m -Xmx256m -XX:MaxDirectMemorySize=256m --enable-native-access=ALL-UNNAMED
        --sun-misc-unsafe-memory-access=allow --add-opens java.base/java.nio=ALL-UNNAMED
        --add-opens java.base/jdk.internal.misc=ALL-UNNAMED -Dio.netty.tryReflectionSetAccessible=true
        -Dlog4j.configurationFile="$BK_DIR/log4j2.xml" -cp "$BK_LIB/*")
    for port in "$BK_ZK_PORT" ${BK_BOOKIE_PORTS//,/ }; do
        if timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
            echo "compare: 127.0.0.1:$port is already in use (a BookKeeper peer left over?); free it first" >&2
            exit 1
        fi
    done
    log "bookkeeper: ZooKeeper :$BK_ZK_PORT + 3 bookies :$BK_BOOKIE_PORTS (journal + ledgers in $BK_DIR, fsync per add)"
    rm -rf "$BK_DIR"
    "$BENCH" bookkeeper-conf --dir "$BK_DIR" --zk-port "$BK_ZK_PORT" --bookie-ports "$BK_BOOKIE_PORTS" \
        > "$OUT/bookkeeper-conf.log" 2>&1 || { cat "$OUT/bookkeeper-conf.log"; exit 1; }
    cp "$BK_DIR"/*.conf "$BK_DIR/zoo.cfg" "$OUT/" 2>/dev/null || true
    "${BK_JVM[@]}" org.apache.zookeeper.server.ZooKeeperServerMain "$BK_DIR/zoo.cfg" > "$OUT/bookkeeper-zk.log" 2>&1 &
    PIDS+=($!)
    zk_ok() { # ZooKeeper's "srvr" four-letter word names its mode only once it serves requests
        timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$BK_ZK_PORT && printf srvr >&3 && cat <&3" 2>/dev/null |
            grep -q "Mode: standalone"
    }
    for _ in $(seq 1 300); do zk_ok && break; kill -0 "${PIDS[-1]}" 2>/dev/null || break; sleep 0.1; done
    zk_ok || { tail -20 "$OUT/bookkeeper-zk.log"; echo "compare: ZooKeeper did not answer on :$BK_ZK_PORT" >&2; exit 1; }
    "${BK_JVM[@]}" org.apache.bookkeeper.bookie.BookieShell -conf "$BK_DIR/bookie-1.conf" initnewcluster \
        > "$OUT/bookkeeper-init.log" 2>&1 || { tail -20 "$OUT/bookkeeper-init.log"; exit 1; }
    i=1
    for _ in ${BK_BOOKIE_PORTS//,/ }; do
        "${BK_JVM[@]}" org.apache.bookkeeper.server.Main --conf "$BK_DIR/bookie-$i.conf" > "$OUT/bookkeeper-bookie-$i.log" 2>&1 &
        PIDS+=($!)
        i=$((i + 1))
    done
    # The driver: the same rig (cairn-bench load) on perf's classpath plus BookKeeper's client; it waits for the
    # bookies to register before its first ledger.
    LOAD_CMD=("$CAIRN_JAVA" $CAIRN_JVM_FLAGS -Xmx1g -Dcairn.root="$ROOT" -cp "$(cairn_classpath perf):$BK_LIB/*"
        -Dlog4j.configurationFile="$BK_DIR/log4j2.xml" io.cairn.perf.PerfMain)
    BK_ARGS=(--target bookkeeper --bk-zk "127.0.0.1:$BK_ZK_PORT" --bk-ensemble 3 --bk-write-quorum 3 --bk-ack-quorum 3)
    load bookkeeper-add-closed "${BK_ARGS[@]}" --mode closed
    BK_RATE=${RATE:-200}
    load "bookkeeper-add-open-${BK_RATE}ps" "${BK_ARGS[@]}" --mode open --rate "$BK_RATE"
    LOAD_CMD=("$BENCH")
    cleanup
fi

# --- manager: etcd vs Cairn's manager ---------------------------------------------------------------------------------
if ! skipped manager; then
    log "manager: perf/manager-bench.sh $MGR_CLIENTS clients, ${MGR_S}s per operation (Cairn manager, etcd, etcd on tmpfs)"
    WARMUP_SECONDS=1 perf/manager-bench.sh "$MGR_CLIENTS" "$MGR_S" > "$OUT/manager.log" 2>&1
    MGR_DIR=$(sed -n 's/^manager-bench: histograms, logs and summary in //p' "$OUT/manager.log")
    cp "$MGR_DIR/table.txt" "$OUT/manager-table.txt"
fi

# --- plots and the table ----------------------------------------------------------------------------------------------
if [ -d "$OUT/runs" ]; then
    NET_RUNS=()
    for r in aeron-echo-closed aeron-fanout-closed cairn-append-closed bookkeeper-add-closed; do
        [ -d "$OUT/runs/$r" ] && NET_RUNS+=("$OUT/runs/$r")
    done
    for r in "$OUT"/runs/aeron-fanout-open-* "$OUT"/runs/cairn-append-open-* "$OUT"/runs/bookkeeper-add-open-*; do
        [ -d "$r" ] && NET_RUNS+=("$r")
    done
    if [ ${#NET_RUNS[@]} -gt 0 ]; then
        "$BENCH" compare --out "$OUT" --title "replicated append vs its peers (4 KiB)" "${NET_RUNS[@]}" \
            > "$OUT/compare-network.txt"
    fi
    # BookKeeper first (the baseline), so compare.txt's ratios of the Cairn rows read Cairn/BookKeeper.
    for mode in closed open; do
        BK_RUNS=()
        for r in "$OUT"/runs/bookkeeper-add-"$mode"* "$OUT"/runs/cairn-append-"$mode"*; do
            [ -d "$r" ] && BK_RUNS+=("$r")
        done
        if [ ${#BK_RUNS[@]} -gt 0 ]; then
            "$BENCH" compare --out "$OUT/bookkeeper-$mode" \
                --title "BookKeeper vs Cairn replicated append, $mode loop (4 KiB, 3 replicas, fsync)" "${BK_RUNS[@]}" \
                > /dev/null
        fi
    done
    "$BENCH" compare --out "$OUT/all" --title "every load run" "$OUT/runs" > /dev/null
fi
python3 - "$OUT" <<'EOF' | tee "$OUT/table.txt"
import json, os, sys, glob
out = sys.argv[1]
def run(label):
    p = os.path.join(out, "runs", label, "summary.json")
    return json.load(open(p)) if os.path.exists(p) else None
def find(prefix):
    m = sorted(glob.glob(os.path.join(out, "runs", prefix + "*")))
    return run(os.path.basename(m[0])) if m else None
def row(name, r):
    if r is None: return
    l = r["latencyUs"]
    print(f"  {name:<44} {r['throughputPerS']:>9.0f} {l['p50']:>9.1f} {l['p99']:>9.1f} {l['p99.9']:>10.1f} {l['max']:>10.1f}"
          f"{'' if r['errors'] == 0 else '  errors ' + str(r['errors'])}{'' if r['unsentOps'] == 0 else '  UNSENT ' + str(r['unsentOps'])}")
def ratio(name, a, b):
    if a is None or b is None: return
    la, lb = a["latencyUs"], b["latencyUs"]
    print(f"  {'  ratio ' + name:<44} {a['throughputPerS'] / b['throughputPerS']:>8.2f}x {la['p50'] / lb['p50']:>8.2f}x"
          f" {la['p99'] / lb['p99']:>8.2f}x {la['p99.9'] / lb['p99.9']:>9.2f}x")
hdr = f"  {'':<44} {'ops/s':>9} {'p50 µs':>9} {'p99 µs':>9} {'p99.9 µs':>10} {'max µs':>10}"
print(f"== Cairn vs peers: {os.path.basename(out)} ==")
print(open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": \t") + f", {os.cpu_count()} cores, " + os.uname().release)
if os.path.exists(os.path.join(out, "disk-table.txt")):
    print("\n-- disk limit: fio vs Cairn extent store (perf/disk-bench.sh; ratios are Cairn/fio) --")
    print(open(os.path.join(out, "disk-table.txt")).read().rstrip())
ec, fc, cc = run("aeron-echo-closed"), run("aeron-fanout-closed"), run("cairn-append-closed")
fo, co = find("aeron-fanout-open-"), find("cairn-append-open-")
if cc or fc:
    print("\n-- network limit: raw Aeron UDP vs Cairn replicated append, 4 KiB, 1 client (ratio = Cairn/peer) --")
    print(hdr)
    row("aeron echo (4 KiB both ways), closed", ec)
    row("aeron fan-out 1->2 (append's shape), closed", fc)
    row("cairn append (3 replicas, fdatasync), closed", cc)
    ratio("cairn/fan-out closed", cc, fc)
    if fo or co:
        print(f"  open loop at {co['targetRatePerS'] if co else fo['targetRatePerS']}/s, latency from the scheduled send:")
        row("aeron fan-out, open", fo)
        row("cairn append, open", co)
        ratio("cairn/fan-out open", co, fo)
rc, kp, kg = run("cairn-read-closed"), run("cairn-kv-put-closed"), run("cairn-kv-get-closed")
if rc or kp:
    print("\n-- Cairn cluster, other operations (closed loop, 1 client) --")
    print(hdr)
    row("cairn read 4 KiB (CRC32C checked), closed", rc)
    row("cairn manager kv put 64 B, closed", kp)
    row("cairn manager kv get (linearizable), closed", kg)
if os.path.exists(os.path.join(out, "manager-table.txt")):
    print("\n-- metadata: Cairn manager vs etcd (perf/manager-bench.sh) --")
    print(open(os.path.join(out, "manager-table.txt")).read().rstrip())
bc, bo = run("bookkeeper-add-closed"), find("bookkeeper-add-open-")
if bc or bo:
    print("\n-- replicated append: Apache BookKeeper vs Cairn, 4 KiB, 1 client, 3 copies fsynced before the ack"
          " (ratio = Cairn/BookKeeper) --")
    print(hdr)
    row("bookkeeper add (E3/W3/A3, fsync), closed", bc)
    row("cairn append (3 replicas, fdatasync), closed", cc)
    ratio("cairn/bookkeeper closed", cc, bc)
    if bo or co:
        print(f"  open loop at {bo['targetRatePerS'] if bo else co['targetRatePerS']}/s, latency from the scheduled send:")
        row("bookkeeper add, open", bo)
        row("cairn append, open", co)
        ratio("cairn/bookkeeper open", co, bo)
else:
    print("\n-- BookKeeper: not run (--skip bookkeeper) --")
EOF
log "done in $(( $(date +%s) - T0 ))s: table $OUT/table.txt, plots $OUT/*.png and $OUT/runs/*/"
