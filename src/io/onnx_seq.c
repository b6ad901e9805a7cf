/* ONNX importer: values whose batch axis is not axis 0 (time-major
 * sequences: LSTM inputs and outputs) and the data-movement operators
 * around them (Transpose, Squeeze, Unsqueeze, Reshape, Gather, Slice,
 * Concat, Shape), plus Gather/Slice on ordinary activations and constants
 * broadcast along the symbolic batch (ConstantOfShape of x.size(0): an
 * LSTM's initial state).
 *
 * A value with batch_axis b is an activation whose ONNX tensor is the graph
 * node's per-sample tensor with the batch inserted at axis b: the per-sample
 * memory order is the ONNX order without the batch axis.  An operator that
 * only moves the batch axis (torch's batch_first Transpose) therefore costs
 * nothing.  Other translators reject such values (onnx_in_act/onnx_act).
 * The *_any handlers take the op table's place and hand ordinary cases to
 * the translators in onnx_const.c and onnx_shape_ops.c. */
#include "onnx_internal.h"
#include "neonlrp/lstm.h"

#include <string.h>

/* ONNX dims of an activation: the per-sample shape with ONNX_BATCH at b. */
static int full_dims(const onnx_value *v, int64_t *dims)
{
    for (int k = 0, s = 0; k <= v->ndim; k++) dims[k] = k == v->batch_axis ? ONNX_BATCH : v->shape[s++];
    return v->ndim + 1;
}

static int is_seq(const onnx_value *v) { return v->kind == OV_ACT && v->batch_axis != 0; }

/* Graph node id of an activation of any layout. */
static neon_status node_of(onnx_imp *im, onnx_value *v, int *id)
{
    if (is_seq(v)) {
        *id = v->id;
        return NEON_OK;
    }
    return onnx_act(im, v, id);
}

neon_status onnx_seq_emit(onnx_imp *im, onnx_value *out, neon_status st, int id, int batch_axis)
{
    NEON_TRY(onnx_emit(im, out, st, id));
    out->batch_axis = batch_axis;
    return NEON_OK;
}

/* out = node `id` with per-sample dims (nd, dims) and the batch at b: a
 * reshape node when the node's shape differs. */
static neon_status emit_named(onnx_imp *im, onnx_value *out, int id, int nd, const int64_t *dims,
                              int b, const char *name)
{
    neon_node_info info;
    NEON_TRY(neon_graph_node_info(im->g, id, &info));
    if (nd < 1)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED, "the result would have no per-sample axes");
    if (nd > ONNX_MAX_SDIMS) return onnx_fail(im, NEON_ERR_UNSUPPORTED, "rank %d is too large", nd + 1);
    if (info.ndim == nd && !memcmp(info.shape, dims, sizeof(int64_t) * (size_t)nd))
        return onnx_seq_emit(im, out, NEON_OK, id, b);
    int rid;
    neon_status st = neon_graph_add_reshape(im->g, name, id, nd, dims, &rid);
    return onnx_seq_emit(im, out, st, rid, b);
}

static neon_status emit_dims(onnx_imp *im, onnx_value *out, int id, int nd, const int64_t *dims,
                             int b)
{
    return emit_named(im, out, id, nd, dims, b, onnx_node_name(im));
}

/* ---- Transpose ----------------------------------------------------------- */

static neon_status fold_transpose(onnx_imp *im, onnx_value *out, const onnx_const *c,
                                  const int64_t *perm)
{
    int64_t dims[NEON_MAX_DIMS], st_in[NEON_MAX_DIMS];
    for (int a = c->ndim - 1, m = 1; a >= 0; a--) {
        st_in[a] = m;
        m *= (int)c->dims[a];
    }
    for (int a = 0; a < c->ndim; a++) dims[a] = c->dims[perm[a]];
    NEON_TRY(onnx_new_const(im, out, c->is_int, c->ndim, dims));
    for (int64_t o = 0; o < c->numel; o++) {
        int64_t rem = o, src = 0;
        for (int a = c->ndim - 1; a >= 0; a--) {
            src += (rem % dims[a]) * st_in[perm[a]];
            rem /= dims[a];
        }
        if (c->is_int) out->c.i[o] = c->i[src];
        else out->c.f[o] = c->f[src];
    }
    return NEON_OK;
}

