/* ONNX importer: the value table, tensor decoding, attributes, messages and
 * turning pending values into graph nodes. */
#include "onnx_internal.h"

#include <string.h>

/* ---- messages ------------------------------------------------------------ */

const char *onnx_label(const onnx_imp *im, char *buf, size_t n)
{
    if (im->node && im->node->name && im->node->name[0])
        snprintf(buf, n, "'%s'", im->node->name);
    else
        snprintf(buf, n, "#%zu", im->node_index);
    return buf;
}

const char *onnx_node_name(const onnx_imp *im)
{
    const Onnx__NodeProto *n = im->node;
    if (n->name && n->name[0]) return n->name;
    if (n->n_output > 0 && n->output[0][0]) return n->output[0];
    return n->op_type;
}

neon_status onnx_fail(onnx_imp *im, neon_status st, const char *fmt, ...)
{
    char msg[NEON_ERRMSG_MAX], lab[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!im->node) return neon_fail(im->ctx, st, "%s", msg);
    return neon_fail(im->ctx, st, "node %s (op %s): %s", onnx_label(im, lab, sizeof lab),
                     im->node->op_type, msg);
}

neon_status onnx_fail_prefix(onnx_imp *im, neon_status st)
{
    char lab[256];
    if (im->node)
        neon_errmsg_prefix(im->ctx, "node %s (op %s)", onnx_label(im, lab, sizeof lab),
                           im->node->op_type);
    return st;
}

char *onnx_sshape(int ndim, const int64_t *shape, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "(N");
    for (int k = 0; k < ndim && used < n; k++)
        used += (size_t)snprintf(buf + used, n - used, ", %lld", (long long)shape[k]);
    if (used < n) snprintf(buf + used, n - used, ")");
    return buf;
}

char *onnx_cshape(const onnx_const *c, char *buf, size_t n)
{
    return neon_shape_str(c->ndim, c->dims, buf, n);
}

/* ---- value table ---------------------------------------------------------- */

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

onnx_value *onnx_lookup(onnx_imp *im, const char *name)
{
    if (!name || !im->hash) return NULL;
    for (size_t h = hash_str(name) & im->hash_mask;; h = (h + 1) & im->hash_mask) {
        int k = im->hash[h];
        if (k == 0) return NULL;
        if (strcmp(im->vals[k - 1].name, name) == 0) return &im->vals[k - 1];
    }
}

neon_status onnx_declare(onnx_imp *im, const char *name, int producer, onnx_value **out)
{
    *out = NULL;
    if (!name || !name[0]) return NEON_OK;
    size_t h = hash_str(name) & im->hash_mask;
    for (; im->hash[h] != 0; h = (h + 1) & im->hash_mask)
        if (strcmp(im->vals[im->hash[h] - 1].name, name) == 0)
            return onnx_fail(im, NEON_ERR_FORMAT, "value '%s' is defined twice", name);
    onnx_value *v = &im->vals[im->n_vals++];
    v->name = name;
    v->producer = producer;
    v->id = -1;
    im->hash[h] = (int)im->n_vals;
    *out = v;
    return NEON_OK;
}

onnx_value *onnx_resolve(onnx_value *v)
{
    while (v && v->kind == OV_ALIAS) v = v->alias;
    return v;
}

neon_status onnx_in_opt(onnx_imp *im, const Onnx__NodeProto *n, size_t k, onnx_value **v)
{
    *v = NULL;
    if (k >= n->n_input || !n->input[k][0]) return NEON_OK;
    onnx_value *x = onnx_resolve(onnx_lookup(im, n->input[k]));
    if (!x || x->kind == OV_NONE)
        return onnx_fail(im, NEON_ERR_FORMAT,
                         "input '%s' is used before it is defined (nodes not in topological order)",
                         n->input[k]);
    *v = x;
    return NEON_OK;
}

neon_status onnx_in(onnx_imp *im, const Onnx__NodeProto *n, size_t k, onnx_value **v)
{
    NEON_TRY(onnx_in_opt(im, n, k, v));
    if (!*v) return onnx_fail(im, NEON_ERR_FORMAT, "input %zu is missing", k + 1);
    return NEON_OK;
}

/* Values with the batch on another axis than 0 (time-major sequences) are
 * only handled by the translators of onnx_seq.c / onnx_lstm.c. */
static neon_status not_seq(onnx_imp *im, const onnx_value *v)
{
    if (v->kind != OV_ACT || v->batch_axis == 0) return NEON_OK;
    return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                     "input '%s' is a sequence with the batch on axis %d (time-major, e.g. an "
                     "LSTM output); this operator needs the batch first (supported on such "
                     "values: Transpose, Squeeze, Unsqueeze, Reshape, Gather, Slice, Concat, "
                     "LSTM)", v->name, v->batch_axis);
}

