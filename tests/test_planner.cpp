// tests/test_planner.cpp - random-shooting planner: plan models (oracle, learned), costs vs
// direct loops over the true env and the dynamics model, the action draws (sequence 0 zeros,
// Philox streams, E-batched == single), determinism, gamma, argmin order, bad arguments,
// the PyTorch golden file, and the CUDA backend vs the CPU backend (when a GPU is present).
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "planner_testing.h"
#include "testing.h"

extern "C" {
#include "mbrl/cpu.h"
#include "mbrl/dynamics.h"
#include "mbrl/mlp.h"
#include "mbrl/env.h"
#include "mbrl/h5util.h"
#include "mbrl/planner.h"
}

using mbrl_test::worst_ratio;
using mbrl_test::ModelPtr;
using mbrl_test::PlannerPtr;
using mbrl_test::cfg_of;
using mbrl_test::random_learned;

namespace {

struct DynPtr {
  mbrl_dynamics *d = nullptr;
  ~DynPtr() { mbrl_dynamics_free(d); }
};

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
  mbrl_planner_draw(1234, 0, 30, 1, 0, lo, hi, a.data());
  for (float v : a) EXPECT_EQ(v, 0.0f);
  mbrl_planner_draw(1234, 5, 30, 1, 0, lo, hi, a.data());
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
  mbrl_planner_draw(1234, 6, 30, 1, 0, lo, hi, b.data());
  EXPECT_NE(a, b);
  mbrl_planner_draw(1235, 5, 30, 1, 0, lo, hi, b.data());
  EXPECT_NE(a, b);
  EXPECT_NE(mbrl_planner_seed(0, 0, 1), mbrl_planner_seed(0, 0, 2));
  EXPECT_NE(mbrl_planner_seed(0, 1, 0), mbrl_planner_seed(0, 0, 1));
  // discrete: the index mbrl_philox_below(n) (mbrl_collect's draw) as a float
  for (int n : {2, 3}) {
    mbrl_planner_draw(99, 4, 30, 1, n, lo, hi, a.data());
    mbrl_philox_init(&s, 99, 4, 0);
    int seen[3] = {0, 0, 0};
    for (int h = 0; h < 30; ++h) {
      EXPECT_EQ(a[h], (float)mbrl_philox_below(&s, (uint32_t)n));
      ASSERT_GE(a[h], 0.0f);
      ASSERT_LT(a[h], (float)n);
      seen[(int)a[h]]++;
    }
    for (int i = 0; i < n; ++i) EXPECT_GT(seen[i], 0) << "index " << i << " of " << n;
  }
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
    EXPECT_NEAR(mbrl_plan_model_reward(m.m, o, &a, p), r, 1e-4 + 1e-5 * std::fabs(r));
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
      float so[3], sn[3], fc = 0.0f, g = 1.0f;
      std::memcpy(so, o, sizeof so);
      for (int h = 0; h < H; ++h) {
        const float u = acts[(size_t)k * H + h];
        mbrl_pendulum_oracle_step(so, &u, sn);
        fc = fc - g * mbrl_pendulum_reward_obs(so, &u, sn);
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
    mbrl_planner_draw(seed, k, H, 1, 0, m.m->act_low, m.m->act_high, &acts[(size_t)k * H]);
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
  mbrl_planner_draw(seed, plain.best_index, H, 1, 0, m.m->act_low, m.m->act_high, drawn.data());
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

// ---------------------------------------------------------------- every registered env

namespace {


// The scalar reference cost of one sequence (H, act) from obs under model m: the env's
// functions from its spec (mbrl_plan_model_step for the model, then the env's project_obs on a
// learned model's prediction unless no_projection), the alive mask of planner.h.
float reference_cost(const mbrl_plan_model *m, const float *obs, const float *acts, int H,
                     float gamma, int shaped, int score_next, int no_projection) {
  const mbrl_env_spec *spec = m->spec;
  float s[MBRL_MAX_DIM], n[MBRL_MAX_DIM], c = 0.0f, g = 1.0f;
  std::memcpy(s, obs, sizeof(float) * spec->obs_dim);
  bool alive = true;
  for (int h = 0; h < H; ++h) {
    const float *a = acts + (size_t)h * spec->act_dim;
    EXPECT_EQ(mbrl_plan_model_step(m, s, a, 1, n), MBRL_OK);
    if (m->kind != MBRL_PLAN_MODEL_ORACLE && !no_projection) spec->project_obs(n);
    const float *oc = score_next ? n : s;
    if (alive) {
      if (shaped) c = c + g * spec->shaped_cost(oc, a, n);
      else c = c - g * spec->reward_obs(oc, a, n);
      if (spec->terminal_obs(n)) alive = false;
    }
    std::memcpy(s, n, sizeof(float) * spec->obs_dim);
    g = g * gamma;
  }
  return c;
}

// Plan from obs (K, H, gamma, cost kind, score_next) and check: the costs equal
// mbrl_planner_evaluate of the drawn sequences bit for bit, and the scalar reference within
// atol + rtol |ref|; the result is the argmin's first action; discrete actions are indices.
void check_plan_vs_reference(const mbrl_plan_model *m, const float *obs, int K, int H,
                             float gamma, mbrl_plan_cost cost, int score_next, double atol,
                             double rtol, int no_projection = 0) {
  const mbrl_env_spec *spec = m->spec;
  const int A = spec->act_dim;
  SCOPED_TRACE(std::string(spec->id) + (m->kind == MBRL_PLAN_MODEL_ORACLE ? " oracle" : " learned") +
               (cost == MBRL_PLAN_COST_SHAPED ? " shaped" : " reward") +
               (score_next ? " next" : " current") + (no_projection ? " raw" : ""));
  PlannerPtr p;
  auto c = cfg_of(K, H, gamma, 1, MBRL_BACKEND_CPU);
  c.cost = cost;
  c.score_next = score_next;
  c.no_projection = no_projection;
  ASSERT_EQ(mbrl_planner_create(&p.p, m, &c), MBRL_OK) << mbrl_last_error();
  const uint64_t seed = mbrl_planner_seed(31, (uint64_t)spec->kind, 2);
  mbrl_plan_result res;
  ASSERT_EQ(mbrl_planner_plan(p.p, obs, &seed, 1, &res), MBRL_OK) << mbrl_last_error();
  std::vector<float> costs(K), ev(K), acts((size_t)K * H * A);
  ASSERT_EQ(mbrl_planner_last_costs(p.p, costs.data()), MBRL_OK);
  for (int k = 0; k < K; ++k)
    mbrl_planner_draw(seed, k, H, A, m->n_actions, m->act_low, m->act_high,
                      &acts[(size_t)k * H * A]);
  if (spec->discrete)
    for (float a : acts) {
      ASSERT_EQ(a, std::floor(a));
      ASSERT_GE(a, 0.0f);
      ASSERT_LT(a, (float)spec->n_actions);
    }
  ASSERT_EQ(mbrl_planner_evaluate(p.p, obs, acts.data(), K, ev.data()), MBRL_OK);
  std::vector<float> ref(K);
  for (int k = 0; k < K; ++k)
    ref[k] = reference_cost(m, obs, &acts[(size_t)k * H * A], H, gamma,
                            cost == MBRL_PLAN_COST_SHAPED, score_next, no_projection);
  EXPECT_EQ(0, std::memcmp(costs.data(), ev.data(), K * sizeof(float))) << "plan == evaluate";
  const double ratio = worst_ratio(costs.data(), ref.data(), K, atol, rtol);
  EXPECT_LE(ratio, 1.0) << "worst |plan - scalar reference| / tol = " << ratio;
  int best = 0;
  for (int k = 1; k < K; ++k)
    if (costs[k] < costs[best]) best = k;
  EXPECT_EQ(res.best_index, best);
  EXPECT_EQ(res.best_return, -costs[best]);
  for (int j = 0; j < A; ++j) EXPECT_EQ(res.action[j], acts[(size_t)best * H * A + j]);
}

}  // namespace

// Oracle and learned plans for every registered env, both cost kinds: plan == evaluate bit
// for bit, == the scalar reference (the env header's functions through its spec) to rounding.
TEST(PlannerEnvs, PlansOfEveryEnvMatchTheScalarReference) {
  for (int i = 0; i < MBRL_ENV_COUNT; ++i) {
    const mbrl_env_spec *spec = mbrl_env_at(i);
    ASSERT_NE(spec, nullptr);
    mbrl_env e;
    ASSERT_EQ(mbrl_env_init(&e, spec->id, 5, 0), MBRL_OK);
    float obs[MBRL_MAX_DIM];
    mbrl_env_reset(&e, obs);
    ModelPtr om, lm;
    ASSERT_EQ(mbrl_plan_model_oracle(&om.m, spec->id), MBRL_OK) << mbrl_last_error();
    EXPECT_EQ(om.m->n_actions, spec->discrete ? spec->n_actions : 0);
    random_learned(lm, spec, 3 + i);
    for (mbrl_plan_cost cost : {MBRL_PLAN_COST_REWARD, MBRL_PLAN_COST_SHAPED}) {
      // oracle: the lane-by-lane envs run the very scalar functions; Pendulum's vector
      // atan2/sin/cos are within a few ulp of libm's
      check_plan_vs_reference(om.m, obs, 150, 25, 0.97f, cost, 0, 1e-4, 1e-5);
      check_plan_vs_reference(lm.m, obs, 150, 10, 1.0f, cost, 0, 1e-4, 1e-5);
    }
    check_plan_vs_reference(om.m, obs, 100, 12, 1.0f, MBRL_PLAN_COST_REWARD, 1, 1e-4, 1e-5);
    check_plan_vs_reference(lm.m, obs, 100, 12, 1.0f, MBRL_PLAN_COST_REWARD, 1, 1e-4, 1e-5);
    // the model's raw predictions (no_projection): the reference without project_obs
    check_plan_vs_reference(lm.m, obs, 150, 10, 1.0f, MBRL_PLAN_COST_REWARD, 0, 1e-4, 1e-5, 1);
  }
}

// CartPole: a sequence earns no reward after its first predicted terminal state (the
// terminating step itself still pays 1, as Gymnasium's); the one that stays up longer wins.
TEST(PlannerEnvs, CartPoleSequenceThatFallsEarnsLess) {
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_oracle(&m.m, "CartPole-v1"), MBRL_OK);
  const int H = 30, K = 4;
  PlannerPtr p;
  auto c = cfg_of(16, H, 1.0f, 1, MBRL_BACKEND_CPU);
  ASSERT_EQ(mbrl_planner_create(&p.p, m.m, &c), MBRL_OK);
  const double s0[4] = {0.0, 0.0, 0.12, 0.3};  // leaning right, falling right
  float obs[4] = {0.0f, 0.0f, 0.12f, 0.3f};
  std::vector<float> acts((size_t)K * H);
  for (int h = 0; h < H; ++h) {
    acts[h] = 0.0f;                              // push left: falls at once
    acts[(size_t)H + h] = h < 6 ? 1.0f : (float)(h % 2);  // right first: catches the pole
    acts[(size_t)2 * H + h] = (float)(h % 2);
    acts[(size_t)3 * H + h] = h < 3 ? 1.0f : 0.0f;
  }
  std::vector<float> costs(K);
  ASSERT_EQ(mbrl_planner_evaluate(p.p, obs, acts.data(), K, costs.data()), MBRL_OK);
  int steps[K];
  for (int k = 0; k < K; ++k) {  // the true env: steps up to and including termination
    mbrl_env e;
    ASSERT_EQ(mbrl_env_init(&e, "CartPole-v1", 0, 0), MBRL_OK);
    mbrl_env_set_state(&e, s0);
    steps[k] = H;
    for (int h = 0; h < H; ++h) {
      float o[4], r;
      int term, trunc;
      mbrl_env_step(&e, &acts[(size_t)k * H + h], o, &r, &term, &trunc);
      if (term) {
        steps[k] = h + 1;
        break;
      }
    }
    EXPECT_EQ(costs[k], -(float)steps[k]) << "sequence " << k;
  }
  EXPECT_LT(steps[0], H) << "pushing left must topple the pole within the horizon";
  EXPECT_GT(steps[1], steps[0]);
  EXPECT_LT(costs[1], costs[0]) << "the sequence that falls earns less";
}

// Discrete draws (and the lane-by-lane oracle arithmetic) are identical on every CPU kernel
// path: integer Philox words, the same multiply-shift.
TEST(PlannerEnvs, DiscreteDrawsAreIdenticalOnEveryKernelPath) {
  const mbrl_cpu_path saved = mbrl_cpu_kernels();
  ModelPtr om, lm;
  ASSERT_EQ(mbrl_plan_model_oracle(&om.m, "Acrobot-v1"), MBRL_OK);
  random_learned(lm, mbrl_env_find("CartPole-v1"), 8);
  const float obs_a[6] = {1.0f, 0.0f, 1.0f, 0.0f, 0.05f, -0.02f};
  const float obs_c[4] = {0.01f, -0.02f, 0.03f, 0.04f};
  std::vector<std::vector<float>> oracle_costs;
  std::vector<int> oracle_best, learned_best;
  for (mbrl_cpu_path path : {MBRL_CPU_AVX512, MBRL_CPU_AVX2, MBRL_CPU_GENERIC}) {
    if (!mbrl_cpu_supports(path)) continue;
    ASSERT_EQ(mbrl_cpu_set_kernels(path), MBRL_OK);
    SCOPED_TRACE(mbrl_cpu_path_name(path));
    PlannerPtr po, pl;
    auto c = cfg_of(300, 15, 1.0f, 1, MBRL_BACKEND_CPU);
    c.cost = MBRL_PLAN_COST_SHAPED;
    ASSERT_EQ(mbrl_planner_create(&po.p, om.m, &c), MBRL_OK);
    ASSERT_EQ(mbrl_planner_create(&pl.p, lm.m, &c), MBRL_OK);
    const uint64_t seed = 4321;
    mbrl_plan_result ro, rl;
    ASSERT_EQ(mbrl_planner_plan(po.p, obs_a, &seed, 1, &ro), MBRL_OK);
    ASSERT_EQ(mbrl_planner_plan(pl.p, obs_c, &seed, 1, &rl), MBRL_OK);
    std::vector<float> co(300);
    ASSERT_EQ(mbrl_planner_last_costs(po.p, co.data()), MBRL_OK);
    oracle_costs.push_back(co);
    oracle_best.push_back(ro.best_index);
    // the learned plan's winner: its first action is the drawn index
    float a[15];
    mbrl_planner_draw(seed, rl.best_index, 15, 1, 2, lm.m->act_low, lm.m->act_high, a);
    EXPECT_EQ(rl.action[0], a[0]);
  }
  ASSERT_EQ(mbrl_cpu_set_kernels(saved), MBRL_OK);
  for (size_t i = 1; i < oracle_costs.size(); ++i) {
    EXPECT_EQ(0, std::memcmp(oracle_costs[i].data(), oracle_costs[0].data(), 300 * sizeof(float)))
        << "path " << i << " vs the first: the same draws and the same scalar arithmetic";
    EXPECT_EQ(oracle_best[i], oracle_best[0]);
  }
}

// Custom systems: a user reward equal to the pendulum's gives the registered env's plan; a
// terminal callback stops a sequence's costs; CUDA and oracle planners refuse callbacks.
namespace {
struct UserData {
  int calls = 0;
  float terminal_below = -2.0f;  // next cos(theta) < this: terminal
};
void pendulum_reward_cb(void *user, int n, int O, int A, const float *obs, const float *act,
                        const float *next_obs, float *reward) {
  __atomic_add_fetch(&static_cast<UserData *>(user)->calls, 1, __ATOMIC_RELAXED);
  for (int r = 0; r < n; ++r)
    reward[r] = mbrl_pendulum_reward_obs(obs + (size_t)r * O, act + (size_t)r * A,
                                         next_obs + (size_t)r * O);
}
void cos_terminal_cb(void *user, int n, int O, const float *next_obs, uint8_t *terminal) {
  const float lim = static_cast<UserData *>(user)->terminal_below;
  for (int r = 0; r < n; ++r) terminal[r] = next_obs[(size_t)r * O] < lim;
}
}  // namespace

TEST(PlannerCustom, UserRewardEqualToThePendulumsGivesTheSamePlan) {
  DynPtr dp;
  make_dynamics(dp, 6);
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_from_dynamics(&m.m, dp.d), MBRL_OK);
  const int K = 1024, H = 15;
  PlannerPtr pr, pu;
  auto c = cfg_of(K, H, 1.0f, 1, MBRL_BACKEND_CPU);
  ASSERT_EQ(mbrl_planner_create(&pr.p, m.m, &c), MBRL_OK);
  ASSERT_EQ(mbrl_planner_create(&pu.p, m.m, &c), MBRL_OK);
  UserData ud;
  ASSERT_EQ(mbrl_planner_set_reward(pu.p, pendulum_reward_cb, nullptr, &ud), MBRL_OK);
  float o[3];
  obs_of(2.8, 0.4, o);
  for (uint64_t seed : {1u, 2u, 3u}) {
    mbrl_plan_result a, b;
    ASSERT_EQ(mbrl_planner_plan(pr.p, o, &seed, 1, &a), MBRL_OK);
    ASSERT_EQ(mbrl_planner_plan(pu.p, o, &seed, 1, &b), MBRL_OK);
    std::vector<float> ca(K), cb(K);
    ASSERT_EQ(mbrl_planner_last_costs(pr.p, ca.data()), MBRL_OK);
    ASSERT_EQ(mbrl_planner_last_costs(pu.p, cb.data()), MBRL_OK);
    // vector atan2 (registered) vs libm's atan2f (the callback): a few ulp per step
    EXPECT_LE(worst_ratio(cb.data(), ca.data(), K, 1e-4, 1e-5), 1.0);
    EXPECT_EQ(a.best_index, b.best_index) << "seed " << seed;
    EXPECT_EQ(a.action[0], b.action[0]);
  }
  EXPECT_EQ(ud.calls, 3 * H * ((K + 47) / 48)) << "one call per block and step";
  // a terminal callback: sequences stop paying once cos(theta') < 0.9 (never from the start)
  ud.terminal_below = 2.0f;  // everything is terminal: only step 0's reward counts
  ASSERT_EQ(mbrl_planner_set_reward(pu.p, pendulum_reward_cb, cos_terminal_cb, &ud), MBRL_OK);
  std::vector<float> acts((size_t)4 * H), cu(4);
  for (size_t i = 0; i < acts.size(); ++i) acts[i] = std::sin(0.37f * (float)i);
  ASSERT_EQ(mbrl_planner_evaluate(pu.p, o, acts.data(), 4, cu.data()), MBRL_OK);
  for (int k = 0; k < 4; ++k) {
    float n[3];
    ASSERT_EQ(mbrl_plan_model_step(m.m, o, &acts[(size_t)k * H], 1, n), MBRL_OK);
    EXPECT_NEAR(cu[k], -mbrl_pendulum_reward_obs(o, &acts[(size_t)k * H], n), 1e-5) << k;
  }
  // NULL restores the env's reward
  ASSERT_EQ(mbrl_planner_set_reward(pu.p, nullptr, nullptr, nullptr), MBRL_OK);
  std::vector<float> cr(4);
  ASSERT_EQ(mbrl_planner_evaluate(pr.p, o, acts.data(), 4, cr.data()), MBRL_OK);
  ASSERT_EQ(mbrl_planner_evaluate(pu.p, o, acts.data(), 4, cu.data()), MBRL_OK);
  EXPECT_EQ(cr, cu);
  // an oracle planner refuses callbacks
  ModelPtr om;
  ASSERT_EQ(mbrl_plan_model_oracle(&om.m, "Pendulum-v1"), MBRL_OK);
  PlannerPtr po;
  ASSERT_EQ(mbrl_planner_create(&po.p, om.m, &c), MBRL_OK);
  EXPECT_EQ(mbrl_planner_set_reward(po.p, pendulum_reward_cb, nullptr, &ud), MBRL_ERR_INVALID_ARG);
}

