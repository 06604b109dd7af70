/* pool.c - a fixed set of worker threads running a parallel loop (usg/pool.h). */
#include "usg/pool.h"
#include "thread_start.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

struct usg_pool {
    int threads;                        /* the caller's included */
    int nworkers;                       /* started */
    pthread_t tid[USG_POOL_MAX_THREADS];
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    /* under mu: the current loop */
    unsigned long gen;                  /* incremented per loop */
    int pending;                        /* workers still running it */
    int quit;
    usg_pool_fn fn;
    void *arg;
    int count;
};

typedef struct worker_arg {
    usg_pool *p;
    int thread;
} worker_arg;

/* This thread's share of the loop: every threads-th index from `thread`. */
static void run_share(usg_pool_fn fn, void *arg, int count, int thread, int threads) {
    for (int i = thread; i < count; i += threads) fn(arg, i, thread);
}

static void *worker_main(void *a) {
    usg_pool *p = ((worker_arg *)a)->p;
    const int thread = ((worker_arg *)a)->thread;
    free(a);
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->quit) pthread_cond_wait(&p->go, &p->mu);
        if (p->quit) break;
        seen = p->gen;
        usg_pool_fn fn = p->fn;
        void *arg = p->arg;
        int count = p->count;
        pthread_mutex_unlock(&p->mu);
        run_share(fn, arg, count, thread, p->threads);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int usg_thread_start_normal(pthread_t *tid, void *(*fn)(void *), void *arg) {
    pthread_attr_t attr;
    struct sched_param sp = {0};
    pthread_attr_init(&attr);
    pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&attr, SCHED_OTHER);
    pthread_attr_setschedparam(&attr, &sp);
    int rc = pthread_create(tid, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return rc;
}

usg_status usg_pool_new(int threads, usg_pool **out) {
    if (!out) return usg_fail(USG_ERR_ARG, "pool: NULL output");
    *out = NULL;
    if (threads < 0) return usg_fail(USG_ERR_ARG, "pool: %d threads (expected 0 for one per processor, or 1..%d)",
                                      threads, USG_POOL_MAX_THREADS);
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    if (threads > USG_POOL_MAX_THREADS) threads = USG_POOL_MAX_THREADS;
    usg_pool *p = calloc(1, sizeof *p);
    if (!p) return usg_fail(USG_ERR_NOMEM, "pool: out of memory");
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int w = 1; w < threads; w++) {
        worker_arg *a = malloc(sizeof *a);
        int rc = a ? 0 : -1;
        if (a) {
            a->p = p;
            a->thread = w;
            rc = usg_thread_start_normal(&p->tid[w], worker_main, a); /* (a real-time caller's loop must not starve) */
            if (rc != 0) free(a);
        }
        if (rc != 0) { /* the system gives no more threads: the loops run on those started */
            p->threads = w;
            break;
        }
        p->nworkers = w;
    }
    *out = p;
    return USG_OK;
}

int usg_pool_threads(const usg_pool *p) { return p ? p->threads : 1; }

void usg_pool_run(usg_pool *p, int count, usg_pool_fn fn, void *arg) {
    if (count <= 0) return;
    if (!p || p->threads == 1 || count == 1) {
        run_share(fn, arg, count, 0, 1);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->count = count;
    p->pending = p->nworkers;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    run_share(fn, arg, count, 0, p->threads);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void usg_pool_free(usg_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int w = 1; w <= p->nworkers; w++) pthread_join(p->tid[w], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    free(p);
}
