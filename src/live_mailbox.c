/* live_mailbox.c - the one-slot "latest frame wins" mailbox of the live loop.
 *
 * Three frame buffers rotate between the capture thread (fills one), the slot
 * (the newest published frame) and the processing thread (works on one):
 * publishing and taking swap buffer indices under the lock, so no pixels are
 * copied and nothing ever queues. A frame still in the slot when a newer one
 * is published is recorded as dropped; its result line is written later, in
 * input order. */
#include "live_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void abs_deadline(struct timespec *ts, double wait_ms) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    long long ns = ts->tv_nsec + (long long)(wait_ms * 1e6);
    ts->tv_sec += (time_t)(ns / 1000000000LL);
    ts->tv_nsec = (long)(ns % 1000000000LL);
}

int mailbox_init(mailbox *m) {
    memset(m, 0, sizeof *m);
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca)) return -1;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int bad = pthread_mutex_init(&m->mu, NULL) || pthread_cond_init(&m->cv, &ca) ||
              pthread_cond_init(&m->space, &ca);
    pthread_condattr_destroy(&ca);
    if (bad) return -1;
    m->producer = 0;
    m->slot = 1;
    m->consumer = 2;
    return 0;
}

void mailbox_destroy(mailbox *m) {
    for (int i = 0; i < 3; i++) free(m->buf[i].img.data);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    pthread_cond_destroy(&m->space);
    memset(m, 0, sizeof *m);
}

mb_frame *mailbox_producer_frame(mailbox *m, int w, int h) {
    /* The producer buffer belongs to the capture thread alone: no lock. */
    mb_frame *f = &m->buf[m->producer];
    size_t need = (size_t)w * (size_t)h;
    if (need > f->cap) {
        uint8_t *p = realloc(f->img.data, need);
        if (!p) return NULL;
        f->img.data = p;
        f->cap = need;
    }
    f->img.width = w;
    f->img.height = h;
    f->img.stride = w;
    return f;
}

/* Append an event; called with the lock held. Waits while the list is full. */
static void push_event(mailbox *m, const mb_event *e) {
    while (m->ev_n == MB_EVENT_CAP) pthread_cond_wait(&m->space, &m->mu);
    m->ev[(m->ev_head + m->ev_n) % MB_EVENT_CAP] = *e;
    m->ev_n++;
}

void mailbox_publish(mailbox *m) {
    pthread_mutex_lock(&m->mu);
    if (m->full) {
        const mb_frame *old = &m->buf[m->slot];
        mb_event e = {.kind = MB_DROPPED, .index = old->index, .t_ms = old->t_ms,
                      .stamp_ms = old->stamp_ms};
        push_event(m, &e);
        m->overwritten++;
    }
    int t = m->slot;
    m->slot = m->producer;
    m->producer = t;
    m->full = 1;
    m->published++;
    m->last_arrival_ms = m->buf[m->slot].stamp_ms;
    m->fault = 0;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

void mailbox_post_error(mailbox *m, int index, double t_ms, double stamp_ms, const char *msg) {
    mb_event e = {.kind = MB_ERROR, .index = index, .t_ms = t_ms, .stamp_ms = stamp_ms};
    snprintf(e.msg, sizeof e.msg, "%s", msg ? msg : "frame error");
    pthread_mutex_lock(&m->mu);
    push_event(m, &e);
    m->last_arrival_ms = stamp_ms;
    m->fault = 0;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

void mailbox_post_fault(mailbox *m, const char *msg) {
    pthread_mutex_lock(&m->mu);
    m->fault = 1;
    m->faults++;
    snprintf(m->fault_msg, sizeof m->fault_msg, "%s", msg ? msg : "no signal");
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

void mailbox_close(mailbox *m, int status, const char *msg) {
    pthread_mutex_lock(&m->mu);
    m->closed = 1;
    m->close_status = status;
    snprintf(m->close_msg, sizeof m->close_msg, "%s", msg ? msg : "");
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

void mailbox_wake(mailbox *m) {
    pthread_mutex_lock(&m->mu);
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

static int cmp_event(const void *a, const void *b) {
    int ia = ((const mb_event *)a)->index, ib = ((const mb_event *)b)->index;
    return (ia > ib) - (ia < ib);
}

int mailbox_take(mailbox *m, double wait_ms, mb_take *t) {
    t->frame = NULL;
    t->n_ev = 0;
    t->closed = 0;
    pthread_mutex_lock(&m->mu);
    if (!m->full && m->ev_n == 0 && !m->closed && wait_ms > 0) {
        struct timespec dl;
        abs_deadline(&dl, wait_ms);
        int rc = 0;
        while (!m->full && m->ev_n == 0 && !m->closed && rc != ETIMEDOUT) {
            rc = pthread_cond_timedwait(&m->cv, &m->mu, &dl);
        }
    }
    if (m->full) {
        int c = m->consumer;
        m->consumer = m->slot;
        m->slot = c;
        m->full = 0;
        t->frame = &m->buf[m->consumer];
    }
    for (int i = 0; i < m->ev_n; i++) t->ev[i] = m->ev[(m->ev_head + i) % MB_EVENT_CAP];
    t->n_ev = m->ev_n;
    m->ev_head = 0;
    m->ev_n = 0;
    if (t->n_ev) pthread_cond_signal(&m->space);
    int closed = m->closed;
    t->closed = closed && !t->frame && t->n_ev == 0;
    t->close_status = m->close_status;
    snprintf(t->close_msg, sizeof t->close_msg, "%s", m->close_msg);
    t->fault = m->fault;
    snprintf(t->fault_msg, sizeof t->fault_msg, "%s", m->fault_msg);
    t->last_arrival_ms = m->last_arrival_ms;
    pthread_mutex_unlock(&m->mu);
    if (t->n_ev > 1) qsort(t->ev, (size_t)t->n_ev, sizeof t->ev[0], cmp_event);
    return t->frame || t->n_ev || closed;
}
