/* Hostile graphs and weights: ONNX models with cycles, dangling inputs,
 * missing outputs, nodes out of order or absurd shapes are refused with a
 * message naming what is wrong; NaN/Inf weights are refused by every
 * builder (and so by the ONNX importer) naming the node and the position.
 * The ONNX models are built in memory with the protobuf-c structs. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neonlrp/graph.h"
#include "neonlrp/lstm.h"
#include "neonlrp/neuralize.h"
#include "neonlrp/onnx.h"
#include "neonlrp/rules.h"
#include "onnx.pb-c.h"

/* ---- a tiny in-memory ONNX model builder ------------------------------------ */

#define MB_MAX 8

typedef struct mb {
    Onnx__ModelProto m;
    Onnx__GraphProto g;
    Onnx__OperatorSetIdProto op;
    Onnx__OperatorSetIdProto *opp[1];
    Onnx__NodeProto node[MB_MAX];
    Onnx__NodeProto *nodep[MB_MAX];
    char *io[MB_MAX][2][4]; /* per node: inputs, outputs */
    Onnx__ValueInfoProto in, out;
    Onnx__ValueInfoProto *inp[1], *outp[1];
    Onnx__TypeProto ty;
    Onnx__TypeProto__Tensor tt;
    Onnx__TensorShapeProto sh;
    Onnx__TensorShapeProto__Dimension dim[4];
    Onnx__TensorShapeProto__Dimension *dimp[4];
    Onnx__TensorProto init[MB_MAX];
    Onnx__TensorProto *initp[MB_MAX];
} mb;

/* Input "x" of shape (N, dims...), graph output `out`. */
static void mb_init(mb *b, int nd, const int64_t *dims, const char *out)
{
    memset(b, 0, sizeof *b);
    b->m = (Onnx__ModelProto)ONNX__MODEL_PROTO__INIT;
    b->g = (Onnx__GraphProto)ONNX__GRAPH_PROTO__INIT;
    b->op = (Onnx__OperatorSetIdProto)ONNX__OPERATOR_SET_ID_PROTO__INIT;
    b->op.domain = "";
    b->op.has_version = 1;
    b->op.version = 13;
    b->opp[0] = &b->op;
    b->m.has_ir_version = 1;
    b->m.ir_version = 8;
    b->m.n_opset_import = 1;
    b->m.opset_import = b->opp;
    b->m.graph = &b->g;
    b->sh = (Onnx__TensorShapeProto)ONNX__TENSOR_SHAPE_PROTO__INIT;
    for (int k = 0; k <= nd; k++) {
        b->dim[k] = (Onnx__TensorShapeProto__Dimension)ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT;
        if (k == 0) {
            b->dim[k].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            b->dim[k].dim_param = "N";
        } else {
            b->dim[k].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            b->dim[k].dim_value = dims[k - 1];
        }
        b->dimp[k] = &b->dim[k];
    }
    b->sh.n_dim = (size_t)nd + 1;
    b->sh.dim = b->dimp;
    b->tt = (Onnx__TypeProto__Tensor)ONNX__TYPE_PROTO__TENSOR__INIT;
    b->tt.has_elem_type = 1;
    b->tt.elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    b->tt.shape = &b->sh;
    b->ty = (Onnx__TypeProto)ONNX__TYPE_PROTO__INIT;
    b->ty.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    b->ty.tensor_type = &b->tt;
    b->in = (Onnx__ValueInfoProto)ONNX__VALUE_INFO_PROTO__INIT;
    b->in.name = "x";
    b->in.type = &b->ty;
    b->out = (Onnx__ValueInfoProto)ONNX__VALUE_INFO_PROTO__INIT;
    b->out.name = (char *)out;
    b->inp[0] = &b->in;
    b->outp[0] = &b->out;
    b->g.n_input = 1;
    b->g.input = b->inp;
    b->g.n_output = 1;
    b->g.output = b->outp;
    b->g.node = b->nodep;
    b->g.initializer = b->initp;
}

