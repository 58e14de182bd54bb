/*
 * test_kernels.c: the C core's own tests, no Python needed, so that they also run where
 * Python does not (AArch64 under qemu-aarch64 in CI). Build and run: make -C tests/c help.
 *
 *   test_kernels DATA_DIR                  run every check; exit status 1 on any failure
 *   test_kernels --print-digests DATA_DIR  print the digest file (tests/data/kernel_digests.txt)
 *
 * Checks: Philox4x32-10 known answers (Random123) on every kernel; every (distribution, dtype)
 * of every kernel this CPU runs against the scalar kernel over lengths, phases and the 2^32
 * block-counter carry; strided, misaligned and block (index_strides) fills; multithreaded
 * fills; SHA-256 digests of fixed fills (the same file tests/test_digests.py checks on the
 * Python side, so x86 and ARM are held to the same bits); fk_fill's request validation.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastkaiming.h"
#include "sha256.h"

static int failures;

#define CHECK(cond, ...)                                                                         \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            failures++;                                                                          \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                  \
            fprintf(stderr, __VA_ARGS__);                                                        \
            fputc('\n', stderr);                                                                 \
        }                                                                                        \
    } while (0)

static size_t itemsize(fk_dtype t)
{
    return t == FK_DTYPE_FLOAT64 ? 8 : t == FK_DTYPE_FLOAT16 || t == FK_DTYPE_BFLOAT16 ? 2 : 4;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "out of memory (%zu bytes)\n", n);
        exit(2);
    }
    return p;
}

/* ---- the cases: one per (distribution, dtype, parameters) ---------------------------------- */

typedef struct {
    const char *name;
    fk_dist dist;
    fk_dtype dtype;
    fk_params params;
} fk_case;

#define UNIFORM {-0.5, 1.0, -1.5, 0.5, 0, 0, 0}
#define UNIFORM_CLAMPED {-0.5, 1.0, -1.25, 0.25, 0, 0, 0} /* the clamp bites */
#define NORMAL {0.25, 3.0, 0, 0, 0, 0, 0}
/* trunc normal: mean 0.1, std 0.5 on [-0.6, 0.9] (alpha = -1.4 < 0 < beta = 1.6: form 2,
 * tail_a = Phi(-1.4), tail_b = 1 - Phi(1.6)), and the standard normal on [6, 9] mirrored to
 * the lower tail (form 1, tail_a = Phi(-9), tail_b = Phi(-6)); as fastkaiming._api's
 * _trunc_normal_params computes them (scipy.special.ndtr agrees), fixed here in hex so that
 * every platform fills with the same parameters */
#define TRUNC {0.1, 0.5, -0.6, 0.9, 0x1.4ac77ea57e019p-4, 0x1.c0ea71b631b11p-5, 2}
#define TRUNC_TAIL {0.0, 1.0, 6.0, 9.0, 0x1.0a7afbb1ee683p-63, 0x1.0f30ef0092d57p-30, 1}
/* float32 arithmetic on [-6, -4] std (form 0; the Python layer computes this interval in
 * float64 since issue 20, but every kernel must still agree on it): lw from -19.3 to -9, the
 * middle tail polynomial (-16 <= lw < -5) in most lanes, the far one in 0.2 % of them, so
 * blocks of 8 vectors mix the two */
#define TRUNC_MIDDLE {0.0, 1.0, -6.0, -4.0, 0x1.0f30ef0092d57p-30, 0x1.09ad7954afffep-15, 0}
/* [-0.1, 30] std: half 1 runs from t = 2^-33 to 0.27, so about one lane in 300 takes a tail
 * polynomial among central ones (a third of the AVX-512 blocks) */
#define TRUNC_MIXED                                                                              \
    {0.0, 1.0, -0x1.999998p-4, 0x1.ep+4, 0x1.d7375f15b2f1ep-2, 0x1.7795ad05ea6a0p-656, 2}
/* [-1e-5, 1e-5] std, too narrow for float32 arithmetic: float64 (form bit 2), rounded */
#define TRUNC_NARROW                                                                             \
    {0.0, 1.0, -0x1.4f8b58p-17, 0x1.4f8b58p-17, 0x1.fffef4463cf4bp-2, 0x1.fffef4463cf4bp-2, 6}
/* N(1e-38, 1e-38) on [5e-39, 2e-38] in bfloat16: bounds and samples in the subnormal range */
#define TRUNC_SUBNORMAL                                                                          \
    {0x1.b38fb9daa78e4p-127, 0x1.b38fb9daa78e4p-127, 0x1.b8p-128, 0x1.b2p-126,                 \
     0x1.3bf143b9aa712p-2, 0x1.44ed0bb7cb20cp-3, 2}
