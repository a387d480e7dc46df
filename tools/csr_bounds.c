/*
 * tools/csr_bounds.c: where the time of the CSR kernels goes, against SciPy's
 * loops and against lower bounds, on the same matrix (run through
 * tools/csr_bounds.py, which builds the bench's sparse matrices and compiles this).
 *
 *   fastgrad    fg_csr_chunk_* over fixed chunks of rows, one accumulator slot
 *               per chunk added in chunk order: what fastgrad._native.run_csr
 *               does with n_threads=1 (loss and gradient)
 *   scipy       the loops of scipy.sparse: csr_matvec (z = X coef), the
 *               pointwise step (z - y, or 1 / (1 + exp(-z)) - y), then
 *               csc_matvec of X.T (g[j] += x r): the gradient only
 *   bound_*     no row structure at all, wrong results, only the memory work a
 *               one-pass kernel cannot avoid, one flat loop over the values:
 *               gather     s += x c[j]
 *               scatter    g[j] += x
 *               fused      both in one loop (coef and g apart)
 *               fused_il   both, coef and g interleaved (one cache line)
 *               blocked    both in two passes over each block of 64 rows, as
 *                          fastgrad's flat path (products into a buffer, then
 *                          the scatter of the buffer; coef and g interleaved
 *                          from 32768 features on): the kernel with the row
 *                          sums, the pointwise step and d data[p] left out
 *
 * Times are thread CPU time (the machine may be shared), median of REPS runs
 * taken round-robin; ns per stored value.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fg_csr.h"
#include "fastgrad_kernels.h"

#define OPQ(x) __asm__("" : "+r"(x))

static int64_t M, N, NNZ;
static int32_t *ip, *ix;
static double *xd, *coef, *y;
static int logistic;
static volatile double sink;

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* fastgrad: chunks and slots as in _native.pyx (run_csr, _csr_chunk_rows) */
static fg_csr_args A;
static double *acc, *slots, *work;
static ptrdiff_t per, nchunks, nslot, glen;
static void run_fastgrad(void)
{
    memset(acc, 0, glen * sizeof(double));
    double tl = 0.0;
    for (ptrdiff_t c0 = 0; c0 < nchunks; c0 += nslot) {
        ptrdiff_t c1 = c0 + nslot < nchunks ? c0 + nslot : nchunks;
        for (ptrdiff_t c = c0; c < c1; c++) {
            ptrdiff_t r0 = c * per, r1 = r0 + per < M ? r0 + per : M, bad;
            double *g = slots + (c - c0) * glen;
            memset(g, 0, glen * sizeof(double));
            tl += fg_csr_chunk_f64_i32(&A, r0, r1, g, work, &bad);
            if (bad >= 0) {
                fprintf(stderr, "malformed row %ld\n", (long)bad);
                exit(1);
            }
        }
        for (ptrdiff_t c = c0; c < c1; c++)
            for (ptrdiff_t i = 0; i < glen; i++) acc[i] += slots[(c - c0) * glen + i];
    }
    sink = tl;
}

static double *zs, *gs;
static void run_scipy(void)
{
    for (int64_t i = 0; i < M; i++) {
        double s = 0.0;
        for (int32_t p = ip[i]; p < ip[i + 1]; p++) s += xd[p] * coef[ix[p]];
        zs[i] = s;
    }
    if (logistic)
        for (int64_t i = 0; i < M; i++) zs[i] = 1.0 / (1.0 + exp(-zs[i])) - y[i];
    else
        for (int64_t i = 0; i < M; i++) zs[i] -= y[i];
    memset(gs, 0, N * sizeof(double));
    for (int64_t i = 0; i < M; i++) {
        const double r = zs[i];
        for (int32_t p = ip[i]; p < ip[i + 1]; p++) gs[ix[p]] += xd[p] * r;
    }
}

