// tests/test_vmath.cpp - the vector math of src/host/vmath.h (exp, log, tanh, sin, cos, atan2)
// on the CPU kernel path in use (scripts/test runs this once per path the CPU has): the
// maximum error in ulp against libm in double precision over the whole float range, sampled
// (2^22 inputs per function spread over all bit patterns, so every binade of both signs is
// hit, plus dense sweeps where the functions matter most), and the special values (NaN,
// infinities, signed zeros, denormals) exactly as C's float functions give them.
// The bounds are the measured maxima rounded up (avx512 / avx2 / generic measured alike):
// exp 0.99 -> 1.5, log 0.80 -> 1.5, tanh 1.28 -> 1.5, sin 2.15 / cos 2.39 -> 2.5, atan2 2.57 -> 3.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "testing.h"

extern "C" {
#include "host/cpu_kernels.h"
#include "mbrl/cpu.h"
}

namespace {

float f_of_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// |got - ref| in units of the float ulp at ref (denormal spacing below FLT_MIN); a NaN where
// ref is not NaN, or a wrong infinity, counts as 1e9.
double ulp_error(float got, double ref) {
  if (std::isnan(ref)) return std::isnan(got) ? 0.0 : 1e9;
  if (std::isnan(got)) return 1e9;
  const float rf = (float)ref;  // rounds to inf beyond FLT_MAX
  if (std::isinf(rf) || std::isinf(got)) return got == rf ? 0.0 : 1e9;
  int e = 0;
  std::frexp(std::fabs(ref) < 1.1754943508222875e-38 ? 1.1754943508222875e-38 : ref, &e);
  const double ulp = std::ldexp(1.0, e - 24);
  return std::fabs((double)got - ref) / ulp;
}

std::vector<float> run(mbrl_vmath_fn fn, const std::vector<float> &a,
                       const std::vector<float> &b = {}) {
  std::vector<float> out(a.size());
  mbrl_cpu_table_get()->vmath(fn, out.data(), a.data(), b.empty() ? nullptr : b.data(), a.size());
  return out;
}

// Bit patterns i * 1021 + (i >> 12) for i < 2^22: all exponents, both signs, varied mantissas.
std::vector<float> whole_range() {
  std::vector<float> v(1u << 22);
  for (uint32_t i = 0; i < v.size(); ++i) v[i] = f_of_bits(i * 1021u + (i >> 12));
  return v;
}

struct Worst {
  double ulp = 0.0;
  float x = 0.0f, y = 0.0f, got = 0.0f;
  double ref = 0.0;
};

template <typename Ref>
Worst worst_of(const std::vector<float> &x, const std::vector<float> &got, Ref ref,
               const std::vector<float> *y = nullptr) {
  Worst w;
  for (size_t i = 0; i < x.size(); ++i) {
    const double r = y ? ref(x[i], (*y)[i]) : ref(x[i], 0.0f);
    const double e = ulp_error(got[i], r);
    if (e > w.ulp) w = {e, x[i], y ? (*y)[i] : 0.0f, got[i], r};
  }
  return w;
}

void report(const char *name, const Worst &w, double bound) {
  std::printf("  %-6s on %-7s max %.3f ulp (bound %.1f) at x=%a y=%a: got %a, libm %a\n", name,
              mbrl_cpu_path_name(mbrl_cpu_kernels()), w.ulp, bound, (double)w.x, (double)w.y,
              (double)w.got, w.ref);
  EXPECT_LE(w.ulp, bound) << name;
}

// Inputs of a dense sweep: n evenly spaced floats in [lo, hi].
std::vector<float> sweep(double lo, double hi, size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = (float)(lo + (hi - lo) * (double)i / (double)(n - 1));
  return v;
}

std::vector<float> cat(std::vector<float> a, const std::vector<float> &b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST(Vmath, ExpWholeRange) {
  auto x = cat(whole_range(), sweep(-104.0, 89.0, 1 << 20));
  auto got = run(MBRL_VMATH_EXP, x);
  report("exp", worst_of(x, got, [](float a, float) { return std::exp((double)a); }), 1.5);
}

TEST(Vmath, LogWholeRange) {
  auto x = cat(whole_range(), sweep(0.25, 4.0, 1 << 20));
  auto got = run(MBRL_VMATH_LOG, x);
  report("log", worst_of(x, got, [](float a, float) { return a < 0 ? NAN : std::log((double)a); }),
         1.5);
}

TEST(Vmath, TanhWholeRange) {
  auto x = cat(whole_range(), sweep(-10.0, 10.0, 1 << 20));
  auto got = run(MBRL_VMATH_TANH, x);
  report("tanh", worst_of(x, got, [](float a, float) { return std::tanh((double)a); }), 1.5);
}

TEST(Vmath, SinCosWholeRange) {
  // |x| > 512 goes to libm's sinf/cosf: the error there is libm's own (<= 1 ulp)
  auto x = cat(whole_range(), sweep(-8.0, 8.0, 1 << 20));
  auto s = run(MBRL_VMATH_SIN, x), c = run(MBRL_VMATH_COS, x);
  report("sin", worst_of(x, s, [](float a, float) { return std::sin((double)a); }), 2.5);
  report("cos", worst_of(x, c, [](float a, float) { return std::cos((double)a); }), 2.5);
  for (size_t i = 0; i < x.size(); ++i)
    if (std::fabs(x[i]) > 512.0f) {
      const float rs = sinf(x[i]), rc = cosf(x[i]);
      ASSERT_EQ(std::memcmp(&s[i], &rs, 4), 0) << x[i];
      ASSERT_EQ(std::memcmp(&c[i], &rc, 4), 0) << x[i];
    }
}

TEST(Vmath, Atan2WholeRange) {
  // random bit patterns for both arguments, then the unit circle (the planner's use)
  std::vector<float> y = whole_range(), x(y.size());
  for (uint32_t i = 0; i < x.size(); ++i) x[i] = f_of_bits(i * 2654435761u);
  const size_t n = 1 << 20;
  for (size_t i = 0; i < n; ++i) {
    const double th = -M_PI + 2.0 * M_PI * (double)i / (double)(n - 1);
    const double r = 0.5 + (double)(i % 7) * 0.25;
    y.push_back((float)(r * std::sin(th)));
    x.push_back((float)(r * std::cos(th)));
  }
  auto got = run(MBRL_VMATH_ATAN2, y, x);
  report("atan2",
         worst_of(y, got, [](float a, float b) { return std::atan2((double)a, (double)b); }, &x),
         3.0);
}

TEST(Vmath, SpecialValuesAsLibm) {
  const float inf = INFINITY, nan = NAN, den = 1e-40f, mx = 3.4028235e38f;
  const std::vector<float> v = {0.0f, -0.0f, inf, -inf, nan, -nan, den, -den, 1.0f, -1.0f,
                                mx, -mx, 88.72283f, 88.7229f, -87.33655f, -103.9721f, -104.0f,
                                1e-30f, 0.625f, -0.625f, 9.0f, 44.0f, 512.0f, 512.00006f};
  const std::vector<std::pair<mbrl_vmath_fn, float (*)(float)>> fns = {
      {MBRL_VMATH_EXP, expf}, {MBRL_VMATH_LOG, logf}, {MBRL_VMATH_TANH, tanhf},
      {MBRL_VMATH_SIN, sinf}, {MBRL_VMATH_COS, cosf}};
  for (auto [fn, ref] : fns) {
    auto got = run(fn, v);
    for (size_t i = 0; i < v.size(); ++i) {
      const float r = ref(v[i]);
      SCOPED_TRACE("fn " + std::to_string((int)fn) + " x " + std::to_string(v[i]));
      EXPECT_EQ(std::isnan(got[i]), std::isnan(r));
      if (std::isnan(r)) continue;
      EXPECT_EQ(std::isinf(got[i]), std::isinf(r));
      if (std::isinf(r) || r == 0.0f) {
        EXPECT_EQ(std::memcmp(&got[i], &r, 4), 0) << got[i] << " vs " << r;
      }
      EXPECT_LE(ulp_error(got[i], (double)r), 2.5) << got[i] << " vs " << r;
    }
  }
  // atan2: every pair of the special values (signed zeros give +-0 or +-pi, infinities the
  // multiples of pi/4), as atan2f
  std::vector<float> ys, xs;
  for (float a : v)
    for (float b : v) {
      ys.push_back(a);
      xs.push_back(b);
    }
  auto got = run(MBRL_VMATH_ATAN2, ys, xs);
  for (size_t i = 0; i < ys.size(); ++i) {
    const float r = atan2f(ys[i], xs[i]);
    SCOPED_TRACE("atan2(" + std::to_string(ys[i]) + ", " + std::to_string(xs[i]) + ")");
    EXPECT_EQ(std::isnan(got[i]), std::isnan(r));
    if (std::isnan(r)) continue;
    EXPECT_EQ(std::signbit(got[i]), std::signbit(r));
    EXPECT_LE(ulp_error(got[i], (double)r), 3.0) << got[i] << " vs " << r;
  }
}

// Tails: n not a multiple of the vector width gives the same values as the same inputs in a
// longer call, and writes nothing past n.
TEST(Vmath, TailsAndLengths) {
  std::vector<float> x = sweep(-3.0, 3.0, 37), y = sweep(0.5, 2.0, 37);
  for (mbrl_vmath_fn fn : {MBRL_VMATH_EXP, MBRL_VMATH_TANH, MBRL_VMATH_SIN, MBRL_VMATH_ATAN2}) {
    std::vector<float> full(37);
    mbrl_cpu_table_get()->vmath(fn, full.data(), x.data(), y.data(), 37);
    for (size_t n : {size_t(1), size_t(3), size_t(17), size_t(36)}) {
      std::vector<float> part(n + 4, 7.0f);
      mbrl_cpu_table_get()->vmath(fn, part.data(), x.data(), y.data(), n);
      for (size_t i = 0; i < n; ++i) EXPECT_EQ(part[i], full[i]) << "fn " << (int)fn << " n " << n;
      for (size_t i = n; i < n + 4; ++i) EXPECT_EQ(part[i], 7.0f);
    }
  }
}
