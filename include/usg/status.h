/* usg/status.h - status codes and the per-thread last error message.
 *
 * Every fallible usguide function returns a usg_status: USG_OK (0) on success,
 * a negative code on failure. On failure a human-readable message that names
 * the input and the problem is available from usg_last_error() on the same
 * thread until the next failing call. Library code never prints. */
#ifndef USG_STATUS_H
#define USG_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum usg_status {
    USG_OK = 0,
    USG_ERR_IO = -1,          /* a file or device could not be opened, read or written */
    USG_ERR_FORMAT = -2,      /* the data is malformed, truncated or inconsistent */
    USG_ERR_ARG = -3,         /* a bad argument or an impossible parameter value */
    USG_ERR_NOMEM = -4,       /* an allocation failed */
    USG_ERR_UNSUPPORTED = -5, /* valid data of a kind usguide does not handle */
    USG_ERR_EOF = -6,         /* end of stream: not an error for sources */
    USG_ERR_TIMEOUT = -7,     /* nothing arrived in time */
    USG_ERR_NET = -8,         /* a network peer failed or sent garbage */
    USG_ERR_FRAME = -9        /* this frame is bad, the source goes on with the next one */
} usg_status;

/* The message of the last failure on this thread ("" if none). The string is
 * owned by the library and valid until the next usguide call on this thread. */
const char *usg_last_error(void);

/* Record a failure: formats the message (printf-style) into the per-thread
 * buffer and returns `code`, so callers write `return usg_fail(...)`. */
usg_status usg_fail(usg_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prefix the current per-thread message with `prefix: ` (adds context such as
 * a file name when an error travels up a layer). Returns `code`. */
usg_status usg_fail_context(usg_status code, const char *prefix);

/* Clear the per-thread message. */
void usg_clear_error(void);

/* A short constant name for a status ("ok", "io", "format", ...). */
const char *usg_status_name(usg_status s);

#ifdef __cplusplus
}
#endif
#endif