neon_status onnx_op_transpose(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *x, *out = onnx_out(im, n);
    onnx_const *c;
    const int64_t *pa;
    int64_t np, perm[NEON_MAX_DIMS], full[NEON_MAX_DIMS], dims[NEON_MAX_DIMS];
    char sx[128];
    NEON_TRY(onnx_in(im, n, 0, &x));
    NEON_TRY(onnx_const_get(im, x, &c));
    const int R = c ? c->ndim : x->ndim + 1;
    NEON_TRY(onnx_attr_ints(im, n, "perm", &pa, &np));
    if (pa && np != R)
        return onnx_fail(im, NEON_ERR_FORMAT, "perm has %lld entries for rank %d", (long long)np, R);
    int seen = 0;
    for (int k = 0; k < R; k++) {
        perm[k] = pa ? pa[k] : R - 1 - k;
        if (perm[k] < 0 || perm[k] >= R || (seen >> perm[k]) & 1)
            return onnx_fail(im, NEON_ERR_FORMAT, "perm is not a permutation of 0..%d", R - 1);
        seen |= 1 << perm[k];
    }
    if (c) return fold_transpose(im, out, c, perm);
    const int b = x->batch_axis;
    full_dims(x, full);
    /* memory order is kept when the non-batch axes of size > 1 stay in order */
    int nb = 0, nd = 0, last = -1;
    for (int k = 0; k < R; k++) {
        if (perm[k] == b) {
            nb = k;
            continue;
        }
        dims[nd++] = full[perm[k]];
        if (full[perm[k]] == 1) continue;
        if (perm[k] < last)
            return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                             "perm reorders the per-sample axes of %s (batch on axis %d); only "
                             "moving the batch axis is supported",
                             onnx_sshape(x->ndim, x->shape, sx, sizeof sx), b);
        last = (int)perm[k];
    }
    int id;
    NEON_TRY(node_of(im, x, &id));
    return emit_dims(im, out, id, nd, dims, nb);
}

/* ---- Squeeze / Unsqueeze -------------------------------------------------- */

static neon_status seq_squeeze(onnx_imp *im, const Onnx__NodeProto *n, onnx_value *x, int unsq)
{
    int64_t axes[NEON_MAX_DIMS], full[NEON_MAX_DIMS + 1], dims[NEON_MAX_DIMS + 1];
    int na, r = 0, nb = -1;
    const int R = full_dims(x, full), b = x->batch_axis;
    NEON_TRY(onnx_axes(im, n, R, unsq, axes, &na));
    if (unsq) {
        if (na == 0) return onnx_fail(im, NEON_ERR_FORMAT, "axes are missing");
        for (int d = 0, src = 0; d < R + na; d++) {
            int ins = 0;
            for (int k = 0; k < na; k++) ins |= axes[k] == d;
            if (!ins && src == b) nb = r;
            dims[r++] = ins ? 1 : full[src++];
        }
    } else {
        for (int d = 0; d < R; d++) {
            int sq = na == 0 && full[d] == 1;
            for (int k = 0; k < na; k++) sq |= axes[k] == d;
            if (sq && d == b)
                return onnx_fail(im, NEON_ERR_UNSUPPORTED, "Squeeze of the batch axis (%d)", b);
            if (sq && full[d] != 1)
                return onnx_fail(im, NEON_ERR_SHAPE, "cannot squeeze axis %d of size %lld", d,
                                 (long long)full[d]);
            if (sq) continue;
            if (d == b) nb = r;
            dims[r++] = full[d];
        }
    }
    int64_t ps[NEON_MAX_DIMS];
    for (int d = 0, k = 0; d < r; d++)
        if (d != nb) ps[k++] = dims[d];
    return emit_dims(im, onnx_out(im, n), x->id, r - 1, ps, nb);
}

