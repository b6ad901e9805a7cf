/* Tensor views: element counts and shape strings. */
#include "core.h"

int64_t neon_tensor_numel(const neon_tensor *t)
{
    if (!t || t->ndim < 0 || t->ndim > NEON_MAX_DIMS) return -1;
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        if (!neon_mul_ok(n, t->shape[i], &n)) return -1;
    return n;
}

char *neon_shape_str(int ndim, const int64_t *shape, char *buf, size_t bufsize)
{
    if (!buf || bufsize == 0) return buf;
    size_t used = 0;
    int w = snprintf(buf, bufsize, "(");
    used = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < ndim && used < bufsize; i++) {
        w = snprintf(buf + used, bufsize - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
    if (used < bufsize) snprintf(buf + used, bufsize - used, ndim == 1 ? ",)" : ")");
    return buf;
}
