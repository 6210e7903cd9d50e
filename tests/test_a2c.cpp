// tests/test_a2c.cpp - A2C / REINFORCE math and trainer: GAE and returns against hand-computed
// fragments (termination, truncation, both), loss gradients against finite differences (on
// the logits and through the mlp backward), the joint gradient clip, init gains, determinism,
// flat state vectors, save/load, the refusals of bad input and (with a GPU) the CUDA trainer
// against the CPU one.
#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "testing.h"

extern "C" {
#include "mbrl/a2c.h"
#include "mbrl/h5util.h"
#include "mbrl/mlp.h"
#include "mbrl/philox.h"
}

using mbrl_test::TempDir;

namespace {

bool has(const std::string &s, const std::string &sub) { return s.find(sub) != std::string::npos; }

// One fragment of T = 3 steps, gamma 0.5: rewards 1, values (0.5, 0.25, 1.0), last value 2.
struct Frag {
  std::vector<float> r{1, 1, 1}, v{0.5f, 0.25f, 1.0f}, tv{0, 4.0f, 0}, last{2.0f};
  std::vector<uint8_t> term{0, 0, 0}, trunc{0, 0, 0};
  std::vector<float> adv = std::vector<float>(3), ret = std::vector<float>(3);
  void gae(float lambda) {
    mbrl_a2c_gae(adv.data(), ret.data(), r.data(), term.data(), trunc.data(), v.data(), tv.data(),
                 last.data(), 3, 1, 0.5f, lambda);
  }
};

void expect_vec(const std::vector<float> &got, const std::vector<float> &want, float tol = 0) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "index " << i;
}

}  // namespace

TEST(A2cGae, NoDoneBootstrapsWithLastValue) {
  Frag f;
  f.gae(1.0f);
  // R2 = 1 + .5*2 = 2, R1 = 1 + .5*2 = 2, R0 = 2
  expect_vec(f.ret, {2, 2, 2});
  expect_vec(f.adv, {1.5f, 1.75f, 1.0f});
}

TEST(A2cGae, TerminationCutsTheReturn) {
  Frag f;
  f.term[1] = 1;
  f.gae(1.0f);
  // R2 = 2 (next episode), R1 = 1 (terminal, no bootstrap), R0 = 1 + .5*1 = 1.5
  expect_vec(f.ret, {1.5f, 1.0f, 2.0f});
  expect_vec(f.adv, {1.0f, 0.75f, 1.0f});
}

TEST(A2cGae, TruncationBootstrapsWithTerminalValue) {
  Frag f;
  f.trunc[1] = 1;
  f.gae(1.0f);
  // SB3: r1 += gamma * V(terminal obs) = 1 + .5*4 = 3; R1 = 3, R0 = 1 + .5*3 = 2.5, R2 = 2
  expect_vec(f.ret, {2.5f, 3.0f, 2.0f});
  expect_vec(f.adv, {2.0f, 2.75f, 1.0f});
}

TEST(A2cGae, TerminatedAndTruncatedTogetherIsATermination) {
  Frag f;
  f.term[1] = 1;
  f.trunc[1] = 1;
  f.gae(1.0f);
  expect_vec(f.ret, {1.5f, 1.0f, 2.0f});
}

TEST(A2cGae, LambdaHalf) {
  Frag f;
  f.gae(0.5f);
  // deltas: d2 = 1 + .5*2 - 1 = 1, d1 = 1 + .5*1 - .25 = 1.25, d0 = 1 + .5*.25 - .5 = .625
  // gae2 = 1, gae1 = 1.25 + .25*1 = 1.5, gae0 = .625 + .25*1.5 = 1
  expect_vec(f.adv, {1.0f, 1.5f, 1.0f});
  expect_vec(f.ret, {1.5f, 1.75f, 2.0f});
}

TEST(A2cGae, BatchLayoutIsTimeMajor) {
  // B = 2: env 0 has no done, env 1 is truncated at t = 1 (rows t*B + b)
  const float r[6] = {1, 1, 1, 1, 1, 1};
  const float v[6] = {0.5f, 0.5f, 0.25f, 0.25f, 1.0f, 1.0f};
  const float tv[6] = {0, 0, 0, 4.0f, 0, 0};
  const float last[2] = {2.0f, 2.0f};
  const uint8_t term[6] = {0, 0, 0, 0, 0, 0}, trunc[6] = {0, 0, 0, 1, 0, 0};
  float adv[6], ret[6];
  mbrl_a2c_gae(adv, ret, r, term, trunc, v, tv, last, 3, 2, 0.5f, 1.0f);
  const float want_ret[6] = {2, 2.5f, 2, 3, 2, 2};
  for (int k = 0; k < 6; ++k) EXPECT_EQ(ret[k], want_ret[k]) << k;
  for (int k = 0; k < 6; ++k) EXPECT_EQ(adv[k], want_ret[k] - v[k]) << k;
}

