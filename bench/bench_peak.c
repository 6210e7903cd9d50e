/* bench_peak.c - the measured FP32 multiply-add ceiling of one core for the CPU kernel path in
 * use (mbrl/cpu.h; MBRL_CPU_KERNELS forces one): independent chains of packed fused
 * multiply-adds of the path's width (avx512: zmm FMA, avx2: ymm FMA, generic: the portable
 * 4-lane vectors' multiply and add, which is all that path issues), enough of them to cover
 * the latency of two pipes, timed over ~0.2 s per run, median of runs.
 * bench/make_results.py uses it per path as the peak in the '% peak' column of the MPC table,
 * since /proc/cpuinfo's MHz is the nominal clock and the core may boost above it (or drop
 * below it with AVX-512).
 *
 *   bench_peak [--quick] [--threads N] [--runs R]     (one JSON object on stdout)
 *   bench_peak --paths                                 (the paths this CPU runs, one a line)
 * --threads is accepted for the common interface; the measurement is per core (1 thread). */
#include "bench_common.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define PEAK_CHAINS 12 /* > FMA latency (4) x pipes (2): keeps both pipes busy */

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static double fma_avx512(long iters) {
  __m512 acc[PEAK_CHAINS];
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int c = 0; c < PEAK_CHAINS; ++c) acc[c] = _mm512_set1_ps((float)c);
  for (long i = 0; i < iters; ++i)
    for (int c = 0; c < PEAK_CHAINS; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  float sink = 0;
  for (int c = 0; c < PEAK_CHAINS; ++c) sink += _mm512_reduce_add_ps(acc[c]);
  return (double)sink; /* keeps the loop alive */
}

__attribute__((target("avx2,fma"))) static double fma_avx2(long iters) {
  __m256 acc[PEAK_CHAINS];
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int c = 0; c < PEAK_CHAINS; ++c) acc[c] = _mm256_set1_ps((float)c);
  for (long i = 0; i < iters; ++i)
    for (int c = 0; c < PEAK_CHAINS; ++c) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  float out[8], sink = 0;
  for (int c = 0; c < PEAK_CHAINS; ++c) {
    _mm256_storeu_ps(out, acc[c]);
    for (int k = 0; k < 8; ++k) sink += out[k];
  }
  return (double)sink;
}
#endif

/* The generic path's vectors (host/simd.h: 4 floats, multiply then add; 2 flops per lane). */
typedef float v4f __attribute__((vector_size(16)));
static double muladd_generic(long iters) {
  v4f acc[PEAK_CHAINS];
  const v4f a = {0.999999f, 0.999999f, 0.999999f, 0.999999f}, b = {1e-7f, 1e-7f, 1e-7f, 1e-7f};
  for (int c = 0; c < PEAK_CHAINS; ++c) acc[c] = (v4f){(float)c, (float)c, (float)c, (float)c};
  for (long i = 0; i < iters; ++i)
    for (int c = 0; c < PEAK_CHAINS; ++c) acc[c] = acc[c] * a + b;
  float sink = 0;
  for (int c = 0; c < PEAK_CHAINS; ++c) sink += acc[c][0] + acc[c][1] + acc[c][2] + acc[c][3];
  return (double)sink;
}

static void usage(FILE *f) {
  fprintf(f, "usage: bench_peak [--quick] [--threads N] [--runs R] | bench_peak --paths\n");
}

int main(int argc, char **argv) {
  bench_flags fl = {0, -1, -1, -1};
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    }
    if (strcmp(argv[i], "--paths") == 0) {
      for (int p = MBRL_CPU_PATH_COUNT - 1; p >= 0; --p)
        if (mbrl_cpu_supports((mbrl_cpu_path)p)) puts(mbrl_cpu_path_name((mbrl_cpu_path)p));
      return 0;
    }
    int r = bench_common_flag("bench_peak", argc, argv, &i, &fl, 0);
    if (r == 2) return 2;
    if (r == 0) return bench_bad_arg("bench_peak", argv[i], usage);
  }
  const int runs = fl.runs > 0 ? fl.runs : (fl.quick ? 3 : 7);
  bench_cpu_kernels("bench_peak");
  const mbrl_cpu_path path = mbrl_cpu_kernels();
  const char *isa = "generic_muladd";
  double (*kernel)(long) = muladd_generic;
  int lanes = 4;
#if defined(__x86_64__)
  if (path == MBRL_CPU_AVX512) {
    isa = "avx512f", kernel = fma_avx512, lanes = 16;
  } else if (path == MBRL_CPU_AVX2) {
    isa = "avx2_fma", kernel = fma_avx2, lanes = 8;
  }
#endif
  /* size one run to ~0.2 s from a short calibration */
  long iters = 1000000;
  double sink = 0, t0 = bench_now_s();
  sink += kernel(iters);
  double dt = bench_now_s() - t0;
  if (dt > 0) iters = (long)((double)iters * 0.2 / dt) + 1;
  double rate[31];
  for (int r = 0; r < runs; ++r) {
    t0 = bench_now_s();
    sink += kernel(iters);
    dt = bench_now_s() - t0;
    rate[r] = 2.0 * PEAK_CHAINS * lanes * (double)iters / dt * 1e-9;
  }
  const double med = bench_median(rate, runs);
  double best = rate[0];
  for (int r = 1; r < runs; ++r) best = rate[r] > best ? rate[r] : best;
  char date[64];
  bench_date_utc(date, sizeof date);
  bench_print_head("peak", 0);
  printf(" \"threads\": 1, \"date\": \"%s\", \"command\": ", date);
  bench_print_command(argc, argv);
  printf(",\n \"results\": [{\"name\": \"fp32_fma_peak\", \"device\": \"cpu\", \"path\": \"%s\", "
         "\"isa\": \"%s\", \"threads\": 1, \"gflops\": %.2f, \"gflops_best\": %.2f, \"runs\": %d, "
         "\"sink\": %g}]}\n",
         mbrl_cpu_path_name(path), isa, med, best, runs, sink);
  return 0;
}