#define NORMAL_SUBNORMAL {0.0, 1e-39, 0, 0, 0, 0, 0}

static const fk_case cases[] = {
    {"raw_u32", FK_DIST_RAW, FK_DTYPE_UINT32, {0, 0, 0, 0, 0, 0, 0}},
    {"uniform_f16", FK_DIST_UNIFORM, FK_DTYPE_FLOAT16, UNIFORM},
    {"uniform_f32", FK_DIST_UNIFORM, FK_DTYPE_FLOAT32, UNIFORM},
    {"uniform_f64", FK_DIST_UNIFORM, FK_DTYPE_FLOAT64, UNIFORM},
    {"uniform_bf16", FK_DIST_UNIFORM, FK_DTYPE_BFLOAT16, UNIFORM},
    {"uniform_clamped_f32", FK_DIST_UNIFORM, FK_DTYPE_FLOAT32, UNIFORM_CLAMPED},
    {"uniform_clamped_f64", FK_DIST_UNIFORM, FK_DTYPE_FLOAT64, UNIFORM_CLAMPED},
    {"normal_f16", FK_DIST_NORMAL, FK_DTYPE_FLOAT16, NORMAL},
    {"normal_f32", FK_DIST_NORMAL, FK_DTYPE_FLOAT32, NORMAL},
    {"normal_f64", FK_DIST_NORMAL, FK_DTYPE_FLOAT64, NORMAL},
    {"normal_bf16", FK_DIST_NORMAL, FK_DTYPE_BFLOAT16, NORMAL},
    {"trunc_f16", FK_DIST_TRUNC_NORMAL, FK_DTYPE_FLOAT16, TRUNC},
    {"trunc_f32", FK_DIST_TRUNC_NORMAL, FK_DTYPE_FLOAT32, TRUNC},
    {"trunc_f64", FK_DIST_TRUNC_NORMAL, FK_DTYPE_FLOAT64, TRUNC},
    {"trunc_bf16", FK_DIST_TRUNC_NORMAL, FK_DTYPE_BFLOAT16, TRUNC},
    {"trunc_tail_f32", FK_DIST_TRUNC_NORMAL, FK_DTYPE_FLOAT32, TRUNC_TAIL},
    {"trunc_tail_f64", FK_DIST_TRUNC_NORMAL, FK_DTYPE_FLOAT64, TRUNC_TAIL},
    /* edges of the clamp: -0.0 against a bound of +0.0 (half of the samples), and NaN */
    {"uniform_signed_zero_f32", FK_DIST_UNIFORM, FK_DTYPE_FLOAT32, {-0.0, 0.0, 0.0, 1.0, 0, 0, 0}},
    {"uniform_signed_zero_f64", FK_DIST_UNIFORM, FK_DTYPE_FLOAT64, {-0.0, 0.0, 0.0, 1.0, 0, 0, 0}},
    {"uniform_nan_f16", FK_DIST_UNIFORM, FK_DTYPE_FLOAT16, {NAN, 1.0, -1.0, 1.0, 0, 0, 0}},
    {"uniform_nan_f64", FK_DIST_UNIFORM, FK_DTYPE_FLOAT64, {NAN, 1.0, -1.0, 1.0, 0, 0, 0}},
    {"trunc_middle_f32", FK_DIST_TRUNC_NORMAL, FK_DTYPE_FLOAT32, TRUNC_MIDDLE},
    {"trunc_middle_bf16", FK_DIST_TRUNC_NORMAL, FK_DTYPE_BFLOAT16, TRUNC_MIDDLE},
    {"trunc_mixed_f32", FK_DIST_TRUNC_NORMAL, FK_DTYPE_FLOAT32, TRUNC_MIXED},
    {"trunc_mixed_f16", FK_DIST_TRUNC_NORMAL, FK_DTYPE_FLOAT16, TRUNC_MIXED},
    {"trunc_narrow_f32", FK_DIST_TRUNC_NORMAL, FK_DTYPE_FLOAT32, TRUNC_NARROW},
    {"trunc_narrow_f16", FK_DIST_TRUNC_NORMAL, FK_DTYPE_FLOAT16, TRUNC_NARROW},
    {"trunc_narrow_bf16", FK_DIST_TRUNC_NORMAL, FK_DTYPE_BFLOAT16, TRUNC_NARROW},
    {"trunc_subnormal_bf16", FK_DIST_TRUNC_NORMAL, FK_DTYPE_BFLOAT16, TRUNC_SUBNORMAL},
    {"normal_subnormal_bf16", FK_DIST_NORMAL, FK_DTYPE_BFLOAT16, NORMAL_SUBNORMAL},
};
#define NCASES (sizeof cases / sizeof cases[0])

