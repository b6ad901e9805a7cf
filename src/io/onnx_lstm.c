/* ONNX importer: the LSTM operator (as torch.onnx.export writes nn.LSTM:
 * layout 0, X (T, N, F), W (D, 4H, F), R (D, 4H, H), B (D, 8H), empty
 * sequence_lens, initial states built by ConstantOfShape) -> per direction
 * a dense_seq projection and an lstm_cell node (include/neonlrp/lstm.h).
 *
 * Outputs: Y (T, D, N, H) becomes a value with the batch on axis 2 (per
 * sample (T, D, H)); Y_h (D, N, H) one with the batch on axis 1, built by
 * gathering each direction's last processed step.  Y_c is not supported.
 * Everything the LSTM semantics of neonlrp does not cover is refused with
 * a message naming the node: clip, activations other than the defaults,
 * input_forget, peepholes (P), layout 1, per-sample sequence lengths,
 * initial states that differ between samples or come from the input. */
#include "onnx_internal.h"
#include "neonlrp/lstm.h"

#include <string.h>
#include <strings.h>

static neon_status check_attrs(onnx_imp *im, const Onnx__NodeProto *n, int dirs)
{
    static const char *const dflt[3] = {"Sigmoid", "Tanh", "Tanh"};
    int64_t v;
    const Onnx__AttributeProto *a;
    if (onnx_attr(n, "clip"))
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "attribute 'clip' is not supported (export without cell clipping)");
    if (onnx_attr(n, "activation_alpha") || onnx_attr(n, "activation_beta"))
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "activation_alpha/activation_beta are not supported (only the default "
                         "activations Sigmoid, Tanh, Tanh)");
    if ((a = onnx_attr(n, "activations"))) {
        int ok = a->n_strings == (size_t)(3 * dirs);
        for (size_t k = 0; ok && k < a->n_strings; k++)
            ok = a->strings[k].len == strlen(dflt[k % 3]) &&
                 !strncasecmp((const char *)a->strings[k].data, dflt[k % 3], a->strings[k].len);
        if (!ok)
            return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                             "activations other than Sigmoid, Tanh, Tanh per direction are not "
                             "supported (got %zu, the first '%.*s')", a->n_strings,
                             a->n_strings ? (int)a->strings[0].len : 0,
                             a->n_strings ? (const char *)a->strings[0].data : "");
    }
    NEON_TRY(onnx_attr_int(im, n, "input_forget", 0, &v));
    if (v) return onnx_fail(im, NEON_ERR_UNSUPPORTED, "input_forget=1 (coupled gates) is not supported");
    NEON_TRY(onnx_attr_int(im, n, "layout", 0, &v));
    if (v)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "layout=%lld is not supported (only layout 0: X (T, N, F), as torch "
                         "exports it)", (long long)v);
    if (n->n_input > 7 && n->input[7][0])
        return onnx_fail(im, NEON_ERR_UNSUPPORTED, "peephole weights (input P) are not supported");
    return NEON_OK;
}

/* A float weight of dims (d0, d1[, d2]). */
static neon_status weight(onnx_imp *im, const Onnx__NodeProto *n, size_t k, const char *role,
                          int nd, const int64_t *want, onnx_const **c)
{
    onnx_value *v;
    char sh[128];
    NEON_TRY(onnx_in(im, n, k, &v));
    NEON_TRY(onnx_need_const(im, v, role, c));
    int ok = !(*c)->is_int && (*c)->ndim == nd;
    for (int d = 0; ok && d < nd; d++) ok = (*c)->dims[d] == want[d];
    if (!ok) {
        char w[128];
        neon_shape_str(nd, want, w, sizeof w);
        return onnx_fail(im, NEON_ERR_SHAPE, "%s '%s' has shape %s; expected float %s", role,
                         v->name, onnx_cshape(*c, sh, sizeof sh), w);
    }
    return NEON_OK;
}

/* initial_h / initial_c (D, N, H): a constant equal for every sample ->
 * (D, H) rows, or NULL when absent or all zero. */
