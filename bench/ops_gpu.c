/* bench/ops_gpu.c — every CUDA op of the model stack against the GPU's measured peaks
 * (what `make bench` runs when a GPU is present; issue 5, part 4).
 *
 * First the two peaks every other figure is a fraction of, measured in this run:
 *   copy   a device-to-device cudaMemcpy of 1 GiB (--copy-mib), GB/s counting read + write;
 *   sgemm  the registry's "cublas" matmul variant (true fp32, no TF32) at n = 8192, TFLOP/s.
 * Then each CUDA variant of the model-stack families at a large, realistic size (GPT-2 small
 * widths: C = 768, vocabulary 50304, 1024-token context), forward and backward:
 *   memory-bound ops (relu, gelu, residual, layernorm, softmax_xent, softmax, embedding,
 *   adamw): GB/s and the fraction of the copy peak;
 *   matmul-like ops (linear at the GPT's shapes, flash attention): TFLOP/s and the fraction
 *   of the sgemm peak.
 * Bytes are the variant's cost() for a forward (column bytes_from = "cost()"); a backward has
 * no cost() in the registry, so its bytes are counted here (bytes_from = "counted": each tensor
 * the pass must touch, read once, and written once; accumulated gradients are read AND
 * written) — see the comment at each case. Every time is the median of CUDA-event samples
 * with L2 flushed before each call (dlb_cuda_measure, flush_l2 = true): a cold L2, as a layer
 * sees it inside a network.
 *
 * Results in results/bench-gpu/ (--out): ops_gpu_peaks.csv, ops_gpu.csv, summary.csv
 * (gpu_copy_gbps, gpu_sgemm_tflops, gpu_<op>_bw_fraction, gpu_<op>_tflops_fraction, ...),
 * benchmarks.json, run.json (the GPU's name is in its context and parameters). The GPU's
 * name is printed beside every figure and stored in every CSV row.
 *
 * A variant that refuses a shape (its first, untimed call fails) loses its row with a line on
 * stderr, not the run. Without a GPU (or in a build without CUDA) it prints one line,
 * "no CUDA device: ...", and exits 1. Lesson 0's GPT shapes appear only for linear and
 * attention (small, launch-bound: bench-train_* --device cuda times those models end to end).
 * Left out: conv2d and maxpool (the CNN's cuDNN ops), TF32 and bf16, streams.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef DL_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#include "dlab/act.h"
#include "dlab/attention.h"
#include "dlab/backend.h"
#include "dlab/dlab.h"
#include "dlab/embedding.h"
#include "dlab/layernorm.h"
#include "dlab/linear.h"
#include "dlab/matmul.h"
#include "dlab/optim.h"
#include "dlab/residual.h"
#include "dlab/softmax.h"
#include "dlab/softmax_xent.h"
#include "dlbench.h"

#define PROG "bench-ops_gpu"

/* ------------------------------------------------------------------ setup */

static void die(const char *what, const char *message) {
    fprintf(stderr, PROG ": %s: %s\n", what, message);
    exit(1);
}

/* Device memory for one group of cases, filled from a host buffer of uniform(-1, 1) floats
 * (repeated when a buffer is larger: the values do not change the work), freed together. */
enum { POOL_MAX = 32 };
typedef struct gpu_pool {
    const dl_ops *ops;
    const float *random; /* host, random_n floats */
    size_t random_n;
    void *ptr[POOL_MAX];
    int n;
} gpu_pool;

static void *pool_alloc(gpu_pool *p, size_t bytes) {
    if (p->n == POOL_MAX) die("pool", "more than POOL_MAX buffers in one group");
    void *d;
    if (p->ops->alloc(&d, bytes) != DL_OK) die("device alloc", dl_last_error());
    p->ptr[p->n++] = d;
    return d;
}

/* n floats of random values in [-1, 1). */
static float *pool_random(gpu_pool *p, size_t n) {
    float *d = pool_alloc(p, n * sizeof(float));
    for (size_t done = 0; done < n;) {
        size_t chunk = n - done < p->random_n ? n - done : p->random_n;
        if (p->ops->to_device(d + done, p->random, chunk * sizeof(float)) != DL_OK)
            die("upload", dl_last_error());
        done += chunk;
    }
    return d;
}

/* n floats of zeros. */
static float *pool_zeros(gpu_pool *p, size_t n) {
    float *d = pool_alloc(p, n * sizeof(float));
    if (p->ops->zero(d, n * sizeof(float)) != DL_OK) die("device zero", dl_last_error());
    return d;
}

