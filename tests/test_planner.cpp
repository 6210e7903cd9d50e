// tests/test_planner.cpp - random-shooting planner: plan models (oracle, learned), costs vs
// direct loops over the true env and the dynamics model, the action draws (sequence 0 zeros,
// Philox streams, E-batched == single), determinism, gamma, argmin order, bad arguments,
// the PyTorch golden file, and the CUDA backend vs the CPU backend (when a GPU is present).
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "testing.h"

extern "C" {
#include "mbrl/dynamics.h"
#include "mbrl/env.h"
#include "mbrl/h5util.h"
#include "mbrl/planner.h"
}

using mbrl_test::worst_ratio;

namespace {

struct ModelPtr {
  mbrl_plan_model *m = nullptr;
  ~ModelPtr() { mbrl_plan_model_free(m); }
};
struct PlannerPtr {
  mbrl_planner *p = nullptr;
  ~PlannerPtr() { mbrl_planner_free(p); }
};
struct DynPtr {
  mbrl_dynamics *d = nullptr;
  ~DynPtr() { mbrl_dynamics_free(d); }
};

mbrl_planner_config cfg_of(int K, int H, float gamma, int E, mbrl_backend be) {
  mbrl_planner_config c;
  mbrl_planner_config_init(&c);
  c.samples = K;
  c.horizon = H;
  c.gamma = gamma;
  c.max_envs = E;
  c.backend = be;
  return c;
}

void obs_of(double th, double thdot, float *o) {
  o[0] = (float)std::cos(th);
  o[1] = (float)std::sin(th);
  o[2] = (float)thdot;
}

// Cost of one action sequence (H) under the TRUE env (double physics, Gymnasium's reward).
double env_cost(double th, double thdot, const float *acts, int H, double gamma) {
  mbrl_env e;
  EXPECT_EQ(mbrl_env_init(&e, "Pendulum-v1", 0, 0), MBRL_OK);
  double s[2] = {th, thdot};
  mbrl_env_set_state(&e, s);
  double c = 0.0, g = 1.0;
  for (int h = 0; h < H; ++h) {
    float o[3], r;
    int term, trunc;
    mbrl_env_step(&e, &acts[h], o, &r, &term, &trunc);
    c -= g * r;
    g *= gamma;
  }
  return c;
}

// A learned model with non-trivial BatchNorm running statistics: a 4-64-64-3 seed model
// trained for a few steps on a small random pendulum dataset.
void make_dynamics(DynPtr &dp, uint64_t seed) {
  mbrl_dataset ds;
  ASSERT_EQ(mbrl_dataset_init(&ds, "Pendulum-v1", 3, 1), MBRL_OK);
  mbrl_env e;
  ASSERT_EQ(mbrl_env_init(&e, "Pendulum-v1", seed, 0), MBRL_OK);
  mbrl_philox rng;
  mbrl_philox_init(&rng, seed, 7, 0);
  float o[3], n[3], r;
  int term, trunc;
  for (int ep = 0; ep < 3; ++ep) {
    mbrl_env_reset(&e, o);
    for (int t = 0; t < 200; ++t) {
      float a = mbrl_philox_range_float(&rng, -2.0f, 2.0f);
      mbrl_env_step(&e, &a, n, &r, &term, &trunc);
      ASSERT_EQ(mbrl_dataset_add(&ds, o, &a, n, r, 0, trunc), MBRL_OK);
      std::memcpy(o, n, sizeof o);
    }
  }
  ASSERT_EQ(mbrl_dataset_compute_stats(&ds), MBRL_OK);
  int hidden[2] = {64, 64};
  ASSERT_EQ(mbrl_dynamics_create(&dp.d, "Pendulum-v1", 3, 1, &ds.stats, 2, hidden, 1,
                                 MBRL_BACKEND_CPU, 256, seed),
            MBRL_OK);
  mbrl_optim_config oc = mbrl_optim_adam_config(0.01f, 0.99f, 0.999f);
  mbrl_dynamics_trainer *t = nullptr;
  ASSERT_EQ(mbrl_dynamics_trainer_create(&t, dp.d, &ds, &oc, 128, seed), MBRL_OK);
  ASSERT_EQ(mbrl_dynamics_trainer_run(t, 40, nullptr), MBRL_OK);
  mbrl_dynamics_trainer_free(t);
  mbrl_dataset_free(&ds);
}

}  // namespace

