package io.cairn.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every kind of bad value, in a file, a flag or the environment, gives the documented error: the file, the key or
 * flag, the value and what is allowed. Also precedence, lists, secrets and the --print-config round trip.
 */
class ConfigTableTest
{
    /** A context with one setting of each type. */
    static final class Ctx
    {
        int id;
        long sizeBytes = 8192;
        boolean flag;
        String name;
        String mode = "A";
        List<Path> dirs = new ArrayList<>();
        int[] cpus;
        int ring = 16;
        String secret = "s=default";
    }

    static ConfigTable<Ctx> table()
    {
        final ConfigTable<Ctx> t = new ConfigTable<>("test-daemon", Ctx::new);
        t.intOption("id", (c, v) -> c.id = v, (c) -> c.id).required().range(1, 100).example("1").doc("Id.");
        t.longOption("size-bytes", (c, v) -> c.sizeBytes = v, (c) -> c.sizeBytes).unit("bytes").multipleOf(4096)
            .range(4096, 1 << 20).doc("Size.");
        t.booleanOption("flag", (c, v) -> c.flag = v, (c) -> c.flag).doc("Flag.");
        t.stringOption("name", (c, v) -> c.name = v, (c) -> c.name).pattern("[a-z]+:\\d+", "host:port").doc("Name.");
        t.enumOption("mode", (c, v) -> c.mode = v, (c) -> c.mode, "A", "B").doc("Mode.");
        t.pathListOption("dir", (c, v) -> c.dirs = v, (c) -> c.dirs).required().example("[\"/d\"]").doc("Dirs.");
        t.intListOption("cpus", (c, v) -> c.cpus = v, (c) -> c.cpus).range(0, 63).doc("CPUs.");
        t.intOption("ring", (c, v) -> c.ring = v, (c) -> c.ring).powerOfTwo().range(8, 1024).doc("Ring.");
        t.stringOption("secret", (c, v) -> c.secret = v, (c) -> c.secret).secret().env("TEST_SECRET").doc("Secret.");
        return t;
    }

    @TempDir
    Path dir;

    Path file(final String... lines) throws IOException
    {
        final Path f = dir.resolve("test.toml");
        Files.writeString(f, String.join("\n", lines) + "\n");
        return f;
    }

    String fileError(final String... lines) throws IOException
    {
        final Path f = file(lines);
        return assertThrows(ConfigException.class, () -> table().parse(new String[]{ "--config", f.toString() }, Map.of()))
            .getMessage();
    }

    String flagError(final String... args)
    {
        return assertThrows(ConfigException.class, () ->
        {
            final ConfigTable<Ctx> t = table();
            t.validate(t.parse(args, Map.of()).context());
        }).getMessage();
    }

    @Test
    void aValidFileSetsEveryType() throws IOException
    {
        final Path f = file("id = 7", "size-bytes = 12_288", "flag = true", "name = \"host:1\"", "mode = \"B\"",
            "dir = [\"/a\", \"/b\"]", "cpus = [0, 3]", "ring = 64");
        final Ctx c = table().parse(new String[]{ "--config", f.toString() }, Map.of()).context();
        table().validate(c);
        assertEquals(7, c.id);
        assertEquals(12288, c.sizeBytes);
        assertTrue(c.flag);
        assertEquals("host:1", c.name);
        assertEquals("B", c.mode);
        assertEquals(List.of(Path.of("/a"), Path.of("/b")), c.dirs);
        assertArrayEquals(new int[]{ 0, 3 }, c.cpus);
        assertEquals(64, c.ring);
    }

    @Test
    void everyKindOfBadValueInAFileNamesFileKeyValueAndWhatIsAllowed() throws IOException
    {
        final String at = "config file " + dir.resolve("test.toml") + ": ";
        assertEquals(at + "id = 0: must be in [1, 100]", fileError("id = 0"));
        assertEquals(at + "size-bytes = 5000: must be a multiple of 4096 in [4096, 1048576]",
            fileError("size-bytes = 5000"));
        assertEquals(at + "ring = 48: must be a power of two in [8, 1024]", fileError("ring = 48"));
        assertEquals(at + "id = \"7\": must be a TOML integer, in [1, 100]", fileError("id = \"7\""));
        assertEquals(at + "id = 4294967296: must be a TOML integer, in [1, 100]", fileError("id = 4294967296"));
        assertEquals(at + "flag = \"yes\": must be a TOML boolean, true or false", fileError("flag = \"yes\""));
        assertEquals(at + "mode = \"C\": must be one of A, B", fileError("mode = \"C\""));
        assertEquals(at + "mode = 1: must be a string, one of A, B", fileError("mode = 1"));
        assertEquals(at + "name = \"nohost\": must be host:port", fileError("name = \"nohost\""));
        assertEquals(at + "dir = []: at least one is required", fileError("dir = []"));
        assertEquals(at + "dir = [\"/a\", \"/a\"]: the same directory twice", fileError("dir = [\"/a\", \"/a\"]"));
        assertEquals(at + "dir = \"/a\": must be a TOML array of strings, one or more distinct paths",
            fileError("dir = \"/a\""));
        assertEquals(at + "cpus = [1, 99]: 99 is not allowed: each in [0, 63]", fileError("cpus = [1, 99]"));
        assertEquals(at + "cpus = [\"1\"]: must be a TOML array of integers, each in [0, 63]",
            fileError("cpus = [\"1\"]"));
        assertTrue(fileError("sizebytes = 1").startsWith(at + "unknown key 'sizebytes'; known keys: id, size-bytes"));
        assertTrue(fileError("[node]", "id = 1").contains("unknown key 'node' (a [section]: every key is top-level"));
        assertTrue(fileError("id = = 1").startsWith(at + "not valid TOML at line 1, column"));
        final String missing = assertThrows(ConfigException.class,
            () -> table().parse(new String[]{ "--config", dir.resolve("absent.toml").toString() }, Map.of())).getMessage();
        assertTrue(missing.startsWith("config file " + dir.resolve("absent.toml") + ": cannot read it"), missing);
    }

