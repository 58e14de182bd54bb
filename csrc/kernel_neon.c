/*
 * kernel_neon.c: AArch64 Advanced SIMD (NEON) kernels, 4 blocks per vector.
 * NEON is part of every AArch64 CPU, so this unit needs no target flags and fill.c no
 * run-time detection. AArch64 SIMD arithmetic is IEEE (no flush to zero unless FPCR.FZ is
 * set, and Linux starts with it clear); conversions round to nearest even.
 */
#include "kernels.h"

#if FK_ARM64

#include <arm_neon.h>

#define FK_W 4
typedef uint32x4_t fk_vi;
typedef float32x4_t fk_vf;
typedef uint64x2_t fk_vl;
typedef float64x2_t fk_vd;

#define vi_set1(x) vdupq_n_u32((uint32_t)(x))
#define vi_add vaddq_u32
#define vi_sub vsubq_u32
#define vi_and vandq_u32
#define vi_xor veorq_u32
#define vi_or vorrq_u32
#define vi_srl(a, n) vshrq_n_u32((a), (n))
#define vi_sll(a, n) vshlq_n_u32((a), (n))
#define vi_sra(a, n) vreinterpretq_u32_s32(vshrq_n_s32(vreinterpretq_s32_u32(a), (n)))
#define vi_storeu(p, a) vst1q_u32((uint32_t *)(void *)(p), (a))
#define vi_xor3(a, b, c) veorq_u32(veorq_u32((a), (b)), (c))
/* signed compare, as _mm256_cmpgt_epi32 */
#define vi_gt(a, b) vcgtq_s32(vreinterpretq_s32_u32(a), vreinterpretq_s32_u32(b))
#define vf_set1 vdupq_n_f32
#define vf_add vaddq_f32
#define vf_sub vsubq_f32
#define vf_mul vmulq_f32
#define vf_div vdivq_f32
#define vf_sqrt vsqrtq_f32
#define vf_fma(a, b, c) vfmaq_f32((c), (a), (b)) /* a * b + c, one rounding */
#define vf_from_i32(a) vcvtq_f32_s32(vreinterpretq_s32_u32(a))
#define vf_bits vreinterpretq_u32_f32
#define vf_from_bits vreinterpretq_f32_u32
#define vl_set1(x) vdupq_n_u64((uint64_t)(x))
#define vl_add vaddq_u64
#define vl_sub vsubq_u64
#define vl_and vandq_u64
#define vl_xor veorq_u64
#define vl_or vorrq_u64
#define vl_srl(a, n) vshrq_n_u64((a), (n))
#define vl_sll(a, n) vshlq_n_u64((a), (n))
#define vl_from_vi vreinterpretq_u64_u32
#define vl_unpacklo vzip1q_u64
#define vl_unpackhi vzip2q_u64
#define vl_widen_lo(a) vmovl_u32(vget_low_u32(a))
#define vl_widen_hi(a) vmovl_high_u32(a)
#define vd_set1 vdupq_n_f64
#define vd_add vaddq_f64
#define vd_sub vsubq_f64
#define vd_mul vmulq_f64
#define vd_div vdivq_f64
#define vd_sqrt vsqrtq_f64
#define vd_fma(a, b, c) vfmaq_f64((c), (a), (b))
#define vd_bits vreinterpretq_u64_f64
#define vd_from_bits vreinterpretq_f64_u64
#define vd_unpacklo vzip1q_f64
#define vd_unpackhi vzip2q_f64
#define vd_storeu(p, a) vst1q_f64((p), (a))
#define vd_neg vnegq_f64 /* flips the sign bit only */
#define vd_abs vabsq_f64 /* clears it */
#define vd_lt vcltq_f64
#define vd_le vcleq_f64
#define vf_lt vcltq_f32
#define vi_any(m) (vmaxvq_u32(m) != 0)
#define vl_any(m) (vmaxvq_u32(vreinterpretq_u32_u64(m)) != 0)
/* exact below 2^53 */
#define vd_from_u53 vcvtq_f64_u64
/* two double vectors -> one float vector, lanes in order; each rounded to nearest */
#define vf_from_vd2(lo, hi) vcvt_high_f32_f64(vcvt_f32_f64(lo), (hi))

