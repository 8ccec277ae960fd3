package io.cairn.client.cli;

import io.cairn.manager.ManagerListing;
import io.cairn.sbe.manager.TaskKind;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code cairn tasks}: a waiting task and one claimed with progress, as a table and as JSON.
 */
class ManagerCommandsTasksTest
{
    private static final List<ManagerListing.Task> TASKS = List.of(
        new ManagerListing.Task(12, TaskKind.SEAL, 6, 1, 3, 5_000, -1),
        new ManagerListing.Task(13, TaskKind.RECOVER, 2, 1, 3, 5_000, 139_264, 4, 2, 41_000, 69_632));

    @Test
    void printsStateProgressAndClaimExpiry()
    {
        final String text = run(false);
        final String[] lines = text.split("\n");
        assertEquals(3, lines.length, text);
        assertTrue(lines[0].matches("TASK\\s+KIND.*STATE\\s+PROGRESS_BYTES\\s+CLAIM_EXPIRES_AT_MS"), lines[0]);
        assertTrue(lines[1].matches("12\\s+SEAL\\s+6\\s+1\\s+3\\s+open\\s+5000\\s+waiting\\s+0/\\?\\s+-"), lines[1]);
        assertTrue(lines[2].matches("13\\s+RECOVER\\s+2\\s+1\\s+3\\s+139264\\s+5000\\s+node 4\\s+69632/135168\\s+41000"),
            lines[2]);
    }

    @Test
    void printsJson()
    {
        assertEquals("[{\"taskId\":12,\"kind\":\"SEAL\",\"extentId\":6,\"streamId\":1,\"lostNodeId\":3," +
            "\"createdAtMs\":5000,\"sealedLength\":-1,\"state\":\"waiting\",\"claimNodeId\":0,\"claimEpoch\":0," +
            "\"claimExpiresAtMs\":0,\"progressBytes\":0,\"totalBytes\":-1}," +
            "{\"taskId\":13,\"kind\":\"RECOVER\",\"extentId\":2,\"streamId\":1,\"lostNodeId\":3," +
            "\"createdAtMs\":5000,\"sealedLength\":139264,\"state\":\"node 4\",\"claimNodeId\":4,\"claimEpoch\":2," +
            "\"claimExpiresAtMs\":41000,\"progressBytes\":69632,\"totalBytes\":135168}]\n", run(true));
    }

    private static String run(final boolean json)
    {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final ManagerCommands commands = new ManagerCommands(new PrintStream(bytes, true, StandardCharsets.UTF_8), json);
        assertEquals(0, commands.printTasks(TASKS));
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
