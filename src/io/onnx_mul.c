/* ONNX importer: Mul of two activations (the product layer of a matcher,
 * phi(x) * psi(y)) and ReduceSum (the read-out of a dot-product similarity
 * (phi(x) * psi(y)).sum(1)).  Mul of two constants still folds (shape
 * arithmetic). */
#include "onnx_internal.h"

#include <string.h>

neon_status onnx_op_mul(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *a, *b;
    char sa[128], sb[128];
    NEON_TRY(onnx_in(im, n, 0, &a));
    NEON_TRY(onnx_in(im, n, 1, &b));
    if (!onnx_is_act(a) && !onnx_is_act(b)) return onnx_op_arith(im, n);
    if (!onnx_is_act(a) || !onnx_is_act(b))
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "multiplying an activation by the constant '%s' is not supported; Mul "
                         "is supported between two activations of equal shape (the product "
                         "layer of a matcher) and between constants",
                         onnx_is_act(a) ? b->name : a->name);
    if (a->ndim != b->ndim || memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim))
        return onnx_fail(im, NEON_ERR_SHAPE,
                         "cannot multiply %s ('%s') and %s ('%s') element-wise: the two branch "
                         "outputs must have the same shape (broadcasting between activations is "
                         "not supported)",
                         onnx_sshape(a->ndim, a->shape, sa, sizeof sa), a->name,
                         onnx_sshape(b->ndim, b->shape, sb, sizeof sb), b->name);
    int ia, ib, id;
    NEON_TRY(onnx_act(im, a, &ia));
    NEON_TRY(onnx_act(im, b, &ib));
    neon_status st = neon_graph_add_product(im->g, onnx_node_name(im), ia, ib, &id);
    return onnx_emit(im, onnx_out(im, n), st, id);
}

neon_status onnx_op_reduce_sum(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *x;
    int64_t keep, noop, axes[NEON_MAX_DIMS];
    int na, paxes[NEON_MAX_DIMS];
    NEON_TRY(onnx_in_act(im, n, 0, &x));
    NEON_TRY(onnx_attr_int(im, n, "keepdims", 1, &keep));
    NEON_TRY(onnx_attr_int(im, n, "noop_with_empty_axes", 0, &noop));
    NEON_TRY(onnx_axes(im, n, x->ndim + 1, 0, axes, &na));
    if (na == 0 && noop) {
        onnx_set_alias(onnx_out(im, n), x);
        return NEON_OK;
    }
    for (int k = 0; k < na; k++)
        if (axes[k] == 0) na = -1;
    if (na <= 0)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "summing over the batch axis is not supported (give axes >= 1)");
    for (int k = 0; k < na; k++) paxes[k] = (int)axes[k] - 1;
    int in_id, id;
    NEON_TRY(onnx_act(im, x, &in_id));
    neon_status st = neon_graph_add_reduce_sum(im->g, onnx_node_name(im), in_id, na, paxes,
                                               keep != 0, &id);
    return onnx_emit(im, onnx_out(im, n), st, id);
}
