/* status.c - per-thread last error message. */
#include "usg/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define USG_ERR_CAP 1024
static _Thread_local char g_msg[USG_ERR_CAP];

const char *usg_last_error(void) { return g_msg; }

usg_status usg_fail(usg_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    return code;
}

usg_status usg_fail_context(usg_status code, const char *prefix) {
    char old[USG_ERR_CAP];
    memcpy(old, g_msg, sizeof old);
    size_t n = strlen(prefix);
    if (n > USG_ERR_CAP / 2) n = USG_ERR_CAP / 2;
    memcpy(g_msg, prefix, n);
    g_msg[n] = 0;
    strncat(g_msg, ": ", USG_ERR_CAP - 1 - strlen(g_msg));
    strncat(g_msg, old, USG_ERR_CAP - 1 - strlen(g_msg));
    return code;
}

void usg_clear_error(void) { g_msg[0] = 0; }

const char *usg_status_name(usg_status s) {
    switch (s) {
    case USG_OK: return "ok";
    case USG_ERR_IO: return "io";
    case USG_ERR_FORMAT: return "format";
    case USG_ERR_ARG: return "argument";
    case USG_ERR_NOMEM: return "memory";
    case USG_ERR_UNSUPPORTED: return "unsupported";
    case USG_ERR_EOF: return "end of stream";
    case USG_ERR_TIMEOUT: return "timeout";
    case USG_ERR_NET: return "network";
    case USG_ERR_FRAME: return "frame";
    }
    return "unknown";
}
