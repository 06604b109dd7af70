/* test_pool.c - the worker pool's parallel loop (usg/pool.h). */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <string.h>

#include "usg/pool.h"

#define MAXN 1000

/* Per index: how often it ran and on which thread. */
typedef struct record {
    atomic_int runs[MAXN];
    int thread[MAXN];
} record;

static void note(void *arg, int index, int thread) {
    record *r = arg;
    atomic_fetch_add(&r->runs[index], 1);
    r->thread[index] = thread;
}

/* Run a loop of `count` on p and check every index ran once, on thread index % threads. */
static void check_loop(usg_pool *p, int count) {
    static record r;
    for (int i = 0; i < MAXN; i++) atomic_store(&r.runs[i], 0);
    memset(r.thread, -1, sizeof r.thread);
    usg_pool_run(p, count, note, &r);
    int n = usg_pool_threads(p);
    for (int i = 0; i < count; i++) {
        cr_assert_eq(atomic_load(&r.runs[i]), 1, "index %d of %d ran %d times (%d threads)", i, count,
                     atomic_load(&r.runs[i]), n);
        cr_assert_eq(r.thread[i], i % n, "index %d ran on thread %d, expected %d of %d", i, r.thread[i], i % n, n);
    }
    for (int i = count; i < MAXN; i++) cr_assert_eq(atomic_load(&r.runs[i]), 0, "index %d beyond %d ran", i, count);
}

Test(pool, every_index_runs_once_on_its_thread) {
    const int counts[] = {0, 1, 2, 7, 44, 999};
    for (int threads = 1; threads <= 4; threads++) {
        usg_pool *p = NULL;
        cr_assert_eq(usg_pool_new(threads, &p), USG_OK, "%s", usg_last_error());
        cr_assert_eq(usg_pool_threads(p), threads);
        for (int rep = 0; rep < 50; rep++) check_loop(p, counts[rep % 6]);
        usg_pool_free(p);
    }
}

Test(pool, null_pool_runs_on_the_caller) {
    cr_assert_eq(usg_pool_threads(NULL), 1);
    check_loop(NULL, 17);
}

Test(pool, thread_counts_are_checked_and_capped) {
    usg_pool *p = (usg_pool *)&p;
    cr_assert_eq(usg_pool_new(-2, &p), USG_ERR_ARG);
    cr_assert_null(p);
    cr_assert(strstr(usg_last_error(), "-2 threads"), "message: %s", usg_last_error());
    cr_assert_eq(usg_pool_new(0, &p), USG_OK, "%s", usg_last_error());
    cr_assert(usg_pool_threads(p) >= 1 && usg_pool_threads(p) <= USG_POOL_MAX_THREADS, "%d threads",
              usg_pool_threads(p));
    check_loop(p, 100);
    usg_pool_free(p);
    cr_assert_eq(usg_pool_new(USG_POOL_MAX_THREADS + 5, &p), USG_OK, "%s", usg_last_error());
    cr_assert_eq(usg_pool_threads(p), USG_POOL_MAX_THREADS);
    check_loop(p, 100);
    usg_pool_free(p);
    usg_pool_free(NULL);
}

/* A loop whose iterations take unequal time: the caller still waits for all. */
static void slow_odd(void *arg, int index, int thread) {
    (void)thread;
    atomic_int *done = arg;
    if (index % 2) {
        volatile double x = 0;
        for (int i = 0; i < 200000; i++) x += i * 1e-9;
    }
    atomic_fetch_add(done, 1);
}

Test(pool, run_returns_after_every_iteration) {
    usg_pool *p = NULL;
    cr_assert_eq(usg_pool_new(3, &p), USG_OK, "%s", usg_last_error());
    for (int rep = 0; rep < 20; rep++) {
        atomic_int done = 0;
        usg_pool_run(p, 31, slow_odd, &done);
        cr_assert_eq(atomic_load(&done), 31, "loop %d: %d of 31 done when run returned", rep, atomic_load(&done));
    }
    usg_pool_free(p);
}
