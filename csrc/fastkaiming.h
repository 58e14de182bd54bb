/*
 * fastkaiming.h: the public C API of the fastkaiming core (pure C11, no Python.h).
 *
 * src/fastkaiming/_core.pxd mirrors the declarations below and must match them.
 *
 * Generator
 *   Philox4x32-10 (Salmon et al., SC11). key = (seed low 32 bits, seed high 32 bits);
 *   counter = (block low, block high, stream low, stream high). One block gives 4 words.
 *
 * Determinism contract
 *   Sample i of a fill that starts at sample index `offset` is a pure function of
 *   (seed, stream, offset + i, distribution, parameters, dtype). It does not depend on the
 *   thread count, the kernel (ISA) chosen, the strides of the buffer or on how the fill is
 *   split into chunks. Each transform consumes a fixed number of words per sample.
 *
 * Word-to-sample mapping (n = offset + i, w[j] = word j of block b; "signed" reads the bits
 * as a two's complement integer)
 *   uint32 raw   b = n / 4: sample = w[n % 4].
 *   f32 uniform  b = n / 4, w = w[n % 4]: s = the top 24 bits of w, signed;
 *                v = (2s + 1) * 2^-24, an odd multiple of 2^-24 in (-1, 1), exact;
 *                x = clamp(fma(scale, v, loc), lo, hi).
 *   f32 normal   b = n / 4; pair p = (n % 4) / 2 uses radius word w[2p] and angle word w[2p+1];
 *                even n takes r*cos(theta), odd n takes r*sin(theta).
 *                u = fl(fl(w[2p] >> 1) * 2^-31 + 2^-32) in [2^-32, 1]: log(u) is finite;
 *                r = sqrt(-2 log u) <= 6.6604;
 *                theta = 2 pi wa / 2^32 = q pi/2 + t, with q the quadrant nearest theta
 *                (the top 2 bits of wa + 2^29) and t = (2s + 1) 2^-24 pi/4 in (-pi/4, pi/4),
 *                s = bits 6..29 of wa, signed: the midpoint of one of 2^26 equal arcs;
 *                x = fma(std, z, mean).
 *   f64 uniform  b = n / 2; the 64-bit word x = w[2j] | w[2j+1] << 32 with j = n % 2;
 *                s = the top 53 bits of x, signed, v = (2s + 1) * 2^-53; x as for f32.
 *   f64 normal   b = n / 2; radius from w[0] | w[1] << 32, angle from w[2] | w[3] << 32;
 *                even n takes r*cos, odd n r*sin. u = ((x >> 11) + 1) * 2^-53 in [2^-53, 1]
 *                (r <= 8.5717); q = the top 2 bits of x + 2^61, t = (2s + 1) 2^-53 pi/4
 *                with s = bits 9..61 of x, signed.
 *   f16          the f32 sample, rounded once to the nearest binary16 (ties to even).
 *   bf16         the f32 sample, rounded once to the nearest bfloat16 (ties to even),
 *                subnormals included (0.2.0 flushed float32 subnormals to zero, as
 *                VCVTNEPS2BF16 does); NaNs stay quiet NaNs.
 *   trunc normal one word per sample, for every dtype: b = n / 4, w = w[n % 4]. The
 *                interval (alpha, beta) = ((a - mean) / std, (b - mean) / std), mirrored
 *                when alpha > 0, is split into two halves of equal probability H; each is
 *                sampled through the tail probability t of its side of 0 (fk_params):
 *                  beta <= 0: half 0 t in (Phi(alpha), Phi(alpha) + H), half 1 from
 *                    Phi(alpha) + H, H = (Phi(beta) - Phi(alpha)) / 2, both lower tails;
 *                  alpha < 0 < beta: half 0 lower tail from Phi(alpha), half 1 upper tail
 *                    t = 1 - Phi(z) from 1 - Phi(beta), H = ((1 - Phi(alpha)) - (1 - Phi(beta))) / 2.
 *                h = w & 1 picks the half. y = -Phi^-1(t); x = mean + s std y with s = -1
 *                for a lower tail, +1 for an upper one, negated when mirrored; clamped to
 *                [lo, hi] (the caller's bounds, inside [a, b] in the output dtype).
 *                float32, float16, bfloat16 (float32 arithmetic, parameters rounded once):
 *                v = fma(float(w >> 1), 2^-31, 2^-32) in [2^-32, 1], t = fma(H, v, base[h]),
 *                lw = log(4 fma(-t, t, t)); y = fma(-2, t, 1) G with G one of three
 *                polynomials of transforms.h (lw >= -5: in -2.5 - lw; lw < -16: in
 *                sqrt(-lw) - 6.5; else in sqrt(-lw) - 3); x = fma(s std, y, mean), then
 *                clamped; f16/bf16 as above.
 *                float64: v = (w | 1) 2^-32 exact, t = fma(H, v, base[h]),
 *                lw = log(4 fma(-t, t, t)); lw >= -6.25: y = (fma(-2, t, 1) sqrt 2) P(-3.125 - lw),
 *                P Giles' central erfinv polynomial; else AS241 (PPND16) in r = sqrt(-log t):
 *                y = R(r) with one division; x = fma(s std, y, mean), clamped.
 *                float32, float16, bfloat16 with form bit 2 set (FK_FORM_F64): the float64
 *                sample above, rounded to float32, then as every float32 sample (the Python
 *                layer sets it where float32 arithmetic resolves t too coarsely: fewer than
 *                2^20 steps of t per half, or t < 2^-126).
 *                The caller keeps t >= 2^-126 (float32 arithmetic) or 2^-1022 (float64).
 *   log, sin and cos are the in-house polynomials of transforms.h (no libm), evaluated with
 *   explicit fused multiply-adds; sqrt and division are the correctly rounded IEEE operations.
 *
 * Stream length: 2^64 blocks, so 2^66 samples for uint32/f32/f16/bf16 and 2^65 for f64
 * (uniform and normal; trunc normal: 2^66 for every dtype). A fill
 * starts at (block, phase) with phase < samples per block; the caller keeps the whole fill
 * inside the stream.
 */
