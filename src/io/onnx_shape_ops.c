/* ONNX importer: translators for pooling and the shape-changing operators
 * (MaxPool, AveragePool, GlobalAveragePool, Flatten, Reshape, Squeeze,
 * Unsqueeze, Concat, Pad).  Everything here works on per-sample shapes; an
 * operator that would touch the batch axis is unsupported.  A constant Pad
 * stays pending so that torch's Pad + AveragePool (nn.AvgPool2d with
 * padding) becomes one average pool with count_include_pad. */
#include "onnx_internal.h"

#include <math.h>
#include <string.h>

#define ONNX_MAX_SPATIAL (INT64_C(1) << 20) /* kernel, stride, dilation, pad limit */

static char *fmt_ints(const int64_t *x, int64_t n, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "(");
    for (int64_t k = 0; k < n && used < size; k++) {
        if (x[k] == ONNX_BATCH)
            used += (size_t)snprintf(buf + used, size - used, "%sN", k ? ", " : "");
        else
            used += (size_t)snprintf(buf + used, size - used, "%s%lld", k ? ", " : "", (long long)x[k]);
    }
    if (used < size) snprintf(buf + used, size - used, ")");
    return buf;
}

/* ---- spatial attributes ------------------------------------------------------ */

static neon_status pair_attr(onnx_imp *im, const Onnx__NodeProto *n, const char *name, int count,
                             int64_t lo, int64_t *out)
{
    const int64_t *x;
    int64_t cnt;
    NEON_TRY(onnx_attr_ints(im, n, name, &x, &cnt));
    if (!x) return NEON_OK;
    if (cnt != count)
        return onnx_fail(im, NEON_ERR_FORMAT, "attribute '%s' has %lld values, expected %d", name,
                         (long long)cnt, count);
    for (int k = 0; k < count; k++) {
        if (x[k] < lo || x[k] > ONNX_MAX_SPATIAL)
            return onnx_fail(im, x[k] < 0 ? NEON_ERR_UNSUPPORTED : NEON_ERR_FORMAT,
                             "attribute '%s' value %lld is not supported", name, (long long)x[k]);
        out[k] = x[k];
    }
    return NEON_OK;
}

int64_t onnx_out_size(int64_t in, int64_t pad_sum, int64_t k, int64_t stride, int64_t dil)
{
    int64_t eff = dil * (k - 1) + 1;
    if (in + pad_sum < eff) return 0;
    return (in + pad_sum - eff) / stride + 1;
}

neon_status onnx_spatial(onnx_imp *im, const Onnx__NodeProto *n, const int64_t *in_hw,
                         const int64_t *k, int64_t *stride, int64_t *dil, int64_t *pads)
{
    char mode[32];
    stride[0] = stride[1] = dil[0] = dil[1] = 1;
    pads[0] = pads[1] = pads[2] = pads[3] = 0;
    for (int a = 0; a < 2; a++)
        if (k[a] < 1 || k[a] > ONNX_MAX_SPATIAL)
            return onnx_fail(im, NEON_ERR_FORMAT, "kernel size %lld is not valid", (long long)k[a]);
    NEON_TRY(pair_attr(im, n, "strides", 2, 1, stride));
    NEON_TRY(pair_attr(im, n, "dilations", 2, 1, dil));
    NEON_TRY(pair_attr(im, n, "pads", 4, 0, pads));
    NEON_TRY(onnx_attr_str(im, n, "auto_pad", "NOTSET", mode, sizeof mode));
    if (strcmp(mode, "NOTSET") == 0 || mode[0] == '\0') return NEON_OK;
    pads[0] = pads[1] = pads[2] = pads[3] = 0;
    if (strcmp(mode, "VALID") == 0) return NEON_OK;
    int upper = strcmp(mode, "SAME_UPPER") == 0;
    if (!upper && strcmp(mode, "SAME_LOWER") != 0)
        return onnx_fail(im, NEON_ERR_FORMAT, "unknown auto_pad '%s'", mode);
    for (int a = 0; a < 2; a++) {
        int64_t out = (in_hw[a] + stride[a] - 1) / stride[a];
        int64_t total = (out - 1) * stride[a] + (k[a] - 1) * dil[a] + 1 - in_hw[a];
        if (total < 0) total = 0;
        pads[a] = upper ? total / 2 : total - total / 2;
        pads[a + 2] = total - pads[a];
    }
    return NEON_OK;
}

/* ---- pooling ------------------------------------------------------------------------ */

