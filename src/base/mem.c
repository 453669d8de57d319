/* Overflow-checked array allocation (see slm/base.h). */
#include "slm/base.h"

#include <stdlib.h>

void *slm_calloc_array(size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *slm_malloc_array(size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) return NULL;
    return malloc(total ? total : 1);
}
