// tests/test_nn_cuda.cpp - every CUDA op of mbrl/nn.h against its CPU twin, the CUDA mlp
// (forward, backward, clip, Adam/RMSprop steps, forward_many) against the CPU mlp, and a
// 200-step GPU-resident dynamics training run against the CPU trainer (same data, seed and
// minibatches). Every test skips without a GPU (MBRL_REQUIRE_GPU).
//
// Tolerances are |cuda - cpu| <= atol + rtol * |cpu| (reported as worst ratio, <= 1 passes).
// The CUDA twins run the same per-element float math (src/host/nn_math.h) but sum in a
// different order (cuBLAS, tree reductions) and nvcc contracts a*b+c into FMA, so sums of K
// terms get atol ~ 2e-6 * K (float epsilon is 6e-8; random terms of size ~1 drift ~ eps * K
// at worst) and elementwise ops get a few ulp.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "testing.h"

extern "C" {
#include "mbrl/dataset.h"
#include "mbrl/dynamics.h"
#include "mbrl/mlp.h"
#include "mbrl/nn.h"
#include "mbrl/pendulum.h"
#ifdef MBRL_HAVE_CUDA
#include "host/mlp_cuda.h"
#endif
}

#ifndef MBRL_HAVE_CUDA

TEST(NnCuda, NeedsTheCudaBackend) { MBRL_REQUIRE_GPU(); }

#else

namespace {

using mbrl_test::worst_ratio;

std::vector<float> uniform(size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto &x : v) x = d(g);
  return v;
}

// A device buffer (the mlp module's cudaMalloc helpers), freed at scope exit. The copies are
// synchronous, so an asynchronous kernel failure shows up as a non-OK status here.
struct Dev {
  float *p = nullptr;
  size_t n = 0;
  explicit Dev(size_t n_) : n(n_) {
    EXPECT_EQ(mbrl_mlp_cuda_alloc((void **)&p, (n ? n : 1) * sizeof(float)), MBRL_OK)
        << mbrl_last_error();
  }
  explicit Dev(const std::vector<float> &h) : Dev(h.size()) { up(h); }
  ~Dev() { mbrl_mlp_cuda_free(p); }
  Dev(const Dev &) = delete;
  Dev &operator=(const Dev &) = delete;
  void up(const std::vector<float> &h) {
    ASSERT_EQ(h.size(), n);
    EXPECT_EQ(mbrl_mlp_cuda_copy(p, h.data(), n * sizeof(float), 1), MBRL_OK) << mbrl_last_error();
  }
  std::vector<float> down() const {
    std::vector<float> h(n);
    EXPECT_EQ(mbrl_mlp_cuda_copy(h.data(), p, n * sizeof(float), 0), MBRL_OK) << mbrl_last_error();
    return h;
  }
};

// |a - b| <= atol + rtol |b| elementwise, b the CPU reference.
void expect_close(const std::vector<float> &a, const std::vector<float> &b, double atol,
                  double rtol, const std::string &what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  const double r = worst_ratio(a.data(), b.data(), b.size(), atol, rtol);
  EXPECT_LE(r, 1.0) << what << ": worst |cuda - cpu| / (" << atol << " + " << rtol
                    << " |cpu|) = " << r;
}

#define OK(call) ASSERT_EQ((call), MBRL_OK) << mbrl_last_error()

// ---------------------------------------------------------------- ops

TEST(NnCuda, LinearForwardBackwardMatchCpu) {
  MBRL_REQUIRE_GPU();
  const int shapes[][3] = {{1, 1, 1},    {7, 5, 3},    {128, 4, 64}, {128, 64, 64},
                           {128, 64, 3}, {33, 65, 17}, {1000, 13, 70}};
  for (const auto &s : shapes) {
    const int B = s[0], in = s[1], out = s[2];
    for (int bias = 0; bias < 2; ++bias) {
      SCOPED_TRACE("B=" + std::to_string(B) + " in=" + std::to_string(in) +
                   " out=" + std::to_string(out) + " bias=" + std::to_string(bias));
      const auto x = uniform((size_t)B * in, 1), W = uniform((size_t)out * in, 2),
                 b = uniform(out, 3), dy = uniform((size_t)B * out, 4);
      std::vector<float> y((size_t)B * out), dx((size_t)B * in), dW((size_t)out * in), db(out);
      mbrl_nn_linear_forward(y.data(), x.data(), W.data(), bias ? b.data() : nullptr, B, in, out);
      mbrl_nn_linear_backward(dx.data(), dW.data(), db.data(), dy.data(), x.data(), W.data(), B,
                              in, out);
      Dev gx(x), gW(W), gb(b), gdy(dy), gy(y.size()), gdx(dx.size()), gdW(dW.size()),
          gdb(db.size());
      OK(mbrl_nn_linear_forward_cuda(gy.p, gx.p, gW.p, bias ? gb.p : nullptr, B, in, out, nullptr));
      OK(mbrl_nn_linear_backward_cuda(gdx.p, gdW.p, gdb.p, gdy.p, gx.p, gW.p, B, in, out, nullptr));
      expect_close(gy.down(), y, 2e-6 * in + 1e-6, 1e-5, "y");
      expect_close(gdx.down(), dx, 2e-6 * out + 1e-6, 1e-5, "dx");
      expect_close(gdW.down(), dW, 2e-6 * B + 1e-6, 1e-5, "dW");
      expect_close(gdb.down(), db, 2e-6 * B + 1e-6, 1e-5, "db");
      // NULL gradient outputs are skipped: only dW, into a buffer that already holds dW
      Dev gdW2(dW.size());
      OK(mbrl_nn_linear_backward_cuda(nullptr, gdW2.p, nullptr, gdy.p, gx.p, nullptr, B, in, out,
                                      nullptr));
      expect_close(gdW2.down(), dW, 2e-6 * B + 1e-6, 1e-5, "dW alone");
    }
  }
  float *null = nullptr;
  EXPECT_EQ(mbrl_nn_linear_forward_cuda(null, null, null, null, 1, 1, 1, nullptr),
            MBRL_ERR_INVALID_ARG);
}