static neon_status pool(onnx_imp *im, const Onnx__NodeProto *n, int is_avg)
{
    onnx_value *x, *out = onnx_out(im, n);
    char sx[128];
    NEON_TRY(onnx_in_act(im, n, 0, &x));
    if (x->ndim != 3)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "only 2-d pooling over (N, C, H, W) is supported; input has shape %s",
                         onnx_sshape(x->ndim, x->shape, sx, sizeof sx));
    int64_t k[2] = {0, 0}, stride[2], dil[2], pads[4], ceil_mode, cip = 0;
    if (!onnx_attr(n, "kernel_shape"))
        return onnx_fail(im, NEON_ERR_FORMAT, "attribute 'kernel_shape' is missing");
    NEON_TRY(pair_attr(im, n, "kernel_shape", 2, 1, k));
    NEON_TRY(onnx_spatial(im, n, x->shape + 1, k, stride, dil, pads));
    NEON_TRY(onnx_attr_int(im, n, "ceil_mode", 0, &ceil_mode));
    if (is_avg) NEON_TRY(onnx_attr_int(im, n, "count_include_pad", 0, &cip));
    if (dil[0] != 1 || dil[1] != 1)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED, "dilated pooling is not supported");
    if (pads[0] >= k[0] || pads[2] >= k[0] || pads[1] >= k[1] || pads[3] >= k[1])
        return onnx_fail(im, NEON_ERR_FORMAT,
                         "pads (%lld, %lld, %lld, %lld) must be smaller than the kernel (%lld, %lld)",
                         (long long)pads[0], (long long)pads[1], (long long)pads[2],
                         (long long)pads[3], (long long)k[0], (long long)k[1]);
    if (onnx_out_size(x->shape[1], pads[0] + pads[2], k[0], stride[0], 1) < 1 ||
        onnx_out_size(x->shape[2], pads[1] + pads[3], k[1], stride[1], 1) < 1)
        return onnx_fail(im, NEON_ERR_SHAPE, "kernel (%lld, %lld) does not fit input %s",
                         (long long)k[0], (long long)k[1],
                         onnx_sshape(x->ndim, x->shape, sx, sizeof sx));
    int in_id = -1;
    const onnx_pending *pp = x->kind == OV_PEND_PAD ? x->p : NULL;
    if (is_avg && pp && pp->value == 0.0f && pp->pads[0] == 0 && pp->pads[3] == 0 && !ceil_mode &&
        (cip || (pads[0] | pads[1] | pads[2] | pads[3]) == 0)) {
        /* Pad(0) + AveragePool == AveragePool(pads, count_include_pad=1) when the
         * combined padding stays within half a window (what pooling layers allow) */
        int64_t t[4] = {pads[0] + pp->pads[1], pads[1] + pp->pads[2], pads[2] + pp->pads[4],
                        pads[3] + pp->pads[5]};
        if (t[0] <= k[0] / 2 && t[2] <= k[0] / 2 && t[1] <= k[1] / 2 && t[3] <= k[1] / 2) {
            memcpy(pads, t, sizeof t);
            cip = 1;
            in_id = pp->input;
        }
    }
    if (in_id < 0) NEON_TRY(onnx_act(im, x, &in_id));
    neon_pool2d_params p = {
        .kernel_h = (int)k[0], .kernel_w = (int)k[1],
        .stride_h = (int)stride[0], .stride_w = (int)stride[1],
        .pad_top = (int)pads[0], .pad_left = (int)pads[1],
        .pad_bottom = (int)pads[2], .pad_right = (int)pads[3],
        .ceil_mode = ceil_mode != 0, .count_include_pad = cip != 0,
    };
    int id;
    neon_status st = is_avg ? neon_graph_add_avgpool2d(im->g, onnx_node_name(im), in_id, &p, &id)
                            : neon_graph_add_maxpool2d(im->g, onnx_node_name(im), in_id, &p, &id);
    return onnx_emit(im, out, st, id);
}

neon_status onnx_op_maxpool(onnx_imp *im, const Onnx__NodeProto *n) { return pool(im, n, 0); }
neon_status onnx_op_avgpool(onnx_imp *im, const Onnx__NodeProto *n) { return pool(im, n, 1); }

neon_status onnx_op_global_avgpool(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *x;
    char sx[128];
    int in_id, id;
    NEON_TRY(onnx_in_act(im, n, 0, &x));
    if (x->ndim != 3)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "only 2-d pooling over (N, C, H, W) is supported; input has shape %s",
                         onnx_sshape(x->ndim, x->shape, sx, sizeof sx));
    NEON_TRY(onnx_act(im, x, &in_id));
    neon_status st = neon_graph_add_global_avgpool(im->g, onnx_node_name(im), in_id, &id);
    return onnx_emit(im, onnx_out(im, n), st, id);
}

