/* fs.c - mkdir -p for output paths. */
#include "usg/fs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static usg_status make_one(const char *dir) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        return usg_fail(USG_ERR_IO, "%s: cannot create directory: %s", dir, strerror(errno));
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return usg_fail(USG_ERR_IO, "%s: exists and is not a directory", dir);
    return USG_OK;
}

usg_status usg_mkdirs(const char *path) {
    char buf[PATH_MAX];
    if (!path || !*path) return usg_fail(USG_ERR_ARG, "empty directory path");
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return usg_fail(USG_ERR_ARG, "%s: path too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/' || p[-1] == '/') continue;
        *p = 0;
        usg_status st = make_one(buf);
        *p = '/';
        if (st != USG_OK) return st;
    }
    return make_one(buf);
}

usg_status usg_mkdirs_for_file(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return USG_OK;
    char dir[PATH_MAX];
    if ((size_t)(slash - path) >= sizeof dir) return usg_fail(USG_ERR_ARG, "%s: path too long", path);
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = 0;
    return usg_mkdirs(dir);
}
