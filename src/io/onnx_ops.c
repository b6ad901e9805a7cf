/* ONNX importer: translators for the linear and element-wise operators
 * (Conv, Gemm, MatMul, Add/Sum, BatchNormalization, activations, Identity,
 * Dropout, trailing Softmax).  Conv/Gemm/MatMul produce pending layers so
 * that a following Add of a constant becomes their bias. */
#include "onnx_internal.h"

#include <limits.h>
#include <string.h>

static onnx_pending *new_pending(onnx_imp *im)
{
    onnx_pending *p = onnx_tmp(im, 1, sizeof *p);
    if (p) p->name = onnx_node_name(im);
    return p;
}

static neon_status need_float(onnx_imp *im, onnx_value *v, const char *role, onnx_const **c)
{
    NEON_TRY(onnx_need_const(im, v, role, c));
    if ((*c)->is_int)
        return onnx_fail(im, NEON_ERR_FORMAT, "%s '%s' must be a float tensor", role, v->name);
    return NEON_OK;
}

/* ---- Conv ------------------------------------------------------------------- */

neon_status onnx_op_conv(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *x, *wv, *bv, *out = onnx_out(im, n);
    onnx_const *W, *B = NULL;
    char sx[128], sw[128];
    NEON_TRY(onnx_in_act(im, n, 0, &x));
    NEON_TRY(onnx_in(im, n, 1, &wv));
    NEON_TRY(onnx_in_opt(im, n, 2, &bv));
    NEON_TRY(need_float(im, wv, "weight", &W));
    if (bv) NEON_TRY(need_float(im, bv, "bias", &B));
    if (x->ndim != 3)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "only 2-d convolution over (N, C, H, W) is supported; input has shape %s",
                         onnx_sshape(x->ndim, x->shape, sx, sizeof sx));
    if (W->ndim != 4)
        return onnx_fail(im, NEON_ERR_SHAPE,
                         "weight '%s' has shape %s (rank %d); a 2-d Conv needs rank 4 "
                         "(c_out, c_in/group, kh, kw)", wv->name,
                         onnx_cshape(W, sw, sizeof sw), W->ndim);
    int64_t group, C = x->shape[0], c_out = W->dims[0];
    NEON_TRY(onnx_attr_int(im, n, "group", 1, &group));
    if (group < 1 || C % group != 0 || c_out % group != 0 || W->dims[1] * group != C)
        return onnx_fail(im, NEON_ERR_SHAPE,
                         "weight '%s' of shape %s with group %lld does not fit input %s "
                         "(%lld channels)", wv->name, onnx_cshape(W, sw, sizeof sw),
                         (long long)group, onnx_sshape(x->ndim, x->shape, sx, sizeof sx),
                         (long long)C);
    const int64_t *ks;
    int64_t nks;
    NEON_TRY(onnx_attr_ints(im, n, "kernel_shape", &ks, &nks));
    if (ks && (nks != 2 || ks[0] != W->dims[2] || ks[1] != W->dims[3]))
        return onnx_fail(im, NEON_ERR_SHAPE, "kernel_shape disagrees with weight '%s' of shape %s",
                         wv->name, onnx_cshape(W, sw, sizeof sw));
    if (B && (B->ndim != 1 || B->numel != c_out))
        return onnx_fail(im, NEON_ERR_SHAPE, "bias '%s' has shape %s; expected (%lld,)", bv->name,
                         onnx_cshape(B, sw, sizeof sw), (long long)c_out);
    int64_t stride[2], dil[2], pads[4];
    NEON_TRY(onnx_spatial(im, n, x->shape + 1, W->dims + 2, stride, dil, pads));
    /* sizes from the input as ONNX sees it (a pending pad already applied) */
    int64_t oh = onnx_out_size(x->shape[1], pads[0] + pads[2], W->dims[2], stride[0], dil[0]);
    int64_t ow = onnx_out_size(x->shape[2], pads[1] + pads[3], W->dims[3], stride[1], dil[1]);
    if (oh < 1 || ow < 1 || c_out > INT_MAX || W->dims[2] > INT_MAX || W->dims[3] > INT_MAX)
        return onnx_fail(im, NEON_ERR_SHAPE, "kernel %s does not fit input %s",
                         onnx_cshape(W, sw, sizeof sw), onnx_sshape(x->ndim, x->shape, sx, sizeof sx));
    int in_id;
    onnx_pending *pp = x->kind == OV_PEND_PAD ? x->p : NULL;
    if (pp && pp->value == 0.0f && pp->pads[0] == 0 && pp->pads[3] == 0) {
        /* zero padding before a Conv is the Conv's own padding */
        pads[0] += pp->pads[1];
        pads[1] += pp->pads[2];
        pads[2] += pp->pads[4];
        pads[3] += pp->pads[5];
        in_id = pp->input;
    } else {
        NEON_TRY(onnx_act(im, x, &in_id));
    }
    for (int k = 0; k < 4; k++)
        if (pads[k] > INT_MAX) return onnx_fail(im, NEON_ERR_UNSUPPORTED, "padding too large");
    onnx_pending *p = new_pending(im);
    if (!p) return NEON_ERR_NOMEM;
    p->input = in_id;
    p->is_conv = 1;
    p->n_out = c_out;
    p->cp.kernel_h = (int)W->dims[2];
    p->cp.kernel_w = (int)W->dims[3];
    p->cp.stride_h = (int)stride[0];
    p->cp.stride_w = (int)stride[1];
    p->cp.dilation_h = (int)dil[0];
    p->cp.dilation_w = (int)dil[1];
    p->cp.pad_top = (int)pads[0];
    p->cp.pad_left = (int)pads[1];
    p->cp.pad_bottom = (int)pads[2];
    p->cp.pad_right = (int)pads[3];
    p->cp.groups = (int)group;
    p->W = W->f;
    if (B) {
        if (!(p->b = onnx_tmp(im, (size_t)c_out, sizeof(float)))) return NEON_ERR_NOMEM;
        memcpy(p->b, B->f, sizeof(float) * (size_t)c_out);
    }
    out->kind = OV_PEND_LIN;
    out->p = p;
    out->ndim = 3;
    out->shape[0] = c_out;
    out->shape[1] = oh;
    out->shape[2] = ow;
    return NEON_OK;
}