static const uint32_t KEY[2] = {0x89abcdefu, 0x01234567u}; /* seed 0x0123456789abcdef */
#define STREAM UINT64_C(42)

/* A 0-d request for case c; the caller sets the shape and the start. */
static fk_request request(const fk_case *c, void *data, int isa)
{
    fk_request r;
    memset(&r, 0, sizeof r);
    r.data = data;
    r.dtype = c->dtype;
    r.dist = c->dist;
    r.params = c->params;
    r.start.key[0] = KEY[0];
    r.start.key[1] = KEY[1];
    r.start.stream = STREAM;
    r.threads = 1;
    r.isa = isa;
    return r;
}

/* A contiguous 1-d fill of n samples from `at`. */
static fk_status fill_at(const fk_case *c, void *out, int64_t n, fk_position at, int isa,
                         int threads)
{
    int64_t shape[1] = {n}, strides[1] = {(int64_t)itemsize(c->dtype)};
    fk_request r = request(c, out, isa);
    r.ndim = 1;
    r.shape = shape;
    r.strides = strides;
    r.start = at;
    r.threads = threads;
    return fk_fill(&r);
}

/* The same from (block, phase) of the harness's key and stream. */
static fk_status fill_1d(const fk_case *c, void *out, int64_t n, uint64_t block, uint32_t phase,
                         int isa, int threads)
{
    fk_position at = {{KEY[0], KEY[1]}, STREAM, block, phase};
    return fill_at(c, out, n, at, isa, threads);
}

static int isa_list(int isas[FK_ISA_COUNT])
{
    int n = 0;
    unsigned mask = fk_isa_available();
    for (int i = 0; i < FK_ISA_COUNT; i++)
        if (mask & (1u << i))
            isas[n++] = i;
    return n;
}

/* ---- known answers --------------------------------------------------------------------------- */

/* DATA_DIR/name, opened for reading; NULL (and a failure) if it cannot be. */
static FILE *open_data(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    return f;
}

static void test_kat(const char *dir)
{
    FILE *f = open_data(dir, "philox4x32_10_kat.txt");
    if (f == NULL)
        return;
    char line[512];
    int vectors = 0, isas[FK_ISA_COUNT], nisa = isa_list(isas);
    while (fgets(line, sizeof line, f)) {
        uint32_t ctr[4], key[2], want[4], got[4];
        if (sscanf(line, "philox4x32 10 %" SCNx32 " %" SCNx32 " %" SCNx32 " %" SCNx32 " %" SCNx32
                         " %" SCNx32 " %" SCNx32 " %" SCNx32 " %" SCNx32 " %" SCNx32,
                   &ctr[0], &ctr[1], &ctr[2], &ctr[3], &key[0], &key[1], &want[0], &want[1],
                   &want[2], &want[3]) != 10)
            continue;
        vectors++;
        fk_philox4x32_10(ctr, key, got);
        CHECK(memcmp(got, want, sizeof want) == 0, "fk_philox4x32_10 known answer %d", vectors);
        /* every kernel's raw words: counter = (block low, block high, stream low, stream high) */
        fk_position at = {{key[0], key[1]}, ctr[2] | (uint64_t)ctr[3] << 32,
                          ctr[0] | (uint64_t)ctr[1] << 32, 0};
        for (int i = 0; i < nisa; i++) {
            uint32_t words[4] = {0};
            CHECK(fill_at(&cases[0], words, 4, at, isas[i], 1) == FK_OK &&
                      memcmp(words, want, sizeof want) == 0,
                  "%s raw words, known answer %d", fk_isa_name(isas[i]), vectors);
        }
    }
    fclose(f);
    CHECK(vectors == 3, "%d known-answer vectors, expected 3", vectors);
}

/* ---- every kernel against the scalar one ------------------------------------------------------ */