neon_status onnx_in_act(onnx_imp *im, const Onnx__NodeProto *n, size_t k, onnx_value **v)
{
    NEON_TRY(onnx_in(im, n, k, v));
    if (!onnx_is_act(*v))
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "input '%s' is a constant; %s is only supported on values computed from "
                         "the model input", (*v)->name, n->op_type);
    return not_seq(im, *v);
}

neon_status onnx_emit(onnx_imp *im, onnx_value *out, neon_status st, int id)
{
    if (st != NEON_OK) return onnx_fail_prefix(im, st);
    return onnx_set_act(im, out, id);
}

onnx_value *onnx_out(onnx_imp *im, const Onnx__NodeProto *n)
{
    return onnx_lookup(im, n->output[0]); /* declared by the setup pass */
}

void onnx_set_alias(onnx_value *v, onnx_value *target)
{
    target = onnx_resolve(target);
    v->kind = OV_ALIAS;
    v->alias = target;
    /* the alias's consumers are the target's now (the main loop counts the
     * aliasing node's own use of the target) */
    target->uses += v->uses;
    v->uses = 0;
}

int onnx_is_act(const onnx_value *v)
{
    return v->kind == OV_ACT || v->kind == OV_PEND_LIN || v->kind == OV_PEND_PAD;
}

neon_status onnx_new_const(onnx_imp *im, onnx_value *v, int is_int, int ndim, const int64_t *dims)
{
    onnx_const *c = &v->c;
    memset(c, 0, sizeof *c);
    c->is_int = is_int;
    c->ndim = ndim;
    c->numel = 1;
    int64_t span = 1; /* 0 counted as 1: products of any subset of the dims fit */
    for (int k = 0; k < ndim; k++) {
        c->dims[k] = dims[k];
        if (!neon_mul_ok(c->numel, dims[k], &c->numel) ||
            !neon_mul_ok(span, dims[k] ? dims[k] : 1, &span))
            return onnx_fail(im, NEON_ERR_FORMAT, "constant size overflows");
    }
    if (is_int)
        c->i = onnx_tmp(im, (size_t)c->numel, sizeof(int64_t));
    else
        c->f = onnx_tmp(im, (size_t)c->numel, sizeof(float));
    if (!c->i && !c->f) return NEON_ERR_NOMEM;
    v->kind = OV_CONST;
    v->lazy = NULL;
    return NEON_OK;
}

/* ---- tensors ---------------------------------------------------------------- */

static const char *dtype_name(int32_t t)
{
    static const char *const names[] = {"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16",
                                        "INT32", "INT64", "STRING", "BOOL", "FLOAT16", "DOUBLE",
                                        "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16"};
    return t >= 0 && t < (int32_t)(sizeof names / sizeof names[0]) ? names[t] : "unknown";
}

static uint64_t load_le(const uint8_t *p, int nb)
{
    uint64_t v = 0;
    for (int k = nb - 1; k >= 0; k--) v = (v << 8) | p[k];
    return v;
}