static double *gb, *cg;
static void bound_gather(void)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t p = 0;
    for (; p + 4 <= NNZ; p += 4) {
        size_t a = ix[p], b = ix[p + 1], c = ix[p + 2], d = ix[p + 3];
        OPQ(a); OPQ(b); OPQ(c); OPQ(d);
        s0 += xd[p] * coef[a];
        s1 += xd[p + 1] * coef[b];
        s2 += xd[p + 2] * coef[c];
        s3 += xd[p + 3] * coef[d];
    }
    sink = s0 + s1 + s2 + s3;
}
static void bound_scatter(void)
{
    for (int64_t p = 0; p + 4 <= NNZ; p += 4) {
        size_t a = ix[p], b = ix[p + 1], c = ix[p + 2], d = ix[p + 3];
        OPQ(a); OPQ(b); OPQ(c); OPQ(d);
        gb[a] += xd[p];
        gb[b] += xd[p + 1];
        gb[c] += xd[p + 2];
        gb[d] += xd[p + 3];
    }
}
static void bound_fused(void)
{
    double s0 = 0, s1 = 0;
    for (int64_t p = 0; p + 2 <= NNZ; p += 2) {
        size_t a = ix[p], b = ix[p + 1];
        OPQ(a); OPQ(b);
        s0 += xd[p] * coef[a];
        s1 += xd[p + 1] * coef[b];
        gb[a] += xd[p];
        gb[b] += xd[p + 1];
    }
    sink = s0 + s1;
}
static void bound_fused_il(void)
{
    double s0 = 0, s1 = 0;
    for (int64_t p = 0; p + 2 <= NNZ; p += 2) {
        size_t a = ix[p], b = ix[p + 1];
        OPQ(a); OPQ(b);
        s0 += xd[p] * cg[2 * a];
        s1 += xd[p + 1] * cg[2 * b];
        cg[2 * a + 1] += xd[p];
        cg[2 * b + 1] += xd[p + 1];
    }
    sink = s0 + s1;
}

