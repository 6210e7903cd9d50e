// tests/test_nn_batched.cpp - the ensemble ops of mbrl/nn_batched.h: the Gaussian NLL against
// PyTorch (tests/data/ensemble_golden.h5, scripts/make_golden_ensemble.py), every op's
// gradient by finite differences, the batched ops against one nn.h call per member, and each
// CUDA twin against its CPU twin (skipped without a GPU).
#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "ensemble_golden.h"
#include "testing.h"

extern "C" {
#include "host/mlp_cuda.h"
#include "mbrl/nn_batched.h"
}

namespace {

using mbrl_test::randn;
using mbrl_test::worst_ratio;

using ensemble_golden::check;
const std::string &kGolden = ensemble_golden::path();
const char *kHint = ensemble_golden::hint();
std::vector<float> h5read(const std::string &file, const std::string &name) {
  return ensemble_golden::read(file, name);
}

std::vector<float> uniform(size_t n, unsigned seed, float lo, float hi) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto &x : v) x = d(g);
  return v;
}

// ---------------------------------------------------------------- per-element math

TEST(NnBatchedMath, SoftplusAndClampFollowPyTorch) {
  // softplus: threshold 20 (x itself above), log1p(exp(x)) below
  EXPECT_FLOAT_EQ(mbrl_softplus(25.0f), 25.0f);
  EXPECT_FLOAT_EQ(mbrl_softplus(0.0f), std::log(2.0f));
  EXPECT_NEAR(mbrl_softplus(-30.0f), std::exp(-30.0), 1e-20);
  EXPECT_FLOAT_EQ(mbrl_softplus_grad(25.0f), 1.0f);
  EXPECT_FLOAT_EQ(mbrl_softplus_grad(0.0f), 0.5f);
  // the clamp in double: max - sp(max - raw), then min + sp(. - min); it stays within
  // (min, max + sp(min - max)) (the second softplus lifts max by log1p(e^-(max - min)))
  auto sp = [](double x) { return x > 20 ? x : std::log1p(std::exp(x)); };
  for (float raw : {-40.0f, -12.0f, -3.0f, 0.0f, 0.4f, 3.0f, 40.0f}) {
    const float lv = mbrl_logvar_clamp(raw, 0.5f, -10.0f, nullptr);
    const double l1 = 0.5 - sp(0.5 - raw), want = -10.0 + sp(l1 + 10.0);
    EXPECT_NEAR(lv, want, 2e-6 * (1 + std::fabs(want))) << raw;
    EXPECT_LE(lv, 0.5 + std::log1p(std::exp(-10.5)) + 1e-6) << raw;
    EXPECT_GE(lv, -10.0f) << raw;
  }
}

// ---------------------------------------------------------------- Gaussian NLL vs PyTorch

// Reference in float64 from the same float32 inputs, so the op's float arithmetic is the only
// error: exp(-logvar) reaches e^12 here, the loss (~4e4) and dout (up to ~1e3) carry float
// rounding of a few 1e-7 relative: loss and member_loss rtol 1e-5, dout atol 1e-6 rtol 1e-5.
// The bound gradients sum 144 float terms of up to ~1e3 and both signs into values of ~0.3
// (dmax) and ~1e4 (dmin): atol 1e-4 (~1e-7 of the largest term), rtol 1e-5.
TEST(NnBatchedGolden, GaussianNllMatchesPyTorch) {
  const std::vector<float> out = h5read(kGolden, "nll/out"), tgt = h5read(kGolden, "nll/target");
  const std::vector<float> mx = h5read(kGolden, "nll/max_logvar"), mn = h5read(kGolden, "nll/min_logvar");
  const int M = 3, B = 16, O = 3;
  ASSERT_EQ(out.size(), (size_t)M * B * 2 * O) << kHint;
  float loss = 0;
  std::vector<float> ml(M), dout(out.size()), dmax(O), dmin(O);
  mbrl_nnb_gaussian_nll(&loss, ml.data(), dout.data(), dmax.data(), dmin.data(), out.data(),
                        tgt.data(), mx.data(), mn.data(), M, B, O, 0.01f);
  check("nll loss", {loss}, h5read(kGolden, "nll/loss"), 0.0, 1e-5);
  check("nll member_loss", ml, h5read(kGolden, "nll/member_loss"), 0.0, 1e-5);
  check("nll dout", dout, h5read(kGolden, "nll/dout"), 1e-6, 1e-5);
  check("nll dmax_logvar", dmax, h5read(kGolden, "nll/dmax"), 1e-4, 1e-5);
  check("nll dmin_logvar", dmin, h5read(kGolden, "nll/dmin"), 1e-4, 1e-5);
  // NULL outputs are skipped, the loss is unchanged
  float loss2 = 0;
  mbrl_nnb_gaussian_nll(&loss2, nullptr, nullptr, nullptr, nullptr, out.data(), tgt.data(),
                        mx.data(), mn.data(), M, B, O, 0.01f);
  EXPECT_EQ(loss2, loss);
}

