/* ONNX importer: constant folding of small tensors.
 *
 * Shape-computation subgraphs (Shape -> Gather -> Unsqueeze -> Concat ->
 * Reshape, as torch writes x.view(x.size(0), -1)) are evaluated at load
 * time.  The batch dimension stays symbolic as ONNX_BATCH; it survives data
 * movement (Gather, Concat, Slice, ...) and multiplication/division by 1,
 * and any other arithmetic on it is unsupported. */
#include "onnx_internal.h"

#include <string.h>

#define ONNX_MAX_FOLD (INT64_C(1) << 24) /* elements of one folded constant */

static size_t esize(const onnx_const *c) { return c->is_int ? sizeof(int64_t) : sizeof(float); }
static char *ebase(const onnx_const *c) { return c->is_int ? (char *)c->i : (char *)c->f; }

static neon_status new_const(onnx_imp *im, onnx_value *v, int is_int, int ndim, const int64_t *dims)
{
    int64_t numel = 1;
    for (int k = 0; k < ndim; k++)
        if (dims[k] < 0 || !neon_mul_ok(numel, dims[k], &numel) || numel > ONNX_MAX_FOLD)
            return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                             "folding a constant of this size is not supported (dimension %d is "
                             "%lld)", k, (long long)dims[k]);
    return onnx_new_const(im, v, is_int, ndim, dims);
}

/* Input k as a constant, or UNSUPPORTED: the op is only folded. */
static neon_status fold_in(onnx_imp *im, const Onnx__NodeProto *n, size_t k, onnx_const **c)
{
    onnx_value *v;
    NEON_TRY(onnx_in(im, n, k, &v));
    NEON_TRY(onnx_const_get(im, v, c));
    if (!*c)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "%s is only supported on constants (shape computations); input '%s' "
                         "depends on the model input", n->op_type, v->name);
    return NEON_OK;
}

static neon_status norm_axis(onnx_imp *im, int64_t axis, int r, int64_t *out)
{
    if (axis < -r || axis >= r)
        return onnx_fail(im, NEON_ERR_FORMAT, "axis %lld is out of range for rank %d",
                         (long long)axis, r);
    *out = axis < 0 ? axis + r : axis;
    return NEON_OK;
}

neon_status onnx_op_constant(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *out = onnx_out(im, n);
    const Onnx__AttributeProto *a;
    if ((a = onnx_attr(n, "value")) && a->t) {
        NEON_TRY(onnx_decode_tensor(im, a->t, "its value", &out->c));
        out->kind = OV_CONST;
        return NEON_OK;
    }
    if ((a = onnx_attr(n, "value_float")) || (a = onnx_attr(n, "value_int"))) {
        int is_int = a->name[6] == 'i';
        NEON_TRY(new_const(im, out, is_int, 0, NULL));
        if (is_int) out->c.i[0] = a->i;
        else out->c.f[0] = a->f;
        return NEON_OK;
    }
    if ((a = onnx_attr(n, "value_floats")) || (a = onnx_attr(n, "value_ints"))) {
        int is_int = a->name[6] == 'i';
        int64_t cnt = is_int ? (int64_t)a->n_ints : (int64_t)a->n_floats;
        NEON_TRY(new_const(im, out, is_int, 1, &cnt));
        for (int64_t k = 0; k < cnt; k++) {
            if (is_int) out->c.i[k] = a->ints[k];
            else out->c.f[k] = a->floats[k];
        }
        return NEON_OK;
    }
    return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                     "only value, value_float(s) and value_int(s) constants are supported");
}