TEST(NnCuda, BatchNormForwardBackwardMatchCpu) {
  MBRL_REQUIRE_GPU();
  const int shapes[][2] = {{2, 1}, {7, 3}, {128, 64}, {33, 65}, {1000, 17}};
  for (const auto &s : shapes) {
    const int B = s[0], C = s[1];
    SCOPED_TRACE("B=" + std::to_string(B) + " C=" + std::to_string(C));
    const size_t n = (size_t)B * C;
    auto x = uniform(n, 10, -2.0f, 2.0f);
    const auto off = uniform(C, 11, -3.0f, 3.0f);
    for (size_t i = 0; i < n; ++i) x[i] += off[i % C];
    const auto gamma = uniform(C, 12, 0.5f, 1.5f), beta = uniform(C, 13);
    const auto rm0 = uniform(C, 14, -0.5f, 0.5f), rv0 = uniform(C, 15, 0.5f, 2.0f);
    const auto dy = uniform(n, 16);
    // sums over B rows of O(1) values: atol grows with B
    const double atol = 1e-5 + 2e-7 * B, rtol = 1e-4;

    // training forward
    std::vector<float> y(n), mean(C), rstd(C), rm = rm0, rv = rv0;
    mbrl_nn_batchnorm_forward_train(y.data(), mean.data(), rstd.data(), rm.data(), rv.data(),
                                    x.data(), gamma.data(), beta.data(), B, C, 0.1f, 1e-5f);
    Dev gx(x), gg(gamma), gb(beta), grm(rm0), grv(rv0), gy(n), gmean(C), grstd(C);
    OK(mbrl_nn_batchnorm_forward_train_cuda(gy.p, gmean.p, grstd.p, grm.p, grv.p, gx.p, gg.p, gb.p,
                                            B, C, 0.1f, 1e-5f, nullptr));
    expect_close(gy.down(), y, atol, rtol, "train y");
    expect_close(gmean.down(), mean, atol, rtol, "batch mean");
    expect_close(grstd.down(), rstd, atol, rtol, "batch rstd");
    expect_close(grm.down(), rm, atol, rtol, "running_mean");
    expect_close(grv.down(), rv, atol, rtol, "running_var (unbiased)");
    // in place (y aliases x)
    Dev gxi(x), grm2(rm0), grv2(rv0);
    OK(mbrl_nn_batchnorm_forward_train_cuda(gxi.p, gmean.p, grstd.p, grm2.p, grv2.p, gxi.p, gg.p,
                                            gb.p, B, C, 0.1f, 1e-5f, nullptr));
    expect_close(gxi.down(), y, atol, rtol, "train y in place");

    // eval forward from the CPU's running statistics (the op alone: elementwise, a few ulp)
    std::vector<float> ye(n), me(C), re(C);
    mbrl_nn_batchnorm_forward_eval(ye.data(), me.data(), re.data(), x.data(), gamma.data(),
                                   beta.data(), rm.data(), rv.data(), B, C, 1e-5f);
    grm.up(rm);
    grv.up(rv);
    OK(mbrl_nn_batchnorm_forward_eval_cuda(gy.p, gmean.p, grstd.p, gx.p, gg.p, gb.p, grm.p, grv.p,
                                           B, C, 1e-5f, nullptr));
    expect_close(gy.down(), ye, 1e-6, 1e-6, "eval y");
    expect_close(gmean.down(), me, 1e-30, 0.0, "eval mean = running_mean");
    expect_close(grstd.down(), re, 1e-30, 1e-6, "eval rstd");
    OK(mbrl_nn_batchnorm_forward_eval_cuda(gy.p, nullptr, nullptr, gx.p, gg.p, gb.p, grm.p, grv.p,
                                           B, C, 1e-5f, nullptr));
    expect_close(gy.down(), ye, 1e-6, 1e-6, "eval y without saved stats");

    // backward in both modes from the CPU's saved statistics
    for (int train = 0; train < 2; ++train) {
      SCOPED_TRACE("backward train=" + std::to_string(train));
      const auto &mu = train ? mean : me;
      const auto &rs = train ? rstd : re;
      std::vector<float> dx(n), dg(C), dbt(C);
      mbrl_nn_batchnorm_backward(dx.data(), dg.data(), dbt.data(), dy.data(), x.data(), mu.data(),
                                 rs.data(), gamma.data(), B, C, train);
      Dev gdy(dy), gmu(mu), grs(rs), gdx(n), gdg(C), gdbt(C);
      OK(mbrl_nn_batchnorm_backward_cuda(gdx.p, gdg.p, gdbt.p, gdy.p, gx.p, gmu.p, grs.p, gg.p, B,
                                         C, train, nullptr));
      expect_close(gdx.down(), dx, atol, rtol, "dx");
      expect_close(gdg.down(), dg, atol, rtol, "dgamma");
      expect_close(gdbt.down(), dbt, atol, rtol, "dbeta");
      // dx aliasing dy, dgamma/dbeta skipped
      OK(mbrl_nn_batchnorm_backward_cuda(gdy.p, nullptr, nullptr, gdy.p, gx.p, gmu.p, grs.p, gg.p,
                                         B, C, train, nullptr));
      expect_close(gdy.down(), dx, atol, rtol, "dx in place");
    }
  }
}

