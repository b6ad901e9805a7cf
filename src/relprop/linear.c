/* The generic rules for layers linear in their input (RULES.md 1), built
 * once on top of each kind's apply (z = rho(W) x) and apply_t
 * (c = rho(W)^T s): forward of a modified layer, divide, transposed op,
 * multiply.  The (in, out) contribution tensor is never materialised.
 *
 * Only W and (W)+ are ever stored: (W)- x = W x - (W)+ x.  When the layer
 * input is non-negative (after a ReLU) the a- terms vanish and are skipped.
 *
 * Shapes: a = input activations (N, in); R = upper relevance (N, out);
 * zf = cached forward output W a + b (N, out); bias per output channel,
 * broadcast over out = (out_ch, out_sp). */
#include "graph/graph_impl.h"

#include <string.h>

/* stab(z) = z + e sgn(z), sgn(0) = +1 */
static inline float stab(float z, float e) { return z >= 0.0f ? z + e : z - e; }

static float rule_stab(const neon_rule *r)
{
    return r->stabilizer > 0 ? r->stabilizer : NEON_DEFAULT_STABILIZER;
}

typedef struct lin_ws {
    float *layer;          /* the kind's own scratch (im2col, ...) */
    float *ap, *an;        /* a+, a- (N, in) */
    float *c1, *c2;        /* (N, in) */
    float *z1, *z2, *z3, *z4; /* (N, out) */
    float *bias;           /* 2 x out_ch */
    float *lo, *hi;        /* (in) per-sample bounds / ones */
} lin_ws;

/* Samples per pass of the rules.  The element-wise steps stream every
 * buffer once or twice; on wide layers a whole batch is far larger than the
 * caches, so kinds whose apply/apply_t are pure functions of the pointers
 * they get (no per-sample state) run in chunks of about 2M floats of
 * (input + output) values. */
static int64_t chunk_of(const neon_node *nd, const neon_node *in, int64_t N)
{
    const neon_layer_ops *o = nd->ops;
    if (o != &neon_dense_ops && o != &neon_conv2d_ops && o != &neon_batchnorm_ops &&
        o != &neon_avgpool2d_ops && o != &neon_gavgpool_ops)
        return N;
    int64_t nb = ((int64_t)2 << 20) / (in->size + nd->size);
    return nb < 1 ? 1 : nb > N ? N : nb;
}

size_t neon_linear_workspace(const neon_node *nd, const neon_node *in, int64_t N)
{
    const int64_t nb = chunk_of(nd, in, N);
    return (size_t)(4 * nb * in->size + 4 * nb * nd->size + 2 * nd->lin.out_ch + 2 * in->size + 64);
}

static lin_ws carve(neon_graph *g, const neon_node *nd, const neon_node *in, int64_t N)
{
    lin_ws w;
    float *p = g->ws;
    size_t own = nd->ops->workspace_size ? nd->ops->workspace_size(nd, N) : 0;
    w.layer = p;
    p += own;
    const int64_t ni = N * in->size, no = N * nd->size;
    w.ap = p; p += ni;
    w.an = p; p += ni;
    w.c1 = p; p += ni;
    w.c2 = p; p += ni;
    w.z1 = p; p += no;
    w.z2 = p; p += no;
    w.z3 = p; p += no;
    w.z4 = p; p += no;
    w.bias = p; p += 2 * nd->lin.out_ch;
    w.lo = p; p += in->size;
    w.hi = p;
    return w;
}

/* Per-channel bias after a map: 0 none, 1 b, 2 b+, 3 b-, 4 b^2,
 * 5 b + gamma b+, 6 b + gamma b-. */
enum { B_NONE, B_ID, B_POS, B_NEG, B_SQ, B_GPOS, B_GNEG };
static const float *bias_of(const neon_node *nd, int kind, float gamma, float *dst)
{
    const float *b = nd->lin.b;
    if (!b || kind == B_NONE || nd->rule.zero_bias) return NULL;
    for (int64_t c = 0; c < nd->lin.out_ch; c++) {
        const float v = b[c], p = v > 0 ? v : 0, n = v < 0 ? v : 0;
        switch (kind) {
        case B_ID: dst[c] = v; break;
        case B_POS: dst[c] = p; break;
        case B_NEG: dst[c] = n; break;
        case B_SQ: dst[c] = v * v; break;
        case B_GPOS: dst[c] = v + gamma * p; break;
        default: dst[c] = v + gamma * n; break;
        }
    }
    return dst;
}

