/* source_metaimage.c - PLUS sequence metafiles (MetaImage): .mha/.igs.mha/.seq.mha
 * with ElementDataFile = LOCAL (raw or zlib, CompressedData = True) and
 * .mhd/.igs.mhd with a separate raw data file. Frames are decoded one at a
 * time (zlib streamed), per-frame Seq_FrameNNNN_Timestamp/ImageStatus kept. */
#include "source_impl.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define MHA_MAX_FRAMES 1000000
#define MHA_MAX_HEADER (64L << 20)
#define MHA_CHUNK 65536

typedef struct mha_frame_meta {
    double t_s;   /* NAN when missing */
    char status[24];
} mha_frame_meta;

typedef struct mha_src {
    FILE *f;
    char data_path[PATH_MAX];
    int w, h, channels, n;
    int compressed;
    long long data_off;      /* first data byte in f */
    long long data_avail;    /* bytes available from data_off */
    long long comp_size;     /* CompressedDataSize (0 unknown) */
    mha_frame_meta *meta;
    usg_image img;
    uint8_t *raw;            /* one frame of w*h*channels */
    /* zlib streaming */
    z_stream z;
    int z_init, z_broken, z_ended;
    long long comp_read;
    uint8_t *zin;
    char z_error[200];
    int next;
    double t0_s;
} mha_src;

/* ---- header parsing ---- */

typedef struct mha_header {
    int ndims, dims[4], ndim_vals;
    int channels;
    int compressed, binary, msb;
    long long comp_size;
    char element_type[32];
    char data_file[PATH_MAX];
    int has_data_file;
} mha_header;

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

static int is_true(const char *v) { return !strcasecmp(v, "True") || !strcmp(v, "1"); }

/* Seq_FrameNNNN_Field: fills the frame's timestamp or status. */
static void frame_field(mha_src *m, const char *key, const char *val, int cap) {
    const char *p = key + 9; /* after "Seq_Frame" */
    char *end;
    long idx = strtol(p, &end, 10);
    if (end == p || *end != '_' || idx < 0 || idx >= cap) return;
    if (!strcmp(end + 1, "Timestamp")) {
        char *e2;
        double t = strtod(val, &e2);
        if (e2 != val && isfinite(t)) m->meta[idx].t_s = t;
    } else if (!strcmp(end + 1, "ImageStatus")) {
        snprintf(m->meta[idx].status, sizeof m->meta[idx].status, "%s", val);
    }
}

static usg_status header_field(const char *path, int line, const char *key, const char *val, mha_header *h) {
    if (!strcmp(key, "NDims")) {
        h->ndims = atoi(val);
        if (h->ndims < 2 || h->ndims > 3) return usg_fail(USG_ERR_UNSUPPORTED, "%s:%d: NDims = %s: only 2-D images and 3-D sequences are supported", path, line, val);
    } else if (!strcmp(key, "DimSize")) {
        const char *p = val;
        h->ndim_vals = 0;
        while (*p && h->ndim_vals < 4) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p) return usg_fail(USG_ERR_FORMAT, "%s:%d: DimSize = %s: not a list of whole numbers", path, line, val);
            if (v < 1 || v > MHA_MAX_FRAMES) return usg_fail(USG_ERR_FORMAT, "%s:%d: DimSize = %s: %ld is out of range", path, line, val, v);
            h->dims[h->ndim_vals++] = (int)v;
            p = end;
            while (isspace((unsigned char)*p)) p++;
        }
    } else if (!strcmp(key, "ElementType")) {
        snprintf(h->element_type, sizeof h->element_type, "%s", val);
    } else if (!strcmp(key, "ElementNumberOfChannels")) {
        h->channels = atoi(val);
    } else if (!strcmp(key, "CompressedData")) {
        h->compressed = is_true(val);
    } else if (!strcmp(key, "CompressedDataSize")) {
        h->comp_size = atoll(val);
    } else if (!strcmp(key, "BinaryData")) {
        h->binary = is_true(val);
    } else if (!strcmp(key, "BinaryDataByteOrderMSB") || !strcmp(key, "ElementByteOrderMSB")) {
        h->msb = is_true(val);
    } else if (!strcmp(key, "ElementDataFile")) {
        snprintf(h->data_file, sizeof h->data_file, "%s", val);
        h->has_data_file = 1;
    }
    return USG_OK;
}

/* Read one header line (any length up to cap-1); 0 at EOF. */
static int read_line(FILE *f, char *buf, size_t cap, int *too_long) {
    *too_long = 0;
    if (!fgets(buf, (int)cap, f)) return 0;
    size_t n = strlen(buf);
    if (n == cap - 1 && buf[n - 1] != '\n') {
        *too_long = 1;
        int c;
        while ((c = fgetc(f)) != EOF && c != '\n') {}
    }
    return 1;
}

