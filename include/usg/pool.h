/* usg/pool.h - a fixed set of worker threads running a parallel loop.
 *
 * The threads are made once (in _new) and wait between loops; a loop
 * allocates nothing. Work is split statically: index i runs on thread
 * i % threads (thread 0 is the caller), so which thread ran an index
 * never depends on timing. */
#ifndef USG_POOL_H
#define USG_POOL_H

#include "usg/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most threads a pool runs (the caller's included). */
#define USG_POOL_MAX_THREADS 8

typedef struct usg_pool usg_pool;

/* One iteration of a parallel loop: `index` of the loop, run on thread
 * `thread` (0 = the caller of usg_pool_run, 1.. = workers). */
typedef void (*usg_pool_fn)(void *arg, int index, int thread);

/* Make a pool of `threads` threads, the caller's included (1: no workers, a
 * loop runs on the caller only; 0: one per online processor). Capped at
 * USG_POOL_MAX_THREADS; fewer when the system refuses to start more (the
 * loops then run on those it started, the caller's at least: see
 * usg_pool_threads). USG_ERR_ARG for a negative count; USG_ERR_NOMEM when
 * the pool's memory cannot be had. *out is the caller's (usg_pool_free). */
usg_status usg_pool_new(int threads, usg_pool **out);

/* The number of threads of the pool (the caller's included); 1 for NULL. */
int usg_pool_threads(const usg_pool *p);

/* Run fn(arg, i, i % threads) for i = 0..count-1 and return when every one
 * has returned. With a NULL pool, on the caller only. Not reentrant: one
 * loop at a time per pool, from one thread. */
void usg_pool_run(usg_pool *p, int count, usg_pool_fn fn, void *arg);

/* Stop and join the workers and free the pool; NULL is a no-op. */
void usg_pool_free(usg_pool *p);

#ifdef __cplusplus
}
#endif

#endif
