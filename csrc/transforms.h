/*
 * transforms.h: Philox words to samples, the scalar reference of every kernel.
 *
 * The SIMD kernels must reproduce these functions bit for bit: same constants, same operation
 * order, the same explicit fused multiply-adds (fmaf/fma), no other contraction
 * (-ffp-contract=off). The mapping itself is documented in fastkaiming.h.
 *
 * Polynomials: sin and cos are Taylor polynomials on [-pi/4, pi/4]; log(m) on
 * [sqrt(1/2), sqrt(2)) is 2 atanh(s) with s = (m - 1) / (m + 1), a series in s^2 <= 0.0295.
 * Their truncation errors are below 2.5e-9 (f32) and 1e-17 (f64) relative.
 */
#ifndef FK_TRANSFORMS_H
#define FK_TRANSFORMS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t fk_f32_bits(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static inline float fk_f32_from(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }
static inline uint64_t fk_f64_bits(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
static inline double fk_f64_from(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }

/* Arithmetic right shifts of the bits of x read as a signed integer (portable C). */
static inline int32_t fk_sra32(uint32_t x, unsigned n)
{
    return (int32_t)(x >> n) - (int32_t)((x >> 31) << (32 - n));
}

static inline int64_t fk_sra64(uint64_t x, unsigned n)
{
    return (int64_t)(x >> n) - (int64_t)((x >> 63) << (64 - n));
}

/* ---- float32 ---------------------------------------------------------------------------- */

/* sin(x) = x + x^3 (S1 + x^2 (S2 + ...)), Taylor coefficients -1/3!, 1/5!, -1/7!, 1/9! */
#define FK_S1F (-0x1.555556p-3f)
#define FK_S2F (0x1.111112p-7f)
#define FK_S3F (-0x1.a01a02p-13f)
#define FK_S4F (0x1.71de3ap-19f)
/* cos(x) = 1 + x^2 (C1 + x^2 (C2 + ...)), -1/2!, 1/4!, -1/6!, 1/8!, -1/10! */
#define FK_C1F (-0x1p-1f)
#define FK_C2F (0x1.555556p-5f)
#define FK_C3F (-0x1.6c16c2p-10f)
#define FK_C4F (0x1.a01a02p-16f)
#define FK_C5F (-0x1.27e4fcp-22f)
/* log(m) = 2s + s^3 (L1 + s^2 (L2 + ...)), L_k = 2 / (2k + 1) */
#define FK_L1F (0x1.555556p-1f)
#define FK_L2F (0x1.99999ap-2f)
#define FK_L3F (0x1.24924ap-2f)
#define FK_L4F (0x1.c71c72p-3f)
#define FK_LN2F (0x1.62e430p-1f)
#define FK_PI4F (0x1.921fb6p-1f)
#define FK_PI4F_2M24 (0x1.921fb6p-25f) /* FK_PI4F * 2^-24, exact */
#define FK_SQRTHALF_F32_BITS 0x3f3504f3u /* sqrt(1/2) */

/* Natural log of u in (0, 1]. */
static inline float fk_log_f32(float u)
{
    uint32_t i = fk_f32_bits(u);
    /* u = 2^e * m with m in [sqrt(1/2), sqrt(2)) */
    uint32_t e_biased = (i + (0x3f800000u - FK_SQRTHALF_F32_BITS)) >> 23;
    int32_t e = (int32_t)e_biased - 127;
    float m = fk_f32_from(i - ((uint32_t)e << 23));
    float s = (m - 1.0f) / (m + 1.0f);
    float z = s * s;
    float p = fmaf(z, fmaf(z, fmaf(z, FK_L4F, FK_L3F), FK_L2F), FK_L1F);
    float logm = fmaf(s * z, p, s + s);
    return fmaf((float)e, FK_LN2F, logm);
}

/* sin and cos of x in [-pi/4, pi/4]. */
static inline void fk_sincos_f32(float x, float *s, float *c)
{
    float x2 = x * x;
    float ps = fmaf(x2, fmaf(x2, fmaf(x2, FK_S4F, FK_S3F), FK_S2F), FK_S1F);
    float pc = fmaf(x2, fmaf(x2, fmaf(x2, fmaf(x2, FK_C5F, FK_C4F), FK_C3F), FK_C2F), FK_C1F);
    *s = fmaf(x * x2, ps, x);
    *c = fmaf(x2, pc, 1.0f);
}

/* Place (s, c) = (sin x, cos x) in the quadrant of the angle word: theta = q pi/2 + x, with
 * q the quadrant nearest theta. Bits of wq = w + 2^29: bit 30 = q odd (swap),
 * bit 31 = q in {2, 3} (sin < 0); bit 31 of wq + 2^30 = q in {1, 2} (cos < 0). */
static inline void fk_quadrant_f32(uint32_t w, float s, float c, float *cos_t, float *sin_t)
{
    uint32_t wq = w + 0x20000000u;
    float cc = (wq & 0x40000000u) ? s : c;
    float ss = (wq & 0x40000000u) ? c : s;
    *cos_t = ((wq + 0x40000000u) & 0x80000000u) ? -cc : cc;
    *sin_t = (wq & 0x80000000u) ? -ss : ss;
}

/* Box-Muller: radius word wr, angle word wa -> (r cos theta, r sin theta), theta = 2 pi wa/2^32
 * to 26 bits. */
static inline void fk_box_muller_f32(uint32_t wr, uint32_t wa, float *z_cos, float *z_sin)
{
    /* u in [2^-32, 1]: log(u) stays finite */
    float u = fmaf((float)(int32_t)(wr >> 1), 0x1p-31f, 0x1p-32f);
    float r = sqrtf(-2.0f * fk_log_f32(u));
    /* offset from the nearest quadrant: the midpoint of one of 2^24 equal arcs, (-pi/4, pi/4) */
    float x = (float)(fk_sra32(wa << 2, 7) | 1) * FK_PI4F_2M24;
    float s, c, ct, st;
    fk_sincos_f32(x, &s, &c);
    fk_quadrant_f32(wa, s, c, &ct, &st);
    *z_cos = r * ct;
    *z_sin = r * st;
}

/* Uniform in (-1, 1): the top 24 bits as a signed integer s, (2s + 1) 2^-24, exact. */
static inline float fk_symmetric_f32(uint32_t w)
{
    return (float)(fk_sra32(w, 7) | 1) * 0x1p-24f;
}

static inline float fk_clamp_f32(float x, float lo, float hi)
{
    x = x < lo ? lo : x;
    return x > hi ? hi : x;
}

/* float32 -> binary16, round to nearest, ties to even; NaN stays NaN. */
static inline uint16_t fk_f32_to_f16(float f)
{
    uint32_t x = fk_f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    x &= 0x7fffffffu;
    if (x > 0x7f800000u)
        return sign | 0x7e00u;
    if (x >= 0x477ff000u) /* >= 65520 rounds to infinity */
        return sign | 0x7c00u;
    if (x >= 0x38800000u) { /* >= 2^-14: normal binary16 */
        uint32_t r = x + 0x0fffu + ((x >> 13) & 1u);
        return sign | (uint16_t)((r - 0x38000000u) >> 13);
    }
    /* subnormal binary16: round |f| / 2^-24 to an integer */
    uint32_t e = x >> 23;
    if (e < 102) /* |f| < 2^-25 rounds to zero */
        return sign;
    uint32_t mant = (x & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - e; /* 14 .. 24 */
    uint32_t q = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u)))
        q++;
    return sign | (uint16_t)q;
}

