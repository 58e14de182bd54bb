/*
 * pool.c: workers are started on first use and kept. One job runs at a time; a caller that
 * finds the pool busy (another thread's fill) runs its job on its own thread. After fork()
 * the child starts with no workers and fresh locks; a job whose caller forked (a signal handler
 * run by `stop`) is redone in the child, whose copies of the workers' chunks were lost.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

#include "pool.h"

#define FK_POOL_MAX 1024
/* The caller polls for a stop at most this often (a Ctrl-C answers within about this). */
#define FK_POLL_NS 20000000

typedef struct {
    fk_chunk_fn fn;
    void *arg;
    uint64_t nchunks;
    atomic_uint_fast64_t next; /* next chunk to take */
    atomic_int stop;
} fk_job;

static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;   /* one job at a time */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER; /* guards the fields below */
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static int nworkers;
static uint64_t generation;   /* bumped for each job */
static int participants;      /* workers 0 .. participants - 1 take part in the job */
static int finished;          /* of those, how many are done */
static fk_job *current;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static atomic_uint forks; /* bumped in each child: a job that sees it change was forked */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Take chunks until none are left or the job stops; with `stop`, poll it every FK_POLL_NS. */
static void run_chunks(fk_job *job, fk_stop_fn stop, void *stop_ctx)
{
    uint64_t last = stop ? now_ns() : 0;
    for (;;) {
        if (atomic_load_explicit(&job->stop, memory_order_relaxed))
            return;
        uint64_t c = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed);
        if (c >= job->nchunks)
            return;
        job->fn(job->arg, c);
        if (stop) {
            uint64_t t = now_ns();
            if (t - last >= FK_POLL_NS) {
                last = t;
                if (stop(stop_ctx))
                    atomic_store(&job->stop, 1);
            }
        }
    }
}

static void *worker_main(void *arg)
{
    int index = (int)(intptr_t)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals go to the caller's thread */
    uint64_t seen = 0;
    pthread_mutex_lock(&state_lock);
    for (;;) {
        while (generation == seen)
            pthread_cond_wait(&work_cv, &state_lock);
        seen = generation;
        if (index >= participants)
            continue;
        fk_job *job = current;
        pthread_mutex_unlock(&state_lock);
        run_chunks(job, NULL, NULL);
        pthread_mutex_lock(&state_lock);
        if (++finished == participants)
            pthread_cond_signal(&done_cv);
    }
    return NULL;
}

static void after_fork_in_child(void)
{
    /* the workers did not survive the fork; locks may have been held by them */
    pthread_mutex_init(&job_lock, NULL);
    pthread_mutex_init(&state_lock, NULL);
    pthread_cond_init(&work_cv, NULL);
    pthread_cond_init(&done_cv, NULL);
    nworkers = 0;
    generation = 0;
    participants = 0;
    finished = 0;
    current = NULL;
    atomic_fetch_add(&forks, 1);
}

static void register_atfork(void) { pthread_atfork(NULL, NULL, after_fork_in_child); }

/* Start workers up to `want`; returns how many exist. Called with state_lock held. */
static int grow(int want)
{
    if (want > FK_POOL_MAX)
        want = FK_POOL_MAX;
    while (nworkers < want) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &attr, worker_main, (void *)(intptr_t)nworkers);
        pthread_attr_destroy(&attr);
        if (rc != 0)
            break; /* fewer threads: same results, only slower */
        nworkers++;
    }
    return nworkers;
}

int fk_pool_run(int threads, uint64_t nchunks, fk_chunk_fn fn, void *arg, fk_stop_fn stop,
                void *stop_ctx)
{
    fk_job job;
    job.fn = fn;
    job.arg = arg;
    job.nchunks = nchunks;
    atomic_init(&job.next, 0);
    atomic_init(&job.stop, 0);

    int helpers = threads - 1;
    if ((uint64_t)helpers > nchunks - 1)
        helpers = (int)(nchunks - 1);
    if (helpers <= 0 || pthread_mutex_trylock(&job_lock) != 0) {
        run_chunks(&job, stop, stop_ctx); /* alone: small job, or the pool is busy */
        return atomic_load(&job.stop);
    }
    pthread_once(&atfork_once, register_atfork);
    unsigned forks_before = atomic_load(&forks);
    pthread_mutex_lock(&state_lock);
    int have = grow(helpers);
    participants = have < helpers ? have : helpers;
    finished = 0;
    current = &job;
    generation++;
    pthread_cond_broadcast(&work_cv);
    pthread_mutex_unlock(&state_lock);

    run_chunks(&job, stop, stop_ctx);

    if (atomic_load(&forks) != forks_before) {
        /* We are a child forked during the job: the chunks the parent's workers had claimed
         * may be unwritten here. A chunk writes the same bits each time, so redo every chunk
         * on a fresh pool; the locks were reset by the fork and are not ours to release. */
        if (atomic_load(&job.stop))
            return 1;
        return fk_pool_run(threads, nchunks, fn, arg, stop, stop_ctx);
    }
    pthread_mutex_lock(&state_lock);
    while (finished < participants)
        pthread_cond_wait(&done_cv, &state_lock);
    current = NULL;
    pthread_mutex_unlock(&state_lock);
    pthread_mutex_unlock(&job_lock);
    return atomic_load(&job.stop);
}
