/* neonlrp sequence models: LSTM layers as graph nodes, explained with the
 * LSTM rules of RULES.md 7 (Arras et al. 2017, the semantics of the
 * LRP_for_LSTM reference code).
 *
 * An LSTM layer over (T, F) inputs is two nodes per direction:
 *   dense_seq  (T, F) -> (T, 4H): the input projection W x_t (no bias), a
 *              linear kind that the engine's generic rules explain;
 *   lstm_cell  (T, 4H) -> (T, H): adds the recurrent part h_{t-1} R^T and
 *              both biases, runs the gates and the cell, and brings its own
 *              relprop (signal-take-all).
 * Gate rows are in ONNX order i, o, f, c (c = the cell candidate g):
 *   i = sig(z_i), o = sig(z_o), f = sig(z_f), g = tanh(z_c),
 *   c_t = f c_{t-1} + i g,  h_t = o tanh(c_t).
 * (PyTorch orders its rows i, f, g, o; the reference code i, g, f, o.)
 *
 * Relprop of lstm_cell, per step from the last down, eps = the cell's
 * epsilon (default 1e-3, RULES.md 7), stab(z) = z + eps sgn(z):
 *   R_c[t] += R_h[t]                                 (through o tanh(c))
 *   R_c[t-1] = f_t c_{t-1} / stab(c_t) R_c[t]
 *   R_g[t]   = i_t g_t     / stab(c_t) R_c[t]        (gates get nothing)
 *   R_h[t-1] += h_{t-1,j} R_jk / stab(z_k) R_g,k     (g rows of R only)
 * with z_k the g unit's whole pre-activation (input part + recurrent part +
 * both biases).  The input part x_j W_jk / stab(z_k) R_g,k is computed by
 * the dense_seq node's own rule: the cell hands it, on the g rows,
 * R'_k = R_g,k stab'(zx_k) / stab(z_k), where zx = W x is the projection's
 * output and stab' the stabilizer of the projection's rule (its epsilon
 * for the epsilon rule, its stabilizer otherwise), so that its epsilon or
 * LRP-0 rule yields exactly x_j W_jk R_g,k / stab(z_k) whatever its
 * epsilon.  Relevance reaching the initial states and the biases is
 * absorbed.  Reference settings for the head: a dense layer explained with
 * the epsilon rule, epsilon 1e-3: neon_graph_set_rules gives the dense
 * layers of a graph with lstm_cell nodes epsilon 1e-3 unless told
 * otherwise (also with no rules set), so the defaults are the reference.
 *
 * Graph shapes are per sample, so T is fixed when the graph is built: the
 * ONNX importer takes it from the model's input and refuses a symbolic
 * (dynamic) T axis; an input with another T is a shape error.
 */
#ifndef NEONLRP_LSTM_H
#define NEONLRP_LSTM_H

#include "neonlrp/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Picks n_idx entries (indices in [0, size of the axis), repeats allowed)
 * along per-sample axis `axis`: the axis gets size n_idx.  Relevance is
 * routed back exactly (a repeated index receives the sum).  Slices and
 * single time steps of sequences (ONNX Gather / Slice on activations). */
neon_status neon_graph_add_gather(neon_graph *g, const char *name, int input, int axis,
                                  int64_t n_idx, const int64_t *idx, int *id);

/* y[t] = W x[t] over the last per-sample axis: input (..., F) -> output
 * (..., n_out); W is (n_out, F) row-major.  No bias. */
neon_status neon_graph_add_dense_seq(neon_graph *g, const char *name, int input, int64_t n_out,
                                     const float *W, int *id);

#define NEON_LSTM_EPS 1e-3f

/* The recurrence of one LSTM direction.  input: a (T, 4H) node holding the
 * input part W x_t of the gate pre-activations (rows i, o, f, c), usually a
 * dense_seq node.  R (4H, H) recurrent weights; b (4H) the sum of both
 * biases or NULL; h0, c0 (H) initial states shared by every sample, or
 * NULL for zeros.  reverse != 0 reads the sequence from T-1 down to 0 (the
 * backward direction); outputs stay in time order.  Output (T, H). */
neon_status neon_graph_add_lstm_cell(neon_graph *g, const char *name, int input, int64_t H,
                                     const float *R, const float *b, const float *h0,
                                     const float *c0, int reverse, int *id);
/* Epsilon of the cell's rule (>= 0; default NEON_LSTM_EPS). */
neon_status neon_graph_set_lstm_eps(neon_graph *g, int id, float eps);

typedef struct neon_lstm_params {
    int64_t hidden;      /* H */
    int directions;      /* 1 or 2 (bidirectional) */
    int reverse;         /* directions == 1: read the sequence backwards */
    /* per direction d (the forward one first), ONNX layouts and gate order: */
    const float *W;      /* (directions, 4H, F) */
    const float *R;      /* (directions, 4H, H) */
    const float *B;      /* (directions, 8H): input bias then recurrent bias; or NULL */
    const float *h0, *c0;/* (directions, H) or NULL (zeros) */
} neon_lstm_params;

/* A whole LSTM layer on a (T, F) node: per direction a dense_seq node
 * "<name>.x" or "<name>.x_bw" and an lstm_cell node "<name>" or
 * "<name>.bw".  *id receives the output: (T, H) for one direction, and for
 * two the concatenation (T, 2, H) (forward direction first), ONNX's Y
 * without the batch axis. */
neon_status neon_graph_add_lstm(neon_graph *g, const char *name, int input,
                                const neon_lstm_params *p, int *id);

#ifdef __cplusplus
}
#endif
#endif /* NEONLRP_LSTM_H */