/* ---- reshapes ------------------------------------------------------------------------ */

/* A reshape node, or an alias when the per-sample shape does not change. */
static neon_status emit_reshape(onnx_imp *im, const Onnx__NodeProto *n, onnx_value *x, int nd,
                                const int64_t *dims)
{
    onnx_value *out = onnx_out(im, n);
    if (nd == x->ndim && memcmp(dims, x->shape, sizeof(int64_t) * (size_t)nd) == 0) {
        onnx_set_alias(out, x);
        return NEON_OK;
    }
    int in_id, id;
    NEON_TRY(onnx_act(im, x, &in_id));
    neon_status st = neon_graph_add_reshape(im->g, onnx_node_name(im), in_id, nd, dims, &id);
    return onnx_emit(im, out, st, id);
}

static int64_t numel_of(int nd, const int64_t *d)
{
    int64_t m = 1;
    for (int k = 0; k < nd; k++) m *= d[k];
    return m;
}

neon_status onnx_op_reshape(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *x, *sv;
    onnx_const *c;
    const int64_t *s;
    int64_t r, allowzero, dims[NEON_MAX_DIMS];
    char sx[128], ss[256];
    NEON_TRY(onnx_in(im, n, 0, &x));
    NEON_TRY(onnx_in(im, n, 1, &sv));
    NEON_TRY(onnx_need_ints(im, sv, "shape", &s, &r));
    NEON_TRY(onnx_attr_int(im, n, "allowzero", 0, &allowzero));
    NEON_TRY(onnx_const_get(im, x, &c));
    /* input dims with the batch first: constants use their own dims */
    int rin = c ? c->ndim : x->ndim + 1;
    int64_t in[NEON_MAX_DIMS];
    in[0] = ONNX_BATCH;
    if (c) memcpy(in, c->dims, sizeof(int64_t) * (size_t)c->ndim);
    else memcpy(in + 1, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    if (r > NEON_MAX_DIMS || (!c && r < 1))
        return onnx_fail(im, NEON_ERR_UNSUPPORTED, "reshape to %s is not supported",
                         fmt_ints(s, r, ss, sizeof ss));
    /* batch handling: the first target entry must stay the batch */
    int first = 0;
    if (!c) {
        int64_t s0 = s[0];
        if (!(s0 == ONNX_BATCH || (s0 == 0 && !allowzero) || s0 == -1 ||
              (im->decl_batch > 0 && s0 == im->decl_batch)))
            return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                             "reshaping %s to %s would change the batch axis; only per-sample "
                             "reshapes are supported", onnx_sshape(x->ndim, x->shape, sx, sizeof sx),
                             fmt_ints(s, r, ss, sizeof ss));
        first = 1;
    }
    int64_t numel = c ? c->numel : numel_of(x->ndim, x->shape), prod = 1;
    int infer = -1;
    for (int i = first; i < r; i++) {
        int64_t v = s[i];
        if (v == 0 && !allowzero) {
            if (i >= rin) return onnx_fail(im, NEON_ERR_FORMAT, "shape entry %d is 0 (copy) "
                                           "beyond the input rank", i);
            v = in[i];
        }
        if (v == -1) {
            if (infer >= 0) return onnx_fail(im, NEON_ERR_FORMAT, "shape has two -1 entries");
            infer = i;
            continue;
        }
        if (v == ONNX_BATCH)
            return onnx_fail(im, NEON_ERR_UNSUPPORTED, "reshape to %s moves the batch axis",
                             fmt_ints(s, r, ss, sizeof ss));
        if (v < 1 || !neon_mul_ok(prod, v, &prod))
            return onnx_fail(im, NEON_ERR_FORMAT, "shape %s is not valid", fmt_ints(s, r, ss, sizeof ss));
        dims[i] = v;
    }
    if (!c && s[0] == -1 && infer >= 0)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED, "shape %s infers two axes",
                         fmt_ints(s, r, ss, sizeof ss));
    if (infer >= 0) {
        if (numel % prod != 0)
            return onnx_fail(im, NEON_ERR_SHAPE, "cannot reshape %lld values per sample to %s",
                             (long long)numel, fmt_ints(s, r, ss, sizeof ss));
        dims[infer] = numel / prod;
        prod = numel;
    }
    if (prod != numel)
        return onnx_fail(im, NEON_ERR_SHAPE, "cannot reshape %s to %s",
                         c ? onnx_cshape(c, sx, sizeof sx) : onnx_sshape(x->ndim, x->shape, sx, sizeof sx),
                         fmt_ints(s, r, ss, sizeof ss));
    if (c) return onnx_fold_reshape(im, onnx_out(im, n), c, (int)r, dims);
    return emit_reshape(im, n, x, (int)r - 1, dims + 1);
}

