#!/bin/sh
# Regenerates the FFM bindings for the native shim (native/src/main/c/cairn_shim.h) with jextract
# and records the header's SHA-256, which BindingsUpToDateTest compares against.
#
# Needs `jextract` (JDK 23+ flavour; it is not in any registry, install it yourself) on PATH.
# No -l/--library option on purpose: the generated code resolves symbols through
# SymbolLookup.loaderLookup(), after CairnShim.load() has System.load()-ed the shim from the jar.
set -eu

cd "$(dirname "$0")"
HEADER=../native/src/main/c/cairn_shim.h
PACKAGE=io.cairn.bindings.generated
OUTPUT=src/main/java
PACKAGE_DIR="$OUTPUT/$(echo "$PACKAGE" | tr . /)"
HASH_FILE=src/main/resources/io/cairn/bindings/cairn_shim.h.sha256

if ! command -v jextract >/dev/null 2>&1; then
    echo "regen.sh: 'jextract' is not on PATH. Install jextract (https://github.com/openjdk/jextract," >&2
    echo "          built for JDK 23 or later) and put its launcher on PATH, then run this again." >&2
    exit 1
fi
if [ ! -f "$HEADER" ]; then
    echo "regen.sh: header $HEADER not found" >&2
    exit 1
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Keep the bindings to the shim's own API: take jextract's include list and keep only the
# declarations that come from cairn_shim.h itself (not from stddef.h/stdint.h).
if ! jextract --dump-includes "$WORK/all-includes.txt" "$HEADER" >"$WORK/dump.log" 2>&1; then
    cat "$WORK/dump.log" >&2
    echo "regen.sh: jextract could not parse $HEADER" >&2
    exit 1
fi
grep -E '^--include-[a-z]+ +[A-Za-z_0-9]+ +# header: .*/cairn_shim\.h$' "$WORK/all-includes.txt" \
    | awk '{ print $1, $2 }' \
    | grep -v -E '^--include-struct cairn_ring$' > "$WORK/includes.txt"
if [ ! -s "$WORK/includes.txt" ]; then
    echo "regen.sh: found no declarations of cairn_shim.h in jextract's include dump" >&2
    exit 1
fi

rm -rf "$PACKAGE_DIR"
jextract --output "$OUTPUT" --target-package "$PACKAGE" @"$WORK/includes.txt" "$HEADER"

mkdir -p "$(dirname "$HASH_FILE")"
sha256sum "$HEADER" | awk '{ print $1 }' > "$HASH_FILE"

echo "regen.sh: generated $(ls "$PACKAGE_DIR" | wc -l) files in $PACKAGE_DIR; header hash $(cat "$HASH_FILE")"
