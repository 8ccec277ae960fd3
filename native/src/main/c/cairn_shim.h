/*
 * Cairn native shim: the small C surface that Java reaches through FFM (jextract bindings in the
 * cairn-bindings module, package io.cairn.bindings.generated).
 *
 * Why it exists: liburing's fast path (io_uring_get_sqe, io_uring_prep_*, io_uring_cqe_seen) is
 * static inline, so it cannot be bound directly. The shim exports it in a batch-shaped API so that
 * Java crosses the FFM boundary ONCE per batch of operations, not once per block.
 *
 * Conventions:
 *  - Every function that can fail returns a negative errno (-ENOENT, ...). errno is never read in Java.
 *  - Platform constants (O_DIRECT differs between x86-64 and aarch64) come from cairn_const_*().
 *  - Only cairn_* symbols are exported; liburing is linked statically and hidden.
 *
 * Changing this header changes the generated bindings: run bindings/regen.sh afterwards
 * (BindingsUpToDateTest fails until you do). Bump CAIRN_SHIM_VERSION on any ABI change.
 */
#ifndef CAIRN_SHIM_H
#define CAIRN_SHIM_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define CAIRN_API __attribute__((visibility("default")))
#else
#define CAIRN_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version of this header; the Java side refuses to run against a different one. */
#define CAIRN_SHIM_VERSION 5

/* cairn_op.opcode */
enum cairn_opcode {
    CAIRN_OP_NOP = 0,
    CAIRN_OP_WRITE = 1,
    CAIRN_OP_READ = 2,
    CAIRN_OP_FDATASYNC = 3,
    /* Gathering write (IORING_OP_WRITEV): addr is an array of `len` struct iovec (at most
       CAIRN_WRITEV_MAX_IOVECS), written contiguously from `offset`; the array must stay valid until the op
       completes. The group commit's contiguous appends to one file, as one I/O. */
    CAIRN_OP_WRITEV = 4
};

/* The most iovecs one CAIRN_OP_WRITEV may carry (the kernel's UIO_MAXIOV is 1024). */
#define CAIRN_WRITEV_MAX_IOVECS 1024

/* cairn_op.flags (bit set) */
enum cairn_op_flag {
    /* The next op in the batch starts only if this one succeeds fully (IOSQE_IO_LINK);
       otherwise the rest of the chain completes with -ECANCELED. */
    CAIRN_OP_LINK = 1,
    /* Start this op only after every op submitted before it on the ring has completed, and start later
       ops only after this one (IOSQE_IO_DRAIN): one fdatasync after a group of unlinked, concurrent writes. */
    CAIRN_OP_DRAIN = 2,
    /* WRITE/READ: the buffer lies inside registered buffer `buf_index` (IORING_OP_WRITE_FIXED/READ_FIXED,
       see cairn_ring_register_buffers); saves the kernel pinning the pages on every op. */
    CAIRN_OP_FIXED = 4,
    /* WRITE or WRITEV only: durable when it completes (RWF_DSYNC: the data and the metadata needed to read it back, as
       an fdatasync of the written range), one op where a write linked to an fdatasync is two. */
    CAIRN_OP_DSYNC = 8
};

/* One operation of a batch. 40 bytes, laid out for Java to fill in place. */
typedef struct cairn_op {
    uint8_t opcode;     /* enum cairn_opcode */
    uint8_t flags;      /* enum cairn_op_flag bits */
    uint16_t buf_index; /* registered buffer index with CAIRN_OP_FIXED; must be 0 otherwise */
    int32_t fd;
    uint64_t addr;      /* buffer address (WRITE/READ); iovec array address (WRITEV) */
    uint32_t len;       /* buffer length in bytes (WRITE/READ); iovec count (WRITEV) */
    uint32_t op_flags;  /* reserved for per-op flags (e.g. RWF_*); must be 0 for now */
    uint64_t offset;    /* file offset in bytes (WRITE/READ) */
    uint64_t user_data; /* returned untouched in the completion */
} cairn_op;

/* One completion. res >= 0: bytes transferred (0 for FDATASYNC); res < 0: -errno. */
typedef struct cairn_cqe {
    uint64_t user_data;
    int32_t res;
    uint32_t flags;
} cairn_cqe;

/* Opaque ring (an io_uring plus its reap scratch space). */
typedef struct cairn_ring cairn_ring;

/* ---- version, layout and platform constants -------------------------------------------------- */
CAIRN_API int cairn_shim_version(void);
CAIRN_API int cairn_sizeof_op(void);
CAIRN_API int cairn_sizeof_cqe(void);

CAIRN_API int cairn_const_o_direct(void);
CAIRN_API int cairn_const_o_rdwr(void);
CAIRN_API int cairn_const_o_creat(void);
CAIRN_API int cairn_const_o_cloexec(void);
CAIRN_API int cairn_const_ioring_fsync_datasync(void);
CAIRN_API int cairn_const_iosqe_io_link(void);
CAIRN_API int cairn_const_ioring_setup_sqpoll(void);