TEST(PlannerKey, OrderAndTies) {
  EXPECT_LT(mbrl_planner_cost_key(-1.0f, 5), mbrl_planner_cost_key(-1.0f, 7));
  EXPECT_LT(mbrl_planner_cost_key(-2.0f, 9), mbrl_planner_cost_key(-1.0f, 0));
  EXPECT_LT(mbrl_planner_cost_key(1.0f, 9), mbrl_planner_cost_key(2.0f, 0));
  EXPECT_LT(mbrl_planner_cost_key(-1.0f, 9), mbrl_planner_cost_key(1.0f, 0));
  EXPECT_LT(mbrl_planner_cost_key(1e30f, 9), mbrl_planner_cost_key(INFINITY, 0));
  EXPECT_LT(mbrl_planner_cost_key(INFINITY, 9), mbrl_planner_cost_key(NAN, 0));
  EXPECT_LT(mbrl_planner_cost_key(-INFINITY, 9), mbrl_planner_cost_key(-1e30f, 0));
}

TEST(PlannerDraw, SequenceZeroIsZeroAndOthersArePhiloxStreams) {
  const float lo[1] = {-2.0f}, hi[1] = {2.0f};
  std::vector<float> a(30);
  mbrl_planner_draw(1234, 0, 30, 1, lo, hi, a.data());
  for (float v : a) EXPECT_EQ(v, 0.0f);
  mbrl_planner_draw(1234, 5, 30, 1, lo, hi, a.data());
  mbrl_philox s;
  mbrl_philox_init(&s, 1234, 5, 0);
  double mean = 0;
  for (int h = 0; h < 30; ++h) {
    float u = mbrl_philox_uniform(&s);
    EXPECT_EQ(a[h], -2.0f + 4.0f * u);
    EXPECT_GT(a[h], -2.0f);
    EXPECT_LE(a[h], 2.0f);
    mean += a[h];
  }
  EXPECT_LT(std::fabs(mean / 30), 1.0);
  // different sequences and seeds draw different numbers
  std::vector<float> b(30);
  mbrl_planner_draw(1234, 6, 30, 1, lo, hi, b.data());
  EXPECT_NE(a, b);
  mbrl_planner_draw(1235, 5, 30, 1, lo, hi, b.data());
  EXPECT_NE(a, b);
  EXPECT_NE(mbrl_planner_seed(0, 0, 1), mbrl_planner_seed(0, 0, 2));
  EXPECT_NE(mbrl_planner_seed(0, 1, 0), mbrl_planner_seed(0, 0, 1));
}

TEST(PlannerOracle, StepMatchesEnvPhysics) {
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_oracle(&m.m, "Pendulum-v1"), MBRL_OK);
  mbrl_env e;
  ASSERT_EQ(mbrl_env_init(&e, "Pendulum-v1", 3, 0), MBRL_OK);
  float o[3], n[3], p[3], r;
  int term, trunc;
  mbrl_env_reset(&e, o);
  for (int t = 0; t < 50; ++t) {
    float a = 1.7f * std::sin(0.3f * t);
    ASSERT_EQ(mbrl_plan_model_step(m.m, o, &a, 1, p), MBRL_OK);
    mbrl_env_step(&e, &a, n, &r, &term, &trunc);
    EXPECT_LE(worst_ratio(p, n, 3, 1e-5, 1e-5), 1.0) << "step " << t;
    // the model's reward on the pre-step observation is the env's reward
    EXPECT_NEAR(mbrl_plan_model_reward(m.m, o, &a), r, 1e-4 + 1e-5 * std::fabs(r));
    std::memcpy(o, n, sizeof o);
  }
}

TEST(PlannerOracle, CostsOfHandMadeSequencesMatchTheEnv) {
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_oracle(&m.m, "Pendulum-v1"), MBRL_OK);
  for (float gamma : {1.0f, 0.9f}) {
    const int K = 5, H = 40;
    PlannerPtr p;
    auto c = cfg_of(64, H, gamma, 1, MBRL_BACKEND_CPU);
    ASSERT_EQ(mbrl_planner_create(&p.p, m.m, &c), MBRL_OK);
    std::vector<float> acts((size_t)K * H);
    for (int k = 0; k < K; ++k)
      for (int h = 0; h < H; ++h)
        acts[(size_t)k * H + h] = k == 0 ? 0.0f : k == 1 ? 2.0f : k == 2 ? -2.0f
                                 : k == 3 ? (h % 2 ? 1.5f : -1.5f) : 5.0f /* clipped to 2 */;
    const double th = 2.5, thdot = -0.7;
    float o[3];
    obs_of(th, thdot, o);
    std::vector<float> costs(K);
    ASSERT_EQ(mbrl_planner_evaluate(p.p, o, acts.data(), K, costs.data()), MBRL_OK);
    for (int k = 0; k < K; ++k) {
      // the shared scalar float functions (the CUDA kernel's arithmetic): a few ulp per step
      float so[3], sn[3], th0, fc = 0.0f, g = 1.0f;
      std::memcpy(so, o, sizeof so);
      for (int h = 0; h < H; ++h) {
        const float u = acts[(size_t)k * H + h];
        mbrl_planner_oracle_step(so, u, sn, &th0);
        fc = fc - g * mbrl_pendulum_reward_f(th0, so[2], u);
        std::memcpy(so, sn, sizeof so);
        g = g * gamma;
      }
      EXPECT_NEAR(costs[k], fc, 1e-4 + 1e-5 * std::fabs(fc)) << "k " << k;
      const double ref = env_cost(th, thdot, &acts[(size_t)k * H], H, gamma);
      // float rollout vs double env over 40 steps: |diff| <= 1e-3 + 1e-4 |ref|
      EXPECT_NEAR(costs[k], ref, 1e-3 + 1e-4 * std::fabs(ref)) << "k " << k << " gamma " << gamma;
    }
    EXPECT_EQ(costs[4], costs[1]);  // torque 5 is clipped to 2
  }
}