neon_status onnx_op_flatten(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *x;
    onnx_const *c;
    int64_t axis;
    NEON_TRY(onnx_in(im, n, 0, &x));
    NEON_TRY(onnx_attr_int(im, n, "axis", 1, &axis));
    NEON_TRY(onnx_const_get(im, x, &c));
    int R = c ? c->ndim : x->ndim + 1;
    if (axis < -R || axis > R)
        return onnx_fail(im, NEON_ERR_FORMAT, "axis %lld is out of range", (long long)axis);
    if (axis < 0) axis += R;
    if (c) {
        int64_t d[2] = {numel_of((int)axis, c->dims), numel_of(R - (int)axis, c->dims + axis)};
        return onnx_fold_reshape(im, onnx_out(im, n), c, 2, d);
    }
    if (axis != 1)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "Flatten with axis=%lld merges the batch axis; only axis=1 is supported",
                         (long long)axis);
    int64_t m = numel_of(x->ndim, x->shape);
    return emit_reshape(im, n, x, 1, &m);
}

static neon_status squeeze(onnx_imp *im, const Onnx__NodeProto *n, int unsq)
{
    onnx_value *x;
    onnx_const *c;
    int64_t axes[NEON_MAX_DIMS], full[NEON_MAX_DIMS + 1], dims[NEON_MAX_DIMS];
    int na, r = 0;
    char sx[128];
    NEON_TRY(onnx_in(im, n, 0, &x));
    NEON_TRY(onnx_const_get(im, x, &c));
    if (c) return onnx_fold_squeeze(im, n, onnx_out(im, n), c, unsq);
    int R = x->ndim + 1;
    NEON_TRY(onnx_axes(im, n, R, unsq, axes, &na));
    for (int k = 0; k < na; k++)
        if (axes[k] == 0)
            return onnx_fail(im, NEON_ERR_UNSUPPORTED, "%s of the batch axis is not supported",
                             n->op_type);
    full[0] = ONNX_BATCH;
    memcpy(full + 1, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    if (unsq) {
        if (na == 0) return onnx_fail(im, NEON_ERR_FORMAT, "axes are missing");
        for (int d = 1, src = 1; d < R + na; d++) {
            int ins = 0;
            for (int k = 0; k < na; k++) ins |= axes[k] == d;
            dims[r++] = ins ? 1 : full[src++];
        }
    } else {
        for (int d = 1; d < R; d++) {
            int sq = na == 0 && full[d] == 1;
            for (int k = 0; k < na; k++) sq |= axes[k] == d;
            if (sq && full[d] != 1)
                return onnx_fail(im, NEON_ERR_SHAPE, "cannot squeeze axis %d of input %s", d,
                                 onnx_sshape(x->ndim, x->shape, sx, sizeof sx));
            if (!sq) dims[r++] = full[d];
        }
    }
    if (r > ONNX_MAX_SDIMS) return onnx_fail(im, NEON_ERR_UNSUPPORTED, "rank %d is too large", r + 1);
    return emit_reshape(im, n, x, r, dims);
}

neon_status onnx_op_squeeze(onnx_imp *im, const Onnx__NodeProto *n) { return squeeze(im, n, 0); }
neon_status onnx_op_unsqueeze(onnx_imp *im, const Onnx__NodeProto *n) { return squeeze(im, n, 1); }

/* ---- Concat, Pad ------------------------------------------------------------------------- */

neon_status onnx_op_concat(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *v, *v0 = NULL, *out = onnx_out(im, n);
    int64_t axis;
    int n_const = 0, ids[64];
    char s0[128], sv[128];
    if (!onnx_attr(n, "axis")) return onnx_fail(im, NEON_ERR_FORMAT, "attribute 'axis' is missing");
    NEON_TRY(onnx_attr_int(im, n, "axis", 0, &axis));
    if (n->n_input < 1 || n->n_input > 64)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED, "%zu inputs (1 to 64 supported)", n->n_input);
    for (size_t k = 0; k < n->n_input; k++) {
        NEON_TRY(onnx_in(im, n, k, &v));
        n_const += !onnx_is_act(v);
    }
    if (n_const == (int)n->n_input) return onnx_fold_concat(im, n, out, axis);
    if (n_const > 0)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "concatenating constants with activations is not supported");
    for (size_t k = 0; k < n->n_input; k++) {
        NEON_TRY(onnx_in(im, n, k, &v));
        if (!v0) {
            v0 = v;
            int R = v->ndim + 1;
            if (axis < -R || axis >= R)
                return onnx_fail(im, NEON_ERR_FORMAT, "axis %lld is out of range", (long long)axis);
            if (axis < 0) axis += R;
            if (axis == 0)
                return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                                 "concatenation along the batch axis is not supported");
        }
        int ok = v->ndim == v0->ndim;
        for (int d = 0; ok && d < v->ndim; d++) ok = d == axis - 1 || v->shape[d] == v0->shape[d];
        if (!ok)
            return onnx_fail(im, NEON_ERR_SHAPE, "cannot concatenate %s and %s along axis %lld",
                             onnx_sshape(v0->ndim, v0->shape, s0, sizeof s0),
                             onnx_sshape(v->ndim, v->shape, sv, sizeof sv), (long long)axis);
        NEON_TRY(onnx_act(im, v, &ids[k]));
    }
    if (n->n_input == 1) {
        onnx_set_alias(out, v0);
        return NEON_OK;
    }
    int id;
    neon_status st = neon_graph_add_concat(im->g, onnx_node_name(im), (int)n->n_input, ids,
                                           (int)axis - 1, &id);
    return onnx_emit(im, out, st, id);
}

