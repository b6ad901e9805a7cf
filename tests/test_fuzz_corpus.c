/* The fuzz targets' own code (fuzz/fuzz_*.c, compiled here with their
 * entry points renamed) over every input in tests/data/fuzz/<target>/ --
 * each a crash, hang or leak that fuzzing once found, kept as a regression
 * test (fuzz/README.md lists them) -- and over the committed seeds in
 * fuzz/seeds/<target>/.  A harness aborts on anything wrong (a failure
 * without a message, relevance that is not finite, ...); the sanitizer
 * build (tests/run.sh) catches memory errors and leaks on these inputs. */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fuzz_onnx_one(const uint8_t *data, size_t size);
int fuzz_npy_one(const uint8_t *data, size_t size);
int fuzz_idx_one(const uint8_t *data, size_t size);
int fuzz_kmeans_one(const uint8_t *data, size_t size);
int fuzz_args_one(const uint8_t *data, size_t size);
int fuzz_args_init(int *argc, char ***argv);
#ifdef NEON_WITH_LIBSVM
int fuzz_libsvm_one(const uint8_t *data, size_t size);
#endif

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    for (size_t got; (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            buf = realloc(buf, cap *= 2);
            assert_non_null(buf);
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Runs fn on every regular file of <source>/<rel>; returns how many. */
static int run_dir(fuzz_fn fn, const char *rel)
{
    char dir[1024];
    tu_src_path(dir, sizeof dir, rel);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        uint8_t *buf = read_all(path, &len);
        print_message("%s/%s (%zu bytes)\n", rel, e->d_name, len);
        fn(buf, len);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

static void run_target(fuzz_fn fn, const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/fuzz/%s", name);
    int n = run_dir(fn, rel);
    snprintf(rel, sizeof rel, "fuzz/seeds/%s", name);
    n += run_dir(fn, rel);
    print_message("%s: %d inputs\n", name, n);
}

static void test_onnx(void **state) { (void)state; run_target(fuzz_onnx_one, "onnx"); }
static void test_npy(void **state) { (void)state; run_target(fuzz_npy_one, "npy"); }
static void test_idx(void **state) { (void)state; run_target(fuzz_idx_one, "idx"); }
static void test_kmeans(void **state) { (void)state; run_target(fuzz_kmeans_one, "kmeans"); }
static void test_args(void **state)
{
    (void)state;
    fuzz_args_init(NULL, NULL);
    run_target(fuzz_args_one, "args");
}
#ifdef NEON_WITH_LIBSVM
static void test_libsvm(void **state) { (void)state; run_target(fuzz_libsvm_one, "libsvm"); }
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_onnx),   cmocka_unit_test(test_npy),  cmocka_unit_test(test_idx),
        cmocka_unit_test(test_kmeans), cmocka_unit_test(test_args),
#ifdef NEON_WITH_LIBSVM
        cmocka_unit_test(test_libsvm),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
