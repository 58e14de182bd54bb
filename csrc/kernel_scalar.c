/*
 * kernel_scalar.c: the portable reference kernels, built with the baseline flags.
 * One Philox block at a time; the first and last block of a run may be partial.
 */
#include "kernels.h"
#include "philox.h"
#include "transforms.h"

/* Scratch size for the 16-bit kernels, which sample in float32 first. */
#define FK_F16_CHUNK 256

static void raw_u32(void *out_, size_t n, const fk_position *pos, const fk_params *p)
{
    (void)p;
    uint32_t *out = out_;
    uint64_t block = pos->block;
    unsigned j = pos->phase;
    while (n > 0) {
        uint32_t w[4];
        fk_philox_at(block++, pos->stream, pos->key, w);
        for (; j < 4 && n > 0; j++, n--)
            *out++ = w[j];
        j = 0;
    }
}

/* The float32 samples of one block: uniform or normal, before the affine map. */
static inline void block_f32(const uint32_t w[4], int normal, float z[4])
{
    if (normal) {
        fk_box_muller_f32(w[0], w[1], &z[0], &z[1]);
        fk_box_muller_f32(w[2], w[3], &z[2], &z[3]);
    } else {
        for (int j = 0; j < 4; j++)
            z[j] = fk_symmetric_f32(w[j]);
    }
}

static inline void run_f32(float *out, size_t n, const fk_position *pos, const fk_params *p,
                           int normal)
{
    const float loc = (float)p->loc, scale = (float)p->scale;
    const float lo = (float)p->lo, hi = (float)p->hi;
    uint64_t block = pos->block;
    unsigned j = pos->phase;
    while (n > 0) {
        uint32_t w[4];
        float z[4];
        fk_philox_at(block++, pos->stream, pos->key, w);
        block_f32(w, normal, z);
        for (; j < 4 && n > 0; j++, n--) {
            float x = fmaf(scale, z[j], loc);
            *out++ = normal ? x : fk_clamp_f32(x, lo, hi);
        }
        j = 0;
    }
}

/* float16 or bfloat16: the float32 samples, each rounded once. */
static inline void run_half(uint16_t *out, size_t n, const fk_position *pos, const fk_params *p,
                            int normal, int brain)
{
    float tmp[FK_F16_CHUNK];
    fk_position at = *pos;
    while (n > 0) {
        size_t m = n < FK_F16_CHUNK ? n : FK_F16_CHUNK;
        run_f32(tmp, m, &at, p, normal);
        for (size_t i = 0; i < m; i++)
            out[i] = brain ? fk_f32_to_bf16(tmp[i]) : fk_f32_to_f16(tmp[i]);
        out += m;
        n -= m;
        at.block += (at.phase + m) / 4;
        at.phase = (uint32_t)((at.phase + m) % 4);
    }
}

static inline void run_f64(double *out, size_t n, const fk_position *pos, const fk_params *p,
                           int normal)
{
    uint64_t block = pos->block;
    unsigned j = pos->phase;
    while (n > 0) {
        uint32_t w[4];
        double z[2];
        fk_philox_at(block++, pos->stream, pos->key, w);
        uint64_t x0 = w[0] | (uint64_t)w[1] << 32, x1 = w[2] | (uint64_t)w[3] << 32;
        if (normal) {
            fk_box_muller_f64(x0, x1, &z[0], &z[1]);
        } else {
            z[0] = fk_symmetric_f64(x0);
            z[1] = fk_symmetric_f64(x1);
        }
        for (; j < 2 && n > 0; j++, n--) {
            double x = fma(p->scale, z[j], p->loc);
            *out++ = normal ? x : fk_clamp_f64(x, p->lo, p->hi);
        }
        j = 0;
    }
}

/* Truncated normal: the reference the SIMD kernels reproduce. */
static inline void run_trunc(void *out, size_t n, const fk_position *pos, const fk_params *p,
                             fk_dtype dtype)
{
    const fk_trunc c64 = fk_trunc_setup(p);
    const fk_trunc32 c32 = fk_trunc32_setup(p);
    uint64_t block = pos->block;
    unsigned j = pos->phase;
    size_t i = 0;
    while (i < n) {
        uint32_t w[4];
        fk_philox_at(block++, pos->stream, pos->key, w);
        for (; j < 4 && i < n; j++, i++) {
            if (dtype == FK_DTYPE_FLOAT64) {
                ((double *)out)[i] = fk_trunc_normal_f64(w[j], &c64, p->lo, p->hi);
                continue;
            }
            if (p->form & FK_FORM_F64) {
                fk_store_narrow(out, i, fk_trunc_normal_f64(w[j], &c64, p->lo, p->hi), dtype);
                continue;
            }
            float x32 = fk_trunc_normal_f32(w[j], &c32);
            if (dtype == FK_DTYPE_FLOAT32)
                ((float *)out)[i] = x32;
            else
                ((uint16_t *)out)[i] = dtype == FK_DTYPE_FLOAT16 ? fk_f32_to_f16(x32) : fk_f32_to_bf16(x32);
        }
        j = 0;
    }
}

void fk_trunc_f16(void *o, size_t n, const fk_position *s, const fk_params *p) { run_trunc(o, n, s, p, FK_DTYPE_FLOAT16); }
void fk_trunc_f32(void *o, size_t n, const fk_position *s, const fk_params *p) { run_trunc(o, n, s, p, FK_DTYPE_FLOAT32); }
void fk_trunc_f64(void *o, size_t n, const fk_position *s, const fk_params *p) { run_trunc(o, n, s, p, FK_DTYPE_FLOAT64); }
void fk_trunc_bf16(void *o, size_t n, const fk_position *s, const fk_params *p) { run_trunc(o, n, s, p, FK_DTYPE_BFLOAT16); }

static void uniform_f16(void *o, size_t n, const fk_position *s, const fk_params *p) { run_half(o, n, s, p, 0, 0); }
static void uniform_bf16(void *o, size_t n, const fk_position *s, const fk_params *p) { run_half(o, n, s, p, 0, 1); }
static void uniform_f32(void *o, size_t n, const fk_position *s, const fk_params *p) { run_f32(o, n, s, p, 0); }
static void uniform_f64(void *o, size_t n, const fk_position *s, const fk_params *p) { run_f64(o, n, s, p, 0); }
static void normal_f16(void *o, size_t n, const fk_position *s, const fk_params *p) { run_half(o, n, s, p, 1, 0); }
static void normal_bf16(void *o, size_t n, const fk_position *s, const fk_params *p) { run_half(o, n, s, p, 1, 1); }
static void normal_f32(void *o, size_t n, const fk_position *s, const fk_params *p) { run_f32(o, n, s, p, 1); }
static void normal_f64(void *o, size_t n, const fk_position *s, const fk_params *p) { run_f64(o, n, s, p, 1); }

const fk_kernel_table fk_kernels_scalar = {
    raw_u32,     uniform_f16, uniform_f32, uniform_f64, uniform_bf16,
    normal_f16,  normal_f32,  normal_f64,  normal_bf16,
    fk_trunc_f16, fk_trunc_f32, fk_trunc_f64, fk_trunc_bf16,
};