/* n ints drawn below `below` on the host (returned in *host when not NULL), uploaded. */
static int *pool_ints(gpu_pool *p, size_t n, int below, dl_rng *rng, int **host) {
    int *h = malloc(n * sizeof(int));
    if (!h) die("host alloc", "out of memory");
    for (size_t i = 0; i < n; i++)
        h[i] = (int)dl_rng_below(rng, (uint64_t)below);
    int *d = pool_alloc(p, n * sizeof(int));
    if (p->ops->to_device(d, h, n * sizeof(int)) != DL_OK) die("upload", dl_last_error());
    if (host)
        *host = h;
    else
        free(h);
    return d;
}

static void pool_release(gpu_pool *p) {
    if (p->ops->sync() != DL_OK) die("sync", dl_last_error());
    for (int i = 0; i < p->n; i++)
        p->ops->free(p->ptr[i]);
    p->n = 0;
}

/* One call of one variant: the family's arguments and which pass. */
typedef struct op_call {
    const dl_variant *v;
    bool backward;
    bool trial;       /* the untimed first call: a failure is kept in status, not fatal */
    dl_status status; /* of the trial call */
    union {
        dl_matmul_args mm;
        dl_act_args act;
        dl_residual_args res;
        dl_layernorm_args ln;
        dl_softmax_xent_args xent;
        dl_softmax_args sm;
        dl_embedding_args emb;
        dl_adamw_args adamw;
        dl_linear_args lin;
        dl_attention_args att;
    } a;
} op_call;

/* A failed trial call is kept (the case is skipped); a failed timed call ends the program:
 * the timing loop cannot go on without it. */
static void check_call(op_call *c, dl_status s) {
    if (c->trial) {
        c->status = s;
        return;
    }
    if (s != DL_OK) {
        char what[96];
        snprintf(what, sizeof what, "%s %s %s", c->v->family, c->v->name,
                 c->backward ? "backward" : "forward");
        die(what, dl_last_error());
    }
}

static void run_matmul(void *p) {
    op_call *c = p;
    check_call(c, ((dl_matmul_fn)c->v->impl)(&c->a.mm));
}
static void run_act(void *p) {
    op_call *c = p;
    check_call(c, c->backward ? dl_act_backward(c->v, &c->a.act) : dl_act_forward(c->v, &c->a.act));
}
static void run_residual(void *p) {
    op_call *c = p;
    check_call(c, c->backward ? dl_residual_backward(c->v, &c->a.res)
                              : dl_residual_forward(c->v, &c->a.res));
}
static void run_layernorm(void *p) {
    op_call *c = p;
    check_call(c, c->backward ? dl_layernorm_backward(c->v, &c->a.ln)
                              : dl_layernorm_forward(c->v, &c->a.ln));
}
static void run_xent(void *p) {
    op_call *c = p;
    check_call(c, c->backward ? dl_softmax_xent_backward(c->v, &c->a.xent)
                              : dl_softmax_xent_forward(c->v, &c->a.xent));
}
static void run_softmax(void *p) {
    op_call *c = p;
    check_call(c, dl_softmax_forward(c->v, &c->a.sm));
}
static void run_embedding(void *p) {
    op_call *c = p;
    check_call(c, c->backward ? dl_embedding_backward(c->v, &c->a.emb)
                              : dl_embedding_forward(c->v, &c->a.emb));
}
static void run_adamw(void *p) {
    op_call *c = p;
    check_call(c, dl_adamw_run(c->v, &c->a.adamw));
}
static void run_linear(void *p) {
    op_call *c = p;
    check_call(c, c->backward ? dl_linear_backward(c->v, &c->a.lin)
                              : dl_linear_forward(c->v, &c->a.lin));
}
static void run_attention(void *p) {
    op_call *c = p;
    check_call(c, c->backward ? dl_attention_backward(c->v, &c->a.att)
                              : dl_attention_forward(c->v, &c->a.att));
}

#ifdef DL_HAVE_CUDA
typedef struct copy_call {
    void *dst;
    const void *src;
    size_t bytes;
} copy_call;

/* Device to device on the default stream: queued like a kernel, timed by the same events. */
static void run_copy(void *p) {
    copy_call *c = p;
    cudaError_t err = cudaMemcpy(c->dst, c->src, c->bytes, cudaMemcpyDeviceToDevice);
    if (err != cudaSuccess) die("cudaMemcpy device to device", cudaGetErrorString(err));
}
#endif

/* The CUDA variants of a family that can run here, in registry order. */
static int cuda_variants(const char *family, const dl_variant **out, int max) {
    int nv, n = 0;
    const dl_variant *const *vs = dl_variants(family, &nv);
    for (int i = 0; i < nv && n < max; i++)
        if (vs[i]->device == DL_DEVICE_CUDA && dl_variant_available(vs[i])) out[n++] = vs[i];
    return n;
}

/* ------------------------------------------------------------ experiments */

typedef enum peak_kind { PEAK_COPY, PEAK_SGEMM } peak_kind;

typedef struct bench {
    dlb_run *run;
    dlb_table *table;
    dlb_opts opts;
    char gpu[128];
    double copy_gbps, sgemm_tflops; /* the peaks, measured first */
} bench;