/* float32 -> bfloat16: nearest, ties to even, subnormals included (a float32 subnormal rounds
 * to a bfloat16 subnormal, not to zero: a bound that is one stays inside); NaN stays a quiet
 * NaN. */
static inline uint16_t fk_f32_to_bf16(float f)
{
    uint32_t x = fk_f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x | 0x00400000u) >> 16);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

/* ---- float64 ---------------------------------------------------------------------------- */

#define FK_S1 (-0x1.5555555555555p-3)
#define FK_S2 (0x1.1111111111111p-7)
#define FK_S3 (-0x1.a01a01a01a01ap-13)
#define FK_S4 (0x1.71de3a556c734p-19)
#define FK_S5 (-0x1.ae64567f544e4p-26)
#define FK_S6 (0x1.6124613a86d09p-33)
#define FK_S7 (-0x1.ae7f3e733b81fp-41)
#define FK_S8 (0x1.952c77030ad4ap-49)
#define FK_C1 (-0x1p-1)
#define FK_C2 (0x1.5555555555555p-5)
#define FK_C3 (-0x1.6c16c16c16c17p-10)
#define FK_C4 (0x1.a01a01a01a01ap-16)
#define FK_C5 (-0x1.27e4fb7789f5cp-22)
#define FK_C6 (0x1.1eed8eff8d898p-29)
#define FK_C7 (-0x1.93974a8c07c9dp-37)
#define FK_C8 (0x1.ae7f3e733b81fp-45)
#define FK_L1 (0x1.5555555555555p-1)
#define FK_L2 (0x1.999999999999ap-2)
#define FK_L3 (0x1.2492492492492p-2)
#define FK_L4 (0x1.c71c71c71c71cp-3)
#define FK_L5 (0x1.745d1745d1746p-3)
#define FK_L6 (0x1.3b13b13b13b14p-3)
#define FK_L7 (0x1.1111111111111p-3)
#define FK_L8 (0x1.e1e1e1e1e1e1ep-4)
#define FK_L9 (0x1.af286bca1af28p-4)
#define FK_L10 (0x1.8618618618618p-4)
#define FK_L11 (0x1.642c8590b2164p-4)
/* ln 2 = LN2_HI + LN2_LO; LN2_HI has 32 trailing zero bits so e * LN2_HI is exact */
#define FK_LN2_HI (0x1.62e42feep-1)
#define FK_LN2_LO (0x1.a39ef35793c76p-33)
#define FK_PI4 (0x1.921fb54442d18p-1)
#define FK_PI4_2M53 (0x1.921fb54442d18p-54) /* FK_PI4 * 2^-53, exact */
#define FK_SQRTHALF_F64_BITS 0x3fe6a09e667f3bcdull