TEST(A2cReinforce, ReturnsAndBaseline) {
  const float r[3] = {1, 1, 1};
  uint8_t term[3] = {0, 0, 0}, trunc[3] = {0, 0, 0};
  float adv[3], ret[3];
  mbrl_a2c_reinforce_returns(adv, ret, r, term, trunc, 3, 1, 0.5f);
  // G2 = 1, G1 = 1.5, G0 = 1.75 (no bootstrap), mean 4.25/3
  EXPECT_EQ(ret[0], 1.75f);
  EXPECT_EQ(ret[1], 1.5f);
  EXPECT_EQ(ret[2], 1.0f);
  const float mean = 4.25f / 3.0f;
  for (int t = 0; t < 3; ++t) EXPECT_NEAR(adv[t], ret[t] - mean, 1e-6);
  trunc[0] = 1;  // an episode end (either flag) resets the return
  mbrl_a2c_reinforce_returns(adv, ret, r, term, trunc, 3, 1, 0.5f);
  EXPECT_EQ(ret[0], 1.0f);
  EXPECT_EQ(ret[1], 1.5f);
  EXPECT_EQ(ret[2], 1.0f);
}

TEST(A2cMath, SoftmaxIsStableAndNormalized) {
  const float z[6] = {1000.0f, 1001.0f, 999.0f, -5.0f, 0.0f, 5.0f};
  float p[6], lp[6];
  mbrl_a2c_softmax(p, lp, z, 2, 3);
  for (int n = 0; n < 2; ++n) {
    double s = 0;
    for (int a = 0; a < 3; ++a) {
      EXPECT_TRUE(std::isfinite(lp[n * 3 + a]));
      EXPECT_NEAR(std::exp((double)lp[n * 3 + a]), p[n * 3 + a], 1e-7);
      s += p[n * 3 + a];
    }
    EXPECT_NEAR(s, 1.0, 1e-6);
  }
  EXPECT_NEAR(p[1], 1.0 / (1.0 + std::exp(-1.0) + std::exp(-2.0)), 1e-6);
}

namespace {

// Loss as a double, recomputed from scratch for finite differences.
double loss_of(const std::vector<float> &z, const std::vector<float> &v, const std::vector<int> &act,
               const std::vector<float> &adv, const std::vector<float> &ret, int N, int A, float vf,
               float ent, bool with_values) {
  double pl = 0, vl = 0, H = 0;
  for (int n = 0; n < N; ++n) {
    double mx = -1e300;
    for (int a = 0; a < A; ++a) mx = std::max(mx, (double)z[n * A + a]);
    double s = 0;
    for (int a = 0; a < A; ++a) s += std::exp(z[n * A + a] - mx);
    const double lse = mx + std::log(s);
    pl -= adv[n] * (z[n * A + act[n]] - lse);
    for (int a = 0; a < A; ++a) {
      const double lp = z[n * A + a] - lse;
      H -= std::exp(lp) * lp;
    }
    if (with_values) vl += (v[n] - ret[n]) * (double)(v[n] - ret[n]);
  }
  return pl / N + vf * vl / N - ent * H / N;
}

}  // namespace

