#!/usr/bin/env bash
# The extent store against fio, on one file system, in one go (a benchmark, not a test).
#
#   perf/disk-bench.sh [DIR] [SECONDS_PER_RUN]        (defaults: ./data/disk-bench, 5)
#
# DIR must be on the file system to measure (O_DIRECT; not tmpfs). Needs fio, python3 and a build
# (./run.sh or mvn -DskipTests install). Every run writes a fresh file (fio) or a fresh extent (Cairn),
# fallocated and never written before, so both pay the same unwritten-extent conversion. 4 KiB I/O,
# O_DIRECT, closed loop at QD 1, 8 and 32. Rows and their sync cadence:
#
#   write+sync  Cairn: appends of one 4 KiB block (32 B header + 4064 B payload); the disk agent submits the
#               writes as they come (concurrently) and, once the writes before it completed, one fdatasync
#               (at most one in flight per extent; a lone write to a synced file, as at QD 1, is
#               one RWF_DSYNC write instead, like fio B); an append completes after an
#               fdatasync covering it. Closed loop at QD N => one fdatasync per up to N writes (see fsyncs=).
#               fio A: --ioengine=libaio --fdatasync=N: one fdatasync per N writes (fio's io_uring engine
#               does not honour fdatasync=N; libaio does: writes/syncs = N in its JSON). Its latency is
#               the WRITE's only (fio times the sync separately): Cairn's is write + sync, so compare
#               throughput with A.
#               fio B: --ioengine=io_uring --sync=dsync: O_DSYNC, every write durable when it completes
#               (a sync per write). Its latency, like Cairn's, runs until the data is durable: compare
#               latency with B.
#   read        Cairn: random verified (CRC32C) 4 KiB block reads of a 256 MiB extent; fio: io_uring
#               randread of a 256 MiB file.
#   write       fio io_uring writes without any sync: reference only (the store never acknowledges a
#               write before its fdatasync, so it has no such mode).
#
# Latency: HdrHistogram for both (fio's per-I/O total latency log, lat = submission to completion, is
# read into a histogram); the .hgrm files, fio's JSON and a summary land in perf/results/disk-<time>/.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${1:-$ROOT/data/disk-bench}
RUN_SECONDS=${2:-5}
OUT=$ROOT/perf/results/disk-$(date +%Y%m%d-%H%M%S)
mkdir -p "$DIR" "$OUT"
DIR=$(cd "$DIR" && pwd)
command -v fio >/dev/null || { echo "disk-bench: fio is not installed" >&2; exit 1; }
command -v python3 >/dev/null || { echo "disk-bench: python3 is needed for the table" >&2; exit 1; }
BENCH="$ROOT/bin/cairn-bench"
SUMMARY=$OUT/summary.txt
: > "$SUMMARY"
echo "disk-bench: dir=$DIR seconds/run=$RUN_SECONDS results=$OUT ($(fio --version), $(uname -r))"

# fio_run NAME FILE FIO_ARGS...: fresh run, JSON + per-I/O latency log -> .hgrm + a summary line.
fio_run() {
    local name=$1 file=$2
    shift 2
    fio --name="$name" --filename="$file" --bs=4k --direct=1 --time_based --runtime="$RUN_SECONDS" \
        --ramp_time=1 --write_lat_log="$OUT/$name" --log_avg_msec=0 --output-format=json \
        --output="$OUT/$name.json" "$@" >/dev/null
    local iops
    iops=$(python3 -c "import json,sys; j=json.load(open(sys.argv[1]))['jobs'][0]; \
print(round(j['read']['iops'] + j['write']['iops']))" "$OUT/$name.json")
    local pct
    pct=$("$BENCH" disk hgrm --lat-log "$OUT/${name}_lat.1.log" --out "$OUT/$name.hgrm" --label "$name")
    rm -f "$OUT/${name}"_*.log
    echo "$pct iops=$iops" | tee -a "$SUMMARY"
}

