/*
 * kernel_avx512.c: AVX-512 (F, BW, DQ, VL) kernels, 16 blocks per vector.
 * Only this unit is built for AVX-512, through the target pragma below; fill.c calls it
 * only after CPUID and XGETBV say the CPU and the OS support it.
 */
#include "kernels.h"

#if FK_X86

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma,f16c")
#endif

#include <immintrin.h>

#define FK_W 16
typedef __m512i fk_vi;
typedef __m512 fk_vf;
typedef __m512i fk_vl;
typedef __m512d fk_vd;

#define vi_set1(x) _mm512_set1_epi32((int)(uint32_t)(x))
#define vi_add _mm512_add_epi32
#define vi_sub _mm512_sub_epi32
#define vi_and _mm512_and_si512
#define vi_xor _mm512_xor_si512
#define vi_or _mm512_or_si512
#define vi_srl(a, n) _mm512_srli_epi32((a), (n))
#define vi_sll(a, n) _mm512_slli_epi32((a), (n))
#define vi_sra(a, n) _mm512_srai_epi32((a), (n))
#define vi_storeu(p, a) _mm512_storeu_si512((void *)(p), (a))
#define vf_set1 _mm512_set1_ps
#define vf_add _mm512_add_ps
#define vf_sub _mm512_sub_ps
#define vf_mul _mm512_mul_ps
#define vf_div _mm512_div_ps
#define vf_sqrt _mm512_sqrt_ps
#define vf_fma _mm512_fmadd_ps
#define vf_min _mm512_min_ps
#define vf_max _mm512_max_ps
#define vf_from_i32 _mm512_cvtepi32_ps
#define vf_bits _mm512_castps_si512
#define vf_from_bits _mm512_castsi512_ps
#define vl_set1(x) _mm512_set1_epi64((long long)(x))
#define vl_add _mm512_add_epi64
#define vl_sub _mm512_sub_epi64
#define vl_and _mm512_and_si512
#define vl_xor _mm512_xor_si512
#define vl_or _mm512_or_si512
#define vl_srl(a, n) _mm512_srli_epi64((a), (n))
#define vl_sll(a, n) _mm512_slli_epi64((a), (n))
#define vl_from_vi(a) (a)
#define vl_unpacklo _mm512_unpacklo_epi64
#define vl_unpackhi _mm512_unpackhi_epi64
#define vd_set1 _mm512_set1_pd
#define vd_add _mm512_add_pd
#define vd_sub _mm512_sub_pd
#define vd_mul _mm512_mul_pd
#define vd_div _mm512_div_pd
#define vd_sqrt _mm512_sqrt_pd
#define vd_fma _mm512_fmadd_pd
#define vd_min _mm512_min_pd
#define vd_max _mm512_max_pd
#define vd_bits _mm512_castpd_si512
#define vd_from_bits _mm512_castsi512_pd
#define vd_unpacklo _mm512_unpacklo_pd
#define vd_unpackhi _mm512_unpackhi_pd
#define vd_storeu _mm512_storeu_pd
#define vd_from_u53 _mm512_cvtepu64_pd /* exact below 2^53 */
#define vd_neg(a) _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(a), _mm512_set1_epi64((long long)0x8000000000000000ull)))
#define vd_abs(a) _mm512_castsi512_pd(_mm512_and_si512(_mm512_castpd_si512(a), _mm512_set1_epi64(0x7fffffffffffffffll)))
#define vd_lt(a, b) _mm512_movm_epi64(_mm512_cmp_pd_mask((a), (b), _CMP_LT_OQ))
#define vd_le(a, b) _mm512_movm_epi64(_mm512_cmp_pd_mask((a), (b), _CMP_LE_OQ))
#define vf_lt(a, b) _mm512_movm_epi32(_mm512_cmp_ps_mask((a), (b), _CMP_LT_OQ))
#define vi_any(m) (_mm512_test_epi32_mask((m), (m)) != 0)
#define vl_any(m) (_mm512_test_epi64_mask((m), (m)) != 0)
#define vl_widen_lo(a) _mm512_cvtepu32_epi64(_mm512_castsi512_si256(a))
#define vl_widen_hi(a) _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64((a), 1))
/* two double vectors -> one float vector, lanes in order; each rounded to nearest */
#define vf_from_vd2(lo, hi) _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1)

/* 32 x 32 -> 64-bit products of every lane: high halves returned, low halves in *lo.
 * even/odd hold the 64-bit products of the even/odd lanes; a masked pair swap picks halves. */