TEST(NnCuda, ActivationsMatchCpu) {
  MBRL_REQUIRE_GPU();
  const mbrl_act acts[] = {MBRL_ACT_NONE, MBRL_ACT_RELU, MBRL_ACT_TANH};
  for (size_t n : {(size_t)1, (size_t)1001, (size_t)100003}) {
    for (mbrl_act act : acts) {
      SCOPED_TRACE("n=" + std::to_string(n) + " act=" + std::to_string((int)act));
      const auto x = uniform(n, 20, -3.0f, 3.0f), dy = uniform(n, 21);
      std::vector<float> y(n), dx(n);
      mbrl_nn_act_forward(y.data(), x.data(), n, act);
      mbrl_nn_act_backward(dx.data(), dy.data(), y.data(), n, act);
      // relu and identity are exact; device tanhf is within 2 ulp of the host's
      const double atol = act == MBRL_ACT_TANH ? 3e-7 : 1e-30;
      Dev gx(x), gy(n), gdy(dy), gdx(n);
      OK(mbrl_nn_act_forward_cuda(gy.p, gx.p, n, act, nullptr));
      expect_close(gy.down(), y, atol, 1e-6, "y");
      gy.up(y); // backward from the CPU's y: the op alone
      OK(mbrl_nn_act_backward_cuda(gdx.p, gdy.p, gy.p, n, act, nullptr));
      expect_close(gdx.down(), dx, atol, 1e-6, "dx");
      // in place
      OK(mbrl_nn_act_forward_cuda(gx.p, gx.p, n, act, nullptr));
      expect_close(gx.down(), y, atol, 1e-6, "y in place");
      OK(mbrl_nn_act_backward_cuda(gdy.p, gdy.p, gy.p, n, act, nullptr));
      expect_close(gdy.down(), dx, atol, 1e-6, "dx in place");
    }
  }
}

TEST(NnCuda, MseLossMatchesCpu) {
  MBRL_REQUIRE_GPU();
  for (size_t n : {(size_t)1, (size_t)3, (size_t)384, (size_t)100001}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    const auto pred = uniform(n, 30), target = uniform(n, 31, -2.0f, 2.0f);
    float loss = 0.0f;
    std::vector<float> dpred(n);
    mbrl_nn_mse_loss(&loss, dpred.data(), pred.data(), target.data(), n);
    Dev gp(pred), gt(target), gd(n), gl(1);
    OK(mbrl_nn_mse_loss_cuda(gl.p, gd.p, gp.p, gt.p, n, nullptr));
    // double accumulation on both sides: the float results agree to rounding
    expect_close(gl.down(), {loss}, 1e-30, 1e-6, "loss");
    expect_close(gd.down(), dpred, 1e-30, 1e-7, "dpred"); // same float ops: exact
    OK(mbrl_nn_mse_loss_cuda(gl.p, nullptr, gp.p, gt.p, n, nullptr));
    expect_close(gl.down(), {loss}, 1e-30, 1e-6, "loss without dpred");
  }
  Dev a(1), b(1);
  EXPECT_EQ(mbrl_nn_mse_loss_cuda(a.p, nullptr, a.p, b.p, 0, nullptr), MBRL_ERR_INVALID_ARG);
}

