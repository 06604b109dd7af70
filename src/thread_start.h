/* thread_start.h - starting a library thread (internal). */
#ifndef USG_THREAD_START_H
#define USG_THREAD_START_H

#include <pthread.h>

/* Start fn(arg) on a new thread at normal priority (SCHED_OTHER) even when
 * the caller runs real-time: the library's background work must not starve
 * a real-time caller's other threads. pthread_create's result (0: started). */
int usg_thread_start_normal(pthread_t *tid, void *(*fn)(void *), void *arg);

#endif
