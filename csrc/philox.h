/*
 * philox.h: Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel Random Numbers: As Easy as
 * 1, 2, 3", SC11), written from the paper's definition. Header-only so every kernel unit
 * inlines the same rounds.
 */
#ifndef FK_PHILOX_H
#define FK_PHILOX_H

#include <stdint.h>

/* Multipliers and Weyl key increments of Philox4x32 (SC11, section 3.3). */
#define FK_PHILOX_M0 0xD2511F53u
#define FK_PHILOX_M1 0xCD9E8D57u
#define FK_PHILOX_W0 0x9E3779B9u /* golden ratio */
#define FK_PHILOX_W1 0xBB67AE85u /* sqrt(3) - 1 */
#define FK_PHILOX_ROUNDS 10

static inline void fk_philox_block(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                                   uint32_t k0, uint32_t k1, uint32_t out[4])
{
    for (int r = 0; r < FK_PHILOX_ROUNDS; r++) {
        if (r > 0) {
            k0 += FK_PHILOX_W0;
            k1 += FK_PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)FK_PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)FK_PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* Block `block` of stream `stream` under key (k0, k1). */
static inline void fk_philox_at(uint64_t block, uint64_t stream, const uint32_t key[2],
                                uint32_t out[4])
{
    fk_philox_block((uint32_t)block, (uint32_t)(block >> 32), (uint32_t)stream,
                    (uint32_t)(stream >> 32), key[0], key[1], out);
}

#endif /* FK_PHILOX_H */