static inline double fk_log_f64(double u)
{
    uint64_t i = fk_f64_bits(u);
    uint64_t e_biased = (i + (0x3ff0000000000000ull - FK_SQRTHALF_F64_BITS)) >> 52;
    int64_t e = (int64_t)e_biased - 1023;
    double m = fk_f64_from(i - ((uint64_t)e << 52));
    double s = (m - 1.0) / (m + 1.0);
    double z = s * s;
    double p = fma(z, FK_L11, FK_L10);
    p = fma(z, p, FK_L9);
    p = fma(z, p, FK_L8);
    p = fma(z, p, FK_L7);
    p = fma(z, p, FK_L6);
    p = fma(z, p, FK_L5);
    p = fma(z, p, FK_L4);
    p = fma(z, p, FK_L3);
    p = fma(z, p, FK_L2);
    p = fma(z, p, FK_L1);
    double logm = fma(s * z, p, s + s);
    double ed = (double)e;
    return fma(ed, FK_LN2_HI, fma(ed, FK_LN2_LO, logm));
}

static inline void fk_sincos_f64(double x, double *s, double *c)
{
    double x2 = x * x;
    double ps = fma(x2, FK_S8, FK_S7);
    ps = fma(x2, ps, FK_S6);
    ps = fma(x2, ps, FK_S5);
    ps = fma(x2, ps, FK_S4);
    ps = fma(x2, ps, FK_S3);
    ps = fma(x2, ps, FK_S2);
    ps = fma(x2, ps, FK_S1);
    double pc = fma(x2, FK_C8, FK_C7);
    pc = fma(x2, pc, FK_C6);
    pc = fma(x2, pc, FK_C5);
    pc = fma(x2, pc, FK_C4);
    pc = fma(x2, pc, FK_C3);
    pc = fma(x2, pc, FK_C2);
    pc = fma(x2, pc, FK_C1);
    *s = fma(x * x2, ps, x);
    *c = fma(x2, pc, 1.0);
}

