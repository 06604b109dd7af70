/* cvshim.h - the C API to the few OpenCV 4 functions usguide uses.
 *
 * Only src/cvshim/cvshim.cpp includes OpenCV. Every function catches C++
 * exceptions and reports them as usg_status with a message. Handles are
 * opaque; images are usg_image/usg_rgb views (no copies unless stated). */
#ifndef USG_CVSHIM_H
#define USG_CVSHIM_H

#include "usg/image.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- video files and capture devices ---- */
typedef struct cvshim_capture cvshim_capture;

/* Open a video file for reading. USG_ERR_IO/FORMAT naming the file. */
usg_status cvshim_capture_open_file(const char *path, cvshim_capture **out);
/* Open a V4L2 device (/dev/videoN) with optional width/height/fps/fourcc (0/"" = default). */
usg_status cvshim_capture_open_device(const char *path, int width, int height, double fps,
                                      const char *fourcc, cvshim_capture **out);
/* Grab and decode the next frame to grey. If grey->data is NULL it is
 * allocated to the frame's size (caller frees with usg_image_free) and
 * reallocated if the size changes. USG_ERR_EOF at the end of a file,
 * USG_ERR_IO when a device fails. *t_ms gets the container/device stamp (ms). */
usg_status cvshim_capture_read(cvshim_capture *c, usg_image *grey, double *t_ms);
/* Frame count (files; -1 unknown), fps (0 unknown), frame size. */
int cvshim_capture_count(const cvshim_capture *c);
double cvshim_capture_fps(const cvshim_capture *c);
void cvshim_capture_size(const cvshim_capture *c, int *w, int *h);
void cvshim_capture_close(cvshim_capture *c);

/* ---- video writing ---- */
typedef struct cvshim_writer cvshim_writer;
usg_status cvshim_writer_open(const char *path, int width, int height, double fps, cvshim_writer **out);
usg_status cvshim_writer_write(cvshim_writer *w, const usg_rgb *img);
void cvshim_writer_close(cvshim_writer *w);

/* ---- filters (in and out same size, must not alias) ---- */
usg_status cvshim_median(const usg_image *in, usg_image *out, int ksize);
usg_status cvshim_bilateral(const usg_image *in, usg_image *out, int d, double sigma_color, double sigma_space);
usg_status cvshim_gaussian(const usg_image *in, usg_image *out, int ksize, double sigma);
/* Resize grey image to out's size (bilinear). */
usg_status cvshim_resize(const usg_image *in, usg_image *out);

/* ---- drawing on RGB images; colours are 0xRRGGBB; thickness in px ---- */
void cvshim_line(usg_rgb *img, double x0, double y0, double x1, double y1, unsigned rgb, int thickness);
void cvshim_polyline(usg_rgb *img, const double *xy, int n, unsigned rgb, int thickness);
void cvshim_circle(usg_rgb *img, double cx, double cy, double r, unsigned rgb, int thickness /* -1 fill */);
void cvshim_rect(usg_rgb *img, int x, int y, int w, int h, unsigned rgb, int thickness /* -1 fill */);
/* Text with its baseline-left at (x, y); scale 1.0 is about 22 px high. */
void cvshim_text(usg_rgb *img, const char *text, int x, int y, double scale, unsigned rgb, int thickness);
/* Size of a text's box in pixels. */
void cvshim_text_size(const char *text, double scale, int thickness, int *w, int *h);
/* Alpha-blend a filled rectangle (alpha 0..1). */
void cvshim_shade_rect(usg_rgb *img, int x, int y, int w, int h, unsigned rgb, double alpha);

/* ---- window (highgui) ---- */
/* Show an RGB image in a named window (created on first use). USG_ERR_IO with
 * the reason if no display is available. */
usg_status cvshim_window_show(const char *name, const usg_rgb *img);
/* Process window events for up to ms; returns the key pressed or -1. */
int cvshim_window_poll(int ms);
void cvshim_window_close(const char *name);

#ifdef __cplusplus
}
#endif
#endif
