/*
 * fastgrad: the table of ISA clones, the choice of one, and the public entry
 * points that forward to it (see fg_isa.h).  Compiled for the baseline: it
 * runs on every CPU, and asks the CPU what it can run.
 */
#include "fg_isa.h"
#if FG_ISA_CLONES
#include <cpuid.h>
#include <stdint.h>
#endif

typedef struct {
    double (*chunk_f64)(const fg_args *, ptrdiff_t, ptrdiff_t, double *, double *);
    double (*chunk_f32)(const fg_args *, ptrdiff_t, ptrdiff_t, double *, double *);
    int (*y_in_range)(const fg_args *, int, ptrdiff_t, double, double);
    double (*csr_f64_i32)(const fg_csr_args *, ptrdiff_t, ptrdiff_t, double *, double *,
                          ptrdiff_t *);
    double (*csr_f64_i64)(const fg_csr_args *, ptrdiff_t, ptrdiff_t, double *, double *,
                          ptrdiff_t *);
    double (*csr_f32_i32)(const fg_csr_args *, ptrdiff_t, ptrdiff_t, double *, double *,
                          ptrdiff_t *);
    double (*csr_f32_i64)(const fg_csr_args *, ptrdiff_t, ptrdiff_t, double *, double *,
                          ptrdiff_t *);
} fg_isa_table;

#define FG_ISA_ROW(S)                                                                     \
    {fg_chunk_f64##S, fg_chunk_f32##S, fg_y_in_range##S, fg_csr_chunk_f64_i32##S,         \
     fg_csr_chunk_f64_i64##S, fg_csr_chunk_f32_i32##S, fg_csr_chunk_f32_i64##S}

/* indexed by FG_ISA_*; a clone that is not compiled in is the baseline's row
 * (never selected: fg_isa_runnable_mask leaves it out) */
static const fg_isa_table fg_isa_tables[FG_ISA_N] = {
    FG_ISA_ROW(_baseline),
#if FG_ISA_CLONES
    FG_ISA_ROW(_avx2),
    FG_ISA_ROW(_avx512),
#else
    FG_ISA_ROW(_baseline),
    FG_ISA_ROW(_baseline),
#endif
};

static const char *const fg_isa_names[FG_ISA_N] = {"baseline", "avx2", "avx512"};

/* the baseline until fg_isa_select runs (always correct, if slow) */
static int fg_isa_cur = FG_ISA_BASELINE;
static const fg_isa_table *fg_isa_t = &fg_isa_tables[FG_ISA_BASELINE];

const char *fg_isa_name(int isa)
{
    return isa >= 0 && isa < FG_ISA_N ? fg_isa_names[isa] : NULL;
}

int fg_isa_compiled_mask(void)
{
#if FG_ISA_CLONES
    return (1 << FG_ISA_BASELINE) | (1 << FG_ISA_AVX2) | (1 << FG_ISA_AVX512);
#else
    return 1 << FG_ISA_BASELINE;
#endif
}

#if FG_ISA_CLONES
/* the register state the OS saves on a context switch (XCR0): without it the
 * CPU may list AVX or AVX-512 and the OS still fault on them.  libgcc's
 * __builtin_cpu_supports checks this too; asked again here so that the
 * choice does not rest on one library's version. */
static uint64_t fg_xcr0(void)
{
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 27))) return 0; /* OSXSAVE: XGETBV is usable */
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

int fg_isa_runnable_mask(void)
{
    int m = 1 << FG_ISA_BASELINE;
#if FG_ISA_CLONES
    __builtin_cpu_init();
    const uint64_t xcr0 = fg_xcr0();
    const int os_ymm = (xcr0 & 0x6) == 0x6;    /* SSE and AVX state */
    const int os_zmm = (xcr0 & 0xe6) == 0xe6;  /* and opmask, ZMM0-15 upper, ZMM16-31 */
#if __GNUC__ >= 12
    /* the ISA levels the clones are compiled for, feature by feature */
    const int v3 = __builtin_cpu_supports("x86-64-v3");
    const int v4 = __builtin_cpu_supports("x86-64-v4");
#else
    /* GCC 11 names no ISA level: the features the clones' code can contain
     * (LZCNT and XSAVE, also in x86-64-v3, come with every CPU that has these) */
    const int v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                   __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
                   __builtin_cpu_supports("f16c") && __builtin_cpu_supports("movbe");
    const int v4 = v3 && __builtin_cpu_supports("avx512f") &&
                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512cd") &&
                   __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#endif
    if (v3 && os_ymm) m |= 1 << FG_ISA_AVX2;
    if (v3 && v4 && os_ymm && os_zmm) m |= 1 << FG_ISA_AVX512;
#endif
    return m & fg_isa_compiled_mask();
}

int fg_isa_select(int cap)
{
    const int run = fg_isa_runnable_mask();
    int isa = cap >= FG_ISA_N ? FG_ISA_N - 1 : cap;
    while (isa > FG_ISA_BASELINE && !(run & (1 << isa))) isa--;
    if (isa < FG_ISA_BASELINE) isa = FG_ISA_BASELINE;
    fg_isa_cur = isa;
    fg_isa_t = &fg_isa_tables[isa];
    return isa;
}

int fg_isa_selected(void) { return fg_isa_cur; }

/* ---- the public entry points: one indirect call per chunk ----------------- */
double fg_chunk_f64(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1, double *g, double *work)
{
    return fg_isa_t->chunk_f64(a, r0, r1, g, work);
}
double fg_chunk_f32(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1, double *g, double *work)
{
    return fg_isa_t->chunk_f32(a, r0, r1, g, work);
}
int fg_y_in_range(const fg_args *a, int f32, ptrdiff_t nrows, double lo, double hi)
{
    return fg_isa_t->y_in_range(a, f32, nrows, lo, hi);
}
double fg_csr_chunk_f64_i32(const fg_csr_args *a, ptrdiff_t r0, ptrdiff_t r1, double *g,
                            double *work, ptrdiff_t *bad)
{
    return fg_isa_t->csr_f64_i32(a, r0, r1, g, work, bad);
}
double fg_csr_chunk_f64_i64(const fg_csr_args *a, ptrdiff_t r0, ptrdiff_t r1, double *g,
                            double *work, ptrdiff_t *bad)
{
    return fg_isa_t->csr_f64_i64(a, r0, r1, g, work, bad);
}
double fg_csr_chunk_f32_i32(const fg_csr_args *a, ptrdiff_t r0, ptrdiff_t r1, double *g,
                            double *work, ptrdiff_t *bad)
{
    return fg_isa_t->csr_f32_i32(a, r0, r1, g, work, bad);
}
double fg_csr_chunk_f32_i64(const fg_csr_args *a, ptrdiff_t r0, ptrdiff_t r1, double *g,
                            double *work, ptrdiff_t *bad)
{
    return fg_isa_t->csr_f32_i64(a, r0, r1, g, work, bad);
}

/* ---- what was compiled, what runs (show_config's wording) ------------------ */
const char *fg_simd_paths(void)
{
#if FG_ISA_CLONES
    return "x86-64-v4 (AVX-512), x86-64-v3 (AVX2+FMA), baseline";
#else
    return "baseline (compiler auto-vectorization for the build's target)";
#endif
}

const char *fg_simd_selected(void)
{
    switch (fg_isa_cur) {
    case FG_ISA_AVX512: return "x86-64-v4 (AVX-512)";
    case FG_ISA_AVX2: return "x86-64-v3 (AVX2+FMA)";
    default: return "baseline";
    }
}
