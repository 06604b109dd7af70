/* usg/recorder.h - writes overlay frames: a directory of PNGs (NNNN.png) or a
 * video file (.avi / .mp4 through OpenCV). */
#ifndef USG_RECORDER_H
#define USG_RECORDER_H

#include "usg/image.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct usg_recorder usg_recorder;

/* Open `path`: a name ending in .avi/.mp4/.mkv is a video file, anything else a
 * directory (created if missing). fps is used for video. Errors name the path. */
usg_status usg_recorder_open(const char *path, int width, int height, double fps, usg_recorder **out);

/* Write frame number `index` (PNG name uses it: %04d.png). */
usg_status usg_recorder_write(usg_recorder *r, const usg_rgb *img, int index);

/* Finish and free (NULL ignored). Returns an error if the file could not be completed. */
usg_status usg_recorder_close(usg_recorder *r);

#ifdef __cplusplus
}
#endif
#endif