TEST(A2cLoss, GradientMatchesFiniteDifferences) {
  const int N = 7, A = 3;
  mbrl_philox rng;
  mbrl_philox_init(&rng, 5, 0, 0);
  std::vector<float> z(N * A), v(N), adv(N), ret(N);
  std::vector<int> act(N);
  for (auto &x : z) x = mbrl_philox_range_float(&rng, -2, 2);
  for (int n = 0; n < N; ++n) {
    v[n] = mbrl_philox_range_float(&rng, -1, 1);
    adv[n] = mbrl_philox_range_float(&rng, -2, 2);
    ret[n] = mbrl_philox_range_float(&rng, -1, 3);
    act[n] = (int)mbrl_philox_below(&rng, A);
  }
  for (float ent : {0.0f, 0.3f}) {
    for (int with_values = 0; with_values < 2; ++with_values) {
      std::vector<float> dz(N * A), dv(N);
      mbrl_a2c_losses L;
      mbrl_a2c_loss(dz.data(), dv.data(), &L, z.data(), act.data(), adv.data(), ret.data(),
                    with_values ? v.data() : nullptr, N, A, 0.5f, ent);
      EXPECT_NEAR(L.loss, loss_of(z, v, act, adv, ret, N, A, 0.5f, ent, with_values), 1e-5);
      const double h = 1e-2;
      double worst = 0;
      for (int k = 0; k < N * A; ++k) {
        // central difference in double on a double-precision loss: error O(h^2)
        auto zp = z, zm = z;
        zp[k] += (float)h;
        zm[k] -= (float)h;
        const double hh = (double)zp[k] - (double)zm[k];
        const double fd = (loss_of(zp, v, act, adv, ret, N, A, 0.5f, ent, with_values) -
                           loss_of(zm, v, act, adv, ret, N, A, 0.5f, ent, with_values)) / hh;
        worst = std::max(worst, std::fabs(fd - dz[k]) / (1e-4 + 1e-2 * std::fabs(fd)));
      }
      if (with_values)
        for (int n = 0; n < N; ++n) {
          auto vp = v, vm = v;
          vp[n] += (float)h;
          vm[n] -= (float)h;
          const double hh = (double)vp[n] - (double)vm[n];
          const double fd = (loss_of(z, vp, act, adv, ret, N, A, 0.5f, ent, true) -
                             loss_of(z, vm, act, adv, ret, N, A, 0.5f, ent, true)) / hh;
          worst = std::max(worst, std::fabs(fd - dv[n]) / (1e-4 + 1e-2 * std::fabs(fd)));
        }
      EXPECT_LE(worst, 1.0) << "ent " << ent << " values " << with_values;
    }
  }
}

// The whole path: loss -> dL/dlogits -> actor backward and dL/dV -> critic backward, against
// central differences of the loss in the mlp parameters (float mlps, so a loose tolerance).
TEST(A2cLoss, GradientThroughMlpBackwardMatchesFiniteDifferences) {
  const int N = 6, A = 2, O = 4;
  const int as[4] = {O, 8, 8, A}, cs[4] = {O, 8, 8, 1};
  mbrl_mlp_config ac, cc;
  mbrl_mlp_config_init(&ac, 3, as);
  mbrl_mlp_config_init(&cc, 3, cs);
  ac.activation = cc.activation = MBRL_ACT_TANH;
  mbrl_mlp *actor = nullptr, *critic = nullptr;
  ASSERT_EQ(mbrl_mlp_create(&actor, &ac, MBRL_BACKEND_CPU, N), MBRL_OK);
  ASSERT_EQ(mbrl_mlp_create(&critic, &cc, MBRL_BACKEND_CPU, N), MBRL_OK);
  mbrl_philox rng;
  mbrl_philox_init(&rng, 9, 0, 0);
  std::vector<float> x(N * O), adv(N), ret(N);
  std::vector<int> act(N);
  for (auto &e : x) e = mbrl_philox_range_float(&rng, -1, 1);
  for (int n = 0; n < N; ++n) {
    adv[n] = mbrl_philox_range_float(&rng, -2, 2);
    ret[n] = mbrl_philox_range_float(&rng, 0, 3);
    act[n] = (int)mbrl_philox_below(&rng, A);
  }
  const float vf = 0.5f, ent = 0.1f;
  auto total_loss = [&]() {
    std::vector<float> z(N * A), v(N);
    EXPECT_EQ(mbrl_mlp_forward(actor, x.data(), N, z.data(), 1), MBRL_OK);
    EXPECT_EQ(mbrl_mlp_forward(critic, x.data(), N, v.data(), 1), MBRL_OK);
    return loss_of(z, v, act, adv, ret, N, A, vf, ent, true);
  };
  // analytic
  std::vector<float> z(N * A), v(N), dz(N * A), dv(N);
  ASSERT_EQ(mbrl_mlp_forward(actor, x.data(), N, z.data(), 1), MBRL_OK);
  ASSERT_EQ(mbrl_mlp_forward(critic, x.data(), N, v.data(), 1), MBRL_OK);
  mbrl_a2c_loss(dz.data(), dv.data(), nullptr, z.data(), act.data(), adv.data(), ret.data(),
                v.data(), N, A, vf, ent);
  ASSERT_EQ(mbrl_mlp_backward(actor, dz.data(), nullptr), MBRL_OK);
  ASSERT_EQ(mbrl_mlp_backward(critic, dv.data(), nullptr), MBRL_OK);
  for (mbrl_mlp *m : {actor, critic}) {
    std::vector<float> g(m->n_params), p(m->n_params);
    ASSERT_EQ(mbrl_mlp_get_grads(m, g.data()), MBRL_OK);
    ASSERT_EQ(mbrl_mlp_get_params(m, p.data()), MBRL_OK);
    double worst = 0;
    for (size_t k = 0; k < m->n_params; ++k) {
      const float h = 1e-2f;
      auto q = p;
      q[k] = p[k] + h;
      mbrl_mlp_set_params(m, q.data());
      const float hp = q[k] - p[k];
      const double lp = total_loss();
      q[k] = p[k] - h;
      mbrl_mlp_set_params(m, q.data());
      const double lm = total_loss();
      mbrl_mlp_set_params(m, p.data());
      const double fd = (lp - lm) / (2.0 * hp);
      worst = std::max(worst, std::fabs(fd - g[k]) / (2e-4 + 2e-2 * std::fabs(fd)));
    }
    EXPECT_LE(worst, 1.0) << (m == actor ? "actor" : "critic");
  }
  mbrl_mlp_free(actor);
  mbrl_mlp_free(critic);
}