TEST(PlannerOracle, PlanCostsEqualEvaluateOfTheDrawnSequences) {
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_oracle(&m.m, "Pendulum-v1"), MBRL_OK);
  const int K = 300, H = 12;  // K not a multiple of the CPU block
  PlannerPtr p;
  auto c = cfg_of(K, H, 0.95f, 1, MBRL_BACKEND_CPU);
  ASSERT_EQ(mbrl_planner_create(&p.p, m.m, &c), MBRL_OK);
  float o[3];
  obs_of(3.0, 0.5, o);
  const uint64_t seed = 77;
  mbrl_plan_result res;
  ASSERT_EQ(mbrl_planner_plan(p.p, o, &seed, 1, &res), MBRL_OK);
  std::vector<float> costs(K), acts((size_t)K * H), ev(K);
  ASSERT_EQ(mbrl_planner_last_costs(p.p, costs.data()), MBRL_OK);
  for (int k = 0; k < K; ++k)
    mbrl_planner_draw(seed, k, H, 1, m.m->act_low, m.m->act_high, &acts[(size_t)k * H]);
  ASSERT_EQ(mbrl_planner_evaluate(p.p, o, acts.data(), K, ev.data()), MBRL_OK);
  int best = 0;
  for (int k = 0; k < K; ++k) {
    EXPECT_EQ(costs[k], ev[k]) << k;  // same rows, same arithmetic: bit for bit
    if (costs[k] < costs[best]) best = k;
  }
  EXPECT_EQ(res.best_index, best);
  EXPECT_EQ(res.best_return, -costs[best]);
  EXPECT_EQ(res.action[0], acts[(size_t)best * H]);
  float s1[3];
  ASSERT_EQ(mbrl_plan_model_step(m.m, o, &acts[(size_t)best * H], 1, s1), MBRL_OK);
  // the fast CPU path (vector atan2/sin/cos) agrees with the scalar libm step to a few ulp
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(res.pred_next[i], s1[i], 2e-6);
  // sequence 0 (all zeros) is among the candidates
  std::vector<float> zeros(H, 0.0f);
  float c0;
  ASSERT_EQ(mbrl_planner_evaluate(p.p, o, zeros.data(), 1, &c0), MBRL_OK);
  EXPECT_EQ(costs[0], c0);
}

TEST(PlannerOracle, WarmStartPriorIsSequenceOneAndShiftBestShifts) {
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_oracle(&m.m, "Pendulum-v1"), MBRL_OK);
  const int K = 100, H = 10;
  PlannerPtr p;
  auto c = cfg_of(K, H, 1.0f, 1, MBRL_BACKEND_CPU);
  ASSERT_EQ(mbrl_planner_create(&p.p, m.m, &c), MBRL_OK);
  float o[3];
  obs_of(2.0, 1.0, o);
  const uint64_t seed = 9;
  mbrl_plan_result plain, warm;
  ASSERT_EQ(mbrl_planner_plan(p.p, o, &seed, 1, &plain), MBRL_OK);
  std::vector<float> c0(K), c1(K), ev(1);
  ASSERT_EQ(mbrl_planner_last_costs(p.p, c0.data()), MBRL_OK);
  // a prior that pushes in the direction of motion: better than anything random here
  std::vector<float> prior(H, 2.0f);
  ASSERT_EQ(mbrl_planner_plan_prior(p.p, o, &seed, prior.data(), 1, &warm), MBRL_OK);
  ASSERT_EQ(mbrl_planner_last_costs(p.p, c1.data()), MBRL_OK);
  ASSERT_EQ(mbrl_planner_evaluate(p.p, o, prior.data(), 1, ev.data()), MBRL_OK);
  EXPECT_EQ(c1[1], ev[0]);
  EXPECT_EQ(c1[0], c0[0]);
  for (int k = 2; k < K; ++k) EXPECT_EQ(c1[k], c0[k]) << k;  // other draws unchanged
  if (warm.best_index == 1) {
    EXPECT_EQ(warm.action[0], 2.0f);
  }
  // shift_best: the winner without its first action, zero appended
  std::vector<float> shifted(H), drawn(H);
  mbrl_planner_shift_best(p.p, &plain, seed, nullptr, shifted.data());
  mbrl_planner_draw(seed, plain.best_index, H, 1, m.m->act_low, m.m->act_high, drawn.data());
  for (int h = 0; h + 1 < H; ++h) EXPECT_EQ(shifted[h], drawn[h + 1]);
  EXPECT_EQ(shifted[H - 1], 0.0f);
  mbrl_plan_result r1 = warm;
  r1.best_index = 1;
  std::vector<float> pr = prior;
  pr[3] = -1.0f;
  mbrl_planner_shift_best(p.p, &r1, seed, pr.data(), pr.data());  // in place
  EXPECT_EQ(pr[2], -1.0f);
  EXPECT_EQ(pr[H - 1], 0.0f);
}

