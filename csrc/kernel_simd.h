/*
 * kernel_simd.h: the SIMD kernels' algorithm, written once against a small vector API that
 * each instruction-set unit (kernel_avx2.c, kernel_avx512.c, kernel_neon.c) defines before
 * including it:
 *
 *   FK_W                          lanes of 32 bits per vector
 *   fk_vi, fk_vf, fk_vl, fk_vd    int32, float, int64 and double vectors
 *   vi_* / vf_* / vl_* / vd_*     lane-wise operations, named after what they compute
 *                                 (vi_mulhilo: both halves of 32 x 32-bit products)
 *   vi_counters, vi_transpose4    the Philox counters of W consecutive blocks; the 4 x W
 *                                 word matrix (one block per lane) into memory order
 *   vi_store_low16x2              the low 16 bits of the lanes of two vectors, packed
 *   vf_lt, vi_any, vl_any         a < b as an all-ones int32 lane mask; nonzero if any
 *                                 lane of a mask is nonzero (to skip rarely used branches)
 *   vd_from_u53                   exact conversion of int64 lanes below 2^53
 *   vd_select_odd                 per lane, one of two values by bit 0 of an int64 lane
 *
 * Every operation mirrors transforms.h step for step (the same constants, the same order,
 * the same fused multiply-adds), so each kernel reproduces the scalar kernel bit for bit.
 * A group is W consecutive blocks: 4W float32 samples, 2W float64 samples.
 */
#ifndef FK_KERNEL_SIMD_H
#define FK_KERNEL_SIMD_H

#include <string.h>

#include "kernels.h"
#include "philox.h"
#include "transforms.h"

/* Fully inlined, so that the group count is a constant and the vectors stay in registers. */
#if defined(__GNUC__) || defined(__clang__)
#define FK_INLINE static inline __attribute__((always_inline))
#else
#define FK_INLINE static inline
#endif

/* Groups computed side by side: independent dependency chains keep the pipelines busy.
 * 4 measured fastest on Zen 4 for both widths (2: 15 % slower, 8: 20 % slower on AVX-512). */
#ifndef FK_G
#define FK_G 4
#endif

typedef struct {
    uint32_t k0[FK_PHILOX_ROUNDS], k1[FK_PHILOX_ROUNDS]; /* key of each round */
    uint32_t s0, s1;                                     /* stream low, high */
} fk_keys;

FK_INLINE void keys_init(fk_keys *k, const fk_position *p)
{
    uint32_t k0 = p->key[0], k1 = p->key[1];
    for (int r = 0; r < FK_PHILOX_ROUNDS; r++) {
        k->k0[r] = k0;
        k->k1[r] = k1;
        k0 += FK_PHILOX_W0;
        k1 += FK_PHILOX_W1;
    }
    k->s0 = (uint32_t)p->stream;
    k->s1 = (uint32_t)(p->stream >> 32);
}

/* G groups of W blocks from `block` on; x[g][j] = word j, one block per lane. */
FK_INLINE void philox_groups(fk_vi x[][4], int G, uint64_t block, const fk_keys *k)
{
    const fk_vi m0 = vi_set1(FK_PHILOX_M0), m1 = vi_set1(FK_PHILOX_M1);
#pragma GCC unroll 4
    for (int g = 0; g < G; g++) {
        vi_counters(block + (uint64_t)g * FK_W, &x[g][0], &x[g][1]);
        x[g][2] = vi_set1(k->s0);
        x[g][3] = vi_set1(k->s1);
    }
#pragma GCC unroll 10
    for (int r = 0; r < FK_PHILOX_ROUNDS; r++) {
        const fk_vi k0 = vi_set1(k->k0[r]), k1 = vi_set1(k->k1[r]);
#pragma GCC unroll 4
        for (int g = 0; g < G; g++) {
            fk_vi lo0, lo1;
            fk_vi hi0 = vi_mulhilo(x[g][0], m0, &lo0);
            fk_vi hi1 = vi_mulhilo(x[g][2], m1, &lo1);
            x[g][0] = vi_xor3(hi1, x[g][1], k0);
            x[g][1] = lo1;
            x[g][2] = vi_xor3(hi0, x[g][3], k1);
            x[g][3] = lo0;
        }
    }
}

/* ---- float32 ---------------------------------------------------------------------------- */

/* Vectors side by side: the functions named *_vn compute nb <= FK_NB vectors one step at a
 * time (each step for every vector before the next), so that their long dependency chains
 * overlap in the pipelines; per lane the same operations in the same order, so the same bits as
 * one vector at a time. 8 measured fastest on Zen 4 (AVX2 and AVX-512) for the truncated normal
 * (4: 5-10 % slower, 16: 25 % slower: registers spill). */
#ifndef FK_NB
#define FK_NB 8
#endif
/* A block of n vectors (n = 4G float32, 8G float64, G = 1 or FK_G) is cut into runs of
 * nb = min(n, FK_NB) vectors, an even number (the bfloat16 stores take pairs). */
#define FK_NB_FITS(n) ((n) <= FK_NB || (n) % FK_NB == 0)
_Static_assert(FK_NB % 2 == 0 && FK_NB_FITS(4) && FK_NB_FITS(4 * FK_G) && FK_NB_FITS(8) &&
                   FK_NB_FITS(8 * FK_G),
               "FK_NB must be even and divide every block of vectors it is smaller than");