/* Visits (n, channel, spatial) of an (N, out_ch, out_sp) buffer. */
#define FOR_OUT(nd, N, i, bc)                                                   \
    for (int64_t n_ = 0, i = 0; n_ < (N); n_++)                                 \
        for (int64_t c_ = 0; c_ < (nd)->lin.out_ch; c_++)                       \
            for (int64_t s_ = 0, bc = c_; s_ < (nd)->lin.out_sp; s_++, i++)

/* c (+)= rho1(W)^T s1 + rho2(W)^T s2, fused when the kind can. */
static void apply_t2(neon_graph *g, const neon_node *nd, neon_wsel w1, const float *s1,
                     neon_wsel w2, const float *s2, float *c, int64_t N, float *ws, int acc)
{
    if (nd->ops->apply_t2) {
        nd->ops->apply_t2(g, nd, w1, s1, w2, s2, c, N, ws, acc);
        return;
    }
    nd->ops->apply_t(g, nd, w1, s1, c, N, ws, acc);
    nd->ops->apply_t(g, nd, w2, s2, c, N, ws, 1);
}

/* W a (no bias) from the cached forward output. zf - b. */
static void wa_from_forward(const neon_node *nd, int64_t N, float *dst)
{
    const float *b = nd->lin.b;
    FOR_OUT(nd, N, i, c) dst[i] = nd->out[i] - (b ? b[c] : 0.0f);
}

/* ---- LRP-0 / epsilon ------------------------------------------------------ */
static void rule_z(neon_graph *g, neon_node *nd, neon_node *in, int64_t N, lin_ws *w, float e)
{
    const float *b = bias_of(nd, B_ID, 0, w->bias);
    const float *bo = nd->lin.b;
    if (bo && !b) { /* zero_bias: z = W a = out - b */
        FOR_OUT(nd, N, i, c) w->z1[i] = nd->rel[i] / stab(nd->out[i] - bo[c], e);
    } else { /* z = the cached output (flat loop: vectorizes) */
        const int64_t no = N * nd->size;
        const float *z = nd->out, *R = nd->rel;
        float *sv = w->z1;
        for (int64_t i = 0; i < no; i++) sv[i] = R[i] / stab(z[i], e);
    }
    nd->ops->apply_t(g, nd, NEON_W_ORIG, w->z1, w->c1, N, w->layer, 0);
    const int64_t ni = N * in->size;
    if (nd->lin.has_root) { /* R = a o (W^T s) - (W o A0)^T s */
        nd->ops->apply_t(g, nd, NEON_W_ROOT, w->z1, w->c2, N, w->layer, 0);
        for (int64_t j = 0; j < ni; j++) in->rel[j] += in->out[j] * w->c1[j] - w->c2[j];
        return;
    }
    for (int64_t j = 0; j < ni; j++) in->rel[j] += in->out[j] * w->c1[j];
}

/* 1 when every a_j >= 0 (a read-only pass that vectorizes). */
static int all_nonneg(const float *a, int64_t n)
{
    int neg = 0;
    for (int64_t j = 0; j < n; j++) neg |= a[j] < 0.0f;
    return !neg;
}

/* Splits a into a+ (ap) and a- (an) unless a >= 0 everywhere (then nothing
 * is written: use a itself as a+).  Returns 1 if a- is all zero. */
static int split_sign(const float *a, int64_t n, float *ap, float *an)
{
    if (all_nonneg(a, n)) return 1;
    for (int64_t j = 0; j < n; j++) {
        const float v = a[j];
        ap[j] = v > 0 ? v : 0.0f;
        an[j] = v < 0 ? v : 0.0f;
    }
    return 0;
}

/* ---- generalized gamma ---------------------------------------------------- */
/* Wg+ x = W x + g W+ x ; Wg- x = (1+g) W x - g W+ x. */
/* a >= 0 (after a ReLU), the common case: one forward GEMM (W+ a), the
 * original W a from the cached output, and one fused element-wise pass. */
