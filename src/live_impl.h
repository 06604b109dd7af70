/* live_impl.h - internal pieces of the live loop (include/usg/live.h):
 *
 *  - the one-slot "latest frame wins" mailbox between the capture thread and
 *    the processing thread, with a side list of frames that will never be
 *    processed (overwritten = dropped, undecodable = error) so that every
 *    input frame still gets its result line, in input order;
 *  - the budget controller: per-frame deadline, degradation levels, drops;
 *  - the latency histogram (percentiles without storing samples).
 *
 * Each is allocation-free after its init/new. */
#ifndef USG_LIVE_IMPL_H
#define USG_LIVE_IMPL_H

#include <pthread.h>
#include "usg/image.h"

/* Stamps and timings use usg_now_ms() (usg/pipeline.h, CLOCK_MONOTONIC). */
#include "usg/pipeline.h"

/* ---- mailbox ----------------------------------------------------------- */

/* A captured frame in one of the mailbox's three buffers. */
typedef struct mb_frame {
    usg_image img;       /* owned pixels (img.data capacity in cap) */
    size_t cap;
    int index;           /* input position */
    double t_ms;         /* the source's timestamp */
    double stamp_ms;     /* capture stamp (usg_now_ms at arrival) */
    int has_spacing;
    double spacing_x_mm, spacing_y_mm;
} mb_frame;

typedef enum mb_event_kind { MB_DROPPED = 1, MB_ERROR = 2 } mb_event_kind;

/* A frame that will not be processed. */
typedef struct mb_event {
    mb_event_kind kind;
    int index;
    double t_ms, stamp_ms;
    char msg[200];       /* MB_ERROR: why */
} mb_event;

#define MB_EVENT_CAP 1024

typedef struct mailbox {
    pthread_mutex_t mu;
    pthread_cond_t cv;        /* consumer waits for a frame / event / close */
    pthread_cond_t space;     /* producer waits when the event list is full */
    mb_frame buf[3];
    int producer, slot, consumer; /* which buf each side holds */
    int full;                 /* the slot holds an unconsumed frame */
    mb_event ev[MB_EVENT_CAP];
    int ev_head, ev_n;
    int closed;               /* the producer has finished */
    int close_status;         /* usg_status it finished with */
    char close_msg[256];
    /* signal state */
    double last_arrival_ms;   /* stamp of the last frame or error frame (0: none yet) */
    int fault;                /* a transient source failure since the last arrival */
    char fault_msg[256];
    long faults;              /* transient failures so far */
    long published, overwritten;
} mailbox;

/* Initialise (no frame buffers yet; they grow to the frame size on first use). */
int mailbox_init(mailbox *m);
/* Free buffers and sync objects. */
void mailbox_destroy(mailbox *m);

/* Producer: the buffer to fill next, grown to w x h (allocates only when the
 * frame size grows). NULL on allocation failure. */
mb_frame *mailbox_producer_frame(mailbox *m, int w, int h);
/* Producer: publish the filled producer frame. If the slot still held an
 * unconsumed frame, that frame becomes a MB_DROPPED event. */
void mailbox_publish(mailbox *m);
/* Producer: record a frame that could not be decoded. Waits while the event
 * list is full (only if the consumer stalls for MB_EVENT_CAP frames). */
void mailbox_post_error(mailbox *m, int index, double t_ms, double stamp_ms, const char *msg);
/* Producer: a transient source failure (no signal, reconnecting). */
void mailbox_post_fault(mailbox *m, const char *msg);
/* Producer: no more frames; status USG_OK/USG_ERR_EOF for a normal end. */
void mailbox_close(mailbox *m, int status, const char *msg);

/* What the consumer got from one take. */
typedef struct mb_take {
    mb_frame *frame;          /* the newest frame, or NULL (then only events / close) */
    mb_event ev[MB_EVENT_CAP];/* events taken, sorted by index */
    int n_ev;
    int closed;               /* the producer has finished and nothing is left */
    int close_status;
    char close_msg[256];
    int fault;                /* signal trouble: fault_msg says why */
    char fault_msg[256];
    double last_arrival_ms;
} mb_take;

/* Consumer: wait up to wait_ms for anything, then take the newest frame (if
 * any) and all pending events. Returns 1 if something (frame, events or
 * close) was taken, 0 on timeout. t->fault / last_arrival_ms are always set. */
int mailbox_take(mailbox *m, double wait_ms, mb_take *t);
/* Wake a consumer waiting in mailbox_take (stop requests). */
void mailbox_wake(mailbox *m);

/* ---- budget controller ------------------------------------------------- */

/* Degradation policy (documented in usg/live.h):
 *  - a processed frame whose capture-to-overlay latency ran over the budget
 *    raises the degradation level by one (up to max_level);
 *  - at the top level, an overrun becomes debt: the time over budget; while
 *    there is debt, frames are dropped, each paying one budget off (debt is
 *    capped at BUDGET_DEBT_CAP budgets, so a one-off stall drops at most that many);
 *  - BUDGET_RECOVER_FRAMES frames in a row under BUDGET_RECOVER_SHARE of the
 *    budget lower the level by one. */
#define BUDGET_RECOVER_FRAMES 15
#define BUDGET_RECOVER_SHARE 0.6
#define BUDGET_DEBT_CAP 3.0

typedef struct budget {
    double budget_ms;
    int level, max_level;
    int calm;            /* consecutive frames well under budget */
    double debt_ms;
} budget;

void budget_init(budget *b, double budget_ms, int max_level);
/* Called for each frame about to be processed: 1 = drop it (pays debt). */
int budget_should_drop(budget *b);
/* Called after a processed frame with its capture-to-overlay latency. */
void budget_update(budget *b, double e2e_ms);

/* ---- latency histogram ------------------------------------------------- */

#define HIST_BIN_MS 0.02
#define HIST_BINS 100000      /* 0 .. 2000 ms; above goes in the last bin */

typedef struct histo {
    unsigned *bins;
    long n;
    double max, sum;
} histo;

int histo_init(histo *h);
void histo_free(histo *h);
void histo_add(histo *h, double ms);
/* The q-quantile (0..1) in ms, to HIST_BIN_MS (upper edge of its bin, capped
 * at the max seen); 0 when empty. */
double histo_quantile(const histo *h, double q);

#endif