/* Time one case and add its row, its benchmarks.json entry and its summary metrics.
 * work: bytes per call (PEAK_COPY) or flops per call (PEAK_SGEMM). metric: the stable stem
 * of its summary metrics, gpu_<metric>_{gbps,bw_fraction} or gpu_<metric>_{tflops,tflops_fraction}.
 */
static void time_case(bench *b, const char *op, const char *shape, dlb_fn fn, op_call *c,
                      peak_kind kind, double work, const char *work_from, const char *metric) {
    /* One untimed call first, so that a variant refusing this shape (DL_ERR_UNSUPPORTED, say)
     * costs its row and not the whole run. */
    c->trial = true;
    fn(c);
    c->trial = false;
    if (c->status != DL_OK) {
        fprintf(stderr, PROG ": %s %s (%s): %s — skipped\n", op, c->v->name, shape,
                dl_last_error());
        return;
    }
    dlb_result res;
    if (dlb_cuda_measure(fn, c, &b->opts, true, &res) != 0) {
        fprintf(stderr, PROG ": %s %s (%s): %s — skipped\n", op, c->v->name, shape, dlb_error());
        return;
    }
    double t = res.time.median;
    bool bw = kind == PEAK_COPY;
    double rate = bw ? dlb_gbps(work, t) : dlb_gflops(work, t) * 1e-3;
    double peak = bw ? b->copy_gbps : b->sgemm_tflops;
    double frac = peak > 0 ? rate / peak : NAN;
    dlb_table_str(b->table, op);
    dlb_table_str(b->table, c->v->name);
    dlb_table_str(b->table, shape);
    dlb_table_numf(b->table, t * 1e3, "%.4f");
    dlb_table_numf(b->table, 100 * res.time.mad / t, "%.1f");
    dlb_table_numf(b->table, rate, bw ? "%.0f" : "%.2f");
    dlb_table_str(b->table, bw ? "GB/s" : "TFLOP/s");
    dlb_table_numf(b->table, frac, "%.3f");
    dlb_table_str(b->table, bw ? "copy" : "sgemm");
    dlb_table_str(b->table, work_from);
    dlb_table_str(b->table, b->gpu);

    char name[160], m[128];
    snprintf(name, sizeof name, "gpu/%s/%s/%s", op, c->v->name, shape);
    dlb_counter counters[] = {{bw ? "gbps" : "tflops", rate}, {"peak_frac", frac}, {NULL, 0}};
    dlb_run_benchmark(b->run, name, &res, counters);
    snprintf(m, sizeof m, "gpu_%s_%s", metric, bw ? "gbps" : "tflops");
    dlb_run_metric(b->run, m, rate, bw ? "gbps" : "tflops");
    snprintf(m, sizeof m, "gpu_%s_%s", metric, bw ? "bw_fraction" : "tflops_fraction");
    dlb_run_metric(b->run, m, frac, "fraction");
}

/* The metric stem for a variant: `op`, plus the variant's name unless it is the family's
 * only one ("cuda"), plus a shape tag when the op is timed at several shapes. */
static void metric_name(char *out, size_t len, const char *op, const dl_variant *v,
                        const char *tag) {
    bool plain = strcmp(v->name, "cuda") == 0;
    snprintf(out, len, "%s%s%s%s%s", op, plain ? "" : "_", plain ? "" : v->name, tag ? "_" : "",
             tag ? tag : "");
}

/* ---- the peaks ---- */