neon_status onnx_decode_tensor(onnx_imp *im, const Onnx__TensorProto *t, const char *what,
                               onnx_const *out)
{
    char sh[128];
    if (t->n_external_data > 0 ||
        (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL))
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "%s keeps its data in an external file, which is not supported; "
                         "save the model self-contained (onnx.save(model, path, "
                         "save_as_external_data=False))", what);
    if (t->segment) return onnx_fail(im, NEON_ERR_UNSUPPORTED, "%s is a segmented tensor", what);
    if (t->n_dims > NEON_MAX_DIMS)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED, "%s has rank %zu (at most %d supported)", what,
                         t->n_dims, NEON_MAX_DIMS);
    memset(out, 0, sizeof *out);
    out->ndim = (int)t->n_dims;
    out->numel = 1;
    int64_t span = 1; /* product of the dims with 0 counted as 1: any sub-product fits */
    for (size_t k = 0; k < t->n_dims; k++) {
        out->dims[k] = t->dims[k];
        if (!neon_mul_ok(out->numel, t->dims[k], &out->numel) ||
            !neon_mul_ok(span, t->dims[k] ? t->dims[k] : 1, &span))
            return onnx_fail(im, NEON_ERR_FORMAT, "%s has invalid dimensions", what);
    }
    int32_t dt = t->has_data_type ? t->data_type : 0;
    int nb; /* bytes per element in raw_data */
    size_t n_typed;
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: nb = 4; n_typed = t->n_float_data; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: nb = 8; n_typed = t->n_double_data; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: nb = 8; n_typed = t->n_int64_data; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: nb = 4; n_typed = t->n_int32_data; break;
    default:
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "%s has data type %s (%d); supported: FLOAT, DOUBLE, INT64, INT32", what,
                         dtype_name(dt), (int)dt);
    }
    int raw = t->has_raw_data && t->raw_data.len > 0;
    size_t have = raw ? t->raw_data.len / (size_t)nb : n_typed;
    if ((raw && t->raw_data.len % (size_t)nb) || have != (size_t)out->numel)
        return onnx_fail(im, NEON_ERR_FORMAT, "%s of shape %s holds %zu values, expected %lld",
                         what, onnx_cshape(out, sh, sizeof sh),
                         raw ? t->raw_data.len / (size_t)nb : n_typed, (long long)out->numel);
    out->is_int = dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 ||
                  dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
    if (out->is_int)
        out->i = onnx_tmp(im, (size_t)out->numel, sizeof(int64_t));
    else
        out->f = onnx_tmp(im, (size_t)out->numel, sizeof(float));
    if (!out->i && !out->f) return NEON_ERR_NOMEM;
    const uint8_t *p = raw ? t->raw_data.data : NULL;
    for (int64_t k = 0; k < out->numel; k++) {
        uint64_t u = raw ? load_le(p + (size_t)k * (size_t)nb, nb) : 0;
        switch (dt) {
        case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: {
            uint32_t u32 = (uint32_t)u;
            float f;
            memcpy(&f, &u32, sizeof f);
            out->f[k] = raw ? f : t->float_data[k];
            break;
        }
        case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: {
            double d;
            memcpy(&d, &u, sizeof d);
            out->f[k] = (float)(raw ? d : t->double_data[k]);
            break;
        }
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
            out->i[k] = raw ? (int64_t)u : t->int64_data[k];
            break;
        default:
            out->i[k] = raw ? (int64_t)(int32_t)(uint32_t)u : t->int32_data[k];
            break;
        }
    }
    const int64_t bad = out->is_int ? -1 : neon_find_nonfinite(out->f, out->numel);
    if (bad >= 0) { /* numel > 0: every dim >= 1 */
        int64_t idx[NEON_MAX_DIMS], rem = bad;
        for (int k = out->ndim - 1; k >= 0; k--) {
            idx[k] = rem % out->dims[k];
            rem /= out->dims[k];
        }
        char at[160] = "[";
        size_t used = 1;
        for (int k = 0; k < out->ndim && used < sizeof at; k++)
            used += (size_t)snprintf(at + used, sizeof at - used, "%s%lld", k ? ", " : "",
                                     (long long)idx[k]);
        if (used < sizeof at) snprintf(at + used, sizeof at - used, "]");
        return onnx_fail(im, NEON_ERR_NUMERIC, "%s contains %g at %s (element %lld)", what,
                         (double)out->f[bad], at, (long long)bad);
    }
    return NEON_OK;
}

neon_status onnx_const_get(onnx_imp *im, onnx_value *v, onnx_const **c)
{
    *c = NULL;
    v = onnx_resolve(v);
    if (v->kind != OV_CONST) return NEON_OK;
    if (v->bcast_batch)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "'%s' is a constant with the batch size as axis %d (ConstantOfShape of "
                         "x.size()); it is only supported as an LSTM initial state", v->name,
                         v->bcast_batch - 1);
    if (v->lazy) {
        char what[300];
        snprintf(what, sizeof what, "initializer '%s'", v->name);
        NEON_TRY(onnx_decode_tensor(im, v->lazy, what, &v->c));
        v->lazy = NULL;
    }
    *c = &v->c;
    return NEON_OK;
}

neon_status onnx_need_const(onnx_imp *im, onnx_value *v, const char *role, onnx_const **c)
{
    NEON_TRY(onnx_const_get(im, v, c));
    if (!*c)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "%s '%s' must be a constant (initializer or Constant), not computed "
                         "from the model input", role, v->name);
    return NEON_OK;
}

neon_status onnx_need_ints(onnx_imp *im, onnx_value *v, const char *role, const int64_t **x,
                           int64_t *n)
{
    onnx_const *c;
    char sh[128];
    NEON_TRY(onnx_need_const(im, v, role, &c));
    if (!c->is_int || c->ndim > 1)
        return onnx_fail(im, NEON_ERR_FORMAT, "%s '%s' must be an int64 vector, got %s %s", role,
                         v->name, c->is_int ? "int" : "float", onnx_cshape(c, sh, sizeof sh));
    *x = c->i;
    *n = c->numel;
    return NEON_OK;
}

/* ---- activations --------------------------------------------------------------- */