/* log of nb vectors u[j] > 0 into r[j], as fk_log_f32. */
FK_INLINE void log_f32_vn(fk_vf *r, const fk_vf *u, int nb)
{
    fk_vf s[FK_NB], z[FK_NB], p[FK_NB], ef[FK_NB];
    const fk_vf one = vf_set1(1.0f);
#pragma GCC unroll 16
    for (int j = 0; j < nb; j++) {
        fk_vi i = vf_bits(u[j]);
        fk_vi e_biased = vi_srl(vi_add(i, vi_set1(0x3f800000u - FK_SQRTHALF_F32_BITS)), 23);
        fk_vi e = vi_sub(e_biased, vi_set1(127));
        fk_vf m = vf_from_bits(vi_sub(i, vi_sll(e, 23)));
        s[j] = vf_div(vf_sub(m, one), vf_add(m, one));
        ef[j] = vf_from_i32(e);
        z[j] = vf_mul(s[j], s[j]);
        p[j] = vf_fma(z[j], vf_set1(FK_L4F), vf_set1(FK_L3F));
    }
#pragma GCC unroll 16
    for (int j = 0; j < nb; j++)
        p[j] = vf_fma(z[j], p[j], vf_set1(FK_L2F));
#pragma GCC unroll 16
    for (int j = 0; j < nb; j++)
        p[j] = vf_fma(z[j], p[j], vf_set1(FK_L1F));
#pragma GCC unroll 16
    for (int j = 0; j < nb; j++)
        r[j] = vf_fma(ef[j], vf_set1(FK_LN2F), vf_fma(vf_mul(s[j], z[j]), p[j], vf_add(s[j], s[j])));
}

FK_INLINE fk_vf log_f32_v(fk_vf u)
{
    fk_vf r;
    log_f32_vn(&r, &u, 1);
    return r;
}

FK_INLINE void box_muller_f32_v(fk_vi wr, fk_vi wa, fk_vf *z_cos, fk_vf *z_sin)
{
    fk_vf u = vf_fma(vf_from_i32(vi_srl(wr, 1)), vf_set1(0x1p-31f), vf_set1(0x1p-32f));
    fk_vf r = vf_sqrt(vf_mul(vf_set1(-2.0f), log_f32_v(u)));
    fk_vf x = vf_mul(vf_from_i32(vi_or(vi_sra(vi_sll(wa, 2), 7), vi_set1(1))),
                     vf_set1(FK_PI4F_2M24));
    fk_vf x2 = vf_mul(x, x);
    fk_vf ps = vf_fma(x2, vf_fma(x2, vf_fma(x2, vf_set1(FK_S4F), vf_set1(FK_S3F)),
                                 vf_set1(FK_S2F)), vf_set1(FK_S1F));  /* fmt */
    fk_vf pc = vf_fma(x2, vf_fma(x2, vf_fma(x2, vf_fma(x2, vf_set1(FK_C5F), vf_set1(FK_C4F)),
                                            vf_set1(FK_C3F)), vf_set1(FK_C2F)), vf_set1(FK_C1F));
    fk_vf s = vf_fma(vf_mul(x, x2), ps, x);
    fk_vf c = vf_fma(x2, pc, vf_set1(1.0f));
    /* the quadrant, as fk_quadrant_f32 */
    const fk_vi sign = vi_set1(0x80000000u);
    fk_vi wq = vi_add(wa, vi_set1(0x20000000u));
    fk_vi swap = vi_and(wq, vi_set1(0x40000000u));
    fk_vf cc = vf_select_nonzero(swap, s, c);
    fk_vf ss = vf_select_nonzero(swap, c, s);
    fk_vi neg_cos = vi_and(vi_add(wq, vi_set1(0x40000000u)), sign);
    fk_vi neg_sin = vi_and(wq, sign);
    *z_cos = vf_mul(r, vf_from_bits(vi_xor(vf_bits(cc), neg_cos)));
    *z_sin = vf_mul(r, vf_from_bits(vi_xor(vf_bits(ss), neg_sin)));
}

typedef struct {
    fk_vf loc, scale, lo, hi;
    int normal;
} fk_affine_f32;

FK_INLINE fk_affine_f32 affine_f32(const fk_params *p, int normal)
{
    fk_affine_f32 a = {vf_set1((float)p->loc), vf_set1((float)p->scale), vf_set1((float)p->lo),
                       vf_set1((float)p->hi), normal};
    return a;
}

/* G groups: z[g][j] holds samples 4 (block + g W + lane) + j, before transposition. */
FK_INLINE void samples_f32(fk_vf z[][4], int G, uint64_t block, const fk_keys *k,
                               const fk_affine_f32 *a)
{
    fk_vi x[FK_G][4];
    philox_groups(x, G, block, k);
    if (a->normal) {
#pragma GCC unroll 4
        for (int g = 0; g < G; g++) {
            box_muller_f32_v(x[g][0], x[g][1], &z[g][0], &z[g][1]);
            box_muller_f32_v(x[g][2], x[g][3], &z[g][2], &z[g][3]);
        }
#pragma GCC unroll 8
        for (int g = 0; g < G; g++)
            for (int j = 0; j < 4; j++)
                z[g][j] = vf_fma(a->scale, z[g][j], a->loc);
        return;
    }
#pragma GCC unroll 8
    for (int g = 0; g < G; g++) {
        for (int j = 0; j < 4; j++) {
            fk_vf v = vf_mul(vf_from_i32(vi_or(vi_sra(x[g][j], 7), vi_set1(1))), vf_set1(0x1p-24f));
            fk_vf y = vf_fma(a->scale, v, a->loc);
            z[g][j] = vf_min(a->hi, vf_max(a->lo, y)); /* operand order as the scalar clamp */
        }
    }
}

