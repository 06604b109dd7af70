/* eval_impl.h - internals shared by eval.c and eval_files.c (not public). */
#ifndef USG_EVAL_IMPL_H
#define USG_EVAL_IMPL_H

#include "usg/eval.h"

/* usg_eval_add with the spacing given (the truth's own, or a default). */
usg_status usg_eval_add_spaced(usg_eval *e, const usg_result *truth, const usg_result *result,
                               double spacing_mm, usg_eval_frame *out);

/* The accumulator's two usg_result scratch buffers (owned by `e`). */
void usg_eval_scratch(usg_eval *e, usg_result **truth, usg_result **result);

#endif