static void test_kernels_match_scalar(void)
{
    static const uint64_t blocks[] = {0, 3, 0xfffffffdu, UINT64_C(0x1fffffffe),
                                      UINT64_C(0xfffffffffffff000)};
    enum { MAXN = 4099 };
    int64_t lengths[80];
    int nlen = 0;
    for (int n = 0; n <= 66; n++)
        lengths[nlen++] = n;
    const int64_t more[] = {127, 128, 129, 255, 257, 1024, 1031, MAXN};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        lengths[nlen++] = more[i];
    unsigned char *ref = xmalloc(MAXN * 8), *got = xmalloc(MAXN * 8);
    int isas[FK_ISA_COUNT], nisa = isa_list(isas);
    long compared = 0;
    for (int ii = 0; ii < nisa; ii++) {
        if (isas[ii] == FK_ISA_SCALAR)
            continue;
        for (size_t ci = 0; ci < NCASES; ci++) {
            const fk_case *c = &cases[ci];
            unsigned per_block = fk_samples_per_block(c->dist, c->dtype);
            size_t isz = itemsize(c->dtype);
            for (size_t bi = 0; bi < sizeof blocks / sizeof blocks[0]; bi++) {
                for (uint32_t phase = 0; phase < per_block; phase++) {
                    for (int li = 0; li < nlen; li++) {
                        int64_t n = lengths[li];
                        memset(ref, 0x5a, (size_t)n * isz);
                        memset(got, 0xa5, (size_t)n * isz);
                        fk_status s1 = fill_1d(c, ref, n, blocks[bi], phase, FK_ISA_SCALAR, 1);
                        fk_status s2 = fill_1d(c, got, n, blocks[bi], phase, isas[ii], 1);
                        size_t at = 0;
                        while (at < (size_t)n * isz && ref[at] == got[at])
                            at++;
                        CHECK(s1 == FK_OK && s2 == FK_OK && at == (size_t)n * isz,
                              "%s %s block %" PRIu64 " phase %u n %" PRId64
                              ": first difference at sample %zu",
                              fk_isa_name(isas[ii]), c->name, blocks[bi], phase, n, at / isz);
                        compared += n;
                    }
                }
            }
        }
    }
    free(ref);
    free(got);
    printf("kernels vs scalar: %ld samples compared\n", compared);
}

/* ---- strided, misaligned, block and 0-d fills ----------------------------------------------- */

/* The whole tensor (D0, D1, D2), C order, from (block0, phase0) on the scalar kernel. */
enum { D0 = 6, D1 = 5, D2 = 37 };
#define TOTAL (D0 * D1 * D2)

typedef struct {
    const char *name;
    int64_t strides[3]; /* in items */
    int64_t base;       /* item offset of element (0, 0, 0) */
    int64_t span;       /* items the layout needs */
} fk_layout;

static const fk_layout layouts[] = {
    {"contiguous", {D1 * D2, D2, 1}, 0, TOTAL},
    {"reversed rows, gaps", {4 * D1 * D2, 4 * D2, -4}, 4 * (D2 - 1), 4 * TOTAL},
    {"Fortran order, gaps", {2, 2 * D0, 2 * D0 * D1}, 0, 2 * TOTAL},
    {"negative outer axis", {-D1 * D2, D2, 1}, (D0 - 1) * D1 * D2, TOTAL},
};

/* Fill the sub-block [o0:o0+e0, o1:o1+e1, o2:o2+e2] of the whole tensor (or, with e = the
 * whole shape, the tensor) into `lay`, `misalign` bytes off alignment; compare with ref. */
static void check_layout(const fk_case *c, int isa, const unsigned char *ref, const int64_t o[3],
                         const int64_t e[3], const fk_layout *lay, int misalign, int threads)
{
    size_t isz = itemsize(c->dtype);
    size_t bytes = (size_t)lay->span * isz + 16;
    unsigned char *buf = xmalloc(bytes), *want = xmalloc(bytes);
    memset(buf, 0xa5, bytes);
    memset(want, 0xa5, bytes);
    unsigned char *origin = buf + misalign + (size_t)lay->base * isz;
    int64_t shape[3] = {e[0], e[1], e[2]}, strides[3], istrides[3] = {D1 * D2, D2, 1};
    for (int d = 0; d < 3; d++)
        strides[d] = lay->strides[d] * (int64_t)isz;
    for (int64_t i = 0; i < e[0]; i++)
        for (int64_t j = 0; j < e[1]; j++)
            for (int64_t k = 0; k < e[2]; k++) {
                int64_t at = i * strides[0] + j * strides[1] + k * strides[2];
                int64_t src = ((o[0] + i) * D1 + (o[1] + j)) * D2 + (o[2] + k);
                memcpy(want + (origin - buf) + at, ref + (size_t)src * isz, isz);
            }
    unsigned per_block = fk_samples_per_block(c->dist, c->dtype);
    uint64_t first = (uint64_t)((o[0] * D1 + o[1]) * D2 + o[2]) + 1; /* phase0 = 1 */
    fk_request r = request(c, origin, isa);
    r.ndim = 3;
    r.shape = shape;
    r.strides = strides;
    int whole = e[0] == D0 && e[1] == D1 && e[2] == D2;
    r.index_strides = whole ? NULL : istrides;
    r.start.block = UINT64_C(0xffffffff) - 20 + first / per_block;
    r.start.phase = (uint32_t)(first % per_block);
    r.threads = threads;
    fk_status s = fk_fill(&r);
    CHECK(s == FK_OK && memcmp(buf, want, bytes) == 0,
          "%s %s %s%s, misaligned by %d, %d threads: status %d or wrong bytes", fk_isa_name(isa),
          c->name, whole ? "" : "block of ", lay->name, misalign, threads, (int)s);
    free(buf);
    free(want);
}

