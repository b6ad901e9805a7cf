/* One row of the benchmark report (bench/run-all.sh runs one process per
 * row, so that the peak memory is the row's own): forward and relprop time
 * of a batch, their ratio, forward GFLOP/s, explanations per second over
 * a larger set (neon_explain_parallel: BLAS threads, or one model per
 * thread), peak resident memory.
 *
 * Model kinds: cnn (models/fmnist_cnn.onnx, epsilon-gamma-box), vgg (a
 * VGG-16-shaped network with random weights, 224x224x3, epsilon-gamma-box),
 * kmeans (models/fmnist_kmeans.neonkm), ocsvm (models/fmnist_ocsvm.libsvm),
 * lstm (models/fmnist_lstm.onnx), matcher (--model, two inputs: BiLRP;
 * relprop = the whole BiLRP call).  Inputs: Fashion-MNIST t10k images when
 * installed, else uniform random pixels.
 *
 * usage: bench_report --kind K [--threads T] [--mode blas|samples]
 *                     [--batch B] [--n N] [--reps R] [--model PATH] [--header] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchutil.h"
#include "neonlrp/bilrp.h"
#include "neonlrp/eval.h"
#include "neonlrp/io.h"
#include "neonlrp/neuralize.h"
#include "neonlrp/onnx.h"

#define T10K "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"

static int fail(neon_ctx *ctx, const char *what)
{
    fprintf(stderr, "bench_report: %s: %s\n", what, ctx ? neon_errmsg(ctx) : "");
    exit(1);
}
#define CHECK(ctx, x)                                                                              \
    do {                                                                                           \
        if ((x) != NEON_OK) fail(ctx, #x);                                                         \
    } while (0)

/* VGG-16 configuration: 13 convs (0 = max-pool) then 3 dense layers. */
static neon_graph *vgg16(neon_ctx *ctx)
{
    static const int cfg[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0,
                              512, 512, 512, 0, 512, 512, 512, 0};
    neon_graph *g;
    int id, layer = 0;
    const int64_t shp[3] = {3, 224, 224};
    CHECK(ctx, neon_graph_create(ctx, &g));
    CHECK(ctx, neon_graph_add_input(g, "image", 3, shp, &id));
    int64_t c = 3;
    neon_conv2d_params cp = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    neon_pool2d_params pp = {2, 2, 2, 2, 0, 0, 0, 0, 0, 0};
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        char name[32];
        if (!cfg[i]) {
            snprintf(name, sizeof name, "pool%d", layer);
            CHECK(ctx, neon_graph_add_maxpool2d(g, name, id, &pp, &id));
            continue;
        }
        const int64_t nw = cfg[i] * c * 9;
        float *W = malloc((size_t)nw * sizeof *W), *b = malloc((size_t)cfg[i] * sizeof *b);
        bu_fill(W, nw, -0.06f, 0.06f, 10 + i);
        bu_fill(b, cfg[i], -0.01f, 0.01f, 50 + i);
        snprintf(name, sizeof name, "conv%d", ++layer);
        CHECK(ctx, neon_graph_add_conv2d(g, name, id, cfg[i], &cp, W, b, &id));
        snprintf(name, sizeof name, "relu%d", layer);
        CHECK(ctx, neon_graph_add_relu(g, name, id, &id));
        free(W);
        free(b);
        c = cfg[i];
    }
    const int64_t flat[1] = {512 * 7 * 7}, fc[3] = {4096, 4096, 1000};
    CHECK(ctx, neon_graph_add_reshape(g, "flatten", id, 1, flat, &id));
    int64_t in = flat[0];
    for (int k = 0; k < 3; k++) {
        float *W = malloc((size_t)(fc[k] * in) * sizeof *W), *b = malloc((size_t)fc[k] * sizeof *b);
        bu_fill(W, fc[k] * in, -0.01f, 0.01f, 100 + k);
        bu_fill(b, fc[k], -0.01f, 0.01f, 200 + k);
        char name[32];
        snprintf(name, sizeof name, "fc%d", k + 1);
        CHECK(ctx, neon_graph_add_dense(g, name, id, fc[k], W, b, &id));
        if (k < 2) {
            snprintf(name, sizeof name, "fc%d_relu", k + 1);
            CHECK(ctx, neon_graph_add_relu(g, name, id, &id));
        }
        free(W);
        free(b);
        in = fc[k];
    }
    return g;
}

