/* fastgrad: the avx512 clone of fastgrad_kernels.c (x86-64-v4: AVX-512 F/BW/CD/DQ/VL),
 * its entry points suffixed _avx512; fg_isa.c calls them when the CPU runs them.
 * See fg_isa.h.
 *
 * Vector width.  The explicit vector code stays at 4 doubles (FG_VW 4).  The
 * compiler's own vectorisation (the `omp simd` loops: pointwise block, axpys,
 * softmax) is at 512 bits with 256-bit epilogues: under this pragma (an arch,
 * no tuning that prefers 256 bits) GCC 12 uses zmm registers for them (about
 * 12,500 lines with zmm in `gcc -S` of this file, 6,700 with
 * prefer-vector-width=256, the rest the multinomial tiles' intrinsics).
 * Measured on an AMD Zen 4 (EPYC family 25
 * model 17, 2 cores shared with other jobs), the avx512 clone against the avx2
 * clone of the same build in one process (tools/isa_compare.py: _native._select_isa
 * switches it), alternating calls, medians of 21, each variant built and run 3 times:
 *   - dot4 at 8 doubles (FG_AVX512_VW=8): logistic 1000x400 f64 C 1.22-1.42x the
 *     avx2 clone's time in 4 runs, against 0.88-0.99x at 4 doubles: Zen 4 runs a
 *     512-bit FMA as two 256-bit halves (no more FMAs a cycle), each 64-byte load
 *     of a row crosses a cache line, and n % 8 leaves a longer scalar tail;
 *   - the `omp simd` loops at 512 or 256 bits: no difference beyond the noise
 *     (+-10%) on any case (1000x100 f64/f32 C, hessp, 4000x100 F, 20000x8 F,
 *     multinomial K = 10).  On an Intel Xeon (family 6 model 167 as
 *     virtualised, L1d 48 KiB, L2 2 MiB), the roofline set side by side in one
 *     process (tools/ab_compare.py, 9 rounds), 256 against 512 bits: F-ordered
 *     500,000 x 100 0.94-0.98x the time, C-ordered 0.97-1.04x, 4,000,000 x 8
 *     1.04x, multinomial 1.03-1.09x: mixed and near the noise, so the build
 *     keeps GCC's choice (an earlier comment here said 256 bits; the switch it
 *     named, prefer-vector-width=512, built the same binary).
 * What the clone gains is elsewhere: 32 vector registers and the AVX-512VL forms
 * at 256 bits (logistic 20000x8 f64 F, the small-n column path: 0.64-0.83x the
 * avx2 clone's time in every run).  CFLAGS=-DFG_AVX512_VW=8 and -DFG_AVX512_YMM
 * (the `omp simd` loops at 256 bits) build the alternatives to measure them
 * again on another CPU.
 * The exception: the multinomial tiles (fg_kernel_impl.h, rows_mn8) are written
 * with AVX-512 intrinsics at 8 doubles, register tiles of 24 accumulators (the 32
 * registers); on an Intel Xeon (family 6 model 167 as virtualised, two 512-bit
 * FMA ports) 500,000 x 100 f64 C against the 4-wide rows_mn, CPU time: K = 3
 * 61.8 -> 33.6 ms, K = 10 99.4 -> 51.0, K = 32 174.5 -> 106.4. */
#include "fg_isa.h"
#if FG_ISA_CLONES
#ifdef FG_AVX512_YMM
#pragma GCC target("arch=x86-64-v4,prefer-vector-width=256")
#else
#pragma GCC target("arch=x86-64-v4")
#endif
#ifndef FG_AVX512_VW
#define FG_AVX512_VW 4
#endif
/* Float rows read from memory (rows_k1 with the plan's FG_STREAM_SEQ): coef
 * (and v) as doubles once per chunk, each float of X converted once, 8 at a
 * time, into a block of double rows that the axpys read (dot1vd, fg_axpy4d).
 * Before, each value was converted 4 at a time twice (dot and axpy) and coef
 * with it: on an Intel Xeon (family 6 model 167 as virtualised, L1d 48 KiB,
 * L2 2 MiB), the kernel alone (tools/kernel_floor.py's, two builds
 * alternated, medians of 5), 500,000 x 100 f32 C from memory, new/old:
 * logistic 0.87-0.88, hessp 0.85-0.89, squared 0.96-0.98; the same rows from
 * L2 0.84-0.90.  -DFG_F32_W8=0 builds the old loops. */
#ifndef FG_F32_W8
#define FG_F32_W8 1
#endif
/* Double rows read from memory (the same row paths): each row's dot products
 * 8 doubles a vector (dot1vd with no copy), where dot1v takes 4.  Intel Xeon
 * (family 6 model 167 as virtualised, L1d 48 KiB, L2 2 MiB), the kernel alone
 * (tools/kernel_floor.py's, two builds alternated, medians of 7),
 * 500,000 x 100 f64 C from memory, new/old: logistic 0.99 (0.98-1.00), hessp
 * logistic 0.975 (0.97-0.98), squared 0.98 (0.97-0.98); the same rows from L2
 * 0.92-0.97.  The axpys 8 wide as well (an explicit loop in place of the
 * `omp simd` one) ran 1.01x as long: not kept.  -DFG_F64_W8=0 builds the
 * 4-wide dot. */
#ifndef FG_F64_W8
#define FG_F64_W8 1
#endif
#define FG_VW FG_AVX512_VW
#define FG_ISA_CLONE 1
#define FG_ISA_SUFFIX _avx512
#include "fastgrad_kernels.c"
#else
typedef int fg_dense_avx512_not_compiled; /* portable build: the baseline only */
#endif