/* Store G groups of float32 samples at out (4 W G floats). */
FK_INLINE void store_f32(float *out, fk_vf z[][4], int G)
{
#pragma GCC unroll 4
    for (int g = 0; g < G; g++) {
        fk_vi t[4] = {vf_bits(z[g][0]), vf_bits(z[g][1]), vf_bits(z[g][2]), vf_bits(z[g][3])};
        vi_transpose4(t);
        for (int j = 0; j < 4; j++)
            vi_storeu(out + (size_t)(g * 4 + j) * FK_W, t[j]);
    }
}

/* float32 bits -> bfloat16 in the low half of each lane, as fk_f32_to_bf16. The fix-up for a
 * NaN (quieted) only runs when a lane needs it. */
FK_INLINE fk_vi bf16_bits_v(fk_vi x)
{
    fk_vi rounded = vi_add(x, vi_add(vi_set1(0x7fffu), vi_and(vi_srl(x, 16), vi_set1(1))));
    fk_vi nan = vi_gt(vi_and(x, vi_set1(0x7fffffffu)), vi_set1(0x7f800000u));
    if (vi_any(nan))
        rounded = vi_select_nonzero(nan, vi_or(x, vi_set1(0x00400000u)), rounded); /* quiet */
    return vi_srl(rounded, 16);
}

/* Store G groups as float16 (brain = 0) or bfloat16 (brain = 1). */
FK_INLINE void store_half(uint16_t *out, fk_vf z[][4], int G, int brain)
{
#pragma GCC unroll 4
    for (int g = 0; g < G; g++) {
        fk_vi t[4] = {vf_bits(z[g][0]), vf_bits(z[g][1]), vf_bits(z[g][2]), vf_bits(z[g][3])};
        vi_transpose4(t);
        for (int j = 0; j < 4; j += 2) {
            uint16_t *p = out + (size_t)(g * 4 + j) * FK_W;
            if (brain) {
                vi_store_low16x2(p, bf16_bits_v(t[j]), bf16_bits_v(t[j + 1]));
            } else {
                vf_store_f16(p, vf_from_bits(t[j]));
                vf_store_f16(p + FK_W, vf_from_bits(t[j + 1]));
            }
        }
    }
}

/* ---- float64 ---------------------------------------------------------------------------- */

/* s + 1/2 for the signed 53-bit integer s in the low bits of u, exactly: flipping bit 52
 * maps s to s + 2^52 in [0, 2^53), which converts exactly. */
FK_INLINE fk_vd half_odd_f64_v(fk_vl u)
{
    fk_vd d = vd_from_u53(vl_xor(u, vl_set1(1ull << 52)));
    return vd_add(vd_sub(d, vd_set1(0x1p52)), vd_set1(0.5));
}

/* log of nb vectors u[j] > 0 into r[j], as fk_log_f64. */
FK_INLINE void log_f64_vn(fk_vd *r, const fk_vd *u, int nb)
{
    static const double c[9] = {FK_L9, FK_L8, FK_L7, FK_L6, FK_L5, FK_L4, FK_L3, FK_L2, FK_L1};
    fk_vd s[FK_NB], z[FK_NB], p[FK_NB], ed[FK_NB];
    const fk_vd one = vd_set1(1.0);
#pragma GCC unroll 16
    for (int j = 0; j < nb; j++) {
        fk_vl i = vd_bits(u[j]);
        fk_vl e_biased = vl_srl(vl_add(i, vl_set1(0x3ff0000000000000ull - FK_SQRTHALF_F64_BITS)), 52);
        fk_vl e = vl_sub(e_biased, vl_set1(1023));
        fk_vd m = vd_from_bits(vl_sub(i, vl_sll(e, 52)));
        s[j] = vd_div(vd_sub(m, one), vd_add(m, one));
        /* e exactly: e_biased < 2^11 in the mantissa of 2^52, less 2^52 + 1023 (one OR, one
         * subtraction: no conversion instruction, no multiply) */
        ed[j] = vd_sub(vd_from_bits(vl_or(e_biased, vl_set1(0x4330000000000000ull))), vd_set1(0x1p52 + 1023.0));
        z[j] = vd_mul(s[j], s[j]);
        p[j] = vd_fma(z[j], vd_set1(FK_L11), vd_set1(FK_L10));
    }
#pragma GCC unroll 9
    for (int k = 0; k < 9; k++) {
#pragma GCC unroll 16
        for (int j = 0; j < nb; j++)
            p[j] = vd_fma(z[j], p[j], vd_set1(c[k]));
    }
#pragma GCC unroll 16
    for (int j = 0; j < nb; j++) {
        fk_vd logm = vd_fma(vd_mul(s[j], z[j]), p[j], vd_add(s[j], s[j]));
        r[j] = vd_fma(ed[j], vd_set1(FK_LN2_HI), vd_fma(ed[j], vd_set1(FK_LN2_LO), logm));
    }
}