TEST(PlannerOracle, OnlyZerosWhenKIsOne) {
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_oracle(&m.m, "Pendulum-v1"), MBRL_OK);
  PlannerPtr p;
  auto c = cfg_of(1, 15, 1.0f, 1, MBRL_BACKEND_CPU);
  ASSERT_EQ(mbrl_planner_create(&p.p, m.m, &c), MBRL_OK);
  float o[3];
  obs_of(1.0, 0.0, o);
  uint64_t seed = 5;
  mbrl_plan_result r;
  ASSERT_EQ(mbrl_planner_plan(p.p, o, &seed, 1, &r), MBRL_OK);
  EXPECT_EQ(r.best_index, 0);
  EXPECT_EQ(r.action[0], 0.0f);
  std::vector<float> z(15, 0.0f);
  EXPECT_NEAR(-r.best_return, env_cost(1.0, 0.0, z.data(), 15, 1.0), 2e-3);
}

TEST(PlannerOracle, BatchedEnvsEqualSinglePlansAndRunsRepeat) {
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_oracle(&m.m, "Pendulum-v1"), MBRL_OK);
  const int K = 200, H = 10, E = 3;
  PlannerPtr pb, ps;
  auto cb = cfg_of(K, H, 1.0f, E, MBRL_BACKEND_CPU);
  auto cs = cfg_of(K, H, 1.0f, 1, MBRL_BACKEND_CPU);
  ASSERT_EQ(mbrl_planner_create(&pb.p, m.m, &cb), MBRL_OK);
  ASSERT_EQ(mbrl_planner_create(&ps.p, m.m, &cs), MBRL_OK);
  float obs[E * 3];
  obs_of(3.0, 0.1, obs);
  obs_of(-1.0, 2.0, obs + 3);
  obs_of(0.2, -4.0, obs + 6);
  uint64_t seeds[E] = {mbrl_planner_seed(0, 0, 0), mbrl_planner_seed(0, 1, 0), 99};
  mbrl_plan_result rb[E];
  ASSERT_EQ(mbrl_planner_plan(pb.p, obs, seeds, E, rb), MBRL_OK);
  std::vector<float> cbat((size_t)E * K);
  ASSERT_EQ(mbrl_planner_last_costs(pb.p, cbat.data()), MBRL_OK);
  for (int e = 0; e < E; ++e) {
    mbrl_plan_result r;
    ASSERT_EQ(mbrl_planner_plan(ps.p, obs + 3 * e, &seeds[e], 1, &r), MBRL_OK);
    std::vector<float> c1(K);
    ASSERT_EQ(mbrl_planner_last_costs(ps.p, c1.data()), MBRL_OK);
    EXPECT_EQ(0, std::memcmp(c1.data(), &cbat[(size_t)e * K], K * sizeof(float))) << e;
    EXPECT_EQ(r.best_index, rb[e].best_index);
    EXPECT_EQ(r.action[0], rb[e].action[0]);
    EXPECT_EQ(r.best_return, rb[e].best_return);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(r.pred_next[i], rb[e].pred_next[i]);
  }
  // the same call again repeats bit for bit; another seed draws other sequences
  mbrl_plan_result again[E];
  ASSERT_EQ(mbrl_planner_plan(pb.p, obs, seeds, E, again), MBRL_OK);
  EXPECT_EQ(0, std::memcmp(again, rb, sizeof rb));
  uint64_t other[E] = {seeds[0] + 1, seeds[1] + 1, seeds[2] + 1};
  ASSERT_EQ(mbrl_planner_plan(pb.p, obs, other, E, again), MBRL_OK);
  std::vector<float> c2((size_t)E * K);
  ASSERT_EQ(mbrl_planner_last_costs(pb.p, c2.data()), MBRL_OK);
  EXPECT_NE(0, std::memcmp(c2.data(), cbat.data(), c2.size() * sizeof(float)));
  EXPECT_EQ(c2[0], cbat[0]);  // sequence 0 (zeros) does not depend on the seed
}