TEST(A2cClip, OneNormOverBothNetworks) {
  const int s1[3] = {4, 8, 2}, s2[3] = {4, 8, 1};
  mbrl_mlp_config c1, c2;
  mbrl_mlp_config_init(&c1, 2, s1);
  mbrl_mlp_config_init(&c2, 2, s2);
  mbrl_mlp *a = nullptr, *b = nullptr;
  ASSERT_EQ(mbrl_mlp_create(&a, &c1, MBRL_BACKEND_CPU, 4), MBRL_OK);
  ASSERT_EQ(mbrl_mlp_create(&b, &c2, MBRL_BACKEND_CPU, 4), MBRL_OK);
  for (size_t k = 0; k < a->n_params; ++k) a->grads[k] = 1.0f;
  for (size_t k = 0; k < b->n_params; ++k) b->grads[k] = -2.0f;
  const double total = std::sqrt((double)a->n_params + 4.0 * (double)b->n_params);
  mbrl_mlp *ms[2] = {a, b};
  float norm = 0;
  ASSERT_EQ(mbrl_a2c_clip_grad_norm(ms, 2, 0.5f, &norm), MBRL_OK);
  EXPECT_NEAR(norm, total, 1e-4 * total);
  const double coef = 0.5 / (total + 1e-6);
  EXPECT_NEAR(a->grads[0], coef, 1e-6);
  EXPECT_NEAR(b->grads[b->n_params - 1], -2.0 * coef, 1e-6);
  // below the threshold nothing changes
  ASSERT_EQ(mbrl_a2c_clip_grad_norm(ms, 2, 1000.0f, &norm), MBRL_OK);
  EXPECT_NEAR(a->grads[0], coef, 1e-6);
  mbrl_mlp_free(a);
  mbrl_mlp_free(b);
}

namespace {

struct Trainer {
  mbrl_a2c *a = nullptr;
  Trainer(uint64_t seed, int M = 1, mbrl_a2c_algo algo = MBRL_A2C_ALGO_A2C,
          mbrl_backend be = MBRL_BACKEND_CPU) {
    mbrl_a2c_config c;
    mbrl_a2c_config_init(&c, algo);
    c.seed = seed;
    EXPECT_EQ(mbrl_a2c_create(&a, &c, "CartPole-v1", M, be), MBRL_OK)
        << mbrl_last_error();
  }
  ~Trainer() { mbrl_a2c_free(a); }
  std::vector<float> state(int i = 0) const {
    std::vector<float> s(mbrl_a2c_state_size(a));
    EXPECT_EQ(mbrl_a2c_get_state(a, i, s.data()), MBRL_OK);
    return s;
  }
};

}  // namespace