neon_status onnx_op_pad(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *x, *out = onnx_out(im, n);
    const int64_t *pads = NULL;
    int64_t cnt = 0;
    float value = 0.0f;
    char mode[32], sp[256];
    NEON_TRY(onnx_in_act(im, n, 0, &x));
    NEON_TRY(onnx_attr_str(im, n, "mode", "constant", mode, sizeof mode));
    if (strcmp(mode, "constant") != 0)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED, "mode '%s' is not supported (only 'constant')",
                         mode);
    if (im->opset < 11) {
        NEON_TRY(onnx_attr_ints(im, n, "pads", &pads, &cnt));
        NEON_TRY(onnx_attr_float(im, n, "value", 0.0f, &value));
    } else {
        onnx_value *pv, *cv;
        onnx_const *c;
        NEON_TRY(onnx_in(im, n, 1, &pv));
        NEON_TRY(onnx_need_ints(im, pv, "pads", &pads, &cnt));
        NEON_TRY(onnx_in_opt(im, n, 2, &cv));
        if (cv) {
            NEON_TRY(onnx_need_const(im, cv, "constant_value", &c));
            if (c->numel != 1 || c->is_int)
                return onnx_fail(im, NEON_ERR_FORMAT, "constant_value must be one float");
            value = c->f[0];
        }
        if (n->n_input > 3 && n->input[3][0])
            return onnx_fail(im, NEON_ERR_UNSUPPORTED, "the axes input is not supported");
    }
    if (!isfinite(value)) return onnx_fail(im, NEON_ERR_NUMERIC, "the pad value is not finite");
    int R = x->ndim + 1;
    if (!pads || cnt != 2 * R)
        return onnx_fail(im, NEON_ERR_FORMAT, "pads %s do not fit rank %d",
                         fmt_ints(pads, cnt, sp, sizeof sp), R);
    if (pads[0] != 0 || pads[R] != 0)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED, "padding the batch axis (pads %s) is not supported",
                         fmt_ints(pads, cnt, sp, sizeof sp));
    int any = 0;
    for (int k = 0; k < 2 * R; k++) {
        if (pads[k] < 0 || pads[k] > ONNX_MAX_SPATIAL)
            return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                             "pads %s are not supported (negative pads crop)",
                             fmt_ints(pads, cnt, sp, sizeof sp));
        any |= pads[k] != 0;
    }
    if (!any) {
        onnx_set_alias(out, x);
        return NEON_OK;
    }
    onnx_pending *p = onnx_tmp(im, 1, sizeof *p);
    if (!p) return NEON_ERR_NOMEM;
    p->name = onnx_node_name(im);
    NEON_TRY(onnx_act(im, x, &p->input));
    p->value = value;
    out->kind = OV_PEND_PAD;
    out->p = p;
    out->ndim = x->ndim;
    for (int d = 0; d < x->ndim; d++) {
        p->pads[d] = pads[d + 1];
        p->pads[x->ndim + d] = pads[R + d + 1];
        out->shape[d] = x->shape[d] + pads[d + 1] + pads[R + d + 1];
    }
    return NEON_OK;
}
