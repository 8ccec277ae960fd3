#!/usr/bin/env bash
# The extent store against fio, on one file system, in rounds of paired runs (a benchmark, not a test).
#
#   perf/disk-bench.sh [DIR] [SECONDS_PER_RUN] [ROUNDS]      (defaults: ./data/disk-bench, 3, 3)
#
# DIR must be on the file system to measure (O_DIRECT; not tmpfs). SECONDS_PER_RUN (1..600) is each run's
# measured window, after 1 s of warm-up; ROUNDS is 1..20. Needs fio, python3 and a build (./run.sh or
# mvn -DskipTests package -pl perf -am). 20 runs per round, each about SECONDS_PER_RUN + 2 s: 302 s at the
# defaults on the 2-core VM (2026-11-22).
#
# Method: rounds, paired ratios, medians. This VM's virtual disk drifts: the same fio command gave 53K-63K IOPS
# a minute apart (+-10-15%), more than the differences to judge, so one run per row decides nothing. Every round
# runs every row once, each Cairn run right after the fio runs it is compared with, in this order per QD:
# fio C, fio A, fio B, fio nosync, Cairn write, fio randread, Cairn read. A round's ratio is Cairn / the fio run
# beside it in that round (drift slower than a few runs cancels within the pair); a row's verdict is the MEDIAN of
# its per-round ratios. Every round's ratios are printed (rounds.txt), with their median, min and max: a bad round
# is shown, never dropped. Target met: IOPS ratio median >= 0.90 and p99 ratio median <= 1.20.
#
# Every run writes a fresh file (fio) or a fresh extent (Cairn), fallocated and never written before, so both pay
# the same unwritten-extent conversion. 4 KiB I/O, O_DIRECT, closed loop at QD N = 1, 8 and 32. Rows:
#
#   write+sync  Cairn: appends of one 4 KiB block (32 B header + 4064 B payload); the disk agent submits the
#               writes as they come and, once the writes before it completed, one fdatasync (at most one in
#               flight per extent; a lone write to a synced file, as at QD 1, is one RWF_DSYNC write instead);
#               an append is acknowledged only after an fdatasync covering it. Closed loop at QD N: N writes,
#               all complete, one fdatasync, N acks (see fsyncs= in summary.txt).
#               fio C, the IOPS reference (the verdict): --ioengine=libaio --iodepth=N --iodepth_batch_submit=N
#               --iodepth_batch_complete_min=N --fdatasync=N, "a sync per batch": the same shape as Cairn's.
#               strace -f -e trace=io_submit,io_getevents,fdatasync, fio 3.33, 1 s: N=8: io_submit(8),
#               io_getevents(min 8), fdatasync, repeated (758 / 758 / 758); N=32: io_submit(32),
#               io_getevents(min 32), fdatasync (511 / 511 / 510).
#               fio A, IOPS for information only: --ioengine=libaio --iodepth=N --fdatasync=N. Not like-for-like:
#               libaio runs the fdatasync synchronously as soon as nothing is *queued* (fio_libaio_queue:
#               "if (ddir_sync) { if (ld->iocbs_nr) return FIO_Q_BUSY; do_io_u_sync(); }") while up to N-1
#               writes are still *in flight*, so it never drains and its fdatasync does not cover the writes
#               around it (streaming QD N with a sync every N writes). strace, N=8: io_submit(1) 7000,
#               io_getevents(min 1) 6993, fdatasync 875 (one per 8 writes), then a last io_getevents(min 7)
#               draining the 7 writes still in flight; N=32: 4192 / 4161 / 131, last io_getevents(min 31).
#               At QD 1 C and A are the same job (both batch options default to 1): it runs once, as C.
#               fio's io_uring engine does not honour fdatasync=N (3.33 syncs every 2-3 writes), hence libaio.
#               fio's latency for A and C is the write's only (the sync is timed apart); Cairn's runs until the
#               data is durable, so p99 is compared with
#               fio B, the latency reference: --ioengine=io_uring --sync=dsync: O_DSYNC, every write durable
#               when it completes.
#   read        Both read the very same 256 MiB of the very same file: Cairn writes one 256 MiB extent once,
#               before the first round (cairn-bench disk --extent-dir, 65536 appends of one 4 KiB block), then
#               every Cairn run reads random blocks of it, CRC32C-verified, and every fio run reads it with
#               io_uring randread from offset 4096 (past the extent header page), 256 MiB. Same blocks, same
#               allocation, same history in the file system and the host's caches: a read file fio lays out
#               with 1 MiB writes long before is not the same thing as an extent filled right before its
#               run (measured: a fresh fill read 7-11% slower than the same extent 2 s later, and the gap
#               moved with the delay). IOPS and p99 both against fio.
#   write       fio io_uring writes without any sync (fio-uring-nosync): reference only (the store never
#               acknowledges a write before its fdatasync, so it has no such mode).
#
# Latency: HdrHistogram for both (fio's per-I/O total latency log, lat = submission to completion, is read into a
# histogram). Results in perf/results/disk-<time>/: <run>-r<round>.hgrm for every run and fio's
# <run>-r<round>.json; summary.txt (one line per run, in run order); rounds.txt (every round's ratios);
# table.txt (per row: medians over rounds of Cairn's and its fio references' IOPS/MB/s/p50/p99/p99.9, the median
# ratio [min..max], target met). Progress goes to stderr; the last line of stdout names the results folder
# (perf/compare.sh reads it).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
USAGE="usage: perf/disk-bench.sh [DIR] [SECONDS_PER_RUN 1..600] [ROUNDS 1..20]   (defaults: ./data/disk-bench, 3, 3)"
SECONDS_PER_RUN_MAX=600
ROUNDS_MAX=20

