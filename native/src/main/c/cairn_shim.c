/*
 * Cairn native shim over liburing. See cairn_shim.h for the contract.
 * Built by native/pom.xml with -fvisibility=hidden and liburing linked statically and hidden.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "cairn_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

_Static_assert(sizeof(cairn_op) == 40, "cairn_op layout is part of the ABI");
_Static_assert(sizeof(cairn_cqe) == 16, "cairn_cqe layout is part of the ABI");

struct cairn_ring {
    struct io_uring ring;
    uint32_t sq_entries;
    uint32_t cq_entries;
    /* Reap scratch space, sized once to the CQ so that a reap never allocates. */
    struct io_uring_cqe **scratch;
    /* Registered buffers (0 until cairn_ring_register_buffers). */
    uint32_t buffer_count;
    /* io_uring_params.features from set-up (IORING_FEAT_*). */
    uint32_t features;
};

/* ---- version, layout and platform constants ---------------------------------------------------- */

CAIRN_API int cairn_shim_version(void) { return CAIRN_SHIM_VERSION; }
CAIRN_API int cairn_sizeof_op(void) { return (int)sizeof(cairn_op); }
CAIRN_API int cairn_sizeof_cqe(void) { return (int)sizeof(cairn_cqe); }

CAIRN_API int cairn_const_o_direct(void) { return O_DIRECT; }
CAIRN_API int cairn_const_o_rdwr(void) { return O_RDWR; }
CAIRN_API int cairn_const_o_creat(void) { return O_CREAT; }
CAIRN_API int cairn_const_o_cloexec(void) { return O_CLOEXEC; }
CAIRN_API int cairn_const_ioring_fsync_datasync(void) { return IORING_FSYNC_DATASYNC; }
CAIRN_API int cairn_const_iosqe_io_link(void) { return IOSQE_IO_LINK; }
CAIRN_API int cairn_const_ioring_setup_sqpoll(void) { return IORING_SETUP_SQPOLL; }

CAIRN_API int cairn_const_eagain(void) { return EAGAIN; }
CAIRN_API int cairn_const_eintr(void) { return EINTR; }
CAIRN_API int cairn_const_enoent(void) { return ENOENT; }
CAIRN_API int cairn_const_eexist(void) { return EEXIST; }
CAIRN_API int cairn_const_einval(void) { return EINVAL; }
CAIRN_API int cairn_const_eio(void) { return EIO; }
CAIRN_API int cairn_const_enospc(void) { return ENOSPC; }
CAIRN_API int cairn_const_ebusy(void) { return EBUSY; }
CAIRN_API int cairn_const_ebadf(void) { return EBADF; }
CAIRN_API int cairn_const_ecanceled(void) { return ECANCELED; }

CAIRN_API int cairn_strerror(int errnum, char *buf, size_t len)
{
    if (buf == NULL || len == 0) {
        return -EINVAL;
    }
    /* GNU strerror_r: may return a static string instead of filling buf. */
    const char *msg = strerror_r(errnum, buf, len);
    if (msg != buf) {
        snprintf(buf, len, "%s", msg);
    }
    buf[len - 1] = '\0';
    return (int)strlen(buf);
}

/* ---- io_uring --------------------------------------------------------------------------------- */