TEST(PlannerOracle, SwingsUpFromHangingDown) {
  // Closed loop with the true dynamics: from hanging down the planner must swing up and
  // hold (a random policy scores about -1500 from hanging down; the swing-up costs about -500).
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_oracle(&m.m, "Pendulum-v1"), MBRL_OK);
  PlannerPtr p;
  auto c = cfg_of(1024, 15, 1.0f, 1, MBRL_BACKEND_CPU);
  ASSERT_EQ(mbrl_planner_create(&p.p, m.m, &c), MBRL_OK);
  mbrl_env e;
  ASSERT_EQ(mbrl_env_init(&e, "Pendulum-v1", 0, 0), MBRL_OK);
  double s[2] = {3.14159, 0.0};
  mbrl_env_set_state(&e, s);
  float o[3];
  mbrl_env_obs(&e, o);
  double ret = 0;
  for (int t = 0; t < 200; ++t) {
    uint64_t seed = mbrl_planner_seed(0, 0, (uint64_t)t);
    mbrl_plan_result r;
    ASSERT_EQ(mbrl_planner_plan(p.p, o, &seed, 1, &r), MBRL_OK);
    float rew;
    int term, trunc;
    mbrl_env_step(&e, r.action, o, &rew, &term, &trunc);
    ret += rew;
  }
  EXPECT_GT(ret, -650.0);
  double th = std::atan2(o[1], o[0]);
  EXPECT_LT(std::fabs(th), 0.2) << "the pendulum should be up at the end";
}

TEST(PlannerLearned, StepMatchesDynamicsPredictAndCostsMatchADirectLoop) {
  DynPtr dp;
  make_dynamics(dp, 11);
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_from_dynamics(&m.m, dp.d), MBRL_OK);
  EXPECT_EQ(m.m->kind, MBRL_PLAN_MODEL_LEARNED);
  EXPECT_EQ(mbrl_plan_model_flops(m.m), 2.0 * (4 * 64 + 64 * 64 + 64 * 3));
  // folded model step == dynamics eval-mode prediction (BN with running stats)
  const int B = 50;
  std::vector<float> obs(B * 3), act(B), ref(B * 3), got(B * 3);
  mbrl_philox rng;
  mbrl_philox_init(&rng, 3, 0, 0);
  for (int b = 0; b < B; ++b) {
    obs_of(mbrl_philox_range_float(&rng, -3.0f, 3.0f), mbrl_philox_range_float(&rng, -6, 6),
           &obs[3 * b]);
    act[b] = mbrl_philox_range_float(&rng, -2.0f, 2.0f);
  }
  ASSERT_EQ(mbrl_dynamics_predict_next(dp.d, obs.data(), act.data(), B, ref.data()), MBRL_OK);
  ASSERT_EQ(mbrl_plan_model_step(m.m, obs.data(), act.data(), B, got.data()), MBRL_OK);
  EXPECT_LE(worst_ratio(got.data(), ref.data(), got.size(), 1e-5, 1e-5), 1.0);

  // planner costs (fast CPU path) vs a direct loop of dynamics predictions + reward
  const int K = 100, H = 20;
  const float gamma = 0.97f;
  PlannerPtr p;
  auto c = cfg_of(K, H, gamma, 1, MBRL_BACKEND_CPU);
  ASSERT_EQ(mbrl_planner_create(&p.p, m.m, &c), MBRL_OK);
  float o0[3];
  obs_of(2.0, -1.0, o0);
  const uint64_t seed = 4242;
  mbrl_plan_result res;
  ASSERT_EQ(mbrl_planner_plan(p.p, o0, &seed, 1, &res), MBRL_OK);
  std::vector<float> costs(K), acts((size_t)K * H), ref_cost(K);
  ASSERT_EQ(mbrl_planner_last_costs(p.p, costs.data()), MBRL_OK);
  for (int k = 0; k < K; ++k)
    mbrl_planner_draw(seed, k, H, 1, m.m->act_low, m.m->act_high, &acts[(size_t)k * H]);
  std::vector<float> s(K * 3), a(K), n(K * 3);
  for (int k = 0; k < K; ++k) std::memcpy(&s[3 * k], o0, sizeof o0);
  std::vector<double> cd(K, 0.0);
  float g = 1.0f;
  for (int h = 0; h < H; ++h) {
    for (int k = 0; k < K; ++k) {
      a[k] = acts[(size_t)k * H + h];
      cd[k] -= g * mbrl_pendulum_reward_obs_f(s[3 * k], s[3 * k + 1], s[3 * k + 2], a[k]);
    }
    ASSERT_EQ(mbrl_dynamics_predict_next(dp.d, s.data(), a.data(), K, n.data()), MBRL_OK);
    s = n;
    g *= gamma;
  }
  for (int k = 0; k < K; ++k) ref_cost[k] = (float)cd[k];
  // |diff| <= 1e-3 + 1e-4 |ref|: FMA order differs from the dynamics module's BLAS path
  EXPECT_LE(worst_ratio(costs.data(), ref_cost.data(), K, 1e-3, 1e-4), 1.0);
  int best = 0;
  for (int k = 1; k < K; ++k)
    if (costs[k] < costs[best]) best = k;
  EXPECT_EQ(res.best_index, best);
  EXPECT_EQ(res.action[0], acts[(size_t)best * H]);
}