static void gamma_nonneg(neon_graph *g, neon_node *nd, neon_node *in, int64_t N, lin_ws *w)
{
    const float gm = nd->rule.gamma, e = rule_stab(&nd->rule);
    const float *a = in->out;
    nd->ops->apply(g, nd, NEON_W_POS, a, w->z2, N, w->layer); /* P = W+ a */
    const float *bo = nd->lin.b, *b = bo && !nd->rule.zero_bias ? bo : NULL;
    FOR_OUT(nd, N, i, c) {
        const float bv = b ? b[c] : 0.0f;
        const float bp = bv + gm * (bv > 0 ? bv : 0), bn = bv + gm * (bv < 0 ? bv : 0);
        const float Q = nd->out[i] - (bo ? bo[c] : 0.0f), P = w->z2[i]; /* W a, W+ a */
        const float zo = Q + bv;
        const float R = nd->rel[i];
        const float sp = zo > 0 ? R / stab(Q + gm * P + bp, e) : 0.0f;           /* s  */
        const float sn = zo < 0 ? R / stab((1 + gm) * Q - gm * P + bn, e) : 0.0f; /* s' */
        w->z3[i] = sp + (1 + gm) * sn; /* t1 */
        w->z4[i] = gm * (sp - sn);     /* t3 */
    }
    /* c = W^T t1 + W+^T t3 ;  R = a c */
    apply_t2(g, nd, NEON_W_ORIG, w->z3, NEON_W_POS, w->z4, w->c1, N, w->layer, 0);
    const int64_t ni = N * in->size;
    for (int64_t j = 0; j < ni; j++) in->rel[j] += a[j] * w->c1[j];
}

static void rule_gamma(neon_graph *g, neon_node *nd, neon_node *in, int64_t N, lin_ws *w)
{
    const float gm = nd->rule.gamma, e = rule_stab(&nd->rule);
    const int64_t ni = N * in->size;
    if (all_nonneg(in->out, ni)) {
        gamma_nonneg(g, nd, in, N, w);
        return;
    }
    const int nonneg = split_sign(in->out, ni, w->ap, w->an); /* 0 here */
    const float *bz = bias_of(nd, B_ID, 0, w->bias);
    /* Q1 = W a+ (z1), P1 = W+ a+ (z2) */
    if (nonneg) wa_from_forward(nd, N, w->z1);
    else nd->ops->apply(g, nd, NEON_W_ORIG, w->ap, w->z1, N, w->layer);
    nd->ops->apply(g, nd, NEON_W_POS, w->ap, w->z2, N, w->layer);
    if (!nonneg) { /* Q2 = W a- (z3), P2 = W+ a- (z4) */
        wa_from_forward(nd, N, w->z3);
        for (int64_t i = 0; i < N * nd->size; i++) w->z3[i] -= w->z1[i];
        nd->ops->apply(g, nd, NEON_W_POS, w->an, w->z4, N, w->layer);
    }
    const float *b = nd->lin.b && !nd->rule.zero_bias ? nd->lin.b : NULL;
    /* s -> z1, s' -> z2 (in place) */
    FOR_OUT(nd, N, i, c) {
        const float bv = b ? b[c] : 0.0f;
        const float bp = bv + gm * (bv > 0 ? bv : 0), bn = bv + gm * (bv < 0 ? bv : 0);
        const float Q1 = w->z1[i], P1 = w->z2[i];
        const float Q2 = nonneg ? 0.0f : w->z3[i], P2 = nonneg ? 0.0f : w->z4[i];
        const float zo = Q1 + Q2 + (bz ? bz[c] : 0.0f);
        const float zpos = Q1 + gm * P1 + bp + (1 + gm) * Q2 - gm * P2;
        const float zneg = (1 + gm) * Q1 - gm * P1 + bn + Q2 + gm * P2;
        const float R = nd->rel[i];
        w->z1[i] = zo > 0 ? R / stab(zpos, e) : 0.0f;
        w->z2[i] = zo < 0 ? R / stab(zneg, e) : 0.0f;
    }
    /* t1 = s + (1+g) s' (z3), t3 = g (s - s') (z4) */
    for (int64_t i = 0; i < N * nd->size; i++) {
        const float s = w->z1[i], sp = w->z2[i];
        w->z3[i] = s + (1 + gm) * sp;
        w->z4[i] = gm * (s - sp);
    }
    /* c+ = W^T t1 + W+^T t3 */
    apply_t2(g, nd, NEON_W_ORIG, w->z3, NEON_W_POS, w->z4, w->c1, N, w->layer, 0);
    if (!nonneg) {
        /* c- = W^T ((1+g) s + s') - W+^T t3 */
        for (int64_t i = 0; i < N * nd->size; i++) {
            w->z3[i] = (1 + gm) * w->z1[i] + w->z2[i];
            w->z4[i] = -w->z4[i];
        }
        apply_t2(g, nd, NEON_W_ORIG, w->z3, NEON_W_POS, w->z4, w->c2, N, w->layer, 0);
    }
    for (int64_t j = 0; j < ni; j++)
        in->rel[j] += w->ap[j] * w->c1[j] + (nonneg ? 0.0f : w->an[j] * w->c2[j]);
}