/* ---- Gemm / MatMul ------------------------------------------------------------------ */

/* Pending dense from W (M, K) that is already in the layer's layout. */
static neon_status pending_dense(onnx_imp *im, onnx_value *x, onnx_value *out, int64_t M,
                                 float *W, float *b)
{
    onnx_pending *p = new_pending(im);
    if (!p) return NEON_ERR_NOMEM;
    NEON_TRY(onnx_act(im, x, &p->input));
    p->n_out = M;
    p->W = W;
    p->b = b;
    out->kind = OV_PEND_LIN;
    out->p = p;
    out->ndim = 1;
    out->shape[0] = M;
    return NEON_OK;
}

/* B (K, M) or, transposed, (M, K) -> W (M, K) scaled by alpha. */
static neon_status dense_weights(onnx_imp *im, onnx_value *x, onnx_value *bv, int trans,
                                 float alpha, float **W, int64_t *M)
{
    onnx_const *B;
    char sx[128], sb[128];
    NEON_TRY(need_float(im, bv, "weight", &B));
    if (x->ndim != 1)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "input has shape %s; only 2-d inputs (N, K) are supported (flatten first)",
                         onnx_sshape(x->ndim, x->shape, sx, sizeof sx));
    int64_t K = x->shape[0];
    if (B->ndim != 2 || B->dims[trans ? 1 : 0] != K)
        return onnx_fail(im, NEON_ERR_SHAPE, "weight '%s' of shape %s%s does not fit input %s",
                         bv->name, onnx_cshape(B, sb, sizeof sb), trans ? " (transB=1)" : "",
                         onnx_sshape(x->ndim, x->shape, sx, sizeof sx));
    *M = B->dims[trans ? 0 : 1];
    float *w = onnx_tmp(im, (size_t)B->numel, sizeof(float));
    if (!w) return NEON_ERR_NOMEM;
    for (int64_t m = 0; m < *M; m++)
        for (int64_t k = 0; k < K; k++)
            w[m * K + k] = alpha * (trans ? B->f[m * K + k] : B->f[k * *M + m]);
    *W = w;
    return NEON_OK;
}

