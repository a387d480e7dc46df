/*
 * fastgrad: the ISA clones of the kernels and the table that picks one.
 *
 * The kernel code (fastgrad_kernels.c for dense X, fg_csr.c for CSR X) is
 * compiled once per instruction set: as itself for the portable baseline,
 * and through small wrappers (fg_dense_avx2.c, fg_dense_avx512.c,
 * fg_csr_avx2.c, fg_csr_avx512.c) that include it under
 * `#pragma GCC target("arch=x86-64-v3")` (AVX2 + FMA) or
 * `("arch=x86-64-v4")` (AVX-512 F/BW/CD/DQ/VL) with a name suffix
 * (fg_isa_names.h).  fg_isa.c holds one table of function pointers per
 * clone, picks the best clone the CPU and the OS can run (capped by the
 * FASTGRAD_ISA that _native reads at import) and forwards the public entry
 * points (fg_chunk_f64, fg_csr_chunk_f64_i32, ...) to it.  Unlike GCC's
 * target_clones (an ifunc resolved by the loader) the choice can be capped,
 * reported and tested clone by clone.
 *
 * Portable builds (a compiler other than GCC, a CPU other than x86-64, or
 * -DFG_NO_CLONES) compile the baseline clone alone.  Not a public header.
 */
#ifndef FG_ISA_H
#define FG_ISA_H

#include <stddef.h>
#include "fastgrad_kernels.h"
#include "fg_csr.h"

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && \
    defined(__x86_64__) && !defined(FG_NO_CLONES)
#define FG_ISA_CLONES 1
#else
#define FG_ISA_CLONES 0
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* the clones, worst to best; FG_ISA_N of them */
enum { FG_ISA_BASELINE = 0, FG_ISA_AVX2 = 1, FG_ISA_AVX512 = 2, FG_ISA_N = 3 };

/* "baseline", "avx2", "avx512" (NULL for another index) */
const char *fg_isa_name(int isa);
/* bit i set: clone i is compiled in / this CPU and OS can run it (and it is
 * compiled in) */
int fg_isa_compiled_mask(void);
int fg_isa_runnable_mask(void);
/* selects the best runnable clone <= cap (the baseline always runs);
 * returns the clone selected.  Called once, at import, before any kernel. */
int fg_isa_select(int cap);
/* the clone the entry points forward to now */
int fg_isa_selected(void);

/* the clones' own entry points; the unsuffixed ones (fastgrad_kernels.h,
 * fg_csr.h) forward to the selected clone */
#define FG_ISA_DECLARE(S)                                                                  \
    double fg_chunk_f64##S(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1, double *g,        \
                           double *work);                                                  \
    double fg_chunk_f32##S(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1, double *g,        \
                           double *work);                                                  \
    int fg_y_in_range##S(const fg_args *a, int f32, ptrdiff_t nrows, double lo, double hi); \
    double fg_csr_chunk_f64_i32##S(const fg_csr_args *a, ptrdiff_t r0, ptrdiff_t r1,       \
                                   double *g, double *work, ptrdiff_t *bad);               \
    double fg_csr_chunk_f64_i64##S(const fg_csr_args *a, ptrdiff_t r0, ptrdiff_t r1,       \
                                   double *g, double *work, ptrdiff_t *bad);               \
    double fg_csr_chunk_f32_i32##S(const fg_csr_args *a, ptrdiff_t r0, ptrdiff_t r1,       \
                                   double *g, double *work, ptrdiff_t *bad);               \
    double fg_csr_chunk_f32_i64##S(const fg_csr_args *a, ptrdiff_t r0, ptrdiff_t r1,       \
                                   double *g, double *work, ptrdiff_t *bad);
FG_ISA_DECLARE(_baseline)
#if FG_ISA_CLONES
FG_ISA_DECLARE(_avx2)
FG_ISA_DECLARE(_avx512)
#endif

#ifdef __cplusplus
}
#endif
#endif