static int measure_peaks(bench *b, gpu_pool *pool, long copy_mib, long gemm_n) {
    dlb_table *t = dlb_table_new("ops_gpu_peaks", "peak", "size", "time_ms", "mad_pct", "rate",
                                 "unit", "gpu", NULL);
    /* copy: 2 × bytes cross memory (read the source, write the destination) */
    size_t bytes = (size_t)copy_mib << 20;
    dlb_result res;
#ifdef DL_HAVE_CUDA
    copy_call cc = {pool_alloc(pool, bytes), pool_zeros(pool, bytes / sizeof(float)), bytes};
    int copy_rc = dlb_cuda_measure(run_copy, &cc, &b->opts, true, &res);
    const char *copy_error = dlb_error();
#else
    int copy_rc = -1; /* not reached: main stops first in a build without CUDA */
    const char *copy_error = "this build has no CUDA";
#endif
    if (copy_rc != 0) {
        fprintf(stderr, PROG ": copy peak: %s\n", copy_error);
        dlb_table_free(t);
        return -1;
    }
    b->copy_gbps = dlb_gbps(2.0 * (double)bytes, res.time.median);
    char size[64];
    snprintf(size, sizeof size, "%ld MiB", copy_mib);
    dlb_table_str(t, "cudaMemcpy D2D (read + write)");
    dlb_table_str(t, size);
    dlb_table_numf(t, res.time.median * 1e3, "%.3f");
    dlb_table_numf(t, 100 * res.time.mad / res.time.median, "%.1f");
    dlb_table_numf(t, b->copy_gbps, "%.0f");
    dlb_table_str(t, "GB/s");
    dlb_table_str(t, b->gpu);
    dlb_counter c1[] = {{"gbps", b->copy_gbps}, {NULL, 0}};
    dlb_run_benchmark(b->run, "gpu/peak/copy", &res, c1);
    pool_release(pool);

    /* sgemm: C = A·B, n × n, 2n³ flops, through the registry's cuBLAS variant (true fp32) */
    op_call mm = {.v = dl_variant_find("matmul", "cublas")};
    if (!mm.v || !dl_variant_available(mm.v)) {
        fprintf(stderr,
                PROG ": the matmul variant \"cublas\" is not in this build: no sgemm peak\n");
    } else {
        size_t nn = (size_t)gemm_n * (size_t)gemm_n;
        float *A = pool_random(pool, nn), *B = pool_random(pool, nn), *C = pool_zeros(pool, nn);
        mm.a.mm =
            dl_matmul_dense((int)gemm_n, (int)gemm_n, (int)gemm_n, A, false, B, false, C, false);
        if (dlb_cuda_measure(run_matmul, &mm, &b->opts, true, &res) != 0) {
            fprintf(stderr, PROG ": sgemm peak: %s\n", dlb_error());
        } else {
            b->sgemm_tflops = dlb_gflops(2.0 * (double)nn * (double)gemm_n, res.time.median) * 1e-3;
            snprintf(size, sizeof size, "n=%ld", gemm_n);
            dlb_table_str(t, "cuBLAS sgemm (fp32, no TF32)");
            dlb_table_str(t, size);
            dlb_table_numf(t, res.time.median * 1e3, "%.3f");
            dlb_table_numf(t, 100 * res.time.mad / res.time.median, "%.1f");
            dlb_table_numf(t, b->sgemm_tflops, "%.2f");
            dlb_table_str(t, "TFLOP/s");
            dlb_table_str(t, b->gpu);
            dlb_counter c2[] = {{"tflops", b->sgemm_tflops}, {NULL, 0}};
            dlb_run_benchmark(b->run, "gpu/peak/sgemm", &res, c2);
        }
        pool_release(pool);
    }
    printf("\nDevice peaks on %s (measured now; every fraction below is of these):\n", b->gpu);
    dlb_run_table(b->run, t);
    dlb_table_free(t);
    dlb_run_metric(b->run, "gpu_copy_gbps", b->copy_gbps, "gbps");
    if (b->sgemm_tflops > 0) dlb_run_metric(b->run, "gpu_sgemm_tflops", b->sgemm_tflops, "tflops");
    dlb_run_param(b->run, "gpu_copy_bytes", "%zu", bytes);
    dlb_run_param(b->run, "gpu_sgemm_n", "%ld", gemm_n);
    return 0;
}

/* ---- elementwise: relu, gelu, residual over n floats ---- */

static void bench_elementwise(bench *b, gpu_pool *pool, size_t n) {
    float *x = pool_random(pool, n), *y = pool_random(pool, n), *out = pool_zeros(pool, n);
    float *dout = pool_random(pool, n), *dx = pool_zeros(pool, n), *dy = pool_zeros(pool, n);
    char shape[64], metric[96];
    snprintf(shape, sizeof shape, "n=%zu", n);
    const dl_variant *vs[8];
    static const char *const acts[] = {"relu", "gelu"};
    for (int f = 0; f < 2; f++) {
        int nv = cuda_variants(acts[f], vs, 8);
        for (int i = 0; i < nv; i++) {
            op_call c = {.v = vs[i],
                         .a.act = {.n = n, .inp = x, .out = out, .dout = dout, .dinp = dx}};
            char op[32];
            snprintf(op, sizeof op, "%s_fwd", acts[f]);
            metric_name(metric, sizeof metric, op, vs[i], NULL);
            time_case(b, op, shape, run_act, &c, PEAK_COPY, vs[i]->cost(&c.a.act).bytes, "cost()",
                      metric);
            /* backward dinp += dout·f'(inp): reads inp, dout, dinp; writes dinp: 16n bytes */
            c.backward = true;
            snprintf(op, sizeof op, "%s_bwd", acts[f]);
            metric_name(metric, sizeof metric, op, vs[i], NULL);
            time_case(b, op, shape, run_act, &c, PEAK_COPY, 16.0 * (double)n, "counted", metric);
        }
    }
    int nv = cuda_variants("residual", vs, 8);
    for (int i = 0; i < nv; i++) {
        op_call c = {
            .v = vs[i],
            .a.res = {.n = n, .a = x, .b = y, .out = out, .dout = dout, .da = dx, .db = dy}};
        metric_name(metric, sizeof metric, "residual_fwd", vs[i], NULL);
        time_case(b, "residual_fwd", shape, run_residual, &c, PEAK_COPY,
                  vs[i]->cost(&c.a.res).bytes, "cost()", metric);
        /* backward da += dout, db += dout: reads dout, da, db; writes da, db: 20n bytes */
        c.backward = true;
        metric_name(metric, sizeof metric, "residual_bwd", vs[i], NULL);
        time_case(b, "residual_bwd", shape, run_residual, &c, PEAK_COPY, 20.0 * (double)n,
                  "counted", metric);
    }
    pool_release(pool);
}