neon_status onnx_op_squeeze_any(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *x;
    NEON_TRY(onnx_in(im, n, 0, &x));
    return is_seq(x) ? seq_squeeze(im, n, x, 0) : onnx_op_squeeze(im, n);
}

neon_status onnx_op_unsqueeze_any(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *x;
    NEON_TRY(onnx_in(im, n, 0, &x));
    return is_seq(x) ? seq_squeeze(im, n, x, 1) : onnx_op_unsqueeze(im, n);
}

/* ---- Reshape ------------------------------------------------------------------ */

static int64_t prod(const int64_t *d, int a, int b)
{
    int64_t m = 1;
    for (int k = a; k < b; k++) m *= d[k];
    return m;
}

neon_status onnx_op_reshape_any(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *x, *sv;
    const int64_t *s;
    int64_t r, allowzero, full[NEON_MAX_DIMS], dims[NEON_MAX_DIMS];
    NEON_TRY(onnx_in(im, n, 0, &x));
    if (!is_seq(x)) return onnx_op_reshape(im, n);
    NEON_TRY(onnx_in(im, n, 1, &sv));
    NEON_TRY(onnx_need_ints(im, sv, "shape", &s, &r));
    NEON_TRY(onnx_attr_int(im, n, "allowzero", 0, &allowzero));
    const int R = full_dims(x, full), b = x->batch_axis;
    if (r < 2 || r > NEON_MAX_DIMS)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED, "reshape to rank %lld is not supported", (long long)r);
    int nb = -1, infer = -1;
    int64_t known = 1, numel = prod(x->shape, 0, x->ndim);
    for (int i = 0; i < r; i++) {
        int64_t v = s[i] == 0 && !allowzero ? (i < R ? full[i] : -2) : s[i];
        if (v == ONNX_BATCH) {
            if (nb >= 0) return onnx_fail(im, NEON_ERR_UNSUPPORTED, "the batch appears twice");
            nb = i;
        } else if (v == -1 && infer < 0) {
            infer = i;
        } else if (v < 1 || !neon_mul_ok(known, v, &known)) {
            return onnx_fail(im, NEON_ERR_FORMAT, "shape entry %d (%lld) is not valid", i, (long long)s[i]);
        }
        dims[i] = v;
    }
    if (nb < 0)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "the target shape does not keep the batch axis (on axis %d of the input) "
                         "as an axis of its own", b);
    if (infer >= 0) {
        if (known < 1 || numel % known)
            return onnx_fail(im, NEON_ERR_SHAPE, "cannot infer the -1 entry");
        dims[infer] = numel / known;
    }
    /* the batch must separate the same per-sample data before and after */
    dims[nb] = 1;
    full[b] = 1;
    if (prod(dims, 0, r) != numel || prod(dims, 0, nb) != prod(full, 0, b))
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "this reshape moves data across the batch axis (axis %d of the input)", b);
    int64_t ps[NEON_MAX_DIMS];
    for (int d = 0, k = 0; d < r; d++)
        if (d != nb) ps[k++] = dims[d];
    return emit_dims(im, onnx_out(im, n), x->id, (int)r - 1, ps, nb);
}

/* ---- Gather / Slice on activations --------------------------------------------- */

/* Normalizes an ONNX axis of x and maps it to the per-sample axis. */
static neon_status sample_axis(onnx_imp *im, const onnx_value *x, int64_t axis, int *pa)
{
    const int R = x->ndim + 1;
    if (axis < -R || axis >= R)
        return onnx_fail(im, NEON_ERR_FORMAT, "axis %lld is out of range for rank %d",
                         (long long)axis, R);
    if (axis < 0) axis += R;
    if (axis == x->batch_axis)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED, "%s along the batch axis is not supported",
                         im->node->op_type);
    *pa = (int)axis - (axis > x->batch_axis);
    return NEON_OK;
}