static neon_status initial_state(onnx_imp *im, const Onnx__NodeProto *n, size_t k, int dirs,
                                 int64_t H, const float **out)
{
    static const char *const role[2] = {"initial_h", "initial_c"};
    onnx_value *v;
    const onnx_const *c;
    char sh[128];
    *out = NULL;
    NEON_TRY(onnx_in_opt(im, n, k, &v));
    if (!v) return NEON_OK;
    if (onnx_is_act(v))
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "%s '%s' is computed from the model input; only constant initial states "
                         "are supported", role[k - 5], v->name);
    if (v->kind == OV_CONST && v->bcast_batch) {
        c = &v->c; /* built by ConstantOfShape with the batch: equal for every sample */
    } else {
        onnx_const *cc;
        NEON_TRY(onnx_need_const(im, v, role[k - 5], &cc));
        c = cc;
    }
    if (c->is_int || c->ndim != 3 || c->dims[0] != dirs || c->dims[2] != H || c->dims[1] < 1)
        return onnx_fail(im, NEON_ERR_SHAPE, "%s '%s' has shape %s; expected (%d, N, %lld)",
                         role[k - 5], v->name, onnx_cshape(c, sh, sizeof sh), dirs, (long long)H);
    const int64_t B = c->dims[1];
    float *rows = onnx_tmp(im, (size_t)(dirs * H), sizeof(float));
    if (!rows) return NEON_ERR_NOMEM;
    int nonzero = 0;
    for (int d = 0; d < dirs; d++)
        for (int64_t s = 0; s < B; s++)
            for (int64_t j = 0; j < H; j++) {
                const float x = c->f[(d * B + s) * H + j];
                if (s > 0 && x != rows[d * H + j])
                    return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                                     "%s '%s' differs between samples; only initial states "
                                     "shared by every sample are supported", role[k - 5], v->name);
                rows[d * H + j] = x;
                nonzero |= x != 0.0f;
            }
    *out = nonzero ? rows : NULL;
    return NEON_OK;
}

static neon_status check_seq_lens(onnx_imp *im, const Onnx__NodeProto *n, int64_t T)
{
    onnx_value *v;
    NEON_TRY(onnx_in_opt(im, n, 4, &v));
    if (!v) return NEON_OK;
    const onnx_const *c = NULL;
    if (v->kind == OV_CONST && v->bcast_batch) c = &v->c;
    else if (!onnx_is_act(v)) {
        onnx_const *cc;
        NEON_TRY(onnx_need_const(im, v, "sequence_lens", &cc));
        c = cc;
    }
    for (int64_t k = 0; c && c->is_int && k < c->numel; k++)
        if (c->i[k] != T) {
            c = NULL;
            break;
        }
    if (!c || !c->is_int)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "sequence_lens '%s': sequences of different lengths are not supported; "
                         "every sequence must have the model's length T = %lld (leave "
                         "sequence_lens empty)", v->name, (long long)T);
    return NEON_OK;
}

/* The graph nodes of one direction; *cell receives the lstm_cell id. */
static neon_status direction(onnx_imp *im, int x_id, int d, int reverse, int64_t H, int64_t F,
                             const onnx_const *W, const onnx_const *R, const onnx_const *B,
                             const float *h0, const float *c0, int *cell)
{
    const char *base = onnx_node_name(im);
    char nx[512], nc[512];
    snprintf(nx, sizeof nx, "%s%s.x", base, d ? ".bw" : "");
    snprintf(nc, sizeof nc, "%s%s", base, d ? ".bw" : "");
    float *b = NULL;
    if (B) {
        if (!(b = onnx_tmp(im, (size_t)(4 * H), sizeof(float)))) return NEON_ERR_NOMEM;
        const float *bd = B->f + d * 8 * H;
        for (int64_t k = 0; k < 4 * H; k++) b[k] = bd[k] + bd[4 * H + k];
    }
    int px;
    neon_status st = neon_graph_add_dense_seq(im->g, nx, x_id, 4 * H, W->f + d * 4 * H * F, &px);
    if (st == NEON_OK)
        st = neon_graph_add_lstm_cell(im->g, nc, px, H, R->f + d * 4 * H * H, b,
                                      h0 ? h0 + d * H : NULL, c0 ? c0 + d * H : NULL, reverse,
                                      cell);
    return st == NEON_OK ? NEON_OK : onnx_fail_prefix(im, st);
}

