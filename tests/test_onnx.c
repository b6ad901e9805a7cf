/* ONNX importer: every supported operator translated correctly (import ->
 * forward -> compare with outputs computed by torch/numpy in
 * tests/data/make_onnx_fixtures.py), the graph structure the importer
 * builds (bias/pad folding, stripped Softmax), malformed and unsupported
 * models, allocation failures at every step, and the shipped models. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neonlrp/graph.h"
#include "neonlrp/io.h"
#include "neonlrp/onnx.h"

static const char *fixture(char *buf, size_t n, const char *name, const char *ext)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/onnx/%s%s", name, ext);
    return tu_src_path(buf, n, rel);
}

static int count_kind(const neon_graph *g, const char *kind)
{
    int c = 0;
    neon_node_info info;
    for (int i = 0; i < neon_graph_num_nodes(g); i++) {
        assert_int_equal(neon_graph_node_info(g, i, &info), NEON_OK);
        c += strcmp(info.kind, kind) == 0;
    }
    return c;
}

/* Imports model_path, runs it on input_path, compares with expected_path. */
static neon_graph *run_and_compare(neon_ctx *ctx, const char *model_path, const char *input_path,
                                   const char *expected_path, double atol, double rtol)
{
    neon_graph *g = NULL;
    neon_tensor x = {0}, e = {0}, y;
    neon_status st = neon_onnx_load(ctx, model_path, &g);
    if (st != NEON_OK) print_error("%s\n", neon_errmsg(ctx));
    assert_int_equal(st, NEON_OK);
    assert_int_equal(neon_npy_read(ctx, input_path, &x), NEON_OK);
    assert_int_equal(neon_npy_read(ctx, expected_path, &e), NEON_OK);
    st = neon_graph_forward(g, &x, &y);
    if (st != NEON_OK) print_error("%s\n", neon_errmsg(ctx));
    assert_int_equal(st, NEON_OK);
    assert_int_equal(neon_tensor_numel(&y), neon_tensor_numel(&e));
    assert_int_equal(y.shape[0], x.shape[0]);
    tu_assert_close(y.data, e.data, neon_tensor_numel(&e), atol, rtol, model_path);
    neon_tensor_free(ctx, &x);
    neon_tensor_free(ctx, &e);
    return g;
}

static neon_graph *check_fixture(neon_ctx *ctx, const char *name)
{
    char m[1024], in[1024], ex[1024];
    return run_and_compare(ctx, fixture(m, sizeof m, name, ".onnx"),
                           fixture(in, sizeof in, name, ".input.npy"),
                           fixture(ex, sizeof ex, name, ".expected.npy"), 1e-5, 1e-5);
}

/* ---- operators ------------------------------------------------------------ */

/* torch export, BN folded by the exporter: Conv (groups, stride), MaxPool,
 * Pad + AveragePool (nn.AvgPool2d(padding=1)), Flatten, Gemm, Dropout. */