/* ---- layernorm over (N, C) ---- */

static void bench_layernorm(bench *b, gpu_pool *pool, int N, int C) {
    size_t NC = (size_t)N * C;
    float *inp = pool_random(pool, NC), *out = pool_zeros(pool, NC),
          *gamma = pool_random(pool, (size_t)C);
    float *beta = pool_random(pool, (size_t)C), *mean = pool_zeros(pool, (size_t)N),
          *rstd = pool_zeros(pool, (size_t)N);
    float *dout = pool_random(pool, NC), *dinp = pool_zeros(pool, NC);
    float *dgamma = pool_zeros(pool, (size_t)C), *dbeta = pool_zeros(pool, (size_t)C);
    char shape[64], metric[96];
    snprintf(shape, sizeof shape, "N=%d C=%d", N, C);
    const dl_variant *vs[8];
    int nv = cuda_variants("layernorm", vs, 8);
    for (int i = 0; i < nv; i++) {
        op_call c = {.v = vs[i],
                     .a.ln = {.N = N,
                              .C = C,
                              .inp = inp,
                              .gamma = gamma,
                              .beta = beta,
                              .out = out,
                              .mean = mean,
                              .rstd = rstd,
                              .dout = dout,
                              .dinp = dinp,
                              .dgamma = dgamma,
                              .dbeta = dbeta}};
        metric_name(metric, sizeof metric, "layernorm_fwd", vs[i], NULL);
        time_case(b, "layernorm_fwd", shape, run_layernorm, &c, PEAK_COPY,
                  vs[i]->cost(&c.a.ln).bytes, "cost()", metric);
        /* backward: reads inp, dout, dinp and writes dinp (16NC); reads mean, rstd (8N); reads
         * gamma and reads + writes dgamma, dbeta (20C) */
        c.backward = true;
        metric_name(metric, sizeof metric, "layernorm_bwd", vs[i], NULL);
        time_case(b, "layernorm_bwd", shape, run_layernorm, &c, PEAK_COPY,
                  16.0 * (double)NC + 8.0 * N + 20.0 * C, "counted", metric);
    }
    pool_release(pool);
}

/* ---- softmax + cross-entropy over (N, V) logits ---- */

static void bench_softmax_xent(bench *b, gpu_pool *pool, int N, int V, dl_rng *rng) {
    size_t NV = (size_t)N * V;
    float *logits = pool_random(pool, NV), *probs = pool_zeros(pool, NV),
          *dlogits = pool_zeros(pool, NV);
    float *losses = pool_zeros(pool, (size_t)N), *mean_loss = pool_zeros(pool, 1);
    int *targets = pool_ints(pool, (size_t)N, V, rng, NULL);
    char shape[64], metric[96];
    snprintf(shape, sizeof shape, "N=%d V=%d", N, V);
    const dl_variant *vs[8];
    int nv = cuda_variants("softmax_xent", vs, 8);
    for (int i = 0; i < nv; i++) {
        op_call c = {.v = vs[i],
                     .a.xent = {.N = N,
                                .V = V,
                                .logits = logits,
                                .targets = targets,
                                .probs = probs,
                                .losses = losses,
                                .mean_loss = mean_loss,
                                .dloss_scale = 1.0f,
                                .dlogits = dlogits}};
        metric_name(metric, sizeof metric, "softmax_xent_fwd", vs[i], NULL);
        time_case(b, "softmax_xent_fwd", shape, run_xent, &c, PEAK_COPY,
                  vs[i]->cost(&c.a.xent).bytes, "cost()", metric);
        /* backward dlogits += (probs − onehot)/n_valid: reads probs and dlogits, writes
         * dlogits (12NV); reads targets (4N) */
        c.backward = true;
        metric_name(metric, sizeof metric, "softmax_xent_bwd", vs[i], NULL);
        time_case(b, "softmax_xent_bwd", shape, run_xent, &c, PEAK_COPY,
                  12.0 * (double)NV + 4.0 * N, "counted", metric);
    }
    pool_release(pool);
}

/* ---- softmax (forward) over (N, V), every CUDA variant; tag names the shape in metrics ---- */

