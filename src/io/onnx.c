/* ONNX import: file or buffer -> protobuf-c ModelProto -> neon_graph.
 *
 * Steps: unpack (through the ctx allocator), check the opset, declare one
 * value per tensor name, mark the nodes the first graph output needs,
 * add the graph inputs, translate the needed nodes in file order through
 * the op table, and mark the output.  Per-op translators live in
 * onnx_ops.c / onnx_shape_ops.c, constant folding in onnx_const.c. */
#include "onnx_internal.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#define ONNX_MIN_OPSET 7   /* 7-10 import with a warning (attribute-form pads, axes) */
#define ONNX_MAX_OPSET 17
#define ONNX_MAX_NESTING 64

/* ---- op table -------------------------------------------------------------- */

typedef struct onnx_op_entry {
    const char *op;
    onnx_op_fn fn;
} onnx_op_entry;

#define ONNX_OP_ENTRY(op, fn) {op, fn},
static const onnx_op_entry op_table[] = {ONNX_OP_LIST(ONNX_OP_ENTRY, )};
#undef ONNX_OP_ENTRY

#define ONNX_OP_NAME(op, fn) op
const char *neon_onnx_supported_ops(void) { return ONNX_OP_LIST(ONNX_OP_NAME, ", "); }
#undef ONNX_OP_NAME

static onnx_op_fn find_op(const char *op)
{
    for (size_t k = 0; k < sizeof op_table / sizeof op_table[0]; k++)
        if (strcmp(op_table[k].op, op) == 0) return op_table[k].fn;
    return NULL;
}

/* ---- scratch arena ----------------------------------------------------------- */

typedef union onnx_blk {
    union onnx_blk *next;
    max_align_t align;
} onnx_blk;