// A system that is no registered env: a learned model of a 2-D point mass (x, v) with a user
// reward -(x^2 + 0.1 v^2) and terminal |x| > 1.5: plans equal a scalar loop over the model
// step and the callbacks; without a reward a plan is refused; discrete systems draw indices.
namespace {
void point_reward(void *, int n, int O, int A, const float *obs, const float *act,
                  const float *next_obs, float *reward) {
  (void)obs;
  (void)act;
  (void)A;
  for (int r = 0; r < n; ++r) {
    const float *s = next_obs + (size_t)r * O;
    reward[r] = -(s[0] * s[0] + 0.1f * s[1] * s[1]);
  }
}
void point_terminal(void *, int n, int O, const float *next_obs, uint8_t *terminal) {
  for (int r = 0; r < n; ++r) terminal[r] = std::fabs(next_obs[(size_t)r * O]) > 1.5f;
}
}  // namespace

TEST(PlannerCustom, SystemThatIsNoRegisteredEnv) {
  for (int n_actions : {0, 3}) {
    SCOPED_TRACE(n_actions ? "discrete" : "continuous");
    int sizes[3] = {3, 16, 2};
    mbrl_mlp_config mc;
    mbrl_mlp_config_init(&mc, 2, sizes);
    mc.seed = 12;
    mbrl_mlp *mlp = nullptr;
    ASSERT_EQ(mbrl_mlp_create(&mlp, &mc, MBRL_BACKEND_CPU, 1), MBRL_OK);
    mbrl_dataset_stats st;
    std::memset(&st, 0, sizeof st);
    st.state_std[0] = st.state_std[1] = 1.0f;
    st.delta_state_std[0] = st.delta_state_std[1] = 0.3f;
    st.action_std[0] = 1.0f;
    mbrl_plan_system sys;
    std::memset(&sys, 0, sizeof sys);
    sys.name = "PointMass";
    sys.obs_dim = 2;
    sys.act_dim = 1;
    sys.n_actions = n_actions;
    sys.act_low[0] = -1.0f;
    sys.act_high[0] = 1.0f;
    ModelPtr m;
    ASSERT_EQ(mbrl_plan_model_from_mlp_system(&m.m, &sys, mlp, &st), MBRL_OK) << mbrl_last_error();
    EXPECT_EQ(m.m->spec, nullptr);
    sys.name = "CartPole-v1";  // a registered id is not a custom system
    ModelPtr bad;
    EXPECT_EQ(mbrl_plan_model_from_mlp_system(&bad.m, &sys, mlp, &st), MBRL_ERR_INVALID_ARG);
    mbrl_mlp_free(mlp);
    const int K = 200, H = 12;
    PlannerPtr p;
    auto c = cfg_of(K, H, 0.95f, 1, MBRL_BACKEND_CPU);
    ASSERT_EQ(mbrl_planner_create(&p.p, m.m, &c), MBRL_OK) << mbrl_last_error();
    const float obs[2] = {0.8f, -0.3f};
    const uint64_t seed = 5;
    mbrl_plan_result res;
    EXPECT_EQ(mbrl_planner_plan(p.p, obs, &seed, 1, &res), MBRL_ERR_INVALID_ARG);
    EXPECT_NE(std::string(mbrl_last_error()).find("mbrl_planner_set_reward"), std::string::npos);
    ASSERT_EQ(mbrl_planner_set_reward(p.p, point_reward, point_terminal, nullptr), MBRL_OK);
    ASSERT_EQ(mbrl_planner_plan(p.p, obs, &seed, 1, &res), MBRL_OK) << mbrl_last_error();
    std::vector<float> costs(K), acts((size_t)K * H);
    ASSERT_EQ(mbrl_planner_last_costs(p.p, costs.data()), MBRL_OK);
    std::vector<float> ref(K);
    for (int k = 0; k < K; ++k) {
      mbrl_planner_draw(seed, k, H, 1, m.m->n_actions, m.m->act_low, m.m->act_high,
                        &acts[(size_t)k * H]);
      float s[2] = {obs[0], obs[1]}, nx[2], cst = 0.0f, g = 1.0f, r;
      bool alive = true;
      for (int h = 0; h < H; ++h) {
        const float a = acts[(size_t)k * H + h];
        if (n_actions) {
          ASSERT_EQ(a, std::floor(a));
          ASSERT_LT(a, 3.0f);
        } else {
          ASSERT_GT(a, -1.0f);
          ASSERT_LE(a, 1.0f);
        }
        ASSERT_EQ(mbrl_plan_model_step(m.m, s, &a, 1, nx), MBRL_OK);
        uint8_t term = 0;
        point_reward(nullptr, 1, 2, 1, s, &a, nx, &r);
        point_terminal(nullptr, 1, 2, nx, &term);
        if (alive) {
          cst = cst - g * r;
          if (term) alive = false;
        }
        s[0] = nx[0];
        s[1] = nx[1];
        g = g * 0.95f;
      }
      ref[k] = cst;
    }
    EXPECT_LE(worst_ratio(costs.data(), ref.data(), K, 1e-4, 1e-5), 1.0);
    int best = 0;
    for (int k = 1; k < K; ++k)
      if (costs[k] < costs[best]) best = k;
    EXPECT_EQ(res.best_index, best);
    EXPECT_EQ(res.action[0], acts[(size_t)best * H]);
  }
}

