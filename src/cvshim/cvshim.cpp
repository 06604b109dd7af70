// cvshim.cpp - the one C++ file: a C API to the few OpenCV 4 functions usguide uses.
// Every entry point catches exceptions and turns them into usg_status + message.
#include "cvshim/cvshim.h"

#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/highgui.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <cstdlib>
#include <cstring>
#include <string>

namespace {

// OpenCV logs to stderr by default; usguide's library never prints.
void quiet_opencv() {
    static bool done = false;
    if (!done) {
        cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
        done = true;
    }
}

cv::Mat wrap(const usg_image *img) {
    return cv::Mat(img->height, img->width, CV_8UC1, img->data, (size_t)img->stride);
}

cv::Mat wrap_rgb(const usg_rgb *img) {
    return cv::Mat(img->height, img->width, CV_8UC3, img->data, (size_t)img->stride);
}

cv::Scalar colour(unsigned rgb) {
    // Our RGB buffers hold R,G,B in that byte order; OpenCV draws channel 0..2 as given.
    return cv::Scalar((rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff);
}

// Sub-pixel drawing: OpenCV takes fixed-point coordinates with `shift` fractional bits.
const int kShift = 4;
cv::Point fixp(double x, double y) {
    return cv::Point((int)std::lround(x * (1 << kShift)), (int)std::lround(y * (1 << kShift)));
}

usg_status same_size(const usg_image *a, const usg_image *b, const char *what) {
    if (a->width != b->width || a->height != b->height) {
        return usg_fail(USG_ERR_ARG, "%s: input %dx%d and output %dx%d differ", what, a->width,
                        a->height, b->width, b->height);
    }
    if (a->data == b->data) return usg_fail(USG_ERR_ARG, "%s: input and output alias", what);
    return USG_OK;
}

usg_status to_grey(const cv::Mat &frame, usg_image *grey) {
    cv::Mat g;
    if (frame.channels() == 3) {
        cv::cvtColor(frame, g, cv::COLOR_BGR2GRAY);
    } else if (frame.channels() == 4) {
        cv::cvtColor(frame, g, cv::COLOR_BGRA2GRAY);
    } else {
        g = frame;
    }
    if (g.depth() != CV_8U) {
        cv::Mat g8;
        g.convertTo(g8, CV_8U, g.depth() == CV_16U ? 1.0 / 257.0 : 1.0);
        g = g8;
    }
    if (grey->data && (grey->width != g.cols || grey->height != g.rows)) {
        usg_image_free(grey);
    }
    if (!grey->data) {
        usg_status st = usg_image_alloc(grey, g.cols, g.rows);
        if (st != USG_OK) return st;
    }
    cv::Mat dst = wrap(grey);
    g.copyTo(dst);
    return USG_OK;
}

}  // namespace

struct cvshim_capture {
    cv::VideoCapture cap;
    std::string name;
    int is_device;
    long index;
};

struct cvshim_writer {
    cv::VideoWriter w;
    std::string name;
    cv::Mat bgr;
};

extern "C" {

usg_status cvshim_capture_open_file(const char *path, cvshim_capture **out) {
    *out = nullptr;
    try {
        quiet_opencv();
        auto *c = new cvshim_capture();
        c->name = path;
        c->is_device = 0;
        c->index = 0;
        // FFmpeg only: the GStreamer and image-sequence backends misread plain paths.
        if (!c->cap.open(path, cv::CAP_FFMPEG) || !c->cap.isOpened()) {
            delete c;
            return usg_fail(USG_ERR_FORMAT, "%s: OpenCV cannot open this video file", path);
        }
        *out = c;
        return USG_OK;
    } catch (const std::exception &e) {
        return usg_fail(USG_ERR_FORMAT, "%s: OpenCV: %s", path, e.what());
    }
}

usg_status cvshim_capture_open_device(const char *path, int width, int height, double fps,
                                      const char *fourcc, cvshim_capture **out) {
    *out = nullptr;
    try {
        quiet_opencv();
        auto *c = new cvshim_capture();
        c->name = path;
        c->is_device = 1;
        c->index = 0;
        if (!c->cap.open(path, cv::CAP_V4L2) || !c->cap.isOpened()) {
            delete c;
            return usg_fail(USG_ERR_IO, "%s: cannot open the V4L2 device", path);
        }
        if (fourcc && std::strlen(fourcc) == 4) {
            c->cap.set(cv::CAP_PROP_FOURCC, cv::VideoWriter::fourcc(fourcc[0], fourcc[1], fourcc[2], fourcc[3]));
        }
        if (width > 0) c->cap.set(cv::CAP_PROP_FRAME_WIDTH, width);
        if (height > 0) c->cap.set(cv::CAP_PROP_FRAME_HEIGHT, height);
        if (fps > 0) c->cap.set(cv::CAP_PROP_FPS, fps);
        c->cap.set(cv::CAP_PROP_BUFFERSIZE, 1); // the newest frame, not a queue of old ones
        *out = c;
        return USG_OK;
    } catch (const std::exception &e) {
        return usg_fail(USG_ERR_IO, "%s: OpenCV: %s", path, e.what());
    }
}

usg_status cvshim_capture_read(cvshim_capture *c, usg_image *grey, double *t_ms) {
    try {
        cv::Mat frame;
        if (!c->cap.read(frame) || frame.empty()) {
            if (c->is_device) return usg_fail(USG_ERR_IO, "%s: the device delivered no frame", c->name.c_str());
            return usg_fail(USG_ERR_EOF, "%s: end of video", c->name.c_str());
        }
        if (t_ms) {
            double pos = c->cap.get(cv::CAP_PROP_POS_MSEC);
            if (!(pos >= 0)) pos = 0;
            *t_ms = pos;
        }
        c->index++;
        return to_grey(frame, grey);
    } catch (const std::exception &e) {
        return usg_fail(USG_ERR_FRAME, "%s: frame %ld: OpenCV: %s", c->name.c_str(), c->index, e.what());
    }
}

int cvshim_capture_count(const cvshim_capture *c) {
    if (c->is_device) return -1;
    double n = const_cast<cv::VideoCapture &>(c->cap).get(cv::CAP_PROP_FRAME_COUNT);
    return n > 0 ? (int)n : -1;
}

double cvshim_capture_fps(const cvshim_capture *c) {
    double f = const_cast<cv::VideoCapture &>(c->cap).get(cv::CAP_PROP_FPS);
    return f > 0 && f < 1000 ? f : 0;
}

void cvshim_capture_size(const cvshim_capture *c, int *w, int *h) {
    auto &cap = const_cast<cv::VideoCapture &>(c->cap);
    *w = (int)cap.get(cv::CAP_PROP_FRAME_WIDTH);
    *h = (int)cap.get(cv::CAP_PROP_FRAME_HEIGHT);
}

void cvshim_capture_close(cvshim_capture *c) {
    if (!c) return;
    try {
        c->cap.release();
    } catch (...) {
    }
    delete c;
}

usg_status cvshim_writer_open(const char *path, int width, int height, double fps, cvshim_writer **out) {
    *out = nullptr;
    try {
        const char *ext = std::strrchr(path, '.');
        int fourcc = cv::VideoWriter::fourcc('M', 'J', 'P', 'G');
        if (ext && (!strcasecmp(ext, ".mp4") || !strcasecmp(ext, ".m4v"))) {
            fourcc = cv::VideoWriter::fourcc('m', 'p', '4', 'v');
        }
        quiet_opencv();
        auto *w = new cvshim_writer();
        w->name = path;
        if (!w->w.open(path, cv::CAP_FFMPEG, fourcc, fps > 0 ? fps : 30.0, cv::Size(width, height), true) || !w->w.isOpened()) {
            delete w;
            return usg_fail(USG_ERR_IO, "%s: cannot open a video writer (%dx%d)", path, width, height);
        }
        w->bgr.create(height, width, CV_8UC3);
        *out = w;
        return USG_OK;
    } catch (const std::exception &e) {
        return usg_fail(USG_ERR_IO, "%s: OpenCV: %s", path, e.what());
    }
}

usg_status cvshim_writer_write(cvshim_writer *w, const usg_rgb *img) {
    try {
        if (img->width != w->bgr.cols || img->height != w->bgr.rows) {
            return usg_fail(USG_ERR_ARG, "%s: frame %dx%d does not match the video %dx%d", w->name.c_str(),
                            img->width, img->height, w->bgr.cols, w->bgr.rows);
        }
        cv::cvtColor(wrap_rgb(img), w->bgr, cv::COLOR_RGB2BGR);
        w->w.write(w->bgr);
        return USG_OK;
    } catch (const std::exception &e) {
        return usg_fail(USG_ERR_IO, "%s: OpenCV: %s", w->name.c_str(), e.what());
    }
}

void cvshim_writer_close(cvshim_writer *w) {
    if (!w) return;
    try {
        w->w.release();
    } catch (...) {
    }
    delete w;
}

usg_status cvshim_median(const usg_image *in, usg_image *out, int ksize) {
    usg_status st = same_size(in, out, "median");
    if (st != USG_OK) return st;
    try {
        cv::Mat dst = wrap(out);
        cv::medianBlur(wrap(in), dst, ksize);
        return USG_OK;
    } catch (const std::exception &e) {
        return usg_fail(USG_ERR_ARG, "median: OpenCV: %s", e.what());
    }
}

usg_status cvshim_bilateral(const usg_image *in, usg_image *out, int d, double sigma_color, double sigma_space) {
    usg_status st = same_size(in, out, "bilateral");
    if (st != USG_OK) return st;
    try {
        cv::Mat dst = wrap(out);
        cv::bilateralFilter(wrap(in), dst, d, sigma_color, sigma_space);
        return USG_OK;
    } catch (const std::exception &e) {
        return usg_fail(USG_ERR_ARG, "bilateral: OpenCV: %s", e.what());
    }
}

usg_status cvshim_gaussian(const usg_image *in, usg_image *out, int ksize, double sigma) {
    usg_status st = same_size(in, out, "gaussian");
    if (st != USG_OK) return st;
    try {
        cv::Mat dst = wrap(out);
        cv::GaussianBlur(wrap(in), dst, cv::Size(ksize, ksize), sigma);
        return USG_OK;
    } catch (const std::exception &e) {
        return usg_fail(USG_ERR_ARG, "gaussian: OpenCV: %s", e.what());
    }
}

usg_status cvshim_resize(const usg_image *in, usg_image *out) {
    try {
        cv::Mat dst = wrap(out);
        cv::resize(wrap(in), dst, dst.size(), 0, 0, cv::INTER_LINEAR);
        return USG_OK;
    } catch (const std::exception &e) {
        return usg_fail(USG_ERR_ARG, "resize: OpenCV: %s", e.what());
    }
}

void cvshim_line(usg_rgb *img, double x0, double y0, double x1, double y1, unsigned rgb, int thickness) {
    cv::Mat m = wrap_rgb(img);
    cv::line(m, fixp(x0, y0), fixp(x1, y1), colour(rgb), thickness, cv::LINE_AA, kShift);
}

void cvshim_polyline(usg_rgb *img, const double *xy, int n, unsigned rgb, int thickness) {
    cv::Mat m = wrap_rgb(img);
    for (int i = 1; i < n; i++) {
        cv::line(m, fixp(xy[2 * i - 2], xy[2 * i - 1]), fixp(xy[2 * i], xy[2 * i + 1]), colour(rgb), thickness,
                 cv::LINE_AA, kShift);
    }
}

void cvshim_circle(usg_rgb *img, double cx, double cy, double r, unsigned rgb, int thickness) {
    cv::Mat m = wrap_rgb(img);
    cv::circle(m, fixp(cx, cy), (int)std::lround(r * (1 << kShift)), colour(rgb), thickness, cv::LINE_AA, kShift);
}

void cvshim_rect(usg_rgb *img, int x, int y, int w, int h, unsigned rgb, int thickness) {
    cv::Mat m = wrap_rgb(img);
    cv::rectangle(m, cv::Rect(x, y, w, h), colour(rgb), thickness, cv::LINE_AA);
}

void cvshim_text(usg_rgb *img, const char *text, int x, int y, double scale, unsigned rgb, int thickness) {
    cv::Mat m = wrap_rgb(img);
    cv::putText(m, text, cv::Point(x, y), cv::FONT_HERSHEY_SIMPLEX, 0.75 * scale, colour(rgb), thickness,
                cv::LINE_AA);
}

void cvshim_text_size(const char *text, double scale, int thickness, int *w, int *h) {
    int base = 0;
    cv::Size s = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, 0.75 * scale, thickness, &base);
    *w = s.width;
    *h = s.height + base;
}

void cvshim_shade_rect(usg_rgb *img, int x, int y, int w, int h, unsigned rgb, double alpha) {
    cv::Rect r = cv::Rect(x, y, w, h) & cv::Rect(0, 0, img->width, img->height);
    if (r.empty()) return;
    cv::Mat roi = wrap_rgb(img)(r);
    cv::Mat fill(roi.size(), roi.type(), colour(rgb));
    cv::addWeighted(roi, 1.0 - alpha, fill, alpha, 0.0, roi);
}

usg_status cvshim_window_show(const char *name, const usg_rgb *img) {
    const char *d = std::getenv("DISPLAY"), *wl = std::getenv("WAYLAND_DISPLAY");
    if ((!d || !*d) && (!wl || !*wl)) {
        // GTK would end the process without a display: refuse instead.
        return usg_fail(USG_ERR_IO, "window '%s': no display (DISPLAY is not set)", name);
    }
    try {
        static cv::Mat bgr;
        cv::cvtColor(wrap_rgb(img), bgr, cv::COLOR_RGB2BGR);
        cv::imshow(name, bgr);
        return USG_OK;
    } catch (const std::exception &e) {
        return usg_fail(USG_ERR_IO, "window '%s': %s", name, e.what());
    }
}

int cvshim_window_poll(int ms) {
    try {
        return cv::waitKey(ms < 1 ? 1 : ms);
    } catch (...) {
        return -1;
    }
}

void cvshim_window_close(const char *name) {
    try {
        cv::destroyWindow(name);
    } catch (...) {
    }
}

}  // extern "C"