usage_error() {
    echo "disk-bench: $*" >&2
    echo "$USAGE" >&2
    exit 2
}
case "${1:-}" in -h | --help) echo "$USAGE"; exit 0 ;; esac
[ $# -le 3 ] || usage_error "expected at most 3 arguments, got $#"
DIR=${1:-$ROOT/data/disk-bench}
RUN_SECONDS=${2:-3}
ROUNDS=${3:-3}
# in_range VALUE MAX: VALUE is a whole number in 1..MAX (10# keeps a leading zero from reading as octal).
in_range() {
    [[ $1 =~ ^[0-9]{1,6}$ ]] && ((10#$1 >= 1 && 10#$1 <= $2))
}
if ! in_range "$RUN_SECONDS" "$SECONDS_PER_RUN_MAX"; then
    usage_error "SECONDS_PER_RUN must be a whole number of seconds in 1..$SECONDS_PER_RUN_MAX, got '$RUN_SECONDS'"
fi
if ! in_range "$ROUNDS" "$ROUNDS_MAX"; then
    usage_error "ROUNDS must be a whole number in 1..$ROUNDS_MAX, got '$ROUNDS'"
fi
RUN_SECONDS=$((10#$RUN_SECONDS))
ROUNDS=$((10#$ROUNDS))
QDS=(1 8 32)
RUNS_PER_ROUND=$((${#QDS[@]} * 7 - 1)) # 7 runs per QD; A is not run at QD 1 (it is C there)

command -v fio >/dev/null || { echo "disk-bench: fio is not installed" >&2; exit 1; }
command -v python3 >/dev/null || { echo "disk-bench: python3 is needed for the table" >&2; exit 1; }
BENCH="$ROOT/bin/cairn-bench"
OUT=$ROOT/perf/results/disk-$(date +%Y%m%d-%H%M%S)
mkdir -p "$DIR" "$OUT"
DIR=$(cd "$DIR" && pwd)
SUMMARY=$OUT/summary.txt
: > "$SUMMARY"
READ_EXTENT_DIR=$DIR/read-extent
READ_FILE=$READ_EXTENT_DIR/extents/1.ext
trap 'rm -rf "$READ_EXTENT_DIR"; rm -f "$DIR/fio.dat"' EXIT
echo "disk-bench: dir=$DIR seconds/run=$RUN_SECONDS rounds=$ROUNDS runs=$((ROUNDS * RUNS_PER_ROUND))" \
    "results=$OUT ($(fio --version), $(uname -r))"

RUN=0
ROUND=0
progress() {
    RUN=$((RUN + 1))
    echo "disk-bench: round $ROUND/$ROUNDS, run $RUN/$((ROUNDS * RUNS_PER_ROUND)) ($SECONDS s elapsed): $1" >&2
}

# fio_run NAME FILE FIO_ARGS...: one run (NAME gets the round's suffix), JSON + per-I/O latency log -> .hgrm
# and a summary line.
fio_run() {
    local name=$1-r$ROUND file=$2
    shift 2
    progress "$name"
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

# fio_write NAME FIO_ARGS...: fio_run on a fresh 4 GiB file.
fio_write() {
    local name=$1
    shift
    rm -f "$DIR/fio.dat"
    fio_run "$name" "$DIR/fio.dat" --size=4g --rw=write "$@"
    rm -f "$DIR/fio.dat"
}

cairn_run() {
    local name=$1-r$ROUND
    shift
    progress "$name"
    "$BENCH" disk --dir "$DIR" --seconds "$RUN_SECONDS" --warmup-seconds 1 --hgrm "$OUT/$name.hgrm" \
        --label "$name" "$@" | tee -a "$SUMMARY"
}

rm -rf "$READ_EXTENT_DIR"
echo "disk-bench: writing the 256 MiB read extent both read ($READ_FILE)" >&2
"$BENCH" disk --dir "$DIR" --extent-dir "$READ_EXTENT_DIR" --mode read --qd 32 --seconds 1 --warmup-seconds 0 \
    --label read-extent-fill >/dev/null 2>&1
[ -f "$READ_FILE" ] || { echo "disk-bench: the read extent was not written ($READ_FILE)" >&2; exit 1; }
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
    for qd in "${QDS[@]}"; do
        fio_write "fio-libaio-batchsync-qd$qd" --ioengine=libaio --iodepth="$qd" --iodepth_batch_submit="$qd" \
            --iodepth_batch_complete_min="$qd" --fdatasync="$qd"
        if [ "$qd" -gt 1 ]; then
            fio_write "fio-libaio-fdatasync-qd$qd" --ioengine=libaio --iodepth="$qd" --fdatasync="$qd"
        fi
        fio_write "fio-uring-dsync-qd$qd" --ioengine=io_uring --iodepth="$qd" --sync=dsync
        fio_write "fio-uring-nosync-qd$qd" --ioengine=io_uring --iodepth="$qd"
        cairn_run "cairn-write-qd$qd" --mode write --qd "$qd"
        fio_run "fio-uring-randread-qd$qd" "$READ_FILE" --offset=4096 --size=256m --rw=randread \
            --ioengine=io_uring --iodepth="$qd"
        cairn_run "cairn-read-qd$qd" --mode read --qd "$qd" --extent-dir "$READ_EXTENT_DIR"
    done
done

python3 - "$SUMMARY" "$ROUNDS" "$OUT/rounds.txt" "$OUT/table.txt" "${QDS[@]}" <<'EOF'
import re, statistics, sys
summary, rounds, rounds_path, table_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
qds = [int(q) for q in sys.argv[5:]]
IOPS_RATIO_MIN, P99_RATIO_MAX = 0.90, 1.20
runs = {}  # (row, round) -> figures
for line in open(summary):
    parts = line.split()
    m = re.fullmatch(r"(.+)-r(\d+)", parts[0])
    kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
    runs[(m.group(1), int(m.group(2)))] = {k: float(kv[k]) for k in ("iops", "p50us", "p99us", "p999us")}

def fig(row, key, r):
    # At QD 1 fio A is the same job as fio C (both batch options default to 1): it ran once, as C.
    if row == "fio-libaio-fdatasync-qd1":
        row = "fio-libaio-batchsync-qd1"
    return runs[(row, r)][key]

def per_round(c, ref, key):
    return [fig(c, key, r) / fig(ref, key, r) for r in range(1, rounds + 1)]

def med(row, key):
    return statistics.median(fig(row, key, r) for r in range(1, rounds + 1))

def spread(ratios):
    return f"{statistics.median(ratios):.2f} [{min(ratios):.2f}..{max(ratios):.2f}]"

# Per row: (Cairn row, [(ratio name, reference row, key, part of the verdict)], reference rows to print).
rows = []
for qd in qds:
    c, a, b = f"fio-libaio-batchsync-qd{qd}", f"fio-libaio-fdatasync-qd{qd}", f"fio-uring-dsync-qd{qd}"
    rows.append((f"cairn-write-qd{qd}",
                 [("IOPS/C", c, "iops", True), ("p99/B", b, "p99us", True), ("IOPS/A", a, "iops", False)],
                 [("C", c), ("A", a), ("B", b), ("", f"fio-uring-nosync-qd{qd}")]))
    f = f"fio-uring-randread-qd{qd}"
    rows.append((f"cairn-read-qd{qd}", [("IOPS", f, "iops", True), ("p99", f, "p99us", True)], [("", f)]))

out = []
out.append(f"per-round ratios (Cairn / the fio run beside it in the same round), {rounds} round(s)")
out.append(f"{'row':<18} {'ratio':<9}" + "".join(f"{'r' + str(r):>7}" for r in range(1, rounds + 1))
           + f"{'median':>8}{'min':>7}{'max':>7}")
for cairn, ratios, _ in rows:
    for i, (name, ref, key, verdict) in enumerate(ratios):
        rs = per_round(cairn, ref, key)
        out.append(f"{cairn if i == 0 else '':<18} {name + ('' if verdict else '*'):<9}"
                   + "".join(f"{x:>7.2f}" for x in rs)
                   + f"{statistics.median(rs):>8.2f}{min(rs):>7.2f}{max(rs):>7.2f}")
out.append("* information only (fio A is not like-for-like: see the header of perf/disk-bench.sh)")
open(rounds_path, "w").write("\n".join(out) + "\n")
print("\n".join(out) + "\n")

def cells(row):
    iops = med(row, "iops")
    return (f"{iops:>9.0f} {iops * 4096 / 1e6:>7.1f} {med(row, 'p50us'):>8.1f} {med(row, 'p99us'):>8.1f}"
            f" {med(row, 'p999us'):>9.1f}")

t = []
t.append(f"medians over {rounds} round(s); ratios: median of the per-round Cairn/fio ratios [min..max]")
t.append(f"{'row':<36} {'IOPS':>9} {'MB/s':>7} {'p50 us':>8} {'p99 us':>8} {'p99.9 us':>9}  "
         f"{'IOPS ratio':<26} {'p99 ratio':<24} target met")
for cairn, ratios, refs in rows:
    (iname, iref, ikey, _), (pname, pref, pkey, _) = ratios[0], ratios[1]
    iops_r, p99_r = per_round(cairn, iref, ikey), per_round(cairn, pref, pkey)
    met = statistics.median(iops_r) >= IOPS_RATIO_MIN and statistics.median(p99_r) <= P99_RATIO_MAX
    t.append(f"{cairn:<36} {cells(cairn)}  {iname + ' ' + spread(iops_r):<26} {pname + ' ' + spread(p99_r):<24} "
             f"{'yes' if met else 'NO'}")
    info = {ref: f"{name} {spread(per_round(cairn, ref, key))} (info)" for name, ref, key, v in ratios if not v}
    for tag, ref in refs:
        label = f"  {tag + ' ' if tag else ''}{ref}{'' if tag else ' (reference)' if 'nosync' in ref else ''}"
        if ref == "fio-libaio-fdatasync-qd1":
            t.append(f"{label:<36} {'= C (at QD 1 the same fio job)':>30}")
            continue
        t.append(f"{label:<36} {cells(ref)}  {info.get(ref, '')}".rstrip())
t.append(f"target: IOPS ratio median >= {IOPS_RATIO_MIN:.2f} and p99 ratio median <= {P99_RATIO_MAX:.2f} at every QD"
         " (write+sync: IOPS vs C, p99 vs B; read: vs fio randread)")
open(table_path, "w").write("\n".join(t) + "\n")
print("\n".join(t))
EOF
echo "disk-bench: $((ROUNDS * RUNS_PER_ROUND)) runs in $SECONDS s"
echo "disk-bench: histograms and fio JSON in $OUT"
