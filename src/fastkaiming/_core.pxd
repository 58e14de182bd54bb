# Declarations of csrc/fastkaiming.h; must match that header.
from libc.stdint cimport int64_t, uint32_t, uint64_t

cdef extern from "fastkaiming.h" nogil:
    enum: FK_MAX_NDIM
    enum: FK_MIN_PARALLEL

    ctypedef enum fk_status:
        FK_OK
        FK_EINVAL
        FK_EISA
        FK_EINTR

    ctypedef enum fk_dtype:
        FK_DTYPE_UINT32
        FK_DTYPE_FLOAT16
        FK_DTYPE_FLOAT32
        FK_DTYPE_FLOAT64
        FK_DTYPE_BFLOAT16

    ctypedef enum fk_dist:
        FK_DIST_RAW
        FK_DIST_UNIFORM
        FK_DIST_NORMAL
        FK_DIST_TRUNC_NORMAL

    ctypedef enum fk_isa:
        FK_ISA_AUTO
        FK_ISA_SCALAR
        FK_ISA_AVX2
        FK_ISA_AVX512
        FK_ISA_NEON
        FK_ISA_COUNT

    ctypedef struct fk_params:
        double loc
        double scale
        double lo
        double hi
        double tail_a
        double tail_b
        int form

    ctypedef struct fk_position:
        uint32_t key[2]
        uint64_t stream
        uint64_t block
        uint32_t phase

    ctypedef struct fk_request:
        void *data
        int ndim
        const int64_t *shape
        const int64_t *strides
        const int64_t *index_strides
        fk_dtype dtype
        fk_dist dist
        fk_params params
        fk_position start
        int threads
        int isa
        int (*interrupted)(void *ctx) noexcept nogil
        void *interrupt_ctx

    unsigned fk_samples_per_block(fk_dist dist, fk_dtype dtype)
    unsigned fk_isa_available()
    const char *fk_isa_name(int isa)
    fk_status fk_fill(const fk_request *req)