// ---------------------------------------------------------------- finite differences

// Central differences of a float op whose loss is summed in double: perturbing one input
// changes one float term (relative rounding ~1e-7 of a term of O(1)), i.e. ~1e-7 / 2h noise
// (the bound gradients move all 30 terms: ~3e-6 / 2h); truncation is O(h^2 f''') with
// f''' = O(10) for these exp/softplus terms. h = 5e-3: ~3e-4 noise + ~3e-4 truncation;
// tolerance atol 2e-3, rtol 1e-2 (a wrong term is O(0.1..1)).
TEST(NnBatchedFd, GaussianNllGradients) {
  const int M = 2, B = 5, O = 3;
  std::vector<float> out((size_t)M * B * 2 * O), tgt = randn((size_t)M * B * O, 2, 0.3f);
  std::vector<float> mean = randn((size_t)M * B * O, 1, 0.8f);
  for (size_t i = 0; i < tgt.size(); ++i) tgt[i] += mean[i]; // residuals ~0.3: terms of O(1)
  std::vector<float> raw = uniform((size_t)M * B * O, 3, -7.0f, 2.0f);
  for (int r = 0; r < M * B; ++r)
    for (int j = 0; j < O; ++j) {
      out[(size_t)r * 2 * O + j] = mean[(size_t)r * O + j];
      out[(size_t)r * 2 * O + O + j] = raw[(size_t)r * O + j];
    }
  std::vector<float> mx = {0.5f, -0.5f, 1.0f}, mn = {-4.0f, -3.0f, -5.0f};
  auto L = [&](const std::vector<float> &o, const std::vector<float> &a,
               const std::vector<float> &b) {
    float l = 0;
    mbrl_nnb_gaussian_nll(&l, nullptr, nullptr, nullptr, nullptr, o.data(), tgt.data(), a.data(),
                          b.data(), M, B, O, 0.01f);
    return (double)l;
  };
  float loss = 0;
  std::vector<float> dout(out.size()), dmax(O), dmin(O);
  mbrl_nnb_gaussian_nll(&loss, nullptr, dout.data(), dmax.data(), dmin.data(), out.data(),
                        tgt.data(), mx.data(), mn.data(), M, B, O, 0.01f);
  const float h = 5e-3f;
  std::vector<float> fd_out(out.size()), fd_max(O), fd_min(O);
  for (size_t i = 0; i < out.size(); ++i) {
    std::vector<float> p = out, q = out;
    p[i] += h, q[i] -= h;
    fd_out[i] = (float)((L(p, mx, mn) - L(q, mx, mn)) / (2.0 * h));
  }
  for (int j = 0; j < O; ++j) {
    std::vector<float> p = mx, q = mx;
    p[j] += h, q[j] -= h;
    fd_max[j] = (float)((L(out, p, mn) - L(out, q, mn)) / (2.0 * h));
    p = mn, q = mn;
    p[j] += h, q[j] -= h;
    fd_min[j] = (float)((L(out, mx, p) - L(out, mx, q)) / (2.0 * h));
  }
  check("fd nll dout", dout, fd_out, 2e-3, 1e-2);
  check("fd nll dmax_logvar", dmax, fd_max, 2e-3, 1e-2);
  check("fd nll dmin_logvar", dmin, fd_min, 2e-3, 1e-2);
}

