/* ONNX importer internals shared by src/io/onnx*.c.
 *
 * The importer walks the ONNX nodes in file order and keeps one onnx_value
 * per ONNX tensor name:
 *   - constants (initializers, Constant nodes, folded shape arithmetic),
 *     decoded lazily to float32 or int64; the symbolic batch dimension is
 *     the int64 sentinel ONNX_BATCH;
 *   - activations: a node of the neon_graph with its per-sample shape;
 *   - pending nodes: a dense/conv layer that a following Add of a constant
 *     may still give a bias, or a constant Pad that a following
 *     AveragePool/Conv may absorb.  They become graph nodes ("materialize")
 *     the first time anything else consumes them.
 * Identity-like nodes make aliases; onnx_in() resolves them.  All import
 * scratch lives in an arena freed at the end (the builders copy weights).
 */
#ifndef NEON_ONNX_INTERNAL_H
#define NEON_ONNX_INTERNAL_H

#include "core.h"
#include "neonlrp/graph.h"
#include "neonlrp/onnx.h"
#include "onnx.pb-c.h"

/* The batch dimension while folding shape computations ("x.size(0)"). */
#define ONNX_BATCH (-INT64_C(0x4241544348))
/* Per-sample rank limit: a batch tensor has one more axis. */
#define ONNX_MAX_SDIMS (NEON_MAX_DIMS - 1)

typedef struct onnx_const {
    int is_int;                    /* 1: int64 data i, 0: float32 data f */
    int ndim;
    int64_t dims[NEON_MAX_DIMS];
    int64_t numel;
    float *f;
    int64_t *i;
} onnx_const;

typedef enum onnx_vkind {
    OV_NONE = 0,  /* declared, not produced yet */
    OV_CONST,
    OV_ACT,
    OV_PEND_LIN,  /* dense or conv2d waiting for a possible bias */
    OV_PEND_PAD,  /* constant pad waiting for a possible pooling/conv fold */
    OV_ALIAS      /* same as value `alias` (Identity, Dropout, stripped Softmax) */
} onnx_vkind;

typedef struct onnx_pending {
    const char *name;              /* name of the node to create */
    int input;                     /* graph node id of the input */
    /* OV_PEND_LIN */
    int is_conv;
    int64_t n_out;                 /* dense n_out or conv c_out */
    neon_conv2d_params cp;
    const float *W;                /* (n_out, n_in) or (c_out, c_in/g, kh, kw); never mutated */
    float *b;                      /* (n_out) or NULL; copy before changing if shared */
    /* OV_PEND_PAD: per-sample pads, begins then ends */
    int64_t pads[2 * ONNX_MAX_SDIMS];
    float value;
} onnx_pending;

typedef struct onnx_value {
    const char *name;
    onnx_vkind kind;
    int producer;                  /* index of the producing ONNX node, -1 for inputs/initializers */
    int uses;                      /* consumers still to come (+1 for the graph output) */
    struct onnx_value *alias;      /* OV_ALIAS */
    const Onnx__TensorProto *lazy; /* OV_CONST not decoded yet */
    onnx_const c;                  /* OV_CONST */
    int id;                        /* OV_ACT: graph node id */
    int ndim;                      /* OV_ACT / OV_PEND_*: per-sample shape */
    int64_t shape[ONNX_MAX_SDIMS];
    onnx_pending *p;               /* OV_PEND_* */
    int batch_axis;                /* OV_ACT: ONNX axis of the batch (0 but for time-major
                                    * sequences: LSTM inputs/outputs, onnx_seq.c) */
    int bcast_batch;               /* OV_CONST: 1 + the axis that is the symbolic batch, stored
                                    * with size 1 (ConstantOfShape of x.size(0)); 0: none */
} onnx_value;

typedef struct onnx_imp {
    neon_ctx *ctx;
    const char *file;
    neon_graph *g;
    const Onnx__GraphProto *gp;
    int64_t opset;
    int64_t decl_batch;            /* declared (static) batch of the first input, or -1 */
    onnx_value *vals;
    size_t n_vals;
    int *hash;                     /* open addressing: value index + 1, 0 = empty */
    size_t hash_mask;
    void *arena;                   /* list of scratch blocks */
    const Onnx__NodeProto *node;   /* node being translated (messages) */
    size_t node_index;
    const char *out_name;          /* the explained graph output */
} onnx_imp;

typedef neon_status (*onnx_op_fn)(onnx_imp *im, const Onnx__NodeProto *n);

/* The supported operators: X(op type, handler) S between entries.  Used for
 * both the dispatch table and the neon_onnx_supported_ops() string. */