/* The model of a kind; *label describes it. */
static neon_graph *load(neon_ctx *ctx, const char *kind, const char *path, char *label, size_t n)
{
    neon_graph *g = NULL;
    const int64_t img[3] = {1, 28, 28};
    if (!strcmp(kind, "vgg")) {
        g = vgg16(ctx);
        snprintf(label, n, "VGG-16 shape (random weights)");
    } else if (!strcmp(kind, "kmeans")) {
        neon_kmeans *km;
        CHECK(ctx, neon_kmeans_load(ctx, path, &km));
        CHECK(ctx, neon_kmeans_graph(ctx, km, 0, -1, 3, img, &g));
        snprintf(label, n, "k-means K=%lld (NEON)", (long long)neon_kmeans_k(km));
        neon_kmeans_destroy(km);
#ifdef NEON_WITH_LIBSVM
    } else if (!strcmp(kind, "ocsvm")) {
        neon_ocsvm *m;
        CHECK(ctx, neon_ocsvm_load(ctx, path, &m));
        CHECK(ctx, neon_ocsvm_graph(ctx, m, 3, img, &g));
        snprintf(label, n, "one-class SVM, %lld SVs (NEON)", (long long)neon_ocsvm_num_sv(m));
        neon_ocsvm_destroy(m);
#endif
    } else if (!strcmp(kind, "cnn") || !strcmp(kind, "lstm") || !strcmp(kind, "matcher")) {
        CHECK(ctx, neon_onnx_load(ctx, path, &g));
        const char *base = strrchr(path, '/');
        snprintf(label, n, "%s", base ? base + 1 : path);
    } else {
        fprintf(stderr, "bench_report: unknown kind '%s'\n", kind);
        exit(2);
    }
    neon_rules *rs;
    CHECK(ctx, neon_rules_create(ctx, &rs));
    if (!strcmp(kind, "cnn") || !strcmp(kind, "vgg")) {
        CHECK(ctx, neon_rules_set_composite(rs, "epsilon-gamma-box"));
        CHECK(ctx, neon_rules_set_bounds(rs, 0, 1));
        CHECK(ctx, neon_graph_set_rules(g, rs));
    } else {
        CHECK(ctx, neon_graph_set_rules(g, NULL)); /* the kind's defaults */
    }
    neon_rules_destroy(rs);
    return g;
}

/* N inputs for input k of g: t10k pixels (in [0, 1]) when the shape has
 * 784 values per sample and the data is installed, else uniform [0, 1). */
static void inputs(neon_ctx *ctx, neon_graph *g, int k, int64_t N, neon_tensor *x)
{
    neon_node_info info;
    CHECK(ctx, neon_graph_node_info(g, neon_graph_input_id(g, k), &info));
    x->ndim = info.ndim + 1;
    x->shape[0] = N;
    int64_t per = 1;
    for (int i = 0; i < info.ndim; i++) per *= (x->shape[i + 1] = info.shape[i]);
    x->data = malloc((size_t)(N * per) * sizeof(float));
    bu_fill(x->data, N * per, 0, 1, 7 + (uint64_t)k);
    neon_tensor t;
    if (per == 784 && access(T10K, R_OK) == 0 && neon_idx_read(ctx, T10K, 1.0f / 255, &t) == NEON_OK) {
        const int64_t have = t.shape[0];
        for (int64_t n = 0; n < N; n++) /* pairs use different images per input */
            memcpy(x->data + n * 784, t.data + ((n * 2 + k) % have) * 784, 784 * sizeof(float));
        neon_tensor_free(ctx, &t);
    }
}

