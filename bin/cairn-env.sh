# Sourced by every Cairn launcher and by ./run.sh and ./test.sh: finds JDK 25, reads the JVM flags from
# jvm.properties (the one place they are kept) and builds classpaths. Works in two layouts: a source checkout
# (each module's target/ jar and target/lib) and an unpacked release tarball (every jar in lib/).
# shellcheck shell=bash

CAIRN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CAIRN_VERSION=0.1.0-SNAPSHOT

cairn_die() { echo "cairn: $*" >&2; exit 1; }

# Prints the home of a JDK 25: $JAVA_HOME if it is one, else one under /usr/lib/jvm.
cairn_find_jdk25() {
    local candidate
    for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25* /usr/lib/jvm/*-25-* /usr/lib/jvm/jdk-25* /opt/jdk-25*; do
        [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] || continue
        if "$candidate/bin/java" -version 2>&1 | head -1 | grep -q '"25[".]'; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

CAIRN_JAVA_HOME=$(cairn_find_jdk25) || cairn_die "no JDK 25 found (looked at \$JAVA_HOME and /usr/lib/jvm/*25*). \
Install Temurin 25 beside the system JDK, or set JAVA_HOME to a JDK 25."
export JAVA_HOME="$CAIRN_JAVA_HOME"
export PATH="$JAVA_HOME/bin:$PATH"
CAIRN_JAVA="$JAVA_HOME/bin/java"

CAIRN_JVM_FLAGS=$(sed -n 's/^cairn\.jvm\.flags=//p' "$CAIRN_ROOT/jvm.properties")
[ -n "$CAIRN_JVM_FLAGS" ] || cairn_die "$CAIRN_ROOT/jvm.properties has no cairn.jvm.flags line"

# Classpath of a built module: its jar and the runtime dependencies copied to target/lib at package time;
# in a release tarball, lib/ holds every jar.
cairn_classpath() {
    local module=$1
    if [ -f "$CAIRN_ROOT/lib/cairn-$module-$CAIRN_VERSION.jar" ]; then
        echo "$CAIRN_ROOT/lib/*"
        return 0
    fi
    local jar="$CAIRN_ROOT/$module/target/cairn-$module-$CAIRN_VERSION.jar"
    [ -f "$jar" ] || cairn_die "$module is not built ($jar missing): run ./run.sh, or mvn -DskipTests install"
    echo "$jar:$CAIRN_ROOT/$module/target/lib/*"
}

# cairn_exec MODULE MAIN_CLASS ARGS... : replaces the shell with the JVM.
cairn_exec() {
    local module=$1 main=$2
    shift 2
    # shellcheck disable=SC2086 # the flags are a word list on purpose
    exec "$CAIRN_JAVA" $CAIRN_JVM_FLAGS ${CAIRN_JAVA_OPTS:-} -cp "$(cairn_classpath "$module")" "$main" "$@"
}