static void test_strided_and_blocks(void)
{
    int isas[FK_ISA_COUNT], nisa = isa_list(isas);
    for (size_t ci = 0; ci < NCASES; ci++) {
        const fk_case *c = &cases[ci];
        size_t isz = itemsize(c->dtype);
        unsigned char *ref = xmalloc(TOTAL * isz);
        CHECK(fill_1d(c, ref, TOTAL, UINT64_C(0xffffffff) - 20, 1, FK_ISA_SCALAR, 1) == FK_OK,
              "reference fill");
        const int64_t zero[3] = {0, 0, 0}, whole[3] = {D0, D1, D2};
        const int64_t o[3] = {1, 2, 3}, e[3] = {4, 2, 27};
        for (int ii = 0; ii < nisa; ii++) {
            for (size_t li = 0; li < sizeof layouts / sizeof layouts[0]; li++) {
                for (int mis = 0; mis < 2; mis++) { /* aligned, and one byte off */
                    check_layout(c, isas[ii], ref, zero, whole, &layouts[li], mis, 1);
                    check_layout(c, isas[ii], ref, o, e, &layouts[li], mis, 1);
                }
            }
            /* 0-d: one element, sample (block, phase) */
            unsigned char one[16], want[16];
            memset(one, 0xa5, sizeof one);
            memset(want, 0xa5, sizeof want);
            memcpy(want + 1, ref, isz);
            fk_request r = request(c, one + 1, isas[ii]);
            r.start.block = UINT64_C(0xffffffff) - 20;
            r.start.phase = 1;
            CHECK(fk_fill(&r) == FK_OK && memcmp(one, want, sizeof one) == 0, "%s %s 0-d fill",
                  fk_isa_name(isas[ii]), c->name);
        }
        free(ref);
    }
}

/* ---- threads ------------------------------------------------------------------------------ */

static void test_threads(void)
{
    const int64_t n = 2 * FK_MIN_PARALLEL + 13;
    const size_t pick[] = {2, 10, 13}; /* uniform_f32, normal_bf16, trunc_f64 */
    int isas[FK_ISA_COUNT], nisa = isa_list(isas);
    for (size_t pi = 0; pi < sizeof pick / sizeof pick[0]; pi++) {
        const fk_case *c = &cases[pick[pi]];
        size_t bytes = (size_t)n * itemsize(c->dtype);
        unsigned char *ref = xmalloc(bytes), *got = xmalloc(bytes);
        CHECK(fill_1d(c, ref, n, 7, 1, FK_ISA_SCALAR, 1) == FK_OK, "reference fill");
        for (int ii = 0; ii < nisa; ii++) {
            memset(got, 0, bytes);
            CHECK(fill_1d(c, got, n, 7, 1, isas[ii], 4) == FK_OK && memcmp(ref, got, bytes) == 0,
                  "%s %s: 4 threads differ from 1", fk_isa_name(isas[ii]), c->name);
        }
        free(ref);
        free(got);
    }
    /* rows that the chunks cut anywhere: (1025, 513) float32 rows with gaps, 3 threads */
    const fk_case *c = &cases[8];
    enum { R = 1025, C = 513, P = 520 };
    float *ref = xmalloc(sizeof(float) * R * C), *got = xmalloc(sizeof(float) * R * P);
    CHECK(fill_1d(c, ref, R * C, 0, 0, FK_ISA_SCALAR, 1) == FK_OK, "reference fill");
    for (int ii = 0; ii < nisa; ii++) {
        memset(got, 0, sizeof(float) * R * P);
        int64_t shape[2] = {R, C}, strides[2] = {P * 4, 4};
        fk_request r = request(c, got, isas[ii]);
        r.ndim = 2;
        r.shape = shape;
        r.strides = strides;
        r.threads = 3;
        int same = fk_fill(&r) == FK_OK;
        for (int i = 0; i < R && same; i++)
            same = memcmp(ref + (size_t)i * C, got + (size_t)i * P, C * 4) == 0;
        CHECK(same, "%s threaded fill of rows with gaps", fk_isa_name(isas[ii]));
    }
    free(ref);
    free(got);
}