FK_INLINE fk_vd log_f64_v(fk_vd u)
{
    fk_vd r;
    log_f64_vn(&r, &u, 1);
    return r;
}

FK_INLINE void box_muller_f64_v(fk_vl xr, fk_vl xa, fk_vd *z_cos, fk_vd *z_sin)
{
    fk_vd u = vd_mul(vd_from_u53(vl_add(vl_srl(xr, 11), vl_set1(1))), vd_set1(0x1p-53));
    fk_vd r = vd_sqrt(vd_mul(vd_set1(-2.0), log_f64_v(u)));
    fk_vd x = vd_mul(half_odd_f64_v(vl_srl(vl_sll(xa, 2), 11)), vd_set1(FK_PI4_2M53 * 2));
    fk_vd x2 = vd_mul(x, x);
    fk_vd ps = vd_fma(x2, vd_set1(FK_S8), vd_set1(FK_S7));
    ps = vd_fma(x2, ps, vd_set1(FK_S6));
    ps = vd_fma(x2, ps, vd_set1(FK_S5));
    ps = vd_fma(x2, ps, vd_set1(FK_S4));
    ps = vd_fma(x2, ps, vd_set1(FK_S3));
    ps = vd_fma(x2, ps, vd_set1(FK_S2));
    ps = vd_fma(x2, ps, vd_set1(FK_S1));
    fk_vd pc = vd_fma(x2, vd_set1(FK_C8), vd_set1(FK_C7));
    pc = vd_fma(x2, pc, vd_set1(FK_C6));
    pc = vd_fma(x2, pc, vd_set1(FK_C5));
    pc = vd_fma(x2, pc, vd_set1(FK_C4));
    pc = vd_fma(x2, pc, vd_set1(FK_C3));
    pc = vd_fma(x2, pc, vd_set1(FK_C2));
    pc = vd_fma(x2, pc, vd_set1(FK_C1));
    fk_vd s = vd_fma(vd_mul(x, x2), ps, x);
    fk_vd c = vd_fma(x2, pc, vd_set1(1.0));
    const fk_vl sign = vl_set1(0x8000000000000000ull);
    fk_vl wq = vl_add(xa, vl_set1(0x2000000000000000ull));
    fk_vl swap = vl_and(wq, vl_set1(0x4000000000000000ull));
    fk_vd cc = vd_select_nonzero(swap, s, c);
    fk_vd ss = vd_select_nonzero(swap, c, s);
    fk_vl neg_cos = vl_and(vl_add(wq, vl_set1(0x4000000000000000ull)), sign);
    fk_vl neg_sin = vl_and(wq, sign);
    *z_cos = vd_mul(r, vd_from_bits(vl_xor(vd_bits(cc), neg_cos)));
    *z_sin = vd_mul(r, vd_from_bits(vl_xor(vd_bits(ss), neg_sin)));
}

typedef struct {
    fk_vd loc, scale, lo, hi;
    int normal;
} fk_affine_f64;

FK_INLINE fk_affine_f64 affine_f64(const fk_params *p, int normal)
{
    fk_affine_f64 a = {vd_set1(p->loc), vd_set1(p->scale), vd_set1(p->lo), vd_set1(p->hi), normal};
    return a;
}

/* Uniform in (-1, 1): (2s + 1) 2^-53 = (s + 1/2) 2^-52, s the top 53 bits read as signed. */
FK_INLINE fk_vd symmetric_f64_v(fk_vl x)
{
    return vd_mul(half_odd_f64_v(vl_srl(x, 11)), vd_set1(0x1p-52));
}

/* G groups of 2W float64 samples at out. */
FK_INLINE void gen_f64(double *out, uint64_t block, int G, const fk_keys *k,
                           const fk_affine_f64 *a)
{
    fk_vi x[FK_G][4];
    philox_groups(x, G, block, k);
#pragma GCC unroll 4
    for (int g = 0; g < G; g++) {
        vi_transpose4(x[g]); /* memory order: 64-bit lanes are the samples' words */
        fk_vl w[4] = {vl_from_vi(x[g][0]), vl_from_vi(x[g][1]), vl_from_vi(x[g][2]),
                      vl_from_vi(x[g][3])};
        fk_vd z[4];
        if (a->normal) {
            for (int h = 0; h < 4; h += 2) {
                /* even 64-bit lanes are radius words, odd ones angle words */
                fk_vd zc, zs;
                box_muller_f64_v(vl_unpacklo(w[h], w[h + 1]), vl_unpackhi(w[h], w[h + 1]), &zc,
                                 &zs);
                z[h] = vd_unpacklo(zc, zs);
                z[h + 1] = vd_unpackhi(zc, zs);
            }
            for (int j = 0; j < 4; j++)
                z[j] = vd_fma(a->scale, z[j], a->loc);
        } else {
            for (int j = 0; j < 4; j++) {
                fk_vd y = vd_fma(a->scale, symmetric_f64_v(w[j]), a->loc);
                z[j] = vd_min(a->hi, vd_max(a->lo, y));
            }
        }
        for (int j = 0; j < 4; j++)
            vd_storeu(out + (size_t)(g * 4 + j) * (FK_W / 2), z[j]);
    }
}

