package io.cairn.client.cli;

import io.cairn.manager.ManagerListing;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code cairn partitions}: its table and its JSON; the changes (create, split, merge, assign, unassign): their
 * parsing, errors naming the bad argument, their output, and that they default to the admin role.
 */
class ManagerCommandsPartitionsTest
{
    private static final List<ManagerListing.Partition> TABLE = List.of(
        new ManagerListing.Partition(4, "", "m", 9, 0, 0, 0, 0, 0),
        new ManagerListing.Partition(7, "m", "", 12, 3, 41, 1, 2, 5));

    @Test
    void printsTableWithOpenEnds()
    {
        final String text = run(false);
        final String[] lines = text.split("\n");
        assertEquals(3, lines.length, text);
        assertTrue(lines[0].startsWith("PARTITION"), text);
        assertTrue(lines[1].matches("4\\s+-\\s+0\\s+9\\s+0,0,0\\s+\\[-inf, \"m\"\\)"), lines[1]);
        assertTrue(lines[2].matches("7\\s+3\\s+41\\s+12\\s+1,2,5\\s+\\[\"m\", \\+inf\\)"), lines[2]);
    }

    @Test
    void printsJson()
    {
        assertEquals("[{\"partitionId\":4,\"startKey\":\"\",\"endKey\":\"m\",\"version\":9,\"ownerId\":0," +
            "\"ownerLeaseId\":0,\"logStreamId\":0,\"tableStreamId\":0,\"metaStreamId\":0}," +
            "{\"partitionId\":7,\"startKey\":\"m\",\"endKey\":\"\",\"version\":12,\"ownerId\":3,\"ownerLeaseId\":41," +
            "\"logStreamId\":1,\"tableStreamId\":2,\"metaStreamId\":5}]\n", run(true));
    }

    @Test
    void unknownSubcommandIsNamed()
    {
        final ManagerCommands commands = new ManagerCommands(System.out, false);
        assertTrue(ManagerCommands.VERBS.contains("partitions"));
        assertTrue(ManagerCommands.USAGE.contains("partitions assign"));
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
            () -> commands.parse("partitions", new ArrayList<>(List.of("extra"))));
        assertTrue(ex.getMessage().contains("extra"), ex.getMessage());
    }

    @Test
    void printsChanges()
    {
        final ByteArrayOutputStream text = new ByteArrayOutputStream();
        new ManagerCommands(new PrintStream(text, true, StandardCharsets.UTF_8), false)
            .printChange("split", new ManagerListing.PartitionChange(7, 15, 16, 15));
        assertEquals("split partition 7: version 15; new partition 16; revision 15\n",
            text.toString(StandardCharsets.UTF_8));
        final ByteArrayOutputStream json = new ByteArrayOutputStream();
        new ManagerCommands(new PrintStream(json, true, StandardCharsets.UTF_8), true)
            .printChange("assigned", new ManagerListing.PartitionChange(7, 17, -1, 17));
        assertEquals("{\"partitionId\":7,\"version\":17,\"newPartitionId\":-1,\"revision\":17}\n",
            json.toString(StandardCharsets.UTF_8));
    }

    @Test
    void mutationsParseAndNeedTheAdminRole()
    {
        final ManagerCommands commands = new ManagerCommands(System.out, false);
        for (final List<String> ok : List.of(
            List.of("create", "", "m"),
            List.of("create", "m", "", "--log-stream", "3", "--table-stream", "4", "--meta-stream", "0"),
            List.of("split", "7", "t", "--version", "12"),
            List.of("merge", "4", "7", "--left-version", "9", "--right-version", "12"),
            List.of("assign", "7", "3", "--lease", "41"),
            List.of("unassign", "7", "--version", "12")))
        {
            assertNotNull(commands.parse("partitions", new ArrayList<>(ok)), ok.toString());
            assertTrue(ManagerCommands.needsAdmin("partitions", ok), ok.toString());
        }
        assertFalse(ManagerCommands.needsAdmin("partitions", List.of()), "listing is open to clients");
        assertTrue(ManagerCommands.needsAdmin("snapshot", List.of()));
        assertFalse(ManagerCommands.needsAdmin("kv", List.of("put", "k", "v")));
    }

    @Test
    void badMutationsNameTheProblem()
    {
        final ManagerCommands commands = new ManagerCommands(System.out, false);
        final Object[][] cases = {
            { List.of("move", "7"), "unknown partitions subcommand 'move'" },
            { List.of("create", "a"), "missing END" },
            { List.of("create", "a", "b", "--log-stream", "x"), "--log-stream 'x' is not a whole number" },
            { List.of("split", "7"), "missing KEY" },
            { List.of("split", "0", "k"), "ID 0 must be in" },
            { List.of("split", "7", "k", "--version", "0"), "--version 0 must be in" },
            { List.of("merge", "4"), "missing RIGHT_ID" },
            { List.of("assign", "7", "3"), "needs --lease" },
            { List.of("assign", "7", "0", "--lease", "41"), "OWNER_ID 0 must be in" },
            { List.of("assign", "7", "3", "--lease"), "--lease needs a value" },
            { List.of("unassign"), "missing ID" },
            { List.of("unassign", "7", "extra"), "unexpected argument(s): extra" } };
        for (final Object[] c : cases)
        {
            @SuppressWarnings("unchecked") final List<String> args = new ArrayList<>((List<String>)c[0]);
            final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                () -> commands.parse("partitions", args), c[0].toString());
            assertTrue(ex.getMessage().contains((String)c[1]), c[0] + ": " + ex.getMessage());
        }
    }

    private static String run(final boolean json)
    {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final ManagerCommands commands = new ManagerCommands(new PrintStream(bytes, true, StandardCharsets.UTF_8), json);
        assertEquals(0, commands.printPartitions(TABLE));
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