static inline void fk_box_muller_f64(uint64_t xr, uint64_t xa, double *z_cos, double *z_sin)
{
    /* u in [2^-53, 1]: log(u) stays finite */
    double u = (double)((xr >> 11) + 1u) * 0x1p-53;
    double r = sqrt(-2.0 * fk_log_f64(u));
    double x = (double)(fk_sra64(xa << 2, 10) | 1) * FK_PI4_2M53;
    double s, c;
    fk_sincos_f64(x, &s, &c);
    uint64_t wq = xa + 0x2000000000000000ull;
    double cc = (wq & 0x4000000000000000ull) ? s : c;
    double ss = (wq & 0x4000000000000000ull) ? c : s;
    *z_cos = r * (((wq + 0x4000000000000000ull) & 0x8000000000000000ull) ? -cc : cc);
    *z_sin = r * ((wq & 0x8000000000000000ull) ? -ss : ss);
}

/* Uniform in (-1, 1): the top 53 bits as a signed integer s, (2s + 1) 2^-53, exact. */
static inline double fk_symmetric_f64(uint64_t x)
{
    return (double)(fk_sra64(x, 10) | 1) * 0x1p-53;
}

static inline double fk_clamp_f64(double x, double lo, double hi)
{
    x = x < lo ? lo : x;
    return x > hi ? hi : x;
}

/* ---- truncated normal ---------------------------------------------------------------------
 *
 * One word per sample. The interval [alpha, beta] (in std units, mirrored when it lies above
 * the mean) is cut into two halves of equal probability; bit 0 of the word picks the half,
 * bits 1..31 the point v in it, and each half is sampled through the tail probability t of its
 * own side of 0, so both tails keep their relative precision. y(t) = -Phi^-1(t) for t in
 * (0, 3/4]; the sample is mean + sstd[h] y, with sstd = -std in a lower tail, +std in an upper
 * tail (negated when mirrored). */
typedef struct {
    double base[2]; /* t of half h: base[h] + span v, v in (0, 1] */
    double span;
    double sstd[2];
    double mean;
} fk_trunc;

/* The halves of fk_params (fastkaiming.h): tail_a = Phi(alpha); tail_b = Phi(beta) on one side
 * of 0 (form bit 1 clear), or 1 - Phi(beta) when [alpha, beta] straddles 0 (form bit 1 set). */
static inline fk_trunc fk_trunc_setup(const fk_params *p)
{
    fk_trunc c;
    int straddle = (p->form & 2) != 0;
    double std = (p->form & 1) ? -p->scale : p->scale;
    c.span = straddle ? ((1.0 - p->tail_a) - p->tail_b) * 0.5 : (p->tail_b - p->tail_a) * 0.5;
    c.base[0] = p->tail_a;
    c.base[1] = straddle ? p->tail_b : p->tail_a + c.span;
    c.sstd[0] = -std;
    c.sstd[1] = straddle ? std : -std;
    c.mean = p->loc;
    return c;
}

/* float32: y = x G(w), x = 1 - 2t, w = -log(4t(1 - t)) (Giles' variables); G fitted in
 * relative error by tools/trunc_constants.py, highest power first: central w < 5, tail
 * 5 <= w < 16 in sqrt(w), far w >= 16 up to t = 2^-126 (w < 86). */
