/*
 * fastgrad: included by fastgrad_kernels.c and fg_csr.c after their own
 * headers; gives the kernels' entry points the suffix of the clone being
 * compiled (FG_ISA_SUFFIX: _avx2 or _avx512 from the wrappers, _baseline
 * when the file is compiled as itself).  FN(fg_chunk) in fg_kernel_impl.h
 * pastes to fg_chunk_f64, which is rescanned and renamed here.  See fg_isa.h.
 */
#ifndef FG_ISA_NAMES_H
#define FG_ISA_NAMES_H
#ifndef FG_ISA_SUFFIX
#define FG_ISA_SUFFIX _baseline
#endif
#define FG_ISA_CAT2(a, b) a##b
#define FG_ISA_CAT(a, b) FG_ISA_CAT2(a, b)
#define FG_ISA_NAME(x) FG_ISA_CAT(x, FG_ISA_SUFFIX)
#define fg_chunk_f64 FG_ISA_NAME(fg_chunk_f64)
#define fg_chunk_f32 FG_ISA_NAME(fg_chunk_f32)
#define fg_y_in_range FG_ISA_NAME(fg_y_in_range)
#define fg_csr_chunk_f64_i32 FG_ISA_NAME(fg_csr_chunk_f64_i32)
#define fg_csr_chunk_f64_i64 FG_ISA_NAME(fg_csr_chunk_f64_i64)
#define fg_csr_chunk_f32_i32 FG_ISA_NAME(fg_csr_chunk_f32_i32)
#define fg_csr_chunk_f32_i64 FG_ISA_NAME(fg_csr_chunk_f32_i64)
#endif