neon_status onnx_op_shape(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *x, *out = onnx_out(im, n);
    onnx_const *c;
    int64_t full[NEON_MAX_DIMS];
    int r;
    NEON_TRY(onnx_in(im, n, 0, &x));
    NEON_TRY(onnx_const_get(im, x, &c));
    if (c) {
        r = c->ndim;
        memcpy(full, c->dims, sizeof(int64_t) * (size_t)r);
    } else {
        r = x->ndim + 1;
        full[0] = ONNX_BATCH;
        memcpy(full + 1, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    }
    return onnx_shape_result(im, n, out, full, r);
}

neon_status onnx_shape_result(onnx_imp *im, const Onnx__NodeProto *n, onnx_value *out,
                              const int64_t *full, int r)
{
    int64_t start, end; /* opset 15 */
    NEON_TRY(onnx_attr_int(im, n, "start", 0, &start));
    NEON_TRY(onnx_attr_int(im, n, "end", r, &end));
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = start < 0 ? 0 : start > r ? r : start;
    end = end < start ? start : end > r ? r : end;
    int64_t cnt = end - start;
    NEON_TRY(new_const(im, out, 1, 1, &cnt));
    memcpy(out->c.i, full + start, sizeof(int64_t) * (size_t)cnt);
    return NEON_OK;
}

neon_status onnx_op_gather(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_const *d, *ix;
    onnx_value *out = onnx_out(im, n);
    int64_t axis, dims[NEON_MAX_DIMS];
    char sh[128];
    NEON_TRY(fold_in(im, n, 0, &d));
    NEON_TRY(fold_in(im, n, 1, &ix));
    NEON_TRY(onnx_attr_int(im, n, "axis", 0, &axis));
    if (d->ndim < 1) return onnx_fail(im, NEON_ERR_FORMAT, "data must have rank >= 1");
    NEON_TRY(norm_axis(im, axis, d->ndim, &axis));
    if (!ix->is_int || d->ndim - 1 + ix->ndim > NEON_MAX_DIMS)
        return onnx_fail(im, NEON_ERR_FORMAT, "bad indices of shape %s",
                         onnx_cshape(ix, sh, sizeof sh));
    int r = 0;
    int64_t outer = 1, inner = 1, A = d->dims[axis];
    for (int k = 0; k < axis; k++) { dims[r++] = d->dims[k]; outer *= d->dims[k]; }
    for (int k = 0; k < ix->ndim; k++) dims[r++] = ix->dims[k];
    for (int k = (int)axis + 1; k < d->ndim; k++) { dims[r++] = d->dims[k]; inner *= d->dims[k]; }
    NEON_TRY(new_const(im, out, d->is_int, r, dims));
    size_t es = esize(d), blk = es * (size_t)inner;
    char *dst = ebase(&out->c);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < ix->numel; j++) {
            int64_t t = ix->i[j] < 0 ? ix->i[j] + A : ix->i[j];
            if (t < 0 || t >= A)
                return onnx_fail(im, NEON_ERR_FORMAT, "index %lld is out of range for size %lld",
                                 (long long)ix->i[j], (long long)A);
            memcpy(dst, ebase(d) + ((size_t)(o * A + t)) * blk, blk);
            dst += blk;
        }
    return NEON_OK;
}

neon_status onnx_fold_reshape(onnx_imp *im, onnx_value *out, const onnx_const *c, int ndim,
                              const int64_t *dims)
{
    NEON_TRY(new_const(im, out, c->is_int, ndim, dims));
    if (out->c.numel != c->numel)
        return onnx_fail(im, NEON_ERR_SHAPE, "cannot reshape %lld elements to %lld",
                         (long long)c->numel, (long long)out->c.numel);
    memcpy(ebase(&out->c), ebase(c), esize(c) * (size_t)c->numel);
    return NEON_OK;
}

neon_status onnx_fold_concat(onnx_imp *im, const Onnx__NodeProto *n, onnx_value *out, int64_t axis)
{
    onnx_const *c0, *c;
    char sa[128], sb[128];
    int64_t dims[NEON_MAX_DIMS];
    NEON_TRY(fold_in(im, n, 0, &c0));
    if (c0->ndim < 1) return onnx_fail(im, NEON_ERR_FORMAT, "cannot concatenate scalars");
    NEON_TRY(norm_axis(im, axis, c0->ndim, &axis));
    memcpy(dims, c0->dims, sizeof dims);
    dims[axis] = 0;
    for (size_t k = 0; k < n->n_input; k++) {
        NEON_TRY(fold_in(im, n, k, &c));
        int ok = c->is_int == c0->is_int && c->ndim == c0->ndim;
        for (int d = 0; ok && d < c->ndim; d++) ok = d == axis || c->dims[d] == c0->dims[d];
        if (!ok)
            return onnx_fail(im, NEON_ERR_SHAPE, "cannot concatenate %s and %s along axis %lld",
                             onnx_cshape(c0, sa, sizeof sa), onnx_cshape(c, sb, sizeof sb),
                             (long long)axis);
        dims[axis] += c->dims[axis];
    }
    NEON_TRY(new_const(im, out, c0->is_int, c0->ndim, dims));
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= dims[d];
    for (int d = (int)axis + 1; d < c0->ndim; d++) inner *= dims[d];
    size_t es = esize(c0);
    char *dst = ebase(&out->c);
    for (int64_t o = 0; o < outer; o++)
        for (size_t k = 0; k < n->n_input; k++) {
            NEON_TRY(fold_in(im, n, k, &c));
            size_t blk = es * (size_t)(c->dims[axis] * inner);
            memcpy(dst, ebase(c) + (size_t)o * blk, blk);
            dst += blk;
        }
    return NEON_OK;
}