CAIRN_API int cairn_ring_create(uint32_t entries, uint32_t setup_flags, cairn_ring **ring_out)
{
    if (ring_out == NULL || entries == 0) {
        return -EINVAL;
    }
    *ring_out = NULL;

    cairn_ring *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return -ENOMEM;
    }

    struct io_uring_params params;
    memset(&params, 0, sizeof(params));
    /* Cooperative task running (as fio's io_uring engine sets up its rings): a completion does not interrupt
       the ring's thread (no IPI, no forced kernel entry while it runs Java code); its CQE is posted at the
       thread's next io_uring_enter, which a reap that finds IORING_SQ_TASKRUN set makes at once. */
    params.flags = setup_flags | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
    int rc = io_uring_queue_init_params(entries, &r->ring, &params);
    if (rc == -EINVAL) {
        /* Before Linux 5.19: the plain set-up (completions interrupt the thread). */
        memset(&params, 0, sizeof(params));
        params.flags = setup_flags;
        rc = io_uring_queue_init_params(entries, &r->ring, &params);
    }
    if (rc < 0) {
        free(r);
        return rc;
    }

    r->sq_entries = params.sq_entries;
    r->cq_entries = params.cq_entries;
    r->features = params.features;
    r->scratch = calloc(r->cq_entries, sizeof(*r->scratch));
    if (r->scratch == NULL) {
        io_uring_queue_exit(&r->ring);
        free(r);
        return -ENOMEM;
    }

    *ring_out = r;
    return 0;
}

CAIRN_API int cairn_ring_sq_entries(const cairn_ring *ring)
{
    return ring == NULL ? -EINVAL : (int)ring->sq_entries;
}

CAIRN_API int cairn_ring_cq_entries(const cairn_ring *ring)
{
    return ring == NULL ? -EINVAL : (int)ring->cq_entries;
}

static int validate_ops(const cairn_ring *ring, const cairn_op *ops, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        const cairn_op *op = &ops[i];
        if (op->opcode > CAIRN_OP_WRITEV || op->op_flags != 0 ||
            (op->flags & ~(CAIRN_OP_LINK | CAIRN_OP_DRAIN | CAIRN_OP_FIXED | CAIRN_OP_DSYNC)) != 0 || op->fd < 0) {
            return -EINVAL;
        }
        if ((op->flags & CAIRN_OP_DSYNC) != 0 && op->opcode != CAIRN_OP_WRITE && op->opcode != CAIRN_OP_WRITEV) {
            return -EINVAL;
        }
        if (op->opcode == CAIRN_OP_WRITEV &&
            (op->addr == 0 || op->len == 0 || op->len > CAIRN_WRITEV_MAX_IOVECS || (op->flags & CAIRN_OP_FIXED) != 0)) {
            return -EINVAL;
        }
        if ((op->flags & CAIRN_OP_FIXED) != 0) {
            if ((op->opcode != CAIRN_OP_WRITE && op->opcode != CAIRN_OP_READ) ||
                op->buf_index >= ring->buffer_count) {
                return -EINVAL;
            }
        } else if (op->buf_index != 0) {
            return -EINVAL;
        }
    }
    /* A link hanging off the end of a batch would silently chain into nothing. */
    if ((ops[count - 1].flags & CAIRN_OP_LINK) != 0) {
        return -EINVAL;
    }
    return 0;
}

static void prep_op(struct io_uring_sqe *sqe, const cairn_op *op)
{
    switch (op->opcode) {
    case CAIRN_OP_WRITE:
        if ((op->flags & CAIRN_OP_FIXED) != 0) {
            io_uring_prep_write_fixed(sqe, op->fd, (const void *)(uintptr_t)op->addr, op->len, op->offset,
                                      op->buf_index);
        } else {
            io_uring_prep_write(sqe, op->fd, (const void *)(uintptr_t)op->addr, op->len, op->offset);
        }
        break;
    case CAIRN_OP_READ:
        if ((op->flags & CAIRN_OP_FIXED) != 0) {
            io_uring_prep_read_fixed(sqe, op->fd, (void *)(uintptr_t)op->addr, op->len, op->offset, op->buf_index);
        } else {
            io_uring_prep_read(sqe, op->fd, (void *)(uintptr_t)op->addr, op->len, op->offset);
        }
        break;
    case CAIRN_OP_FDATASYNC:
        io_uring_prep_fsync(sqe, op->fd, IORING_FSYNC_DATASYNC);
        break;
    case CAIRN_OP_WRITEV:
        io_uring_prep_writev(sqe, op->fd, (const struct iovec *)(uintptr_t)op->addr, op->len, op->offset);
        break;
    default:
        io_uring_prep_nop(sqe);
        break;
    }
    if ((op->flags & CAIRN_OP_LINK) != 0) {
        sqe->flags |= IOSQE_IO_LINK;
    }
    if ((op->flags & CAIRN_OP_DRAIN) != 0) {
        sqe->flags |= IOSQE_IO_DRAIN;
    }
    if ((op->flags & CAIRN_OP_DSYNC) != 0) {
        sqe->rw_flags = RWF_DSYNC;
    }
    io_uring_sqe_set_data64(sqe, op->user_data);
}