static neon_status act_gather(onnx_imp *im, const Onnx__NodeProto *n, onnx_value *x)
{
    onnx_value *iv, *out = onnx_out(im, n);
    onnx_const *ix;
    int64_t axis;
    int pa = 0, in_id, id;
    char sh[128];
    NEON_TRY(onnx_in(im, n, 1, &iv));
    NEON_TRY(onnx_need_const(im, iv, "indices", &ix));
    NEON_TRY(onnx_attr_int(im, n, "axis", 0, &axis));
    NEON_TRY(sample_axis(im, x, axis, &pa));
    if (!ix->is_int || ix->ndim > 1 || ix->numel < 1)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "indices '%s' of shape %s: only an int scalar or vector is supported",
                         iv->name, onnx_cshape(ix, sh, sizeof sh));
    const int64_t A = x->shape[pa];
    int64_t *idx = onnx_tmp(im, (size_t)ix->numel, sizeof *idx);
    if (!idx) return NEON_ERR_NOMEM;
    for (int64_t j = 0; j < ix->numel; j++) {
        idx[j] = ix->i[j] < 0 ? ix->i[j] + A : ix->i[j];
        if (idx[j] < 0 || idx[j] >= A)
            return onnx_fail(im, NEON_ERR_FORMAT, "index %lld is out of range for size %lld",
                             (long long)ix->i[j], (long long)A);
    }
    NEON_TRY(node_of(im, x, &in_id));
    neon_status st = neon_graph_add_gather(im->g, onnx_node_name(im), in_id, pa, ix->numel, idx, &id);
    if (st != NEON_OK) return onnx_fail_prefix(im, st);
    int64_t dims[NEON_MAX_DIMS];
    int nd = 0, b = x->batch_axis;
    for (int d = 0; d < x->ndim; d++)
        if (d != pa || ix->ndim == 1) dims[nd++] = d == pa ? ix->numel : x->shape[d];
    if (ix->ndim == 0 && pa < b) b--;
    char nm[512]; /* the reshape dropping the axis of a scalar index */
    snprintf(nm, sizeof nm, "%s.squeeze", onnx_node_name(im));
    return emit_named(im, out, id, nd, dims, b, nm);
}

neon_status onnx_op_gather_any(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *x;
    NEON_TRY(onnx_in(im, n, 0, &x));
    return onnx_is_act(x) ? act_gather(im, n, x) : onnx_op_gather(im, n);
}

typedef struct slice_spec {
    int64_t n;
    const int64_t *st, *en, *ax, *sp;
} slice_spec;

static neon_status read_slice(onnx_imp *im, const Onnx__NodeProto *n, slice_spec *s)
{
    int64_t ne = 0, na = -1, np = -1;
    memset(s, 0, sizeof *s);
    if (im->opset < 10) {
        NEON_TRY(onnx_attr_ints(im, n, "starts", &s->st, &s->n));
        NEON_TRY(onnx_attr_ints(im, n, "ends", &s->en, &ne));
        NEON_TRY(onnx_attr_ints(im, n, "axes", &s->ax, &na));
        if (!s->ax) na = -1;
    } else {
        onnx_value *v;
        const int64_t **p[5] = {NULL, &s->st, &s->en, &s->ax, &s->sp};
        int64_t *c[5] = {NULL, &s->n, &ne, &na, &np};
        static const char *const role[5] = {"", "starts", "ends", "axes", "steps"};
        for (size_t k = 1; k < 5; k++) {
            NEON_TRY(onnx_in_opt(im, n, k, &v));
            if (v) NEON_TRY(onnx_need_ints(im, v, role[k], p[k], c[k]));
        }
    }
    if (!s->st || !s->en || s->n != ne || (na >= 0 && na != s->n) || (np >= 0 && np != s->n))
        return onnx_fail(im, NEON_ERR_FORMAT, "starts/ends/axes/steps disagree in length");
    return NEON_OK;
}