neon_status onnx_op_gemm(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *x, *bv, *cv, *out = onnx_out(im, n);
    int64_t ta, tb, M;
    float alpha, beta, *W, *b = NULL;
    char sc[128];
    NEON_TRY(onnx_in_act(im, n, 0, &x));
    NEON_TRY(onnx_in(im, n, 1, &bv));
    NEON_TRY(onnx_in_opt(im, n, 2, &cv));
    NEON_TRY(onnx_attr_int(im, n, "transA", 0, &ta));
    NEON_TRY(onnx_attr_int(im, n, "transB", 0, &tb));
    NEON_TRY(onnx_attr_float(im, n, "alpha", 1.0f, &alpha));
    NEON_TRY(onnx_attr_float(im, n, "beta", 1.0f, &beta));
    if (ta != 0) return onnx_fail(im, NEON_ERR_UNSUPPORTED, "transA=%lld is not supported", (long long)ta);
    NEON_TRY(dense_weights(im, x, bv, tb != 0, alpha, &W, &M));
    if (cv) {
        onnx_const *C;
        NEON_TRY(need_float(im, cv, "bias", &C));
        /* C broadcasts to (N, M): (), (1), (M), (1, 1), (1, M) */
        int ok = C->ndim <= 2 && (C->numel == 1 || C->numel == M) &&
                 (C->ndim < 1 || C->dims[C->ndim - 1] == C->numel) && (C->ndim < 2 || C->dims[0] == 1);
        if (!ok)
            return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                             "bias '%s' of shape %s does not broadcast per output to (N, %lld)",
                             cv->name, onnx_cshape(C, sc, sizeof sc), (long long)M);
        if (!(b = onnx_tmp(im, (size_t)M, sizeof(float)))) return NEON_ERR_NOMEM;
        for (int64_t m = 0; m < M; m++) b[m] = beta * C->f[C->numel == 1 ? 0 : m];
    }
    return pending_dense(im, x, out, M, W, b);
}

neon_status onnx_op_matmul(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *x, *bv, *out = onnx_out(im, n);
    float *W;
    int64_t M;
    NEON_TRY(onnx_in(im, n, 0, &x));
    NEON_TRY(onnx_in(im, n, 1, &bv));
    if (!onnx_is_act(x))
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "only activation x constant products are supported (the left operand "
                         "'%s' is a constant)", x->name);
    NEON_TRY(dense_weights(im, x, bv, 0, 1.0f, &W, &M));
    return pending_dense(im, x, out, M, W, NULL);
}

/* ---- Add / Sum ------------------------------------------------------------------------ */

/* out = pending layer v + constant c, when c is one value per output channel. */
static neon_status fold_bias(onnx_imp *im, onnx_value *v, const onnx_const *c, onnx_value *out)
{
    char sc[128], sv[128];
    const onnx_pending *p = v->p;
    int64_t C = p->n_out;
    int R = v->ndim + 1, per_channel = 0, ok = !c->is_int && c->ndim <= R;
    for (int j = 0; ok && j < c->ndim; j++) {
        int fa = R - c->ndim + j; /* axis in (N, C, ...) */
        if (fa == 1 && c->dims[j] == C) per_channel = 1;
        else if (c->dims[j] != 1) ok = 0;
    }
    if (!ok)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "a constant of shape %s cannot be the bias of '%s' with output %s; only "
                         "one value per output channel folds", onnx_cshape(c, sc, sizeof sc),
                         p->name, onnx_sshape(v->ndim, v->shape, sv, sizeof sv));
    onnx_pending *np = onnx_tmp(im, 1, sizeof *np);
    float *b = onnx_tmp(im, (size_t)C, sizeof(float));
    if (!np || !b) return NEON_ERR_NOMEM;
    *np = *p;
    for (int64_t k = 0; k < C; k++) b[k] = (p->b ? p->b[k] : 0.0f) + c->f[per_channel ? k : 0];
    np->b = b;
    if (v->uses > 1) np->name = onnx_node_name(im); /* v may become a node of its own */
    out->kind = OV_PEND_LIN;
    out->p = np;
    out->ndim = v->ndim;
    memcpy(out->shape, v->shape, sizeof out->shape);
    return NEON_OK;
}