neon_status onnx_axes(onnx_imp *im, const Onnx__NodeProto *n, int r_in, int unsqueeze,
                      int64_t *axes, int *n_axes)
{
    const int64_t *x = NULL;
    int64_t cnt = 0;
    if (im->opset < 13) {
        NEON_TRY(onnx_attr_ints(im, n, "axes", &x, &cnt));
    } else {
        onnx_value *v;
        NEON_TRY(onnx_in_opt(im, n, 1, &v));
        if (v) NEON_TRY(onnx_need_ints(im, v, "axes", &x, &cnt));
    }
    int r = r_in + (unsqueeze ? (int)cnt : 0);
    if (cnt > NEON_MAX_DIMS || r > NEON_MAX_DIMS)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED, "too many axes (%lld)", (long long)cnt);
    for (int k = 0; k < cnt; k++) {
        NEON_TRY(norm_axis(im, x[k], r, &axes[k]));
        for (int j = 0; j < k; j++)
            if (axes[j] == axes[k])
                return onnx_fail(im, NEON_ERR_FORMAT, "axis %lld repeats", (long long)x[k]);
    }
    *n_axes = (int)cnt;
    return NEON_OK;
}

neon_status onnx_fold_squeeze(onnx_imp *im, const Onnx__NodeProto *n, onnx_value *out,
                              const onnx_const *c, int unsqueeze)
{
    int64_t axes[NEON_MAX_DIMS], dims[NEON_MAX_DIMS];
    int na, r = 0;
    NEON_TRY(onnx_axes(im, n, c->ndim, unsqueeze, axes, &na));
    if (unsqueeze) {
        if (na == 0) return onnx_fail(im, NEON_ERR_FORMAT, "axes are missing");
        for (int d = 0, src = 0; d < c->ndim + na; d++) {
            int ins = 0;
            for (int k = 0; k < na; k++) ins |= axes[k] == d;
            dims[r++] = ins ? 1 : c->dims[src++];
        }
    } else {
        for (int d = 0; d < c->ndim; d++) {
            int sq = na == 0 && c->dims[d] == 1;
            for (int k = 0; k < na; k++) sq |= axes[k] == d;
            if (sq && c->dims[d] != 1)
                return onnx_fail(im, NEON_ERR_SHAPE, "cannot squeeze axis %d of size %lld", d,
                                 (long long)c->dims[d]);
            if (!sq) dims[r++] = c->dims[d];
        }
    }
    return onnx_fold_reshape(im, out, c, r, dims);
}

neon_status onnx_op_const_of_shape(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *v, *out = onnx_out(im, n);
    const int64_t *shape;
    int64_t r;
    NEON_TRY(onnx_in(im, n, 0, &v));
    NEON_TRY(onnx_need_ints(im, v, "shape", &shape, &r));
    if (r > NEON_MAX_DIMS) return onnx_fail(im, NEON_ERR_UNSUPPORTED, "rank %lld", (long long)r);
    for (int64_t k = 0; k < r; k++)
        if (shape[k] == ONNX_BATCH)
            return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                             "a constant with the batch size as a dimension is not supported");
    onnx_const val = {0};
    float zero = 0;
    val.f = &zero;
    val.numel = 1;
    const Onnx__AttributeProto *a = onnx_attr(n, "value");
    if (a && a->t) NEON_TRY(onnx_decode_tensor(im, a->t, "its value", &val));
    if (val.numel != 1) return onnx_fail(im, NEON_ERR_FORMAT, "value must have one element");
    NEON_TRY(new_const(im, out, val.is_int, (int)r, shape));
    for (int64_t k = 0; k < out->c.numel; k++) {
        if (val.is_int) out->c.i[k] = val.i[0];
        else out->c.f[k] = val.f[0];
    }
    return NEON_OK;
}