cairn_run() {
    local name=$1
    shift
    "$BENCH" disk --dir "$DIR" --seconds "$RUN_SECONDS" --warmup-seconds 1 --hgrm "$OUT/$name.hgrm" \
        --label "$name" "$@" | tee -a "$SUMMARY"
}

READ_FILE=$DIR/fio-read.dat
rm -f "$READ_FILE"
fio --name=layout --filename="$READ_FILE" --size=256m --bs=1m --rw=write --direct=1 --ioengine=psync \
    --output=/dev/null
for qd in 1 8 32; do
    rm -f "$DIR/fio.dat"
    fio_run "fio-libaio-fdatasync-qd$qd" "$DIR/fio.dat" --size=4g --rw=write --ioengine=libaio \
        --iodepth="$qd" --fdatasync="$qd"
    rm -f "$DIR/fio.dat"
    fio_run "fio-uring-dsync-qd$qd" "$DIR/fio.dat" --size=4g --rw=write --ioengine=io_uring \
        --iodepth="$qd" --sync=dsync
    rm -f "$DIR/fio.dat"
    fio_run "fio-uring-nosync-qd$qd" "$DIR/fio.dat" --size=4g --rw=write --ioengine=io_uring --iodepth="$qd"
    rm -f "$DIR/fio.dat"
    cairn_run "cairn-write-qd$qd" --mode write --qd "$qd"
    fio_run "fio-uring-randread-qd$qd" "$READ_FILE" --size=256m --rw=randread --ioengine=io_uring --iodepth="$qd"
    cairn_run "cairn-read-qd$qd" --mode read --qd "$qd"
done
rm -f "$READ_FILE" "$DIR/fio.dat"

python3 - "$SUMMARY" <<'EOF' | tee "$OUT/table.txt"
import re, sys
rows = {}
for line in open(sys.argv[1]):
    parts = line.split()
    kv = dict(p.split('=', 1) for p in parts[1:] if '=' in p)
    rows[parts[0]] = {k: float(kv[k]) for k in ('iops', 'p50us', 'p99us', 'p999us')}
def cell(name):
    r = rows[name]
    return f"{r['iops']:>9.0f} {r['iops'] * 4096 / 1e6:>7.1f} {r['p50us']:>8.1f} {r['p99us']:>8.1f} {r['p999us']:>9.1f}"
print(f"{'row':<34} {'IOPS':>9} {'MB/s':>7} {'p50 us':>8} {'p99 us':>8} {'p99.9 us':>9}  ratios (Cairn/fio)")
for qd in (1, 8, 32):
    c, a, b, n = f"cairn-write-qd{qd}", f"fio-libaio-fdatasync-qd{qd}", f"fio-uring-dsync-qd{qd}", f"fio-uring-nosync-qd{qd}"
    print(f"{c:<34} {cell(c)}  IOPS/A {rows[c]['iops'] / rows[a]['iops']:.2f}  IOPS/B {rows[c]['iops'] / rows[b]['iops']:.2f}"
          f"  p99/B {rows[c]['p99us'] / rows[b]['p99us']:.2f}  p99/A {rows[c]['p99us'] / rows[a]['p99us']:.2f}")
    print(f"{'  A ' + a:<34} {cell(a)}")
    print(f"{'  B ' + b:<34} {cell(b)}")
    print(f"{'  ' + n + ' (reference)':<34} {cell(n)}")
    c, f = f"cairn-read-qd{qd}", f"fio-uring-randread-qd{qd}"
    print(f"{c:<34} {cell(c)}  IOPS {rows[c]['iops'] / rows[f]['iops']:.2f}  p99 {rows[c]['p99us'] / rows[f]['p99us']:.2f}")
    print(f"{'  ' + f:<34} {cell(f)}")
print("target: IOPS >= 0.9x fio and p99 <= 1.2x fio at every QD (write+sync: IOPS vs A, p99 vs B)")
EOF
echo "disk-bench: histograms and fio JSON in $OUT"
