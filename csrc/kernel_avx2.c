/*
 * kernel_avx2.c: AVX2 + FMA + F16C kernels, 8 blocks per vector.
 * Only this unit is built for AVX2, through the target pragma below; fill.c calls it only
 * after CPUID and XGETBV say the CPU and the OS support it.
 */
#include "kernels.h"

#if FK_X86

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,f16c")
#endif

#include <immintrin.h>

#define FK_W 8
typedef __m256i fk_vi;
typedef __m256 fk_vf;
typedef __m256i fk_vl;
typedef __m256d fk_vd;

#define vi_set1(x) _mm256_set1_epi32((int)(uint32_t)(x))
#define vi_add _mm256_add_epi32
#define vi_sub _mm256_sub_epi32
#define vi_and _mm256_and_si256
#define vi_xor _mm256_xor_si256
#define vi_or _mm256_or_si256
#define vi_srl(a, n) _mm256_srli_epi32((a), (n))
#define vi_sll(a, n) _mm256_slli_epi32((a), (n))
#define vi_sra(a, n) _mm256_srai_epi32((a), (n))
#define vi_storeu(p, a) _mm256_storeu_si256((__m256i *)(p), (a))
#define vf_set1 _mm256_set1_ps
#define vf_add _mm256_add_ps
#define vf_sub _mm256_sub_ps
#define vf_mul _mm256_mul_ps
#define vf_div _mm256_div_ps
#define vf_sqrt _mm256_sqrt_ps
#define vf_fma _mm256_fmadd_ps
#define vf_min _mm256_min_ps
#define vf_max _mm256_max_ps
#define vf_from_i32 _mm256_cvtepi32_ps
#define vf_bits _mm256_castps_si256
#define vf_from_bits _mm256_castsi256_ps
#define vl_set1(x) _mm256_set1_epi64x((long long)(x))
#define vl_add _mm256_add_epi64
#define vl_sub _mm256_sub_epi64
#define vl_and _mm256_and_si256
#define vl_xor _mm256_xor_si256
#define vl_or _mm256_or_si256
#define vl_srl(a, n) _mm256_srli_epi64((a), (n))
#define vl_sll(a, n) _mm256_slli_epi64((a), (n))
#define vl_from_vi(a) (a)
#define vl_unpacklo _mm256_unpacklo_epi64
#define vl_unpackhi _mm256_unpackhi_epi64
#define vd_set1 _mm256_set1_pd
#define vd_add _mm256_add_pd
#define vd_sub _mm256_sub_pd
#define vd_mul _mm256_mul_pd
#define vd_div _mm256_div_pd
#define vd_sqrt _mm256_sqrt_pd
#define vd_fma _mm256_fmadd_pd
#define vd_min _mm256_min_pd
#define vd_max _mm256_max_pd
#define vd_bits _mm256_castpd_si256
#define vd_from_bits _mm256_castsi256_pd
#define vd_unpacklo _mm256_unpacklo_pd
#define vd_unpackhi _mm256_unpackhi_pd
#define vd_storeu _mm256_storeu_pd
#define vd_neg(a) _mm256_xor_pd((a), _mm256_set1_pd(-0.0))
#define vd_abs(a) _mm256_andnot_pd(_mm256_set1_pd(-0.0), (a))
#define vd_lt(a, b) _mm256_castpd_si256(_mm256_cmp_pd((a), (b), _CMP_LT_OQ))
#define vd_le(a, b) _mm256_castpd_si256(_mm256_cmp_pd((a), (b), _CMP_LE_OQ))
#define vf_lt(a, b) _mm256_castps_si256(_mm256_cmp_ps((a), (b), _CMP_LT_OQ))
#define vi_any(m) (!_mm256_testz_si256((m), (m)))
#define vl_any(m) (!_mm256_testz_si256((m), (m)))
#define vl_widen_lo(a) _mm256_cvtepu32_epi64(_mm256_castsi256_si128(a))
#define vl_widen_hi(a) _mm256_cvtepu32_epi64(_mm256_extracti128_si256((a), 1))
/* two double vectors -> one float vector, lanes in order; each rounded to nearest */
#define vf_from_vd2(lo, hi) _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo))

