/*
 * fill.c: n-d strided fills on top of the 1-d kernels: argument checks, axis coalescing,
 * the split into per-thread ranges of C-order indices, and strided scatter.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "philox.h"
#include "pool.h"

/* Work unit of the pool: 1 MiB of float32, a few hundred microseconds. */
#define FK_CHUNK 262144
/* Elements per strided scatter pass: 8 KiB of float64 on the stack. */
#define FK_SCRATCH 1024

typedef struct {
    char *data;
    int ndim;                      /* >= 1 after coalescing */
    int64_t shape[FK_MAX_NDIM];
    int64_t strides[FK_MAX_NDIM];  /* bytes */
    int64_t istrides[FK_MAX_NDIM]; /* sample index */
    size_t itemsize;
    unsigned per_block;
    fk_kernel_fn kernel;
    const fk_params *params;
    fk_position start;
} fk_plan;

typedef struct {
    const fk_plan *plan;
    uint64_t total;
} fk_chunks;

unsigned fk_samples_per_block(fk_dist dist, fk_dtype dtype)
{
    switch (dtype) { /* any other code (the enum holds any int) is invalid */
    case FK_DTYPE_UINT32:
        return dist == FK_DIST_RAW ? 4 : 0;
    case FK_DTYPE_FLOAT16:
    case FK_DTYPE_BFLOAT16:
    case FK_DTYPE_FLOAT32:
        return dist == FK_DIST_UNIFORM || dist == FK_DIST_NORMAL || dist == FK_DIST_TRUNC_NORMAL
                   ? 4
                   : 0;
    case FK_DTYPE_FLOAT64:
        return dist == FK_DIST_UNIFORM || dist == FK_DIST_NORMAL ? 2
               : dist == FK_DIST_TRUNC_NORMAL                    ? 4
                                                                 : 0;
    default:
        return 0;
    }
}

#if FK_X86 && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* CPUID says what the CPU has; XGETBV says whether the OS saves the wide registers. */
static unsigned detect_isas(void)
{
    unsigned mask = 1u << FK_ISA_SCALAR;
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return mask;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
    if (!(osxsave && avx && fma && f16c))
        return mask;
    uint64_t xcr0 = xgetbv0();
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return mask;
    int avx2 = (b >> 5) & 1;
    int avx512 = ((b >> 16) & 1) && ((b >> 17) & 1) && ((b >> 30) & 1) && ((b >> 31) & 1);
    if (avx2 && (xcr0 & 0x6) == 0x6) /* XMM and YMM state */
        mask |= 1u << FK_ISA_AVX2;
    if (avx2 && avx512 && (xcr0 & 0xe6) == 0xe6) /* and opmask, ZMM state */
        mask |= 1u << FK_ISA_AVX512;
    return mask;
}
#elif FK_ARM64
/* Advanced SIMD is mandatory in AArch64. */
static unsigned detect_isas(void) { return 1u << FK_ISA_SCALAR | 1u << FK_ISA_NEON; }
#else
static unsigned detect_isas(void) { return 1u << FK_ISA_SCALAR; }
#endif

static unsigned isa_mask;
static pthread_once_t isa_once = PTHREAD_ONCE_INIT;

static void init_isas(void) { isa_mask = detect_isas(); }

unsigned fk_isa_available(void)
{
    pthread_once(&isa_once, init_isas);
    return isa_mask;
}

const char *fk_isa_name(int isa)
{
    switch (isa) {
    case FK_ISA_SCALAR:
        return "scalar";
    case FK_ISA_AVX2:
        return "avx2";
    case FK_ISA_AVX512:
        return "avx512";
    case FK_ISA_NEON:
        return "neon";
    default:
        return "unknown";
    }
}

static const fk_kernel_table *table_for(int isa)
{
    unsigned mask = fk_isa_available();
    if (isa == FK_ISA_AUTO)
        isa = (mask & (1u << FK_ISA_AVX512)) ? FK_ISA_AVX512
              : (mask & (1u << FK_ISA_AVX2)) ? FK_ISA_AVX2
              : (mask & (1u << FK_ISA_NEON)) ? FK_ISA_NEON
                                             : FK_ISA_SCALAR;
    if (!(mask & (1u << isa))) /* the caller checked 0 <= isa < FK_ISA_COUNT */
        return NULL;
#if FK_X86
    if (isa == FK_ISA_AVX512)
        return &fk_kernels_avx512;
    if (isa == FK_ISA_AVX2)
        return &fk_kernels_avx2;
#endif
#if FK_ARM64
    if (isa == FK_ISA_NEON)
        return &fk_kernels_neon;
#endif
    return &fk_kernels_scalar;
}

