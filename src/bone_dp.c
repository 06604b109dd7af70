/* bone_dp.c - dynamic programming for a continuous bone surface across scan
 * lines. States per scan line: "no bone", or the surface at depth i. A surface
 * pays lambda per depth sample it moves between neighbouring scan lines, may
 * jump to another surface (penalty `jump`), and starts/ends against "no bone"
 * (penalties enter/leave); "no bone" earns tau per line, a surface sample
 * earns its evidence f. O(nr * nd). */
#include "bone_impl.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#define NEG (-FLT_MAX / 4)

usg_status usg_bone_dp_init(usg_bone_dp *dp, int nr, int nd) {
    memset(dp, 0, sizeof *dp);
    dp->nr = nr; dp->nd = nd;
    dp->vprev = malloc((size_t)nd * sizeof(float));
    dp->vcur = malloc((size_t)nd * sizeof(float));
    dp->back = malloc((size_t)nr * nd * sizeof(int16_t));
    dp->nback = malloc((size_t)nr * sizeof(int16_t));
    if (!dp->vprev || !dp->vcur || !dp->back || !dp->nback) {
        usg_bone_dp_free(dp);
        return usg_fail(USG_ERR_NOMEM, "bone: out of memory for the surface search");
    }
    return USG_OK;
}

void usg_bone_dp_free(usg_bone_dp *dp) {
    free(dp->vprev); free(dp->vcur); free(dp->back); free(dp->nback);
    memset(dp, 0, sizeof *dp);
}

/* Best value and its depth in v[0, nd). */
static float best_of(const float *v, int nd, int *arg) {
    float m = NEG;
    *arg = -1;
    for (int i = 0; i < nd; i++) if (v[i] > m) { m = v[i]; *arg = i; }
    return m;
}

/* One scan line: vcur from vprev; back pointers into bk. The best
 * predecessor under the L1 penalty lambda |i - k| is a two-pass max-plus
 * distance transform: O(nd). */
static void dp_line(const usg_bone_dp_params *pp, const float *fc, int lo, int hi, int nd,
                    const float *vprev, float mprev, int aprev, float nprev, float *vcur, int16_t *bk) {
    const float lam = pp->lambda;
    /* forward pass */
    vcur[0] = vprev[0];
    bk[0] = 0;
    for (int i = 1; i < nd; i++) {
        float c = vcur[i - 1] - lam;
        if (vprev[i] >= c) { vcur[i] = vprev[i]; bk[i] = (int16_t)i; }
        else { vcur[i] = c; bk[i] = bk[i - 1]; }
    }
    /* backward pass */
    for (int i = nd - 2; i >= 0; i--) {
        float c = vcur[i + 1] - lam;
        if (c > vcur[i]) { vcur[i] = c; bk[i] = bk[i + 1]; }
    }
    const float from_n = nprev - pp->enter, from_jump = mprev - pp->jump;
    for (int i = 0; i < nd; i++) {
        if (i < lo || i >= hi) { vcur[i] = NEG; bk[i] = -1; continue; }
        float best = vcur[i];
        if (from_jump > best) { best = from_jump; bk[i] = (int16_t)aprev; }
        if (from_n > best) { best = from_n; bk[i] = -1; }
        if (best <= NEG / 2) bk[i] = -1;
        vcur[i] = best + fc[i];
    }
}

void usg_bone_dp_run(usg_bone_dp *dp, const usg_bone_grid *g, const usg_bone_dp_params *pp,
                     const float *f, int16_t *path) {
    const int nr = g->nr, nd = g->nd;
    float nval = 0;
    for (int i = 0; i < nd; i++) dp->vprev[i] = NEG;
    for (int j = 0; j < nr; j++) {
        int aprev;
        float mprev = best_of(dp->vprev, nd, &aprev);
        dp_line(pp, f + (size_t)j * nd, g->lo[j], g->hi[j], nd, dp->vprev, mprev, aprev, nval,
                dp->vcur, dp->back + (size_t)j * nd);
        /* "no bone" after line j */
        float stay = nval, leave = mprev - pp->leave;
        dp->nback[j] = (int16_t)(leave > stay && aprev >= 0 ? aprev : -1);
        nval = (leave > stay ? leave : stay) + pp->tau;
        float *t = dp->vprev; dp->vprev = dp->vcur; dp->vcur = t;
    }
    /* end: the better of "no bone" and a surface at the last line */
    int cur;
    float m = best_of(dp->vprev, nd, &cur);
    if (!(m - pp->leave > nval)) cur = -1;
    for (int j = nr - 1; j >= 0; j--) {
        path[j] = (int16_t)cur;
        if (cur >= 0) cur = dp->back[(size_t)j * nd + cur];
        else cur = dp->nback[j];
    }
}