/* ---- alpha-beta (z+ = alpha 1, beta 0) -------------------------------------- */
/* Positive and negative parts come from direct GEMMs with W+ and W- (never
 * as differences): where one part is nearly empty its denominator is tiny,
 * and a cancellation error there would be amplified. */
static void rule_alphabeta(neon_graph *g, neon_node *nd, neon_node *in, int64_t N, lin_ws *w)
{
    const float al = nd->rule.kind == NEON_RULE_ZPLUS ? 1.0f : nd->rule.alpha;
    const float be = nd->rule.kind == NEON_RULE_ZPLUS ? 0.0f : nd->rule.beta;
    const float e = rule_stab(&nd->rule);
    const int64_t ni = N * in->size;
    const int nonneg = split_sign(in->out, ni, w->ap, w->an);
    const float *ap = nonneg ? in->out : w->ap; /* a+ */
    const float *b = nd->lin.b && !nd->rule.zero_bias ? nd->lin.b : NULL;
    /* z1 = W+ a+ , z2 = W- a+ , z3 = W+ a- , z4 = W- a- */
    nd->ops->apply(g, nd, NEON_W_POS, ap, w->z1, N, w->layer);
    if (be != 0.0f) nd->ops->apply(g, nd, NEON_W_NEG, ap, w->z2, N, w->layer);
    if (!nonneg) {
        if (be != 0.0f) nd->ops->apply(g, nd, NEON_W_POS, w->an, w->z3, N, w->layer);
        nd->ops->apply(g, nd, NEON_W_NEG, w->an, w->z4, N, w->layer);
    }
    /* pos: zp = W+ a+ + W- a- + b+ ; neg: zn = W- a+ + W+ a- + b- */
    FOR_OUT(nd, N, i, c) {
        const float bv = b ? b[c] : 0.0f;
        const float zp = w->z1[i] + (nonneg ? 0.0f : w->z4[i]) + (bv > 0 ? bv : 0.0f);
        const float R = nd->rel[i];
        w->z1[i] = al * R / stab(zp, e); /* al s */
        if (be != 0.0f) {
            const float zn = w->z2[i] + (nonneg ? 0.0f : w->z3[i]) + (bv < 0 ? bv : 0.0f);
            w->z2[i] = -be * R / stab(zn, e); /* -be s' */
        }
    }
    /* R = al Rpos - be Rneg,  Rpos = a+ W+^T s + a- W-^T s,  Rneg = a+ W-^T s' + a- W+^T s' */
    if (be != 0.0f) apply_t2(g, nd, NEON_W_POS, w->z1, NEON_W_NEG, w->z2, w->c1, N, w->layer, 0);
    else nd->ops->apply_t(g, nd, NEON_W_POS, w->z1, w->c1, N, w->layer, 0);
    if (!nonneg) {
        if (be != 0.0f) apply_t2(g, nd, NEON_W_NEG, w->z1, NEON_W_POS, w->z2, w->c2, N, w->layer, 0);
        else nd->ops->apply_t(g, nd, NEON_W_NEG, w->z1, w->c2, N, w->layer, 0);
    }
    if (nonneg)
        for (int64_t j = 0; j < ni; j++) in->rel[j] += ap[j] * w->c1[j];
    else
        for (int64_t j = 0; j < ni; j++) in->rel[j] += ap[j] * w->c1[j] + w->an[j] * w->c2[j];
}

/* ---- flat and w^2: inputs replaced by 1, z independent of the sample ------- */
static void rule_flat_wsq(neon_graph *g, neon_node *nd, neon_node *in, int64_t N, lin_ws *w)
{
    const int flat = nd->rule.kind == NEON_RULE_FLAT;
    const neon_wsel ws = flat ? NEON_W_ONES : NEON_W_SQ;
    const float e = rule_stab(&nd->rule);
    for (int64_t j = 0; j < in->size; j++) w->lo[j] = 1.0f;
    nd->ops->apply(g, nd, ws, w->lo, w->z2, 1, w->layer); /* (1, out) */
    const float *b = flat ? NULL : bias_of(nd, B_SQ, 0, w->bias);
    FOR_OUT(nd, N, i, c) {
        const int64_t k = i % nd->size;
        w->z1[i] = nd->rel[i] / stab(w->z2[k] + (b ? b[c] : 0.0f), e);
    }
    nd->ops->apply_t(g, nd, ws, w->z1, w->c1, N, w->layer, 0);
    const int64_t ni = N * in->size;
    for (int64_t j = 0; j < ni; j++) in->rel[j] += w->c1[j];
}