// L = sum R * y over the batched op's output, in double.
double dot(const std::vector<float> &R, const std::vector<float> &y) {
  double s = 0;
  for (size_t i = 0; i < R.size(); ++i) s += (double)R[i] * (double)y[i];
  return s;
}

// Linear is bilinear: central differences are exact up to float rounding of the output
// (~1e-7 * sum |R y| ~ 1e-5) / 2h with h = 1e-2: atol 2e-3, rtol 1e-3.
TEST(NnBatchedFd, LinearBackward) {
  const int M = 3, B = 4, in = 5, out = 3;
  const size_t sp = 40; // member stride > in*out + out: the layout of a flat parameter array
  for (size_t sx : {(size_t)0, (size_t)B * in}) {
    SCOPED_TRACE("sx=" + std::to_string(sx));
    std::vector<float> x = randn(sx ? (size_t)M * B * in : (size_t)B * in, 5);
    std::vector<float> P = randn((size_t)M * sp, 6, 0.5f); // W at 0, b at in*out
    std::vector<float> R = randn((size_t)M * B * out, 7);
    auto fwd = [&](const std::vector<float> &xx, const std::vector<float> &PP) {
      std::vector<float> y((size_t)M * B * out);
      mbrl_nnb_linear_forward(y.data(), xx.data(), PP.data(), PP.data() + in * out, M, B, in, out,
                              sx, sp);
      return dot(R, y);
    };
    std::vector<float> dx((size_t)M * B * in), G((size_t)M * sp, 0.0f);
    mbrl_nnb_linear_backward(dx.data(), G.data(), G.data() + in * out, R.data(), x.data(),
                             P.data(), M, B, in, out, sx, sp);
    const float h = 1e-2f;
    std::vector<float> fdG(G.size(), 0.0f), got(G.size(), 0.0f);
    for (int m = 0; m < M; ++m)
      for (int k = 0; k < in * out + out; ++k) {
        const size_t i = (size_t)m * sp + (size_t)k;
        std::vector<float> p = P, q = P;
        p[i] += h, q[i] -= h;
        fdG[i] = (float)((fwd(x, p) - fwd(x, q)) / (2.0 * h));
        got[i] = G[i];
      }
    check("fd linear dW, db", got, fdG, 2e-3, 1e-3);
    if (sx) { // dx per member (with a shared x the op's dx is per member: summed below)
      std::vector<float> fdx(x.size());
      for (size_t i = 0; i < x.size(); ++i) {
        std::vector<float> p = x, q = x;
        p[i] += h, q[i] -= h;
        fdx[i] = (float)((fwd(p, P) - fwd(q, P)) / (2.0 * h));
      }
      check("fd linear dx", dx, fdx, 2e-3, 1e-3);
    } else {
      std::vector<float> sum((size_t)B * in, 0.0f), fdx((size_t)B * in);
      for (int m = 0; m < M; ++m)
        for (int i = 0; i < B * in; ++i) sum[i] += dx[(size_t)m * B * in + i];
      for (size_t i = 0; i < x.size(); ++i) {
        std::vector<float> p = x, q = x;
        p[i] += h, q[i] -= h;
        fdx[i] = (float)((fwd(p, P) - fwd(q, P)) / (2.0 * h));
      }
      check("fd linear dx (shared x, summed)", sum, fdx, 2e-3, 1e-3);
    }
  }
}

