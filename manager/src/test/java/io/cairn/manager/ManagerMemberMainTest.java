package io.cairn.manager;

import org.junit.jupiter.api.Test;

import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ManagerMemberMainTest
{
    @Test
    void badFlagsExitWithUsageAndCode2() throws Exception
    {
        final List<String> command = new ArrayList<>();
        command.add(System.getProperty("java.home") + "/bin/java");
        final String flags = System.getProperty("cairn.jvm.flags", "").trim();
        if (!flags.isEmpty())
        {
            command.addAll(Arrays.asList(flags.split("\\s+")));
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), ManagerMember.class.getName(),
            "--member-id", "5", "--managers", "0=127.0.0.1:1,1=127.0.0.1:11", "--dir", "target/unused"));
        final File err = new File("target/manager-member-main-test.err");
        final Process process = new ProcessBuilder(command).redirectError(err).start();
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "exited");
        assertEquals(2, process.exitValue());
        final String stderr = java.nio.file.Files.readString(err.toPath());
        assertTrue(stderr.contains("member id 5 is not in managers") && stderr.contains("usage:"), stderr);
    }

    @Test
    void parsesFlagsAndRejectsBadOnes()
    {
        final ManagerMember.Context ctx = ManagerMember.parseArgs(new String[]{
            "--member-id", "1", "--managers", "0=h:100,1=h:200,2=h:300", "--dir", "/tmp/x" }).conclude();
        assertEquals(1, ctx.memberId());
        assertEquals("0,h:100,h:101,h:102,h:103,h:104|1,h:200,h:201,h:202,h:203,h:204|2,h:300,h:301,h:302,h:303,h:304",
            ctx.endpoints().clusterMembers());
        assertTrue(ctx.aeronDirectoryName().endsWith("cairn-manager-1-200"), ctx.aeronDirectoryName());

        assertThrows(IllegalArgumentException.class, () -> ManagerMember.parseArgs(new String[]{ "--member-id" }));
        assertThrows(IllegalArgumentException.class,
            () -> ManagerMember.parseArgs(new String[]{ "--bogus", "1" }));
        assertThrows(IllegalArgumentException.class, () -> ManagerMember.parseArgs(new String[]{
            "--member-id", "0", "--managers", "0=h:1" }));
        assertThrows(IllegalArgumentException.class, () -> ManagerMember.parseArgs(new String[]{
            "--member-id", "0", "--managers", "0=h:1,0=h:2", "--dir", "d" }).conclude());
        assertThrows(IllegalArgumentException.class, () -> ManagerMember.parseArgs(new String[]{
            "--member-id", "0", "--managers", "0=h", "--dir", "d" }).conclude());
    }
}