static double *pb;
static void bound_blocked(void)
{
    const int il = N >= 32768;
    const double *c = il ? cg : coef;
    double *g = il ? cg + 1 : gb;
    const size_t S = il ? 2 : 1;
    for (int64_t i = 0; i < M; i += 64) {
        const int64_t p0 = ip[i], p1 = ip[i + 64 < M ? i + 64 : M];
        const int32_t *xi = ix + p0;
        const double *x = xd + p0;
        const int64_t span = p1 - p0;
        int64_t p = 0;
        for (; p + 4 <= span; p += 4) {
            size_t a = xi[p], b = xi[p + 1], e = xi[p + 2], f = xi[p + 3];
            OPQ(a); OPQ(b); OPQ(e); OPQ(f);
            pb[p] = x[p] * c[S * a];
            pb[p + 1] = x[p + 1] * c[S * b];
            pb[p + 2] = x[p + 2] * c[S * e];
            pb[p + 3] = x[p + 3] * c[S * f];
        }
        for (; p < span; p++) pb[p] = x[p] * c[S * (size_t)xi[p]];
        for (p = 0; p + 4 <= span; p += 4) {
            size_t a = xi[p], b = xi[p + 1], e = xi[p + 2], f = xi[p + 3];
            OPQ(a); OPQ(b); OPQ(e); OPQ(f);
            g[S * a] += pb[p];
            g[S * b] += pb[p + 1];
            g[S * e] += pb[p + 2];
            g[S * f] += pb[p + 3];
        }
        for (; p < span; p++) g[S * (size_t)xi[p]] += pb[p];
    }
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, z = *(const double *)b;
    return x < z ? -1 : x > z;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: csr_bounds FILE REPS\n");
        return 2;
    }
    const int reps = atoi(argv[2]) < 99 ? atoi(argv[2]) : 99;
    FILE *f = fopen(argv[1], "rb");
    int64_t h[4];
    if (!f || fread(h, 8, 4, f) != 4) return 2;
    M = h[0], N = h[1], NNZ = h[2], logistic = (int)h[3];
    ip = malloc((M + 1) * 4), ix = malloc(NNZ * 4), xd = malloc(NNZ * 8);
    coef = malloc(N * 8), y = malloc(M * 8);
    if (fread(ip, 4, M + 1, f) != (size_t)(M + 1) || fread(ix, 4, NNZ, f) != (size_t)NNZ ||
        fread(xd, 8, NNZ, f) != (size_t)NNZ || fread(coef, 8, N, f) != (size_t)N ||
        fread(y, 8, M, f) != (size_t)M)
        return 2;
    fclose(f);

    memset(&A, 0, sizeof A);
    A.data = xd, A.indices = ix, A.indptr = ip, A.nnz = NNZ, A.n = N, A.k = 1;
    A.y = y, A.ys0 = 1, A.coef = coef, A.want_grad = 1;
    A.loss = logistic ? FG_LOGISTIC : FG_SQUARED;
    glen = N + 1;
    /* _csr_chunk_rows: 4 MiB of values + indices, at least 8 values per slot entry */
    double per_row = (double)NNZ / M + 1.0, target = (double)((1 << 22) / 12);
    if (target < 8.0 * glen) target = 8.0 * glen;
    per = (ptrdiff_t)(target / per_row + 1.0);
    if (per < 16) per = 16;
    nchunks = (M + per - 1) / per;
    nslot = (1 << 22) / glen;
    if (nslot < 16) nslot = 16;
    if (nslot > nchunks) nslot = nchunks;
    acc = malloc(glen * 8), slots = malloc(nslot * glen * 8);
    work = malloc(fg_csr_work_size(&A) * 8);
    zs = malloc(M * 8), gs = malloc(N * 8), gb = calloc(N, 8), cg = calloc(2 * N, 8);
    int64_t maxspan = 1;
    for (int64_t i = 0; i < M; i += 64) {
        const int64_t sp = ip[i + 64 < M ? i + 64 : M] - ip[i];
        if (sp > maxspan) maxspan = sp;
    }
    pb = malloc(maxspan * 8);
    for (int64_t j = 0; j < N; j++) cg[2 * j] = coef[j];

    run_fastgrad();
    run_scipy();
    double err = 0, mx = 0;
    for (int64_t j = 0; j < N; j++) {
        err = fmax(err, fabs(acc[j] - gs[j]));
        mx = fmax(mx, fabs(gs[j]));
    }
    printf("%ld x %ld, nnz %ld, %s, %ld chunks; fastgrad vs scipy loops: max rel. diff %.1e\n",
           (long)M, (long)N, (long)NNZ, logistic ? "logistic" : "squared", (long)nchunks,
           err / (mx > 0 ? mx : 1));

    static const char *names[] = {"fastgrad", "scipy", "bound_gather", "bound_scatter",
                                  "bound_fused", "bound_fused_il", "bound_blocked"};
    void (*fns[])(void) = {run_fastgrad, run_scipy, bound_gather, bound_scatter, bound_fused,
                           bound_fused_il, bound_blocked};
    enum { NF = 7 };
    double t[NF][99];
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < NF; k++) {
            const int q = (k + r) % NF;
            double t0 = cpu_now();
            fns[q]();
            t[q][r] = cpu_now() - t0;
        }
    double med[NF];
    for (int k = 0; k < NF; k++) {
        qsort(t[k], reps, sizeof(double), cmp);
        med[k] = t[k][reps / 2];
        printf("  %-15s %7.1f ms  %5.2f ns/value\n", names[k], med[k] * 1e3, med[k] * 1e9 / NNZ);
    }
    printf("  scipy / fastgrad %.2fx; scipy / bound_fused %.2fx, / bound_fused_il %.2fx "
           "(the most a one-pass kernel with no per-row work could reach); "
           "scipy / bound_blocked %.2fx (the same with the kernel's two passes per block)\n",
           med[1] / med[0], med[1] / med[4], med[1] / med[5], med[1] / med[6]);
    return 0;
}
