/* usg/denoise.h - speckle reduction stage.
 *
 * Life cycle: usg_denoiser_new (all buffers sized for w x h), then
 * usg_denoiser_process per frame (no allocation), then usg_denoiser_free. */
#ifndef USG_DENOISE_H
#define USG_DENOISE_H

#include "usg/image.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum usg_denoise_method {
    USG_DENOISE_NONE = 0,
    USG_DENOISE_MEDIAN,
    USG_DENOISE_BILATERAL,
    USG_DENOISE_GUIDED,
    USG_DENOISE_SRAD
} usg_denoise_method;

/* The measured best method, used when neither the CLI nor the profile names one. */
usg_denoise_method usg_denoise_default(void);

/* Parse "none|median|bilateral|guided|srad"; USG_ERR_ARG naming the value otherwise. */
usg_status usg_denoise_parse(const char *name, usg_denoise_method *out);

/* The name of a method. */
const char *usg_denoise_name(usg_denoise_method m);

typedef struct usg_denoiser usg_denoiser;

/* Make a denoiser for frames of at most w x h. */
usg_status usg_denoiser_new(usg_denoise_method m, int w, int h, usg_denoiser **out);

/* Denoise `in` into `out` (the caller's buffer, same size as in; may not alias in).
 * With USG_DENOISE_NONE this is a copy. */
usg_status usg_denoiser_process(usg_denoiser *d, const usg_image *in, usg_image *out);

/* Free (NULL is ignored). */
void usg_denoiser_free(usg_denoiser *d);

#ifdef __cplusplus
}
#endif
#endif