void *onnx_tmp(onnx_imp *im, size_t n, size_t size)
{
    if (size && n > (SIZE_MAX - sizeof(onnx_blk)) / size) {
        neon_fail(im->ctx, NEON_ERR_NOMEM, "scratch of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    onnx_blk *b = neon_alloc(im->ctx, sizeof(onnx_blk) + n * size);
    if (!b) return NULL;
    memset(b + 1, 0, n * size);
    b->next = im->arena;
    im->arena = b;
    return b + 1;
}

static void tmp_free_all(onnx_imp *im)
{
    for (onnx_blk *b = im->arena, *next; b; b = next) {
        next = b->next;
        neon_free(im->ctx, b);
    }
    im->arena = NULL;
}

/* ---- values and liveness ------------------------------------------------------ */

/* Depth-first search over the needed nodes (edges: node -> producers of
 * its inputs); a node met again while still on the path closes a cycle. */
static neon_status check_cycles(onnx_imp *im, const char *needed)
{
    const Onnx__GraphProto *gp = im->gp;
    const size_t n = gp->n_node;
    char *color = onnx_tmp(im, n + 1, 1);          /* 0 new, 1 on the path, 2 done */
    size_t *node = onnx_tmp(im, n + 1, sizeof *node), *next = onnx_tmp(im, n + 1, sizeof *next);
    if (!color || !node || !next) return NEON_ERR_NOMEM;
    for (size_t s = 0; s < n; s++) {
        if (!needed[s] || color[s]) continue;
        size_t sp = 0;
        node[sp] = s;
        next[sp++] = 0;
        color[s] = 1;
        while (sp > 0) {
            const size_t ni = node[sp - 1];
            const Onnx__NodeProto *nd = gp->node[ni];
            if (next[sp - 1] == nd->n_input) {
                color[ni] = 2;
                sp--;
                continue;
            }
            const char *in = nd->input[next[sp - 1]++];
            const onnx_value *w = in[0] ? onnx_lookup(im, in) : NULL;
            if (!w || w->producer < 0) continue;
            const size_t p = (size_t)w->producer;
            if (color[p] == 1) {
                im->node = nd;
                im->node_index = ni;
                return onnx_fail(im, NEON_ERR_FORMAT,
                                 "the graph has a cycle: input '%s' depends on this node's own "
                                 "output", in);
            }
            if (color[p] == 0) {
                color[p] = 1;
                node[sp] = p;
                next[sp++] = 0;
            }
        }
    }
    return NEON_OK;
}

static neon_status setup_values(onnx_imp *im, char **needed_out)
{
    const Onnx__GraphProto *gp = im->gp;
    size_t count = gp->n_initializer + gp->n_input;
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *n = gp->node[i];
        im->node = n;
        im->node_index = i;
        if (!n->op_type || n->n_output == 0 || !n->output[0][0])
            return onnx_fail(im, NEON_ERR_FORMAT, "node has no op type or no output");
        count += n->n_output;
    }
    im->node = NULL;
    size_t cap = 16;
    while (cap < 2 * count) cap *= 2;
    im->vals = onnx_tmp(im, count, sizeof *im->vals);
    im->hash = onnx_tmp(im, cap, sizeof *im->hash);
    char *needed = onnx_tmp(im, gp->n_node + 1, 1);
    int *stack = onnx_tmp(im, gp->n_node + 1, sizeof *stack);
    if (!im->vals || !im->hash || !needed || !stack) return NEON_ERR_NOMEM;
    im->hash_mask = cap - 1;

    onnx_value *v;
    for (size_t k = 0; k < gp->n_initializer; k++) {
        NEON_TRY(onnx_declare(im, gp->initializer[k]->name, -1, &v));
        if (!v) return neon_fail(im->ctx, NEON_ERR_FORMAT, "initializer %zu has no name", k);
        v->kind = OV_CONST;
        v->lazy = gp->initializer[k];
    }
    for (size_t k = 0; k < gp->n_input; k++) {
        const char *name = gp->input[k]->name;
        if (onnx_lookup(im, name)) continue; /* an initializer listed as input */
        NEON_TRY(onnx_declare(im, name, -1, &v));
    }
    for (size_t i = 0; i < gp->n_node; i++) {
        im->node = gp->node[i];
        im->node_index = i;
        for (size_t k = 0; k < gp->node[i]->n_output; k++)
            NEON_TRY(onnx_declare(im, gp->node[i]->output[k], (int)i, &v));
    }
    im->node = NULL;

    /* liveness: the nodes the explained output depends on */
    if (gp->n_output == 0 || !gp->output[0]->name)
        return neon_fail(im->ctx, NEON_ERR_FORMAT, "the graph has no outputs");
    im->out_name = gp->output[0]->name;
    onnx_value *out = onnx_lookup(im, im->out_name);
    if (!out)
        return neon_fail(im->ctx, NEON_ERR_FORMAT, "graph output '%s' is not produced by any node",
                         im->out_name);
    out->uses++;
    int sp = 0;
    if (out->producer >= 0) {
        needed[out->producer] = 1;
        stack[sp++] = out->producer;
    }
    while (sp > 0) {
        int ni = stack[--sp];
        const Onnx__NodeProto *n = gp->node[ni];
        for (size_t k = 0; k < n->n_input; k++) {
            if (!n->input[k][0]) continue;
            onnx_value *w = onnx_lookup(im, n->input[k]);
            if (!w) {
                im->node = n;
                im->node_index = (size_t)ni;
                return onnx_fail(im, NEON_ERR_FORMAT, "input '%s' is not defined anywhere",
                                 n->input[k]);
            }
            w->uses++;
            if (w->producer >= 0 && !needed[w->producer]) {
                needed[w->producer] = 1;
                stack[sp++] = w->producer;
            }
        }
    }
    *needed_out = needed;
    return check_cycles(im, needed);
}

/* ---- graph inputs ------------------------------------------------------------ */

static neon_status add_inputs(onnx_imp *im)
{
    const Onnx__GraphProto *gp = im->gp;
    int n_added = 0;
    for (size_t k = 0; k < gp->n_input; k++) {
        const Onnx__ValueInfoProto *vi = gp->input[k];
        onnx_value *v = onnx_lookup(im, vi->name);
        if (!v || v->kind == OV_CONST) continue;
        const Onnx__TypeProto *tp = vi->type;
        if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
            return neon_fail(im->ctx, NEON_ERR_UNSUPPORTED, "input '%s' is not a tensor", vi->name);
        const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
        if (!tt->has_elem_type || tt->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
            return neon_fail(im->ctx, NEON_ERR_UNSUPPORTED,
                             "input '%s' has element type %d; only FLOAT inputs are supported",
                             vi->name, tt->has_elem_type ? (int)tt->elem_type : 0);
        const Onnx__TensorShapeProto *sh = tt->shape;
        if (!sh || sh->n_dim < 2 || sh->n_dim > NEON_MAX_DIMS)
            return neon_fail(im->ctx, NEON_ERR_UNSUPPORTED,
                             "input '%s' has rank %zu; expected a batch axis plus 1 to %d known "
                             "per-sample axes", vi->name, sh ? sh->n_dim : 0, ONNX_MAX_SDIMS);
        int64_t shape[ONNX_MAX_SDIMS];
        /* a time-major sequence (T, N, F): fixed axis 0, symbolic axis 1 (onnx_seq.c) */
        const int tmaj = sh->n_dim >= 3 &&
            sh->dim[0]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
            sh->dim[0]->dim_value > 0 &&
            sh->dim[1]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        for (size_t d = 1; d < sh->n_dim; d++) {
            const Onnx__TensorShapeProto__Dimension *dim = sh->dim[tmaj && d == 1 ? 0 : d];
            if (dim->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ||
                dim->dim_value <= 0)
                return neon_fail(im->ctx, NEON_ERR_UNSUPPORTED,
                                 "input '%s': dimension %zu is %s%s%s; every axis but the first "
                                 "(batch) must have a fixed size", vi->name, d,
                                 dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                                     ? "symbolic '" : "unknown",
                                 dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                                     ? dim->dim_param : "",
                                 dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                                     ? "'" : "");
            shape[d - 1] = dim->dim_value;
        }
        const Onnx__TensorShapeProto__Dimension *b0 = sh->dim[0];
        if (n_added == 0 && !tmaj && b0->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
            b0->dim_value > 0)
            im->decl_batch = b0->dim_value;
        int id;
        neon_status st = neon_graph_add_input(im->g, vi->name, (int)sh->n_dim - 1, shape, &id);
        if (st != NEON_OK) return st;
        NEON_TRY(onnx_set_act(im, v, id));
        if (tmaj) {
            v->batch_axis = 1;
            neon_log(im->ctx, NEON_LOG_INFO, "%s: input '%s' is time-major (T, N, ...); neonlrp "
                     "takes it batch-first, as (N, T, ...)", im->file, vi->name);
        }
        n_added++;
    }
    if (n_added == 0)
        return neon_fail(im->ctx, NEON_ERR_UNSUPPORTED, "the graph has no inputs (all constant)");
    return NEON_OK;
}

/* ---- translation ---------------------------------------------------------------- */

static neon_status translate(onnx_imp *im, const char *needed)
{
    const Onnx__GraphProto *gp = im->gp;
    char lab[256];
    for (size_t i = 0; i < gp->n_node; i++) {
        if (!needed[i]) continue;
        const Onnx__NodeProto *n = gp->node[i];
        im->node = n;
        im->node_index = i;
        onnx_op_fn fn = find_op(n->op_type);
        if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
            return neon_fail(im->ctx, NEON_ERR_UNSUPPORTED,
                             "node %s (op %s) from domain '%s' is not supported",
                             onnx_label(im, lab, sizeof lab), n->op_type, n->domain);
        if (!fn)
            return neon_fail(im->ctx, NEON_ERR_UNSUPPORTED,
                             "node %s (op %s) is not supported; supported: %s",
                             onnx_label(im, lab, sizeof lab), n->op_type,
                             neon_onnx_supported_ops());
        for (size_t k = 1; k < n->n_output && fn != onnx_op_lstm; k++) { /* LSTM: Y_h too */
            onnx_value *o = onnx_lookup(im, n->output[k]);
            if (o && o->uses > 0)
                return onnx_fail(im, NEON_ERR_UNSUPPORTED,
                                 "output %zu ('%s') is used; only the first output is supported",
                                 k + 1, n->output[k]);
        }
        NEON_TRY(fn(im, n));
        onnx_value *o = onnx_out(im, n);
        if (o->kind == OV_NONE)
            return onnx_fail(im, NEON_ERR_INVALID, "internal: translator produced no value");
        for (size_t k = 0; k < n->n_input; k++) {
            onnx_value *w;
            NEON_TRY(onnx_in_opt(im, n, k, &w));
            if (w) w->uses--;
        }
    }
    im->node = NULL;
    onnx_value *out = onnx_resolve(onnx_lookup(im, im->out_name));
    if (out->kind == OV_CONST)
        return neon_fail(im->ctx, NEON_ERR_UNSUPPORTED,
                         "graph output '%s' is a constant; it does not depend on the input",
                         im->out_name);
    int id;
    NEON_TRY(onnx_act(im, out, &id));
    return neon_graph_set_output(im->g, id);
}

static neon_status check_opset(onnx_imp *im, const Onnx__ModelProto *m)
{
    int found = 0;
    for (size_t k = 0; k < m->n_opset_import; k++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[k];
        if (o->domain && o->domain[0] && strcmp(o->domain, "ai.onnx") != 0) continue;
        im->opset = o->has_version ? o->version : 1;
        found = 1;
    }
    if (!found) return neon_fail(im->ctx, NEON_ERR_FORMAT, "no opset for the default ONNX domain");
    if (im->opset < ONNX_MIN_OPSET || im->opset > ONNX_MAX_OPSET)
        return neon_fail(im->ctx, NEON_ERR_UNSUPPORTED,
                         "opset %lld is not supported (11 to 17 are; re-export with "
                         "opset_version between 11 and 17)", (long long)im->opset);
    if (im->opset < 11)
        neon_log(im->ctx, NEON_LOG_WARN, "%s: opset %lld is older than 11; importing anyway",
                 im->file, (long long)im->opset);
    return NEON_OK;
}

static neon_status import_model(neon_ctx *ctx, const Onnx__ModelProto *m, const char *file,
                                neon_graph **out)
{
    onnx_imp im;
    memset(&im, 0, sizeof im);
    im.ctx = ctx;
    im.file = file;
    im.decl_batch = -1;
    im.gp = m->graph;
    char *needed = NULL;
    neon_status st = check_opset(&im, m);
    if (st == NEON_OK && !m->graph) st = neon_fail(ctx, NEON_ERR_FORMAT, "the model has no graph");
    if (st == NEON_OK) st = neon_graph_create(ctx, &im.g);
    if (st == NEON_OK) st = setup_values(&im, &needed);
    if (st == NEON_OK) st = add_inputs(&im);
    if (st == NEON_OK) st = translate(&im, needed);
    if (st == NEON_OK && m->graph->n_output > 1)
        neon_log(ctx, NEON_LOG_INFO, "%s: the graph has %zu outputs; explaining the first, '%s'",
                 file, m->graph->n_output, im.out_name);
    tmp_free_all(&im);
    if (st != NEON_OK) {
        neon_errmsg_prefix(ctx, "%s", file);
        neon_graph_destroy(im.g);
        return st;
    }
    *out = im.g;
    return NEON_OK;
}

/* ---- protobuf ---------------------------------------------------------------------- */

typedef struct pb_glue {
    neon_ctx *ctx;
    int oom;
} pb_glue;

static void *pb_alloc(void *user, size_t size)
{
    pb_glue *g = user;
    void *p = g->ctx->alloc.alloc(size ? size : 1, g->ctx->alloc.user);
    if (!p) g->oom = 1;
    return p;
}

static void pb_free(void *user, void *p)
{
    pb_glue *g = user;
    if (p) g->ctx->alloc.free(p, g->ctx->alloc.user);
}

static int read_varint(const uint8_t *p, size_t len, size_t *i, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && *i < len; shift += 7) {
        uint8_t b = p[(*i)++];
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return 1;
    }
    return 0;
}

/* Rejects sub-message nesting deeper than ONNX_MAX_NESTING before unpacking
 * (protobuf-c recurses without a limit).  Malformed wire data returns 1 and
 * is left to the unpacker to report. */
static int nesting_ok(const uint8_t *p, size_t len, const ProtobufCMessageDescriptor *d, int depth)
{
    if (depth > ONNX_MAX_NESTING) return 0;
    size_t i = 0;
    while (i < len) {
        uint64_t key, l;
        if (!read_varint(p, len, &i, &key)) return 1;
        switch (key & 7) {
        case 0: if (!read_varint(p, len, &i, &l)) return 1; break;
        case 1: i += 8; break;
        case 5: i += 4; break;
        case 2: {
            if (!read_varint(p, len, &i, &l) || l > len - i) return 1;
            const ProtobufCFieldDescriptor *f =
                key >> 3 <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3))
                                       : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                !nesting_ok(p + i, (size_t)l, f->descriptor, depth + 1))
                return 0;
            i += (size_t)l;
            break;
        }
        default: return 1;
        }
    }
    return 1;
}