neon_status onnx_op_lstm(onnx_imp *im, const Onnx__NodeProto *n)
{
    onnx_value *x;
    onnx_const *W, *R, *B = NULL;
    char dir[32], sx[128], nm[512];
    int64_t H;
    NEON_TRY(onnx_attr_str(im, n, "direction", "forward", dir, sizeof dir));
    const int bidi = !strcmp(dir, "bidirectional"), rev = !strcmp(dir, "reverse"), dirs = 1 + bidi;
    if (!bidi && !rev && strcmp(dir, "forward"))
        return onnx_fail(im, NEON_ERR_FORMAT, "unknown direction '%s'", dir);
    NEON_TRY(check_attrs(im, n, dirs));
    if (!onnx_attr(n, "hidden_size"))
        return onnx_fail(im, NEON_ERR_FORMAT, "attribute 'hidden_size' is missing");
    NEON_TRY(onnx_attr_int(im, n, "hidden_size", 0, &H));
    if (H < 1 || H > (INT64_C(1) << 20))
        return onnx_fail(im, NEON_ERR_FORMAT, "hidden_size %lld is not valid", (long long)H);
    NEON_TRY(onnx_in(im, n, 0, &x));
    if (!onnx_is_act(x))
        return onnx_fail(im, NEON_ERR_UNSUPPORTED, "input X '%s' is a constant", x->name);
    if (x->kind != OV_ACT || x->batch_axis != 1 || x->ndim != 2)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "input X '%s' must be a sequence (T, N, F) with the batch on axis 1; "
                         "here it has shape %s with the batch on axis %d (export with "
                         "batch_first=True, or mark axis 1 of a time-major input dynamic)",
                         x->name, onnx_sshape(x->ndim, x->shape, sx, sizeof sx), x->batch_axis);
    const int64_t T = x->shape[0], F = x->shape[1];
    const int64_t dw[3] = {dirs, 4 * H, F}, dr[3] = {dirs, 4 * H, H}, db[2] = {dirs, 8 * H};
    NEON_TRY(weight(im, n, 1, "W", 3, dw, &W));
    NEON_TRY(weight(im, n, 2, "R", 3, dr, &R));
    if (n->n_input > 3 && n->input[3][0]) NEON_TRY(weight(im, n, 3, "B", 2, db, &B));
    NEON_TRY(check_seq_lens(im, n, T));
    const float *h0, *c0;
    NEON_TRY(initial_state(im, n, 5, dirs, H, &h0));
    NEON_TRY(initial_state(im, n, 6, dirs, H, &c0));
    onnx_value *yc = n->n_output > 2 ? onnx_lookup(im, n->output[2]) : NULL;
    if (yc && yc->uses > 0)
        return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                         "output 3 ('%s', the cell state Y_c) is used; only Y and Y_h are supported",
                         yc->name);

    int cell[2], y[2], id;
    const int64_t s3[3] = {T, 1, H};
    for (int d = 0; d < dirs; d++) {
        NEON_TRY(direction(im, x->id, d, d ? 1 : rev, H, F, W, R, B, h0, c0, &cell[d]));
        snprintf(nm, sizeof nm, "%s%s.y", onnx_node_name(im), d ? ".bw" : "");
        neon_status st = neon_graph_add_reshape(im->g, nm, cell[d], 3, s3, &y[d]);
        if (st != NEON_OK) return onnx_fail_prefix(im, st);
    }
    neon_status st = NEON_OK;
    if (dirs == 2) {
        snprintf(nm, sizeof nm, "%s.Y", onnx_node_name(im));
        st = neon_graph_add_concat(im->g, nm, 2, y, 1, &id);
    } else {
        id = y[0];
    }
    NEON_TRY(onnx_seq_emit(im, onnx_out(im, n), st, id, 2)); /* Y (T, D, N, H) */

    onnx_value *yh = n->n_output > 1 ? onnx_lookup(im, n->output[1]) : NULL;
    if (!yh || yh->uses == 0) return NEON_OK;
    int last[2];
    for (int d = 0; d < dirs; d++) { /* the last step each direction processed */
        const int64_t t = (d ? 1 : rev) ? 0 : T - 1;
        snprintf(nm, sizeof nm, "%s%s.h_last", onnx_node_name(im), d ? ".bw" : "");
        st = neon_graph_add_gather(im->g, nm, cell[d], 0, 1, &t, &last[d]);
        if (st != NEON_OK) return onnx_fail_prefix(im, st);
    }
    if (dirs == 2) {
        snprintf(nm, sizeof nm, "%s.Y_h", onnx_node_name(im));
        st = neon_graph_add_concat(im->g, nm, 2, last, 0, &id);
    } else {
        id = last[0];
    }
    return onnx_seq_emit(im, yh, st, id, 1); /* Y_h (D, N, H) */
}