/* ---- digests ------------------------------------------------------------------------------ */

/* The fixed fills of the digest file: each case from two starts. */
static const struct {
    uint64_t block;
    int last_phase;
    int64_t n;
} digest_starts[] = {{0, 0, 4099}, {UINT64_C(0xffffffff) - 7, 1, 1000}};

static void print_digests(void)
{
    printf("# SHA-256 of fixed fills, the same on every kernel and architecture.\n"
           "# Written by the C harness: make -C tests/c digests (rerun it after any stream change,\n"
           "# e.g. a new transform); checked by it on every kernel, natively and under\n"
           "# qemu-aarch64, and by tests/test_digests.py through the Python binding.\n"
           "# Columns: name dist dtype key0 key1 stream block phase n loc scale lo hi tail_a tail_b\n"
           "# form sha256 (dist, dtype: fk_dist, fk_dtype codes; key, stream, block: hex; floats:\n"
           "# C99 hex floats, exact).\n");
    for (size_t ci = 0; ci < NCASES; ci++) {
        const fk_case *c = &cases[ci];
        for (size_t si = 0; si < sizeof digest_starts / sizeof digest_starts[0]; si++) {
            unsigned per_block = fk_samples_per_block(c->dist, c->dtype);
            uint32_t phase = digest_starts[si].last_phase ? per_block - 1 : 0;
            int64_t n = digest_starts[si].n;
            size_t bytes = (size_t)n * itemsize(c->dtype);
            unsigned char *buf = xmalloc(bytes);
            char hex[65];
            if (fill_1d(c, buf, n, digest_starts[si].block, phase, FK_ISA_SCALAR, 1) != FK_OK) {
                fprintf(stderr, "digest fill %s failed\n", c->name);
                exit(2);
            }
            fk_sha256_hex(buf, bytes, hex);
            const fk_params *p = &c->params;
            printf("%s %d %d %08" PRIx32 " %08" PRIx32 " %" PRIx64 " %" PRIx64 " %u %" PRId64
                   " %a %a %a %a %a %a %d %s\n",
                   c->name, (int)c->dist, (int)c->dtype, KEY[0], KEY[1], STREAM,
                   digest_starts[si].block, phase, n, p->loc, p->scale, p->lo, p->hi, p->tail_a,
                   p->tail_b, p->form, hex);
            free(buf);
        }
    }
}

static void test_digests(const char *dir)
{
    FILE *f = open_data(dir, "kernel_digests.txt");
    if (f == NULL)
        return;
    char line[1024];
    int lines = 0, isas[FK_ISA_COUNT], nisa = isa_list(isas);
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char name[64], want[65];
        int dist, dtype, form;
        fk_case c;
        uint32_t key0, key1, phase;
        uint64_t stream, block;
        int64_t n;
        char fl[6][64];
        int got = sscanf(line,
                         "%63s %d %d %" SCNx32 " %" SCNx32 " %" SCNx64 " %" SCNx64 " %" SCNu32
                         " %" SCNd64 " %63s %63s %63s %63s %63s %63s %d %64s",
                         name, &dist, &dtype, &key0, &key1, &stream, &block, &phase, &n, fl[0],
                         fl[1], fl[2], fl[3], fl[4], fl[5], &form, want);
        CHECK(got == 17, "kernel_digests.txt: cannot read line %s", line);
        if (got != 17)
            continue;
        lines++;
        c.name = name;
        c.dist = (fk_dist)dist;
        c.dtype = (fk_dtype)dtype;
        double *fields[6] = {&c.params.loc, &c.params.scale, &c.params.lo, &c.params.hi,
                             &c.params.tail_a, &c.params.tail_b};
        for (int i = 0; i < 6; i++)
            *fields[i] = strtod(fl[i], NULL);
        c.params.form = form;
        size_t bytes = (size_t)n * itemsize(c.dtype);
        unsigned char *buf = xmalloc(bytes);
        fk_position at = {{key0, key1}, stream, block, phase};
        for (int ii = 0; ii < nisa; ii++) {
            char hex[65] = "";
            fk_status s = fill_at(&c, buf, n, at, isas[ii], 1);
            fk_sha256_hex(buf, bytes, hex);
            CHECK(s == FK_OK && strcmp(hex, want) == 0, "%s digest of %s block %" PRIx64 ": %s",
                  fk_isa_name(isas[ii]), name, block, hex);
        }
        free(buf);
    }
    fclose(f);
    CHECK(lines == (int)(NCASES * 2), "kernel_digests.txt: %d digests, expected %d", lines,
          (int)(NCASES * 2));
    /* the digest code itself: FIPS 180-2 appendix B.1 and B.2 */
    char hex[65];
    fk_sha256_hex("abc", 3, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
          "sha256(abc) = %s", hex);
    fk_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
    CHECK(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0,
          "sha256(448-bit message) = %s", hex);
}

