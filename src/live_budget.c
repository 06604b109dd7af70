/* live_budget.c - the live loop's per-frame deadline (degrade, then drop)
 * and its latency histogram. The policy is described in live_impl.h and
 * usg/live.h. */
#include "live_impl.h"

#include <math.h>
#include <stdlib.h>

void budget_init(budget *b, double budget_ms, int max_level) {
    b->budget_ms = budget_ms > 0 ? budget_ms : 1.0;
    b->level = 0;
    b->max_level = max_level;
    b->calm = 0;
    b->debt_ms = 0;
}

int budget_should_drop(budget *b) {
    if (b->debt_ms <= 0) return 0;
    b->debt_ms -= b->budget_ms;
    if (b->debt_ms < 0) b->debt_ms = 0;
    return 1;
}

void budget_update(budget *b, double e2e_ms) {
    if (e2e_ms > b->budget_ms) {
        b->calm = 0;
        if (b->level < b->max_level) {
            b->level++;
        } else {
            b->debt_ms += e2e_ms - b->budget_ms;
            double cap = BUDGET_DEBT_CAP * b->budget_ms;
            if (b->debt_ms > cap) b->debt_ms = cap;
        }
        return;
    }
    if (e2e_ms < BUDGET_RECOVER_SHARE * b->budget_ms) {
        if (++b->calm >= BUDGET_RECOVER_FRAMES && b->level > 0) {
            b->level--;
            b->calm = 0;
        }
    } else {
        b->calm = 0;
    }
}

int histo_init(histo *h) {
    h->bins = calloc(HIST_BINS, sizeof *h->bins);
    h->n = 0;
    h->max = 0;
    h->sum = 0;
    return h->bins ? 0 : -1;
}

void histo_free(histo *h) {
    free(h->bins);
    h->bins = NULL;
}

void histo_add(histo *h, double ms) {
    if (!(ms >= 0)) ms = 0; /* also NaN */
    long i = (long)(ms / HIST_BIN_MS);
    if (i >= HIST_BINS) i = HIST_BINS - 1;
    h->bins[i]++;
    h->n++;
    h->sum += ms;
    if (ms > h->max) h->max = ms;
}

double histo_quantile(const histo *h, double q) {
    if (h->n == 0) return 0;
    long rank = (long)ceil(q * (double)h->n);
    if (rank < 1) rank = 1;
    long seen = 0;
    for (long i = 0; i < HIST_BINS; i++) {
        seen += h->bins[i];
        if (seen >= rank) {
            if (i == HIST_BINS - 1) return h->max; /* the overflow bin */
            double v = (double)(i + 1) * HIST_BIN_MS;
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}
