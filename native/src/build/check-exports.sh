#!/bin/sh
# Fails when the shim exports any dynamic symbol that is not part of the cairn_* API
# (e.g. liburing leaking out of the static link). Usage: check-exports.sh path/to/libcairn_shim.so
set -eu
lib="$1"
if [ ! -f "$lib" ]; then
    echo "check-exports: $lib does not exist" >&2
    exit 1
fi
symbols=$(nm -D --defined-only "$lib" | awk '{ print $NF }')
if [ -z "$symbols" ]; then
    echo "check-exports: $lib exports no symbols at all" >&2
    exit 1
fi
foreign=$(printf '%s\n' "$symbols" | grep -v '^cairn_' || true)
if [ -n "$foreign" ]; then
    echo "check-exports: $lib exports symbols outside the cairn_ API:" >&2
    printf '  %s\n' $foreign >&2
    exit 1
fi
echo "check-exports: $(printf '%s\n' "$symbols" | wc -l) cairn_* symbols, nothing else"