TEST(PlannerModel, RefusesOtherEnvsAndBadShapes) {
  ModelPtr m;
  EXPECT_EQ(mbrl_plan_model_oracle(&m.m, "CartPole-v1"), MBRL_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(mbrl_last_error()).find("Pendulum-v1"), std::string::npos);
  EXPECT_EQ(mbrl_plan_model_oracle(&m.m, "Nope-v0"), MBRL_ERR_INVALID_ARG);
  // a CartPole dynamics model: the planner has no reward for it
  DynPtr d;
  int hidden[1] = {8};
  ASSERT_EQ(mbrl_dynamics_create(&d.d, "CartPole-v1", 4, 1, nullptr, 1, hidden, 0,
                                 MBRL_BACKEND_CPU, 4, 0),
            MBRL_OK);
  EXPECT_EQ(mbrl_plan_model_from_dynamics(&m.m, d.d), MBRL_ERR_UNSUPPORTED);
  EXPECT_EQ(m.m, nullptr);
  // a "Pendulum-v1" model with the wrong observation width
  DynPtr d2;
  ASSERT_EQ(mbrl_dynamics_create(&d2.d, "Pendulum-v1", 4, 1, nullptr, 1, hidden, 0,
                                 MBRL_BACKEND_CPU, 4, 0),
            MBRL_OK);
  EXPECT_EQ(mbrl_plan_model_from_dynamics(&m.m, d2.d), MBRL_ERR_FORMAT);
  EXPECT_NE(std::string(mbrl_last_error()).find("obs 3"), std::string::npos) << mbrl_last_error();
}

TEST(PlannerCreate, RefusesBadSizesNamingTheMemory) {
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_oracle(&m.m, "Pendulum-v1"), MBRL_OK);
  PlannerPtr p;
  auto c = cfg_of(0, 15, 1.0f, 1, MBRL_BACKEND_CPU);
  EXPECT_EQ(mbrl_planner_create(&p.p, m.m, &c), MBRL_ERR_INVALID_ARG);
  c = cfg_of(16, 0, 1.0f, 1, MBRL_BACKEND_CPU);
  EXPECT_EQ(mbrl_planner_create(&p.p, m.m, &c), MBRL_ERR_INVALID_ARG);
  c = cfg_of(16, 15, 0.0f, 1, MBRL_BACKEND_CPU);
  EXPECT_EQ(mbrl_planner_create(&p.p, m.m, &c), MBRL_ERR_INVALID_ARG);
  c = cfg_of(16, 15, 1.5f, 1, MBRL_BACKEND_CPU);
  EXPECT_EQ(mbrl_planner_create(&p.p, m.m, &c), MBRL_ERR_INVALID_ARG);
  c = cfg_of(MBRL_PLANNER_MAX_SAMPLES, 15, 1.0f, MBRL_PLANNER_MAX_ENVS, MBRL_BACKEND_CPU);
  EXPECT_EQ(mbrl_planner_create(&p.p, m.m, &c), MBRL_ERR_INVALID_ARG);
  EXPECT_NE(std::string(mbrl_last_error()).find("GiB"), std::string::npos) << mbrl_last_error();
  EXPECT_EQ(p.p, nullptr);
  // E above max_envs is refused at plan time
  c = cfg_of(16, 5, 1.0f, 1, MBRL_BACKEND_CPU);
  ASSERT_EQ(mbrl_planner_create(&p.p, m.m, &c), MBRL_OK);
  float o[6] = {1, 0, 0, 1, 0, 0};
  uint64_t s[2] = {0, 1};
  mbrl_plan_result r[2];
  EXPECT_EQ(mbrl_planner_plan(p.p, o, s, 2, r), MBRL_ERR_INVALID_ARG);
  o[2] = NAN;
  EXPECT_EQ(mbrl_planner_plan(p.p, o, s, 1, r), MBRL_ERR_NUMERIC);
}