#ifndef FASTKAIMING_H
#define FASTKAIMING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FK_MAX_NDIM 64
/* Fills below this many elements stay on the calling thread. */
#define FK_MIN_PARALLEL 262144

typedef enum {
    FK_OK = 0,
    FK_EINVAL = 1,      /* an argument the Python layer should have rejected */
    FK_EISA = 2,        /* the requested kernel is not available on this CPU or build */
    FK_EINTR = 3,       /* interrupted() asked to stop; the buffer is partly written */
} fk_status;

typedef enum {
    FK_DTYPE_UINT32 = 0,
    FK_DTYPE_FLOAT16 = 1,
    FK_DTYPE_FLOAT32 = 2,
    FK_DTYPE_FLOAT64 = 3,
    FK_DTYPE_BFLOAT16 = 4,
} fk_dtype;

typedef enum {
    FK_DIST_RAW = 0,     /* uint32 only */
    FK_DIST_UNIFORM = 1, /* clamp(loc + scale * v, lo, hi), v uniform in (-1, 1) */
    FK_DIST_NORMAL = 2,  /* loc + scale * z, z standard normal */
    FK_DIST_TRUNC_NORMAL = 3, /* loc + scale * z, z normal restricted to [alpha, beta] */
} fk_dist;

typedef enum {
    FK_ISA_AUTO = -1,   /* the best kernel this CPU runs */
    FK_ISA_SCALAR = 0,  /* portable C, the reference */
    FK_ISA_AVX2 = 1,    /* AVX2 + FMA + F16C */
    FK_ISA_AVX512 = 2,  /* AVX-512 F/BW/DQ/VL (+ FMA, F16C) */
    FK_ISA_NEON = 3,    /* AArch64 Advanced SIMD, on every AArch64 CPU */
    FK_ISA_COUNT = 4,
} fk_isa;

/* Parameters in double; each kernel rounds them once to its compute precision. */
typedef struct {
    double loc;    /* normal: mean; uniform: (a + b) / 2 */
    double scale;  /* normal: std;  uniform: (b - a) / 2 */
    double lo, hi; /* uniform, trunc normal: the closed output interval */
    /* trunc normal, (alpha, beta) the interval in std units, mirrored (form bit 0) when
     * alpha > 0: tail_a = Phi(alpha); tail_b = Phi(beta) when beta <= 0, else (form bit 1)
     * 1 - Phi(beta); form bit 2: float64 arithmetic for a float32, float16 or bfloat16
     * trunc normal fill. */
    double tail_a, tail_b;
    int form;
} fk_params;

/* Where a run of samples starts: Philox key and counter. */
typedef struct {
    uint32_t key[2];   /* seed low, seed high */
    uint64_t stream;
    uint64_t block;    /* block of the first sample */
    uint32_t phase;    /* index of the first sample within its block */
} fk_position;

/* A strided n-d fill: element (i_0, ..., i_k) gets sample (block, phase) + sum i_d * index_d,
 * with index the C-order strides of shape (element i in C order gets sample + i), or, for a
 * block of a larger tensor, the C-order strides of the whole tensor (last one 1). */
typedef struct {
    void *data;               /* any alignment */
    int ndim;                 /* 0 .. FK_MAX_NDIM; 0 means one element */
    const int64_t *shape;
    const int64_t *strides;   /* in bytes, any sign */
    const int64_t *index_strides; /* in samples, >= 0, the last 1; NULL: C order of shape */
    fk_dtype dtype;
    fk_dist dist;
    fk_params params;
    fk_position start;
    int threads;              /* >= 1; small fills use fewer */
    int isa;                  /* an fk_isa value */
    /* Polled by the calling thread between chunks, at most every 20 ms; nonzero stops the
     * fill (FK_EINTR). NULL: never stop. */
    int (*interrupted)(void *ctx);
    void *interrupt_ctx;
} fk_request;

/* Samples per Philox block for (dist, dtype): 4, or 2 for float64 uniform and normal; 0 for
 * any pair that is not supported, out-of-range codes included. */
unsigned fk_samples_per_block(fk_dist dist, fk_dtype dtype);

/* Bit mask of the kernels this CPU and build can run (bit i is fk_isa i). */
unsigned fk_isa_available(void);
const char *fk_isa_name(int isa);

/* The whole fill, on a persistent thread pool; allocates nothing but the pool's threads.
 * Every field of *req is checked before a byte is written: FK_EINVAL for any invalid one
 * (dtype or dist code or their pair, phase, isa code, ndim, NULL shape or strides when ndim > 0,
 * a negative length, threads < 1, index_strides negative or with last != 1, more than 2^62
 * elements or a sample index past 2^62, NULL data with elements to write), FK_EISA for a kernel
 * this CPU or build lacks. A valid request with no elements is FK_OK and writes nothing (data
 * may then be NULL), whatever the order of its axes. data and strides may have any alignment:
 * runs that are misaligned for the dtype are written byte-wise, with the same bits. params are
 * not checked: the kernels compute with any values without faults (the Python layer checks). */
fk_status fk_fill(const fk_request *req);

/* One Philox4x32-10 block: out = philox(counter (ctr[0..3]), key (key[0..1])). */
void fk_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

#ifdef __cplusplus
}
#endif

#endif /* FASTKAIMING_H */