static inline fk_vi vi_mulhilo(fk_vi a, fk_vi m, fk_vi *lo)
{
    fk_vi even = _mm256_mul_epu32(a, m);
    fk_vi odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    return _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

#define vi_xor3(a, b, c) _mm256_xor_si256(_mm256_xor_si256((a), (b)), (c))

static inline void vi_counters(uint64_t block, fk_vi *lo, fk_vi *hi)
{
    const fk_vi lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const fk_vi bias = vi_set1(0x80000000u); /* unsigned compare through signed */
    *lo = _mm256_add_epi32(vi_set1((uint32_t)block), lane);
    fk_vi carry = _mm256_cmpgt_epi32(_mm256_xor_si256(lane, bias), _mm256_xor_si256(*lo, bias));
    *hi = _mm256_sub_epi32(vi_set1((uint32_t)(block >> 32)), carry); /* carry lanes are -1 */
}

static inline void vi_transpose4(fk_vi x[4])
{
    fk_vi t0 = _mm256_unpacklo_epi32(x[0], x[1]), t1 = _mm256_unpackhi_epi32(x[0], x[1]);
    fk_vi t2 = _mm256_unpacklo_epi32(x[2], x[3]), t3 = _mm256_unpackhi_epi32(x[2], x[3]);
    /* u_k, 128-bit lane L: the 4 words of block 4L + k */
    fk_vi u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
    fk_vi u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
    x[0] = _mm256_permute2x128_si256(u0, u1, 0x20);
    x[1] = _mm256_permute2x128_si256(u2, u3, 0x20);
    x[2] = _mm256_permute2x128_si256(u0, u1, 0x31);
    x[3] = _mm256_permute2x128_si256(u2, u3, 0x31);
}

#define vi_gt _mm256_cmpgt_epi32

static inline fk_vi vi_select_nonzero(fk_vi cond, fk_vi if_nonzero, fk_vi if_zero)
{
    fk_vi zero = _mm256_cmpeq_epi32(cond, _mm256_setzero_si256());
    return _mm256_blendv_epi8(if_nonzero, if_zero, zero);
}

/* The low 16 bits of each lane (all < 2^16 here), packed. */
static inline void vi_store_low16x2(uint16_t *p, fk_vi a, fk_vi b)
{
    __m256i packed = _mm256_packus_epi32(a, b); /* a 0-3 | b 0-3 | a 4-7 | b 4-7 */
    _mm256_storeu_si256((__m256i *)p, _mm256_permute4x64_epi64(packed, 0xd8));
}

static inline fk_vf vf_select_nonzero(fk_vi cond, fk_vf if_nonzero, fk_vf if_zero)
{
    fk_vi zero = _mm256_cmpeq_epi32(cond, _mm256_setzero_si256());
    return _mm256_blendv_ps(if_nonzero, if_zero, _mm256_castsi256_ps(zero));
}

static inline fk_vd vd_select_nonzero(fk_vl cond, fk_vd if_nonzero, fk_vd if_zero)
{
    fk_vl zero = _mm256_cmpeq_epi64(cond, _mm256_setzero_si256());
    return _mm256_blendv_pd(if_nonzero, if_zero, _mm256_castsi256_pd(zero));
}

/* if_odd where bit 0 of a is set, else if_even: blendv reads the sign bit. */
static inline fk_vd vd_select_odd(fk_vl a, fk_vd if_odd, fk_vd if_even)
{
    return _mm256_blendv_pd(if_even, if_odd, _mm256_castsi256_pd(_mm256_slli_epi64(a, 63)));
}

/* Exact for 0 <= a <= 2^53: both 32-bit halves through the 2^52 magic number. */
static inline fk_vd vd_from_u53(fk_vl a)
{
    const fk_vl magic = vl_set1(0x4330000000000000ull);
    const fk_vd two52 = vd_set1(0x1p52);
    fk_vd hi = vd_sub(vd_from_bits(vl_xor(vl_srl(a, 32), magic)), two52);
    fk_vd lo = vd_sub(vd_from_bits(vl_xor(vl_and(a, vl_set1(0xffffffffull)), magic)), two52);
    return vd_add(vd_mul(hi, vd_set1(0x1p32)), lo);
}

static inline void vf_store_f16(uint16_t *p, fk_vf a)
{
    _mm_storeu_si128((__m128i *)p, _mm256_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

#include "kernel_simd.h"

FK_SIMD_TABLE(avx2);

#if defined(__clang__)
#pragma clang attribute pop
#endif

#endif /* FK_X86 */