/* ---- runs ------------------------------------------------------------------------------- */

/* Generate G groups starting at `block` into out. */
typedef void (*fk_gen_fn)(void *out, uint64_t block, int G, const void *ctx);

/* n samples from pos: whole G-groups and single groups straight to out; a partial first or
 * last group through a small buffer. */
FK_INLINE void simd_run(char *out, size_t n, size_t itemsize, unsigned per_block,
                            const fk_position *pos, fk_gen_fn gen, const void *ctx)
{
    const size_t group = (size_t)per_block * FK_W;
    uint64_t block = pos->block;
    size_t skip = pos->phase;
    double tmp[4 * FK_W]; /* one group of any dtype: at most 4W samples of 8 bytes */
    while (n > 0) {
        if (skip == 0 && n >= FK_G * group) {
            gen(out, block, FK_G, ctx);
            out += FK_G * group * itemsize;
            n -= FK_G * group;
            block += (uint64_t)FK_G * FK_W;
        } else if (skip == 0 && n >= group) {
            gen(out, block, 1, ctx);
            out += group * itemsize;
            n -= group;
            block += FK_W;
        } else {
            gen(tmp, block, 1, ctx);
            size_t m = group - skip < n ? group - skip : n;
            memcpy(out, (const char *)tmp + skip * itemsize, m * itemsize);
            out += m * itemsize;
            n -= m;
            block += FK_W;
            skip = 0;
        }
    }
}

typedef struct {
    fk_keys k;
    fk_affine_f32 a;
} fk_ctx_f32;

typedef struct {
    fk_keys k;
    fk_affine_f64 a;
} fk_ctx_f64;

FK_INLINE void gen_u32_any(void *out, uint64_t block, int G, const void *ctx)
{
    fk_vi x[FK_G][4];
    philox_groups(x, G, block, ctx);
    for (int g = 0; g < G; g++) {
        vi_transpose4(x[g]);
        for (int j = 0; j < 4; j++)
            vi_storeu((uint32_t *)out + (size_t)(g * 4 + j) * FK_W, x[g][j]);
    }
}

FK_INLINE void gen_f32_any(void *out, uint64_t block, int G, const void *ctx)
{
    const fk_ctx_f32 *c = ctx;
    fk_vf z[FK_G][4];
    samples_f32(z, G, block, &c->k, &c->a);
    store_f32(out, z, G);
}

FK_INLINE void gen_f16_any(void *out, uint64_t block, int G, const void *ctx)
{
    const fk_ctx_f32 *c = ctx;
    fk_vf z[FK_G][4];
    samples_f32(z, G, block, &c->k, &c->a);
    store_half(out, z, G, 0);
}

FK_INLINE void gen_bf16_any(void *out, uint64_t block, int G, const void *ctx)
{
    const fk_ctx_f32 *c = ctx;
    fk_vf z[FK_G][4];
    samples_f32(z, G, block, &c->k, &c->a);
    store_half(out, z, G, 1);
}

FK_INLINE void gen_f64_any(void *out, uint64_t block, int G, const void *ctx)
{
    const fk_ctx_f64 *c = ctx;
    gen_f64(out, block, G, &c->k, &c->a);
}

FK_INLINE void run_raw(void *out, size_t n, const fk_position *pos)
{
    fk_keys k;
    keys_init(&k, pos);
    simd_run(out, n, 4, 4, pos, gen_u32_any, &k);
}

/* half: 0 float32, 1 float16, 2 bfloat16 */
FK_INLINE void run_f32(void *out, size_t n, const fk_position *pos, const fk_params *p,
                           int normal, int half)
{
    fk_ctx_f32 c;
    keys_init(&c.k, pos);
    c.a = affine_f32(p, normal);
    if (half == 2)
        simd_run(out, n, 2, 4, pos, gen_bf16_any, &c);
    else if (half == 1)
        simd_run(out, n, 2, 4, pos, gen_f16_any, &c);
    else
        simd_run(out, n, 4, 4, pos, gen_f32_any, &c);
}

FK_INLINE void run_f64(void *out, size_t n, const fk_position *pos, const fk_params *p,
                           int normal)
{
    fk_ctx_f64 c;
    keys_init(&c.k, pos);
    c.a = affine_f64(p, normal);
    simd_run(out, n, 8, 2, pos, gen_f64_any, &c);
}

/* ---- truncated normal ------------------------------------------------------------------- */

FK_INLINE fk_vf horner10f_v(const float c[10], fk_vf x)
{
    fk_vf v = vf_set1(c[0]);
#pragma GCC unroll 10
    for (int i = 1; i < 10; i++)
        v = vf_fma(v, x, vf_set1(c[i]));
    return v;
}

/* fk_trunc_y_f32 lane by lane in two steps: the branch-free central part of a block of
 * vectors side by side (trunc_central_f32_vn, below), then the tail polynomials only when a
 * lane needs them. */
