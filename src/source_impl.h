/* source_impl.h - internal: how a frame source plugs into usg_source.
 *
 * Each source kind lives in its own src/source_<kind>.c and provides an
 * open function that fills a usg_source (vtable + private state). */
#ifndef USG_SOURCE_IMPL_H
#define USG_SOURCE_IMPL_H

#include <limits.h>
#include "usg/source.h"

typedef struct usg_source_vt {
    /* Fill *out with the next frame (see usg_source_next for the codes). */
    usg_status (*next)(usg_source *s, usg_frame *out);
    /* Release the private state (not the usg_source itself). */
    void (*close)(usg_source *s);
} usg_source_vt;

struct usg_source {
    const usg_source_vt *vt;
    void *priv;               /* the kind's state */
    usg_source_kind kind;
    int live;                 /* device or network */
    int count;                /* frames if known, else -1 */
    double fps;               /* 0 if unknown */
    char dir[PATH_MAX];       /* directory of the recording ("" for live) */
    char name[PATH_MAX];      /* the path/URI as given, for messages */
};

/* Per-kind openers: each fills s->vt, s->priv, count, fps (the dispatcher sets
 * kind, live, dir and name first). Errors name the input. */
usg_status usg_source_open_png(usg_source *s, const char *path);
usg_status usg_source_open_png_dir(usg_source *s, const char *path);
usg_status usg_source_open_metaimage(usg_source *s, const char *path);
usg_status usg_source_open_video(usg_source *s, const char *path);
usg_status usg_source_open_v4l2(usg_source *s, const char *path, const usg_source_opts *o);
usg_status usg_source_open_igtl(usg_source *s, const char *uri, const usg_source_opts *o);

#endif
