// tests/test_nn.cpp - the CPU ops of mbrl/nn.h against plain double-precision references,
// and the vectorized optimizer loops against the shared per-element math (bit for bit).
// Tolerances: float ops vs double references with K <= 128 terms: atol 1e-5, rtol 1e-5
// (linear, BN) - float rounding of a K-term sum is ~K * 6e-8 relative.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "testing.h"

extern "C" {
#include "host/nn_math.h"
#include "mbrl/nn.h"
}

namespace {

using mbrl_test::randn;
using mbrl_test::expect_close;



struct Shape {
  int B, in, out;
};

TEST(NnLinear, ForwardBackwardMatchDouble) {
  const Shape shapes[] = {{1, 4, 64}, {7, 64, 64}, {128, 4, 64}, {128, 64, 64}, {128, 64, 3}, {3, 5, 2}};
  for (const Shape &s : shapes) {
    SCOPED_TRACE(std::to_string(s.B) + "x" + std::to_string(s.in) + "->" + std::to_string(s.out));
    auto x = randn((size_t)s.B * s.in, 1), W = randn((size_t)s.out * s.in, 2, 0.3f),
         b = randn((size_t)s.out, 3), dy = randn((size_t)s.B * s.out, 4);
    std::vector<float> y((size_t)s.B * s.out), y0(y.size()), dx(x.size()), dW(W.size()), db(b.size());
    std::vector<double> ry(y.size()), ry0(y.size()), rdx(x.size(), 0.0), rdW(W.size(), 0.0), rdb(b.size(), 0.0);
    for (int r = 0; r < s.B; ++r)
      for (int o = 0; o < s.out; ++o) {
        double acc = 0;
        for (int i = 0; i < s.in; ++i) acc += (double)x[r * s.in + i] * W[o * s.in + i];
        ry0[r * s.out + o] = acc;
        ry[r * s.out + o] = acc + b[o];
        rdb[o] += dy[r * s.out + o];
        for (int i = 0; i < s.in; ++i) {
          rdW[o * s.in + i] += (double)dy[r * s.out + o] * x[r * s.in + i];
          rdx[r * s.in + i] += (double)dy[r * s.out + o] * W[o * s.in + i];
        }
      }
    mbrl_nn_linear_forward(y.data(), x.data(), W.data(), b.data(), s.B, s.in, s.out);
    mbrl_nn_linear_forward(y0.data(), x.data(), W.data(), nullptr, s.B, s.in, s.out);
    expect_close("linear y = x W^T + b", y, ry, 1e-5, 1e-5);
    expect_close("linear y = x W^T (no bias)", y0, ry0, 1e-5, 1e-5);
    std::fill(dW.begin(), dW.end(), 99.0f);  // must be overwritten, not accumulated
    mbrl_nn_linear_backward(dx.data(), dW.data(), db.data(), dy.data(), x.data(), W.data(), s.B,
                            s.in, s.out);
    expect_close("linear dx", dx, rdx, 1e-5, 1e-5);
    expect_close("linear dW", dW, rdW, 1e-5, 1e-5);
    expect_close("linear db", db, rdb, 1e-5, 1e-5);
    // NULL outputs are skipped
    std::vector<float> dW2(W.size());
    mbrl_nn_linear_backward(nullptr, dW2.data(), nullptr, dy.data(), x.data(), W.data(), s.B, s.in,
                            s.out);
    EXPECT_EQ(dW, dW2);
  }
}

void bn_case(int B, int C) {
  SCOPED_TRACE("B=" + std::to_string(B) + " C=" + std::to_string(C));
  const float mom = 0.1f, eps = 1e-5f;
  auto x = randn((size_t)B * C, 5, 2.0f, 0.5f), gamma = randn(C, 6, 0.5f, 1.0f),
       beta = randn(C, 7), dy = randn((size_t)B * C, 8);
  std::vector<float> rm = randn(C, 9, 0.1f), rv(C, 1.5f), rm0 = rm, rv0 = rv;
  std::vector<float> y(x.size()), mean(C), rstd(C), dx(x.size()), dg(C), dbt(C);
  mbrl_nn_batchnorm_forward_train(y.data(), mean.data(), rstd.data(), rm.data(), rv.data(), x.data(),
                                  gamma.data(), beta.data(), B, C, mom, eps);
  std::vector<double> ry(x.size()), rmean(C), rrstd(C), rrm(C), rrv(C), rdx(x.size()), rdg(C), rdb(C);
  std::vector<double> xhat(x.size());
  for (int c = 0; c < C; ++c) {
    double s = 0, ss = 0;
    for (int r = 0; r < B; ++r) s += x[r * C + c];
    const double mu = s / B;
    for (int r = 0; r < B; ++r) ss += (x[r * C + c] - mu) * (x[r * C + c] - mu);
    const double var = ss / B;
    rmean[c] = mu;
    rrstd[c] = 1.0 / std::sqrt(var + eps);
    rrm[c] = (1 - mom) * rm0[c] + mom * mu;
    rrv[c] = (1 - mom) * rv0[c] + mom * ss / (B - 1);
    double sdy = 0, sdyx = 0;
    for (int r = 0; r < B; ++r) {
      xhat[r * C + c] = (x[r * C + c] - mu) * rrstd[c];
      ry[r * C + c] = xhat[r * C + c] * gamma[c] + beta[c];
      sdy += dy[r * C + c];
      sdyx += dy[r * C + c] * xhat[r * C + c];
    }
    rdg[c] = sdyx;
    rdb[c] = sdy;
    for (int r = 0; r < B; ++r)
      rdx[r * C + c] = gamma[c] * rrstd[c] * (dy[r * C + c] - sdy / B - xhat[r * C + c] * sdyx / B);
  }
  expect_close("bn train y", y, ry, 1e-5, 1e-5);
  expect_close("bn batch mean", mean, rmean, 1e-5, 1e-5);
  expect_close("bn rstd (biased variance)", rstd, rrstd, 1e-5, 1e-5);
  expect_close("bn running_mean", rm, rrm, 1e-6, 1e-5);
  expect_close("bn running_var (unbiased)", rv, rrv, 1e-6, 1e-5);
  mbrl_nn_batchnorm_backward(dx.data(), dg.data(), dbt.data(), dy.data(), x.data(), mean.data(),
                             rstd.data(), gamma.data(), B, C, 1);
  expect_close("bn backward dx (train)", dx, rdx, 1e-5, 1e-4);
  expect_close("bn backward dgamma", dg, rdg, 1e-5, 1e-5);
  expect_close("bn backward dbeta", dbt, rdb, 1e-5, 1e-5);
  // in place: dx aliases dy
  std::vector<float> inplace = dy;
  mbrl_nn_batchnorm_backward(inplace.data(), nullptr, nullptr, inplace.data(), x.data(), mean.data(),
                             rstd.data(), gamma.data(), B, C, 1);
  EXPECT_EQ(inplace, dx);

  // eval: running statistics, and a backward with them held constant
  std::vector<float> ye(x.size()), me(C), re(C);
  mbrl_nn_batchnorm_forward_eval(ye.data(), me.data(), re.data(), x.data(), gamma.data(), beta.data(),
                                 rm.data(), rv.data(), B, C, eps);
  std::vector<double> rye(x.size()), rdxe(x.size());
  for (int r = 0; r < B; ++r)
    for (int c = 0; c < C; ++c) {
      const double s = 1.0 / std::sqrt((double)rv[c] + eps);
      rye[r * C + c] = (x[r * C + c] - rm[c]) * s * gamma[c] + beta[c];
      rdxe[r * C + c] = dy[r * C + c] * s * gamma[c];
    }
  expect_close("bn eval y", ye, rye, 1e-5, 1e-5);
  EXPECT_EQ(me, rm);
  mbrl_nn_batchnorm_backward(dx.data(), nullptr, nullptr, dy.data(), x.data(), me.data(), re.data(),
                             gamma.data(), B, C, 0);
  expect_close("bn backward dx (eval)", dx, rdxe, 1e-5, 1e-5);
}

// C = 300 crosses the backward's 256-channel blocking.
TEST(NnBatchNorm, TrainEvalBackwardMatchDouble) {
  bn_case(32, 16);
  bn_case(5, 300);
}

TEST(NnActivation, ForwardBackward) {
  auto x = randn(1000, 10, 2.0f);
  auto dy = randn(1000, 11);
  for (mbrl_act a : {MBRL_ACT_RELU, MBRL_ACT_TANH, MBRL_ACT_NONE}) {
    std::vector<float> y(x.size()), dx(x.size());
    mbrl_nn_act_forward(y.data(), x.data(), x.size(), a);
    mbrl_nn_act_backward(dx.data(), dy.data(), y.data(), x.size(), a);
    for (size_t i = 0; i < x.size(); ++i) {
      double ry = a == MBRL_ACT_RELU ? std::max(0.0f, x[i]) : a == MBRL_ACT_TANH ? std::tanh((double)x[i]) : x[i];
      double rd = a == MBRL_ACT_RELU ? (x[i] > 0 ? dy[i] : 0.0)
                  : a == MBRL_ACT_TANH ? dy[i] * (1 - std::tanh((double)x[i]) * std::tanh((double)x[i]))
                                       : dy[i];
      ASSERT_NEAR(y[i], ry, 1e-6) << i;
      ASSERT_NEAR(dx[i], rd, 1e-5 + 1e-5 * std::fabs(rd)) << i;
    }
    std::vector<float> ip = x;  // in place
    mbrl_nn_act_forward(ip.data(), ip.data(), ip.size(), a);
    EXPECT_EQ(ip, y);
  }
}

TEST(NnLoss, MseMeanOverAll) {
  auto p = randn(384, 12), t = randn(384, 13);
  std::vector<float> d(p.size());
  float loss = -1;
  mbrl_nn_mse_loss(&loss, d.data(), p.data(), t.data(), p.size());
  double s = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    s += (double)(p[i] - t[i]) * (p[i] - t[i]);
    ASSERT_NEAR(d[i], 2.0 * (p[i] - t[i]) / 384.0, 1e-7);
  }
  EXPECT_NEAR(loss, s / 384.0, 1e-6 * s / 384.0);
}