// BN + tanh (smooth) / identity, train and eval mode: tolerance as the mlp FD test (atol 2e-3,
// rtol 2e-2 at h = 1e-2).
TEST(NnBatchedFd, BatchNormActBackward) {
  const int M = 2, B = 6, C = 4;
  const size_t sp = 10, sbuf = 9; // gamma at 0, beta at C; running mean at 0, var at C
  for (mbrl_act act : {MBRL_ACT_TANH, MBRL_ACT_NONE})
    for (int train : {1, 0}) {
      SCOPED_TRACE("act=" + std::to_string((int)act) + " train=" + std::to_string(train));
      std::vector<float> x = randn((size_t)M * B * C, 8, 1.3f, 0.2f);
      std::vector<float> P = randn((size_t)M * sp, 9, 0.4f);
      for (int m = 0; m < M; ++m)
        for (int c = 0; c < C; ++c) P[(size_t)m * sp + c] += 1.0f;
      std::vector<float> buf0((size_t)M * sbuf);
      for (int m = 0; m < M; ++m)
        for (int c = 0; c < C; ++c) {
          buf0[(size_t)m * sbuf + c] = 0.3f * (float)c - 0.2f;
          buf0[(size_t)m * sbuf + C + c] = 0.5f + 0.25f * (float)c;
        }
      std::vector<float> R = randn((size_t)M * B * C, 10);
      auto fwd = [&](const std::vector<float> &xx, const std::vector<float> &PP,
                     std::vector<float> *y_out, std::vector<float> *mean,
                     std::vector<float> *rstd) {
        std::vector<float> y(xx.size()), mu((size_t)M * C), rs((size_t)M * C), buf = buf0;
        mbrl_nnb_bn_act_forward(y.data(), mu.data(), rs.data(), buf.data(), buf.data() + C,
                                xx.data(), PP.data(), PP.data() + C, M, B, C, sp, sbuf, 0.1f,
                                1e-5f, act, train);
        if (y_out) *y_out = y;
        if (mean) *mean = mu;
        if (rstd) *rstd = rs;
        return dot(R, y);
      };
      std::vector<float> y, mu, rs;
      fwd(x, P, &y, &mu, &rs);
      std::vector<float> dx(x.size()), G((size_t)M * sp, 0.0f);
      mbrl_nnb_act_bn_backward(dx.data(), G.data(), G.data() + C, R.data(), y.data(), x.data(),
                               mu.data(), rs.data(), P.data(), M, B, C, sp, act, train);
      const float h = 1e-2f;
      std::vector<float> fdx(x.size()), fdG(G.size(), 0.0f), got(G.size(), 0.0f);
      for (size_t i = 0; i < x.size(); ++i) {
        std::vector<float> p = x, q = x;
        p[i] += h, q[i] -= h;
        fdx[i] = (float)((fwd(p, P, 0, 0, 0) - fwd(q, P, 0, 0, 0)) / (2.0 * h));
      }
      for (int m = 0; m < M; ++m)
        for (int k = 0; k < 2 * C; ++k) {
          const size_t i = (size_t)m * sp + (size_t)k;
          std::vector<float> p = P, q = P;
          p[i] += h, q[i] -= h;
          fdG[i] = (float)((fwd(x, p, 0, 0, 0) - fwd(x, q, 0, 0, 0)) / (2.0 * h));
          got[i] = G[i];
        }
      check("fd bn_act dx", dx, fdx, 2e-3, 2e-2);
      check("fd bn_act dgamma, dbeta", got, fdG, 2e-3, 2e-2);
    }
}

// ---------------------------------------------------------------- batched == per member

TEST(NnBatched, MseLossPerMember) {
  const int M = 3, B = 7, O = 2;
  std::vector<float> p = randn((size_t)M * B * O, 11), t = randn((size_t)M * B * O, 12);
  float loss = 0;
  std::vector<float> ml(M), d(p.size());
  mbrl_nnb_mse_loss(&loss, ml.data(), d.data(), p.data(), t.data(), M, B, O);
  double total = 0;
  for (int m = 0; m < M; ++m) {
    float lm = 0;
    std::vector<float> dm((size_t)B * O);
    mbrl_nn_mse_loss(&lm, dm.data(), p.data() + (size_t)m * B * O, t.data() + (size_t)m * B * O,
                     (size_t)B * O);
    EXPECT_NEAR(ml[m], lm, 1e-6 * std::fabs(lm));
    for (int i = 0; i < B * O; ++i) EXPECT_FLOAT_EQ(d[(size_t)m * B * O + i], dm[i]);
    total += lm;
  }
  EXPECT_NEAR(loss, total, 1e-6 * total);
}