FK_INLINE fk_vf trunc_tail_f32_v(fk_vf g, fk_vf lw)
{
    fk_vi tail = vf_lt(lw, vf_set1(FK_TC_SPLIT_F32));
    if (!vi_any(tail))
        return g;
    fk_vf s = vf_sqrt(vf_sub(vf_set1(0.0f), lw));
    fk_vf gt = horner10f_v(fk_tt_f32, vf_sub(s, vf_set1(3.0f)));
    fk_vi far = vf_lt(lw, vf_set1(FK_TF_SPLIT_F32));
    if (vi_any(far))
        gt = vf_select_nonzero(far, horner10f_v(fk_tf_f32, vf_sub(s, vf_set1(6.5f))), gt);
    return vf_select_nonzero(tail, gt, g);
}

FK_INLINE fk_vd horner8_v(const double c[8], fk_vd x)
{
    fk_vd v = vd_set1(c[7]);
#pragma GCC unroll 8
    for (int i = 6; i >= 0; i--)
        v = vd_fma(v, x, vd_set1(c[i]));
    return v;
}

/* fk_trunc_y_f64 lane by lane in two steps as for float32: Giles' central polynomial for a
 * block of vectors (trunc_central_f64_vn), then AS241 (one division) only when a lane needs it;
 * t(), the lanes' t, is computed only then. */
#define FK_TRUNC_TAIL_F64(y, lw, t)                                                             \
    do {                                                                                        \
        fk_vl tail_ = vd_lt((lw), vd_set1(FK_GILES_SPLIT));                                     \
        if (vl_any(tail_))                                                                      \
            (y) = vd_select_nonzero(tail_, trunc_as241_f64_v(t), (y));                         \
    } while (0)

FK_INLINE fk_vd trunc_as241_f64_v(fk_vd t)
{
    fk_vd r = vd_sqrt(vd_sub(vd_set1(0.0), log_f64_v(t)));
    fk_vl far = vd_lt(vd_set1(FK_AS241_SPLIT2), r);
    fk_vd rm = vd_sub(r, vd_set1(1.6)), rf = vd_sub(r, vd_set1(FK_AS241_SPLIT2));
    fk_vd num = horner8_v(fk_as241_c, rm), den = horner8_v(fk_as241_d, rm);
    if (vl_any(far)) {
        num = vd_select_nonzero(far, horner8_v(fk_as241_e, rf), num);
        den = vd_select_nonzero(far, horner8_v(fk_as241_f, rf), den);
    }
    return vd_div(num, den);
}

typedef struct {
    fk_keys k;
    fk_trunc t;     /* float64 halves */
    fk_trunc32 f;   /* float32 halves and bounds */
    double lo, hi;  /* float64 bounds */
    int dtype;
} fk_ctx_trunc;

/* t of the words x (memory order) and the signed std of each lane's half. */
FK_INLINE fk_vf trunc_t_f32_v(fk_vi x, const fk_trunc32 *f, fk_vf *sstd)
{
    fk_vi h = vi_and(x, vi_set1(1));
    fk_vf v = vf_fma(vf_from_i32(vi_srl(x, 1)), vf_set1(0x1p-31f), vf_set1(0x1p-32f));
    *sstd = vf_select_nonzero(h, vf_set1(f->sstd[1]), vf_set1(f->sstd[0]));
    return vf_fma(vf_set1(f->span), v, vf_select_nonzero(h, vf_set1(f->base[1]), vf_set1(f->base[0])));
}

/* t of the words w (one per int64 lane); the lane's half is bit 0 (trunc_sstd_f64_v). */
FK_INLINE fk_vd trunc_t_f64_v(fk_vl w, const fk_trunc *d)
{
    /* v = (w | 1) 2^-32 exactly: w | 1 in the low mantissa bits of 2^20 (whose ulp is 2^-32),
     * less 2^20 */
    fk_vd v = vd_sub(vd_from_bits(vl_or(w, vl_set1(0x4130000000000001ull))), vd_set1(0x1p20));
    return vd_fma(vd_set1(d->span), v, vd_select_odd(w, vd_set1(d->base[1]), vd_set1(d->base[0])));
}

FK_INLINE fk_vd trunc_sstd_f64_v(fk_vl w, const fk_trunc *d)
{
    return vd_select_odd(w, vd_set1(d->sstd[1]), vd_set1(d->sstd[0]));
}

/* Vector k of the float64 words of x (memory order, W words per vector of x). */
FK_INLINE fk_vl trunc_words_f64(const fk_vi *x, int k)
{
    return (k & 1) ? vl_widen_hi(x[k / 2]) : vl_widen_lo(x[k / 2]);
}

/* The central part of fk_trunc_y_f32 for nb <= FK_NB vectors side by side:
 * lw[j] = log(4t(1 - t)), g[j] = the central polynomial. */
FK_INLINE void trunc_central_f32_vn(fk_vf *g, fk_vf *lw, const fk_vf *t, int nb)
{
    fk_vf z[FK_NB];
#pragma GCC unroll 16
    for (int j = 0; j < nb; j++)
        z[j] = vf_mul(vf_set1(4.0f), vf_fma(vf_sub(vf_set1(0.0f), t[j]), t[j], t[j])); /* -t exact */
    log_f32_vn(lw, z, nb);
#pragma GCC unroll 16
    for (int j = 0; j < nb; j++) {
        z[j] = vf_sub(vf_set1(-2.5f), lw[j]);
        g[j] = vf_set1(fk_tc_f32[0]);
    }
#pragma GCC unroll 10
    for (int c = 1; c < 10; c++) {
#pragma GCC unroll 16
        for (int j = 0; j < nb; j++)
            g[j] = vf_fma(g[j], z[j], vf_set1(fk_tc_f32[c]));
    }
}

