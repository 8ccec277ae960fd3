package io.cairn.manager;

import io.aeron.driver.MediaDriver;
import io.cairn.replication.AeronDefaults;

/**
 * An embedded media driver for the test JVM's {@link ManagerClient}: the client expects its process to provide one.
 */
final class ClientDriver
{
    private static final int TERM_LENGTH_BYTES = 256 * 1024;

    private ClientDriver()
    {
    }

    static MediaDriver launch(final String name)
    {
        return MediaDriver.launch(AeronDefaults.driverContext(name + "-" + ProcessHandle.current().pid())
            .publicationTermBufferLength(TERM_LENGTH_BYTES)
            .ipcTermBufferLength(TERM_LENGTH_BYTES)
            .initialWindowLength(TERM_LENGTH_BYTES / 2));
    }
}