TEST(NnBatched, SplitAndGather) {
  const int O = 3;
  const size_t rows = 5;
  std::vector<float> out = randn(rows * 2 * O, 13, 3.0f), mx = {0.5f, 0.1f, 1.0f},
                     mn = {-10.f, -2.f, -4.f};
  std::vector<float> mean(rows * O), lv(rows * O);
  mbrl_nnb_gaussian_split(mean.data(), lv.data(), out.data(), mx.data(), mn.data(), rows, O);
  for (size_t r = 0; r < rows; ++r)
    for (int j = 0; j < O; ++j) {
      EXPECT_EQ(mean[r * O + j], out[r * 2 * O + j]);
      EXPECT_EQ(lv[r * O + j], mbrl_logvar_clamp(out[r * 2 * O + O + j], mx[j], mn[j], nullptr));
    }
  std::vector<float> X = randn(10 * 4, 14), y(3 * 4);
  const int32_t idx[3] = {7, 0, 7};
  mbrl_nnb_gather_rows(y.data(), X.data(), idx, 3, 4);
  for (int r = 0; r < 3; ++r)
    for (int j = 0; j < 4; ++j) EXPECT_EQ(y[(size_t)r * 4 + j], X[(size_t)idx[r] * 4 + j]);
}

// ---------------------------------------------------------------- CUDA twins vs CPU twins

#ifdef MBRL_HAVE_CUDA
// A device copy of a host vector (freed by the destructor).
struct Dev {
  float *p = nullptr;
  size_t n = 0;
  explicit Dev(const std::vector<float> &v) : n(v.size()) {
    EXPECT_EQ(mbrl_mlp_cuda_alloc((void **)&p, (n ? n : 1) * sizeof(float)), MBRL_OK);
    if (n) {
      EXPECT_EQ(mbrl_mlp_cuda_copy(p, v.data(), n * sizeof(float), 1), MBRL_OK);
    }
  }
  explicit Dev(size_t count) : Dev(std::vector<float>(count, 0.0f)) {}
  ~Dev() { mbrl_mlp_cuda_free(p); }
  std::vector<float> get() const {
    std::vector<float> v(n);
    if (n) {
      EXPECT_EQ(mbrl_mlp_cuda_copy(v.data(), p, n * sizeof(float), 0), MBRL_OK);
    }
    return v;
  }
};
#endif

// Tolerances CUDA vs CPU: float32 with different summation orders (cuBLAS blocking, per-column
// partial sums): products atol 1e-5 rtol 1e-4; BatchNorm outputs and gradients atol 1e-4 rtol
// 1e-3 (backward subtracts near-equal sums); losses (double sums) rtol 1e-5; elementwise ops
// with the same MBRL_HD math exact up to libm vs CUDA expf/log1pf (a few ulp): rtol 1e-5.

TEST(NnBatchedCuda, LinearForwardBackwardMatchCpu) {
  MBRL_REQUIRE_GPU();
#ifdef MBRL_HAVE_CUDA
  const int M = 5, B = 37, in = 19, out = 23;
  const size_t sp = (size_t)in * out + out + 7;
  for (size_t sx : {(size_t)0, (size_t)B * in}) {
    SCOPED_TRACE("sx=" + std::to_string(sx));
    std::vector<float> x = randn(sx ? (size_t)M * B * in : (size_t)B * in, 20);
    std::vector<float> P = randn((size_t)M * sp, 21, 0.3f), dy = randn((size_t)M * B * out, 22);
    std::vector<float> y((size_t)M * B * out), dx((size_t)M * B * in), G((size_t)M * sp, 0.0f);
    mbrl_nnb_linear_forward(y.data(), x.data(), P.data(), P.data() + in * out, M, B, in, out, sx,
                            sp);
    mbrl_nnb_linear_backward(dx.data(), G.data(), G.data() + in * out, dy.data(), x.data(),
                             P.data(), M, B, in, out, sx, sp);
    Dev dxv(x), dP(P), ddy(dy), dyv(y.size()), ddx(dx.size()), dG(G);
    ASSERT_EQ(mbrl_nnb_linear_forward_cuda(dyv.p, dxv.p, dP.p, dP.p + in * out, M, B, in, out, sx,
                                           sp, nullptr), MBRL_OK) << mbrl_last_error();
    ASSERT_EQ(mbrl_nnb_linear_backward_cuda(ddx.p, dG.p, dG.p + in * out, ddy.p, dxv.p, dP.p, M, B,
                                            in, out, sx, sp, nullptr), MBRL_OK)
        << mbrl_last_error();
    check("cuda linear y", dyv.get(), y, 1e-5, 1e-4);
    check("cuda linear dx", ddx.get(), dx, 1e-5, 1e-4);
    check("cuda linear dW, db", dG.get(), G, 1e-4, 1e-4);
  }
#endif
}