/* 4G vectors of samples at out (dtype's), from the words x (memory order), as
 * fk_trunc_normal_f32, in blocks of FK_NB vectors stored as soon as they are done. */
FK_INLINE void trunc_f32_vectors(void *out, const fk_vi *x, int n, const fk_ctx_trunc *c)
{
    const fk_trunc32 *f = &c->f;
    const int nb = n < FK_NB ? n : FK_NB; /* n is a multiple of nb */
    for (int b = 0; b < n; b += nb) {
        fk_vf t[FK_NB], lw[FK_NB], sstd[FK_NB], g[FK_NB];
#pragma GCC unroll 16
        for (int j = 0; j < nb; j++)
            t[j] = trunc_t_f32_v(x[b + j], f, &sstd[j]);
        trunc_central_f32_vn(g, lw, t, nb);
        fk_vf least = lw[0]; /* one test for the block: does any lane need a tail polynomial? */
#pragma GCC unroll 16
        for (int j = 1; j < nb; j++)
            least = vf_min(least, lw[j]);
        const int tails = vi_any(vf_lt(least, vf_set1(FK_TC_SPLIT_F32)));
#pragma GCC unroll 16
        for (int j = 0; j < nb; j++) {
            fk_vf y = vf_mul(vf_fma(vf_set1(-2.0f), t[j], vf_set1(1.0f)), tails ? trunc_tail_f32_v(g[j], lw[j]) : g[j]);
            g[j] = vf_min(vf_set1(f->hi), vf_max(vf_set1(f->lo), vf_fma(sstd[j], y, vf_set1(f->mean))));
        }
#pragma GCC unroll 16
        for (int j = 0; j < nb; j += 2) { /* nb is even */
            size_t at = (size_t)(b + j) * FK_W;
            if (c->dtype == FK_DTYPE_FLOAT32) {
                vi_storeu((float *)out + at, vf_bits(g[j]));
                vi_storeu((float *)out + at + FK_W, vf_bits(g[j + 1]));
            } else if (c->dtype == FK_DTYPE_FLOAT16) {
                vf_store_f16((uint16_t *)out + at, g[j]);
                vf_store_f16((uint16_t *)out + at + FK_W, g[j + 1]);
            } else {
                vi_store_low16x2((uint16_t *)out + at, bf16_bits_v(vf_bits(g[j])), bf16_bits_v(vf_bits(g[j + 1])));
            }
        }
    }
}

/* The central part of fk_trunc_y_f64 for the nb <= FK_NB vectors of words w[j] side by side:
 * lw[j] = log(4t(1 - t)), y[j] = Giles' central value. Only (1 - 2t) sqrt(2), not t, stays
 * live across the log and the polynomial (fewer registers spilled). */
FK_INLINE void trunc_central_f64_vn(fk_vd *y, fk_vd *lw, const fk_vl *w, int nb, const fk_trunc *d)
{
    fk_vd x[FK_NB], a[FK_NB];
#pragma GCC unroll 16
    for (int j = 0; j < nb; j++) {
        fk_vd t = trunc_t_f64_v(w[j], d);
        x[j] = vd_mul(vd_set1(4.0), vd_fma(vd_neg(t), t, t));
        a[j] = vd_mul(vd_fma(vd_set1(-2.0), t, vd_set1(1.0)), vd_set1(FK_SQRT2));
    }
    log_f64_vn(lw, x, nb);
#pragma GCC unroll 16
    for (int j = 0; j < nb; j++) {
        x[j] = vd_sub(vd_set1(-3.125), lw[j]);
        y[j] = vd_set1(fk_giles_f64[0]);
    }
#pragma GCC unroll 23
    for (int c = 1; c < 23; c++) {
#pragma GCC unroll 16
        for (int j = 0; j < nb; j++)
            y[j] = vd_fma(y[j], x[j], vd_set1(fk_giles_f64[c]));
    }
#pragma GCC unroll 16
    for (int j = 0; j < nb; j++)
        y[j] = vd_mul(a[j], y[j]);
}

/* n = 8G vectors of W/2 float64 samples at out, from the words x (memory order, W per
 * vector), in blocks of FK_NB vectors stored as soon as they are done. */
FK_INLINE void trunc_f64_vectors(double *out, const fk_vi *x, int n, const fk_ctx_trunc *c)
{
    const int nb = n < FK_NB ? n : FK_NB; /* n is a multiple of nb */
    for (int b = 0; b < n; b += nb) {
        fk_vl w[FK_NB];
        fk_vd lw[FK_NB], y[FK_NB];
#pragma GCC unroll 16
        for (int j = 0; j < nb; j++)
            w[j] = trunc_words_f64(x, b + j);
        trunc_central_f64_vn(y, lw, w, nb, &c->t);
        /* the words widened again rather than w[j] kept live: measured faster on AVX2 */
#pragma GCC unroll 16
        for (int j = 0; j < nb; j++) {
            FK_TRUNC_TAIL_F64(y[j], lw[j], trunc_t_f64_v(trunc_words_f64(x, b + j), &c->t));
            fk_vd z = vd_fma(trunc_sstd_f64_v(trunc_words_f64(x, b + j), &c->t), y[j], vd_set1(c->t.mean));
            vd_storeu(out + (size_t)(b + j) * (FK_W / 2), vd_min(vd_set1(c->hi), vd_max(vd_set1(c->lo), z)));
        }
    }
}