static const float fk_tc_f32[10] = {
    -0x1.b27b34p-27f, 0x1.1a9efp-25f, 0x1.638822p-21f, -0x1.48ab52p-18f, -0x1.d7f9b8p-18f,
    0x1.43c992p-12f, -0x1.d06b7ap-10f, -0x1.832b16p-8f, 0x1.652c5cp-2f, 0x1.0fc8bcp+1f};
static const float fk_tt_f32[10] = {
    0x1.846f36p-13f, -0x1.dc44fp-12f, -0x1.d35cf2p-14f, 0x1.15d388p-9f, -0x1.4c61cep-8f,
    0x1.074fc2p-7f, -0x1.620564p-7f, 0x1.b5ba72p-7f, 0x1.6aa526p+0f, 0x1.00696cp+2f};
static const float fk_tf_f32[10] = {
    -0x1.8775eap-28f, 0x1.59f4aep-25f, -0x1.2e8866p-23f, 0x1.8087e4p-21f, -0x1.15249cp-18f,
    0x1.16ff3p-16f, -0x1.004c1cp-16f, -0x1.7ac0c8p-11f, 0x1.6d562ep+0f, 0x1.200754p+3f};
#define FK_TC_SPLIT_F32 (-5.0f)  /* log(4t(1 - t)) below this: tail polynomial */
#define FK_TF_SPLIT_F32 (-16.0f) /* below this: far polynomial */

static inline float fk_horner10f(const float c[10], float x)
{
    float v = c[0];
    for (int i = 1; i < 10; i++)
        v = fmaf(v, x, c[i]);
    return v;
}

/* -Phi^-1(t) for t in [2^-126, 3/4], in float32. */
static inline float fk_trunc_y_f32(float t)
{
    float lw = fk_log_f32(4.0f * fmaf(-t, t, t)); /* -w; t(1 - t) <= 1/4 */
    float g;
    if (!(lw < FK_TC_SPLIT_F32)) {
        g = fk_horner10f(fk_tc_f32, -2.5f - lw);
    } else {
        float s = sqrtf(0.0f - lw);
        g = lw < FK_TF_SPLIT_F32 ? fk_horner10f(fk_tf_f32, s - 6.5f) : fk_horner10f(fk_tt_f32, s - 3.0f);
    }
    return fmaf(-2.0f, t, 1.0f) * g; /* 1 - 2t exact for t >= 1/4 */
}

typedef struct {
    float base[2], span, sstd[2], mean, lo, hi;
} fk_trunc32;

static inline fk_trunc32 fk_trunc32_setup(const fk_params *p)
{
    fk_trunc c = fk_trunc_setup(p);
    fk_trunc32 f = {{(float)c.base[0], (float)c.base[1]}, (float)c.span,
                      {(float)c.sstd[0], (float)c.sstd[1]}, (float)c.mean, (float)p->lo,
                      (float)p->hi};
    return f;
}

/* The float32 sample of word w, clamped to [lo, hi]. */
static inline float fk_trunc_normal_f32(uint32_t w, const fk_trunc32 *c)
{
    unsigned h = w & 1u;
    float v = fmaf((float)(int32_t)(w >> 1), 0x1p-31f, 0x1p-32f); /* [2^-32, 1] */
    float t = fmaf(c->span, v, c->base[h]);
    float x = fmaf(c->sstd[h], fk_trunc_y_f32(t), c->mean);
    return fk_clamp_f32(x, c->lo, c->hi);
}

/* float64: the central branch (w < 6.25, |z| < 3.3) is Giles' double-precision erfinv
 * polynomial, "Approximating the erfinv function" (GPU Computing Gems 2011), published
 * coefficients, highest power first; beyond it Wichura's AS241 (PPND16, Applied Statistics 37,
 * 1988) in r = sqrt(-log t), published coefficients. */