static fk_kernel_fn kernel_for(const fk_kernel_table *t, fk_dist dist, fk_dtype dtype)
{
    if (dist == FK_DIST_RAW)
        return t->raw_u32;
    if (dist == FK_DIST_TRUNC_NORMAL) {
        switch (dtype) {
        case FK_DTYPE_FLOAT16:
            return t->trunc_f16;
        case FK_DTYPE_FLOAT32:
            return t->trunc_f32;
        case FK_DTYPE_BFLOAT16:
            return t->trunc_bf16;
        default:
            return t->trunc_f64;
        }
    }
    int normal = dist == FK_DIST_NORMAL;
    switch (dtype) {
    case FK_DTYPE_FLOAT16:
        return normal ? t->normal_f16 : t->uniform_f16;
    case FK_DTYPE_BFLOAT16:
        return normal ? t->normal_bf16 : t->uniform_bf16;
    case FK_DTYPE_FLOAT32:
        return normal ? t->normal_f32 : t->uniform_f32;
    default:
        return normal ? t->normal_f64 : t->uniform_f64;
    }
}

static size_t itemsize_of(fk_dtype dtype)
{
    return dtype == FK_DTYPE_FLOAT16 || dtype == FK_DTYPE_BFLOAT16 ? 2
           : dtype == FK_DTYPE_FLOAT64                          ? 8
                                                                : 4;
}

/* The position of the sample `i` elements after the start of the fill. */
static fk_position advance(const fk_position *s, unsigned per_block, uint64_t i)
{
    fk_position p = *s;
    uint64_t q = p.phase + i; /* i < 2^63, phase < 4: no overflow */
    p.block += q / per_block;
    p.phase = (uint32_t)(q % per_block);
    return p;
}

/* Byte copies: dst may be misaligned for the dtype. */
static void scatter(char *dst, int64_t stride, const char *src, size_t n, size_t itemsize)
{
    if (stride == (int64_t)itemsize) {
        memcpy(dst, src, n * itemsize);
        return;
    }
    for (size_t i = 0; i < n; i++, dst += stride, src += itemsize)
        memcpy(dst, src, itemsize);
}

/* One row segment: n elements from dst with byte stride, starting at sample index i. The
 * kernels store typed values, so only an aligned contiguous run goes to them directly. */
static void fill_run(const fk_plan *pl, char *dst, int64_t stride, size_t n, uint64_t i)
{
    if (stride == (int64_t)pl->itemsize && (uintptr_t)dst % pl->itemsize == 0) {
        fk_position at = advance(&pl->start, pl->per_block, i);
        pl->kernel(dst, n, &at, pl->params);
        return;
    }
    double scratch[FK_SCRATCH]; /* aligned for every dtype */
    size_t chunk = FK_SCRATCH * sizeof(double) / pl->itemsize;
    while (n > 0) {
        size_t m = n < chunk ? n : chunk;
        fk_position at = advance(&pl->start, pl->per_block, i);
        pl->kernel(scratch, m, &at, pl->params);
        scatter(dst, stride, (const char *)scratch, m, pl->itemsize);
        dst += (int64_t)m * stride;
        n -= m;
        i += m;
    }
}

/* Fill C-order indices [begin, end), walking rows of the last axis. */
static void fill_range(const fk_plan *pl, uint64_t begin, uint64_t end)
{
    const int last = pl->ndim - 1;
    const uint64_t inner = (uint64_t)pl->shape[last];
    int64_t idx[FK_MAX_NDIM];
    uint64_t row = begin / inner, col = begin % inner;
    char *ptr = pl->data;
    uint64_t sample = 0; /* sample index of the current row's first element */
    for (int d = last - 1; d >= 0; d--) {
        idx[d] = (int64_t)(row % (uint64_t)pl->shape[d]);
        row /= (uint64_t)pl->shape[d];
        ptr += idx[d] * pl->strides[d];
        sample += (uint64_t)idx[d] * (uint64_t)pl->istrides[d];
    }
    uint64_t i = begin;
    while (i < end) {
        uint64_t n = inner - col;
        if (n > end - i)
            n = end - i;
        fill_run(pl, ptr + (int64_t)col * pl->strides[last], pl->strides[last], (size_t)n,
                 sample + col);
        i += n;
        col = 0;
        for (int d = last - 1; d >= 0; d--) { /* odometer over the outer axes */
            ptr += pl->strides[d];
            sample += (uint64_t)pl->istrides[d];
            if (++idx[d] < pl->shape[d])
                break;
            ptr -= idx[d] * pl->strides[d];
            sample -= (uint64_t)idx[d] * (uint64_t)pl->istrides[d];
            idx[d] = 0;
        }
    }
}

static void fill_chunk(void *arg, uint64_t c)
{
    const fk_chunks *ch = arg;
    uint64_t begin = c * FK_CHUNK;
    fill_range(ch->plan, begin, begin + FK_CHUNK < ch->total ? begin + FK_CHUNK : ch->total);
}

