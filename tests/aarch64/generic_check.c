/* tests/aarch64/generic_check.c - scripts/aarch64-check cross-compiles this with the library's
 * generic kernel path for aarch64 and runs it under qemu-aarch64. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "host/cpu_kernels.h"
#include "host/nn_math.h"
#include "mbrl/cpu.h"
static double ulp_err(float got, double ref) {
  if (isnan(ref)) return isnan(got) ? 0 : 1e9;
  if (isnan(got)) return 1e9;
  float rf = (float)ref;
  if (isinf(rf) || isinf(got)) return got == rf ? 0 : 1e9;
  int e; frexp(fabs(ref) < 1.1754943508222875e-38 ? 1.1754943508222875e-38 : ref, &e);
  return fabs((double)got - ref) / ldexp(1.0, e - 24);
}
int main(void) {
  const mbrl_cpu_table *t = mbrl_cpu_table_get();
  printf("path %s, features: %s\n", mbrl_cpu_path_name(t->path), mbrl_cpu_features());
  const size_t N = 1 << 20;
  float *a = malloc(N * 4), *b = malloc(N * 4), *o = malloc(N * 4);
  int fail = 0;
  const char *names[] = {"exp", "log", "tanh", "sin", "cos", "atan2"};
  const double bound[] = {1.5, 1.5, 1.5, 2.5, 2.5, 3.0};
  for (int f = 0; f < 6; ++f) {
    for (size_t i = 0; i < N; ++i) { uint32_t u = (uint32_t)(i * 4093u + (i >> 10)); memcpy(&a[i], &u, 4); uint32_t v = (uint32_t)(i * 2654435761u); memcpy(&b[i], &v, 4); }
    t->vmath((mbrl_vmath_fn)f, o, a, b, N);
    double worst = 0;
    for (size_t i = 0; i < N; ++i) {
      double r = f == 0 ? exp(a[i]) : f == 1 ? (a[i] < 0 ? NAN : log(a[i])) : f == 2 ? tanh(a[i]) : f == 3 ? sin(a[i]) : f == 4 ? cos(a[i]) : atan2(a[i], b[i]);
      double e = ulp_err(o[i], r); if (e > worst) worst = e;
    }
    printf("%-6s max %.3f ulp (bound %.1f)\n", names[f], worst, bound[f]);
    fail |= worst > bound[f];
  }
  const int B = 33, in = 70, out = 64;
  float *x = malloc(4 * B * in), *W = malloc(4 * out * in), *bb = malloc(4 * out), *y = malloc(4 * B * out), *ys = malloc(4 * B * out), *yr = malloc(4 * B * out);
  srand(1);
  for (int i = 0; i < B * in; ++i) { float v = rand() / (float)RAND_MAX - 0.5f; x[i] = v > 0 ? v : 0; }
  for (int i = 0; i < out * in; ++i) W[i] = rand() / (float)RAND_MAX - 0.5f;
  for (int i = 0; i < out; ++i) bb[i] = rand() / (float)RAND_MAX;
  t->linear_forward(y, x, W, bb, B, in, out, 0);
  t->linear_forward(ys, x, W, bb, B, in, out, 1);
  for (int r = 0; r < B; ++r) t->linear_forward(yr + r * out, x + r * in, W, bb, 1, in, out, 0);
  double worst = 0; int neq = 0, rows = 0;
  for (int r = 0; r < B; ++r) for (int j = 0; j < out; ++j) {
    double acc = bb[j]; for (int i = 0; i < in; ++i) acc += (double)x[r * in + i] * W[j * in + i];
    double e = fabs(acc - y[r * out + j]) / (1e-5 + 1e-5 * fabs(acc)); if (e > worst) worst = e;
    neq += y[r * out + j] != ys[r * out + j]; rows += memcmp(&y[r * out + j], &yr[r * out + j], 4) != 0;
  }
  printf("linear: worst err/tol %.3f vs double, sparse != dense: %d, row alone != batch: %d\n", worst, neq, rows);
  fail |= worst > 1 || neq || rows;
  float p[8], m[8] = {0}, v[8] = {0}, g[8], p2[8], m2[8] = {0}, v2[8] = {0};
  for (int i = 0; i < 8; ++i) { p[i] = p2[i] = 0.1f * i; g[i] = 0.3f - 0.07f * i; }
  t->adam(p, m, v, g, 7, 0.9f, 0.999f, 0.01f, 0.03f, 1e-8f);
  for (int i = 0; i < 7; ++i) mbrl_adam_update(&p2[i], &m2[i], &v2[i], g[i], 0.9f, 0.999f, 0.01f, 0.03f, 1e-8f);
  const int adam_same = memcmp(p, p2, 7 * 4) == 0 && memcmp(m, m2, 7 * 4) == 0;
  printf("adam bit-identical to the scalar formula: %s\n", adam_same ? "yes" : "NO");
  fail |= !adam_same;
  printf("%s\n", fail ? "FAILED" : "all checks passed");
  return fail;
}