static void bench_softmax(bench *b, gpu_pool *pool, int N, int V, const char *tag) {
    size_t NV = (size_t)N * V;
    float *inp = pool_random(pool, NV), *out = pool_zeros(pool, NV);
    char shape[64], metric[96];
    snprintf(shape, sizeof shape, "N=%d V=%d", N, V);
    const dl_variant *vs[16];
    int nv = cuda_variants("softmax", vs, 16);
    for (int i = 0; i < nv; i++) {
        op_call c = {.v = vs[i], .a.sm = {.N = N, .V = V, .inp = inp, .out = out}};
        metric_name(metric, sizeof metric, "softmax_fwd", vs[i], tag);
        time_case(b, "softmax_fwd", shape, run_softmax, &c, PEAK_COPY, vs[i]->cost(&c.a.sm).bytes,
                  "cost()", metric);
    }
    pool_release(pool);
}

/* ---- token + position embedding ---- */

static void bench_embedding(bench *b, gpu_pool *pool, int B, int T, int C, int V, dl_rng *rng) {
    size_t BTC = (size_t)B * T * C;
    int *host_tokens;
    int *tokens = pool_ints(pool, (size_t)B * T, V, rng, &host_tokens);
    float *wte = pool_random(pool, (size_t)V * C), *wpe = pool_random(pool, (size_t)T * C);
    float *out = pool_zeros(pool, BTC), *dout = pool_random(pool, BTC);
    float *dwte = pool_zeros(pool, (size_t)V * C), *dwpe = pool_zeros(pool, (size_t)T * C);
    /* The backward touches only the rows of dwte whose token occurs: count them. */
    unsigned char *seen = calloc((size_t)V, 1);
    if (!seen) die("host alloc", "out of memory");
    double distinct = 0;
    for (size_t i = 0; i < (size_t)B * T; i++)
        if (!seen[host_tokens[i]]) seen[host_tokens[i]] = 1, distinct++;
    free(seen);
    free(host_tokens);
    char shape[64], metric[96];
    snprintf(shape, sizeof shape, "B=%d T=%d C=%d V=%d", B, T, C, V);
    const dl_variant *vs[8];
    int nv = cuda_variants("embedding", vs, 8);
    for (int i = 0; i < nv; i++) {
        op_call c = {.v = vs[i],
                     .a.emb = {.B = B,
                               .T = T,
                               .C = C,
                               .V = V,
                               .maxT = T,
                               .tokens = tokens,
                               .wte = wte,
                               .wpe = wpe,
                               .out = out,
                               .dout = dout,
                               .dwte = dwte,
                               .dwpe = dwpe}};
        metric_name(metric, sizeof metric, "embedding_fwd", vs[i], NULL);
        time_case(b, "embedding_fwd", shape, run_embedding, &c, PEAK_COPY,
                  vs[i]->cost(&c.a.emb).bytes, "cost()", metric);
        /* backward: reads dout (4BTC) and tokens (4BT); reads + writes each dwte row whose
         * token occurs (8·distinct·C) and every dwpe row (8TC) */
        c.backward = true;
        metric_name(metric, sizeof metric, "embedding_bwd", vs[i], NULL);
        double bytes = 4.0 * (double)BTC + 4.0 * B * T + 8.0 * distinct * C + 8.0 * T * C;
        time_case(b, "embedding_bwd", shape, run_embedding, &c, PEAK_COPY, bytes, "counted",
                  metric);
    }
    pool_release(pool);
}

/* ---- AdamW over n parameters ---- */

static void bench_adamw(bench *b, gpu_pool *pool, size_t n) {
    float *param = pool_random(pool, n), *grad = pool_random(pool, n);
    float *m = pool_zeros(pool, n), *v = pool_zeros(pool, n);
    char shape[64], metric[96];
    snprintf(shape, sizeof shape, "n=%zu", n);
    const dl_variant *vs[8];
    int nv = cuda_variants("optim", vs, 8);
    for (int i = 0; i < nv; i++) {
        /* The same step number every call: the work does not depend on it. */
        op_call c = {.v = vs[i],
                     .a.adamw = {.n = n,
                                 .param = param,
                                 .grad = grad,
                                 .m = m,
                                 .v = v,
                                 .lr = 1e-3f,
                                 .beta1 = 0.9f,
                                 .beta2 = 0.95f,
                                 .eps = 1e-8f,
                                 .weight_decay = 0.1f,
                                 .step = 1}};
        metric_name(metric, sizeof metric, "adamw", vs[i], NULL);
        time_case(b, "adamw", shape, run_adamw, &c, PEAK_COPY, vs[i]->cost(&c.a.adamw).bytes,
                  "cost()", metric);
    }
    pool_release(pool);
}

/* ---- linear at the GPT's shapes, TFLOP/s against the sgemm peak ---- */

typedef struct linear_shape {
    const char *tag; /* in metric names */
    int N, C, OC;
} linear_shape;

