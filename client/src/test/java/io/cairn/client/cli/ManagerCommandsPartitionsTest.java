package io.cairn.client.cli;

import io.cairn.manager.ManagerListing;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code cairn partitions}: its table and its JSON, and that it takes no arguments.
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
    void takesNoArguments()
    {
        final ManagerCommands commands = new ManagerCommands(System.out, false);
        assertTrue(ManagerCommands.VERBS.contains("partitions"));
        assertTrue(ManagerCommands.USAGE.contains("partitions"));
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
            () -> commands.parse("partitions", new ArrayList<>(List.of("extra"))));
        assertTrue(ex.getMessage().contains("extra"), ex.getMessage());
    }

    private static String run(final boolean json)
    {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final ManagerCommands commands = new ManagerCommands(new PrintStream(bytes, true, StandardCharsets.UTF_8), json);
        assertEquals(0, commands.printPartitions(TABLE));
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