TEST(NnCuda, AdamAndRmspropMatchCpu) {
  MBRL_REQUIRE_GPU();
  for (size_t n : {(size_t)1, (size_t)1000, (size_t)65537}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    // Adam, the seed's settings, 3 steps with fresh gradients
    std::vector<float> p = uniform(n, 40), m(n, 0.0f), v(n, 0.0f);
    Dev gp(p), gm(m), gv(v), gg(n);
    for (long long step = 1; step <= 3; ++step) {
      const auto g = uniform(n, 41 + (unsigned)step, -0.1f, 0.1f);
      mbrl_nn_adam_step(p.data(), m.data(), v.data(), g.data(), n, 0.01f, 0.99f, 0.999f, 1e-8f,
                        step);
      gg.up(g);
      OK(mbrl_nn_adam_step_cuda(gp.p, gm.p, gv.p, gg.p, n, 0.01f, 0.99f, 0.999f, 1e-8f, step,
                                nullptr));
    }
    // the same float formula (FMA contraction on the GPU): a few ulp
    expect_close(gp.down(), p, 1e-6, 1e-5, "adam p");
    expect_close(gm.down(), m, 1e-9, 1e-5, "adam m");
    expect_close(gv.down(), v, 1e-12, 1e-5, "adam v");
    // RMSprop, SB3's A2C settings
    std::vector<float> q = uniform(n, 50), sq(n, 0.0f);
    Dev gq(q), gsq(sq);
    for (int step = 1; step <= 3; ++step) {
      const auto g = uniform(n, 51 + (unsigned)step, -0.1f, 0.1f);
      mbrl_nn_rmsprop_step(q.data(), sq.data(), g.data(), n, 7e-4f, 0.99f, 1e-5f);
      gg.up(g);
      OK(mbrl_nn_rmsprop_step_cuda(gq.p, gsq.p, gg.p, n, 7e-4f, 0.99f, 1e-5f, nullptr));
    }
    expect_close(gq.down(), q, 1e-6, 1e-5, "rmsprop p");
    expect_close(gsq.down(), sq, 1e-12, 1e-5, "rmsprop square_avg");
  }
}

TEST(NnCuda, ClipGradNormMatchesCpu) {
  MBRL_REQUIRE_GPU();
  for (size_t n : {(size_t)1, (size_t)1000, (size_t)300001}) {
    const auto g0 = uniform(n, 60);
    double acc = 0.0;
    for (float x : g0) acc += (double)x * x;
    const float total = (float)std::sqrt(acc);
    for (float factor : {0.5f, 2.0f}) { // clipping, and a no-op
      SCOPED_TRACE("n=" + std::to_string(n) + " max_norm=norm*" + std::to_string(factor));
      std::vector<float> g = g0;
      float norm = 0.0f;
      mbrl_nn_clip_grad_norm(g.data(), &norm, n, total * factor);
      Dev gg(g0), gn(1);
      OK(mbrl_nn_clip_grad_norm_cuda(gg.p, gn.p, n, total * factor, nullptr));
      expect_close(gn.down(), {norm}, 1e-30, 1e-6, "norm");
      expect_close(gg.down(), g, 1e-30, 1e-6, "clipped g");
      Dev gg2(g0);
      OK(mbrl_nn_clip_grad_norm_cuda(gg2.p, nullptr, n, total * factor, nullptr));
      expect_close(gg2.down(), g, 1e-30, 1e-6, "clipped g (no norm)");
    }
  }
}

// ---------------------------------------------------------------- mlp

struct Arch {
  std::vector<int> sizes;
  int bn;
  mbrl_act act;
  int B;
};

const Arch kArchs[] = {
    {{4, 64, 64, 3}, 1, MBRL_ACT_RELU, 37}, // the seed's dynamics model
    {{4, 64, 64, 2}, 0, MBRL_ACT_TANH, 8},  // an A2C actor
    {{5, 33, 17, 7, 1}, 1, MBRL_ACT_TANH, 19},
    {{3, 2}, 0, MBRL_ACT_RELU, 5},
};

mbrl_mlp_config arch_config(const Arch &a, uint64_t seed) {
  mbrl_mlp_config c;
  mbrl_mlp_config_init(&c, (int)a.sizes.size() - 1, a.sizes.data());
  c.batchnorm = a.bn;
  c.activation = a.act;
  c.seed = seed;
  return c;
}

std::string arch_name(const Arch &a) {
  std::string s;
  for (int w : a.sizes) s += (s.empty() ? "" : "-") + std::to_string(w);
  return s + (a.bn ? " bn" : "") + (a.act == MBRL_ACT_TANH ? " tanh" : " relu");
}

struct MlpPair {
  mbrl_mlp *cpu = nullptr, *gpu = nullptr;
  ~MlpPair() {
    mbrl_mlp_free(cpu);
    mbrl_mlp_free(gpu);
  }
};

std::vector<float> params_of(const mbrl_mlp *m) {
  std::vector<float> p(m->n_params);
  EXPECT_EQ(mbrl_mlp_get_params(m, p.data()), MBRL_OK) << mbrl_last_error();
  return p;
}
std::vector<float> grads_of(const mbrl_mlp *m) {
  std::vector<float> p(m->n_params);
  EXPECT_EQ(mbrl_mlp_get_grads(m, p.data()), MBRL_OK) << mbrl_last_error();
  return p;
}
std::vector<float> buffers_of(const mbrl_mlp *m) {
  std::vector<float> p(m->n_buffers);
  EXPECT_EQ(mbrl_mlp_get_buffers(m, p.data()), MBRL_OK) << mbrl_last_error();
  return p;
}

// Per-parameter atol: the bias of a Linear followed by BatchNorm has an analytically zero
// gradient (BN removes the mean), so its computed gradient is rounding noise of either sign and
// an optimizer step moves it by up to ~lr (Adam) or ~10 lr (RMSprop, first steps) per step in
// a direction that differs between backends. Those entries get `loose`, the rest `tight`.
std::vector<float> atol_per_param(const mbrl_mlp *m, float tight, float loose) {
  std::vector<float> t(m->n_params, tight);
  for (int l = 0; l < m->cfg.n_layers - 1; ++l)
    if (m->cfg.batchnorm)
      for (int c = 0; c < m->cfg.sizes[l + 1]; ++c) t[m->b_off[l] + c] = loose;
  return t;
}