    @Test
    void badFlagsNameTheFlagAndTheValue()
    {
        assertEquals("--id x: not an integer in [-2147483648, 2147483647]", flagError("--id", "x"));
        assertEquals("--id 101: must be in [1, 100]", flagError("--id", "101"));
        assertEquals("--flag maybe: must be true or false", flagError("--flag=maybe"));
        assertEquals("--mode C: must be one of A, B", flagError("--mode", "C"));
        assertEquals("--cpus 1,x: not an integer", flagError("--cpus", "1,x"));
        assertEquals("unknown flag --bogus (test-daemon --help lists them)", flagError("--bogus", "1"));
        assertEquals("--id needs a value", flagError("--id"));
        assertEquals("--config needs a value", flagError("--config"));
        // Required settings missing altogether: named by validate(), as a Context's conclude() reports them.
        assertEquals("--id 0: must be in [1, 100]", flagError("--dir", "/a"));
        assertEquals("--dir (none): at least one is required", flagError("--id", "1"));
    }

    @Test
    void flagsOverrideEnvironmentOverridesFile() throws IOException
    {
        final Path f = file("id = 1", "dir = [\"/file-a\", \"/file-b\"]", "flag = true", "secret = \"s=file\"");
        final ConfigTable<Ctx> t = table();
        Ctx c = t.parse(new String[]{ "--config", f.toString() }, Map.of("TEST_SECRET", "s=env")).context();
        assertEquals("s=env", c.secret);
        assertEquals(2, c.dirs.size());
        c = t.parse(new String[]{ "--config", f.toString(), "--id=5", "--dir", "/x", "--dir", "/y", "--flag=false",
            "--secret", "s=flag" }, Map.of("TEST_SECRET", "s=env")).context();
        assertEquals(5, c.id);
        assertEquals(List.of(Path.of("/x"), Path.of("/y")), c.dirs, "a list from flags replaces the file's");
        assertFalse(c.flag);
        assertEquals("s=flag", c.secret);
    }

    @Test
    void secretsAreNeverPrinted() throws IOException
    {
        final ConfigTable<Ctx> t = table();
        final Ctx c = t.parse(new String[]{ "--id", "1", "--dir", "/a", "--secret", "s=hunter2" }, Map.of()).context();
        assertFalse(t.render(c, "x").contains("hunter2"));
        final String err = fileError("secret = 31337");
        assertFalse(err.substring(err.indexOf("test.toml")).contains("31337"), err);
        assertTrue(err.contains("secret = <redacted>"), err);
    }

    @Test
    void printedConfigReadsBackAsTheSameConfig() throws IOException
    {
        final ConfigTable<Ctx> t = table();
        final Ctx c = t.parse(new String[]{ "--id", "9", "--dir", "/a \"quoted\"", "--cpus", "1,2", "--mode", "B",
            "--size-bytes", "16384" }, Map.of()).context();
        final String printed = t.render(c, "effective").replace("\"<redacted>\"", "\"s=x\"");
        final Ctx back = t.parse(new String[]{ "--config", file(printed).toString() }, Map.of()).context();
        assertEquals(t.render(c, "effective"), t.render(back, "effective"));
        assertNull(t.parse(new String[]{ "--id", "1" }, Map.of()).configFile());
        assertTrue(t.parse(new String[]{ "--print-config" }, Map.of()).printConfig());
    }

    @Test
    void docsAndExampleShowEveryOption()
    {
        final ConfigTable<Ctx> t = table();
        final String md = t.markdownTable();
        final String example = t.exampleToml(List.of("header"));
        for (final ConfigOption<Ctx> o : t.options())
        {
            assertTrue(md.contains("| `" + o.key() + "` |"), o.key());
            assertTrue(example.contains(o.key() + " = "), o.key());
            assertTrue(t.usage("usage").contains(o.flag()), o.key());
        }
        assertTrue(md.contains("| `size-bytes` | integer | `8192` | bytes | a multiple of 4096 in [4096, 1048576] |"),
            md);
    }
}
