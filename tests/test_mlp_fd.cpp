// tests/test_mlp_fd.cpp - mlp gradients by finite differences (whole network, BatchNorm in
// training mode included), BN folding, orthogonal init, flat state vectors, HDF5 round trips
// and bad input.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "testing.h"

extern "C" {
#include "mbrl/mlp.h"
}

namespace {

using mbrl_test::randn;

mbrl_mlp_config small_config(int bn, mbrl_act act) {
  const int sizes[4] = {3, 5, 4, 2};
  mbrl_mlp_config c;
  mbrl_mlp_config_init(&c, 3, sizes);
  c.batchnorm = bn;
  c.activation = act;
  c.seed = 7;
  return c;
}


// Randomize every parameter (so BN gamma/beta and biases are not trivial).
void randomize_params(mbrl_mlp *m, unsigned seed) {
  std::vector<float> p = randn(m->n_params, seed, 0.6f);
  for (int l = 0; l < m->cfg.n_layers - 1; ++l)
    if (m->cfg.batchnorm)
      for (int c = 0; c < m->cfg.sizes[l + 1]; ++c) p[m->gamma_off[l] + c] += 1.0f;
  ASSERT_EQ(mbrl_mlp_set_params(m, p.data()), MBRL_OK);
}

// L = sum_i R_i y_i accumulated in double (so dL/dy = R), from a train-mode forward.
// Running statistics are restored so every evaluation sees the same state.
double loss_at(mbrl_mlp *m, const std::vector<float> &x, int B, const std::vector<float> &R,
               std::vector<int> *relu_mask) {
  std::vector<float> saved(mbrl_mlp_state_size(m));
  mbrl_mlp_get_state(m, saved.data());
  std::vector<float> y(R.size());
  EXPECT_EQ(mbrl_mlp_forward(m, x.data(), B, y.data(), 1), MBRL_OK) << mbrl_last_error();
  if (relu_mask) {
    relu_mask->clear();
    for (int l = 0; l < m->cfg.n_layers - 1; ++l)
      for (int i = 0; i < B * m->cfg.sizes[l + 1]; ++i) relu_mask->push_back(m->a[l][i] > 0.0f);
  }
  mbrl_mlp_set_state(m, saved.data());
  double L = 0;
  for (size_t i = 0; i < y.size(); ++i) L += (double)R[i] * (double)y[i];
  return L;
}

// Central differences with step h in float parameters/inputs. Float forward rounding gives L a
// noise of ~1e-7 * sum|R_i y_i| (~1e-6 here), i.e. ~1e-4 in the quotient at h = 1e-2, and the
// truncation error is O(h^2) ~ 1e-4 for these smooth O(1) functions: tolerance atol 2e-3,
// rtol 2e-2 holds an order of magnitude of margin and still catches any wrong term (a missing
// BN mean/variance path changes gradients by O(1)). For ReLU a central difference that crosses
// a kink is meaningless: such entries (ReLU mask changes at +h or -h) are skipped and counted.
void fd_check(int bn, mbrl_act act) {
  SCOPED_TRACE(std::string("bn=") + std::to_string(bn) + " act=" + std::to_string((int)act));
  mbrl_mlp_config c = small_config(bn, act);
  const int B = 6, in = c.sizes[0], out = c.sizes[c.n_layers];
  mbrl_mlp *m = nullptr;
  ASSERT_EQ(mbrl_mlp_create(&m, &c, MBRL_BACKEND_CPU, B), MBRL_OK) << mbrl_last_error();
  randomize_params(m, 11);
  std::vector<float> x = randn((size_t)B * in, 12), R = randn((size_t)B * out, 13);
  std::vector<float> y(R.size()), dx(x.size()), grads(m->n_params);
  std::vector<int> mask0, mp, mn;

  // analytic: forward (train) then backward from dL/dy = R
  std::vector<float> saved(mbrl_mlp_state_size(m));
  mbrl_mlp_get_state(m, saved.data());
  ASSERT_EQ(mbrl_mlp_forward(m, x.data(), B, y.data(), 1), MBRL_OK);
  ASSERT_EQ(mbrl_mlp_backward(m, R.data(), dx.data()), MBRL_OK);
  mbrl_mlp_get_grads(m, grads.data());
  mbrl_mlp_set_state(m, saved.data());
  loss_at(m, x, B, R, &mask0);

  const float h = 1e-2f;
  double worst = 0;
  int skipped = 0, checked = 0;
  auto compare = [&](double fd, double an) {
    worst = std::max(worst, std::fabs(fd - an) / (2e-3 + 2e-2 * std::fabs(an)));
    checked++;
  };
  std::vector<float> p(m->n_params);
  mbrl_mlp_get_params(m, p.data());
  for (size_t i = 0; i < m->n_params; ++i) {
    const float keep = p[i];
    p[i] = keep + h;
    mbrl_mlp_set_params(m, p.data());
    double Lp = loss_at(m, x, B, R, &mp);
    p[i] = keep - h;
    mbrl_mlp_set_params(m, p.data());
    double Ln = loss_at(m, x, B, R, &mn);
    p[i] = keep;
    mbrl_mlp_set_params(m, p.data());
    if (act == MBRL_ACT_RELU && (mp != mask0 || mn != mask0)) {
      skipped++;
      continue;
    }
    compare((Lp - Ln) / (2.0 * h), grads[i]);
  }
  for (size_t i = 0; i < x.size(); ++i) {
    std::vector<float> xp = x, xn = x;
    xp[i] += h;
    xn[i] -= h;
    double Lp = loss_at(m, xp, B, R, &mp), Ln = loss_at(m, xn, B, R, &mn);
    if (act == MBRL_ACT_RELU && (mp != mask0 || mn != mask0)) {
      skipped++;
      continue;
    }
    compare((Lp - Ln) / (2.0 * h), dx[i]);
  }
  std::printf("  fd bn=%d act=%d: %d checked, %d skipped (ReLU kink), worst err/tol = %.4f\n", bn,
              (int)act, checked, skipped, worst);
  EXPECT_LE(worst, 1.0);
  EXPECT_LE(skipped, (checked + skipped) / 4) << "too many kinks to say anything";
  mbrl_mlp_free(m);
}

TEST(MlpFiniteDiff, BatchNormTanh) { fd_check(1, MBRL_ACT_TANH); }
TEST(MlpFiniteDiff, BatchNormRelu) { fd_check(1, MBRL_ACT_RELU); }
TEST(MlpFiniteDiff, BatchNormNoActivation) { fd_check(1, MBRL_ACT_NONE); }
TEST(MlpFiniteDiff, PlainTanh) { fd_check(0, MBRL_ACT_TANH); }

// Backward in eval mode (statistics held constant) by finite differences of the eval forward.
TEST(MlpFiniteDiff, BatchNormEvalMode) {
  mbrl_mlp_config c = small_config(1, MBRL_ACT_TANH);
  const int B = 5, in = c.sizes[0], out = c.sizes[c.n_layers];
  mbrl_mlp *m = nullptr;
  ASSERT_EQ(mbrl_mlp_create(&m, &c, MBRL_BACKEND_CPU, B), MBRL_OK);
  randomize_params(m, 21);
  std::vector<float> x = randn((size_t)B * in, 22), R = randn((size_t)B * out, 23);
  std::vector<float> y(R.size()), dx(x.size()), g(m->n_params), p(m->n_params);
  for (int k = 0; k < 3; ++k) mbrl_mlp_forward(m, randn(x.size(), 30 + k).data(), B, y.data(), 1);
  ASSERT_EQ(mbrl_mlp_forward(m, x.data(), B, y.data(), 0), MBRL_OK);
  ASSERT_EQ(mbrl_mlp_backward(m, R.data(), dx.data()), MBRL_OK);
  mbrl_mlp_get_grads(m, g.data());
  mbrl_mlp_get_params(m, p.data());
  auto L = [&](const std::vector<float> &xx) {
    mbrl_mlp_forward(m, xx.data(), B, y.data(), 0);
    double s = 0;
    for (size_t i = 0; i < y.size(); ++i) s += (double)R[i] * y[i];
    return s;
  };
  const float h = 1e-2f;
  double worst = 0;
  for (size_t i = 0; i < m->n_params; ++i) {
    const float keep = p[i];
    p[i] = keep + h;
    mbrl_mlp_set_params(m, p.data());
    double Lp = L(x);
    p[i] = keep - h;
    mbrl_mlp_set_params(m, p.data());
    double Ln = L(x);
    p[i] = keep;
    mbrl_mlp_set_params(m, p.data());
    worst = std::max(worst, std::fabs((Lp - Ln) / (2 * h) - g[i]) / (2e-3 + 2e-2 * std::fabs(g[i])));
  }
  for (size_t i = 0; i < x.size(); ++i) {
    std::vector<float> xp = x, xn = x;
    xp[i] += h;
    xn[i] -= h;
    worst = std::max(worst, std::fabs((L(xp) - L(xn)) / (2 * h) - dx[i]) /
                                (2e-3 + 2e-2 * std::fabs(dx[i])));
  }
  std::printf("  fd eval-mode BN: worst err/tol = %.4f\n", worst);
  EXPECT_LE(worst, 1.0);
  mbrl_mlp_free(m);
}

// Backward overwrites (does not accumulate) the gradients.
TEST(Mlp, BackwardOverwrites) {
  mbrl_mlp_config c = small_config(1, MBRL_ACT_RELU);
  mbrl_mlp *m = nullptr;
  ASSERT_EQ(mbrl_mlp_create(&m, &c, MBRL_BACKEND_CPU, 8), MBRL_OK);
  std::vector<float> x = randn(8 * 3, 1), dy = randn(8 * 2, 2), y(16), g1(m->n_params),
                     g2(m->n_params);
  mbrl_mlp_forward(m, x.data(), 8, y.data(), 1);
  mbrl_mlp_backward(m, dy.data(), nullptr);
  mbrl_mlp_get_grads(m, g1.data());
  mbrl_mlp_backward(m, dy.data(), nullptr);
  mbrl_mlp_get_grads(m, g2.data());
  EXPECT_EQ(g1, g2);
  mbrl_mlp_free(m);
}

// Folding eval-mode BN into the Linear layers leaves eval predictions unchanged.
TEST(Mlp, FoldBatchNormMatchesEval) {
  const int sizes[4] = {4, 64, 64, 3};
  mbrl_mlp_config c;
  mbrl_mlp_config_init(&c, 3, sizes);
  c.batchnorm = 1;
  c.seed = 3;
  const int B = 128;
  mbrl_mlp *m = nullptr, *f = nullptr;
  ASSERT_EQ(mbrl_mlp_create(&m, &c, MBRL_BACKEND_CPU, B), MBRL_OK);
  randomize_params(m, 5);
  std::vector<float> y(B * 3), yf(B * 3);
  for (int k = 0; k < 5; ++k)  // non-trivial running statistics
    mbrl_mlp_forward(m, randn(B * 4, 40 + k, 2.0f).data(), B, y.data(), 1);
  ASSERT_EQ(mbrl_mlp_fold_batchnorm(m, 1024, &f), MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(f->cfg.batchnorm, 0);
  EXPECT_EQ(f->max_batch, 1024);
  std::vector<float> x = randn(B * 4, 50);
  ASSERT_EQ(mbrl_mlp_forward(m, x.data(), B, y.data(), 0), MBRL_OK);
  ASSERT_EQ(mbrl_mlp_forward(f, x.data(), B, yf.data(), 0), MBRL_OK);
  // float: W*s and (b-mean)*s+beta are rounded once more than the unfolded path
  double r = mbrl_test::worst_ratio(yf.data(), y.data(), y.size(), 1e-5, 1e-4);
  std::printf("  folded vs unfolded eval: worst err/tol = %.4f\n", r);
  EXPECT_LE(r, 1.0);
  // the difference is not trivially zero because the train forward would differ
  ASSERT_EQ(mbrl_mlp_forward(m, x.data(), B, y.data(), 1), MBRL_OK);
  EXPECT_GT(mbrl_test::worst_ratio(yf.data(), y.data(), y.size(), 1e-5, 1e-4), 1.0);
  mbrl_mlp_free(f);
  mbrl_mlp_free(m);
}

// torch.nn.init.orthogonal_: W W^T = gain^2 I (rows <= cols) or W^T W = gain^2 I.
TEST(Mlp, OrthogonalInit) {
  const int sizes[4] = {4, 64, 64, 3};
  mbrl_mlp_config c;
  mbrl_mlp_config_init(&c, 3, sizes);
  c.batchnorm = 1;
  c.init_gain[0] = std::sqrt(2.0f);
  c.init_gain[1] = 1.0f;
  c.init_gain[2] = 0.01f;
  c.seed = 123;
  mbrl_mlp *m = nullptr, *m2 = nullptr, *m3 = nullptr;
  ASSERT_EQ(mbrl_mlp_create(&m, &c, MBRL_BACKEND_CPU, 2), MBRL_OK);
  std::vector<float> p(m->n_params), p2(m->n_params);
  mbrl_mlp_get_params(m, p.data());
  for (int l = 0; l < 3; ++l) {
    const int rows = sizes[l + 1], cols = sizes[l];
    const float *W = p.data() + m->w_off[l];
    const int k = std::min(rows, cols);
    const double g2 = (double)c.init_gain[l] * c.init_gain[l];
    double worst = 0;
    for (int i = 0; i < k; ++i)
      for (int j = 0; j < k; ++j) {
        double s = 0;
        if (rows <= cols)
          for (int t = 0; t < cols; ++t) s += (double)W[i * cols + t] * W[j * cols + t];
        else
          for (int t = 0; t < rows; ++t) s += (double)W[t * cols + i] * W[t * cols + j];
        worst = std::max(worst, std::fabs(s - (i == j ? g2 : 0.0)) / g2);
      }
    std::printf("  orthogonal layer %d (%dx%d, gain %g): worst |gram - gain^2 I| / gain^2 = %.2e\n",
                l, rows, cols, (double)c.init_gain[l], worst);
    EXPECT_LE(worst, 1e-5);  // float rounding of unit-norm rows: ~k * 6e-8
    for (int i = 0; i < rows; ++i) EXPECT_EQ(p[m->b_off[l] + i], 0.0f);
  }
  for (int i = 0; i < 64; ++i) {
    EXPECT_EQ(p[m->gamma_off[0] + i], 1.0f);
    EXPECT_EQ(p[m->beta_off[0] + i], 0.0f);
  }
  std::vector<float> buf(m->n_buffers);
  mbrl_mlp_get_buffers(m, buf.data());
  for (int i = 0; i < 64; ++i) {
    EXPECT_EQ(buf[m->rmean_off[1] + i], 0.0f);
    EXPECT_EQ(buf[m->rvar_off[1] + i], 1.0f);
  }
  // deterministic for a seed, different for another
  ASSERT_EQ(mbrl_mlp_create(&m2, &c, MBRL_BACKEND_CPU, 2), MBRL_OK);
  mbrl_mlp_get_params(m2, p2.data());
  EXPECT_EQ(p, p2);
  c.seed = 124;
  ASSERT_EQ(mbrl_mlp_create(&m3, &c, MBRL_BACKEND_CPU, 2), MBRL_OK);
  mbrl_mlp_get_params(m3, p2.data());
  EXPECT_NE(p, p2);
  mbrl_mlp_free(m);
  mbrl_mlp_free(m2);
  mbrl_mlp_free(m3);
}

// Flat state vector: seed 000's model_weights_as_vector order and length, set/get round trip.
TEST(Mlp, StateVectorRoundTrip) {
  const int sizes[4] = {4, 64, 64, 3};
  mbrl_mlp_config c;
  mbrl_mlp_config_init(&c, 3, sizes);
  c.batchnorm = 1;
  mbrl_mlp *m = nullptr;
  ASSERT_EQ(mbrl_mlp_create(&m, &c, MBRL_BACKEND_CPU, 16), MBRL_OK);
  // len(model_weights_as_vector(MLP(3, 1))) for the seed's model:
  // (256+64) + (64+64+64+64+1) + (4096+64) + (64*4+1) + (192+3) = 5189
  ASSERT_EQ(mbrl_mlp_state_size(m), 5189u);
  std::vector<float> y(16 * 3);
  mbrl_mlp_forward(m, randn(16 * 4, 1).data(), 16, y.data(), 1);
  mbrl_mlp_forward(m, randn(16 * 4, 2).data(), 16, y.data(), 1);
  std::vector<float> s(5189), s2(5189), p(m->n_params);
  ASSERT_EQ(mbrl_mlp_get_state(m, s.data()), MBRL_OK);
  mbrl_mlp_get_params(m, p.data());
  // order: network.0.weight, .0.bias, .1.weight, .1.bias, .1.running_mean, .1.running_var,
  // .1.num_batches_tracked, .3.weight ...
  EXPECT_TRUE(std::equal(p.begin(), p.begin() + 256 + 64 + 128, s.begin()));
  EXPECT_EQ(s[256 + 64 + 256], 2.0f);  // num_batches_tracked after two train forwards
  std::vector<float> v = randn(5189, 9);
  v[256 + 64 + 256] = 17.0f;
  v[5189 - 195 - 1] = 17.0f;  // second BN counter
  for (int i = 0; i < 64; ++i) {  // variances must stay positive to be meaningful
    v[256 + 64 + 192 + i] = std::fabs(v[256 + 64 + 192 + i]) + 0.1f;
  }
  ASSERT_EQ(mbrl_mlp_set_state(m, v.data()), MBRL_OK) << mbrl_last_error();
  ASSERT_EQ(mbrl_mlp_get_state(m, s2.data()), MBRL_OK);
  EXPECT_EQ(v, s2);
  EXPECT_EQ(m->num_batches_tracked[0], 17);
  // a NaN is refused and nothing changes
  std::vector<float> bad = v;
  bad[100] = NAN;
  EXPECT_EQ(mbrl_mlp_set_state(m, bad.data()), MBRL_ERR_NUMERIC);
  EXPECT_NE(std::string(mbrl_last_error()).find("state[100]"), std::string::npos);
  mbrl_mlp_get_state(m, s2.data());
  EXPECT_EQ(v, s2);
  mbrl_mlp_free(m);
}

TEST(Mlp, SaveLoadRoundTrip) {
  mbrl_test::TempDir dir;
  for (int bn = 0; bn < 2; ++bn) {
    mbrl_mlp_config c = small_config(bn, bn ? MBRL_ACT_RELU : MBRL_ACT_TANH);
    mbrl_mlp *m = nullptr, *l = nullptr;
    ASSERT_EQ(mbrl_mlp_create(&m, &c, MBRL_BACKEND_CPU, 8), MBRL_OK);
    randomize_params(m, 3);
    std::vector<float> y(16), y2(16), x = randn(8 * 3, 4);
    mbrl_mlp_forward(m, x.data(), 8, y.data(), 1);
    const std::string path = dir.file("m" + std::to_string(bn) + ".h5");
    ASSERT_EQ(mbrl_mlp_save(m, path.c_str()), MBRL_OK) << mbrl_last_error();
    ASSERT_EQ(mbrl_mlp_load(path.c_str(), "/network", MBRL_BACKEND_CPU, 8, &l), MBRL_OK)
        << mbrl_last_error();
    EXPECT_EQ(l->cfg.n_layers, 3);
    EXPECT_EQ(l->cfg.batchnorm, bn);
    EXPECT_EQ(l->cfg.activation, c.activation);
    std::vector<float> s1(mbrl_mlp_state_size(m)), s2(mbrl_mlp_state_size(l));
    mbrl_mlp_get_state(m, s1.data());
    mbrl_mlp_get_state(l, s2.data());
    EXPECT_EQ(s1, s2);
    mbrl_mlp_forward(m, x.data(), 8, y.data(), 0);
    mbrl_mlp_forward(l, x.data(), 8, y2.data(), 0);
    EXPECT_EQ(y, y2);
    // no temporary left behind
    EXPECT_EQ(mbrl_test::list_dir(dir.path).size(), (size_t)(bn + 1));
    mbrl_mlp_free(m);
    mbrl_mlp_free(l);
  }
  // missing file / not HDF5 / unwritable directory
  mbrl_mlp *l = nullptr;
  EXPECT_EQ(mbrl_mlp_load(dir.file("nope.h5").c_str(), nullptr, MBRL_BACKEND_CPU, 8, &l),
            MBRL_ERR_IO);
  EXPECT_NE(std::string(mbrl_last_error()).find("nope.h5"), std::string::npos);
  FILE *f = std::fopen(dir.file("junk.h5").c_str(), "w");
  std::fputs("not hdf5 at all", f);
  std::fclose(f);
  EXPECT_EQ(mbrl_mlp_load(dir.file("junk.h5").c_str(), nullptr, MBRL_BACKEND_CPU, 8, &l),
            MBRL_ERR_FORMAT);
  EXPECT_EQ(l, nullptr);
  mbrl_mlp_config c = small_config(1, MBRL_ACT_RELU);
  mbrl_mlp *m = nullptr;
  ASSERT_EQ(mbrl_mlp_create(&m, &c, MBRL_BACKEND_CPU, 8), MBRL_OK);
  EXPECT_EQ(mbrl_mlp_save(m, dir.file("no/such/dir/m.h5").c_str()), MBRL_ERR_IO);
  mbrl_mlp_free(m);
}

TEST(Mlp, BadInput) {
  mbrl_mlp_config c = small_config(1, MBRL_ACT_RELU);
  mbrl_mlp *m = nullptr;
  c.n_layers = 0;
  EXPECT_EQ(mbrl_mlp_create(&m, &c, MBRL_BACKEND_CPU, 8), MBRL_ERR_INVALID_ARG);
  EXPECT_NE(std::string(mbrl_last_error()).find("n_layers"), std::string::npos);
  c = small_config(1, MBRL_ACT_RELU);
  c.sizes[2] = 0;
  EXPECT_EQ(mbrl_mlp_create(&m, &c, MBRL_BACKEND_CPU, 8), MBRL_ERR_INVALID_ARG);
  EXPECT_NE(std::string(mbrl_last_error()).find("sizes[2]"), std::string::npos);
  c = small_config(1, MBRL_ACT_RELU);
  EXPECT_EQ(mbrl_mlp_create(&m, &c, MBRL_BACKEND_CPU, 0), MBRL_ERR_INVALID_ARG);
  ASSERT_EQ(mbrl_mlp_create(&m, &c, MBRL_BACKEND_CPU, 8), MBRL_OK);
  std::vector<float> x(9 * 3), y(9 * 2);
  EXPECT_EQ(mbrl_mlp_backward(m, y.data(), nullptr), MBRL_ERR_INVALID_ARG);  // no forward yet
  EXPECT_EQ(mbrl_mlp_forward(m, x.data(), 9, y.data(), 0), MBRL_ERR_INVALID_ARG);
  EXPECT_NE(std::string(mbrl_last_error()).find("max_batch"), std::string::npos);
  EXPECT_EQ(mbrl_mlp_forward(m, x.data(), 1, y.data(), 1), MBRL_ERR_INVALID_ARG);
  EXPECT_NE(std::string(mbrl_last_error()).find("at least 2"), std::string::npos);
  EXPECT_EQ(mbrl_mlp_forward(m, x.data(), 1, y.data(), 0), MBRL_OK);  // eval with B=1 is fine
  mbrl_optim_config oc = mbrl_optim_adam_config(0.01f, 1.5f, 0.999f);
  mbrl_optim *o = nullptr;
  EXPECT_EQ(mbrl_optim_create(&o, &oc, m), MBRL_ERR_INVALID_ARG);
  EXPECT_EQ(mbrl_mlp_clip_grad_norm(m, 0.0f, nullptr), MBRL_ERR_INVALID_ARG);
  mbrl_mlp_free(m);
}

// forward_many equals M single forwards.
TEST(Mlp, ForwardManyEqualsSingles) {
  mbrl_mlp_config c = small_config(0, MBRL_ACT_TANH);
  const int M = 4, B = 8;
  mbrl_mlp *ms[M];
  for (int i = 0; i < M; ++i) {
    c.seed = 100 + (uint64_t)i;
    ASSERT_EQ(mbrl_mlp_create(&ms[i], &c, MBRL_BACKEND_CPU, B), MBRL_OK);
  }
  std::vector<float> x = randn(B * 3, 5), y((size_t)M * B * 2), y1(B * 2);
  ASSERT_EQ(mbrl_mlp_forward_many(ms, M, x.data(), B, y.data(), 0), MBRL_OK);
  for (int i = 0; i < M; ++i) {
    mbrl_mlp_forward(ms[i], x.data(), B, y1.data(), 0);
    EXPECT_TRUE(std::equal(y1.begin(), y1.end(), y.begin() + (long)i * B * 2)) << i;
  }
  for (int i = 0; i < M; ++i) mbrl_mlp_free(ms[i]);
}

}  // namespace