TEST(NnBatchedCuda, BatchNormActMatchesCpu) {
  MBRL_REQUIRE_GPU();
#ifdef MBRL_HAVE_CUDA
  const int M = 4, B = 129, C = 45;
  const size_t sp = 2 * C + 3, sbuf = 2 * C + 1;
  for (mbrl_act act : {MBRL_ACT_RELU, MBRL_ACT_TANH})
    for (int train : {1, 0}) {
      SCOPED_TRACE("act=" + std::to_string((int)act) + " train=" + std::to_string(train));
      std::vector<float> x = randn((size_t)M * B * C, 23, 1.5f, 0.3f), P = randn((size_t)M * sp, 24);
      std::vector<float> buf = uniform((size_t)M * sbuf, 25, 0.2f, 1.5f), dy = randn(x.size(), 26);
      std::vector<float> y(x.size()), mu((size_t)M * C), rs((size_t)M * C), b2 = buf;
      mbrl_nnb_bn_act_forward(y.data(), mu.data(), rs.data(), b2.data(), b2.data() + C, x.data(),
                              P.data(), P.data() + C, M, B, C, sp, sbuf, 0.1f, 1e-5f, act, train);
      std::vector<float> dx(x.size()), G((size_t)M * sp, 0.0f);
      mbrl_nnb_act_bn_backward(dx.data(), G.data(), G.data() + C, dy.data(), y.data(), x.data(),
                               mu.data(), rs.data(), P.data(), M, B, C, sp, act, train);
      Dev dxv(x), dP(P), dbuf(buf), ddy(dy), dyv(y.size()), dmu(mu.size()), drs(rs.size()),
          ddx(dx.size()), dG(G.size());
      ASSERT_EQ(mbrl_nnb_bn_act_forward_cuda(dyv.p, dmu.p, drs.p, dbuf.p, dbuf.p + C, dxv.p, dP.p,
                                             dP.p + C, M, B, C, sp, sbuf, 0.1f, 1e-5f, act, train,
                                             nullptr), MBRL_OK) << mbrl_last_error();
      ASSERT_EQ(mbrl_nnb_act_bn_backward_cuda(ddx.p, dG.p, dG.p + C, ddy.p, dyv.p, dxv.p, dmu.p,
                                              drs.p, dP.p, M, B, C, sp, act, train, nullptr),
                MBRL_OK) << mbrl_last_error();
      check("cuda bn_act y", dyv.get(), y, 1e-4, 1e-3);
      check("cuda bn_act mean", dmu.get(), mu, 1e-5, 1e-4);
      check("cuda bn_act rstd", drs.get(), rs, 1e-5, 1e-4);
      check("cuda bn_act running stats", dbuf.get(), b2, 1e-5, 1e-4);
      check("cuda act_bn dx", ddx.get(), dx, 1e-4, 1e-3);
      check("cuda act_bn dgamma, dbeta", dG.get(), G, 1e-4, 1e-3);
    }
#endif
}