/* Indices selected along an axis of size D (ONNX Slice clamping). */
static int64_t slice_indices(int64_t D, int64_t s, int64_t e, int64_t t, int64_t *idx)
{
    int64_t cnt = 0;
    if (s < 0) s += D;
    if (e < 0) e += D;
    if (t < -INT64_MAX) t = -INT64_MAX;
    /* steps are huge in exported "to the end" slices: stop before i + t could overflow */
    if (t > 0) {
        s = s < 0 ? 0 : s > D ? D : s;
        e = e < 0 ? 0 : e > D ? D : e;
        for (int64_t i = s; i < e; i += t) {
            idx[cnt++] = i;
            if (e - i <= t) break;
        }
    } else {
        s = s < 0 ? 0 : s > D - 1 ? D - 1 : s;
        e = e < -1 ? -1 : e > D - 1 ? D - 1 : e;
        for (int64_t i = s; i > e; i += t) {
            idx[cnt++] = i;
            if (i - e <= -t) break;
        }
    }
    return cnt;
}

static neon_status act_slice(onnx_imp *im, const Onnx__NodeProto *n, onnx_value *x)
{
    slice_spec s;
    int id, nb = x->batch_axis;
    int64_t dims[NEON_MAX_DIMS];
    NEON_TRY(read_slice(im, n, &s));
    NEON_TRY(node_of(im, x, &id));
    memcpy(dims, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    for (int64_t k = 0; k < s.n; k++) {
        const int64_t t = s.sp ? s.sp[k] : 1, axis = s.ax ? s.ax[k] : k;
        const int R = x->ndim + 1;
        if (t == 0) return onnx_fail(im, NEON_ERR_FORMAT, "slice step is 0");
        if (t == 1 && (axis == nb || axis == nb - R) && s.st[k] == 0 && s.en[k] >= INT32_MAX)
            continue; /* the whole batch */
        int pa = 0;
        NEON_TRY(sample_axis(im, x, axis, &pa));
        int64_t *idx = onnx_tmp(im, (size_t)dims[pa], sizeof *idx);
        if (!idx) return NEON_ERR_NOMEM;
        const int64_t cnt = slice_indices(dims[pa], s.st[k], s.en[k], t, idx);
        if (cnt < 1) return onnx_fail(im, NEON_ERR_UNSUPPORTED, "the slice is empty");
        if (cnt == dims[pa] && idx[0] == 0 && t == 1) continue;
        neon_status st = neon_graph_add_gather(im->g, onnx_node_name(im), id, pa, cnt, idx, &id);
        if (st != NEON_OK) return onnx_fail_prefix(im, st);
        dims[pa] = cnt;
    }
    return emit_dims(im, onnx_out(im, n), id, x->ndim, dims, nb);
}

/* Slice of a batch-broadcast constant (the initial states of stacked LSTM
 * layers), along the other axes. */
static neon_status bcast_slice(onnx_imp *im, const Onnx__NodeProto *n, onnx_value *x)
{
    slice_spec s;
    const int b = x->bcast_batch - 1;
    NEON_TRY(read_slice(im, n, &s));
    for (int64_t k = 0; k < s.n; k++) {
        int64_t a = s.ax ? s.ax[k] : k;
        if (a < 0) a += x->c.ndim;
        if (a == b && !(s.st[k] == 0 && s.en[k] >= INT32_MAX && (!s.sp || s.sp[k] == 1)))
            return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                             "slicing the batch axis of '%s' is not supported", x->name);
    }
    x->bcast_batch = 0; /* fold on the stored constant (batch axis of size 1) */
    neon_status st = onnx_op_slice(im, n);
    x->bcast_batch = b + 1;
    if (st == NEON_OK) onnx_out(im, n)->bcast_batch = b + 1;
    return st;
}

neon_status onnx_op_slice_any(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *x;
    NEON_TRY(onnx_in(im, n, 0, &x));
    if (onnx_is_act(x)) return act_slice(im, n, x);
    if (x->kind == OV_CONST && x->bcast_batch) return bcast_slice(im, n, x);
    return onnx_op_slice(im, n);
}

/* ---- Concat, Shape, ConstantOfShape --------------------------------------------- */