/* Parse header lines up to ElementDataFile. Frame fields are collected after
 * DimSize is known, so the file is read twice at most for the frame block. */
static usg_status parse_header(mha_src *m, const char *path, mha_header *h) {
    memset(h, 0, sizeof *h);
    h->channels = 1;
    h->binary = 1;
    char *line = malloc(1 << 16);
    if (!line) return usg_fail(USG_ERR_NOMEM, "%s: out of memory", path);
    int lineno = 0, too_long;
    int meta_cap = 0;
    usg_status st = USG_OK;
    while (read_line(m->f, line, 1 << 16, &too_long)) {
        lineno++;
        if (ftell(m->f) > MHA_MAX_HEADER) {
            st = usg_fail(USG_ERR_FORMAT, "%s: no ElementDataFile line in the first %ld MiB: not a MetaImage header?", path, MHA_MAX_HEADER >> 20);
            break;
        }
        if (too_long) continue;
        char *eq = strchr(line, '=');
        if (!eq) {
            if (lineno == 1) {
                st = usg_fail(USG_ERR_FORMAT, "%s: line 1 is not 'Key = Value': not a MetaImage header", path);
                break;
            }
            continue;
        }
        *eq = 0;
        char *key = trim(line), *val = trim(eq + 1);
        if (!strncmp(key, "Seq_Frame", 9)) {
            if (!meta_cap) {
                /* frame fields may precede DimSize (.mhd): keep a generous table */
                meta_cap = 100000;
                m->meta = calloc(meta_cap, sizeof *m->meta);
                if (!m->meta) { st = usg_fail(USG_ERR_NOMEM, "%s: out of memory", path); break; }
                for (int i = 0; i < meta_cap; i++) m->meta[i].t_s = NAN;
            }
            frame_field(m, key, val, meta_cap);
            continue;
        }
        st = header_field(path, lineno, key, val, h);
        if (st != USG_OK || h->has_data_file) break;
    }
    free(line);
    if (st != USG_OK) return st;
    if (!h->has_data_file) return usg_fail(USG_ERR_FORMAT, "%s: header ends without an ElementDataFile line (truncated header?)", path);
    m->data_off = ftell(m->f);
    return USG_OK;
}

static usg_status check_header(const char *path, const mha_header *h) {
    if (h->ndim_vals < 2) return usg_fail(USG_ERR_FORMAT, "%s: DimSize is missing or has fewer than 2 values", path);
    if (h->ndims && h->ndim_vals != h->ndims) return usg_fail(USG_ERR_FORMAT, "%s: DimSize has %d values but NDims = %d", path, h->ndim_vals, h->ndims);
    if (h->dims[0] > USG_MAX_SIDE || h->dims[1] > USG_MAX_SIDE) return usg_fail(USG_ERR_FORMAT, "%s: DimSize %d x %d is larger than %d px", path, h->dims[0], h->dims[1], USG_MAX_SIDE);
    if (!h->element_type[0]) return usg_fail(USG_ERR_FORMAT, "%s: ElementType is missing", path);
    if (strcmp(h->element_type, "MET_UCHAR") != 0) return usg_fail(USG_ERR_UNSUPPORTED, "%s: ElementType %s is not supported (8-bit MET_UCHAR only)", path, h->element_type);
    if (h->channels != 1 && h->channels != 3 && h->channels != 4) return usg_fail(USG_ERR_UNSUPPORTED, "%s: ElementNumberOfChannels = %d is not supported (1, 3 or 4)", path, h->channels);
    if (!h->binary) return usg_fail(USG_ERR_UNSUPPORTED, "%s: BinaryData = False (ASCII pixel data) is not supported", path);
    if (!strcmp(h->data_file, "LIST") || !strncmp(h->data_file, "LIST ", 5) || strchr(h->data_file, '%')) return usg_fail(USG_ERR_UNSUPPORTED, "%s: ElementDataFile = %s: file lists are not supported (LOCAL or one data file)", path, h->data_file);
    return USG_OK;
}

/* Switch to the separate data file of an .mhd header. */
static usg_status open_data_file(mha_src *m, const char *path, const char *dir, const mha_header *h) {
    int n = h->data_file[0] == '/' ? snprintf(m->data_path, sizeof m->data_path, "%s", h->data_file)
                                   : snprintf(m->data_path, sizeof m->data_path, "%.2000s/%.2000s", dir, h->data_file);
    if (n < 0 || (size_t)n >= sizeof m->data_path) return usg_fail(USG_ERR_ARG, "%s: data file path is too long", path);
    fclose(m->f);
    m->f = fopen(m->data_path, "rb");
    if (!m->f) return usg_fail(USG_ERR_IO, "%s: cannot open its data file %s: %s", path, m->data_path, strerror(errno));
    m->data_off = 0;
    return USG_OK;
}