TEST(PlannerCreate, LongHorizonWorks) {
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_oracle(&m.m, "Pendulum-v1"), MBRL_OK);
  PlannerPtr p;
  auto c = cfg_of(64, 250, 0.99f, 1, MBRL_BACKEND_CPU);
  ASSERT_EQ(mbrl_planner_create(&p.p, m.m, &c), MBRL_OK);
  float o[3];
  obs_of(0.0, 0.0, o);
  uint64_t seed = 1;
  mbrl_plan_result r;
  ASSERT_EQ(mbrl_planner_plan(p.p, o, &seed, 1, &r), MBRL_OK);
  EXPECT_TRUE(std::isfinite(r.best_return));
  EXPECT_LE(r.best_return, 0.0f);
}

// PyTorch golden (scripts/make_golden_planner.py): the seed's Model (BN, eval mode) written
// as a dynamics checkpoint, a start observation, 64 fixed action sequences (H 15) and
// PyTorch's per-sequence costs (float32, reward of (s_h, a_h), gamma 0.9).
TEST(PlannerGolden, CostsMatchPyTorch) {
  const std::string path = std::string(MBRL_TEST_DATA_DIR) + "/planner_golden.h5";
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_load(&m.m, path.c_str(), "Pendulum-v1"), MBRL_OK) << mbrl_last_error();
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);  // h5py wrote it: unsealed
  ASSERT_GE(f, 0);
  hsize_t d_obs[1] = {3}, d_act[3] = {0, 0, 1}, d_cost[1] = {0}, d_g[1] = {1};
  ASSERT_EQ(mbrl_h5_check_f32(f, path.c_str(), "golden/obs0", 1, d_obs), MBRL_OK);
  ASSERT_EQ(mbrl_h5_check_f32(f, path.c_str(), "golden/actions", 3, d_act), MBRL_OK);
  ASSERT_EQ(mbrl_h5_check_f32(f, path.c_str(), "golden/costs", 1, d_cost), MBRL_OK);
  ASSERT_EQ(mbrl_h5_check_f32(f, path.c_str(), "golden/gamma", 1, d_g), MBRL_OK);
  const int K = (int)d_act[0], H = (int)d_act[1];
  ASSERT_EQ((int)d_cost[0], K);
  std::vector<float> obs(3), acts((size_t)K * H), want(K), got(K);
  float gamma;
  ASSERT_EQ(mbrl_h5_read_f32(f, path.c_str(), "golden/obs0", obs.data()), MBRL_OK);
  ASSERT_EQ(mbrl_h5_read_f32(f, path.c_str(), "golden/actions", acts.data()), MBRL_OK);
  ASSERT_EQ(mbrl_h5_read_f32(f, path.c_str(), "golden/costs", want.data()), MBRL_OK);
  ASSERT_EQ(mbrl_h5_read_f32(f, path.c_str(), "golden/gamma", &gamma), MBRL_OK);
  H5Fclose(f);
  PlannerPtr p;
  auto c = cfg_of(K, H, gamma, 1, MBRL_BACKEND_CPU);
  ASSERT_EQ(mbrl_planner_create(&p.p, m.m, &c), MBRL_OK);
  ASSERT_EQ(mbrl_planner_evaluate(p.p, obs.data(), acts.data(), K, got.data()), MBRL_OK);
  // float32 both sides, different summation orders over 15 steps: 2e-3 + 1e-4 |torch|
  const double ratio = worst_ratio(got.data(), want.data(), K, 2e-3, 1e-4);
  EXPECT_LE(ratio, 1.0) << "worst |ours - torch| / tol = " << ratio;
  int bg = 0, bw = 0;
  for (int k = 1; k < K; ++k) {
    if (got[k] < got[bg]) bg = k;
    if (want[k] < want[bw]) bw = k;
  }
  EXPECT_EQ(bg, bw);
}

// ---------------------------------------------------------------- CUDA vs CPU