TEST(A2cTrainer, NetworksFollowSb3Init) {
  Trainer t(3);
  ASSERT_TRUE(t.a);
  const mbrl_mlp *actor = t.a->models[0].actor, *critic = t.a->models[0].critic;
  EXPECT_EQ(actor->cfg.n_layers, 3);
  EXPECT_EQ(actor->cfg.sizes[1], 64);
  EXPECT_EQ(actor->cfg.sizes[3], 2);
  EXPECT_EQ(critic->cfg.sizes[3], 1);
  EXPECT_EQ(actor->cfg.activation, MBRL_ACT_TANH);
  // orthogonal rows: the (2, 64) policy head has rows of norm 0.01, the value head norm 1,
  // the (64, 4) first layer has orthonormal columns times sqrt(2)
  auto row_norm = [](const mbrl_mlp *m, int l, int r) {
    const int in = m->cfg.sizes[l];
    double s = 0;
    for (int i = 0; i < in; ++i) s += std::pow(m->params[m->w_off[l] + (size_t)r * in + i], 2);
    return std::sqrt(s);
  };
  EXPECT_NEAR(row_norm(actor, 2, 0), 0.01, 1e-6);
  EXPECT_NEAR(row_norm(actor, 2, 1), 0.01, 1e-6);
  EXPECT_NEAR(row_norm(critic, 2, 0), 1.0, 1e-5);
  double col = 0;
  for (int r = 0; r < 64; ++r) col += std::pow(actor->params[actor->w_off[0] + (size_t)r * 4], 2);
  EXPECT_NEAR(std::sqrt(col), std::sqrt(2.0), 1e-5);
  EXPECT_EQ(actor->params[actor->b_off[0]], 0.0f);
  // actor and critic are different networks
  EXPECT_NE(actor->params[0], critic->params[0]);
}

TEST(A2cTrainer, SameSeedRepeatsBitForBit) {
  Trainer a(11), b(11), c(12);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(mbrl_a2c_iterate(a.a, nullptr), MBRL_OK);
    ASSERT_EQ(mbrl_a2c_iterate(b.a, nullptr), MBRL_OK);
    ASSERT_EQ(mbrl_a2c_iterate(c.a, nullptr), MBRL_OK);
  }
  EXPECT_EQ(a.a->env_steps, 20 * 40);
  EXPECT_EQ(a.state(), b.state());
  EXPECT_NE(a.state(), c.state());
}

TEST(A2cTrainer, UpdatesChangeWeightsAndReportLosses) {
  Trainer t(1);
  const auto s0 = t.state();
  mbrl_a2c_stats s;
  ASSERT_EQ(mbrl_a2c_iterate(t.a, &s), MBRL_OK);
  EXPECT_NE(t.state(), s0);
  EXPECT_TRUE(std::isfinite(s.losses.policy_loss));
  EXPECT_GT(s.losses.value_loss, 0.0);
  EXPECT_NEAR(s.losses.entropy, std::log(2.0), 1e-3);  // a near-uniform policy at init
  EXPECT_GT(s.grad_norm, 0.0);
  // with training disabled (between export and import) nothing changes
  t.a->training_enabled = 0;
  const auto s1 = t.state();
  ASSERT_EQ(mbrl_a2c_iterate(t.a, nullptr), MBRL_OK);
  EXPECT_EQ(t.state(), s1);
}

TEST(A2cTrainer, TruncatedEpisodesAreBootstrappedFromTheirTerminalObservation) {
  // Put every env one step before its time limit: after one step all are truncated (and most
  // not terminated), so the fragment must store their terminal observations for V().
  Trainer t(2);
  mbrl_env_batch *eb = &t.a->envs;
  for (int b = 0; b < eb->B; ++b) eb->t[b] = eb->spec->max_steps - 1;
  ASSERT_EQ(mbrl_a2c_iterate(t.a, nullptr), MBRL_OK);
  int truncated = 0;
  for (int b = 0; b < eb->B; ++b) {
    const int k = b;  // step t = 0
    if (t.a->truncated[k] && !t.a->terminated[k]) {
      ++truncated;
      ASSERT_GE(t.a->term_row[k], (t.a->cfg.n_steps + 1) * eb->B);
    } else {
      EXPECT_EQ(t.a->term_row[k], -1);
    }
  }
  EXPECT_EQ(truncated, eb->B);
  EXPECT_EQ(t.a->n_term, eb->B);
}