static void test_cnn(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_graph *g = check_fixture(ctx, "cnn");
    assert_int_equal(count_kind(g, "conv2d"), 2);
    assert_int_equal(count_kind(g, "dense"), 2);
    assert_int_equal(count_kind(g, "pad"), 0); /* folded into the average pool */
    assert_int_equal(count_kind(g, "avgpool2d"), 1);
    assert_int_equal(count_kind(g, "batchnorm"), 0);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* Same weights with BatchNormalization kept as nodes. */
static void test_cnn_bn_node(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_graph *g = check_fixture(ctx, "cnn_bn");
    assert_int_equal(count_kind(g, "batchnorm"), 2);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* Dilated conv, MaxPool ceil_mode + pads, AveragePool count_include_pad=0
 * with pads, AdaptiveAvgPool2d(3) (AveragePool) and (1) (GlobalAveragePool),
 * Pad + AveragePool folding with asymmetric padding, Concat of Flattens. */
static void test_pools(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_graph *g = check_fixture(ctx, "pools");
    assert_int_equal(count_kind(g, "global_avgpool"), 1);
    assert_int_equal(count_kind(g, "avgpool2d"), 3);
    assert_int_equal(count_kind(g, "pad"), 0);
    assert_int_equal(count_kind(g, "concat"), 1);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

typedef struct log_capture {
    char text[2048];
    int n_info;
} log_capture;

static void capture_log(neon_log_level level, const char *msg, void *user)
{
    log_capture *c = user;
    size_t used = strlen(c->text);
    snprintf(c->text + used, sizeof c->text - used, "%s\n", msg);
    c->n_info += level == NEON_LOG_INFO;
}

/* Residual Add, torch.cat, x.view(x.size(0), -1) (Shape/Gather/Unsqueeze/
 * Concat/Reshape folded with a symbolic batch), trailing Softmax stripped:
 * the graph outputs the logits and says so on the log. */
static void test_resnet_view_softmax(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    log_capture cap = {{0}, 0};
    neon_ctx_set_log(ctx, capture_log, NEON_LOG_DEBUG, &cap);
    neon_graph *g = check_fixture(ctx, "resnet");
    assert_non_null(strstr(cap.text, "Softmax"));
    assert_non_null(strstr(cap.text, "logits"));
    assert_int_equal(count_kind(g, "add"), 1);
    assert_int_equal(count_kind(g, "concat"), 1);
    assert_int_equal(count_kind(g, "reshape"), 1);
    neon_node_info info;
    assert_int_equal(neon_graph_node_info(g, neon_graph_output_id(g), &info), NEON_OK);
    assert_string_equal(info.kind, "dense");
    neon_graph_destroy(g);
    /* exported with a fixed batch of 2: x.size(0) is folded to the constant
     * 2 by the exporter and still means "the batch" (run here with 3) */
    g = check_fixture(ctx, "resnet_static");
    neon_graph_destroy(g);
    /* exported without constant folding at opset 11: the shape subgraph
     * (Unsqueeze with an axes attribute) is folded by the importer */
    g = check_fixture(ctx, "resnet_nofold");
    assert_int_equal(count_kind(g, "reshape"), 1);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* Two graph outputs: the first is explained (its LogSoftmax stripped); the
 * second needs an unsupported operator (Exp) and is ignored. */
static void test_two_outputs(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    log_capture cap = {{0}, 0};
    neon_ctx_set_log(ctx, capture_log, NEON_LOG_DEBUG, &cap);
    neon_graph *g = check_fixture(ctx, "two_outputs");
    assert_non_null(strstr(cap.text, "LogSoftmax"));
    assert_non_null(strstr(cap.text, "2 outputs"));
    assert_int_equal(neon_graph_num_nodes(g), 3); /* input, relu, dense */
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* Gemm transB 0/1 with alpha/beta folded, bias as float_data / raw_data,
 * C of shape (1, M); Sigmoid, Tanh. */
static void test_gemm(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_graph *g = check_fixture(ctx, "gemm");
    assert_int_equal(count_kind(g, "dense"), 2);
    assert_int_equal(count_kind(g, "activation"), 2);
    assert_int_equal(neon_graph_num_nodes(g), 5);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* MatMul + Add (bias folded; constant on either side; a DOUBLE Constant in
 * double_data cast to FLOAT), MatMul without bias, Elu, LeakyRelu, Softplus. */
static void test_matmul_add(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_graph *g = check_fixture(ctx, "matmul");
    assert_int_equal(count_kind(g, "dense"), 3);
    assert_int_equal(count_kind(g, "add"), 0);
    assert_int_equal(neon_graph_num_nodes(g), 7);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* Pad with a non-zero value (a pad node; pads from a Constant value_ints),
 * Conv + Add bias of shape (1, C, 1, 1) (raw DOUBLE cast to FLOAT),
 * Unsqueeze/Squeeze, a hand-written shape subgraph (Shape, Slice, Gather,
 * Mul, Div, Cast from INT32, Concat, ConstantOfShape, batch + 0; int64_data)
 * feeding Reshape, a zero
 * Pad shared by an AveragePool and a Conv (folded into both), Flatten,
 * Dropout, Identity, Sum, Concat, Gemm. */
static void test_shape_ops(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_graph *g = check_fixture(ctx, "shapeops");
    assert_int_equal(count_kind(g, "pad"), 1);
    assert_int_equal(count_kind(g, "conv2d"), 2);
    assert_int_equal(count_kind(g, "add"), 1); /* the Sum */
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* Opset 10 attribute forms: Pad pads/value, Unsqueeze/Squeeze axes; the
 * initializers are also listed as graph inputs (IR < 4 style). */
static void test_opset10(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_graph *g = check_fixture(ctx, "opset10");
    assert_int_equal(count_kind(g, "pad"), 1); /* not foldable into a max pool */
    assert_int_equal(neon_graph_num_inputs(g), 1);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* ---- malformed and unsupported models --------------------------------------- */

static void expect_fail(const char *name, neon_status want, const char *const *needles)
{
    char path[1024];
    neon_ctx *ctx = tu_ctx();
    neon_graph *g = (neon_graph *)&g; /* must be reset to NULL */
    neon_status st = neon_onnx_load(ctx, fixture(path, sizeof path, name, ".onnx"), &g);
    const char *msg = neon_errmsg(ctx);
    if (st != want) print_error("%s: status %d (%s): %s\n", name, (int)st, neon_status_str(st), msg);
    assert_int_equal(st, want);
    assert_null(g);
    assert_non_null(strstr(msg, path)); /* names the file */
    for (; *needles; needles++) {
        if (!strstr(msg, *needles)) print_error("'%s' not in: %s\n", *needles, msg);
        assert_non_null(strstr(msg, *needles));
    }
    neon_ctx_destroy(ctx);
}

static void test_unsupported_ops(void **state)
{
    (void)state;
    const char *up[] = {"node 'Upsample_12' (op Upsample) is not supported; supported: Conv, Gemm",
                        "GlobalAveragePool", NULL};
    expect_fail("bad_upsample", NEON_ERR_UNSUPPORTED, up);
    const char *lstm[] = {"'LSTM_3' (op LSTM)", "batch on axis 1", NULL}; /* X not (T, N, F) */
    expect_fail("bad_lstm", NEON_ERR_UNSUPPORTED, lstm);
    const char *ext[] = {"'fc'", "external", NULL};
    expect_fail("bad_external", NEON_ERR_UNSUPPORTED, ext);
    const char *add[] = {"'add_after_relu' (op Add)", "bias", NULL};
    expect_fail("bad_add", NEON_ERR_UNSUPPORTED, add);
    const char *sm[] = {"'sm' (op Softmax)", "last node", NULL};
    expect_fail("bad_softmax_mid", NEON_ERR_UNSUPPORTED, sm);
}

static void test_bad_shapes(void **state)
{
    (void)state;
    const char *conv[] = {"'conv1' (op Conv)", "(3, 2, 3)", "rank 4", NULL};
    expect_fail("bad_conv_rank", NEON_ERR_SHAPE, conv);
    const char *gemm[] = {"'fc_bad' (op Gemm)", "(3, 7)", "(N, 5)", NULL};
    expect_fail("bad_gemm", NEON_ERR_SHAPE, gemm);
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Prepends field `field` (length-delimited) around buf[start, end). */
static size_t prepend_field(uint8_t *buf, size_t start, size_t end, unsigned field)
{
    uint8_t v[10];
    int nv = 0;
    size_t len = end - start;
    do {
        v[nv++] = (uint8_t)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
        len >>= 7;
    } while (len);
    start -= (size_t)nv;
    memcpy(buf + start, v, (size_t)nv);
    buf[--start] = (uint8_t)(field << 3 | 2);
    return start;
}

/* The shipped model cut in half and written to a file; every other prefix
 * of it from memory; random bytes; empty input; a missing file. */
static void test_malformed(void **state)
{
    (void)state;
    char path[1024];
    size_t len;
    uint8_t *buf = read_all(fixture(path, sizeof path, "cnn", ".onnx"), &len);
    neon_ctx *ctx = tu_ctx();
    neon_graph *g = NULL;

    const char *tmp = "test_onnx_truncated.onnx";
    FILE *f = fopen(tmp, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len / 2, f), len / 2);
    fclose(f);
    assert_int_equal(neon_onnx_load(ctx, tmp, &g), NEON_ERR_FORMAT);
    assert_null(g);
    assert_non_null(strstr(neon_errmsg(ctx), tmp));
    remove(tmp);

    for (size_t n = 1; n < len; n += 3) {
        neon_status st = neon_onnx_parse(ctx, buf, n, "prefix.onnx", &g);
        if (st == NEON_OK) print_error("prefix of %zu bytes imported\n", n);
        assert_int_not_equal(st, NEON_OK);
        assert_null(g);
        assert_non_null(strstr(neon_errmsg(ctx), "prefix.onnx"));
    }

    tu_rng r;
    tu_seed(&r, 42);
    uint8_t noise[4096];
    for (int trial = 0; trial < 20; trial++) {
        for (size_t k = 0; k < sizeof noise; k++) noise[k] = (uint8_t)(tu_uniform(&r) * 256);
        neon_status st = neon_onnx_parse(ctx, noise, sizeof noise, "noise.onnx", &g);
        assert_int_equal(st, NEON_ERR_FORMAT);
        assert_non_null(strstr(neon_errmsg(ctx), "noise.onnx"));
    }
    /* deep nesting (graph > node > attribute > graph > ...) is refused
     * before protobuf-c recurses into it */
    static uint8_t deep[1 << 16];
    size_t start = sizeof deep;
    const unsigned cycle[3] = {1, 5, 6}; /* GraphProto.node, NodeProto.attribute, AttributeProto.g */
    for (int lvl = 599; lvl >= 0; lvl--)
        start = prepend_field(deep, start, sizeof deep, lvl == 0 ? 7 : cycle[(lvl - 1) % 3]);
    assert_int_equal(neon_onnx_parse(ctx, deep + start, sizeof deep - start, "deep.onnx", &g),
                     NEON_ERR_FORMAT);
    assert_non_null(strstr(neon_errmsg(ctx), "nesting"));

    assert_int_equal(neon_onnx_parse(ctx, buf, 0, "empty.onnx", &g), NEON_ERR_FORMAT);
    assert_int_equal(neon_onnx_load(ctx, "/nonexistent/model.onnx", &g), NEON_ERR_IO);
    assert_non_null(strstr(neon_errmsg(ctx), "/nonexistent/model.onnx"));
    assert_int_equal(neon_onnx_load(ctx, NULL, &g), NEON_ERR_INVALID);
    assert_int_equal(neon_onnx_load(ctx, tmp, NULL), NEON_ERR_INVALID);
    assert_int_equal(neon_onnx_load(NULL, tmp, &g), NEON_ERR_INVALID);

    /* the whole buffer parses from memory too */
    assert_int_equal(neon_onnx_parse(ctx, buf, len, "mem.onnx", &g), NEON_OK);
    neon_graph_destroy(g);
    free(buf);
    neon_ctx_destroy(ctx);
}

static void test_supported_list(void **state)
{
    (void)state;
    const char *s = neon_onnx_supported_ops();
    const char *must[] = {"Conv, ", "Gemm", "MatMul", "Relu", "MaxPool", "AveragePool",
                          "GlobalAveragePool", "BatchNormalization", "Flatten", "Reshape", "Add",
                          "Concat", "Pad", "Dropout", "Identity", "Constant", "Softmax",
                          "LogSoftmax", "Sigmoid", "Tanh", "LeakyRelu", "Elu", "Softplus", NULL};
    for (const char *const *m = must; *m; m++) assert_non_null(strstr(s, *m));
    size_t n = strlen(s);
    assert_true(n > 2 && s[n - 1] != ' ' && s[n - 1] != ',');
}

/* ---- allocation failures: every allocation of an import may fail --------------- */

typedef tu_counting counting;

static void test_alloc_failures(void **state)
{
    (void)state;
    char path[1024];
    fixture(path, sizeof path, "shapeops", ".onnx");
    int saw_ok = 0;
    for (long k = 1; k < 5000 && !saw_ok; k++) {
        counting c = {0, 0, 0};
        neon_allocator a = tu_counting_allocator(&c);
        neon_ctx *ctx = NULL;
        assert_int_equal(neon_ctx_create(&ctx, &a), NEON_OK);
        c.fail_at = k;
        c.calls = 0;
        neon_graph *g = NULL;
        neon_status st = neon_onnx_load(ctx, path, &g);
        if (st == NEON_OK) {
            saw_ok = 1;
            assert_non_null(g);
            neon_graph_destroy(g);
        } else {
            assert_int_equal(st, NEON_ERR_NOMEM);
            assert_null(g);
        }
        neon_ctx_destroy(ctx);
        assert_int_equal(c.live, 0); /* nothing leaked on any path */
    }
    assert_true(saw_ok);
}

/* ---- models shipped in models/ (written by models/train_fmnist_cnn.py) ------------ */

static void check_shipped(const char *name, const char *logits)
{
    char m[1024], in[1024], ex[1024], rel[256];
    snprintf(rel, sizeof rel, "models/%s.onnx", name);
    tu_src_path(m, sizeof m, rel);
    snprintf(rel, sizeof rel, "models/%s.input.npy", name);
    tu_src_path(in, sizeof in, rel);
    snprintf(rel, sizeof rel, "models/%s.%s.npy", name, logits);
    tu_src_path(ex, sizeof ex, rel);
    FILE *f = fopen(m, "rb");
    if (!f) {
        print_message("%s not present yet; skipped\n", m);
        skip();
    }
    fclose(f);
    neon_ctx *ctx = tu_ctx();
    neon_graph *g = run_and_compare(ctx, m, in, ex, 1e-4, 1e-4);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

static void test_model_fmnist_cnn(void **state) { (void)state; check_shipped("fmnist_cnn", "logits"); }
static void test_model_fmnist_cnn_bn(void **state) { (void)state; check_shipped("fmnist_cnn_bn", "logits"); }
static void test_model_tiny_resnet(void **state) { (void)state; check_shipped("tiny_resnet", "logits"); }
static void test_model_tiny_mlp(void **state) { (void)state; check_shipped("tiny_mlp", "logits"); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cnn),
        cmocka_unit_test(test_cnn_bn_node),
        cmocka_unit_test(test_pools),
        cmocka_unit_test(test_resnet_view_softmax),
        cmocka_unit_test(test_two_outputs),
        cmocka_unit_test(test_gemm),
        cmocka_unit_test(test_matmul_add),
        cmocka_unit_test(test_shape_ops),
        cmocka_unit_test(test_opset10),
        cmocka_unit_test(test_unsupported_ops),
        cmocka_unit_test(test_bad_shapes),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_supported_list),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_model_fmnist_cnn),
        cmocka_unit_test(test_model_fmnist_cnn_bn),
        cmocka_unit_test(test_model_tiny_resnet),
        cmocka_unit_test(test_model_tiny_mlp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