/* Merge axis d into d + 1 where memory allows, so contiguous arrays become one run. */
static void coalesce(fk_plan *pl)
{
    int out = 0;
    for (int d = 0; d < pl->ndim; d++) {
        if (pl->shape[d] == 1 && pl->ndim - d > 1)
            continue; /* a length-1 axis never moves the pointer */
        pl->shape[out] = pl->shape[d];
        pl->strides[out] = pl->strides[d];
        pl->istrides[out] = pl->istrides[d];
        if (out > 0 && pl->strides[out - 1] == pl->shape[out] * pl->strides[out] &&
            pl->istrides[out - 1] == pl->shape[out] * pl->istrides[out]) {
            pl->shape[out - 1] *= pl->shape[out];
            pl->strides[out - 1] = pl->strides[out];
            pl->istrides[out - 1] = pl->istrides[out];
            continue;
        }
        out++;
    }
    pl->ndim = out;
}

/* Every field of the request, before a byte is written; the fill's element count in *total.
 * A request is invalid whatever its size, so an empty one is checked as fully as any. */
static fk_status check_request(const fk_request *req, unsigned *per_block, uint64_t *total)
{
    if (req == NULL || req->ndim < 0 || req->ndim > FK_MAX_NDIM || req->threads < 1)
        return FK_EINVAL;
    *per_block = fk_samples_per_block(req->dist, req->dtype);
    if (*per_block == 0 || req->start.phase >= *per_block)
        return FK_EINVAL;
    if (req->isa < FK_ISA_AUTO || req->isa >= FK_ISA_COUNT)
        return FK_EINVAL;
    if (req->ndim > 0 && (req->shape == NULL || req->strides == NULL))
        return FK_EINVAL;
    int empty = 0;
    for (int d = 0; d < req->ndim; d++) {
        if (req->shape[d] < 0)
            return FK_EINVAL;
        empty |= req->shape[d] == 0;
    }
    /* the element count and the largest sample index stay below 2^62 (lengths in any order) */
    const uint64_t limit = UINT64_C(1) << 62;
    uint64_t count = 1, last = 0;
    for (int d = 0; d < req->ndim; d++) {
        uint64_t len = (uint64_t)req->shape[d];
        int64_t step = req->index_strides != NULL ? req->index_strides[d] : 1;
        if (step < 0 || (req->index_strides != NULL && d == req->ndim - 1 && step != 1))
            return FK_EINVAL; /* rows must be runs of consecutive samples */
        if (empty || len == 0)
            continue;
        if (count > limit / len)
            return FK_EINVAL;
        count *= len;
        uint64_t s = (uint64_t)step; /* index_strides: the reach of the axis too */
        if (req->index_strides != NULL && s != 0) {
            if (len - 1 > (limit - 1 - last) / s)
                return FK_EINVAL;
            last += (len - 1) * s;
        }
    }
    *total = empty ? 0 : count;
    if (*total > 0 && req->data == NULL)
        return FK_EINVAL;
    return FK_OK;
}

fk_status fk_fill(const fk_request *req)
{
    unsigned per_block;
    uint64_t total;
    fk_status status = check_request(req, &per_block, &total);
    if (status != FK_OK)
        return status;
    const fk_kernel_table *table = table_for(req->isa);
    if (table == NULL)
        return FK_EISA;
    if (total == 0)
        return FK_OK; /* nothing to write; data may be NULL */

    fk_plan pl;
    pl.data = req->data;
    pl.itemsize = itemsize_of(req->dtype);
    pl.per_block = per_block;
    pl.kernel = kernel_for(table, req->dist, req->dtype);
    pl.params = &req->params;
    pl.start = req->start;
    pl.ndim = req->ndim > 0 ? req->ndim : 1;
    for (int d = 0; d < pl.ndim; d++) {
        pl.shape[d] = req->ndim > 0 ? req->shape[d] : 1;
        pl.strides[d] = req->ndim > 0 ? req->strides[d] : (int64_t)pl.itemsize;
    }
    for (int d = pl.ndim - 1; d >= 0; d--) {
        if (req->ndim > 0 && req->index_strides != NULL)
            pl.istrides[d] = req->index_strides[d];
        else /* C order of the buffer's own shape */
            pl.istrides[d] = d == pl.ndim - 1 ? 1 : pl.istrides[d + 1] * pl.shape[d + 1];
    }
    coalesce(&pl);

    int threads = req->threads; /* the pool caps it */
    if (total < FK_MIN_PARALLEL)
        threads = 1;
    fk_chunks ch = {&pl, total};
    uint64_t nchunks = (total + FK_CHUNK - 1) / FK_CHUNK;
    if (fk_pool_run(threads, nchunks, fill_chunk, &ch, req->interrupted, req->interrupt_ctx))
        return FK_EINTR;
    return FK_OK;
}

void fk_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    fk_philox_block(ctr[0], ctr[1], ctr[2], ctr[3], key[0], key[1], out);
}