/* Node op(ins...) -> out, named `name`. */
static void mb_node(mb *b, const char *op, const char *name, const char *in0, const char *in1,
                    const char *in2, const char *out)
{
    size_t k = b->g.n_node++;
    assert_true(k < MB_MAX);
    Onnx__NodeProto *n = &b->node[k];
    *n = (Onnx__NodeProto)ONNX__NODE_PROTO__INIT;
    n->op_type = (char *)op;
    n->name = (char *)name;
    const char *ins[3] = {in0, in1, in2};
    for (int i = 0; i < 3 && ins[i]; i++) b->io[k][0][n->n_input++] = (char *)ins[i];
    b->io[k][1][0] = (char *)out;
    n->n_output = 1;
    n->input = b->io[k][0];
    n->output = b->io[k][1];
    b->nodep[k] = n;
}

/* Float initializer `name` with the given dims and data. */
static void mb_weight(mb *b, const char *name, int nd, int64_t *dims, float *data, size_t n)
{
    size_t k = b->g.n_initializer++;
    assert_true(k < MB_MAX);
    Onnx__TensorProto *t = &b->init[k];
    *t = (Onnx__TensorProto)ONNX__TENSOR_PROTO__INIT;
    t->name = (char *)name;
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->n_dims = (size_t)nd;
    t->dims = dims;
    t->n_float_data = n;
    t->float_data = data;
    b->initp[k] = t;
}

/* Packs the model and imports it; returns the status, message in ctx. */
static neon_status mb_import(neon_ctx *ctx, mb *b, neon_graph **g)
{
    size_t len = onnx__model_proto__get_packed_size(&b->m);
    uint8_t *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    assert_int_equal(onnx__model_proto__pack(&b->m, buf), len);
    neon_status st = neon_onnx_parse(ctx, buf, len, "model.onnx", g);
    free(buf);
    return st;
}

static void expect_msg(neon_ctx *ctx, const char *const *needles)
{
    const char *msg = neon_errmsg(ctx);
    for (; *needles; needles++) {
        if (!strstr(msg, *needles)) print_error("'%s' not in: %s\n", *needles, msg);
        assert_non_null(strstr(msg, *needles));
    }
}

static void expect_import_fail(mb *b, neon_status want, const char *const *needles)
{
    neon_ctx *ctx = tu_ctx();
    neon_graph *g = (neon_graph *)1;
    neon_status st = mb_import(ctx, b, &g);
    if (st != want) print_error("status %d, message: %s\n", (int)st, neon_errmsg(ctx));
    assert_int_equal(st, want);
    assert_null(g);
    expect_msg(ctx, needles);
    neon_ctx_destroy(ctx);
}

/* ---- graph structure ---------------------------------------------------------- */

