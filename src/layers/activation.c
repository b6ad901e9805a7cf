/* Element-wise kinds through which relevance passes unchanged: ReLU, other
 * activations (identity/dropout, sigmoid, tanh, leaky ReLU, ELU, softplus)
 * and reshape (a view on its input). */
#include "layers.h"

#include <math.h>
#include <string.h>

typedef struct act_params {
    neon_activation act;
    float param;
} act_params;

static neon_status same_shape_infer(neon_graph *g, neon_node *nd)
{
    const neon_node *in = neon_in(g, nd, 0);
    nd->ndim = in->ndim;
    memcpy(nd->shape, in->shape, sizeof nd->shape);
    return NEON_OK;
}

/* out (N, size) = max(0, in) */
static neon_status relu_forward(neon_graph *g, neon_node *nd, int64_t N)
{
    const float *x = neon_in(g, nd, 0)->out;
    float *y = nd->out;
    const int64_t n = N * nd->size;
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    return NEON_OK;
}

const neon_layer_ops neon_relu_ops = {
    .name = "relu",
    .infer = same_shape_infer,
    .forward = relu_forward,
    .relprop = neon_relprop_pass,
};

neon_status neon_graph_add_relu(neon_graph *g, const char *name, int input, int *id)
{
    neon_node *nd;
    NEON_TRY(neon_graph_new_node(g, name, &neon_relu_ops, 1, &input, &nd));
    return neon_graph_commit_node(g, nd, id);
}

static float act_eval(neon_activation a, float p, float x)
{
    switch (a) {
    case NEON_ACT_IDENTITY: return x;
    case NEON_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case NEON_ACT_TANH: return tanhf(x);
    case NEON_ACT_LEAKY_RELU: return x > 0 ? x : p * x;
    case NEON_ACT_ELU: return x > 0 ? x : p * expm1f(x);
    case NEON_ACT_SOFTPLUS: return x > 20.0f ? x : log1pf(expf(x));
    }
    return x;
}

static const char *act_names[] = {"identity", "sigmoid", "tanh", "leaky_relu", "elu", "softplus"};

static neon_status act_forward(neon_graph *g, neon_node *nd, int64_t N)
{
    const act_params *p = nd->params;
    if (p->act == NEON_ACT_IDENTITY) return neon_forward_view(g, nd, N);
    const float *x = neon_in(g, nd, 0)->out;
    float *y = nd->out;
    const int64_t n = N * nd->size;
    for (int64_t i = 0; i < n; i++) y[i] = act_eval(p->act, p->param, x[i]);
    return NEON_OK;
}

static void act_describe(const neon_node *nd, char *buf, size_t n)
{
    const act_params *p = nd->params;
    snprintf(buf, n, "%s", act_names[p->act]);
}

const neon_layer_ops neon_activation_ops = {
    .name = "activation",
    .infer = same_shape_infer,
    .forward = act_forward,
    .relprop = neon_relprop_pass,
    .describe = act_describe,
};

/* 1 when f(0) == 0 and sign(f(x)) == sign(x): relevance keeps its meaning. */
int neon_activation_sign_preserving(const neon_node *nd);
int neon_activation_sign_preserving(const neon_node *nd)
{
    const act_params *p = nd->params;
    return p->act != NEON_ACT_SIGMOID && p->act != NEON_ACT_SOFTPLUS &&
           !(p->act == NEON_ACT_LEAKY_RELU && p->param < 0) &&
           !(p->act == NEON_ACT_ELU && p->param < 0);
}

neon_status neon_graph_add_activation(neon_graph *g, const char *name, int input,
                                      neon_activation act, float param, int *id)
{
    if (!g) return NEON_ERR_INVALID;
    if ((int)act < 0 || act > NEON_ACT_SOFTPLUS)
        return neon_fail(g->ctx, NEON_ERR_INVALID, "activation '%s': unknown kind %d",
                         name ? name : "", (int)act);
    neon_node *nd;
    NEON_TRY(neon_graph_new_node(g, name, &neon_activation_ops, 1, &input, &nd));
    neon_status st = neon_check_finite(g, nd, "parameter", &param, 1, 0);
    if (st != NEON_OK) {
        neon_graph_discard_node(g, nd);
        return st;
    }
    act_params *p = neon_alloc(g->ctx, sizeof *p);
    if (!p) {
        neon_graph_discard_node(g, nd);
        return NEON_ERR_NOMEM;
    }
    p->act = act;
    p->param = param;
    nd->params = p;
    nd->out_is_view = act == NEON_ACT_IDENTITY;
    return neon_graph_commit_node(g, nd, id);
}

/* ---- reshape ------------------------------------------------------------ */

static neon_status reshape_infer(neon_graph *g, neon_node *nd)
{
    const neon_node *in = neon_in(g, nd, 0);
    int64_t known = 1;
    int infer_at = -1;
    for (int i = 0; i < nd->ndim; i++) {
        if (nd->shape[i] == -1 && infer_at < 0) infer_at = i;
        else if (nd->shape[i] <= 0 || !neon_mul_ok(known, nd->shape[i], &known)) known = -1;
    }
    if (known > 0 && infer_at >= 0 && in->size % known == 0) nd->shape[infer_at] = in->size / known;
    int64_t n = 1;
    for (int i = 0; i < nd->ndim; i++)
        if (!neon_mul_ok(n, nd->shape[i], &n)) n = -1;
    if (known <= 0 || n != in->size) {
        char a[96], b[96], lb[96];
        return neon_fail(g->ctx, NEON_ERR_SHAPE, "reshape %s: cannot view %s as %s",
                         neon_node_label(nd, lb, sizeof lb),
                         neon_shape_str(in->ndim, in->shape, a, sizeof a),
                         neon_shape_str(nd->ndim, nd->shape, b, sizeof b));
    }
    nd->size = n;
    return NEON_OK;
}

const neon_layer_ops neon_reshape_ops = {
    .name = "reshape",
    .infer = reshape_infer,
    .forward = neon_forward_view,
    .relprop = neon_relprop_pass,
};

neon_status neon_graph_add_reshape(neon_graph *g, const char *name, int input, int ndim,
                                   const int64_t *shape, int *id)
{
    if (!g) return NEON_ERR_INVALID;
    if (ndim < 1 || ndim >= NEON_MAX_DIMS || !shape)
        return neon_fail(g->ctx, NEON_ERR_SHAPE, "reshape '%s': rank must be 1..%d, got %d",
                         name ? name : "", NEON_MAX_DIMS - 1, ndim);
    neon_node *nd;
    NEON_TRY(neon_graph_new_node(g, name, &neon_reshape_ops, 1, &input, &nd));
    nd->ndim = ndim;
    memcpy(nd->shape, shape, (size_t)ndim * sizeof(int64_t));
    nd->out_is_view = 1;
    return neon_graph_commit_node(g, nd, id);
}