neon_status onnx_op_slice(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_const *d;
    onnx_value *out = onnx_out(im, n);
    const int64_t *st = NULL, *en = NULL, *ax = NULL, *sp = NULL;
    int64_t ns = 0, ne = 0, na = -1, np = -1;
    NEON_TRY(fold_in(im, n, 0, &d));
    if (im->opset < 10) {
        NEON_TRY(onnx_attr_ints(im, n, "starts", &st, &ns));
        NEON_TRY(onnx_attr_ints(im, n, "ends", &en, &ne));
        NEON_TRY(onnx_attr_ints(im, n, "axes", &ax, &na));
        if (!ax) na = -1;
    } else {
        onnx_value *v[5] = {NULL};
        const int64_t **p[5] = {NULL, &st, &en, &ax, &sp};
        int64_t *c[5] = {NULL, &ns, &ne, &na, &np};
        static const char *const role[5] = {"", "starts", "ends", "axes", "steps"};
        for (size_t k = 1; k < 5; k++) {
            NEON_TRY(onnx_in_opt(im, n, k, &v[k]));
            if (v[k]) NEON_TRY(onnx_need_ints(im, v[k], role[k], p[k], c[k]));
        }
    }
    if (!st || !en || ns != ne || (na >= 0 && na != ns) || (np >= 0 && np != ns))
        return onnx_fail(im, NEON_ERR_FORMAT, "starts/ends/axes/steps disagree in length");
    int64_t start[NEON_MAX_DIMS], step[NEON_MAX_DIMS], dims[NEON_MAX_DIMS];
    for (int a = 0; a < d->ndim; a++) {
        start[a] = 0;
        step[a] = 1;
        dims[a] = d->dims[a];
    }
    for (int64_t k = 0; k < ns; k++) {
        int64_t a = k;
        if (na >= 0) NEON_TRY(norm_axis(im, ax[k], d->ndim, &a));
        if (a >= d->ndim) return onnx_fail(im, NEON_ERR_FORMAT, "too many slice axes");
        int64_t D = d->dims[a], s = st[k], e = en[k], t = sp ? sp[k] : 1;
        if (t == 0) return onnx_fail(im, NEON_ERR_FORMAT, "slice step is 0");
        if (t < -INT64_MAX) t = -INT64_MAX;
        if (s < 0) s += D;
        if (e < 0) e += D;
        if (t > 0) {
            s = s < 0 ? 0 : s > D ? D : s;
            e = e < 0 ? 0 : e > D ? D : e;
            dims[a] = e > s ? 1 + (e - s - 1) / t : 0;
        } else {
            s = s < 0 ? 0 : s > D - 1 ? D - 1 : s;
            e = e < -1 ? -1 : e > D - 1 ? D - 1 : e;
            dims[a] = s > e ? 1 + (s - e - 1) / -t : 0;
        }
        start[a] = s;
        step[a] = t;
    }
    NEON_TRY(new_const(im, out, d->is_int, d->ndim, dims));
    size_t es = esize(d);
    for (int64_t o = 0; o < out->c.numel; o++) {
        int64_t rem = o, src = 0, stride = 1;
        for (int a = d->ndim - 1; a >= 0; a--) {
            int64_t idx = rem % dims[a];
            rem /= dims[a];
            src += (start[a] + idx * step[a]) * stride;
            stride *= d->dims[a];
        }
        memcpy(ebase(&out->c) + (size_t)o * es, ebase(d) + (size_t)src * es, es);
    }
    return NEON_OK;
}

neon_status onnx_op_cast(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *x, *out = onnx_out(im, n);
    onnx_const *c;
    int64_t to;
    NEON_TRY(onnx_in(im, n, 0, &x));
    NEON_TRY(onnx_attr_int(im, n, "to", 0, &to));
    int to_float = to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ||
                   to == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
    int to_int = to == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 ||
                 to == ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
    if (!to_float && !to_int)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED, "cast to data type %lld (only FLOAT, DOUBLE, "
                         "INT64, INT32 are supported)", (long long)to);
    NEON_TRY(onnx_const_get(im, x, &c));
    if (!c) {
        if (to_float) {
            onnx_set_alias(out, x); /* activations are float already */
            return NEON_OK;
        }
        return onnx_fail(im, NEON_ERR_UNSUPPORTED, "casting an activation to an integer type");
    }
    NEON_TRY(new_const(im, out, to_int, c->ndim, c->dims));
    for (int64_t k = 0; k < c->numel; k++) {
        if (to_int && c->is_int) {
            out->c.i[k] = to == ONNX__TENSOR_PROTO__DATA_TYPE__INT32 && c->i[k] != ONNX_BATCH
                              ? (int64_t)(int32_t)c->i[k] : c->i[k];
        } else if (to_int) {
            float f = c->f[k];
            if (!(f > -9.2e18f && f < 9.2e18f))
                return onnx_fail(im, NEON_ERR_NUMERIC, "cannot cast %g to an integer", (double)f);
            out->c.i[k] = (int64_t)f;
        } else if (c->is_int) {
            if (c->i[k] == ONNX_BATCH)
                return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                                 "float arithmetic on the batch size is not supported");
            out->c.f[k] = (float)c->i[k];
        } else {
            out->c.f[k] = c->f[k];
        }
    }
    return NEON_OK;
}