CAIRN_API int cairn_ring_submit(cairn_ring *ring, const cairn_op *ops, uint32_t count)
{
    if (ring == NULL || (ops == NULL && count > 0)) {
        return -EINVAL;
    }
    if (count == 0) {
        return 0;
    }
    int rc = validate_ops(ring, ops, count);
    if (rc < 0) {
        return rc;
    }
    if (io_uring_sq_space_left(&ring->ring) < count) {
        return -EBUSY;
    }

    for (uint32_t i = 0; i < count; i++) {
        prep_op(io_uring_get_sqe(&ring->ring), &ops[i]);
    }

    /* The kernel may take fewer than offered (e.g. under CQ back-pressure); what is left stays
       in the SQ ring, so offer it again until it stops making progress. */
    int submitted = 0;
    while ((uint32_t)submitted < count) {
        rc = io_uring_submit(&ring->ring);
        if (rc == -EINTR) {
            continue;
        }
        if (rc <= 0) {
            return submitted > 0 ? submitted : (rc < 0 ? rc : 0);
        }
        submitted += rc;
    }
    return submitted;
}

static int wait_for_completions(cairn_ring *ring, uint32_t min_wait)
{
    for (;;) {
        int rc;
        if (io_uring_sq_ready(&ring->ring) > 0) {
            /* Ops left over from a partial submit must go in first, or the wait could never end. */
            rc = io_uring_submit_and_wait(&ring->ring, min_wait);
        } else {
            struct io_uring_cqe *cqe;
            rc = io_uring_wait_cqe_nr(&ring->ring, &cqe, min_wait);
        }
        if (rc != -EINTR) {
            return rc < 0 ? rc : 0;
        }
    }
}

/* Copies up to `max` available completions and marks them seen; never waits. */
static int copy_completions(cairn_ring *ring, cairn_cqe *out, uint32_t max)
{
    if (io_uring_cq_ready(&ring->ring) == 0 &&
        (IO_URING_READ_ONCE(*ring->ring.sq.kflags) & IORING_SQ_TASKRUN) != 0) {
        /* Completions wait for this thread to enter the kernel (cooperative task running): enter once. */
        io_uring_get_events(&ring->ring);
    }
    unsigned n = io_uring_peek_batch_cqe(&ring->ring, ring->scratch, max);
    for (unsigned i = 0; i < n; i++) {
        const struct io_uring_cqe *cqe = ring->scratch[i];
        out[i].user_data = cqe->user_data;
        out[i].res = cqe->res;
        out[i].flags = cqe->flags;
    }
    io_uring_cq_advance(&ring->ring, n);
    return (int)n;
}

CAIRN_API int cairn_ring_reap(cairn_ring *ring, cairn_cqe *out, uint32_t max, uint32_t min_wait)
{
    if (ring == NULL || (out == NULL && max > 0)) {
        return -EINVAL;
    }
    if (max > ring->cq_entries) {
        max = ring->cq_entries;
    }
    if (min_wait > max) {
        min_wait = max;
    }
    if (min_wait > 0) {
        int rc = wait_for_completions(ring, min_wait);
        if (rc < 0) {
            return rc;
        }
    }

    return copy_completions(ring, out, max);
}

CAIRN_API int cairn_ring_can_wait_timeout(const cairn_ring *ring)
{
    return ring != NULL && (ring->features & IORING_FEAT_EXT_ARG) != 0;
}