static inline fk_vi vi_mulhilo(fk_vi a, fk_vi m, fk_vi *lo)
{
    fk_vi even = _mm512_mul_epu32(a, m);
    fk_vi odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    *lo = _mm512_mask_shuffle_epi32(even, 0xAAAA, odd, _MM_PERM_CDAB);
    return _mm512_mask_shuffle_epi32(odd, 0x5555, even, _MM_PERM_CDAB);
}

#define vi_xor3(a, b, c) _mm512_ternarylogic_epi32((a), (b), (c), 0x96)

/* Block counters block + lane as (low word, high word), with the carry. */
static inline void vi_counters(uint64_t block, fk_vi *lo, fk_vi *hi)
{
    const fk_vi lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    *lo = _mm512_add_epi32(vi_set1((uint32_t)block), lane);
    __mmask16 carry = _mm512_cmplt_epu32_mask(*lo, lane);
    *hi = _mm512_mask_add_epi32(vi_set1((uint32_t)(block >> 32)), carry,
                                vi_set1((uint32_t)(block >> 32)), vi_set1(1));
}

/* x[j] lane i = word j of block i  ->  x[k] = words 16k .. 16k + 15 in memory order. */
static inline void vi_transpose4(fk_vi x[4])
{
    fk_vi t0 = _mm512_unpacklo_epi32(x[0], x[1]), t1 = _mm512_unpackhi_epi32(x[0], x[1]);
    fk_vi t2 = _mm512_unpacklo_epi32(x[2], x[3]), t3 = _mm512_unpackhi_epi32(x[2], x[3]);
    /* u_k, 128-bit lane L: the 4 words of block 4L + k */
    fk_vi u0 = _mm512_unpacklo_epi64(t0, t2), u1 = _mm512_unpackhi_epi64(t0, t2);
    fk_vi u2 = _mm512_unpacklo_epi64(t1, t3), u3 = _mm512_unpackhi_epi64(t1, t3);
    fk_vi a = _mm512_shuffle_i32x4(u0, u1, 0x44), b = _mm512_shuffle_i32x4(u2, u3, 0x44);
    fk_vi c = _mm512_shuffle_i32x4(u0, u1, 0xEE), d = _mm512_shuffle_i32x4(u2, u3, 0xEE);
    x[0] = _mm512_shuffle_i32x4(a, b, 0x88);
    x[1] = _mm512_shuffle_i32x4(a, b, 0xDD);
    x[2] = _mm512_shuffle_i32x4(c, d, 0x88);
    x[3] = _mm512_shuffle_i32x4(c, d, 0xDD);
}

#define vi_gt(a, b) _mm512_movm_epi32(_mm512_cmpgt_epi32_mask((a), (b)))

static inline fk_vi vi_select_nonzero(fk_vi cond, fk_vi if_nonzero, fk_vi if_zero)
{
    return _mm512_mask_blend_epi32(_mm512_test_epi32_mask(cond, cond), if_zero, if_nonzero);
}

/* The low 16 bits of each lane of a, then of b (lanes below 2^16), packed. */
static inline void vi_store_low16x2(uint16_t *p, fk_vi a, fk_vi b)
{
    __m512i packed = _mm512_packus_epi32(a, b); /* per 128 bits: a 4k..4k+3, b 4k..4k+3 */
    _mm512_storeu_si512(p, _mm512_permutexvar_epi64(_mm512_set_epi64(7, 5, 3, 1, 6, 4, 2, 0), packed));
}

static inline fk_vf vf_select_nonzero(fk_vi cond, fk_vf if_nonzero, fk_vf if_zero)
{
    return _mm512_mask_blend_ps(_mm512_test_epi32_mask(cond, cond), if_zero, if_nonzero);
}

static inline fk_vd vd_select_nonzero(fk_vl cond, fk_vd if_nonzero, fk_vd if_zero)
{
    return _mm512_mask_blend_pd(_mm512_test_epi64_mask(cond, cond), if_zero, if_nonzero);
}

static inline fk_vd vd_select_odd(fk_vl a, fk_vd if_odd, fk_vd if_even)
{
    return _mm512_mask_blend_pd(_mm512_test_epi64_mask(a, _mm512_set1_epi64(1)), if_even, if_odd);
}

/* float32 -> binary16, round to nearest even, as fk_f32_to_f16 */
static inline void vf_store_f16(uint16_t *p, fk_vf a)
{
    _mm256_storeu_si256((__m256i *)p, _mm512_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

#include "kernel_simd.h"

FK_SIMD_TABLE(avx512);

#if defined(__clang__)
#pragma clang attribute pop
#endif

#endif /* FK_X86 */