static neon_status add_acts(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *out = onnx_out(im, n), *v0 = NULL;
    int ids[64];
    char s0[128], sv[128];
    if (n->n_input < 1 || n->n_input > 64)
        return onnx_fail(im, NEON_ERR_FORMAT, "%zu inputs (1 to 64 supported)", n->n_input);
    for (size_t k = 0; k < n->n_input; k++) {
        onnx_value *v;
        NEON_TRY(onnx_in_act(im, n, k, &v));
        if (!v0) v0 = v;
        if (v->ndim != v0->ndim || memcmp(v->shape, v0->shape, sizeof(int64_t) * (size_t)v->ndim))
            return onnx_fail(im, NEON_ERR_SHAPE,
                             "cannot add %s and %s (broadcasting between activations is not "
                             "supported)", onnx_sshape(v0->ndim, v0->shape, s0, sizeof s0),
                             onnx_sshape(v->ndim, v->shape, sv, sizeof sv));
        NEON_TRY(onnx_act(im, v, &ids[k]));
    }
    if (n->n_input == 1) {
        onnx_set_alias(out, v0);
        return NEON_OK;
    }
    int id;
    neon_status st = neon_graph_add_add(im->g, onnx_node_name(im), (int)n->n_input, ids, &id);
    return onnx_emit(im, out, st, id);
}

neon_status onnx_op_add(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *a, *b;
    onnx_const *ca, *cb;
    NEON_TRY(onnx_in(im, n, 0, &a));
    NEON_TRY(onnx_in(im, n, 1, &b));
    NEON_TRY(onnx_const_get(im, a, &ca));
    NEON_TRY(onnx_const_get(im, b, &cb));
    if (ca && cb) return onnx_fold_arith(im, onnx_out(im, n), ca, cb, '+');
    if (!ca && !cb) return add_acts(im, n);
    onnx_value *v = ca ? b : a;
    if (v->kind != OV_PEND_LIN)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "adding constant '%s' to an activation is only supported as the bias of a "
                         "directly preceding Gemm, MatMul or Conv ('%s' is not such an output)",
                         ca ? a->name : b->name, v->name);
    return fold_bias(im, v, ca ? ca : cb, onnx_out(im, n));
}

neon_status onnx_op_sum(onnx_imp *im, const Onnx__NodeProto *n) { return add_acts(im, n); }

/* ---- BatchNormalization ------------------------------------------------------------- */