/* ---- element-wise arithmetic with numpy broadcasting ---------------------- */

static neon_status int_op(onnx_imp *im, char op, int64_t a, int64_t b, int64_t *r)
{
    if (a == ONNX_BATCH || b == ONNX_BATCH) {
        /* batch * 1, batch / 1, batch + 0, batch - 0 stay the batch */
        int keep = (op == '*' && (a == 1 || b == 1)) || (op == '+' && (a == 0 || b == 0)) ||
                   (op == '/' && b == 1) || (op == '-' && b == 0);
        if (keep && a != b) {
            *r = ONNX_BATCH;
            return NEON_OK;
        }
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "this shape arithmetic depends on the batch size, which is only known "
                         "when the model runs");
    }
    int ovf = 0;
    switch (op) {
    case '+': ovf = (b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b); break;
    case '-': ovf = (b < 0 && a > INT64_MAX + b) || (b > 0 && a < INT64_MIN + b); break;
    case '*': ovf = (double)a * (double)b > 9.0e18 || (double)a * (double)b < -9.0e18; break;
    default:
        if (b == 0) return onnx_fail(im, NEON_ERR_FORMAT, "integer division by zero");
        ovf = a == INT64_MIN && b == -1;
        break;
    }
    if (ovf) return onnx_fail(im, NEON_ERR_FORMAT, "integer overflow in constant arithmetic");
    *r = op == '+' ? a + b : op == '-' ? a - b : op == '*' ? a * b : a / b;
    return NEON_OK;
}

neon_status onnx_fold_arith(onnx_imp *im, onnx_value *out, const onnx_const *a,
                            const onnx_const *b, char op)
{
    char sa[128], sb[128];
    int r = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t dims[NEON_MAX_DIMS], sta[NEON_MAX_DIMS], stb[NEON_MAX_DIMS];
    if (a->is_int != b->is_int)
        return onnx_fail(im, NEON_ERR_FORMAT, "operands have different data types");
    int64_t ma = 1, mb = 1;
    for (int d = r - 1; d >= 0; d--) {
        int ia = d - (r - a->ndim), ib = d - (r - b->ndim);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return onnx_fail(im, NEON_ERR_SHAPE, "cannot broadcast %s with %s",
                             onnx_cshape(a, sa, sizeof sa), onnx_cshape(b, sb, sizeof sb));
        dims[d] = da == 1 ? db : da;
        sta[d] = da == 1 ? 0 : ma;
        stb[d] = db == 1 ? 0 : mb;
        ma *= da;
        mb *= db;
    }
    NEON_TRY(new_const(im, out, a->is_int, r, dims));
    for (int64_t o = 0; o < out->c.numel; o++) {
        int64_t rem = o, ia = 0, ib = 0;
        for (int d = r - 1; d >= 0; d--) {
            int64_t idx = rem % dims[d];
            rem /= dims[d];
            ia += idx * sta[d];
            ib += idx * stb[d];
        }
        if (a->is_int) {
            NEON_TRY(int_op(im, op, a->i[ia], b->i[ib], &out->c.i[o]));
        } else {
            float x = a->f[ia], y = b->f[ib];
            out->c.f[o] = op == '+' ? x + y : op == '-' ? x - y : op == '*' ? x * y : x / y;
        }
    }
    return NEON_OK;
}

neon_status onnx_op_arith(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_const *a, *b;
    char op = n->op_type[0] == 'S' ? '-' : n->op_type[0] == 'M' ? '*' : '/';
    NEON_TRY(fold_in(im, n, 0, &a));
    NEON_TRY(fold_in(im, n, 1, &b));
    return onnx_fold_arith(im, onnx_out(im, n), a, b, op);
}