static long long file_size(FILE *f) {
    struct stat st;
    return fstat(fileno(f), &st) == 0 ? (long long)st.st_size : -1;
}

/* ---- frames ---- */

static usg_status frame_err(usg_source *s, int i, const char *what) {
    return usg_fail(USG_ERR_FRAME, "%s: frame %d: %s", s->name, i, what);
}

static usg_status read_raw(usg_source *s, mha_src *m, int i) {
    size_t fb = (size_t)m->w * m->h * m->channels;
    long long off = m->data_off + (long long)i * (long long)fb;
    if ((long long)(i + 1) * (long long)fb > m->data_avail) {
        char msg[160];
        snprintf(msg, sizeof msg, "truncated data: needs %lld bytes, the file holds %lld", (long long)(i + 1) * (long long)fb, m->data_avail);
        return frame_err(s, i, msg);
    }
    if (fseeko(m->f, off, SEEK_SET) != 0 || fread(m->raw, 1, fb, m->f) != fb) return frame_err(s, i, "read failed");
    return USG_OK;
}

static usg_status read_zlib(usg_source *s, mha_src *m, int i) {
    size_t fb = (size_t)m->w * m->h * m->channels;
    if (m->z_broken) return frame_err(s, i, m->z_error);
    m->z.next_out = m->raw;
    m->z.avail_out = (uInt)fb;
    while (m->z.avail_out > 0) {
        if (m->z_ended) {
            snprintf(m->z_error, sizeof m->z_error, "zlib stream ended early: DimSize needs more data than it holds (truncated or wrong DimSize)");
            m->z_broken = 1;
            return frame_err(s, i, m->z_error);
        }
        if (m->z.avail_in == 0) {
            long long left = m->data_avail - m->comp_read;
            size_t want = left < MHA_CHUNK ? (size_t)(left > 0 ? left : 0) : MHA_CHUNK;
            size_t got = want ? fread(m->zin, 1, want, m->f) : 0;
            if (got == 0) {
                snprintf(m->z_error, sizeof m->z_error, "compressed data is truncated (zlib stream incomplete after %lld bytes)", m->comp_read);
                m->z_broken = 1;
                return frame_err(s, i, m->z_error);
            }
            m->comp_read += (long long)got;
            m->z.next_in = m->zin;
            m->z.avail_in = (uInt)got;
        }
        int r = inflate(&m->z, Z_NO_FLUSH);
        if (r == Z_STREAM_END) {
            m->z_ended = 1;
        } else if (r != Z_OK && r != Z_BUF_ERROR) {
            snprintf(m->z_error, sizeof m->z_error, "zlib stream does not inflate: %s", m->z.msg ? m->z.msg : zError(r));
            m->z_broken = 1;
            return frame_err(s, i, m->z_error);
        }
    }
    return USG_OK;
}

/* Collapse RGB(A) to grey (BT.601) or copy grey. */
static void to_grey(mha_src *m) {
    for (int y = 0; y < m->h; y++) {
        uint8_t *d = usg_image_row(&m->img, y);
        const uint8_t *src = m->raw + (size_t)y * m->w * m->channels;
        if (m->channels == 1) {
            memcpy(d, src, (size_t)m->w);
            continue;
        }
        for (int x = 0; x < m->w; x++, src += m->channels) {
            d[x] = (uint8_t)((299 * src[0] + 587 * src[1] + 114 * src[2] + 500) / 1000);
        }
    }
}

static double frame_time_ms(mha_src *m, int i, double fps) {
    if (m->meta && isfinite(m->meta[i].t_s)) return (m->meta[i].t_s - m->t0_s) * 1000.0;
    /* missing stamp: interpolate between the known neighbours, else extrapolate by the median period */
    double period = fps > 0 ? 1000.0 / fps : 1000.0 / 30.0;
    int before = -1, after = -1;
    for (int k = i - 1; k >= 0 && m->meta && before < 0; k--) if (isfinite(m->meta[k].t_s)) before = k;
    for (int k = i + 1; k < m->n && m->meta && after < 0; k++) if (isfinite(m->meta[k].t_s)) after = k;
    if (before >= 0 && after >= 0) {
        double tb = m->meta[before].t_s, ta = m->meta[after].t_s;
        return ((tb + (ta - tb) * (i - before) / (double)(after - before)) - m->t0_s) * 1000.0;
    }
    if (before >= 0) return (m->meta[before].t_s - m->t0_s) * 1000.0 + (i - before) * period;
    if (after >= 0) return (m->meta[after].t_s - m->t0_s) * 1000.0 - (after - i) * period;
    return i * period;
}