#define ONNX_OP_LIST(X, S)                                                  \
    X("Conv", onnx_op_conv) S X("Gemm", onnx_op_gemm) S                     \
    X("MatMul", onnx_op_matmul) S X("Add", onnx_op_add) S                   \
    X("Sum", onnx_op_sum) S X("Relu", onnx_op_relu) S                       \
    X("Sigmoid", onnx_op_activation) S X("Tanh", onnx_op_activation) S      \
    X("LeakyRelu", onnx_op_activation) S X("Elu", onnx_op_activation) S     \
    X("Softplus", onnx_op_activation) S X("MaxPool", onnx_op_maxpool) S     \
    X("AveragePool", onnx_op_avgpool) S                                     \
    X("GlobalAveragePool", onnx_op_global_avgpool) S                        \
    X("BatchNormalization", onnx_op_batchnorm) S                            \
    X("Flatten", onnx_op_flatten) S X("Reshape", onnx_op_reshape_any) S     \
    X("Squeeze", onnx_op_squeeze_any) S X("Unsqueeze", onnx_op_unsqueeze_any) S \
    X("Concat", onnx_op_concat_any) S X("Pad", onnx_op_pad) S               \
    X("Dropout", onnx_op_identity) S X("Identity", onnx_op_identity) S      \
    X("Softmax", onnx_op_softmax) S X("LogSoftmax", onnx_op_softmax) S      \
    X("Constant", onnx_op_constant) S X("Shape", onnx_op_shape_any) S       \
    X("Gather", onnx_op_gather_any) S                                       \
    X("ConstantOfShape", onnx_op_const_of_shape_any) S                      \
    X("Slice", onnx_op_slice_any) S X("Cast", onnx_op_cast) S               \
    X("Sub", onnx_op_arith) S X("Mul", onnx_op_mul) S X("Div", onnx_op_arith) S \
    X("LSTM", onnx_op_lstm) S X("Transpose", onnx_op_transpose) S           \
    X("ReduceSum", onnx_op_reduce_sum)

#define ONNX_OP_DECL(op, fn) neon_status fn(onnx_imp *im, const Onnx__NodeProto *n);
ONNX_OP_LIST(ONNX_OP_DECL, )
#undef ONNX_OP_DECL
/* Translators that the *_any handlers of onnx_seq.c (sequence layouts,
 * Gather/Slice on activations) defer to for ordinary values. */
neon_status onnx_op_squeeze(onnx_imp *im, const Onnx__NodeProto *n);
neon_status onnx_op_unsqueeze(onnx_imp *im, const Onnx__NodeProto *n);
neon_status onnx_op_reshape(onnx_imp *im, const Onnx__NodeProto *n);
neon_status onnx_op_concat(onnx_imp *im, const Onnx__NodeProto *n);
neon_status onnx_op_shape(onnx_imp *im, const Onnx__NodeProto *n);
neon_status onnx_op_gather(onnx_imp *im, const Onnx__NodeProto *n);
neon_status onnx_op_const_of_shape(onnx_imp *im, const Onnx__NodeProto *n);
neon_status onnx_op_slice(onnx_imp *im, const Onnx__NodeProto *n);
/* onnx_emit, then out's batch axis (onnx_seq.c). */
neon_status onnx_seq_emit(onnx_imp *im, onnx_value *out, neon_status st, int id, int batch_axis);

/* ---- scratch arena (onnx.c) --------------------------------------------- */
/* Zeroed scratch of n * size bytes, freed when the import ends; NULL with
 * NEON_ERR_NOMEM on the ctx on failure. */
void *onnx_tmp(onnx_imp *im, size_t n, size_t size);

/* ---- messages (onnx_value.c) -------------------------------------------- */
/* "node 'name' (op T): <message>" about the current node. */
neon_status onnx_fail(onnx_imp *im, neon_status st, const char *fmt, ...) NEON_PRINTF(3, 4);
/* Prefixes the message already on the ctx (from a builder) with the node. */
neon_status onnx_fail_prefix(onnx_imp *im, neon_status st);
/* "'name'" or "#index" of the current node. */
const char *onnx_label(const onnx_imp *im, char *buf, size_t n);
/* Name for graph nodes made from the current node: its name or output 0. */
const char *onnx_node_name(const onnx_imp *im);
/* "(2, 3)" of a constant or a per-sample shape with a leading "N". */
char *onnx_cshape(const onnx_const *c, char *buf, size_t n);
char *onnx_sshape(int ndim, const int64_t *shape, char *buf, size_t n);

/* ---- values (onnx_value.c) ---------------------------------------------- */
onnx_value *onnx_lookup(onnx_imp *im, const char *name);
/* Adds a value named `name` (none for an empty name) to the table, which
 * has room for every name of the graph; a second definition is FORMAT. */
neon_status onnx_declare(onnx_imp *im, const char *name, int producer, onnx_value **out);
/* Follows aliases (NULL stays NULL). */
onnx_value *onnx_resolve(onnx_value *v);
/* Input k of node n resolved through aliases; missing/empty -> FORMAT error. */
neon_status onnx_in(onnx_imp *im, const Onnx__NodeProto *n, size_t k, onnx_value **v);
/* Same, but *v = NULL when the optional input is absent. */
neon_status onnx_in_opt(onnx_imp *im, const Onnx__NodeProto *n, size_t k, onnx_value **v);
/* Same, but a constant is UNSUPPORTED (the op needs an activation). */
neon_status onnx_in_act(onnx_imp *im, const Onnx__NodeProto *n, size_t k, onnx_value **v);
/* After a builder call: prefixes its error with the node, or makes out the
 * activation of graph node id. */