// The SSE loops equal the scalar per-element functions (which the CUDA kernels also call).
TEST(NnOptim, VectorLoopsEqualSharedElementMath) {
  const size_t n = 4931;
  auto g = randn(n, 14, 0.1f), p0 = randn(n, 15);
  std::vector<float> p = p0, m(n, 0), v(n, 0), ps = p0, ms(n, 0), vs(n, 0);
  for (long long t = 1; t <= 5; ++t) {
    mbrl_nn_adam_step(p.data(), m.data(), v.data(), g.data(), n, 0.01f, 0.99f, 0.999f, 1e-8f, t);
    const double bc1 = 1 - std::pow((double)0.99f, (double)t), bc2 = 1 - std::pow((double)0.999f, (double)t);
    for (size_t i = 0; i < n; ++i)
      mbrl_adam_update(&ps[i], &ms[i], &vs[i], g[i], 0.99f, 0.999f, (float)((double)0.01f / bc1),
                       (float)std::sqrt(bc2), 1e-8f);
  }
  EXPECT_EQ(p, ps);
  EXPECT_EQ(m, ms);
  EXPECT_EQ(v, vs);
  std::vector<float> q = p0, sq(n, 0), qs = p0, sqs(n, 0);
  for (int t = 0; t < 5; ++t) {
    mbrl_nn_rmsprop_step(q.data(), sq.data(), g.data(), n, 7e-4f, 0.99f, 1e-5f);
    for (size_t i = 0; i < n; ++i) mbrl_rmsprop_update(&qs[i], &sqs[i], g[i], 7e-4f, 0.99f, 1e-5f);
  }
  EXPECT_EQ(q, qs);
  EXPECT_EQ(sq, sqs);
}

