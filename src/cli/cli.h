/* The `neon` command-line tool: shared declarations. */
#ifndef NEON_CLI_H
#define NEON_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "neonlrp/graph.h"
#include "neonlrp/io.h"
#include "neonlrp/neon.h"
#include "neonlrp/rules.h"

/* Exit codes. */
enum { CLI_OK = 0, CLI_ERR = 1, CLI_USAGE = 2 };

#define CLI_MAX_OCC 32

typedef struct cli_opt {
    const char *name;   /* long name without "--" */
    const char *arg;    /* NULL: flag; else the metavariable shown in help */
    const char *help;
    int repeat;         /* may be given several times */
} cli_opt;

typedef struct cli_args {
    const cli_opt *opts;
    int n_opts;
    int count[64];
    const char *val[64][CLI_MAX_OCC];
    const char *pos[8];
    int n_pos;
} cli_args;

/* Parses argv[0..argc); writes a one-line message to err on failure and
 * returns -1.  Accepts "--name value" and "--name=value". */
int cli_parse(int argc, char **argv, const cli_opt *opts, int n_opts, cli_args *a, char *err,
              size_t errn);
const char *cli_get(const cli_args *a, const char *name); /* last value or NULL */
int cli_has(const cli_args *a, const char *name);
int cli_count(const cli_args *a, const char *name);
const char *cli_get_n(const cli_args *a, const char *name, int k);
void cli_print_opts(FILE *f, const cli_opt *opts, int n_opts);
/* Strict number parsing: whole string, finite. */
int cli_float(const char *s, float *out);
int cli_int(const char *s, long *out);

/* Prints "neon: <msg>" to stderr and returns code. */
int cli_error(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Rule options shared by explain / info / eval. */
extern const cli_opt cli_rule_opts[];
extern const int cli_n_rule_opts;
/* Builds a rule set from the parsed options (composite, rule, rule-for,
 * epsilon, gamma, low/high, maxpool).  Returns CLI_OK or an exit code. */
int cli_make_rules(neon_ctx *ctx, const cli_args *a, neon_rules **out);

/* A loaded model: the graph plus what the CLI needs to know of its kind. */
typedef enum { MODEL_ONNX = 0, MODEL_KMEANS, MODEL_OCSVM } cli_model_kind;
typedef struct cli_model {
    cli_model_kind kind;
    neon_graph *g;
    char desc[256];          /* one line: what was loaded */
    const char *header;      /* per-sample line header (NULL: the default one) */
    /* (optional) prints the line of sample n; default: index target score sum */
    void (*line)(const struct cli_model *m, int64_t n, const neon_explain_result *r, FILE *f);
    void *priv;              /* kind's own data */
    void (*free_priv)(void *priv);
    /* (optional) runs after the per-sample output and heatmaps were written
     * (k-means: per-cluster mean-relevance pictures); returns an exit code */
    int (*after)(const struct cli_model *m, neon_ctx *ctx, const cli_args *a, const neon_tensor *X,
                 const neon_tensor *R, const neon_explain_result *res);
} cli_model;
/* Loads MODEL; X (the data to explain, or NULL) lets a kind adapt to it
 * (e.g. the k-means stiffness for bare centroids). */
int cli_load_model(neon_ctx *ctx, const char *path, const cli_args *a, const neon_tensor *X,
                   cli_model *m);
void cli_free_model(cli_model *m);
/* Kind loaders (src/cli/kind_*.c); same contract as cli_load_model. */
int cli_load_kmeans(neon_ctx *ctx, const char *path, const cli_args *a, const neon_tensor *X,
                    cli_model *m);
int cli_load_ocsvm(neon_ctx *ctx, const char *path, const cli_args *a, const neon_tensor *X,
                   cli_model *m);

/* Refuses an output path that names an input file (same inode). */
int cli_check_distinct(const char *out, const char *const *ins, int n_ins);
/* mkdir -p for a heatmap directory. */
int cli_mkdirs(neon_ctx *ctx, const char *dir);
/* Heatmaps of relevance R (N, ...) for image-like inputs X: dir/<prefix>_<i>.png. */
int cli_write_heatmaps(neon_ctx *ctx, const char *dir, const char *prefix, const neon_tensor *X,
                       const neon_tensor *R, float img_low, float img_high, int quiet);

/* `neon explain` of a two-input model with --input2 (src/cli/explain_pairs.c):
 * BiLRP pair relevance, printed scores, R.npy, marginal heatmaps and links
 * pictures.  X is the first input (already read); returns an exit code. */
int cli_explain_pairs(neon_ctx *ctx, const cli_args *a, neon_graph *g, neon_tensor *X, long target,
                      long batch, neon_init init);

int cmd_explain(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_fit(int argc, char **argv);
int cmd_fit_kmeans(int argc, char **argv); /* src/cli/fit_kmeans.c */
int cmd_fit_ocsvm(int argc, char **argv);  /* src/cli/fit_ocsvm.c */
int cmd_eval(int argc, char **argv);       /* src/cli/eval.c */
/* `neon eval` of a k-means model m0 (each input's assigned cluster): groups
 * the images by clean cluster, evaluates each group with a graph fixed to
 * it, merges (src/cli/eval_groups.c).  Returns an exit code. */
struct neon_eval_method;
struct neon_eval_opts;
struct neon_eval_result;
int cli_eval_kmeans_groups(neon_ctx *ctx0, const char *path, const cli_args *a, cli_model *m0,
                           const neon_tensor *X, int n_workers,
                           const struct neon_eval_method *methods, int n_methods,
                           const struct neon_eval_opts *o, int *n_groups,
                           struct neon_eval_result **out);

#endif