neon_status onnx_op_batchnorm(onnx_imp *im, const Onnx__NodeProto *n)
{
    static const char *const role[5] = {"", "scale", "bias", "mean", "var"};
    onnx_value *x, *v, *out = onnx_out(im, n);
    onnx_const *c[5] = {NULL};
    char sx[128], sc[128];
    int64_t training, spatial;
    float eps;
    NEON_TRY(onnx_in_act(im, n, 0, &x));
    NEON_TRY(onnx_attr_float(im, n, "epsilon", 1e-5f, &eps));
    NEON_TRY(onnx_attr_int(im, n, "training_mode", 0, &training));
    NEON_TRY(onnx_attr_int(im, n, "spatial", 1, &spatial));
    if (training != 0 || spatial != 1)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED, "%s is not supported (export in eval mode)",
                         training ? "training_mode=1" : "spatial=0");
    if (x->ndim < 1 || !(eps >= 0.0f))
        return onnx_fail(im, NEON_ERR_SHAPE, "input %s / epsilon %g are not valid",
                         onnx_sshape(x->ndim, x->shape, sx, sizeof sx), (double)eps);
    for (size_t k = 1; k < 5; k++) {
        NEON_TRY(onnx_in(im, n, k, &v));
        NEON_TRY(need_float(im, v, role[k], &c[k]));
        if (c[k]->ndim != 1 || c[k]->numel != x->shape[0])
            return onnx_fail(im, NEON_ERR_SHAPE, "%s '%s' has shape %s; input %s needs (%lld,)",
                             role[k], v->name, onnx_cshape(c[k], sc, sizeof sc),
                             onnx_sshape(x->ndim, x->shape, sx, sizeof sx), (long long)x->shape[0]);
    }
    for (int64_t k = 0; k < x->shape[0]; k++)
        if (!(c[4]->f[k] + eps > 0.0f))
            return onnx_fail(im, NEON_ERR_NUMERIC, "var + epsilon of channel %lld is %g (not > 0)",
                             (long long)k, (double)(c[4]->f[k] + eps));
    int in_id, id;
    NEON_TRY(onnx_act(im, x, &in_id));
    neon_status st = neon_graph_add_batchnorm(im->g, onnx_node_name(im), in_id, c[1]->f, c[2]->f,
                                              c[3]->f, c[4]->f, eps, &id);
    return onnx_emit(im, out, st, id);
}

/* ---- activations, Identity, Softmax ---------------------------------------------------- */

neon_status onnx_op_relu(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *x;
    int in_id, id;
    NEON_TRY(onnx_in_act(im, n, 0, &x));
    NEON_TRY(onnx_act(im, x, &in_id));
    neon_status st = neon_graph_add_relu(im->g, onnx_node_name(im), in_id, &id);
    return onnx_emit(im, onnx_out(im, n), st, id);
}

neon_status onnx_op_activation(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *x;
    int in_id, id;
    float param = 0.0f;
    neon_activation act;
    const char *op = n->op_type;
    if (strcmp(op, "Sigmoid") == 0) {
        act = NEON_ACT_SIGMOID;
    } else if (strcmp(op, "Tanh") == 0) {
        act = NEON_ACT_TANH;
    } else if (strcmp(op, "Softplus") == 0) {
        act = NEON_ACT_SOFTPLUS;
    } else if (strcmp(op, "LeakyRelu") == 0) {
        act = NEON_ACT_LEAKY_RELU;
        NEON_TRY(onnx_attr_float(im, n, "alpha", 0.01f, &param));
    } else {
        act = NEON_ACT_ELU;
        NEON_TRY(onnx_attr_float(im, n, "alpha", 1.0f, &param));
    }
    NEON_TRY(onnx_in_act(im, n, 0, &x));
    NEON_TRY(onnx_act(im, x, &in_id));
    neon_status st = neon_graph_add_activation(im->g, onnx_node_name(im), in_id, act, param, &id);
    return onnx_emit(im, onnx_out(im, n), st, id);
}

/* Identity and Dropout (inference: the identity) alias their input. */
neon_status onnx_op_identity(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *x;
    NEON_TRY(onnx_in(im, n, 0, &x));
    onnx_set_alias(onnx_out(im, n), x);
    return NEON_OK;
}

neon_status onnx_op_softmax(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *x;
    char lab[256];
    NEON_TRY(onnx_in_act(im, n, 0, &x));
    if (strcmp(n->output[0], im->out_name) != 0)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "%s is only supported as the last node of the graph (it is stripped so "
                         "the graph outputs logits)", n->op_type);
    neon_log(im->ctx, NEON_LOG_INFO, "%s: trailing %s node %s stripped; the graph outputs logits",
             im->file, n->op_type, onnx_label(im, lab, sizeof lab));
    onnx_set_alias(onnx_out(im, n), x);
    return NEON_OK;
}