CAIRN_API int cairn_const_eagain(void);
CAIRN_API int cairn_const_eintr(void);
CAIRN_API int cairn_const_enoent(void);
CAIRN_API int cairn_const_eexist(void);
CAIRN_API int cairn_const_einval(void);
CAIRN_API int cairn_const_eio(void);
CAIRN_API int cairn_const_enospc(void);
CAIRN_API int cairn_const_ebusy(void);
CAIRN_API int cairn_const_ebadf(void);
CAIRN_API int cairn_const_ecanceled(void);

/* Writes the message for errnum (positive) into buf, always NUL-terminated.
   Returns the message length (excluding NUL), or -EINVAL when buf is NULL or len is 0. */
CAIRN_API int cairn_strerror(int errnum, char *buf, size_t len);

/* ---- io_uring, one downcall per batch ------------------------------------------------------------ */

/* Creates a ring with `entries` submission slots (the kernel rounds up to a power of two) and
   io_uring setup flags `setup_flags` (IORING_SETUP_*; 0 for defaults), plus cooperative task running
   (IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, where the kernel has it: 5.19+) so that a
   completion never interrupts the ring's thread; a reap enters the kernel when completions wait for it.
   Returns 0 or -errno. */
CAIRN_API int cairn_ring_create(uint32_t entries, uint32_t setup_flags, cairn_ring **ring_out);

/* Submission slots of the ring (what one submit can take at most). */
CAIRN_API int cairn_ring_sq_entries(const cairn_ring *ring);

/* Completion slots of the ring (what one reap can return at most). */
CAIRN_API int cairn_ring_cq_entries(const cairn_ring *ring);

/* Prepares all `count` ops as SQEs, then submits them with one io_uring_enter. Nothing is prepared
   when an op is invalid (-EINVAL) or the ring lacks `count` free slots (-EBUSY). Returns the
   number the kernel accepted (ops it did not accept yet stay queued and go with the next submit or
   blocking reap), or -errno when it accepted none. Never waits for completions. */
CAIRN_API int cairn_ring_submit(cairn_ring *ring, const cairn_op *ops, uint32_t count);

/* Waits until at least `min_wait` completions are available (0 = do not wait; a queued but
   unsubmitted op is submitted first when waiting), copies up to `max` of them into `out`, marks
   them seen. Returns the count copied or -errno. Retries on EINTR. */
CAIRN_API int cairn_ring_reap(cairn_ring *ring, cairn_cqe *out, uint32_t max, uint32_t min_wait);

/* Waits up to `timeout_ns` (>= 0) for at least one completion (a queued but unsubmitted op is submitted
   first), then copies up to `max` available completions into `out` and marks them seen, like
   cairn_ring_reap. Returns the count copied: 0 when the timeout passed (or a signal interrupted the
   wait) with none available; -errno on failure; -EOPNOTSUPP when the kernel cannot bound a wait
   (no IORING_FEAT_EXT_ARG, before Linux 5.11: see cairn_ring_can_wait_timeout). For an idle loop that
   has ops in flight: it wakes on the completion instead of sleeping a fixed time. */
CAIRN_API int cairn_ring_reap_timeout(cairn_ring *ring, cairn_cqe *out, uint32_t max, int64_t timeout_ns);

/* 1 when cairn_ring_reap_timeout works on this ring (the kernel has IORING_FEAT_EXT_ARG), else 0. */
CAIRN_API int cairn_ring_can_wait_timeout(const cairn_ring *ring);

/* Registers `count` buffers (addrs[i], lens[i] bytes) with the ring for CAIRN_OP_FIXED ops; index i is
   buf_index i. Once per ring, at set-up (the kernel pins the pages; they count against RLIMIT_MEMLOCK
   unless the process has CAP_IPC_LOCK). Returns 0 or -errno (-EBUSY: already registered). */
CAIRN_API int cairn_ring_register_buffers(cairn_ring *ring, const uint64_t *addrs, const uint64_t *lens,
                                          uint32_t count);

/* Tears the ring down. NULL is ignored. */
CAIRN_API void cairn_ring_destroy(cairn_ring *ring);

/* ---- files ---------------------------------------------------------------------------------------- */

/* open(path, O_RDWR|O_DIRECT|O_CLOEXEC [|O_CREAT], mode). Returns the fd or -errno. */
CAIRN_API int cairn_open_direct(const char *path, int create, int mode);

/* fallocate(fd, 0, offset, len): allocates blocks and grows the file size. 0 or -errno. */
CAIRN_API int cairn_fallocate(int fd, int64_t offset, int64_t len);

/* fdatasync(fd). 0 or -errno. */
CAIRN_API int cairn_fdatasync(int fd);

/* close(fd). 0 or -errno. EINTR is not retried: the fd is released either way on Linux. */
CAIRN_API int cairn_close(int fd);

/* The file's size in bytes (fstat), or -errno. */
CAIRN_API int64_t cairn_file_size(int fd);

/* ---- threads -------------------------------------------------------------------------------------- */

/* Pins the calling thread to CPU `cpu` (sched_setaffinity). 0 or -errno (-EINVAL: no such CPU online). */
CAIRN_API int cairn_pin_current_thread(int cpu);

/* CPUs online (sysconf(_SC_NPROCESSORS_ONLN)), or -errno. */
CAIRN_API int cairn_cpu_count(void);

#ifdef __cplusplus
}
#endif

#endif /* CAIRN_SHIM_H */