/* G groups: 4WG samples, one word each. */
FK_INLINE void gen_trunc_any(void *out, uint64_t block, int G, const void *ctx_)
{
    const fk_ctx_trunc *c = ctx_;
    fk_vi x[FK_G][4];
    philox_groups(x, G, block, &c->k);
    for (int g = 0; g < G; g++)
        vi_transpose4(x[g]); /* memory order: word n is sample n */
    if (c->dtype == FK_DTYPE_FLOAT64) {
        trunc_f64_vectors((double *)out, &x[0][0], 8 * G, c);
        return;
    }
    trunc_f32_vectors(out, &x[0][0], 4 * G, c);
}

/* float64 samples per pass of a narrower dtype in float64 arithmetic: 8 KiB on the stack */
#define FK_TRUNC_SCRATCH 1024

FK_INLINE void run_trunc_simd(void *out, size_t n, const fk_position *pos, const fk_params *p,
                              fk_dtype dtype)
{
    fk_ctx_trunc c;
    keys_init(&c.k, pos);
    c.t = fk_trunc_setup(p);
    c.f = fk_trunc32_setup(p);
    c.lo = p->lo;
    c.hi = p->hi;
    c.dtype = dtype;
    size_t itemsize = dtype == FK_DTYPE_FLOAT64 ? 8 : dtype == FK_DTYPE_FLOAT32 ? 4 : 2;
    if (dtype == FK_DTYPE_FLOAT64 || !(p->form & FK_FORM_F64)) {
        simd_run(out, n, itemsize, 4, pos, gen_trunc_any, &c);
        return;
    }
    /* float64 arithmetic for a narrower dtype: float64 samples, then fk_store_narrow */
    double tmp[FK_TRUNC_SCRATCH];
    fk_position at = *pos;
    c.dtype = FK_DTYPE_FLOAT64;
    while (n > 0) {
        size_t m = n < FK_TRUNC_SCRATCH ? n : FK_TRUNC_SCRATCH;
        simd_run((char *)tmp, m, 8, 4, &at, gen_trunc_any, &c);
        for (size_t i = 0; i < m; i++)
            fk_store_narrow(out, i, tmp[i], dtype);
        out = (char *)out + m * itemsize;
        n -= m;
        at.block += (at.phase + m) / 4;
        at.phase = (uint32_t)((at.phase + m) % 4);
    }
}

/* The table entries of one instruction set; PREFIX names its kernels. */
#define FK_SIMD_TABLE(name)                                                                      \
    static void name##_raw(void *o, size_t n, const fk_position *s, const fk_params *p)          \
    {                                                                                            \
        (void)p;                                                                                 \
        run_raw(o, n, s);                                                                        \
    }                                                                                            \
    static void name##_uf16(void *o, size_t n, const fk_position *s, const fk_params *p) { run_f32(o, n, s, p, 0, 1); } \
    static void name##_uf32(void *o, size_t n, const fk_position *s, const fk_params *p) { run_f32(o, n, s, p, 0, 0); } \
    static void name##_uf64(void *o, size_t n, const fk_position *s, const fk_params *p) { run_f64(o, n, s, p, 0); }    \
    static void name##_nf16(void *o, size_t n, const fk_position *s, const fk_params *p) { run_f32(o, n, s, p, 1, 1); } \
    static void name##_nf32(void *o, size_t n, const fk_position *s, const fk_params *p) { run_f32(o, n, s, p, 1, 0); } \
    static void name##_nf64(void *o, size_t n, const fk_position *s, const fk_params *p) { run_f64(o, n, s, p, 1); }    \
    static void name##_ubf16(void *o, size_t n, const fk_position *s, const fk_params *p) { run_f32(o, n, s, p, 0, 2); } \
    static void name##_nbf16(void *o, size_t n, const fk_position *s, const fk_params *p) { run_f32(o, n, s, p, 1, 2); } \
    static void name##_tf16(void *o, size_t n, const fk_position *s, const fk_params *p) { run_trunc_simd(o, n, s, p, FK_DTYPE_FLOAT16); } \
    static void name##_tf32(void *o, size_t n, const fk_position *s, const fk_params *p) { run_trunc_simd(o, n, s, p, FK_DTYPE_FLOAT32); } \
    static void name##_tf64(void *o, size_t n, const fk_position *s, const fk_params *p) { run_trunc_simd(o, n, s, p, FK_DTYPE_FLOAT64); } \
    static void name##_tbf16(void *o, size_t n, const fk_position *s, const fk_params *p) { run_trunc_simd(o, n, s, p, FK_DTYPE_BFLOAT16); } \
    const fk_kernel_table fk_kernels_##name = {                                                  \
        name##_raw,  name##_uf16, name##_uf32, name##_uf64, name##_ubf16,                       \
        name##_nf16, name##_nf32, name##_nf64, name##_nbf16,                                    \
        name##_tf16, name##_tf32, name##_tf64, name##_tbf16,                                    \
    }

#endif /* FK_KERNEL_SIMD_H */
