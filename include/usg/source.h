/* usg/source.h - frame sources behind one interface: open, next, close.
 *
 * A source yields grey frames with a timestamp. Recorded sources: a PNG file,
 * a directory of PNG frames, a PLUS sequence metafile (.mha/.igs.mha/.seq.mha
 * LOCAL raw or zlib, .mhd + raw), a video file. Live sources: /dev/videoN and
 * igtl://HOST:PORT. The frame image returned by usg_source_next is owned by
 * the source and valid until the next call on it. */
#ifndef USG_SOURCE_H
#define USG_SOURCE_H

#include "usg/image.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct usg_source usg_source;

typedef struct usg_frame {
    usg_image image;     /* grey pixels, owned by the source */
    int index;           /* 0-based position in the input */
    double t_ms;         /* timestamp: recorded, or capture time for live sources */
    int has_spacing;     /* the source carries spacing (IGTL image messages) */
    double spacing_x_mm, spacing_y_mm;
} usg_frame;

typedef struct usg_source_opts {
    /* V4L2 capture request (0 = device default) */
    int width, height;
    double fps;
    char pixel_format[8]; /* "YUYV", "MJPG", "" = default */
    /* network sources: receive timeout in ms for one read (0 = default 2000) */
    int timeout_ms;
} usg_source_opts;

typedef enum usg_source_kind {
    USG_SOURCE_PNG = 0, USG_SOURCE_PNG_DIR, USG_SOURCE_METAIMAGE, USG_SOURCE_VIDEO,
    USG_SOURCE_V4L2, USG_SOURCE_IGTL
} usg_source_kind;

/* Open a source by path or URI; opts may be NULL. Errors name the input:
 * USG_ERR_IO (missing/unreadable), USG_ERR_FORMAT (corrupt header),
 * USG_ERR_UNSUPPORTED (element type, channels). */
usg_status usg_source_open(const char *uri, const usg_source_opts *opts, usg_source **out);

/* The next frame. Returns USG_OK with *out filled; USG_ERR_EOF at the end;
 * USG_ERR_FRAME when this one frame cannot be decoded or its ImageStatus is
 * not OK (out->index and out->t_ms are still set and the next call goes on
 * with the following frame); any other code is fatal for the source. */
usg_status usg_source_next(usg_source *s, usg_frame *out);

/* Number of frames if known (recordings), else -1. */
int usg_source_count(const usg_source *s);

/* Nominal frame rate from timestamps or the container, 0 if unknown. */
double usg_source_fps(const usg_source *s);

/* What kind of source this is. */
usg_source_kind usg_source_get_kind(const usg_source *s);

/* 1 for live sources (device, network), 0 for recordings. */
int usg_source_is_live(const usg_source *s);

/* Directory holding the recording's data (for probe.ini / truth.jsonl lookup);
 * "" for live sources. Owned by the source. */
const char *usg_source_dir(const usg_source *s);

/* Close and free (NULL is ignored). */
void usg_source_close(usg_source *s);

#ifdef __cplusplus
}
#endif
#endif