TEST(NnBatchedCuda, LossesSplitGatherMatchCpu) {
  MBRL_REQUIRE_GPU();
#ifdef MBRL_HAVE_CUDA
  const std::vector<float> out = h5read(kGolden, "nll/out"), tgt = h5read(kGolden, "nll/target");
  const std::vector<float> mx = h5read(kGolden, "nll/max_logvar"), mn = h5read(kGolden, "nll/min_logvar");
  const int M = 3, B = 16, O = 3;
  ASSERT_EQ(out.size(), (size_t)M * B * 2 * O);
  float loss = 0;
  std::vector<float> ml(M), dout(out.size()), dmax(O), dmin(O);
  mbrl_nnb_gaussian_nll(&loss, ml.data(), dout.data(), dmax.data(), dmin.data(), out.data(),
                        tgt.data(), mx.data(), mn.data(), M, B, O, 0.01f);
  Dev dout_in(out), dt(tgt), dmx(mx), dmn(mn), dl(1), dml(M), dd(out.size()), dgx(O), dgn(O);
  ASSERT_EQ(mbrl_nnb_gaussian_nll_cuda(dl.p, dml.p, dd.p, dgx.p, dgn.p, dout_in.p, dt.p, dmx.p,
                                       dmn.p, M, B, O, 0.01f, nullptr), MBRL_OK)
      << mbrl_last_error();
  check("cuda nll loss", dl.get(), {loss}, 0.0, 1e-5);
  check("cuda nll member_loss", dml.get(), ml, 0.0, 1e-5);
  check("cuda nll dout", dd.get(), dout, 1e-6, 1e-5);
  check("cuda nll dmax", dgx.get(), dmax, 1e-5, 1e-5);
  check("cuda nll dmin", dgn.get(), dmin, 1e-5, 1e-5);

  std::vector<float> p = randn(300, 30), t = randn(300, 31);
  float l2 = 0;
  std::vector<float> ml2(4), dp(300);
  mbrl_nnb_mse_loss(&l2, ml2.data(), dp.data(), p.data(), t.data(), 4, 25, 3);
  Dev dpp(p), dtt(t), dl2(1), dml2(4), ddp(300);
  ASSERT_EQ(mbrl_nnb_mse_loss_cuda(dl2.p, dml2.p, ddp.p, dpp.p, dtt.p, 4, 25, 3, nullptr), MBRL_OK);
  check("cuda mse loss", dl2.get(), {l2}, 0.0, 1e-5);
  check("cuda mse member_loss", dml2.get(), ml2, 0.0, 1e-5);
  check("cuda mse dpred", ddp.get(), dp, 0.0, 1e-6);

  std::vector<float> mean((size_t)M * B * O), lv(mean.size());
  mbrl_nnb_gaussian_split(mean.data(), lv.data(), out.data(), mx.data(), mn.data(), (size_t)M * B, O);
  Dev dm(mean.size()), dlv(lv.size());
  ASSERT_EQ(mbrl_nnb_gaussian_split_cuda(dm.p, dlv.p, dout_in.p, dmx.p, dmn.p, (size_t)M * B, O,
                                         nullptr), MBRL_OK);
  check("cuda split mean", dm.get(), mean, 0.0, 0.0);
  check("cuda split logvar", dlv.get(), lv, 1e-6, 1e-5);

  std::vector<float> X = randn(50 * 4, 32), y(20 * 4);
  std::vector<int32_t> idx(20);
  for (int i = 0; i < 20; ++i) idx[i] = (i * 7) % 50;
  mbrl_nnb_gather_rows(y.data(), X.data(), idx.data(), 20, 4);
  int32_t *didx = nullptr;
  ASSERT_EQ(mbrl_mlp_cuda_alloc((void **)&didx, 20 * sizeof(int32_t)), MBRL_OK);
  ASSERT_EQ(mbrl_mlp_cuda_copy(didx, idx.data(), 20 * sizeof(int32_t), 1), MBRL_OK);
  Dev dX(X), dy(y.size());
  ASSERT_EQ(mbrl_nnb_gather_rows_cuda(dy.p, dX.p, didx, 20, 4, nullptr), MBRL_OK);
  check("cuda gather", dy.get(), y, 0.0, 0.0);
  mbrl_mlp_cuda_free(didx);
#endif
}

}  // namespace