neon_status neon_onnx_parse(neon_ctx *ctx, const void *buf, size_t len, const char *name,
                            neon_graph **out)
{
    if (!ctx) return NEON_ERR_INVALID;
    if (!out) return neon_fail(ctx, NEON_ERR_INVALID, "neon_onnx_parse: out is NULL");
    *out = NULL;
    if (!name) name = "<memory>";
    if (!buf && len) return neon_fail(ctx, NEON_ERR_INVALID, "neon_onnx_parse: buf is NULL");
    if (len == 0) return neon_fail(ctx, NEON_ERR_FORMAT, "%s: empty file", name);
    if (!nesting_ok(buf, len, &onnx__model_proto__descriptor, 0))
        return neon_fail(ctx, NEON_ERR_FORMAT, "%s: not a valid ONNX model (nesting deeper than %d)",
                         name, ONNX_MAX_NESTING);
    pb_glue glue = {ctx, 0};
    ProtobufCAllocator pa = {pb_alloc, pb_free, &glue};
    Onnx__ModelProto *m = onnx__model_proto__unpack(&pa, len, buf);
    if (!m) {
        if (glue.oom) return neon_fail(ctx, NEON_ERR_NOMEM, "%s: out of memory while parsing", name);
        return neon_fail(ctx, NEON_ERR_FORMAT,
                         "%s: not a valid ONNX model (truncated or corrupt protobuf)", name);
    }
    neon_status st = import_model(ctx, m, name, out);
    onnx__model_proto__free_unpacked(m, &pa);
    return st;
}

neon_status neon_onnx_load(neon_ctx *ctx, const char *path, neon_graph **out)
{
    if (!ctx) return NEON_ERR_INVALID;
    if (!out) return neon_fail(ctx, NEON_ERR_INVALID, "neon_onnx_load: out is NULL");
    *out = NULL;
    if (!path) return neon_fail(ctx, NEON_ERR_INVALID, "neon_onnx_load: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return neon_fail(ctx, NEON_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = neon_alloc(ctx, cap);
    neon_status st = buf ? NEON_OK : NEON_ERR_NOMEM;
    while (st == NEON_OK) {
        if (len == cap) {
            uint8_t *nb = cap <= SIZE_MAX / 2 ? neon_realloc(ctx, buf, cap * 2) : NULL;
            if (!nb) {
                st = neon_fail(ctx, NEON_ERR_NOMEM, "%s: out of memory reading the file", path);
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) st = neon_fail(ctx, NEON_ERR_IO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (st == NEON_OK) st = neon_onnx_parse(ctx, buf, len, path, out);
    neon_free(ctx, buf);
    return st;
}