// Per-buffer atol after `steps` optimizer steps that each move a pre-BN bias by up to `move`
// in a backend-dependent direction (see atol_per_param): running_mean tracks the batch mean of
// that layer's Linear output, bias included, so the two backends' running means drift apart by
// up to momentum * sum_s (bias gap at step s) <= momentum * 2 * move * steps (`loose`; measured
// on the CPU with the sign of those gradients flipped at random: 4.5e-3 for the seed's model
// under Adam lr 0.01, 3 steps). running_var is shift-invariant and gets `tight`.
std::vector<float> atol_per_buffer(const mbrl_mlp *m, float tight, float loose) {
  std::vector<float> t(m->n_buffers, tight);
  for (int l = 0; l < m->cfg.n_layers - 1; ++l)
    if (m->cfg.batchnorm)
      for (int c = 0; c < m->cfg.sizes[l + 1]; ++c) t[m->rmean_off[l] + c] = loose;
  return t;
}

void expect_close_per(const std::vector<float> &a, const std::vector<float> &b,
                      const std::vector<float> &atol, double rtol, const std::string &what) {
  ASSERT_EQ(a.size(), b.size());
  double worst = 0.0;
  size_t at = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs((double)a[i] - b[i]);
    const double r = std::isfinite(d) ? d / (atol[i] + rtol * std::fabs((double)b[i])) : INFINITY;
    if (!(r <= worst)) {
      worst = r;
      at = i;
    }
  }
  EXPECT_LE(worst, 1.0) << what << ": worst ratio " << worst << " at [" << at << "] cuda "
                        << a[at] << " cpu " << b[at];
}

TEST(NnCuda, MlpForwardBackwardClipMatchCpu) {
  MBRL_REQUIRE_GPU();
  for (const Arch &a : kArchs) {
    SCOPED_TRACE(arch_name(a));
    const mbrl_mlp_config c = arch_config(a, 11);
    MlpPair mp;
    OK(mbrl_mlp_create(&mp.cpu, &c, MBRL_BACKEND_CPU, 64));
    OK(mbrl_mlp_create(&mp.gpu, &c, MBRL_BACKEND_CUDA, 64));
    // the init runs on the host for both backends: identical bits
    EXPECT_EQ(params_of(mp.gpu), params_of(mp.cpu));
    // non-trivial parameters (BN gamma around 1)
    auto p = uniform(mp.cpu->n_params, 70, -0.5f, 0.5f);
    for (int l = 0; l < c.n_layers - 1; ++l)
      if (c.batchnorm)
        for (int j = 0; j < c.sizes[l + 1]; ++j) p[mp.cpu->gamma_off[l] + j] += 1.0f;
    OK(mbrl_mlp_set_params(mp.cpu, p.data()));
    OK(mbrl_mlp_set_params(mp.gpu, p.data()));

    const int B = a.B, in = c.sizes[0], out = c.sizes[c.n_layers];
    const auto x = uniform((size_t)B * in, 71, -2.0f, 2.0f), dy = uniform((size_t)B * out, 72);
    const double atol = 5e-5, rtol = 1e-4; // a few layers of K <= 64 sums
    for (int train = 1; train >= 0; --train) {
      SCOPED_TRACE("train=" + std::to_string(train));
      std::vector<float> y((size_t)B * out), dx((size_t)B * in);
      OK(mbrl_mlp_forward(mp.cpu, x.data(), B, y.data(), train));
      OK(mbrl_mlp_backward(mp.cpu, dy.data(), dx.data()));
      Dev gx(x), gy(y.size()), gdy(dy), gdx(dx.size());
      OK(mbrl_mlp_forward(mp.gpu, gx.p, B, gy.p, train));
      OK(mbrl_mlp_backward(mp.gpu, gdy.p, gdx.p));
      expect_close(gy.down(), y, atol, rtol, "y");
      expect_close(gdx.down(), dx, atol, rtol, "dx");
      expect_close(grads_of(mp.gpu), grads_of(mp.cpu), atol, rtol, "grads");
      expect_close(buffers_of(mp.gpu), buffers_of(mp.cpu), atol, rtol, "BN running buffers");
      EXPECT_EQ(mp.gpu->num_batches_tracked[0], mp.cpu->num_batches_tracked[0]);
      // a backward without dx (layer 0's dx product skipped)
      OK(mbrl_mlp_backward(mp.gpu, gdy.p, nullptr));
      expect_close(grads_of(mp.gpu), grads_of(mp.cpu), atol, rtol, "grads (dx NULL)");
    }
    // clip_grad_norm_ with the norm read back, then without (no synchronization)
    float ncpu = 0.0f, ngpu = 0.0f;
    OK(mbrl_mlp_clip_grad_norm(mp.cpu, 0.05f, &ncpu));
    OK(mbrl_mlp_clip_grad_norm(mp.gpu, 0.05f, &ngpu));
    EXPECT_NEAR(ngpu, ncpu, 1e-4 * ncpu + 1e-6);
    expect_close(grads_of(mp.gpu), grads_of(mp.cpu), atol, rtol, "clipped grads");
    OK(mbrl_mlp_clip_grad_norm(mp.cpu, 0.01f, nullptr));
    OK(mbrl_mlp_clip_grad_norm(mp.gpu, 0.01f, nullptr));
    expect_close(grads_of(mp.gpu), grads_of(mp.cpu), atol, rtol, "clipped grads (norm NULL)");
  }
}