neon_status onnx_set_act(onnx_imp *im, onnx_value *v, int id)
{
    neon_node_info info;
    neon_status st = neon_graph_node_info(im->g, id, &info);
    if (st != NEON_OK) return onnx_fail_prefix(im, st);
    if (info.ndim > ONNX_MAX_SDIMS)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED, "per-sample rank %d is too large", info.ndim);
    v->kind = OV_ACT;
    v->id = id;
    v->p = NULL;
    v->ndim = info.ndim;
    for (int k = 0; k < info.ndim; k++) v->shape[k] = info.shape[k];
    return NEON_OK;
}

neon_status onnx_act(onnx_imp *im, onnx_value *v, int *id)
{
    v = onnx_resolve(v);
    onnx_pending *p = v->p;
    neon_status st;
    int nid = -1;
    switch (v->kind) {
    case OV_ACT:
        NEON_TRY(not_seq(im, v));
        *id = v->id;
        return NEON_OK;
    case OV_PEND_LIN:
        if (p->is_conv)
            st = neon_graph_add_conv2d(im->g, p->name, p->input, p->n_out, &p->cp, p->W, p->b,
                                       &nid);
        else
            st = neon_graph_add_dense(im->g, p->name, p->input, p->n_out, p->W, p->b, &nid);
        break;
    case OV_PEND_PAD:
        st = neon_graph_add_pad(im->g, p->name, p->input, p->pads, p->value, &nid);
        break;
    case OV_CONST:
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "input '%s' is a constant; this operator is only supported on values "
                         "computed from the model input", v->name);
    default:
        return onnx_fail(im, NEON_ERR_FORMAT, "input '%s' is not defined", v->name);
    }
    if (st != NEON_OK) {
        neon_errmsg_prefix(im->ctx, "creating '%s'", p->name);
        return onnx_fail_prefix(im, st);
    }
    NEON_TRY(onnx_set_act(im, v, nid));
    *id = nid;
    return NEON_OK;
}

/* ---- attributes ------------------------------------------------------------------ */

const Onnx__AttributeProto *onnx_attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t k = 0; k < n->n_attribute; k++)
        if (n->attribute[k]->name && strcmp(n->attribute[k]->name, name) == 0)
            return n->attribute[k];
    return NULL;
}

static neon_status attr_type(onnx_imp *im, const Onnx__AttributeProto *a, int want,
                             const char *want_name)
{
    /* very old exporters leave `type` unset; accept when the field is there */
    if (a->has_type && (int)a->type != want)
        return onnx_fail(im, NEON_ERR_FORMAT, "attribute '%s' has type %d, expected %s", a->name,
                         (int)a->type, want_name);
    if (a->ref_attr_name && a->ref_attr_name[0])
        return onnx_fail(im, NEON_ERR_UNSUPPORTED, "attribute '%s' refers to a function attribute",
                         a->name);
    return NEON_OK;
}

neon_status onnx_attr_int(onnx_imp *im, const Onnx__NodeProto *n, const char *name, int64_t def,
                          int64_t *out)
{
    const Onnx__AttributeProto *a = onnx_attr(n, name);
    *out = def;
    if (!a) return NEON_OK;
    NEON_TRY(attr_type(im, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, "INT"));
    *out = a->i;
    return NEON_OK;
}

neon_status onnx_attr_float(onnx_imp *im, const Onnx__NodeProto *n, const char *name, float def,
                            float *out)
{
    const Onnx__AttributeProto *a = onnx_attr(n, name);
    *out = def;
    if (!a) return NEON_OK;
    NEON_TRY(attr_type(im, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, "FLOAT"));
    *out = a->f;
    return NEON_OK;
}

neon_status onnx_attr_ints(onnx_imp *im, const Onnx__NodeProto *n, const char *name,
                           const int64_t **x, int64_t *cnt)
{
    const Onnx__AttributeProto *a = onnx_attr(n, name);
    *x = NULL;
    *cnt = 0;
    if (!a) return NEON_OK;
    NEON_TRY(attr_type(im, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, "INTS"));
    *x = a->ints;
    *cnt = (int64_t)a->n_ints;
    return NEON_OK;
}

neon_status onnx_attr_str(onnx_imp *im, const Onnx__NodeProto *n, const char *name,
                          const char *def, char *buf, size_t bufsize)
{
    const Onnx__AttributeProto *a = onnx_attr(n, name);
    snprintf(buf, bufsize, "%s", def);
    if (!a) return NEON_OK;
    NEON_TRY(attr_type(im, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, "STRING"));
    size_t len = a->s.len < bufsize - 1 ? a->s.len : bufsize - 1;
    if (len) memcpy(buf, a->s.data, len);
    buf[len] = '\0';
    return NEON_OK;
}