neon_status onnx_op_concat_any(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *v, *v0 = NULL;
    int ids[64], pa = 0, any = 0;
    int64_t axis;
    char s0[128], sv[128];
    for (size_t k = 0; k < n->n_input; k++) {
        NEON_TRY(onnx_in(im, n, k, &v));
        any |= is_seq(v);
    }
    if (!any) return onnx_op_concat(im, n);
    if (n->n_input > 64) return onnx_fail(im, NEON_ERR_UNSUPPORTED, "more than 64 inputs");
    NEON_TRY(onnx_attr_int(im, n, "axis", 0, &axis));
    for (size_t k = 0; k < n->n_input; k++) {
        NEON_TRY(onnx_in(im, n, k, &v));
        if (!v0) {
            v0 = v;
            NEON_TRY(sample_axis(im, v, axis, &pa));
        }
        int ok = is_seq(v) && v->batch_axis == v0->batch_axis && v->ndim == v0->ndim;
        for (int d = 0; ok && d < v->ndim; d++) ok = d == pa || v->shape[d] == v0->shape[d];
        if (!ok)
            return onnx_fail(im, NEON_ERR_SHAPE,
                             "cannot concatenate %s (batch on axis %d) and %s (batch on axis %d)",
                             onnx_sshape(v0->ndim, v0->shape, s0, sizeof s0), v0->batch_axis,
                             onnx_sshape(v->ndim, v->shape, sv, sizeof sv), v->batch_axis);
        ids[k] = v->id;
    }
    onnx_value *out = onnx_out(im, n);
    if (n->n_input == 1) {
        onnx_set_alias(out, v0);
        return NEON_OK;
    }
    int id;
    neon_status st = neon_graph_add_concat(im->g, onnx_node_name(im), (int)n->n_input, ids, pa, &id);
    return onnx_seq_emit(im, out, st, id, v0->batch_axis);
}

neon_status onnx_op_shape_any(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *x, *out = onnx_out(im, n);
    int64_t full[NEON_MAX_DIMS];
    NEON_TRY(onnx_in(im, n, 0, &x));
    if (!is_seq(x)) return onnx_op_shape(im, n);
    return onnx_shape_result(im, n, out, full, full_dims(x, full));
}

/* ConstantOfShape of a shape holding the symbolic batch: a constant stored
 * with that axis of size 1 and marked bcast_batch (only LSTM initial states
 * and Slice accept it; onnx_const_get refuses it everywhere else). */
neon_status onnx_op_const_of_shape_any(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *v, *out = onnx_out(im, n);
    const int64_t *shape;
    int64_t r, dims[NEON_MAX_DIMS];
    int b = -1;
    NEON_TRY(onnx_in(im, n, 0, &v));
    NEON_TRY(onnx_need_ints(im, v, "shape", &shape, &r));
    for (int64_t k = 0; k < r && k < NEON_MAX_DIMS; k++)
        if (shape[k] == ONNX_BATCH) b = b < 0 ? (int)k : -2;
    if (b == -1) return onnx_op_const_of_shape(im, n);
    if (b < 0 || r > NEON_MAX_DIMS)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED, "the batch size appears twice in the shape");
    onnx_const val = {0};
    float zero = 0;
    val.f = &zero;
    val.numel = 1;
    const Onnx__AttributeProto *a = onnx_attr(n, "value");
    if (a && a->t) NEON_TRY(onnx_decode_tensor(im, a->t, "its value", &val));
    if (val.numel != 1) return onnx_fail(im, NEON_ERR_FORMAT, "value must have one element");
    int64_t numel = 1; /* bounded like every folded constant (onnx_const.c) */
    for (int64_t k = 0; k < r; k++) {
        dims[k] = k == b ? 1 : shape[k];
        if (dims[k] < 0 || !neon_mul_ok(numel, dims[k], &numel) || numel > (INT64_C(1) << 24))
            return onnx_fail(im, NEON_ERR_UNSUPPORTED, "dimension %lld is not supported",
                             (long long)shape[k]);
    }
    NEON_TRY(onnx_new_const(im, out, val.is_int, (int)r, dims));
    for (int64_t k = 0; k < out->c.numel; k++) {
        if (val.is_int) out->c.i[k] = val.i[0];
        else out->c.f[k] = val.f[0];
    }
    out->bcast_batch = b + 1;
    return NEON_OK;
}