TEST(NnCuda, MlpTrainStepAdamAndRmspropMatchCpu) {
  MBRL_REQUIRE_GPU();
  for (const Arch &a : kArchs) {
    if (a.bn && a.B < 2) continue;
    for (int kind = 0; kind < 2; ++kind) {
      SCOPED_TRACE(arch_name(a) + (kind ? " rmsprop" : " adam"));
      const mbrl_mlp_config c = arch_config(a, 12);
      MlpPair mp;
      OK(mbrl_mlp_create(&mp.cpu, &c, MBRL_BACKEND_CPU, 64));
      OK(mbrl_mlp_create(&mp.gpu, &c, MBRL_BACKEND_CUDA, 64));
      const mbrl_optim_config oc = kind ? mbrl_optim_rmsprop_config(7e-4f, 0.99f, 1e-5f)
                                        : mbrl_optim_adam_config(0.01f, 0.99f, 0.999f);
      mbrl_optim *ocpu = nullptr, *ogpu = nullptr;
      OK(mbrl_optim_create(&ocpu, &oc, mp.cpu));
      OK(mbrl_optim_create(&ogpu, &oc, mp.gpu));
      const int B = a.B, in = c.sizes[0], out = c.sizes[c.n_layers];
      const int steps = 3;
      for (int s = 0; s < steps; ++s) {
        const auto x = uniform((size_t)B * in, 80 + s, -2.0f, 2.0f),
                   t = uniform((size_t)B * out, 90 + s);
        float lcpu = 0.0f;
        OK(mbrl_mlp_train_step_mse(mp.cpu, ocpu, x.data(), t.data(), B, &lcpu));
        Dev gx(x), gt(t), gl(1);
        OK(mbrl_mlp_train_step_mse(mp.gpu, ogpu, gx.p, gt.p, B, gl.p));
        expect_close(gl.down(), {lcpu}, 1e-6, 1e-4, "loss at step " + std::to_string(s + 1));
      }
      EXPECT_EQ(ogpu->step, ocpu->step);
      const float lr = oc.lr, move = kind ? 10.0f * lr : lr;
      expect_close_per(params_of(mp.gpu), params_of(mp.cpu),
                       atol_per_param(mp.cpu, 1e-4f, 2.0f * move * steps), 1e-4, "params");
      // 2x margin over the bound above (Adam's |m_hat / sqrt(v_hat)| can exceed 1 a little)
      expect_close_per(buffers_of(mp.gpu), buffers_of(mp.cpu),
                       atol_per_buffer(mp.cpu, 1e-4f, 2.0f * c.bn_momentum * 2.0f * move * steps),
                       1e-4, "running buffers");
      mbrl_optim_free(ocpu);
      mbrl_optim_free(ogpu);
    }
  }
}