static void bench_linear(bench *b, gpu_pool *pool, const linear_shape *s) {
    size_t N = (size_t)s->N, C = (size_t)s->C, OC = (size_t)s->OC;
    float *inp = pool_random(pool, N * C), *w = pool_random(pool, OC * C),
          *bias = pool_random(pool, OC);
    float *out = pool_zeros(pool, N * OC), *dout = pool_random(pool, N * OC),
          *dinp = pool_zeros(pool, N * C);
    float *dw = pool_zeros(pool, OC * C), *dbias = pool_zeros(pool, OC);
    char shape[64], metric[96];
    snprintf(shape, sizeof shape, "N=%d C=%d OC=%d", s->N, s->C, s->OC);
    const dl_variant *vs[8];
    int nv = cuda_variants("linear", vs, 8);
    for (int i = 0; i < nv; i++) {
        op_call c = {.v = vs[i],
                     .a.lin = {.N = s->N,
                               .C = s->C,
                               .OC = s->OC,
                               .inp = inp,
                               .weight = w,
                               .bias = bias,
                               .out = out,
                               .dout = dout,
                               .dinp = dinp,
                               .dweight = dw,
                               .dbias = dbias}};
        char op[64];
        snprintf(op, sizeof op, "linear_%s_fwd", s->tag);
        metric_name(metric, sizeof metric, op, vs[i], NULL);
        time_case(b, op, shape, run_linear, &c, PEAK_SGEMM, vs[i]->cost(&c.a.lin).flops, "cost()",
                  metric);
        /* backward: dinp += dout·W and dW += doutᵀ·inp (2·N·C·OC flops each), dbias += Σ dout
         * (N·OC) */
        c.backward = true;
        snprintf(op, sizeof op, "linear_%s_bwd", s->tag);
        metric_name(metric, sizeof metric, op, vs[i], NULL);
        double flops = 4.0 * (double)N * C * OC + (double)N * OC;
        time_case(b, op, shape, run_linear, &c, PEAK_SGEMM, flops, "counted", metric);
    }
    pool_release(pool);
}

/* ---- causal attention, the CUDA variants (flash: no T×T matrix) ---- */

static void bench_attention(bench *b, gpu_pool *pool, int B, int T, int C, int NH,
                            const char *tag) {
    size_t BTC = (size_t)B * T * C;
    float *qkv = pool_random(pool, 3 * BTC), *out = pool_zeros(pool, BTC),
          *dout = pool_random(pool, BTC);
    float *dqkv = pool_zeros(pool, 3 * BTC), *lse = pool_zeros(pool, (size_t)B * NH * T);
    char shape[64], metric[96];
    snprintf(shape, sizeof shape, "B=%d T=%d C=%d NH=%d", B, T, C, NH);
    const dl_variant *vs[8];
    int nv = cuda_variants("attention", vs, 8);
    for (int i = 0; i < nv; i++) {
        if (dl_attention_materializes(vs[i])) continue; /* no T×T buffers here; none exists today */
        op_call c = {.v = vs[i],
                     .a.att = {.B = B,
                               .T = T,
                               .C = C,
                               .NH = NH,
                               .qkv = qkv,
                               .out = out,
                               .dout = dout,
                               .dqkv = dqkv,
                               .lse = lse}};
        metric_name(metric, sizeof metric, "attention_fwd", vs[i], tag);
        time_case(b, "attention_fwd", shape, run_attention, &c, PEAK_SGEMM,
                  vs[i]->cost(&c.a.att).flops, "cost()", metric);
        /* backward flops from dl_attention_backward_cost (the registry's cost is the forward's);
         * a flash backward also recomputes QKᵀ, not counted: the figure is useful work */
        c.backward = true;
        metric_name(metric, sizeof metric, "attention_bwd", vs[i], tag);
        time_case(b, "attention_bwd", shape, run_attention, &c, PEAK_SGEMM,
                  dl_attention_backward_cost(&c.a.att).flops, "counted", metric);
    }
    pool_release(pool);
}

/* ------------------------------------------------------------------- main */

