/*
 * pool.h: a persistent pthread pool for fk_fill. Work is a count of chunks, taken in any order
 * by any thread; fills never depend on who computes a chunk.
 */
#ifndef FK_POOL_H
#define FK_POOL_H

#include <stdint.h>

typedef void (*fk_chunk_fn)(void *arg, uint64_t chunk);
typedef int (*fk_stop_fn)(void *ctx);

/* Run fn(arg, c) for every c in [0, nchunks) on up to `threads` threads, the caller included.
 * The caller polls stop(stop_ctx), at most every few tens of milliseconds, between its chunks;
 * once it returns nonzero no new chunk starts. Returns 1 if stopped early, else 0. If stop()
 * forks, the child redoes every chunk before it returns (fn must be idempotent). */
int fk_pool_run(int threads, uint64_t nchunks, fk_chunk_fn fn, void *arg, fk_stop_fn stop,
                void *stop_ctx);

#endif /* FK_POOL_H */