/* min and max as x86's MINPS/MAXPS, which the scalar clamp matches: the second operand
 * unless the first compares less (greater), so NaN and -0.0 behave as there (FMIN/FMAX
 * would differ). */
static inline fk_vf vf_min(fk_vf a, fk_vf b) { return vbslq_f32(vcltq_f32(a, b), a, b); }
static inline fk_vf vf_max(fk_vf a, fk_vf b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
static inline fk_vd vd_min(fk_vd a, fk_vd b) { return vbslq_f64(vcltq_f64(a, b), a, b); }
static inline fk_vd vd_max(fk_vd a, fk_vd b) { return vbslq_f64(vcgtq_f64(a, b), a, b); }

static inline fk_vi vi_mulhilo(fk_vi a, fk_vi m, fk_vi *lo)
{
    uint32x4_t p01 = vreinterpretq_u32_u64(vmull_u32(vget_low_u32(a), vget_low_u32(m)));
    uint32x4_t p23 = vreinterpretq_u32_u64(vmull_high_u32(a, m));
    *lo = vuzp1q_u32(p01, p23); /* the low word of each product */
    return vuzp2q_u32(p01, p23);
}

static inline void vi_counters(uint64_t block, fk_vi *lo, fk_vi *hi)
{
    static const uint32_t lanes[4] = {0, 1, 2, 3};
    const fk_vi lane = vld1q_u32(lanes);
    *lo = vaddq_u32(vdupq_n_u32((uint32_t)block), lane);
    fk_vi carry = vcltq_u32(*lo, lane);                        /* wrapped lanes are all ones */
    *hi = vsubq_u32(vdupq_n_u32((uint32_t)(block >> 32)), carry); /* so - (-1) = + 1 */
}

/* x[j] = word j of blocks 0..3 -> x[k] = the 4 words of block k */
static inline void vi_transpose4(fk_vi x[4])
{
    uint64x2_t t0 = vreinterpretq_u64_u32(vtrn1q_u32(x[0], x[1]));
    uint64x2_t t1 = vreinterpretq_u64_u32(vtrn2q_u32(x[0], x[1]));
    uint64x2_t t2 = vreinterpretq_u64_u32(vtrn1q_u32(x[2], x[3]));
    uint64x2_t t3 = vreinterpretq_u64_u32(vtrn2q_u32(x[2], x[3]));
    x[0] = vreinterpretq_u32_u64(vtrn1q_u64(t0, t2));
    x[1] = vreinterpretq_u32_u64(vtrn1q_u64(t1, t3));
    x[2] = vreinterpretq_u32_u64(vtrn2q_u64(t0, t2));
    x[3] = vreinterpretq_u32_u64(vtrn2q_u64(t1, t3));
}

static inline fk_vi vi_select_nonzero(fk_vi cond, fk_vi if_nonzero, fk_vi if_zero)
{
    return vbslq_u32(vtstq_u32(cond, cond), if_nonzero, if_zero);
}

static inline fk_vf vf_select_nonzero(fk_vi cond, fk_vf if_nonzero, fk_vf if_zero)
{
    return vbslq_f32(vtstq_u32(cond, cond), if_nonzero, if_zero);
}

static inline fk_vd vd_select_nonzero(fk_vl cond, fk_vd if_nonzero, fk_vd if_zero)
{
    return vbslq_f64(vtstq_u64(cond, cond), if_nonzero, if_zero);
}

static inline fk_vd vd_select_odd(fk_vl a, fk_vd if_odd, fk_vd if_even)
{
    return vbslq_f64(vtstq_u64(a, vdupq_n_u64(1)), if_odd, if_even);
}

/* The low 16 bits of each lane (all < 2^16 here), packed. */
static inline void vi_store_low16x2(uint16_t *p, fk_vi a, fk_vi b)
{
    vst1q_u16(p, vcombine_u16(vmovn_u32(a), vmovn_u32(b)));
}

/* FCVTN: float32 -> binary16, round to nearest even (FPCR.RMode), as F16C. */
static inline void vf_store_f16(uint16_t *p, fk_vf a)
{
    vst1_u16(p, vreinterpret_u16_f16(vcvt_f16_f32(a)));
}

#include "kernel_simd.h"

FK_SIMD_TABLE(neon);

#endif /* FK_ARM64 */
