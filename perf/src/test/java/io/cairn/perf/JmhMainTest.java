package io.cairn.perf;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JmhMainTest
{
    @Test
    void addsOnlyTheDefaultsTheUserDidNotGive()
    {
        final List<String> args = JmhMain.withDefaults(List.of("AppendPath", "-i", "2", "-prof", "gc"));
        assertEquals(1, args.stream().filter("-i"::equals).count());
        assertTrue(args.containsAll(List.of("-f", "1", "-wi", "3", "-w", "1s", "-r", "1s")), args.toString());
        assertEquals("2", args.get(args.indexOf("-i") + 1));
    }

    @Test
    void forksGetTheFlagsOfJvmProperties() throws Exception
    {
        final List<String> flags = JmhMain.jvmFlags();
        assertTrue(flags.contains("--add-opens") && flags.contains("java.base/jdk.internal.misc=ALL-UNNAMED"),
            flags.toString());
    }
}