/* The builder itself works: x -> Relu -> Relu imports and runs. */
static void test_builder_sane(void **state)
{
    (void)state;
    mb b;
    int64_t d[1] = {3};
    mb_init(&b, 1, d, "b");
    mb_node(&b, "Relu", "r1", "x", NULL, NULL, "a");
    mb_node(&b, "Relu", "r2", "a", NULL, NULL, "b");
    neon_ctx *ctx = tu_ctx();
    neon_graph *g = NULL;
    assert_int_equal(mb_import(ctx, &b, &g), NEON_OK);
    float x[3] = {-1, 2, 0};
    neon_tensor X = {x, 2, {1, 3}}, y;
    assert_int_equal(neon_graph_forward(g, &X, &y), NEON_OK);
    assert_true(y.data[0] == 0.0f && y.data[1] == 2.0f);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* a = Relu(c), c = Relu(a): a two-node cycle. */
static void test_cycle(void **state)
{
    (void)state;
    mb b;
    int64_t d[1] = {3};
    mb_init(&b, 1, d, "a");
    mb_node(&b, "Add", "first", "x", "c", NULL, "a");
    mb_node(&b, "Relu", "second", "a", NULL, NULL, "c");
    const char *want[] = {"model.onnx", "cycle", "'a'", NULL};
    expect_import_fail(&b, NEON_ERR_FORMAT, want);
}

/* a = Add(x, a): a node that consumes its own output. */
static void test_self_loop(void **state)
{
    (void)state;
    mb b;
    int64_t d[1] = {3};
    mb_init(&b, 1, d, "a");
    mb_node(&b, "Add", "loop", "x", "a", NULL, "a");
    const char *want[] = {"model.onnx", "node 'loop' (op Add)", "cycle", NULL};
    expect_import_fail(&b, NEON_ERR_FORMAT, want);
}

/* A longer cycle behind an acyclic prefix: x -> r0 -> (r1 -> r2 -> r3 -> r1). */
static void test_long_cycle(void **state)
{
    (void)state;
    mb b;
    int64_t d[1] = {2};
    mb_init(&b, 1, d, "o");
    mb_node(&b, "Relu", "r0", "x", NULL, NULL, "a0");
    mb_node(&b, "Add", "r1", "a0", "a3", NULL, "a1");
    mb_node(&b, "Relu", "r2", "a1", NULL, NULL, "a2");
    mb_node(&b, "Relu", "r3", "a2", NULL, NULL, "a3");
    mb_node(&b, "Relu", "out", "a3", NULL, NULL, "o");
    const char *want[] = {"cycle", NULL};
    expect_import_fail(&b, NEON_ERR_FORMAT, want);
}

/* An input that no node, initializer or graph input defines. */
static void test_dangling_input(void **state)
{
    (void)state;
    mb b;
    int64_t d[1] = {3};
    mb_init(&b, 1, d, "y");
    mb_node(&b, "Add", "adder", "x", "ghost", NULL, "y");
    const char *want[] = {"model.onnx", "'adder'", "'ghost'", "not defined", NULL};
    expect_import_fail(&b, NEON_ERR_FORMAT, want);
}

/* The graph output is produced by nothing. */
static void test_dangling_output(void **state)
{
    (void)state;
    mb b;
    int64_t d[1] = {3};
    mb_init(&b, 1, d, "nothing");
    mb_node(&b, "Relu", "r", "x", NULL, NULL, "y");
    const char *want[] = {"model.onnx", "'nothing'", "not produced", NULL};
    expect_import_fail(&b, NEON_ERR_FORMAT, want);
}

/* Acyclic but out of order (ONNX requires topological order). */
static void test_out_of_order(void **state)
{
    (void)state;
    mb b;
    int64_t d[1] = {3};
    mb_init(&b, 1, d, "b");
    mb_node(&b, "Relu", "late", "a", NULL, NULL, "b");
    mb_node(&b, "Relu", "early", "x", NULL, NULL, "a");
    const char *want[] = {"'late'", "'a'", "topological order", NULL};
    expect_import_fail(&b, NEON_ERR_FORMAT, want);
}

/* A value defined twice. */
static void test_defined_twice(void **state)
{
    (void)state;
    mb b;
    int64_t d[1] = {3};
    mb_init(&b, 1, d, "a");
    mb_node(&b, "Relu", "one", "x", NULL, NULL, "a");
    mb_node(&b, "Relu", "two", "x", NULL, NULL, "a");
    const char *want[] = {"'a'", "defined twice", NULL};
    expect_import_fail(&b, NEON_ERR_FORMAT, want);
}

/* Absurd shapes: per-sample input of 2^40 x 2^40 (overflow), a zero or
 * negative dimension, a weight tensor whose dims disagree with its data,
 * a reshape target whose product overflows. */
static void test_absurd_shapes(void **state)
{
    (void)state;
    mb b;
    int64_t huge[2] = {INT64_C(1) << 40, INT64_C(1) << 40};
    mb_init(&b, 2, huge, "y");
    mb_node(&b, "Relu", "r", "x", NULL, NULL, "y");
    const char *w1[] = {"model.onnx", "'x'", "invalid output shape", NULL};
    expect_import_fail(&b, NEON_ERR_SHAPE, w1);

    /* no overflow, but 2^32 values per sample: more than any node may hold */
    int64_t big[2] = {INT64_C(1) << 16, INT64_C(1) << 16};
    mb_init(&b, 2, big, "y");
    mb_node(&b, "Relu", "r", "x", NULL, NULL, "y");
    const char *w1b[] = {"model.onnx", "'x'", "4294967296 values per sample", "at most", NULL};
    expect_import_fail(&b, NEON_ERR_SHAPE, w1b);

    int64_t zero[2] = {3, 0};
    mb_init(&b, 2, zero, "y");
    mb_node(&b, "Relu", "r", "x", NULL, NULL, "y");
    const char *w2[] = {"model.onnx", "'x'", "dimension 2", NULL};
    expect_import_fail(&b, NEON_ERR_UNSUPPORTED, w2);

    int64_t d[1] = {4};
    int64_t wd[2] = {INT64_C(1) << 33, INT64_C(1) << 33};
    float w[8] = {0};
    mb_init(&b, 1, d, "y");
    mb_weight(&b, "W", 2, wd, w, 8);
    mb_node(&b, "MatMul", "mm", "x", "W", NULL, "y");
    const char *w3[] = {"model.onnx", "'mm'", NULL};
    neon_ctx *ctx = tu_ctx();
    neon_graph *g = NULL;
    neon_status st = mb_import(ctx, &b, &g);
    assert_true(st == NEON_ERR_FORMAT || st == NEON_ERR_SHAPE);
    assert_null(g);
    expect_msg(ctx, w3);

    /* a 1-d shape constant asking for 2^62 x 2^62 x N: refused before any allocation */
    int64_t sd[1] = {3};
    int64_t shape[3] = {-1, INT64_C(1) << 62, INT64_C(1) << 62};
    Onnx__TensorProto *t;
    mb_init(&b, 1, d, "y");
    mb_weight(&b, "s", 1, sd, NULL, 0);
    t = &b.init[0];
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    t->n_int64_data = 3;
    t->int64_data = shape;
    mb_node(&b, "Reshape", "rs", "x", "s", NULL, "y");
    st = mb_import(ctx, &b, &g);
    assert_int_not_equal(st, NEON_OK);
    assert_null(g);
    const char *w4[] = {"'rs'", NULL};
    expect_msg(ctx, w4);
    neon_ctx_destroy(ctx);
}

/* ---- non-finite weights ---------------------------------------------------------- */

/* Gemm with a NaN weight and an Inf bias, from ONNX: refused naming the
 * ONNX node, the initializer and the position. */
static void test_onnx_nan_weight(void **state)
{
    (void)state;
    mb b;
    int64_t d[1] = {3}, wd[2] = {2, 3}, bd[1] = {2};
    float w[6] = {1, 2, 3, 4, 5, 6}, bias[2] = {0, 0};
    w[4] = NAN;
    mb_init(&b, 1, d, "y");
    mb_weight(&b, "W", 2, wd, w, 6);
    mb_weight(&b, "B", 1, bd, bias, 2);
    mb_node(&b, "Gemm", "fc", "x", "W", "B", "y");
    b.node[0].n_attribute = 1;
    Onnx__AttributeProto tb = ONNX__ATTRIBUTE_PROTO__INIT, *tbp[1] = {&tb};
    tb.name = "transB";
    tb.has_type = 1;
    tb.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    tb.has_i = 1;
    tb.i = 1;
    b.node[0].attribute = tbp;
    const char *want[] = {"model.onnx", "'fc'", "'W'", "nan at [1, 1]", NULL};
    expect_import_fail(&b, NEON_ERR_NUMERIC, want);

    w[4] = 5;
    bias[1] = INFINITY;
    const char *want2[] = {"'fc'", "'B'", "inf at [1]", NULL};
    expect_import_fail(&b, NEON_ERR_NUMERIC, want2);

    bias[1] = 0; /* and the model is fine again */
    neon_ctx *ctx = tu_ctx();
    neon_graph *g = NULL;
    assert_int_equal(mb_import(ctx, &b, &g), NEON_OK);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* Every builder that takes weights checks them. */
static void test_builders_reject_nonfinite(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_graph *g;
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    int x, xi, id = -7;
    const int64_t s3[3] = {2, 3, 3}, s1[1] = {4};
    assert_int_equal(neon_graph_add_input(g, "img", 3, s3, &x), NEON_OK);
    assert_int_equal(neon_graph_add_input(g, "vec", 1, s1, &xi), NEON_OK);
    const int n0 = neon_graph_num_nodes(g);

    float W[4 * 4], b[4] = {0};
    for (int i = 0; i < 16; i++) W[i] = 0.1f * (float)i;
    W[6] = -INFINITY;
    assert_int_equal(neon_graph_add_dense(g, "fc", xi, 4, W, b, &id), NEON_ERR_NUMERIC);
    const char *m1[] = {"dense 'fc'", "weight[1, 2]", "-inf", NULL};
    expect_msg(ctx, m1);
    W[6] = 0;
    b[3] = NAN;
    assert_int_equal(neon_graph_add_dense(g, "fc", xi, 4, W, b, &id), NEON_ERR_NUMERIC);
    const char *m2[] = {"dense 'fc'", "bias[3]", "nan", NULL};
    expect_msg(ctx, m2);
    b[3] = 0;

    float K[3 * 2 * 2 * 2] = {0}, cb[3] = {0};
    K[2 * 8 + 5] = NAN; /* filter 2, element 5 */
    neon_conv2d_params cp = {.kernel_h = 2, .kernel_w = 2};
    assert_int_equal(neon_graph_add_conv2d(g, "conv", x, 3, &cp, K, cb, &id), NEON_ERR_NUMERIC);
    const char *m3[] = {"conv2d 'conv'", "weight[2, 5]", NULL};
    expect_msg(ctx, m3);
    K[21] = 0;
    cb[0] = INFINITY;
    assert_int_equal(neon_graph_add_conv2d(g, "conv", x, 3, &cp, K, cb, &id), NEON_ERR_NUMERIC);
    const char *m4[] = {"conv2d 'conv'", "bias[0]", NULL};
    expect_msg(ctx, m4);

    float sc[2] = {1, 1}, bb[2] = {0, 0}, mu[2] = {0, 0}, var[2] = {1, NAN};
    assert_int_equal(neon_graph_add_batchnorm(g, "bn", x, sc, bb, mu, var, 1e-5f, &id),
                     NEON_ERR_NUMERIC);
    const char *m5[] = {"batchnorm 'bn'", "var[1]", NULL};
    expect_msg(ctx, m5);
    var[1] = 1;
    mu[0] = -INFINITY;
    assert_int_equal(neon_graph_add_batchnorm(g, "bn", x, sc, bb, mu, var, 1e-5f, &id),
                     NEON_ERR_NUMERIC);
    const char *m6[] = {"batchnorm 'bn'", "mean[0]", NULL};
    expect_msg(ctx, m6);

    float U[3 * 4] = {0}, off[3] = {0};
    U[9] = NAN; /* point 2, feature 1 */
    assert_int_equal(neon_graph_add_sqdist(g, "sq", xi, 3, U, off, &id), NEON_ERR_NUMERIC);
    const char *m7[] = {"'sq'", "point[2, 1]", NULL};
    expect_msg(ctx, m7);
    U[9] = 0;
    off[1] = INFINITY;
    assert_int_equal(neon_graph_add_sqdist(g, "sq", xi, 3, U, off, &id), NEON_ERR_NUMERIC);
    const char *m8[] = {"'sq'", "offset[1]", NULL};
    expect_msg(ctx, m8);

    float C[2 * 4] = {0, 0, 0, 0, 1, 1, 1, INFINITY};
    assert_int_equal(neon_graph_add_kmeans_disc(g, "disc", xi, 2, C, -1, &id), NEON_ERR_NUMERIC);
    const char *m9[] = {"'disc'", "centroid[1, 3]", NULL};
    expect_msg(ctx, m9);

    int64_t pads[6] = {0, 1, 1, 0, 1, 1};
    assert_int_equal(neon_graph_add_pad(g, "pad", x, pads, NAN, &id), NEON_ERR_NUMERIC);
    const char *m10[] = {"pad 'pad'", "value", NULL};
    expect_msg(ctx, m10);
    assert_int_equal(neon_graph_add_activation(g, "lrelu", xi, NEON_ACT_LEAKY_RELU, INFINITY, &id),
                     NEON_ERR_NUMERIC);
    const char *m11[] = {"'lrelu'", "parameter", NULL};
    expect_msg(ctx, m11);

    /* absurd per-sample shapes through the API */
    const int64_t huge[2] = {INT64_C(1) << 20, INT64_C(1) << 12};
    assert_int_equal(neon_graph_add_input(g, "huge", 2, huge, &id), NEON_ERR_SHAPE);
    const char *m13[] = {"'huge'", "at most 2147483647", NULL};
    expect_msg(ctx, m13);

    /* nothing was added by the failed calls, and id was left alone */
    assert_int_equal(neon_graph_num_nodes(g), n0);
    assert_int_equal(id, -7);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* The LSTM builders: input projection and recurrent weights, bias, states. */
static void test_lstm_builders_reject_nonfinite(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_graph *g;
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    int x, p, id;
    const int64_t s[2] = {3, 2}; /* T = 3 steps of 2 features */
    const int64_t H = 2;
    assert_int_equal(neon_graph_add_input(g, "seq", 2, s, &x), NEON_OK);
    float W[4 * 2 * 2] = {0};
    W[13] = NAN; /* row 6, column 1 */
    assert_int_equal(neon_graph_add_dense_seq(g, "proj", x, 4 * H, W, &p), NEON_ERR_NUMERIC);
    const char *m1[] = {"'proj'", "weight[6, 1]", NULL};
    expect_msg(ctx, m1);
    W[13] = 0;
    assert_int_equal(neon_graph_add_dense_seq(g, "proj", x, 4 * H, W, &p), NEON_OK);
    float R[4 * 2 * 2] = {0}, b[8] = {0}, h0[2] = {0, 0};
    R[3] = INFINITY;
    assert_int_equal(neon_graph_add_lstm_cell(g, "cell", p, H, R, b, NULL, NULL, 0, &id),
                     NEON_ERR_NUMERIC);
    const char *m2[] = {"'cell'", "recurrent weight[1, 1]", NULL};
    expect_msg(ctx, m2);
    R[3] = 0;
    h0[1] = NAN;
    assert_int_equal(neon_graph_add_lstm_cell(g, "cell", p, H, R, b, h0, NULL, 0, &id),
                     NEON_ERR_NUMERIC);
    const char *m3[] = {"'cell'", "initial hidden state[1]", NULL};
    expect_msg(ctx, m3);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* The log-odds head of a model with very many outputs: its scratch was
 * once two arrays on the stack (C - 1 doubles each), a stack overflow for
 * C in the millions.  Found by review while writing the fuzz harnesses. */
static void test_logodds_many_classes(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_graph *g;
    const int64_t C = INT64_C(1) << 21, one[1] = {1};
    float *W = malloc((size_t)C * sizeof *W);
    assert_non_null(W);
    for (int64_t k = 0; k < C; k++) W[k] = (float)(k % 97) * 0.01f;
    int x, d;
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    assert_int_equal(neon_graph_add_input(g, "x", 1, one, &x), NEON_OK);
    assert_int_equal(neon_graph_add_dense(g, "logits", x, C, W, NULL, &d), NEON_OK);
    float xv = 1.0f, rv = 0.0f;
    neon_tensor X = {&xv, 2, {1, 1}}, R = {&rv, 2, {1, 1}};
    neon_explain_opts o = {NEON_INIT_VALUE, NEON_HEAD_LOGODDS};
    neon_explain_result res;
    assert_int_equal(neon_graph_explain(g, &X, NULL, &o, &R, &res), NEON_OK);
    assert_int_equal(res.target, 96); /* the first of the largest logits */
    assert_true(isfinite(res.score) && isfinite(rv));
    double eta, *Rd = malloc((size_t)(C - 1) * sizeof *Rd);
    assert_non_null(Rd);
    assert_int_equal(neon_logodds_pool((int)C, W, 96, NEON_INIT_VALUE, &eta, Rd), NEON_OK);
    assert_true(fabs(eta - res.score) < 1e-3 * (1 + fabs(eta)));
    free(Rd);
    free(W);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builder_sane),
        cmocka_unit_test(test_cycle),
        cmocka_unit_test(test_self_loop),
        cmocka_unit_test(test_long_cycle),
        cmocka_unit_test(test_dangling_input),
        cmocka_unit_test(test_dangling_output),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_defined_twice),
        cmocka_unit_test(test_absurd_shapes),
        cmocka_unit_test(test_onnx_nan_weight),
        cmocka_unit_test(test_builders_reject_nonfinite),
        cmocka_unit_test(test_lstm_builders_reject_nonfinite),
        cmocka_unit_test(test_logodds_many_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
