package io.cairn.client;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every bad command line gets a message naming what is wrong, the usage, and exit code 2 — without
 * contacting any cluster.
 */
class CairnCliTest
{
    static Stream<Arguments> badCommandLines()
    {
        return Stream.of(
            Arguments.of(new String[]{ "bogus" }, "unknown command 'bogus'"),
            Arguments.of(new String[]{ "stream" }, "stream needs a subcommand"),
            Arguments.of(new String[]{ "stream", "fly" }, "unknown stream subcommand 'fly'"),
            Arguments.of(new String[]{ "stream", "create" }, "missing NAME"),
            Arguments.of(new String[]{ "stream", "info", "abc" }, "STREAM_ID 'abc' is not a whole number"),
            Arguments.of(new String[]{ "stream", "info", "0" }, "STREAM_ID 0 must be in [1,"),
            Arguments.of(new String[]{ "stream", "append", "1" }, "exactly one of --data, --file, --random-bytes"),
            Arguments.of(new String[]{ "stream", "append", "1", "--data", "x", "--file", "y" }, "exactly one of"),
            Arguments.of(new String[]{ "stream", "append", "1", "--random-bytes", "0" }, "--random-bytes 0 must be in [1,"),
            Arguments.of(new String[]{ "stream", "append", "1", "--random-bytes", "67108865" }, "must be in [1, 67108864]"),
            Arguments.of(new String[]{ "stream", "append", "1", "--data", "x", "--meta", "m".repeat(65) },
                "--meta is 65 bytes in UTF-8; at most 64 allowed"),
            Arguments.of(new String[]{ "stream", "append", "1", "--data", "x", "--count", "-1" }, "--count -1 must be in"),
            Arguments.of(new String[]{ "stream", "append", "1", "--file", "/nonexistent/f" }, "cannot read"),
            Arguments.of(new String[]{ "stream", "read", "1", "--replica", "3" }, "--replica 3 must be in [0, 2]"),
            Arguments.of(new String[]{ "stream", "read", "1", "--out" }, "--out needs a value"),
            Arguments.of(new String[]{ "stream", "truncate", "--keep-from", "5" }, "missing --stream"),
            Arguments.of(new String[]{ "stream", "truncate", "--stream", "1" }, "missing --keep-from"),
            Arguments.of(new String[]{ "stream", "truncate", "--stream", "x", "--keep-from", "5" },
                "--stream 'x' is not a whole number"),
            Arguments.of(new String[]{ "stream", "truncate", "--stream", "1", "--keep-from", "0" },
                "--keep-from 0 must be in [1,"),
            Arguments.of(new String[]{ "stream", "truncate", "--stream", "1", "--keep-from", "2", "--owner-revision",
                "-3" }, "--owner-revision -3 must be in [0,"),
            Arguments.of(new String[]{ "stream", "punch", "--stream", "1" }, "missing --extent"),
            Arguments.of(new String[]{ "stream", "punch", "--stream", "1", "--extent", "4", "more" },
                "unexpected argument(s): more"),
            Arguments.of(new String[]{ "status", "extra" }, "unexpected argument(s): extra"),
            Arguments.of(new String[]{ "--managers", "localhost", "status" }, "--managers: managers entry 'localhost' is not id=host:port"),
            Arguments.of(new String[]{ "--timeout-ms", "0", "status" }, "--timeout-ms 0 must be in"),
            Arguments.of(new String[]{ "--credentials", "nocolon", "nodes" }, "--credentials must be ROLE:SECRET"),
            Arguments.of(new String[]{ "nodes", "extra" }, "unexpected argument(s): extra"),
            Arguments.of(new String[]{ "kv" }, "kv needs a subcommand"),
            Arguments.of(new String[]{ "kv", "cas" }, "unknown kv subcommand 'cas'"),
            Arguments.of(new String[]{ "kv", "get" }, "missing KEY"),
            Arguments.of(new String[]{ "kv", "put", "k" }, "missing VALUE"),
            Arguments.of(new String[]{ "kv", "put", "k", "v", "--lease", "0" }, "--lease 0 must be in"),
            Arguments.of(new String[]{ "kv", "range", "a", "--limit", "5000" }, "--limit 5000 must be in [1, 1000]"),
            Arguments.of(new String[]{ "kv", "watch", "k", "--count", "x" }, "--count 'x' is not a whole number"),
            Arguments.of(new String[]{ "--json", "snapshot", "now" }, "unexpected argument(s): now"));
    }

    @ParameterizedTest
    @MethodSource("badCommandLines")
    void badUsageExitsWithTwoAndNamesTheProblem(final String[] args, final String expected)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final int code = new CairnCli(new PrintStream(out, true), new PrintStream(err, true)).run(args);
        assertEquals(CairnCli.EXIT_USAGE, code);
        final String message = err.toString();
        assertTrue(message.contains(expected), () -> "expected '" + expected + "' in:\n" + message);
        assertTrue(message.contains("usage: cairn"), message);
    }

    @ParameterizedTest
    @MethodSource("emptyOrHelp")
    void helpPrintsUsage(final String[] args, final int expectedCode)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final int code = new CairnCli(new PrintStream(out, true), new PrintStream(new ByteArrayOutputStream())).run(args);
        assertEquals(expectedCode, code);
        assertTrue(out.toString().contains("stream append STREAM_ID"));
    }

    @org.junit.jupiter.api.Test
    void jsonStringsAreEscaped()
    {
        assertEquals("\"a\\\"b\\\\c\\n\\u0001\"", io.cairn.client.cli.ManagerCommands.quote("a\"b\\c\n\u0001"));
    }

    static Stream<Arguments> emptyOrHelp()
    {
        return Stream.of(
            Arguments.of(new String[0], CairnCli.EXIT_USAGE),
            Arguments.of(new String[]{ "--help" }, CairnCli.EXIT_OK));
    }

    @ParameterizedTest
    @MethodSource("badContexts")
    void contextConcludeRejectsBadValues(final CairnClient.Context ctx, final String expected)
    {
        final IllegalArgumentException ex =
            org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, ctx::conclude);
        assertTrue(ex.getMessage().contains(expected), ex.getMessage());
    }

    static Stream<Arguments> badContexts()
    {
        return Stream.of(
            Arguments.of(new CairnClient.Context().managers("nope"), "managers entry 'nope' is not id=host:port"),
            Arguments.of(new CairnClient.Context().nodeTimeoutNs(0), "nodeTimeoutNs=0 must be > 0"),
            Arguments.of(new CairnClient.Context().managerTimeoutNs(-5), "managerTimeoutNs=-5"),
            Arguments.of(new CairnClient.Context().maxAppendAttempts(0), "maxAppendAttempts=0"),
            Arguments.of(new CairnClient.Context().responseHost(" "), "responseHost"));
    }
}