int main(int argc, char **argv) {
    long copy_mib = 1024, gemm_n = 8192;
    dlb_opt extra[] = {
        {"--copy-mib", DLB_OPT_INT, &copy_mib, "size of the device-to-device copy peak (MiB)", 64,
         16384},
        {"--gemm-n", DLB_OPT_INT, &gemm_n, "size of the cuBLAS sgemm peak (n × n)", 1024, 32768},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    dlb_cli cli;
    int rc = dlb_cli_parse(argc, argv,
                           "every CUDA op as GB/s or TFLOP/s and a fraction of the device's peaks",
                           "results/bench-gpu", extra, &cli);
    if (rc) return rc == 1 ? 0 : 2;
    const dl_ops *ops;
    if (dl_backend("cuda", &ops) != DL_OK) {
        const char *why = dl_last_error();
        bool says_it = strstr(why, "no CUDA device") != NULL; /* the backend's own words */
        fprintf(stderr, PROG ": %s%s\n", says_it ? "" : "no CUDA device: ", why);
        return 1;
    }
    if (dl_threads_set(cli.threads) != DL_OK) return 2;

    dlb_run *run;
    if (dlb_run_open(cli.out, PROG, &run) != 0) die("results", dlb_error());
    dlb_context ctx;
    dlb_context_collect(&ctx);
    dlb_context_print(&ctx);

    bench b = {.run = run, .opts = dlb_opts_default()};
    if (cli.quick) b.opts.min_samples = 3, b.opts.max_samples = 5, b.opts.max_time_s = 0.2;
    if (dlb_cuda_gpu_name(b.gpu, sizeof b.gpu) != 0) snprintf(b.gpu, sizeof b.gpu, "unnamed GPU");
    dlb_run_param(run, "gpu", "%s", b.gpu);
    dlb_run_param(run, "quick", "%d", cli.quick);
    dlb_run_param(run, "seed", "%llu", (unsigned long long)cli.seed);
    dlb_run_param(run, "timing", "%s", "CUDA events, L2 flushed before each call, median");

    /* One host buffer of random values feeds every device buffer (pool_random). */
    enum { RANDOM_FLOATS = 1 << 24 };
    float *random;
    if (dl_alloc((void **)&random, RANDOM_FLOATS * sizeof(float)) != DL_OK)
        die("host alloc", dl_last_error());
    dl_rng rng;
    dl_rng_seed(&rng, cli.seed);
    dl_rng_fill_uniform(&rng, random, RANDOM_FLOATS, -1, 1);
    gpu_pool pool = {.ops = ops, .random = random, .random_n = RANDOM_FLOATS};

    if (measure_peaks(&b, &pool, copy_mib, cli.quick && gemm_n > 4096 ? 4096 : gemm_n) != 0) {
        dlb_run_abort(run);
        return 1;
    }

    /* Sizes: GPT-2 small's width (768) and vocabulary (50304) at a 1024-token context, and
     * element counts well past the L2 (50 MB on an H100). --quick divides the large sizes by 8,
     * takes 3 to 5 samples and an n = 4096 sgemm peak: a smoke run, not figures to quote. */
    int q = cli.quick ? 8 : 1;
    b.table = dlb_table_new("ops_gpu", "op", "variant", "shape", "time_ms", "mad_pct", "rate",
                            "unit", "of_peak", "peak", "bytes_from", "gpu", NULL);
    bench_elementwise(&b, &pool, ((size_t)1 << 26) / (size_t)q);
    bench_layernorm(&b, &pool, 32768 / q, 768);
    bench_softmax_xent(&b, &pool, 4096 / q, 50304, &rng);
    bench_softmax(&b, &pool, 4096 / q, 50304, "v50304"); /* logits over GPT-2's vocabulary */
    bench_softmax(&b, &pool, 98304 / q, 1024, "v1024");  /* attention rows: 8 × 12 heads × 1024 */
    bench_embedding(&b, &pool, 8 / q, 1024, 768, 50304, &rng); /* B·T = 8192 positions */
    bench_adamw(&b, &pool, ((size_t)1 << 27) / (size_t)q); /* 134M parameters, about GPT-2 small */
    /* lesson 0's GPT (B·T = 16 × 128, C = 128) and GPT-2 small (B·T = 8 × 1024, C = 768) */
    static const linear_shape lin[] = {
        {"gpt_qkv", 2048, 128, 384},    {"gpt_fc", 2048, 128, 512},
        {"gpt_fcproj", 2048, 512, 128}, {"gpt2_qkv", 8192, 768, 2304},
        {"gpt2_fc", 8192, 768, 3072},   {"gpt2_fcproj", 8192, 3072, 768},
    };
    for (size_t i = 0; i < sizeof lin / sizeof lin[0]; i++)
        bench_linear(&b, &pool, &lin[i]);
    bench_attention(&b, &pool, 16, 128, 128, 4, "gpt");
    bench_attention(&b, &pool, 8 / q, 1024, 768, 12, "gpt2");

    printf(
        "\nCUDA ops on %s: median of CUDA-event samples, L2 flushed before each call; of_peak is "
        "the fraction of the copy peak (%.0f GB/s) or the sgemm peak (%.2f TFLOP/s) measured "
        "above:\n",
        b.gpu, b.copy_gbps, b.sgemm_tflops);
    dlb_run_table(run, b.table);
    dlb_table_free(b.table);
    dl_free(random);
    if (dlb_run_close(run) != 0) die("results", dlb_error());
    printf("\nresults in %s/ (GPU: %s)\n", cli.out, b.gpu);
    return 0;
}
