/*
 * kernels.h: the contiguous 1-d kernels of one instruction set, as a table that fill.c
 * dispatches through. Every table must produce the scalar table's output bit for bit.
 */
#ifndef FK_KERNELS_H
#define FK_KERNELS_H

#include <stddef.h>

#include "fastkaiming.h"

/* Fill out[0 .. n) contiguously with samples pos, pos + 1, ... */
typedef void (*fk_kernel_fn)(void *out, size_t n, const fk_position *pos, const fk_params *p);

typedef struct {
    fk_kernel_fn raw_u32;
    fk_kernel_fn uniform_f16, uniform_f32, uniform_f64, uniform_bf16;
    fk_kernel_fn normal_f16, normal_f32, normal_f64, normal_bf16;
    fk_kernel_fn trunc_f16, trunc_f32, trunc_f64, trunc_bf16;
} fk_kernel_table;

#if defined(__x86_64__) || defined(_M_X64)
#define FK_X86 1
#else
#define FK_X86 0
#endif

#if defined(__aarch64__) || defined(_M_ARM64)
#define FK_ARM64 1
#else
#define FK_ARM64 0
#endif

extern const fk_kernel_table fk_kernels_scalar;

/* Truncated normal, scalar reference (kernel_scalar.c); the SIMD tables have their own. */
void fk_trunc_f16(void *out, size_t n, const fk_position *pos, const fk_params *p);
void fk_trunc_f32(void *out, size_t n, const fk_position *pos, const fk_params *p);
void fk_trunc_f64(void *out, size_t n, const fk_position *pos, const fk_params *p);
void fk_trunc_bf16(void *out, size_t n, const fk_position *pos, const fk_params *p);
#if FK_X86
extern const fk_kernel_table fk_kernels_avx2;
extern const fk_kernel_table fk_kernels_avx512;
#endif
#if FK_ARM64
extern const fk_kernel_table fk_kernels_neon;
#endif

#endif /* FK_KERNELS_H */