TEST(NnCuda, ForwardManyEqualsSingleForwards) {
  MBRL_REQUIRE_GPU();
  struct Case {
    Arch a;
    int M;
  };
  const Case cases[] = {{{{4, 64, 64, 2}, 0, MBRL_ACT_TANH, 8}, 20},
                        {{{4, 64, 64, 3}, 1, MBRL_ACT_RELU, 32}, 5},
                        {{{5, 33, 17, 7, 1}, 1, MBRL_ACT_TANH, 19}, 3},
                        {{{3, 2}, 0, MBRL_ACT_RELU, 5}, 1}};
  for (const Case &cs : cases) {
    const Arch &a = cs.a;
    const int M = cs.M, B = a.B, in = a.sizes[0], out = a.sizes.back();
    SCOPED_TRACE(arch_name(a) + " M=" + std::to_string(M));
    // three identical sets: batched (GPU), singles (GPU), CPU
    std::vector<mbrl_mlp *> many(M), single(M), cpu(M);
    for (int i = 0; i < M; ++i) {
      const mbrl_mlp_config c = arch_config(a, 100 + (uint64_t)i);
      OK(mbrl_mlp_create(&many[i], &c, MBRL_BACKEND_CUDA, 64));
      OK(mbrl_mlp_create(&single[i], &c, MBRL_BACKEND_CUDA, 64));
      OK(mbrl_mlp_create(&cpu[i], &c, MBRL_BACKEND_CPU, 64));
    }
    const auto x = uniform((size_t)B * in, 110, -2.0f, 2.0f);
    Dev gx(x), gy((size_t)M * B * out), gys((size_t)B * out);
    // first the first half of the models (eval: no state changes), so that the full set below
    // must grow many[0]'s cached pointer table
    const int H = (M + 1) / 2;
    OK(mbrl_mlp_forward_many(many.data(), H, gx.p, B, gy.p, 0));
    {
      const auto yh = gy.down();
      for (int i = 0; i < H; ++i) {
        OK(mbrl_mlp_forward(single[i], gx.p, B, gys.p, 0));
        const std::vector<float> yi(yh.begin() + (size_t)i * B * out,
                                    yh.begin() + (size_t)(i + 1) * B * out);
        expect_close(yi, gys.down(), 1e-5, 1e-5, "first half, model " + std::to_string(i));
      }
    }
    for (int train = 1; train >= 0; --train) {
      SCOPED_TRACE("train=" + std::to_string(train));
      OK(mbrl_mlp_forward_many(many.data(), M, gx.p, B, gy.p, train));
      std::vector<float> ycpu((size_t)M * B * out);
      OK(mbrl_mlp_forward_many(cpu.data(), M, x.data(), B, ycpu.data(), train));
      const auto ymany = gy.down();
      expect_close(ymany, ycpu, 5e-5, 1e-4, "forward_many vs CPU");
      for (int i = 0; i < M; ++i) {
        OK(mbrl_mlp_forward(single[i], gx.p, B, gys.p, train));
        const std::vector<float> yi(ymany.begin() + (size_t)i * B * out,
                                    ymany.begin() + (size_t)(i + 1) * B * out);
        // batched and single cuBLAS products may pick different kernels: rounding only
        expect_close(yi, gys.down(), 1e-5, 1e-5, "model " + std::to_string(i));
        expect_close(buffers_of(many[i]), buffers_of(single[i]), 1e-6, 1e-6,
                     "running buffers of model " + std::to_string(i));
        EXPECT_EQ(many[i]->num_batches_tracked[0], single[i]->num_batches_tracked[0]);
        // what forward_many saved differentiates like a single forward
        const auto dy = uniform((size_t)B * out, 120 + i);
        Dev gdy(dy), gdx1((size_t)B * in), gdx2((size_t)B * in);
        OK(mbrl_mlp_backward(many[i], gdy.p, gdx1.p));
        OK(mbrl_mlp_backward(single[i], gdy.p, gdx2.p));
        expect_close(grads_of(many[i]), grads_of(single[i]), 1e-5, 1e-5, "grads after many");
        expect_close(gdx1.down(), gdx2.down(), 1e-5, 1e-5, "dx after many");
      }
    }
    // the same first model with the others reversed: many[0]'s cached table (same M, other ids)
    // is rebuilt in place
    std::vector<mbrl_mlp *> rev(many);
    std::reverse(rev.begin() + 1, rev.end());
    OK(mbrl_mlp_forward_many(rev.data(), M, gx.p, B, gy.p, 0));
    const auto yrev = gy.down();
    for (int i = 0; i < M; ++i) {
      OK(mbrl_mlp_forward(single[i == 0 ? 0 : M - i], gx.p, B, gys.p, 0));
      const std::vector<float> yi(yrev.begin() + (size_t)i * B * out,
                                  yrev.begin() + (size_t)(i + 1) * B * out);
      expect_close(yi, gys.down(), 1e-5, 1e-5, "reversed set, model " + std::to_string(i));
    }
    for (int i = 0; i < M; ++i) {
      mbrl_mlp_free(many[i]);
      mbrl_mlp_free(single[i]);
      mbrl_mlp_free(cpu[i]);
    }
  }
}

// ---------------------------------------------------------------- dynamics trainer

// 20 Pendulum episodes of 60 steps under uniform random torques (~1200 rows: 9 batches of 128
// per epoch, so 200 steps cross 22 epoch boundaries).
void pendulum_dataset(mbrl_dataset *ds) {
  ASSERT_EQ(mbrl_dataset_init(ds, "Pendulum-v1", 3, 1), MBRL_OK) << mbrl_last_error();
  std::mt19937 g(5);
  const double pi = 3.14159265358979323846;
  std::uniform_real_distribution<double> th0(-pi, pi), td0(-1.0, 1.0);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  for (int e = 0; e < 20; ++e) {
    double th = th0(g), td = td0(g);
    for (int t = 0; t < 60; ++t) {
      float obs[3], next[3], a = u(g);
      mbrl_pendulum_obs(th, td, obs);
      const double r = mbrl_pendulum_reward(th, td, a);
      mbrl_pendulum_step(&th, &td, a);
      mbrl_pendulum_obs(th, td, next);
      ASSERT_EQ(mbrl_dataset_add(ds, obs, &a, next, (float)r, 0, t == 59), MBRL_OK)
          << mbrl_last_error();
    }
  }
  ASSERT_EQ(mbrl_dataset_compute_stats(ds), MBRL_OK) << mbrl_last_error();
}

struct TrainRun {
  mbrl_dynamics *d = nullptr;
  mbrl_dynamics_trainer *t = nullptr;
  std::vector<float> losses;
  double run_seconds = 0.0; // wall time inside mbrl_dynamics_trainer_run
  ~TrainRun() {
    mbrl_dynamics_trainer_free(t);
    mbrl_dynamics_free(d);
  }
};

