/* Forward vs relprop for CNNs: the shipped Fashion-MNIST CNN (ONNX) and a
 * VGG-16-shaped network (13 conv + 3 dense, 224x224x3, random weights built
 * through the C API), at batch 1 and 32, with the epsilon-gamma-box
 * composite.  Prints a Markdown table.
 *
 * usage: bench_cnn [--quick] [--vgg-batch B] [--reps R] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "blas.h"
#include "neonlrp/onnx.h"
#include "neonlrp/rules.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if ((x) != NEON_OK) {                                                                      \
            fprintf(stderr, "bench_cnn: %s: %s\n", #x, neon_errmsg(ctx));                          \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static neon_graph *vgg16(neon_ctx *ctx)
{
    static const int cfg[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0,
                              512, 512, 512, 0, 512, 512, 512, 0};
    neon_graph *g;
    CHECK(neon_graph_create(ctx, &g));
    int id;
    const int64_t shp[3] = {3, 224, 224};
    CHECK(neon_graph_add_input(g, "image", 3, shp, &id));
    int64_t c = 3;
    int layer = 0;
    neon_conv2d_params cp = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    neon_pool2d_params pp = {2, 2, 2, 2, 0, 0, 0, 0, 0, 0};
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        char name[32];
        if (!cfg[i]) {
            snprintf(name, sizeof name, "pool%d", layer);
            CHECK(neon_graph_add_maxpool2d(g, name, id, &pp, &id));
            continue;
        }
        int64_t nw = cfg[i] * c * 9;
        float *W = malloc((size_t)nw * sizeof *W), *b = malloc((size_t)cfg[i] * sizeof *b);
        bu_fill(W, nw, -0.06f, 0.06f, 10 + i);
        bu_fill(b, cfg[i], -0.01f, 0.01f, 50 + i);
        snprintf(name, sizeof name, "conv%d", ++layer);
        CHECK(neon_graph_add_conv2d(g, name, id, cfg[i], &cp, W, b, &id));
        snprintf(name, sizeof name, "relu%d", layer);
        CHECK(neon_graph_add_relu(g, name, id, &id));
        free(W);
        free(b);
        c = cfg[i];
    }
    const int64_t flat[1] = {512 * 7 * 7};
    CHECK(neon_graph_add_reshape(g, "flatten", id, 1, flat, &id));
    const int64_t fc[3] = {4096, 4096, 1000};
    int64_t in = flat[0];
    for (int k = 0; k < 3; k++) {
        float *W = malloc((size_t)(fc[k] * in) * sizeof *W), *b = malloc((size_t)fc[k] * sizeof *b);
        bu_fill(W, fc[k] * in, -0.01f, 0.01f, 100 + k);
        bu_fill(b, fc[k], -0.01f, 0.01f, 200 + k);
        char name[32];
        snprintf(name, sizeof name, "fc%d", k + 1);
        CHECK(neon_graph_add_dense(g, name, id, fc[k], W, b, &id));
        if (k < 2) {
            snprintf(name, sizeof name, "fc%d_relu", k + 1);
            CHECK(neon_graph_add_relu(g, name, id, &id));
        }
        free(W);
        free(b);
        in = fc[k];
    }
    return g;
}

static void run(neon_ctx *ctx, const char *label, neon_graph *g, int64_t N, int reps)
{
    neon_node_info info;
    CHECK(neon_graph_node_info(g, neon_graph_input_id(g, 0), &info));
    neon_tensor x = {NULL, info.ndim + 1, {N}};
    int64_t per = 1;
    for (int i = 0; i < info.ndim; i++) {
        x.shape[i + 1] = info.shape[i];
        per *= info.shape[i];
    }
    x.data = malloc((size_t)(N * per) * sizeof(float));
    bu_fill(x.data, N * per, 0, 1, 7);
    neon_rules *rs;
    CHECK(neon_rules_create(ctx, &rs));
    CHECK(neon_rules_set_composite(rs, "epsilon-gamma-box"));
    CHECK(neon_rules_set_bounds(rs, 0, 1));
    CHECK(neon_graph_set_rules(g, rs));
    neon_rules_destroy(rs);
    neon_tensor y;
    CHECK(neon_graph_forward(g, &x, &y)); /* warm-up + buffers */
    int64_t C = 1;
    for (int i = 1; i < y.ndim; i++) C *= y.shape[i];
    float *Rt = calloc((size_t)(N * C), sizeof *Rt);
    for (int64_t n = 0; n < N; n++) Rt[n * C] = y.data[n * C];
    CHECK(neon_graph_relprop(g, Rt));
    double tf = 1e30, tr = 1e30;
    for (int r = 0; r < reps; r++) {
        double t = bu_now();
        CHECK(neon_graph_forward(g, &x, NULL));
        t = bu_now() - t;
        tf = t < tf ? t : tf;
        t = bu_now();
        CHECK(neon_graph_relprop(g, Rt));
        t = bu_now() - t;
        tr = t < tr ? t : tr;
    }
    const double gfl = (double)neon_graph_flops(g) * N / 1e9;
    printf("| %-22s | %5lld | %10.2f | %10.2f | %5.2f | %8.1f | %9.1f | %8.0f |\n", label,
           (long long)N, tf * 1e3, tr * 1e3, tr / tf, gfl / tf, N / (tf + tr), bu_peak_rss_mb());
    fflush(stdout);
    free(Rt);
    free(x.data);
}

int main(int argc, char **argv)
{
    int quick = 0, reps = 3;
    long vggb = 32;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--vgg-batch") && i + 1 < argc) vggb = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_cnn [--quick] [--reps R] [--vgg-batch B]\n");
            return 2;
        }
    }
    neon_ctx *ctx;
    if (neon_ctx_create(&ctx, NULL)) return 1;
    printf("OpenBLAS threads: %d, sgemm 2048^3: %.1f GFLOP/s\n\n", neon_blas_get_threads(),
           bu_sgemm_gflops(2048));
    printf("| %-22s | %5s | %10s | %10s | %5s | %8s | %9s | %8s |\n", "network (eps-gamma-box)",
           "batch", "forward ms", "relprop ms", "ratio", "GFLOP/s", "explain/s", "peak MB");
    printf("|%s|%s|%s|%s|%s|%s|%s|%s|\n", "------------------------", "-------", "------------",
           "------------", "-------", "----------", "-----------", "----------");
    neon_graph *cnn;
    CHECK(neon_onnx_load(ctx, NEON_SOURCE_DIR "/models/fmnist_cnn.onnx", &cnn));
    run(ctx, "fmnist_cnn (3.1 MFLOP)", cnn, 1, reps * 10);
    run(ctx, "fmnist_cnn (3.1 MFLOP)", cnn, 32, reps * 5);
    neon_graph_destroy(cnn);
    neon_graph *vgg = vgg16(ctx);
    char label[64];
    snprintf(label, sizeof label, "vgg16 (%.1f GFLOP)", (double)neon_graph_flops(vgg) / 1e9);
    run(ctx, label, vgg, 1, reps);
    if (!quick) run(ctx, label, vgg, vggb, 1);
    neon_graph_destroy(vgg);
    neon_ctx_destroy(ctx);
    return 0;
}