int main(int argc, char **argv)
{
    const char *kind = NULL, *mode = "blas", *model = NULL;
    long threads = 0, batch = 64, N = 0, reps = 3;
    int header = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--header")) header = 1;
        else if (v && !strcmp(a, "--kind")) kind = argv[++i];
        else if (v && !strcmp(a, "--mode")) mode = argv[++i];
        else if (v && !strcmp(a, "--model")) model = argv[++i];
        else if (v && !strcmp(a, "--threads")) threads = atol(argv[++i]);
        else if (v && !strcmp(a, "--batch")) batch = atol(argv[++i]);
        else if (v && !strcmp(a, "--n")) N = atol(argv[++i]);
        else if (v && !strcmp(a, "--reps")) reps = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_report --kind cnn|vgg|kmeans|ocsvm|lstm|matcher "
                            "[--threads T] [--mode blas|samples] [--batch B] [--n N] [--reps R] "
                            "[--model PATH] [--header]\n");
            return 2;
        }
    }
    if (header) {
        printf("| model kind | model | threads | batch | forward ms | relprop ms | ratio | GFLOP/s "
               "| explain/s | peak MB |\n|---|---|---|---|---|---|---|---|---|---|\n");
        if (!kind) return 0;
    }
    if (!kind) return 2;
    if (threads <= 0) threads = sysconf(_SC_NPROCESSORS_ONLN) > 0 ? sysconf(_SC_NPROCESSORS_ONLN) : 1;
    if (threads > 64) threads = 64;
    const int samples = !strcmp(mode, "samples");
    if (!model) {
        model = !strcmp(kind, "cnn")      ? NEON_SOURCE_DIR "/models/fmnist_cnn.onnx"
                : !strcmp(kind, "kmeans") ? NEON_SOURCE_DIR "/models/fmnist_kmeans.neonkm"
                : !strcmp(kind, "ocsvm")  ? NEON_SOURCE_DIR "/models/fmnist_ocsvm.libsvm"
                : !strcmp(kind, "lstm")   ? NEON_SOURCE_DIR "/models/fmnist_lstm.onnx"
                : !strcmp(kind, "matcher") ? NEON_SOURCE_DIR "/models/fmnist_matcher.onnx"
                                          : "";
    }
    if (strcmp(kind, "vgg") && access(model, R_OK) != 0) {
        fprintf(stderr, "bench_report: %s: no model %s; skipped\n", kind, model);
        return 3;
    }
    const int nw = samples ? (int)threads : 1;
    neon_ctx *ctx[64];
    neon_graph *g[64];
    char label[128];
    for (int w = 0; w < nw; w++) {
        if (neon_ctx_create(&ctx[w], NULL)) return 1;
        neon_ctx_set_threads(ctx[w], samples ? 1 : (int)threads);
        g[w] = load(ctx[w], kind, model, label, sizeof label);
    }
    const int n_in = neon_graph_num_inputs(g[0]), pairs = !strcmp(kind, "matcher");
    if (!strcmp(kind, "vgg") && batch > 8) batch = 8;
    if (N <= 0) N = !strcmp(kind, "vgg") ? 2 * batch * nw : 2048;
    if (N < batch) N = batch;
    neon_tensor x[2], xb[2];
    for (int k = 0; k < n_in && k < 2; k++) {
        inputs(ctx[0], g[0], k, N, &x[k]);
        xb[k] = x[k];
        xb[k].shape[0] = batch;
    }
    /* forward and relprop of one batch on graph 0 (best of reps) */
    neon_tensor y;
    CHECK(ctx[0], neon_graph_forward_n(g[0], n_in, xb, &y));
    int64_t C = 1;
    for (int i = 1; i < y.ndim; i++) C *= y.shape[i];
    float *Rt = calloc((size_t)(batch * C), sizeof *Rt);
    for (int64_t n = 0; n < batch; n++) Rt[n * C] = y.data[n * C];
    neon_tensor Rb[2], Rp = {NULL, 3, {batch, 1, 1}};
    for (int k = 0; k < n_in && k < 2; k++) {
        Rb[k] = xb[k];
        Rb[k].data = malloc((size_t)neon_tensor_numel(&xb[k]) * sizeof(float));
    }
    Rp.data = malloc((size_t)batch * sizeof(float));
    const neon_bilrp_opts bo = {NEON_INIT_VALUE, 64, 0};
    double tf = 1e30, tr = 1e30;
    for (long r = 0; r < reps; r++) {
        double t = bu_now();
        CHECK(ctx[0], neon_graph_forward_n(g[0], n_in, xb, NULL));
        t = bu_now() - t;
        tf = t < tf ? t : tf;
        t = bu_now();
        if (pairs) CHECK(ctx[0], neon_graph_bilrp(g[0], xb, NULL, &bo, &Rp, Rb, NULL));
        else CHECK(ctx[0], neon_graph_relprop(g[0], Rt));
        t = bu_now() - t;
        tr = t < tr ? t : tr;
    }
    /* explanations per second over N samples */
    neon_tensor R[2];
    for (int k = 0; k < n_in && k < 2; k++) {
        R[k] = x[k];
        R[k].data = malloc((size_t)neon_tensor_numel(&x[k]) * sizeof(float));
    }
    if (!pairs) { /* warm-up: every model plans its buffers before the clock starts */
        neon_tensor xw[2], rw[2];
        const int64_t nwarm = (int64_t)nw * batch < N ? (int64_t)nw * batch : N;
        for (int k = 0; k < n_in && k < 2; k++) {
            xw[k] = x[k];
            rw[k] = R[k];
            xw[k].shape[0] = rw[k].shape[0] = nwarm;
        }
        CHECK(ctx[0], neon_explain_parallel(g, nw, n_in, xw, NULL, NULL, batch, rw, NULL));
    }
    double te = bu_now();
    if (pairs) {
        for (int64_t s = 0; s < N; s += batch) {
            neon_tensor xs2[2] = {x[0], x[1]}, rm[2] = {R[0], R[1]};
            const int64_t nb = N - s < batch ? N - s : batch;
            for (int k = 0; k < 2; k++) {
                const int64_t per = neon_tensor_numel(&x[k]) / N;
                xs2[k].data += s * per;
                rm[k].data += s * per;
                xs2[k].shape[0] = rm[k].shape[0] = nb;
            }
            Rp.shape[0] = nb;
            CHECK(ctx[0], neon_graph_bilrp(g[0], xs2, NULL, &bo, &Rp, rm, NULL));
        }
    } else {
        CHECK(ctx[0], neon_explain_parallel(g, nw, n_in, x, NULL, NULL, batch, R, NULL));
    }
    te = bu_now() - te;
    char gf[32] = "-"; /* kinds that do not count their FLOPs report 0 */
    if (neon_graph_flops(g[0]) > 0)
        snprintf(gf, sizeof gf, "%.1f", (double)neon_graph_flops(g[0]) * (double)batch / tf / 1e9);
    const double eps = (double)N / te;
    printf("| %s | %s | %ld%s | %ld | %.3f | %.3f | %.2f | %s | %.*f | %.0f |\n", kind, label,
           threads, samples ? " (models)" : " (BLAS)", batch, tf * 1e3, tr * 1e3, tr / tf, gf,
           eps >= 100 ? 0 : 2, eps, bu_peak_rss_mb());
    for (int k = 0; k < n_in && k < 2; k++) {
        free(x[k].data);
        free(R[k].data);
        free(Rb[k].data);
    }
    free(Rp.data);
    free(Rt);
    for (int w = 0; w < nw; w++) {
        neon_graph_destroy(g[w]);
        neon_ctx_destroy(ctx[w]);
    }
    return 0;
}