neon_status onnx_emit(onnx_imp *im, onnx_value *out, neon_status st, int id);
/* The value of output 0 of the node (to be filled by the handler). */
onnx_value *onnx_out(onnx_imp *im, const Onnx__NodeProto *n);
/* Decodes a constant (what names it in messages); NULL c when v is not one. */
neon_status onnx_const_get(onnx_imp *im, onnx_value *v, onnx_const **c);
/* Like onnx_const_get but a non-constant is UNSUPPORTED naming `role`. */
neon_status onnx_need_const(onnx_imp *im, onnx_value *v, const char *role, onnx_const **c);
/* Constant int64 vector (rank <= 1) for pads/axes/shapes. */
neon_status onnx_need_ints(onnx_imp *im, onnx_value *v, const char *role, const int64_t **x,
                           int64_t *n);
neon_status onnx_decode_tensor(onnx_imp *im, const Onnx__TensorProto *t, const char *what,
                               onnx_const *out);
/* The graph node of an activation, creating pending nodes; constants fail. */
neon_status onnx_act(onnx_imp *im, onnx_value *v, int *id);
/* Makes v an activation of graph node id (reads its shape). */
neon_status onnx_set_act(onnx_imp *im, onnx_value *v, int id);
/* Whether v is computed from the model input (activation or pending); its
 * per-sample shape is then in v->ndim/v->shape without materializing. */
int onnx_is_act(const onnx_value *v);
/* v becomes another name for target; target inherits v's consumers. */
void onnx_set_alias(onnx_value *v, onnx_value *target);
/* Makes v a zeroed constant of the given type and dims (scratch memory). */
neon_status onnx_new_const(onnx_imp *im, onnx_value *v, int is_int, int ndim, const int64_t *dims);
/* Shape's output: dims full[0..r) cut by the node's start/end (opset 15). */
neon_status onnx_shape_result(onnx_imp *im, const Onnx__NodeProto *n, onnx_value *out,
                              const int64_t *full, int r);

/* ---- attributes (onnx_value.c) ------------------------------------------ */
const Onnx__AttributeProto *onnx_attr(const Onnx__NodeProto *n, const char *name);
neon_status onnx_attr_int(onnx_imp *im, const Onnx__NodeProto *n, const char *name, int64_t def,
                          int64_t *out);
neon_status onnx_attr_float(onnx_imp *im, const Onnx__NodeProto *n, const char *name, float def,
                            float *out);
/* *x = NULL, *cnt = 0 when absent. */
neon_status onnx_attr_ints(onnx_imp *im, const Onnx__NodeProto *n, const char *name,
                           const int64_t **x, int64_t *cnt);
/* Copies the string attribute (or def) into buf. */
neon_status onnx_attr_str(onnx_imp *im, const Onnx__NodeProto *n, const char *name,
                          const char *def, char *buf, size_t bufsize);

/* ---- constant folding (onnx_const.c) ------------------------------------ */
/* Reshape of a constant to the given dims (entries final, no -1/0). */
neon_status onnx_fold_reshape(onnx_imp *im, onnx_value *out, const onnx_const *c, int ndim,
                              const int64_t *dims);
neon_status onnx_fold_concat(onnx_imp *im, const Onnx__NodeProto *n, onnx_value *out,
                             int64_t axis);
/* Axes attribute (opset < 13) or input 1, normalized against the input rank
 * r_in (Squeeze) or the output rank (Unsqueeze); *n_axes = 0 when absent. */
neon_status onnx_axes(onnx_imp *im, const Onnx__NodeProto *n, int r_in, int unsqueeze,
                      int64_t *axes, int *n_axes);
/* Add/Sub/Mul/Div ('+', '-', '*', '/') of two constants, broadcasting. */
neon_status onnx_fold_arith(onnx_imp *im, onnx_value *out, const onnx_const *a,
                            const onnx_const *b, char op);
neon_status onnx_fold_squeeze(onnx_imp *im, const Onnx__NodeProto *n, onnx_value *out,
                              const onnx_const *c, int unsqueeze);

/* ---- spatial attributes (onnx_shape_ops.c) ------------------------------ */
/* strides, dilations and pads {top, left, bottom, right} of a 2-d Conv or
 * pool over in_hw with kernel k (auto_pad included); all validated. */
neon_status onnx_spatial(onnx_imp *im, const Onnx__NodeProto *n, const int64_t *in_hw,
                         const int64_t *k, int64_t *stride, int64_t *dil, int64_t *pads);
/* Output size of one spatial axis (floor), or < 1 when the window does not fit. */
int64_t onnx_out_size(int64_t in, int64_t pad_sum, int64_t k, int64_t stride, int64_t dil);

#endif /* NEON_ONNX_INTERNAL_H */
