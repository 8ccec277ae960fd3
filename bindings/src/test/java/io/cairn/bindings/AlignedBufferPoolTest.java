package io.cairn.bindings;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static io.cairn.bindings.NativeIo.BLOCK_ALIGNMENT_BYTES;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AlignedBufferPoolTest
{
    @Test
    void buffersAreAlignedDistinctAndPreSliced()
    {
        try (AlignedBufferPool pool = new AlignedBufferPool(4, 2 * BLOCK_ALIGNMENT_BYTES))
        {
            final Set<Long> addresses = new HashSet<>();
            for (int i = 0; i < pool.bufferCount(); i++)
            {
                assertEquals(0, pool.address(i) % BLOCK_ALIGNMENT_BYTES);
                assertEquals(pool.bufferLengthBytes(), pool.segment(i).byteSize());
                assertEquals(pool.address(i), pool.segment(i).address());
                assertSame(pool.segment(i), pool.segment(i));
                addresses.add(pool.address(i));
            }
            assertEquals(4, addresses.size());
        }
    }

    @Test
    void exhaustionReturnsMinusOneAndReleaseMakesRoom()
    {
        try (AlignedBufferPool pool = new AlignedBufferPool(2, BLOCK_ALIGNMENT_BYTES))
        {
            final int first = pool.acquire();
            final int second = pool.acquire();
            assertTrue(first >= 0 && second >= 0 && first != second);
            assertEquals(0, pool.available());
            assertEquals(-1, pool.acquire());
            pool.release(first);
            assertEquals(1, pool.available());
            assertEquals(first, pool.acquire());
        }
    }

    @Test
    void doubleReleaseAndBadIndexThrow()
    {
        try (AlignedBufferPool pool = new AlignedBufferPool(2, BLOCK_ALIGNMENT_BYTES))
        {
            final int index = pool.acquire();
            pool.release(index);
            assertThrows(IllegalStateException.class, () -> pool.release(index));
            assertThrows(IllegalStateException.class, () -> pool.release(2));
            assertThrows(IllegalStateException.class, () -> pool.release(-1));
            assertEquals(2, pool.available());
        }
    }

    @Test
    void lengthMustBeAMultipleOfTheBlockSize()
    {
        assertThrows(IllegalArgumentException.class, () -> new AlignedBufferPool(1, 1000));
        assertThrows(IllegalArgumentException.class, () -> new AlignedBufferPool(1, 0));
        assertThrows(IllegalArgumentException.class, () -> new AlignedBufferPool(0, BLOCK_ALIGNMENT_BYTES));
    }

    @Test
    void closedPoolRefusesAcquire()
    {
        final AlignedBufferPool pool = new AlignedBufferPool(1, BLOCK_ALIGNMENT_BYTES);
        pool.close();
        pool.close();
        assertThrows(IllegalStateException.class, pool::acquire);
    }
}