TEST(PlannerCuda, CustomRewardIsRefusedNamingTheRegisteredEnvs) {
  MBRL_REQUIRE_GPU();
  DynPtr dp;
  make_dynamics(dp, 6);
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_from_dynamics(&m.m, dp.d), MBRL_OK);
  PlannerPtr p;
  auto c = cfg_of(64, 5, 1.0f, 1, MBRL_BACKEND_CUDA);
  ASSERT_EQ(mbrl_planner_create(&p.p, m.m, &c), MBRL_OK);
  UserData ud;
  EXPECT_EQ(mbrl_planner_set_reward(p.p, pendulum_reward_cb, nullptr, &ud), MBRL_ERR_UNSUPPORTED);
  const std::string msg = mbrl_last_error();
  EXPECT_NE(msg.find("CPU"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Acrobot-v1"), std::string::npos) << msg;
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

  // planner costs (fast CPU path) vs a direct loop of dynamics predictions, each projected
  // onto the unit circle (mbrl_pendulum_project_obs, the planner's default), + reward
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
    mbrl_planner_draw(seed, k, H, 1, 0, m.m->act_low, m.m->act_high, &acts[(size_t)k * H]);
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
    for (int k = 0; k < K; ++k) mbrl_pendulum_project_obs(&n[3 * k]);
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

TEST(PlannerModel, RefusesUnknownEnvsAndBadShapes) {
  ModelPtr m;
  EXPECT_EQ(mbrl_plan_model_oracle(&m.m, "Nope-v0"), MBRL_ERR_INVALID_ARG);
  EXPECT_NE(std::string(mbrl_last_error()).find("CartPole-v1"), std::string::npos)
      << "names the known ids: " << mbrl_last_error();
  EXPECT_EQ(m.m, nullptr);
  // a model for an unknown env
  DynPtr d;
  int hidden[1] = {8};
  if (mbrl_dynamics_create(&d.d, "Nope-v0", 4, 1, nullptr, 1, hidden, 0, MBRL_BACKEND_CPU, 4,
                           0) == MBRL_OK) {
    EXPECT_EQ(mbrl_plan_model_from_dynamics(&m.m, d.d), MBRL_ERR_FORMAT);
    EXPECT_EQ(m.m, nullptr);
  }
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
// PyTorch's per-sequence costs (float32, reward of (s_h, a_h), gamma 0.9). The reference
// rolls the model's raw predictions (the seed's method): no_projection.
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
  c.no_projection = 1;
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

// obs: E observations of m's env (E = obs.size() / obs_dim). The same draws, costs within
// atol + rtol |cpu|, the same winner (or, on a near tie, winners whose CPU costs agree).
static void cuda_vs_cpu_obs(const mbrl_plan_model *m, const std::vector<float> &obs, int K, int H,
                            float gamma, double atol, double rtol,
                            mbrl_plan_cost cost = MBRL_PLAN_COST_REWARD) {
  const int O = m->obs_dim, A = m->act_dim, E = (int)obs.size() / O;
  SCOPED_TRACE(std::string(m->env_id) + (m->kind == MBRL_PLAN_MODEL_ORACLE ? " oracle" : " learned") +
               (cost == MBRL_PLAN_COST_SHAPED ? " shaped" : " reward"));
  PlannerPtr pc, pg;
  auto cc = cfg_of(K, H, gamma, E, MBRL_BACKEND_CPU);
  auto cg = cfg_of(K, H, gamma, E, MBRL_BACKEND_CUDA);
  cc.cost = cg.cost = cost;
  ASSERT_EQ(mbrl_planner_create(&pc.p, m, &cc), MBRL_OK);
  ASSERT_EQ(mbrl_planner_create(&pg.p, m, &cg), MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(mbrl_planner_backend(pg.p), MBRL_BACKEND_CUDA);
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<uint64_t> seeds(E);
    for (int e = 0; e < E; ++e) seeds[e] = mbrl_planner_seed(7, e, rep);
    std::vector<mbrl_plan_result> rc(E), rg(E);
    // rep 1 adds a warm-start prior (sequence 1) per env, within the action space
    std::vector<float> prior((size_t)E * H * A);
    for (size_t i = 0; i < prior.size(); ++i)
      prior[i] = m->n_actions > 0 ? (float)(i % m->n_actions)
                                  : std::sin(0.7f * (float)i) * 0.95f * m->act_high[i % A];
    const float *pp = rep == 1 ? prior.data() : nullptr;
    ASSERT_EQ(mbrl_planner_plan_prior(pc.p, obs.data(), seeds.data(), pp, E, rc.data()), MBRL_OK);
    ASSERT_EQ(mbrl_planner_plan_prior(pg.p, obs.data(), seeds.data(), pp, E, rg.data()), MBRL_OK)
        << mbrl_last_error();
    std::vector<float> ccost((size_t)E * K), gcost((size_t)E * K);
    ASSERT_EQ(mbrl_planner_last_costs(pc.p, ccost.data()), MBRL_OK);
    ASSERT_EQ(mbrl_planner_last_costs(pg.p, gcost.data()), MBRL_OK);
    const double ratio = worst_ratio(gcost.data(), ccost.data(), ccost.size(), atol, rtol);
    EXPECT_LE(ratio, 1.0) << "worst |cuda - cpu| / tol over all costs = " << ratio;
    for (int e = 0; e < E; ++e) {
      const float *c = &ccost[(size_t)e * K];
      const double tol = atol + rtol * std::fabs(rc[e].best_return);
      if (rg[e].best_index != rc[e].best_index) {
        EXPECT_NEAR(c[rg[e].best_index], c[rc[e].best_index], tol)
            << "env " << e << " rep " << rep << ": other winners, not a near tie";
        continue;
      }
      for (int j = 0; j < A; ++j) EXPECT_EQ(rg[e].action[j], rc[e].action[j]);  // same draws
      EXPECT_NEAR(rg[e].best_return, rc[e].best_return, tol);
      EXPECT_LE(worst_ratio(rg[e].pred_next, rc[e].pred_next, O, 1e-4, 1e-4), 1.0);
    }
  }
}

static void cuda_vs_cpu(const mbrl_plan_model *m, int K, int H, float gamma, double atol,
                        double rtol) {
  std::vector<float> obs(9);
  obs_of(3.1, 0.0, obs.data());
  obs_of(-0.5, 3.0, obs.data() + 3);
  obs_of(1.5, -6.0, obs.data() + 6);
  cuda_vs_cpu_obs(m, obs, K, H, gamma, atol, rtol);
}

// Three reset observations of every env (reset seeds 0..2).
static std::vector<float> env_resets(const mbrl_env_spec *spec) {
  std::vector<float> obs;
  for (int e = 0; e < 3; ++e) {
    mbrl_env env;
    EXPECT_EQ(mbrl_env_init(&env, spec->id, (uint64_t)e, 0), MBRL_OK);
    float o[MBRL_MAX_DIM];
    mbrl_env_reset(&env, o);
    obs.insert(obs.end(), o, o + spec->obs_dim);
  }
  return obs;
}

TEST(PlannerCuda, EveryEnvOracleMatchesCpu) {
  MBRL_REQUIRE_GPU();
  for (int i = 0; i < MBRL_ENV_COUNT; ++i) {
    const mbrl_env_spec *spec = mbrl_env_at(i);
    ModelPtr m;
    ASSERT_EQ(mbrl_plan_model_oracle(&m.m, spec->id), MBRL_OK);
    const auto obs = env_resets(spec);
    for (mbrl_plan_cost cost : {MBRL_PLAN_COST_REWARD, MBRL_PLAN_COST_SHAPED})
      cuda_vs_cpu_obs(m.m, obs, 1024, 15, 1.0f, 2e-3, 1e-4, cost);
  }
}

TEST(PlannerCuda, EveryEnvLearnedMatchesCpu) {
  MBRL_REQUIRE_GPU();
  for (int i = 0; i < MBRL_ENV_COUNT; ++i) {
    const mbrl_env_spec *spec = mbrl_env_at(i);
    ModelPtr m;
    random_learned(m, spec, 20 + i);
    const auto obs = env_resets(spec);
    for (mbrl_plan_cost cost : {MBRL_PLAN_COST_REWARD, MBRL_PLAN_COST_SHAPED})
      cuda_vs_cpu_obs(m.m, obs, 777, 15, 1.0f, 2e-3, 1e-4, cost);
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
