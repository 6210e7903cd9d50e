// tests/test_nn_cpu_kernels.cpp - the private CPU kernels of src/host/nn_cpu.c (host/nn_cpu.h)
// that the mlp's CPU path uses: the sparse Linear forward / weight gradient (inputs that are
// mostly zeros, as after a ReLU), the fused BatchNorm + activation forward and backward, and
// the backward that forms the next Linear's input gradient inside the BN backward.
// Each is checked against a plain double-precision reference over shapes that cross the
// kernels' blocking (4 rows, 16-wide vectors with masked tails, 64-wide tiles, B not a
// multiple of anything). Tolerances as tests/test_nn.cpp: float vs double with K <= 200 terms,
// atol 1e-5 + rtol 1e-5 (BN backward dx rtol 1e-4: it subtracts two batch means; the bias
// gradient sum dz, which cancels to ~0, relative to sum |dz|).
// They run on the kernel path in use; scripts/test runs this suite once per path the CPU has
// (MBRL_CPU_KERNELS=avx512|avx2|generic).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "testing.h"

extern "C" {
#include "host/nn_cpu.h"
#include "mbrl/nn.h"
}

namespace {

using mbrl_test::randn;
using mbrl_test::expect_close;


// A ReLU-like input: about half exact zeros.
std::vector<float> relu_randn(size_t n, unsigned seed) {
  auto v = randn(n, seed);
  for (auto &x : v) x = x > 0.0f ? x : 0.0f;
  return v;
}


struct Shape {
  int B, in, out;
};

// Shapes: the dynamics model's, tails in every dimension, more than one 64-wide tile.
const Shape kShapes[] = {{128, 64, 64}, {128, 64, 3}, {7, 5, 3},     {33, 70, 130},
                         {130, 64, 17}, {65, 128, 64}, {1, 16, 16},  {2, 200, 33}};

TEST(NnCpuKernels, KernelPathIsNamed) {
  const std::string k = mbrl_nn_cpu_kernels();
  std::printf("  kernel path: %s\n", k.c_str());
  EXPECT_TRUE(k == "avx512" || k == "avx2" || k == "generic") << k;
  const char *e = std::getenv("MBRL_CPU_KERNELS");
  if (e && *e) {
    EXPECT_EQ(k, e);  // forced (scripts/test forces only paths the CPU has)
  }
}

TEST(NnCpuKernels, SparseLinearMatchesDouble) {
  for (const Shape &s : kShapes) {
    SCOPED_TRACE(std::to_string(s.B) + "x" + std::to_string(s.in) + "->" + std::to_string(s.out));
    auto x = relu_randn((size_t)s.B * s.in, 21), W = randn((size_t)s.out * s.in, 22, 0.3f),
         b = randn((size_t)s.out, 23), dy = randn((size_t)s.B * s.out, 24);
    std::vector<double> ry((size_t)s.B * s.out), rdx(x.size(), 0.0), rdW(W.size(), 0.0),
        rdb(b.size(), 0.0);
    for (int r = 0; r < s.B; ++r)
      for (int o = 0; o < s.out; ++o) {
        double acc = b[o];
        for (int i = 0; i < s.in; ++i) acc += (double)x[r * s.in + i] * W[o * s.in + i];
        ry[r * s.out + o] = acc;
        rdb[o] += dy[r * s.out + o];
        for (int i = 0; i < s.in; ++i) {
          rdW[o * s.in + i] += (double)dy[r * s.out + o] * x[r * s.in + i];
          rdx[r * s.in + i] += (double)dy[r * s.out + o] * W[o * s.in + i];
        }
      }
    std::vector<float> y(ry.size(), 99.0f), dx(x.size()), dW(W.size(), 99.0f), db(b.size());
    mbrl_nn_cpu_linear_forward_sparse(y.data(), x.data(), W.data(), b.data(), s.B, s.in, s.out);
    expect_close("sparse forward y", y, ry, 1e-5, 1e-5);
    mbrl_nn_cpu_linear_backward_sparse(dx.data(), dW.data(), db.data(), dy.data(), x.data(),
                                       W.data(), s.B, s.in, s.out);
    expect_close("sparse backward dx", dx, rdx, 1e-5, 1e-5);
    expect_close("sparse backward dW", dW, rdW, 1e-5, 1e-5);
    expect_close("sparse backward db", db, rdb, 1e-5, 1e-5);
  }
}

// An all-zero input row and an all-zero input column must give the bias / zero gradients.
TEST(NnCpuKernels, SparseLinearAllZeroRowsAndColumns) {
  const int B = 9, in = 40, out = 20;
  auto x = relu_randn((size_t)B * in, 25), W = randn((size_t)out * in, 26), b = randn(out, 27),
       dy = randn((size_t)B * out, 28);
  for (int i = 0; i < in; ++i) x[3 * in + i] = 0.0f;  // row 3
  for (int r = 0; r < B; ++r) x[r * in + 7] = 0.0f;   // column 7
  std::vector<float> y((size_t)B * out), dW((size_t)out * in, 5.0f);
  mbrl_nn_cpu_linear_forward_sparse(y.data(), x.data(), W.data(), b.data(), B, in, out);
  for (int o = 0; o < out; ++o) EXPECT_EQ(y[3 * out + o], b[o]) << o;
  mbrl_nn_cpu_linear_backward_sparse(nullptr, dW.data(), nullptr, dy.data(), x.data(), W.data(),
                                     B, in, out);
  for (int o = 0; o < out; ++o) EXPECT_EQ(dW[o * in + 7], 0.0f) << o;
}

struct BnRef {
  std::vector<double> y, mean, rstd, rm, rv, dz, dg, dbt, db, dbmag;  // dbmag = sum |dz|
};

// db = sum over rows of dz cancels to about 0 in training mode (BN removes the mean), so its
// tolerance scales with the magnitude of the terms: |db - ref| <= 1e-5 + 1e-5 * sum |dz|.
void expect_sum_close(const char *what, const std::vector<float> &got, const BnRef &R) {
  double worst = 0;
  for (size_t c = 0; c < got.size(); ++c)
    worst = std::max(worst, std::fabs(got[c] - R.db[c]) / (1e-5 + 1e-5 * R.dbmag[c]));
  std::printf("  %-36s worst err/tol = %.4f\n", what, worst);
  EXPECT_LE(worst, 1.0) << what;
}

// act(BN(z)) forward in training mode and its backward from da, in double.
BnRef bn_act_ref(const std::vector<float> &z, const std::vector<float> &gamma,
                 const std::vector<float> &beta, const std::vector<float> &rm0,
                 const std::vector<float> &rv0, const std::vector<float> &da, int B, int C,
                 mbrl_act act, float mom, float eps, int train) {
  BnRef R;
  R.y.resize(z.size());
  R.dz.resize(z.size());
  R.mean.resize(C);
  R.rstd.resize(C);
  R.rm.resize(C);
  R.rv.resize(C);
  R.dg.resize(C);
  R.dbt.resize(C);
  R.db.resize(C);
  R.dbmag.resize(C);
  for (int c = 0; c < C; ++c) {
    double s = 0, ss = 0;
    for (int r = 0; r < B; ++r) s += z[r * C + c];
    double mu = s / B;
    for (int r = 0; r < B; ++r) ss += (z[r * C + c] - mu) * (z[r * C + c] - mu);
    double var = ss / B, rs = 1.0 / std::sqrt(var + eps);
    R.rm[c] = (1 - mom) * rm0[c] + mom * mu;
    R.rv[c] = (1 - mom) * rv0[c] + mom * ss / (B - 1);
    if (!train) {  // eval: running statistics held constant
      mu = rm0[c];
      rs = 1.0 / std::sqrt((double)rv0[c] + eps);
    }
    R.mean[c] = mu;
    R.rstd[c] = rs;
    double sdy = 0, sdyx = 0;
    std::vector<double> t(B), xh(B);
    for (int r = 0; r < B; ++r) {
      xh[r] = (z[r * C + c] - mu) * rs;
      const double pre = xh[r] * gamma[c] + beta[c];
      const double y = act == MBRL_ACT_RELU ? (pre > 0 ? pre : 0.0)
                       : act == MBRL_ACT_TANH ? std::tanh(pre)
                                              : pre;
      R.y[r * C + c] = y;
      t[r] = act == MBRL_ACT_RELU ? (y > 0 ? da[r * C + c] : 0.0)
             : act == MBRL_ACT_TANH ? da[r * C + c] * (1 - y * y)
                                    : da[r * C + c];
      sdy += t[r];
      sdyx += t[r] * xh[r];
    }
    R.dg[c] = sdyx;
    R.dbt[c] = sdy;
    double sdz = 0, mag = 0;
    for (int r = 0; r < B; ++r) {
      const double d = train ? gamma[c] * rs * (t[r] - sdy / B - xh[r] * sdyx / B)
                             : gamma[c] * rs * t[r];
      R.dz[r * C + c] = d;
      sdz += d;
      mag += std::fabs(d);
    }
    R.db[c] = sdz;
    R.dbmag[c] = mag;
  }
  return R;
}

TEST(NnCpuKernels, FusedBatchNormActivationMatchesDouble) {
  const float mom = 0.1f, eps = 1e-5f;
  const int cases[][2] = {{128, 64}, {7, 5}, {33, 70}, {2, 130}, {64, 16}, {5, 300}};
  for (mbrl_act act : {MBRL_ACT_RELU, MBRL_ACT_NONE, MBRL_ACT_TANH})
    for (auto &bc : cases) {
      const int B = bc[0], C = bc[1];
      SCOPED_TRACE("B=" + std::to_string(B) + " C=" + std::to_string(C) + " act=" +
                   std::to_string((int)act));
      auto z = randn((size_t)B * C, 31, 2.0f, 0.5f), gamma = randn(C, 32, 0.5f, 1.0f),
           beta = randn(C, 33), da = randn((size_t)B * C, 34);
      std::vector<float> rm = randn(C, 35, 0.1f), rv(C, 1.5f), rm0 = rm, rv0 = rv;
      std::vector<float> a(z.size()), mean(C), rstd(C);
      mbrl_nn_cpu_bn_act_forward_train(a.data(), mean.data(), rstd.data(), rm.data(), rv.data(),
                                       z.data(), gamma.data(), beta.data(), B, C, mom, eps, act);
      BnRef R = bn_act_ref(z, gamma, beta, rm0, rv0, da, B, C, act, mom, eps, 1);
      expect_close("fused forward a", a, R.y, 1e-5, 1e-5);
      expect_close("fused forward mean", mean, R.mean, 1e-5, 1e-5);
      expect_close("fused forward rstd", rstd, R.rstd, 1e-5, 1e-5);
      expect_close("fused forward running_mean", rm, R.rm, 1e-6, 1e-5);
      expect_close("fused forward running_var", rv, R.rv, 1e-6, 1e-5);
      // in place (a aliases z) gives the same output
      std::vector<float> ip = z, rm2 = rm0, rv2 = rv0;
      mbrl_nn_cpu_bn_act_forward_train(ip.data(), mean.data(), rstd.data(), rm2.data(), rv2.data(),
                                       ip.data(), gamma.data(), beta.data(), B, C, mom, eps, act);
      EXPECT_EQ(ip, a);

      std::vector<float> dz(z.size()), dg(C), dbt(C), db(C, 9.0f);
      mbrl_nn_cpu_act_bn_backward(dz.data(), dg.data(), dbt.data(), db.data(), da.data(), a.data(),
                                  z.data(), mean.data(), rstd.data(), gamma.data(), B, C, act, 1);
      expect_close("fused backward dz (train)", dz, R.dz, 1e-5, 1e-4);
      expect_close("fused backward dgamma", dg, R.dg, 1e-5, 1e-5);
      expect_close("fused backward dbeta", dbt, R.dbt, 1e-5, 1e-5);
      expect_sum_close("fused backward db = sum dz", db, R);
      // in place (dz aliases da), gradients of the BN parameters skipped
      std::vector<float> ipd = da;
      mbrl_nn_cpu_act_bn_backward(ipd.data(), nullptr, nullptr, nullptr, ipd.data(), a.data(),
                                  z.data(), mean.data(), rstd.data(), gamma.data(), B, C, act, 1);
      EXPECT_EQ(ipd, dz);

      // eval-mode backward: the statistics are the running ones, held constant
      std::vector<float> me(C), re(C), ae(z.size());
      mbrl_nn_batchnorm_forward_eval(ae.data(), me.data(), re.data(), z.data(), gamma.data(),
                                     beta.data(), rm0.data(), rv0.data(), B, C, eps);
      mbrl_nn_act_forward(ae.data(), ae.data(), ae.size(), act);
      BnRef E = bn_act_ref(z, gamma, beta, rm0, rv0, da, B, C, act, mom, eps, 0);
      mbrl_nn_cpu_act_bn_backward(dz.data(), dg.data(), dbt.data(), db.data(), da.data(),
                                  ae.data(), z.data(), me.data(), re.data(), gamma.data(), B, C,
                                  act, 0);
      expect_close("fused backward dz (eval)", dz, E.dz, 1e-5, 1e-5);
      expect_close("fused backward dgamma (eval)", dg, E.dg, 1e-5, 1e-5);
      expect_sum_close("fused backward db (eval)", db, E);
    }
}

// The backward from the next Linear's output gradient: da = dy W formed tile by tile inside
// the fused op, then act + BN backward, against the double reference of the same chain.
TEST(NnCpuKernels, FusedLinearBatchNormBackwardMatchesDouble) {
  const float mom = 0.1f, eps = 1e-5f;
  const int cases[][3] = {{128, 64, 3}, {128, 64, 64}, {7, 5, 70}, {33, 70, 17}, {2, 130, 1}};
  for (mbrl_act act : {MBRL_ACT_RELU, MBRL_ACT_NONE, MBRL_ACT_TANH})
    for (auto &bc : cases) {
      const int B = bc[0], C = bc[1], K = bc[2];
      SCOPED_TRACE("B=" + std::to_string(B) + " C=" + std::to_string(C) + " K=" +
                   std::to_string(K) + " act=" + std::to_string((int)act));
      auto z = randn((size_t)B * C, 41, 2.0f, 0.5f), gamma = randn(C, 42, 0.5f, 1.0f),
           beta = randn(C, 43), dy = randn((size_t)B * K, 44), W = randn((size_t)K * C, 45, 0.3f);
      std::vector<float> rm(C, 0.0f), rv(C, 1.0f), rm0 = rm, rv0 = rv;
      std::vector<float> a(z.size()), mean(C), rstd(C), da(z.size());
      mbrl_nn_cpu_bn_act_forward_train(a.data(), mean.data(), rstd.data(), rm.data(), rv.data(),
                                       z.data(), gamma.data(), beta.data(), B, C, mom, eps, act);
      for (int r = 0; r < B; ++r)
        for (int c = 0; c < C; ++c) {
          double acc = 0;
          for (int k = 0; k < K; ++k) acc += (double)dy[r * K + k] * W[k * C + c];
          da[r * C + c] = (float)acc;
        }
      for (int train : {1, 0}) {
        std::vector<float> m = mean, q = rstd, ae = a;
        if (!train) {  // eval forward: running statistics
          mbrl_nn_batchnorm_forward_eval(ae.data(), m.data(), q.data(), z.data(), gamma.data(),
                                         beta.data(), rm0.data(), rv0.data(), B, C, eps);
          mbrl_nn_act_forward(ae.data(), ae.data(), ae.size(), act);
        }
        BnRef R = bn_act_ref(z, gamma, beta, rm0, rv0, da, B, C, act, mom, eps, train);
        std::vector<float> dz(z.size()), dg(C), dbt(C), db(C);
        mbrl_nn_cpu_linear_act_bn_backward(dz.data(), dg.data(), dbt.data(), db.data(), dy.data(),
                                           W.data(), K, ae.data(), z.data(), m.data(), q.data(),
                                           gamma.data(), B, C, act, train);
        expect_close(train ? "linear+bn backward dz (train)" : "linear+bn backward dz (eval)", dz,
                     R.dz, 1e-5, 1e-4);
        expect_close("linear+bn backward dgamma", dg, R.dg, 1e-5, 1e-4);
        expect_close("linear+bn backward dbeta", dbt, R.dbt, 1e-5, 1e-4);
        expect_sum_close("linear+bn backward db", db, R);
      }
    }
}

}  // namespace