TEST(A2cTrainer, StateVectorRoundTrip) {
  Trainer a(1), b(2);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(mbrl_a2c_iterate(a.a, nullptr), MBRL_OK);
  const auto s = a.state();
  EXPECT_EQ(s.size(), mbrl_mlp_state_size(a.a->models[0].actor) +
                          mbrl_mlp_state_size(a.a->models[0].critic));
  ASSERT_EQ(mbrl_a2c_set_state(b.a, 0, s.data()), MBRL_OK);
  EXPECT_EQ(b.state(), s);
  float obs[8] = {0.01f, -0.02f, 0.03f, 0.0f, 0.1f, 0.2f, -0.1f, 0.5f};
  float pa[4], pb[4];
  ASSERT_EQ(mbrl_a2c_policy(a.a, obs, 2, nullptr, pa), MBRL_OK);
  ASSERT_EQ(mbrl_a2c_policy(b.a, obs, 2, nullptr, pb), MBRL_OK);
  EXPECT_EQ(0, std::memcmp(pa, pb, sizeof pa));
  EXPECT_NE(mbrl_a2c_get_state(a.a, 1, nullptr), MBRL_OK);
}

TEST(A2cTrainer, ReinforceHasNoCriticAndLearnsSomething) {
  Trainer t(0, 1, MBRL_A2C_ALGO_REINFORCE);
  ASSERT_TRUE(t.a);
  EXPECT_EQ(t.a->models[0].critic, nullptr);
  EXPECT_EQ(t.a->cfg.n_steps, 50);
  EXPECT_EQ(mbrl_a2c_state_size(t.a), mbrl_mlp_state_size(t.a->models[0].actor));
  const auto s0 = t.state();
  mbrl_a2c_stats s;
  ASSERT_EQ(mbrl_a2c_iterate(t.a, &s), MBRL_OK);
  EXPECT_NE(t.state(), s0);
  EXPECT_EQ(s.losses.value_loss, 0.0);
}

TEST(A2cTrainer, EvaluationIsDeterministicAndCountsWholeEpisodes) {
  Trainer t(4);
  std::vector<double> r(6);
  double mean = 0;
  ASSERT_EQ(mbrl_a2c_evaluate(t.a, 6, 1, r.data(), &mean), MBRL_OK);
  double s = 0;
  for (double x : r) {
    EXPECT_GE(x, 1.0);
    EXPECT_LE(x, 500.0);
    EXPECT_EQ(x, std::floor(x));
    s += x;
  }
  EXPECT_NEAR(mean, s / 6, 1e-9);
  // the same weights and evaluation index give the same returns
  Trainer u(4);
  std::vector<double> r2(6);
  ASSERT_EQ(mbrl_a2c_evaluate(u.a, 6, 1, r2.data(), nullptr), MBRL_OK);
  EXPECT_EQ(r, r2);
  EXPECT_EQ(t.a->evaluations, 1);
}

TEST(A2cTrainer, RefusesUnknownAndContinuousEnvs) {
  mbrl_a2c_config c;
  mbrl_a2c_config_init(&c, MBRL_A2C_ALGO_A2C);
  mbrl_a2c *a = nullptr;
  EXPECT_EQ(mbrl_a2c_create(&a, &c, "Pendulum-v1", 1, MBRL_BACKEND_CPU), MBRL_ERR_INVALID_ARG);
  EXPECT_TRUE(has(mbrl_last_error(), "continuous")) << mbrl_last_error();
  EXPECT_TRUE(has(mbrl_last_error(), "Pendulum-v1")) << mbrl_last_error();
  EXPECT_EQ(a, nullptr);
  EXPECT_EQ(mbrl_a2c_create(&a, &c, "MountainCar-v9", 1, MBRL_BACKEND_CPU), MBRL_ERR_INVALID_ARG);
  EXPECT_TRUE(has(mbrl_last_error(), "CartPole-v1")) << mbrl_last_error();
  // every discrete-action env of the registry trains (3 actions for these two)
  for (const char *id : {"MountainCar-v0", "Acrobot-v1"}) {
    ASSERT_EQ(mbrl_a2c_create(&a, &c, id, 1, MBRL_BACKEND_CPU), MBRL_OK) << mbrl_last_error();
    mbrl_a2c_stats st;
    EXPECT_EQ(mbrl_a2c_iterate(a, &st), MBRL_OK) << id << ": " << mbrl_last_error();
    mbrl_a2c_free(a);
    a = nullptr;
  }
  c.n_steps = 0;
  EXPECT_EQ(mbrl_a2c_create(&a, &c, "CartPole-v1", 1, MBRL_BACKEND_CPU), MBRL_ERR_INVALID_ARG);
  EXPECT_TRUE(has(mbrl_last_error(), "n_steps")) << mbrl_last_error();
  mbrl_a2c_config_init(&c, MBRL_A2C_ALGO_A2C);
  c.gamma = 1.5f;
  EXPECT_EQ(mbrl_a2c_create(&a, &c, "CartPole-v1", 1, MBRL_BACKEND_CPU), MBRL_ERR_INVALID_ARG);
  EXPECT_TRUE(has(mbrl_last_error(), "gamma")) << mbrl_last_error();
}

