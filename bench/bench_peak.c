/* bench_peak.c - the CPU's measured FP32 FMA ceiling on one core: independent chains of
 * packed fused multiply-adds (AVX-512 when the CPU has it, else AVX2+FMA, else scalar C),
 * enough of them to cover the FMA latency, timed over ~0.2 s per run, median of runs.
 * bench/make_results.py uses it as the peak in the '% peak' column of the MPC table, since
 * /proc/cpuinfo's MHz is the nominal clock and the core may boost above it.
 *
 *   bench_peak [--quick] [--threads N] [--runs R]     (one JSON object on stdout)
 * --threads is accepted for the common interface; the measurement is per core (1 thread). */
#include "bench_common.h"

#include <immintrin.h>

#define PEAK_CHAINS 12 /* > FMA latency (4) x pipes (2): keeps both pipes busy */

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

static double fma_scalar(long iters) {
  float acc[PEAK_CHAINS];
  for (int c = 0; c < PEAK_CHAINS; ++c) acc[c] = (float)c;
  for (long i = 0; i < iters; ++i)
    for (int c = 0; c < PEAK_CHAINS; ++c) acc[c] = acc[c] * 0.999999f + 1e-7f;
  float sink = 0;
  for (int c = 0; c < PEAK_CHAINS; ++c) sink += acc[c];
  return (double)sink;
}

static void usage(FILE *f) {
  fprintf(f, "usage: bench_peak [--quick] [--threads N] [--runs R]\n");
}

int main(int argc, char **argv) {
  bench_flags fl = {0, -1, -1, -1};
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    }
    int r = bench_common_flag("bench_peak", argc, argv, &i, &fl, 0);
    if (r == 2) return 2;
    if (r == 0) return bench_bad_arg("bench_peak", argv[i], usage);
  }
  const int runs = fl.runs > 0 ? fl.runs : (fl.quick ? 3 : 7);
  const char *isa;
  double (*kernel)(long);
  int lanes;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) {
    isa = "avx512f", kernel = fma_avx512, lanes = 16;
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    isa = "avx2_fma", kernel = fma_avx2, lanes = 8;
  } else {
    isa = "scalar", kernel = fma_scalar, lanes = 1;
  }
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
  printf(",\n \"results\": [{\"name\": \"fp32_fma_peak\", \"device\": \"cpu\", \"isa\": \"%s\", "
         "\"threads\": 1, \"gflops\": %.2f, \"gflops_best\": %.2f, \"runs\": %d, \"sink\": %g}]}\n",
         isa, med, best, runs, sink);
  return 0;
}