// Adam and RMSprop follow PyTorch's formulas (double reference of the same recurrences).
TEST(NnOptim, AdamRmspropMatchFormula) {
  const size_t n = 37;
  auto p0 = randn(n, 16);
  std::vector<float> p = p0, m(n, 0), v(n, 0), q = p0, sq(n, 0);
  std::vector<double> rp(p0.begin(), p0.end()), rm(n, 0), rv(n, 0), rq(p0.begin(), p0.end()), rsq(n, 0);
  for (int t = 1; t <= 4; ++t) {
    auto g = randn(n, 100 + (unsigned)t, 0.5f);
    mbrl_nn_adam_step(p.data(), m.data(), v.data(), g.data(), n, 0.01f, 0.9f, 0.999f, 1e-8f, t);
    mbrl_nn_rmsprop_step(q.data(), sq.data(), g.data(), n, 0.01f, 0.99f, 1e-8f);
    for (size_t i = 0; i < n; ++i) {
      rm[i] = 0.9 * rm[i] + 0.1 * g[i];
      rv[i] = 0.999 * rv[i] + 0.001 * (double)g[i] * g[i];
      const double mhat = rm[i] / (1 - std::pow(0.9, t)), vhat = rv[i] / (1 - std::pow(0.999, t));
      rp[i] -= 0.01 * mhat / (std::sqrt(vhat) + 1e-8);
      rsq[i] = 0.99 * rsq[i] + 0.01 * (double)g[i] * g[i];
      rq[i] -= 0.01 * g[i] / (std::sqrt(rsq[i]) + 1e-8);
    }
  }
  expect_close("adam params after 4 steps", p, rp, 1e-6, 1e-5);
  expect_close("rmsprop params after 4 steps", q, rq, 1e-6, 1e-5);
}

TEST(NnOptim, ClipGradNorm) {
  auto g = randn(1000, 17);
  double s = 0;
  for (float x : g) s += (double)x * x;
  const double norm = std::sqrt(s);
  std::vector<float> c = g;
  float got = 0;
  mbrl_nn_clip_grad_norm(c.data(), &got, c.size(), 0.5f);
  EXPECT_NEAR(got, norm, 1e-5 * norm);
  double s2 = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    ASSERT_NEAR(c[i], g[i] * (0.5 / (norm + 1e-6)), 1e-6);
    s2 += (double)c[i] * c[i];
  }
  EXPECT_NEAR(std::sqrt(s2), 0.5, 1e-5);
  std::vector<float> u = g;  // below the limit: untouched
  mbrl_nn_clip_grad_norm(u.data(), nullptr, u.size(), (float)(2 * norm));
  EXPECT_EQ(u, g);
}

}  // namespace