CAIRN_API int cairn_ring_reap_timeout(cairn_ring *ring, cairn_cqe *out, uint32_t max, int64_t timeout_ns)
{
    if (ring == NULL || out == NULL || max == 0 || timeout_ns < 0) {
        return -EINVAL;
    }
    /* Without EXT_ARG liburing would queue an internal timeout SQE whose CQE the caller would then see. */
    if (!cairn_ring_can_wait_timeout(ring)) {
        return -EOPNOTSUPP;
    }
    if (max > ring->cq_entries) {
        max = ring->cq_entries;
    }
    if (io_uring_cq_ready(&ring->ring) == 0) {
        struct __kernel_timespec ts = {
            .tv_sec = timeout_ns / 1000000000LL,
            .tv_nsec = timeout_ns % 1000000000LL
        };
        struct io_uring_cqe *cqe;
        int rc;
        if (io_uring_sq_ready(&ring->ring) > 0) {
            rc = io_uring_submit_and_wait_timeout(&ring->ring, &cqe, 1, &ts, NULL);
        } else {
            rc = io_uring_wait_cqe_timeout(&ring->ring, &cqe, &ts);
        }
        /* A timeout or a signal is not an error: the caller's loop runs again either way. */
        if (rc < 0 && rc != -ETIME && rc != -EINTR) {
            return rc;
        }
    }
    return copy_completions(ring, out, max);
}

CAIRN_API int cairn_ring_register_buffers(cairn_ring *ring, const uint64_t *addrs, const uint64_t *lens,
                                          uint32_t count)
{
    if (ring == NULL || addrs == NULL || lens == NULL || count == 0 || count > UINT16_MAX) {
        return -EINVAL;
    }
    if (ring->buffer_count != 0) {
        return -EBUSY;
    }
    struct iovec *iov = calloc(count, sizeof(*iov));
    if (iov == NULL) {
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < count; i++) {
        iov[i].iov_base = (void *)(uintptr_t)addrs[i];
        iov[i].iov_len = (size_t)lens[i];
    }
    int rc = io_uring_register_buffers(&ring->ring, iov, count);
    free(iov); /* the kernel keeps its own copy */
    if (rc < 0) {
        return rc;
    }
    ring->buffer_count = count;
    return 0;
}

CAIRN_API void cairn_ring_destroy(cairn_ring *ring)
{
    if (ring == NULL) {
        return;
    }
    io_uring_queue_exit(&ring->ring);
    free(ring->scratch);
    free(ring);
}

/* ---- files ------------------------------------------------------------------------------------ */

CAIRN_API int cairn_open_direct(const char *path, int create, int mode)
{
    if (path == NULL) {
        return -EINVAL;
    }
    int flags = O_RDWR | O_DIRECT | O_CLOEXEC | (create ? O_CREAT : 0);
    int fd;
    do {
        fd = open(path, flags, (mode_t)mode);
    } while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

CAIRN_API int cairn_fallocate(int fd, int64_t offset, int64_t len)
{
    int rc;
    do {
        rc = fallocate(fd, 0, (off_t)offset, (off_t)len);
    } while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : 0;
}

CAIRN_API int cairn_fdatasync(int fd)
{
    int rc;
    do {
        rc = fdatasync(fd);
    } while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : 0;
}

CAIRN_API int cairn_close(int fd)
{
    return close(fd) < 0 ? -errno : 0;
}

CAIRN_API int64_t cairn_file_size(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return -(int64_t)errno;
    }
    return (int64_t)st.st_size;
}

/* ---- threads ---------------------------------------------------------------------------------- */

CAIRN_API int cairn_pin_current_thread(int cpu)
{
    if (cpu < 0 || cpu >= CPU_SETSIZE) {
        return -EINVAL;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) < 0 ? -errno : 0;
}

CAIRN_API int cairn_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 0 ? -errno : (int)n;
}
