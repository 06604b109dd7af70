/* usg/fs.h - the file-system helpers outputs share. */
#ifndef USG_FS_H
#define USG_FS_H

#include "usg/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Create directory `path` and any missing parents (mkdir -p). USG_OK if it
 * exists already; USG_ERR_IO naming the path if it cannot be created or a
 * component exists and is not a directory. */
usg_status usg_mkdirs(const char *path);

/* Create the directory that will hold file `path` (nothing for a bare name). */
usg_status usg_mkdirs_for_file(const char *path);

#ifdef __cplusplus
}
#endif
#endif
