/*
 * fastgrad: the CSR row kernels (see fg_csr.h).
 *
 * The loops are written once in fg_csr_impl.h and instantiated here for the
 * stored values in double and float times the indices in int32 and int64.
 * The pointwise step is pw_block of fg_pointwise.h, shared with the dense
 * kernels; the entry points are compiled once per instruction set
 * (fg_csr_avx2.c, fg_csr_avx512.c; see fg_isa.h) as in fastgrad_kernels.c.
 */
#include <stdint.h>
#include "fg_csr.h"
#include "fg_pointwise.h"  /* build macros, pw_block */
#include "fg_multinomial.h"  /* pw_multi1 */
#include "fg_isa_names.h"  /* fg_csr_chunk_f64_i32 -> fg_csr_chunk_f64_i32_<clone>, ... */

/* rows per block of the one-output path with rows=, and the values after
 * which a block is closed early (long rows: it is read twice, from cache) */
#define FG_CSR_NB 8
#define FG_CSR_BLOCK_NNZ 2048
/* the flat path (consecutive rows): rows and values per block, and the
 * values of a row summed without a branch on its length */
#define FG_CSR_NBF 64
#define FG_CSR_CAP 2048
#define FG_CSR_WIN 16
/* the products loop prefetches values and indices this many values ahead:
 * the stream of X comes in bursts, one block at a time, which the hardware
 * prefetcher alone does not keep ahead of */
#define FG_CSR_PF 1024
#if FG_CSR_WIN != 16
#error "seg_sum (fg_csr_impl.h) sums FG_CSR_WIN = 16 values as four vectors"
#endif

/* from this many features on (coef and g no longer fit in L2 together), the
 * flat path keeps coef (or v) and the gradient interleaved in its work array:
 * the scatter then hits the cache line the gather has just brought in */
#define FG_CSR_IL_MIN 32768

#if defined(__GNUC__) || defined(__clang__)
#define FG_UNLIKELY(x) __builtin_expect(!!(x), 0)
/* makes x opaque to the optimiser (no instruction): the loops of loads at
 * indices then stay scalar; GCC otherwise vectorises them with emulated
 * gathers (a scalar load, an insert and a shuffle per element), which
 * measured twice as slow */
#define FG_OPAQUE(x) __asm__("" : "+r"(x))
#else
#define FG_UNLIKELY(x) (x)
#define FG_OPAQUE(x) ((void)0)
#endif

#ifndef FG_ISA_CLONE /* the baseline's copy serves every clone */
size_t fg_csr_work_size(const fg_csr_args *a)
{
    /* several outputs: z, t, y, w, d, lb of k doubles each; one output:
     * the flat path's products (2) and d per value, and for many features
     * the interleaved (coef, g) pairs, aligned to a cache line */
    size_t kn = 6 * (size_t)(a->k > 1 ? a->k : 1);
    size_t flat = 3 * (size_t)(FG_CSR_CAP + FG_CSR_WIN);
    if (a->k == 1 && a->n >= FG_CSR_IL_MIN) flat += 2 * (size_t)a->n + 8;
    return (kn > flat ? kn : flat) + 16;
}
#endif

#define T double
#define I int32_t
#define SFX _f64_i32
#include "fg_csr_impl.h"
#undef I
#undef SFX
#define I int64_t
#define SFX _f64_i64
#include "fg_csr_impl.h"
#undef I
#undef SFX
#undef T

#define T float
#define I int32_t
#define SFX _f32_i32
#include "fg_csr_impl.h"
#undef I
#undef SFX
#define I int64_t
#define SFX _f32_i64
#include "fg_csr_impl.h"
#undef I
#undef SFX
#undef T