TEST(A2cFile, SaveWritesPyTorchNamesAndLoadRestores) {
  TempDir dir;
  const std::string path = dir.file("policy.h5");
  Trainer a(1), b(9);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(mbrl_a2c_iterate(a.a, nullptr), MBRL_OK);
  ASSERT_EQ(mbrl_a2c_save(a.a, path.c_str()), MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(mbrl_test::list_dir(dir.path), std::vector<std::string>{"policy.h5"});
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hsize_t d[2] = {64, 4};
  EXPECT_EQ(mbrl_h5_check_f32(f, "p", "/actor/network/0/weight", 2, d), MBRL_OK);
  hsize_t d2[2] = {2, 64};
  EXPECT_EQ(mbrl_h5_check_f32(f, "p", "/actor/network/4/weight", 2, d2), MBRL_OK);
  hsize_t d3[2] = {1, 64};
  EXPECT_EQ(mbrl_h5_check_f32(f, "p", "/critic/network/4/weight", 2, d3), MBRL_OK);
  hsize_t d4[1] = {64};
  EXPECT_EQ(mbrl_h5_check_f32(f, "p", "/critic/network/2/bias", 1, d4), MBRL_OK);
  EXPECT_EQ(mbrl_h5_check_format(f, "p", "mbrl.policy", MBRL_POLICY_FORMAT_VERSION), MBRL_OK);
  char env[64];
  EXPECT_EQ(mbrl_h5_attr_read_str(f, "p", "env_id", env, sizeof env), MBRL_OK);
  EXPECT_STREQ(env, "CartPole-v1");
  H5Fclose(f);
  mbrl_a2c_file_info info;
  ASSERT_EQ(mbrl_a2c_file_info_read(path.c_str(), &info), MBRL_OK);
  EXPECT_EQ(info.models, 1);
  EXPECT_EQ(info.n_hidden, 2);
  EXPECT_EQ(info.hidden[1], 64);
  ASSERT_EQ(mbrl_a2c_load(b.a, path.c_str()), MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(b.state(), a.state());
}

TEST(A2cFile, LoadRefusesDamagedAndMismatchedFiles) {
  TempDir dir;
  const std::string path = dir.file("policy.h5");
  Trainer a(1);
  ASSERT_EQ(mbrl_a2c_save(a.a, path.c_str()), MBRL_OK);
  Trainer b(2);
  const auto before = b.state();
  // missing
  EXPECT_EQ(mbrl_a2c_load(b.a, dir.file("nope.h5").c_str()), MBRL_ERR_IO);
  EXPECT_TRUE(has(mbrl_last_error(), "nope.h5")) << mbrl_last_error();
  // truncated
  {
    std::string bytes = mbrl_test::read_file(path);
    std::ofstream(dir.file("cut.h5"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    EXPECT_NE(mbrl_a2c_load(b.a, dir.file("cut.h5").c_str()), MBRL_OK);
    EXPECT_TRUE(has(mbrl_last_error(), "cut.h5")) << mbrl_last_error();
  }
  // not HDF5 at all
  std::ofstream(dir.file("text.h5")) << "hello\n";
  EXPECT_EQ(mbrl_a2c_load(b.a, dir.file("text.h5").c_str()), MBRL_ERR_FORMAT);
  // another algorithm / ensemble size
  Trainer r(1, 1, MBRL_A2C_ALGO_REINFORCE);
  EXPECT_EQ(mbrl_a2c_load(r.a, path.c_str()), MBRL_ERR_FORMAT);
  EXPECT_TRUE(has(mbrl_last_error(), "--algo a2c")) << mbrl_last_error();
  Trainer e(1, 3);
  EXPECT_EQ(mbrl_a2c_load(e.a, path.c_str()), MBRL_ERR_FORMAT);
  EXPECT_TRUE(has(mbrl_last_error(), "--ensemble 1")) << mbrl_last_error();
  // other widths
  mbrl_a2c_config c;
  mbrl_a2c_config_init(&c, MBRL_A2C_ALGO_A2C);
  c.hidden[1] = 32;
  mbrl_a2c *w = nullptr;
  ASSERT_EQ(mbrl_a2c_create(&w, &c, "CartPole-v1", 1, MBRL_BACKEND_CPU), MBRL_OK);
  EXPECT_EQ(mbrl_a2c_load(w, path.c_str()), MBRL_ERR_FORMAT);
  EXPECT_TRUE(has(mbrl_last_error(), "shape")) << mbrl_last_error();
  mbrl_a2c_free(w);
  EXPECT_EQ(b.state(), before);
}

// One A2C trainer (M = 1, SB3 defaults: 8 envs x 5 steps) on CUDA against the same trainer on
// the CPU, iteration by iteration. Same seed: same init and the same Philox uniforms, so the
// sampled actions agree exactly (a flip would need a uniform within float rounding, ~1e-6, of
// a probability boundary). The losses and grad norm agree to |a-b| <= atol + 1e-3 |b| with
// atol 1e-5 (1e-4 for the policy loss, a mean of +-|adv| log p terms that cancel); the weights
// after update k to atol k * 1e-5, rtol 1e-3 (one update's rounding as in
// EnsembleCuda.TrainerMatchesCpu, allowed to add up over the updates).
TEST(A2cCuda, SingleTrainerMatchesCpuOverIterations) {
  MBRL_REQUIRE_GPU();
  Trainer c(21, 1, MBRL_A2C_ALGO_A2C, MBRL_BACKEND_CPU), g(21, 1, MBRL_A2C_ALGO_A2C, MBRL_BACKEND_CUDA);
  ASSERT_TRUE(c.a && g.a) << mbrl_last_error();
  EXPECT_EQ(g.a->backend, MBRL_BACKEND_CUDA);
  ASSERT_EQ(c.state(), g.state());  // the same initial weights, bit for bit
  const int TB = c.a->cfg.n_steps * c.a->cfg.n_envs;
  auto near = [](double a, double b, double atol) { return std::fabs(a - b) <= atol + 1e-3 * std::fabs(b); };
  for (int k = 1; k <= 4; ++k) {
    mbrl_a2c_stats sc, sg;
    ASSERT_EQ(mbrl_a2c_iterate(c.a, &sc), MBRL_OK) << mbrl_last_error();
    ASSERT_EQ(mbrl_a2c_iterate(g.a, &sg), MBRL_OK) << mbrl_last_error();
    ASSERT_EQ(0, std::memcmp(c.a->actions, g.a->actions, sizeof(int) * TB)) << "iteration " << k;
    EXPECT_EQ(c.a->env_steps, g.a->env_steps);
    EXPECT_EQ(sc.episodes, sg.episodes) << k;
    EXPECT_TRUE(near(sg.losses.policy_loss, sc.losses.policy_loss, 1e-4))
        << k << ": " << sg.losses.policy_loss << " vs " << sc.losses.policy_loss;
    EXPECT_TRUE(near(sg.losses.value_loss, sc.losses.value_loss, 1e-5))
        << k << ": " << sg.losses.value_loss << " vs " << sc.losses.value_loss;
    EXPECT_TRUE(near(sg.losses.entropy, sc.losses.entropy, 1e-5))
        << k << ": " << sg.losses.entropy << " vs " << sc.losses.entropy;
    EXPECT_TRUE(near(sg.grad_norm, sc.grad_norm, 1e-5))
        << k << ": " << sg.grad_norm << " vs " << sc.grad_norm;
    const auto pc = c.state(), pg = g.state();
    EXPECT_NE(pc, Trainer(21).state());  // the update did change the weights
    EXPECT_LE(mbrl_test::worst_ratio(pg.data(), pc.data(), pc.size(), k * 1e-5, 1e-3), 1.0)
        << "iteration " << k;
  }
}
