package io.cairn.manager;

import io.aeron.driver.MediaDriver;
import org.agrona.CloseHelper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ManagerClientTest
{
    private MediaDriver driver;

    @BeforeEach
    void setUp()
    {
        driver = ClientDriver.launch("manager-client-test");
    }

    @AfterEach
    void tearDown()
    {
        CloseHelper.close(driver);
    }

    @Test
    void connectWithoutAClusterFailsNamingTheEndpoints()
    {
        final String managers = "0=127.0.0.1:21190,1=127.0.0.1:21191,2=127.0.0.1:21192";
        final ManagerException ex = assertThrows(ManagerException.class, () -> ManagerClient.connect(
            new ManagerClient.Context()
                .managers(managers)
                .aeronDirectoryName(driver.aeronDirectoryName())
                .responseTimeoutNs(TimeUnit.MILLISECONDS.toNanos(500))));
        assertNull(ex.status(), "transport failure");
        assertTrue(ex.getMessage().contains(managers), ex.getMessage());
    }

    @Test
    void contextValidation()
    {
        assertThrows(ManagerException.class, () -> new ManagerClient.Context().managers("0=h:1").conclude());
        assertThrows(ManagerException.class,
            () -> new ManagerClient.Context().managers("junk").aeronDirectoryName("/x").conclude());
        assertThrows(ManagerException.class, () -> new ManagerClient.Context().managers("0=h:1")
            .aeronDirectoryName("/x").responseTimeoutNs(0).conclude());
    }
}