static const double fk_giles_f64[23] = {
    -3.6444120640178196996e-21, -1.685059138182016589e-19, 1.2858480715256400167e-18,
    1.115787767802518096e-17, -1.333171662854620906e-16, 2.0972767875968561637e-17,
    6.6376381343583238325e-15, -4.0545662729752068639e-14, -8.1519341976054721522e-14,
    2.6335093153082322977e-12, -1.2975133253453532498e-11, -5.4154120542946279317e-11,
    1.051212273321532285e-09, -4.1126339803469836976e-09, -2.9070369957882005086e-08,
    4.2347877827932403518e-07, -1.3654692000834678645e-06, -1.3882523362786468719e-05,
    0.0001867342080340571352, -0.00074070253416626697512, -0.0060336708714301490533,
    0.24015818242558961693, 1.6536545626831027356};
/* AS241 for r = sqrt(-log t) > 5 (mid: r <= 5), lowest power first */
static const double fk_as241_c[8] = {
    1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
    3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
    2.27238449892691845833e-2, 7.74545014278341407640e-4};
static const double fk_as241_d[8] = {
    1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
    1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
    1.05075007164441684324e-9};
static const double fk_as241_e[8] = {
    6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
    2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
    2.71155556874348757815e-5, 2.01033439929228813265e-7};
static const double fk_as241_f[8] = {
    1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
    7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
    2.04426310338993978564e-15};
#define FK_GILES_SPLIT (-6.25) /* log(4t(1 - t)) below this: AS241 */
#define FK_AS241_SPLIT2 5.0
#define FK_SQRT2 0x1.6a09e667f3bcdp+0

static inline double fk_horner8(const double c[8], double x)
{
    double v = c[7];
    for (int i = 6; i >= 0; i--)
        v = fma(v, x, c[i]);
    return v;
}

static inline double fk_giles_central(double x)
{
    double v = fk_giles_f64[0];
    for (int i = 1; i < 23; i++)
        v = fma(v, x, fk_giles_f64[i]);
    return v;
}

/* -Phi^-1(t) for t in [2^-1022, 3/4], in float64; one division, only in the tail. */
static inline double fk_trunc_y_f64(double t)
{
    double lw = fk_log_f64(4.0 * fma(-t, t, t));
    if (!(lw < FK_GILES_SPLIT))
        return (fma(-2.0, t, 1.0) * FK_SQRT2) * fk_giles_central(-3.125 - lw);
    double r = sqrt(0.0 - fk_log_f64(t));
    int far = FK_AS241_SPLIT2 < r;
    double x = far ? r - FK_AS241_SPLIT2 : r - 1.6;
    return fk_horner8(far ? fk_as241_e : fk_as241_c, x) / fk_horner8(far ? fk_as241_f : fk_as241_d, x);
}

/* The float64 sample of word w, clamped to [lo, hi]. */
static inline double fk_trunc_normal_f64(uint32_t w, const fk_trunc *c, double lo, double hi)
{
    unsigned h = w & 1u;
    double v = (double)(w | 1u) * 0x1p-32; /* (2 (w >> 1) + 1) 2^-32, exact */
    double t = fma(c->span, v, c->base[h]);
    double x = fma(c->sstd[h], fk_trunc_y_f64(t), c->mean);
    return fk_clamp_f64(x, lo, hi);
}

/* fk_params form bit 2: a float32, float16 or bfloat16 fill computed in float64 arithmetic
 * (the Python layer sets it where float32 arithmetic resolves t too coarsely). */
#define FK_FORM_F64 4

/* Sample i of a float32, float16 or bfloat16 output from its float64 sample: rounded to
 * float32, then as every float32 sample. */
static inline void fk_store_narrow(void *out, size_t i, double x, fk_dtype dtype)
{
    float f = (float)x;
    if (dtype == FK_DTYPE_FLOAT32)
        ((float *)out)[i] = f;
    else
        ((uint16_t *)out)[i] = dtype == FK_DTYPE_FLOAT16 ? fk_f32_to_f16(f) : fk_f32_to_bf16(f);
}

#endif /* FK_TRANSFORMS_H */
