/*
 * tsan_pool.c: the thread pool under ThreadSanitizer, without Python.
 *
 *   gcc -std=c11 -O1 -g -fsanitize=thread -pthread -I csrc tools/tsan_pool.c csrc/fill.c \
 *       csrc/pool.c csrc/kernel_scalar.c csrc/kernel_avx2.c csrc/kernel_avx512.c -lm -o tsan_pool
 *   ./tsan_pool
 *
 * Several caller threads fill their own buffers at once, each fill split over the pool (or run
 * alone when another caller holds it); every result must equal a single-threaded fill. Exits 1
 * on a wrong value; TSan reports any data race in the pool itself (and exits non-zero with
 * TSAN_OPTIONS=halt_on_error=1). Two callers writing one buffer at once would be their race,
 * not the library's, so this harness does not do that.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastkaiming.h"

#define N (1 << 20) /* elements: above the single-thread cutoff */
#define CALLERS 4
#define ROUNDS 8

static float *expected;

static fk_status fill(float *out, int threads, uint64_t seed)
{
    int64_t shape[1] = {N}, strides[1] = {sizeof(float)};
    fk_request r;
    memset(&r, 0, sizeof r);
    r.data = out;
    r.ndim = 1;
    r.shape = shape;
    r.strides = strides;
    r.dtype = FK_DTYPE_FLOAT32;
    r.dist = FK_DIST_NORMAL;
    r.params.loc = 0.0;
    r.params.scale = 1.0;
    r.start.key[0] = (uint32_t)seed;
    r.threads = threads;
    r.isa = FK_ISA_AUTO;
    return fk_fill(&r);
}

static void *caller(void *arg)
{
    long id = (long)arg;
    float *mine = malloc(N * sizeof(float));
    int bad = 0;
    for (int round = 0; round < ROUNDS; round++) {
        if (fill(mine, 2 + (int)(id % 3), 7) != FK_OK || memcmp(mine, expected, N * sizeof(float)) != 0)
            bad = 1;
    }
    free(mine);
    return (void *)(long)bad;
}

int main(void)
{
    expected = malloc(N * sizeof(float));
    if (fill(expected, 1, 7) != FK_OK)
        return 1;
    pthread_t t[CALLERS];
    for (long i = 0; i < CALLERS; i++)
        pthread_create(&t[i], NULL, caller, (void *)i);
    int bad = 0;
    for (int i = 0; i < CALLERS; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad |= (int)(long)r;
    }
    printf("%s: %d callers x %d rounds of %d-element fills on the pool\n", bad ? "FAIL" : "ok",
           CALLERS, ROUNDS, N);
    free(expected);
    return bad;
}