void train(TrainRun *r, const mbrl_dataset *ds, mbrl_backend be, const std::vector<int> &parts) {
  const int hidden[2] = {64, 64};
  ASSERT_EQ(mbrl_dynamics_create(&r->d, "Pendulum-v1", 3, 1, &ds->stats, 2, hidden, 1, be, 128, 3),
            MBRL_OK)
      << mbrl_last_error();
  const mbrl_optim_config oc = mbrl_optim_adam_config(0.01f, 0.99f, 0.999f);
  ASSERT_EQ(mbrl_dynamics_trainer_create(&r->t, r->d, ds, &oc, 128, 9), MBRL_OK)
      << mbrl_last_error();
  for (int n : parts) {
    std::vector<float> l(n);
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(mbrl_dynamics_trainer_run(r->t, n, l.data()), MBRL_OK) << mbrl_last_error();
    r->run_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r->losses.insert(r->losses.end(), l.begin(), l.end());
  }
}

TEST(NnCuda, DynamicsTraining200StepsMatchesCpu) {
  MBRL_REQUIRE_GPU();
  mbrl_dataset ds;
  pendulum_dataset(&ds);
  ASSERT_FALSE(HasFatalFailure());
  TrainRun cpu, gpu, eager, split;
  train(&cpu, &ds, MBRL_BACKEND_CPU, {200});
  train(&gpu, &ds, MBRL_BACKEND_CUDA, {200});
  train(&split, &ds, MBRL_BACKEND_CUDA, {150, 50}); // other chunk and graph-replay pattern
  setenv("MBRL_CUDA_GRAPHS", "0", 1);                // eager launches, no graphs
  train(&eager, &ds, MBRL_BACKEND_CUDA, {200});
  unsetenv("MBRL_CUDA_GRAPHS");
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(gpu.losses.size(), 200u);
  // for the record (no bound: hardware dependent); the graph runs include the one-time capture
  std::printf("[   INFO   ] 200 steps at batch 128: cpu %.1f us/step, cuda graphs %.1f us/step, "
              "cuda eager %.1f us/step\n",
              cpu.run_seconds / 200 * 1e6, gpu.run_seconds / 200 * 1e6,
              eager.run_seconds / 200 * 1e6);

  // step 1: the same initial weights and the same first minibatch
  EXPECT_NEAR(gpu.losses[0], cpu.losses[0], 1e-5 * cpu.losses[0] + 1e-7);
  // Same minibatches, same initial weights: the curves differ only by rounding. Measured on the
  // CPU, a 1e-6 relative perturbation of every weight moves the 200 losses of this run by at
  // most 8e-6 relative and the final eval MSE by 1%; the bounds below leave 100x that margin,
  // while another minibatch order (sampler seed 10) moves single losses by up to 65%.
  for (int s = 0; s < 200; ++s)
    EXPECT_NEAR(gpu.losses[s], cpu.losses[s], (s < 20 ? 1e-3 : 1e-2) * cpu.losses[s])
        << "step " << s + 1;
  EXPECT_LT(gpu.losses.back(), 0.5 * gpu.losses.front()) << "the CUDA run did not learn";
  // graphs, eager launches and other run splits replay the same kernels: bit-identical
  EXPECT_EQ(eager.losses, gpu.losses) << "CUDA graph replay differs from eager launches";
  EXPECT_EQ(split.losses, gpu.losses) << "run(150) + run(50) differs from run(200)";
  EXPECT_EQ(mbrl_dynamics_trainer_steps(gpu.t), 200);
  EXPECT_EQ(gpu.d->mlp->num_batches_tracked[0], 200);
  EXPECT_EQ(gpu.d->mlp->num_batches_tracked[1], 200);
  // the trained models predict alike (eval mode: running statistics)
  double mse_cpu = 0, mse_gpu = 0;
  OK(mbrl_dynamics_eval_mse(cpu.d, &ds, &mse_cpu));
  OK(mbrl_dynamics_eval_mse(gpu.d, &ds, &mse_gpu));
  EXPECT_NEAR(mse_gpu, mse_cpu, 0.1 * mse_cpu);
  mbrl_dataset_free(&ds);
}

// Runs longer than one chunk (CHUNK_MAX_STEPS = 8192 steps at batch 128 in dynamics_train.cu):
// chunk boundaries at different steps (8192 + 8 vs 100 + 8100) re-upload the minibatch indices
// and reset the device step index at different places, and must not change a single bit.
TEST(NnCuda, DynamicsTrainerChunkBoundariesDoNotMatter) {
  MBRL_REQUIRE_GPU();
  mbrl_dataset ds;
  pendulum_dataset(&ds);
  ASSERT_FALSE(HasFatalFailure());
  TrainRun one, two;
  train(&one, &ds, MBRL_BACKEND_CUDA, {8200});
  train(&two, &ds, MBRL_BACKEND_CUDA, {100, 8100});
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(one.losses.size(), 8200u);
  EXPECT_EQ(one.losses, two.losses);
  EXPECT_EQ(mbrl_dynamics_trainer_steps(one.t), 8200);
  EXPECT_EQ(one.d->mlp->num_batches_tracked[0], 8200);
  // still learning past the first chunk: on the CPU these 8200 steps start at 1.48 and the
  // last 100 minibatch losses stay below 0.023
  double tail = 0.0;
  for (size_t i = 8100; i < 8200; ++i) tail += one.losses[i] / 100.0;
  EXPECT_LT(tail, 0.05) << "mean of the last 100 losses";
  mbrl_dataset_free(&ds);
}

}  // namespace

#endif  // MBRL_HAVE_CUDA
