/* Graph inputs: the forward copies the caller's batch in; relevance ends here. */
#include "layers.h"

#include <string.h>

static neon_status input_infer(neon_graph *g, neon_node *nd)
{
    (void)g;
    (void)nd;
    return NEON_OK;
}

const neon_layer_ops neon_input_ops = {
    .name = "input",
    .infer = input_infer,
};

neon_status neon_graph_add_input(neon_graph *g, const char *name, int ndim, const int64_t *shape,
                                 int *id)
{
    if (!g) return NEON_ERR_INVALID;
    if (ndim < 1 || ndim >= NEON_MAX_DIMS || !shape)
        return neon_fail(g->ctx, NEON_ERR_SHAPE,
                         "input '%s': per-sample rank must be 1..%d, got %d", name ? name : "",
                         NEON_MAX_DIMS - 1, ndim);
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0)
            return neon_fail(g->ctx, NEON_ERR_SHAPE, "input '%s': dimension %d is %lld",
                             name ? name : "", i, (long long)shape[i]);
    int *ni = neon_realloc(g->ctx, g->inputs, (size_t)(g->n_inputs + 1) * sizeof(int));
    if (!ni) return NEON_ERR_NOMEM;
    g->inputs = ni;
    neon_node *nd;
    NEON_TRY(neon_graph_new_node(g, name, &neon_input_ops, 0, NULL, &nd));
    nd->ndim = ndim;
    memcpy(nd->shape, shape, (size_t)ndim * sizeof(int64_t));
    int tmp;
    NEON_TRY(neon_graph_commit_node(g, nd, &tmp));
    g->inputs[g->n_inputs++] = tmp;
    if (id) *id = tmp;
    return NEON_OK;
}