/* ---- z^B: z = W a - W+ l - W- h (bias cancels) ------------------------------ */
static void rule_zbox(neon_graph *g, neon_node *nd, neon_node *in, int64_t N, lin_ws *w)
{
    const neon_rule *r = &nd->rule;
    const float e = rule_stab(r);
    const int64_t per = in->size, C = in->shape[0], inner = per / C;
    for (int64_t j = 0; j < per; j++) { /* l, h per input element */
        const int64_t ch = j / inner;
        w->lo[j] = r->n_bounds ? r->lows[ch] : r->low;
        w->hi[j] = r->n_bounds ? r->highs[ch] : r->high;
    }
    /* t = W+ (l - h) + W h  (1, out) */
    for (int64_t j = 0; j < per; j++) w->ap[j] = w->lo[j] - w->hi[j];
    nd->ops->apply(g, nd, NEON_W_POS, w->ap, w->z2, 1, w->layer);
    nd->ops->apply(g, nd, NEON_W_ORIG, w->hi, w->z3, 1, w->layer);
    wa_from_forward(nd, N, w->z1);
    for (int64_t i = 0; i < N * nd->size; i++) {
        const int64_t k = i % nd->size;
        const float z = w->z1[i] - w->z2[k] - w->z3[k];
        w->z1[i] = nd->rel[i] / stab(z, e);
    }
    /* R = (a - h) W^T s - (l - h) W+^T s */
    nd->ops->apply_t(g, nd, NEON_W_ORIG, w->z1, w->c1, N, w->layer, 0);
    nd->ops->apply_t(g, nd, NEON_W_POS, w->z1, w->c2, N, w->layer, 0);
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < per; j++) {
            const int64_t i = n * per + j;
            in->rel[i] += (in->out[i] - w->hi[j]) * w->c1[i] - (w->lo[j] - w->hi[j]) * w->c2[i];
        }
}

static void rule_dispatch(neon_graph *g, neon_node *nd, neon_node *in, int64_t N)
{
    lin_ws w = carve(g, nd, in, N);
    switch (nd->rule.kind) {
    case NEON_RULE_EPSILON: rule_z(g, nd, in, N, &w, nd->rule.epsilon); break;
    case NEON_RULE_GAMMA: rule_gamma(g, nd, in, N, &w); break;
    case NEON_RULE_ZPLUS:
    case NEON_RULE_ALPHABETA: rule_alphabeta(g, nd, in, N, &w); break;
    case NEON_RULE_FLAT:
    case NEON_RULE_WSQUARE: rule_flat_wsq(g, nd, in, N, &w); break;
    case NEON_RULE_ZBOX: rule_zbox(g, nd, in, N, &w); break;
    default: rule_z(g, nd, in, N, &w, rule_stab(&nd->rule)); break;
    }
}

neon_status neon_linear_relprop(neon_graph *g, neon_node *nd, int64_t N)
{
    neon_node *in = neon_in(g, nd, 0);
    if (nd->lin.has_root && nd->rule.kind != NEON_RULE_LRP0 && nd->rule.kind != NEON_RULE_EPSILON) {
        char lb[128];
        return neon_fail(g->ctx, NEON_ERR_UNSUPPORTED,
                         "node %s has root points (the midpoint rule): only lrp0/epsilon apply, "
                         "not %s",
                         neon_node_label(nd, lb, sizeof lb), neon_rule_name(nd->rule.kind));
    }
    const int64_t nb = chunk_of(nd, in, N);
    if (nb >= N) {
        rule_dispatch(g, nd, in, N);
        return NEON_OK;
    }
    /* shallow copies whose buffers start at the chunk (the kinds allowed by
     * chunk_of read nothing but params, weights and the pointers given) */
    for (int64_t n0 = 0; n0 < N; n0 += nb) {
        neon_node ndc = *nd, inc = *in;
        ndc.out = nd->out + n0 * nd->size;
        ndc.rel = nd->rel + n0 * nd->size;
        inc.out = in->out + n0 * in->size;
        inc.rel = in->rel + n0 * in->size;
        rule_dispatch(g, &ndc, &inc, N - n0 < nb ? N - n0 : nb);
    }
    return NEON_OK;
}
