/*
 * fastgrad: the row micro-kernels (see fastgrad_kernels.h).
 *
 * The loops are written once in fg_kernel_impl.h and instantiated here for
 * double and float.  The entry points are compiled for several instruction
 * sets (GCC target_clones: x86-64-v4 = AVX-512, x86-64-v3 = AVX2+FMA, and the
 * portable baseline); the loader picks one for the CPU at run time.
 */
#include <math.h>
#include <stdint.h>
#include "fastgrad_kernels.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__linux__) && !defined(FG_NO_CLONES)
#define FG_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define FG_HAVE_CLONES 1
#else
#define FG_CLONES
#define FG_HAVE_CLONES 0
#endif

#if defined(__GNUC__)
#define FG_INLINE static inline __attribute__((always_inline))
#else
#define FG_INLINE static inline
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FG_RESTRICT __restrict__
#else
#define FG_RESTRICT
#endif

/* ---- pointwise losses, stable for every finite z ------------------------
 * logistic: l(z, y) = log(1 + e^z) - y z, written by the sign of z so that
 * the exponential never overflows and nothing cancels (as in scikit-learn's
 * sklearn/_loss/_loss.pyx.tp):
 *   z >= 0: e = exp(-z), l = log1p(e) + (1 - y) z, l' = ((1 - y) - y e) / (1 + e)
 *   z <  0: e = exp(z),  l = log1p(e) - y z,       l' = ((1 - y) e - y) / (1 + e)
 *   l'' = e / (1 + e)^2 in both cases.
 */
FG_INLINE double pw_loss_grad(int loss, double z, double y, double *d)
{
    if (loss == FG_SQUARED) {
        double r = z - y;
        *d = r;
        return 0.5 * r * r;
    } else {
        double e, l;
        if (z >= 0) {
            e = exp(-z);
            l = log1p(e) + (1.0 - y) * z;
            *d = ((1.0 - y) - y * e) / (1.0 + e);
        } else {
            e = exp(z);
            l = log1p(e) - y * z;
            *d = ((1.0 - y) * e - y) / (1.0 + e);
        }
        return l;
    }
}

FG_INLINE double pw_loss(int loss, double z, double y)
{
    if (loss == FG_SQUARED) {
        double r = z - y;
        return 0.5 * r * r;
    }
    if (z >= 0) return log1p(exp(-z)) + (1.0 - y) * z;
    return log1p(exp(z)) - y * z;
}

/* second derivative; only needed for the logistic loss */
FG_INLINE double pw_hess_logistic(double z)
{
    double e = exp(-fabs(z));
    double q = 1.0 + e;
    return e / (q * q);
}

double fg_log1pexp(double z)
{
    return z >= 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}
double fg_logistic_loss(double z, double y) { return pw_loss(FG_LOGISTIC, z, y); }
double fg_sigmoid(double z)
{
    if (z >= 0) return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

/* ---- sizes --------------------------------------------------------------- */
ptrdiff_t fg_col_block(ptrdiff_t n, ptrdiff_t k, int itemsize)
{
    /* a block of rows of an F-ordered X (n columns) should stay in L2 */
    ptrdiff_t b = (ptrdiff_t)(256 * 1024) / ((n > 0 ? n : 1) * itemsize);
    ptrdiff_t cap = (ptrdiff_t)(64 * 1024) / ((k > 0 ? k : 1) * 8);
    if (b > cap) b = cap;
    if (b > 2048) b = 2048;
    b &= ~(ptrdiff_t)7;
    if (b < 16) b = 16;
    return b;
}

size_t fg_work_size(const fg_args *a)
{
    /* row path: 4 gathered rows + z, d, zv (k each);  column path: 3 blocks */
    size_t row = 4 * (size_t)a->n + 3 * (size_t)a->k;
    size_t col = 3 * (size_t)a->block * (size_t)a->k;
    return (row > col ? row : col) + 16;
}

/* ---- the loops, once per dtype ------------------------------------------ */
#define T double
#define SFX _f64
#include "fg_kernel_impl.h"
#undef T
#undef SFX

#define T float
#define SFX _f32
#include "fg_kernel_impl.h"
#undef T
#undef SFX

/* ---- what was compiled, what runs ---------------------------------------- */
const char *fg_simd_paths(void)
{
#if FG_HAVE_CLONES
    return "x86-64-v4 (AVX-512), x86-64-v3 (AVX2+FMA), baseline";
#else
    return "baseline (compiler auto-vectorization for the build's target)";
#endif
}

const char *fg_simd_selected(void)
{
#if FG_HAVE_CLONES
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        return "x86-64-v4 (AVX-512)";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return "x86-64-v3 (AVX2+FMA)";
    return "baseline";
#else
    return "baseline";
#endif
}