static void cuda_vs_cpu(const mbrl_plan_model *m, int K, int H, float gamma, double atol,
                        double rtol) {
  const int E = 3;
  PlannerPtr pc, pg;
  auto cc = cfg_of(K, H, gamma, E, MBRL_BACKEND_CPU);
  auto cg = cfg_of(K, H, gamma, E, MBRL_BACKEND_CUDA);
  ASSERT_EQ(mbrl_planner_create(&pc.p, m, &cc), MBRL_OK);
  ASSERT_EQ(mbrl_planner_create(&pg.p, m, &cg), MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(mbrl_planner_backend(pg.p), MBRL_BACKEND_CUDA);
  float obs[E * 3];
  obs_of(3.1, 0.0, obs);
  obs_of(-0.5, 3.0, obs + 3);
  obs_of(1.5, -6.0, obs + 6);
  for (int rep = 0; rep < 3; ++rep) {
    uint64_t seeds[E] = {mbrl_planner_seed(7, 0, rep), mbrl_planner_seed(7, 1, rep),
                         mbrl_planner_seed(7, 2, rep)};
    mbrl_plan_result rc[E], rg[E];
    // rep 1 adds a warm-start prior (sequence 1) per env
    std::vector<float> prior((size_t)E * H);
    for (size_t i = 0; i < prior.size(); ++i) prior[i] = std::sin(0.7f * (float)i) * 1.9f;
    const float *pp = rep == 1 ? prior.data() : nullptr;
    ASSERT_EQ(mbrl_planner_plan_prior(pc.p, obs, seeds, pp, E, rc), MBRL_OK);
    ASSERT_EQ(mbrl_planner_plan_prior(pg.p, obs, seeds, pp, E, rg), MBRL_OK) << mbrl_last_error();
    std::vector<float> ccost((size_t)E * K), gcost((size_t)E * K);
    ASSERT_EQ(mbrl_planner_last_costs(pc.p, ccost.data()), MBRL_OK);
    ASSERT_EQ(mbrl_planner_last_costs(pg.p, gcost.data()), MBRL_OK);
    const double ratio = worst_ratio(gcost.data(), ccost.data(), ccost.size(), atol, rtol);
    EXPECT_LE(ratio, 1.0) << "worst |cuda - cpu| / tol over all costs = " << ratio;
    for (int e = 0; e < E; ++e) {
      EXPECT_EQ(rg[e].best_index, rc[e].best_index) << "env " << e << " rep " << rep;
      EXPECT_EQ(rg[e].action[0], rc[e].action[0]);  // identical draws
      EXPECT_NEAR(rg[e].best_return, rc[e].best_return,
                  atol + rtol * std::fabs(rc[e].best_return));
      float a[3] = {rc[e].pred_next[0], rc[e].pred_next[1], rc[e].pred_next[2]};
      float b[3] = {rg[e].pred_next[0], rg[e].pred_next[1], rg[e].pred_next[2]};
      EXPECT_LE(worst_ratio(b, a, 3, 1e-4, 1e-4), 1.0);
    }
  }
}

TEST(PlannerCuda, OracleMatchesCpu) {
  MBRL_REQUIRE_GPU();
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_oracle(&m.m, "Pendulum-v1"), MBRL_OK);
  // libm vs CUDA sinf/cosf/atan2f (a few ulp) over 15 and 100 steps
  cuda_vs_cpu(m.m, 1024, 15, 1.0f, 2e-3, 1e-4);
  cuda_vs_cpu(m.m, 1000, 100, 0.99f, 2e-2, 1e-3);
}

TEST(PlannerCuda, LearnedMatchesCpu) {
  MBRL_REQUIRE_GPU();
  DynPtr dp;
  make_dynamics(dp, 5);
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_from_dynamics(&m.m, dp.d), MBRL_OK);
  cuda_vs_cpu(m.m, 1024, 15, 1.0f, 2e-3, 1e-4);
  cuda_vs_cpu(m.m, 777, 40, 0.95f, 1e-2, 1e-3);
}

TEST(PlannerCuda, LargeBatchAndRepeatable) {
  MBRL_REQUIRE_GPU();
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_oracle(&m.m, "Pendulum-v1"), MBRL_OK);
  PlannerPtr pg;
  auto cg = cfg_of(65536, 15, 1.0f, 2, MBRL_BACKEND_CUDA);
  ASSERT_EQ(mbrl_planner_create(&pg.p, m.m, &cg), MBRL_OK);
  float obs[6];
  obs_of(3.0, 0.0, obs);
  obs_of(3.0, 0.0, obs + 3);
  uint64_t seeds[2] = {11, 11};
  mbrl_plan_result r[2], r2[2];
  ASSERT_EQ(mbrl_planner_plan(pg.p, obs, seeds, 2, r), MBRL_OK);
  ASSERT_EQ(mbrl_planner_plan(pg.p, obs, seeds, 2, r2), MBRL_OK);
  EXPECT_EQ(0, std::memcmp(r, r2, sizeof r));
  EXPECT_EQ(0, std::memcmp(&r[0], &r[1], sizeof r[0]));  // same obs, same seed, same answer
}