/* ---- request validation --------------------------------------------------------------------- */

/* An invalid request returns `want` and writes nothing. */
static void expect(const char *what, fk_request r, fk_status want)
{
    unsigned char guard[64];
    memset(guard, 0xa5, sizeof guard);
    if (r.data != NULL)
        r.data = guard + 8;
    fk_status s = fk_fill(&r);
    int untouched = 1;
    for (size_t i = 0; i < sizeof guard; i++)
        untouched &= guard[i] == 0xa5;
    CHECK(s == want && (s == FK_OK || untouched), "%s: status %d (want %d), %s", what, (int)s,
          (int)want, untouched ? "nothing written" : "bytes written");
}

static void test_validation(void)
{
    static char buf[64];
    int64_t shape[3] = {2, 3, 2}, strides[3] = {24, 8, 4}, istrides[3] = {6, 2, 1};
    fk_request ok = request(&cases[2], buf, FK_ISA_AUTO); /* uniform float32, (2, 3, 2) */
    ok.ndim = 3;
    ok.shape = shape;
    ok.strides = strides;
    ok.index_strides = istrides;
    expect("a valid request", ok, FK_OK);
    CHECK(fk_fill(NULL) == FK_EINVAL, "NULL request");

    fk_request r;
    const int bad_dtypes[] = {-1, 5, 99};
    const int dists[] = {FK_DIST_RAW, FK_DIST_UNIFORM, FK_DIST_NORMAL, FK_DIST_TRUNC_NORMAL};
    for (size_t i = 0; i < sizeof bad_dtypes / sizeof bad_dtypes[0]; i++)
        for (size_t j = 0; j < sizeof dists / sizeof dists[0]; j++) {
            CHECK(fk_samples_per_block((fk_dist)dists[j], (fk_dtype)bad_dtypes[i]) == 0,
                  "samples per block of dist %d, dtype %d", dists[j], bad_dtypes[i]);
            r = ok, r.dist = (fk_dist)dists[j], r.dtype = (fk_dtype)bad_dtypes[i];
            expect("invalid dtype code", r, FK_EINVAL);
        }
    const int bad_dists[] = {-1, 4, 99};
    for (size_t i = 0; i < sizeof bad_dists / sizeof bad_dists[0]; i++)
        for (int t = 0; t <= FK_DTYPE_BFLOAT16; t++) {
            CHECK(fk_samples_per_block((fk_dist)bad_dists[i], (fk_dtype)t) == 0,
                  "samples per block of dist %d", bad_dists[i]);
            r = ok, r.dist = (fk_dist)bad_dists[i], r.dtype = (fk_dtype)t;
            expect("invalid dist code", r, FK_EINVAL);
        }
    for (int t = FK_DTYPE_FLOAT16; t <= FK_DTYPE_BFLOAT16; t++) {
        r = ok, r.dist = FK_DIST_RAW, r.dtype = (fk_dtype)t;
        expect("raw words as floats", r, FK_EINVAL);
    }
    for (int d = FK_DIST_UNIFORM; d <= FK_DIST_TRUNC_NORMAL; d++) {
        r = ok, r.dist = (fk_dist)d, r.dtype = FK_DTYPE_UINT32;
        expect("floats as uint32", r, FK_EINVAL);
    }
    CHECK(fk_samples_per_block(FK_DIST_TRUNC_NORMAL, FK_DTYPE_FLOAT64) == 4 &&
              fk_samples_per_block(FK_DIST_NORMAL, FK_DTYPE_FLOAT64) == 2 &&
              fk_samples_per_block(FK_DIST_RAW, FK_DTYPE_UINT32) == 4,
          "samples per block of valid pairs");
    r = ok, r.isa = FK_ISA_COUNT;
    expect("isa code past the last", r, FK_EINVAL);
    r = ok, r.isa = -2;
    expect("negative isa code", r, FK_EINVAL);
    for (int i = 0; i < FK_ISA_COUNT; i++) {
        r = ok, r.isa = i;
        expect("a kernel this CPU lacks", r, (fk_isa_available() >> i) & 1 ? FK_OK : FK_EISA);
    }
    r = ok, r.ndim = -1;
    expect("negative ndim", r, FK_EINVAL);
    r = ok, r.ndim = FK_MAX_NDIM + 1;
    expect("ndim past FK_MAX_NDIM", r, FK_EINVAL);
    r = ok, r.shape = NULL;
    expect("NULL shape", r, FK_EINVAL);
    r = ok, r.strides = NULL;
    expect("NULL strides", r, FK_EINVAL);
    r = ok, r.threads = 0;
    expect("zero threads", r, FK_EINVAL);
    r = ok, r.threads = -3;
    expect("negative threads", r, FK_EINVAL);
    r = ok, r.start.phase = 4;
    expect("phase past the block", r, FK_EINVAL);
    r = ok, r.dtype = FK_DTYPE_FLOAT64, r.start.phase = 2;
    expect("phase past a float64 block", r, FK_EINVAL);
    r = ok, r.data = NULL;
    expect("NULL data", r, FK_EINVAL);

    int64_t s2[3] = {2, -3, 2};
    r = ok, r.shape = s2;
    expect("negative length", r, FK_EINVAL);
    int64_t is_neg[3] = {6, -2, 1}, is_last[3] = {6, 2, 2}, is_huge[3] = {INT64_MAX, 2, 1};
    r = ok, r.index_strides = is_neg;
    expect("negative index stride", r, FK_EINVAL);
    r = ok, r.index_strides = is_last;
    expect("last index stride not 1", r, FK_EINVAL);
    r = ok, r.index_strides = is_huge;
    expect("sample index past 2^62", r, FK_EINVAL);
    int64_t big[3] = {INT64_C(1) << 40, INT64_C(1) << 40, 2};
    r = ok, r.shape = big;
    expect("more than 2^62 elements", r, FK_EINVAL);

    /* zero elements: accepted whatever the axis order (nothing written, data may be NULL) */
    int64_t z_first[3] = {0, INT64_C(1) << 40, INT64_C(1) << 40};
    int64_t z_last[3] = {INT64_C(1) << 40, INT64_C(1) << 40, 0};
    int64_t z_mid[3] = {INT64_C(1) << 40, 0, INT64_C(1) << 40};
    int64_t *zs[3] = {z_first, z_last, z_mid};
    for (int i = 0; i < 3; i++) {
        r = ok, r.shape = zs[i], r.index_strides = NULL;
        expect("zero elements", r, FK_OK);
        r.data = NULL;
        CHECK(fk_fill(&r) == FK_OK, "zero elements, NULL data");
        /* and rejected as any request when something else is invalid */
        r = ok, r.shape = zs[i], r.dtype = (fk_dtype)7;
        expect("zero elements, invalid dtype", r, FK_EINVAL);
        r = ok, r.shape = zs[i], r.threads = 0;
        expect("zero elements, zero threads", r, FK_EINVAL);
        r = ok, r.shape = zs[i], r.index_strides = is_last;
        expect("zero elements, last index stride not 1", r, FK_EINVAL);
        r = ok, r.shape = zs[i], r.isa = 42;
        expect("zero elements, invalid isa", r, FK_EINVAL);
    }
    int64_t z_neg[3] = {0, -1, 2};
    r = ok, r.shape = z_neg;
    expect("zero elements, negative length", r, FK_EINVAL);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--print-digests") == 0) {
        print_digests();
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: %s [--print-digests] DATA_DIR (tests/data)\n", argv[0]);
        return 2;
    }
    int isas[FK_ISA_COUNT], nisa = isa_list(isas);
    printf("kernels:");
    for (int i = 0; i < nisa; i++)
        printf(" %s", fk_isa_name(isas[i]));
    printf("\n");
    test_kat(argv[1]);
    test_validation();
    test_kernels_match_scalar();
    test_strided_and_blocks();
    test_threads();
    test_digests(argv[1]);
    if (failures) {
        printf("%d FAILED\n", failures);
        return 1;
    }
    printf("all passed\n");
    return 0;
}