static usg_status mha_next(usg_source *s, usg_frame *out) {
    mha_src *m = s->priv;
    if (m->next >= m->n) return USG_ERR_EOF;
    int i = m->next++;
    out->index = i;
    out->t_ms = frame_time_ms(m, i, s->fps);
    usg_status st = m->compressed ? read_zlib(s, m, i) : read_raw(s, m, i);
    if (st != USG_OK) return st;
    if (m->meta && m->meta[i].status[0] && strcmp(m->meta[i].status, "OK") != 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "ImageStatus = %s: frame not processed", m->meta[i].status);
        return frame_err(s, i, msg);
    }
    to_grey(m);
    out->image = m->img;
    return USG_OK;
}

static void mha_close(usg_source *s) {
    mha_src *m = s->priv;
    if (!m) return;
    if (m->z_init) inflateEnd(&m->z);
    if (m->f) fclose(m->f);
    free(m->meta);
    free(m->raw);
    free(m->zin);
    usg_image_free(&m->img);
    free(m);
}

static const usg_source_vt mha_vt = {mha_next, mha_close};

/* Median timestamp period -> fps; the first stamp becomes t = 0. */
static void timing(usg_source *s, mha_src *m) {
    s->fps = 0;
    if (!m->meta) return;
    int k = 0;
    double *d = malloc(sizeof(double) * (size_t)m->n);
    double prev = NAN;
    m->t0_s = NAN;
    for (int i = 0; i < m->n && d; i++) {
        double t = m->meta[i].t_s;
        if (!isfinite(t)) continue;
        if (!isfinite(m->t0_s)) m->t0_s = t;
        if (isfinite(prev) && t > prev) d[k++] = t - prev;
        prev = t;
    }
    if (!isfinite(m->t0_s)) m->t0_s = 0;
    if (k > 0) {
        for (int a = 1; a < k; a++) /* insertion sort: k is small */
            for (int b = a; b > 0 && d[b] < d[b - 1]; b--) { double t = d[b]; d[b] = d[b - 1]; d[b - 1] = t; }
        double med = d[k / 2];
        if (med > 0) s->fps = 1.0 / med;
    }
    free(d);
}

static usg_status setup(usg_source *s, mha_src *m, const char *path, const mha_header *h) {
    m->w = h->dims[0];
    m->h = h->dims[1];
    m->n = h->ndim_vals >= 3 ? h->dims[2] : 1;
    m->channels = h->channels;
    m->compressed = h->compressed;
    long long fb = (long long)m->w * m->h * m->channels;
    long long size = file_size(m->f);
    m->data_avail = size - m->data_off;
    if (m->compressed) {
        m->comp_size = h->comp_size;
        if (m->comp_size > 0 && m->comp_size < m->data_avail) m->data_avail = m->comp_size;
        if (inflateInit(&m->z) != Z_OK) return usg_fail(USG_ERR_NOMEM, "%s: zlib init failed", path);
        m->z_init = 1;
        m->zin = malloc(MHA_CHUNK);
        if (!m->zin) return usg_fail(USG_ERR_NOMEM, "%s: out of memory", path);
        if (fseeko(m->f, m->data_off, SEEK_SET) != 0) return usg_fail(USG_ERR_IO, "%s: seek failed", path);
    } else if (m->data_avail > fb * m->n) {
        return usg_fail(USG_ERR_FORMAT, "%s: the data holds %lld bytes but DimSize %d %d %d (x%d channels) needs %lld: wrong DimSize?", path, m->data_avail, m->w, m->h, m->n, m->channels, fb * m->n);
    }
    m->raw = malloc((size_t)fb);
    if (!m->raw) return usg_fail(USG_ERR_NOMEM, "%s: out of memory for %d x %d frames", path, m->w, m->h);
    usg_status st = usg_image_alloc(&m->img, m->w, m->h);
    if (st != USG_OK) return st;
    if (m->meta && m->n > 100000) return usg_fail(USG_ERR_UNSUPPORTED, "%s: more than 100000 frames with per-frame fields", path);
    s->count = m->n;
    timing(s, m);
    return USG_OK;
}

usg_status usg_source_open_metaimage(usg_source *s, const char *path) {
    mha_src *m = calloc(1, sizeof *m);
    if (!m) return usg_fail(USG_ERR_NOMEM, "%s: out of memory", path);
    s->vt = &mha_vt;
    s->priv = m;
    m->f = fopen(path, "rb");
    usg_status st;
    mha_header h;
    if (!m->f) {
        st = usg_fail(USG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    } else if ((st = parse_header(m, path, &h)) == USG_OK && (st = check_header(path, &h)) == USG_OK) {
        if (strcmp(h.data_file, "LOCAL") != 0) st = open_data_file(m, path, s->dir, &h);
        if (st == USG_OK) st = setup(s, m, path, &h);
    }
    if (st != USG_OK) {
        mha_close(s);
        s->priv = NULL;
    }
    return st;
}
