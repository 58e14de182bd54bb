/*
 * insn_probe.c: the float32 inner loop of one SIMD unit as two standalone functions, so that
 * `make -C tests/c insn` can count instructions per sample from the object code (objdump).
 * NEON speed cannot be measured under emulation; this is what can be known without hardware.
 * Not part of the library. One call: FK_G groups of FK_W blocks = 4 FK_W FK_G samples.
 */
#include <stdint.h>

#if defined(FK_PROBE_NEON)
#include "kernel_neon.c"
#elif defined(FK_PROBE_AVX2)
#include "kernel_avx2.c" /* its target pragma stays on for the probes below (gcc) */
#else
#error "define FK_PROBE_NEON or FK_PROBE_AVX2"
#endif

void probe_normal_f32(float *out, uint64_t block, const fk_keys *k, const fk_affine_f32 *a);
void probe_uniform_f32(float *out, uint64_t block, const fk_keys *k, const fk_affine_f32 *a);

/* The distribution is a constant in each probe, so the other branch is compiled out. */
FK_INLINE void probe(float *out, uint64_t block, const fk_keys *k, const fk_affine_f32 *a,
                     int normal)
{
    fk_affine_f32 b = *a;
    b.normal = normal;
    fk_vf z[FK_G][4];
    samples_f32(z, FK_G, block, k, &b);
    store_f32(out, z, FK_G);
}

void probe_normal_f32(float *out, uint64_t block, const fk_keys *k, const fk_affine_f32 *a)
{
    probe(out, block, k, a, 1);
}

void probe_uniform_f32(float *out, uint64_t block, const fk_keys *k, const fk_affine_f32 *a)
{
    probe(out, block, k, a, 0);
}
