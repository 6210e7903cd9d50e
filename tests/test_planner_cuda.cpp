// tests/test_planner_cuda.cpp - the CUDA planner's given-sequence rollout
// (mbrl_planner_evaluate_batch on a CUDA planner) against the CPU twin: every registered env,
// oracle and learned models, both cost kinds, score_next, gamma, K below the planner's samples
// (strided copies), more envs than travel as kernel arguments (E > 32), s_1, bit-for-bit
// agreement with the random-shooting kernel's own costs on the same sequences, and bad
// arguments; the PETS particle rollout of ensemble models (TS1, TSinf, expectation,
// probabilistic members sampled or not, elites, weights in shared and in global memory) for
// random shooting, evaluate_batch_seeded and CEM against the CPU twin. Every test skips
// without a GPU (MBRL_REQUIRE_GPU).
//
// Tolerances: the CUDA rollout runs the same MBRL_HD step/cost functions as the CPU, but with
// CUDA's sinf/cosf/atan2f (a few ulp from libm), FMA contraction and another summation order
// in the MLP; over 15 steps the costs agree within 2e-3 + 1e-4 |cost| (the random-shooting
// CUDA-vs-CPU tests of test_planner.cpp use the same bound), s_1 within 1e-4 + 1e-4 |s_1|.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "planner_testing.h"
#include "testing.h"

extern "C" {
#include "mbrl/device.h"
#include "mbrl/dyn_ensemble.h"
#include "mbrl/env.h"
#include "mbrl/mlp.h"
#include "mbrl/plan_opt.h"
#include "mbrl/planner.h"
}

using mbrl_test::worst_ratio;
using mbrl_test::ModelPtr;
using mbrl_test::PlannerPtr;
using mbrl_test::cfg_of;
using mbrl_test::random_learned;

namespace {


// n reset observations of env spec (reset seeds 0..n-1).
std::vector<float> env_resets(const mbrl_env_spec *spec, int n) {
  std::vector<float> obs;
  for (int e = 0; e < n; ++e) {
    mbrl_env env;
    EXPECT_EQ(mbrl_env_init(&env, spec->id, (uint64_t)e, 0), MBRL_OK);
    float o[MBRL_MAX_DIM];
    mbrl_env_reset(&env, o);
    obs.insert(obs.end(), o, o + spec->obs_dim);
  }
  return obs;
}

// (E, K, H, A) sequences in m's action space: the random-shooting draws of seed + e.
std::vector<float> draw_sequences(const mbrl_plan_model *m, int E, int K, int H, uint64_t seed) {
  const int A = m->act_dim;
  std::vector<float> a((size_t)E * K * H * A);
  for (int e = 0; e < E; ++e)
    for (int k = 0; k < K; ++k)
      mbrl_planner_draw(seed + (uint64_t)e, (uint64_t)k, H, A, m->n_actions, m->act_low,
                        m->act_high, &a[(((size_t)e * K + k) * H) * A]);
  return a;
}

// CPU and CUDA evaluate_batch of the same sequences: costs and s_1 within the tolerances of
// the top of the file. The planners hold `samples` rows; K <= samples are scored.
void evaluate_vs_cpu(const mbrl_plan_model *m, const std::vector<float> &obs, int samples, int K,
                     int H, float gamma, mbrl_plan_cost cost, int score_next) {
  const int O = m->obs_dim, E = (int)obs.size() / O;
  SCOPED_TRACE(std::string(m->env_id) + (m->kind == MBRL_PLAN_MODEL_ORACLE ? " oracle" : " learned") +
               (cost == MBRL_PLAN_COST_SHAPED ? " shaped" : " reward") +
               (score_next ? " score_next" : "") + " E " + std::to_string(E) + " K " +
               std::to_string(K));
  PlannerPtr pc, pg;
  auto cc = cfg_of(samples, H, gamma, E, MBRL_BACKEND_CPU);
  auto cg = cfg_of(samples, H, gamma, E, MBRL_BACKEND_CUDA);
  cc.cost = cg.cost = cost;
  cc.score_next = cg.score_next = score_next;
  ASSERT_EQ(mbrl_planner_create(&pc.p, m, &cc), MBRL_OK) << mbrl_last_error();
  ASSERT_EQ(mbrl_planner_create(&pg.p, m, &cg), MBRL_OK) << mbrl_last_error();
  ASSERT_EQ(mbrl_planner_backend(pg.p), MBRL_BACKEND_CUDA);
  const auto acts = draw_sequences(m, E, K, H, 99);
  std::vector<float> ccost((size_t)E * K), gcost((size_t)E * K, NAN);
  std::vector<float> cs1((size_t)E * K * O), gs1((size_t)E * K * O, NAN);
  ASSERT_EQ(mbrl_planner_evaluate_batch(pc.p, obs.data(), acts.data(), E, K, ccost.data(),
                                        cs1.data()), MBRL_OK);
  ASSERT_EQ(mbrl_planner_evaluate_batch(pg.p, obs.data(), acts.data(), E, K, gcost.data(),
                                        gs1.data()), MBRL_OK) << mbrl_last_error();
  EXPECT_LE(worst_ratio(gcost.data(), ccost.data(), ccost.size(), 2e-3, 1e-4), 1.0)
      << "worst |cuda - cpu| / tol over the costs";
  EXPECT_LE(worst_ratio(gs1.data(), cs1.data(), cs1.size(), 1e-4, 1e-4), 1.0)
      << "worst |cuda - cpu| / tol over s_1";
  // without s1 the costs are the same bits; the planner then has no plan to return
  std::vector<float> g2((size_t)E * K);
  ASSERT_EQ(mbrl_planner_evaluate_batch(pg.p, obs.data(), acts.data(), E, K, g2.data(), nullptr),
            MBRL_OK);
  EXPECT_EQ(0, std::memcmp(g2.data(), gcost.data(), g2.size() * sizeof(float)));
  EXPECT_EQ(mbrl_planner_last_costs(pg.p, g2.data()), MBRL_ERR_INVALID_ARG);
}

}  // namespace

TEST(PlannerCudaGiven, EveryEnvOracleMatchesCpu) {
  MBRL_REQUIRE_GPU();
  for (int i = 0; i < MBRL_ENV_COUNT; ++i) {
    const mbrl_env_spec *spec = mbrl_env_at(i);
    ModelPtr m;
    ASSERT_EQ(mbrl_plan_model_oracle(&m.m, spec->id), MBRL_OK);
    const auto obs = env_resets(spec, 3);
    for (mbrl_plan_cost cost : {MBRL_PLAN_COST_REWARD, MBRL_PLAN_COST_SHAPED})
      evaluate_vs_cpu(m.m, obs, 300, 257, 15, 0.97f, cost, 0);
    evaluate_vs_cpu(m.m, obs, 300, 300, 15, 1.0f, MBRL_PLAN_COST_REWARD, 1);
  }
}

TEST(PlannerCudaGiven, EveryEnvLearnedMatchesCpu) {
  MBRL_REQUIRE_GPU();
  for (int i = 0; i < MBRL_ENV_COUNT; ++i) {
    const mbrl_env_spec *spec = mbrl_env_at(i);
    ModelPtr m;
    random_learned(m, spec, 40 + i);
    const auto obs = env_resets(spec, 3);
    for (mbrl_plan_cost cost : {MBRL_PLAN_COST_REWARD, MBRL_PLAN_COST_SHAPED})
      evaluate_vs_cpu(m.m, obs, 300, 211, 15, 0.97f, cost, 0);
    evaluate_vs_cpu(m.m, obs, 300, 300, 15, 1.0f, MBRL_PLAN_COST_REWARD, 1);
  }
}

// 40 envs: the observations go through the device copy, not the kernel arguments; each env's
// costs are the bits of a one-env evaluation of it (rows are independent in the kernel).
TEST(PlannerCudaGiven, ManyEnvsEqualSingleEnvCalls) {
  MBRL_REQUIRE_GPU();
  const mbrl_env_spec *spec = mbrl_env_find("Pendulum-v1");
  ASSERT_NE(spec, nullptr);
  for (int learned = 0; learned < 2; ++learned) {
    ModelPtr m;
    if (learned)
      random_learned(m, spec, 7);
    else
      ASSERT_EQ(mbrl_plan_model_oracle(&m.m, spec->id), MBRL_OK);
    const int E = 40, K = 100, H = 12, O = spec->obs_dim, A = spec->act_dim;
    const auto obs = env_resets(spec, E);
    evaluate_vs_cpu(m.m, obs, K, K, H, 1.0f, MBRL_PLAN_COST_REWARD, 0);
    PlannerPtr pg;
    auto cg = cfg_of(K, H, 1.0f, E, MBRL_BACKEND_CUDA);
    ASSERT_EQ(mbrl_planner_create(&pg.p, m.m, &cg), MBRL_OK) << mbrl_last_error();
    const auto acts = draw_sequences(m.m, E, K, H, 5);
    std::vector<float> all((size_t)E * K), one(K);
    ASSERT_EQ(mbrl_planner_evaluate_batch(pg.p, obs.data(), acts.data(), E, K, all.data(), nullptr),
              MBRL_OK) << mbrl_last_error();
    for (int e = 0; e < E; e += 13) {
      ASSERT_EQ(mbrl_planner_evaluate_batch(pg.p, &obs[(size_t)e * O],
                                            &acts[(size_t)e * K * H * A], 1, K, one.data(),
                                            nullptr), MBRL_OK);
      EXPECT_EQ(0, std::memcmp(one.data(), &all[(size_t)e * K], K * sizeof(float))) << "env " << e;
    }
  }
}

// The given-sequence mode is the random-shooting kernel reading its actions from memory: the
// sequences a CUDA plan drew (mbrl_planner_draw, the same floats) cost the same bits.
TEST(PlannerCudaGiven, DrawnSequencesCostWhatThePlanCharged) {
  MBRL_REQUIRE_GPU();
  for (const char *id : {"Pendulum-v1", "CartPole-v1"}) {
    const mbrl_env_spec *spec = mbrl_env_find(id);
    ASSERT_NE(spec, nullptr);
    for (int learned = 0; learned < 2; ++learned) {
      SCOPED_TRACE(std::string(id) + (learned ? " learned" : " oracle"));
      ModelPtr m;
      if (learned)
        random_learned(m, spec, 11);
      else
        ASSERT_EQ(mbrl_plan_model_oracle(&m.m, id), MBRL_OK);
      const int E = 2, K = 333, H = 15;
      const auto obs = env_resets(spec, E);
      PlannerPtr pg;
      auto cg = cfg_of(K, H, 0.99f, E, MBRL_BACKEND_CUDA);
      ASSERT_EQ(mbrl_planner_create(&pg.p, m.m, &cg), MBRL_OK) << mbrl_last_error();
      const uint64_t seeds[2] = {1234, 77};
      mbrl_plan_result r[2];
      ASSERT_EQ(mbrl_planner_plan(pg.p, obs.data(), seeds, E, r), MBRL_OK) << mbrl_last_error();
      std::vector<float> planned((size_t)E * K), given((size_t)E * K);
      ASSERT_EQ(mbrl_planner_last_costs(pg.p, planned.data()), MBRL_OK);
      std::vector<float> acts((size_t)E * K * H * spec->act_dim);
      for (int e = 0; e < E; ++e)
        for (int k = 0; k < K; ++k)
          mbrl_planner_draw(seeds[e], (uint64_t)k, H, m.m->act_dim, m.m->n_actions, m.m->act_low,
                            m.m->act_high, &acts[((size_t)e * K + k) * H * m.m->act_dim]);
      ASSERT_EQ(mbrl_planner_evaluate_batch(pg.p, obs.data(), acts.data(), E, K, given.data(),
                                            nullptr), MBRL_OK) << mbrl_last_error();
      EXPECT_EQ(0, std::memcmp(planned.data(), given.data(), planned.size() * sizeof(float)));
      for (int e = 0; e < E; ++e)
        EXPECT_EQ(-given[(size_t)e * K + r[e].best_index], r[e].best_return);
      // and a plan after an evaluation is unaffected by it
      mbrl_plan_result r2[2];
      ASSERT_EQ(mbrl_planner_plan(pg.p, obs.data(), seeds, E, r2), MBRL_OK);
      EXPECT_EQ(0, std::memcmp(r, r2, sizeof r));
    }
  }
}

TEST(PlannerCudaGiven, BadArgumentsAreRefused) {
  MBRL_REQUIRE_GPU();
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_oracle(&m.m, "Pendulum-v1"), MBRL_OK);
  PlannerPtr pg;
  auto cg = cfg_of(10, 5, 1.0f, 2, MBRL_BACKEND_CUDA);
  ASSERT_EQ(mbrl_planner_create(&pg.p, m.m, &cg), MBRL_OK) << mbrl_last_error();
  std::vector<float> a(3 * 11 * 5, 0.0f), c(33);
  const float obs[9] = {1, 0, 0, 1, 0, 0, 1, 0, 0};
  EXPECT_EQ(mbrl_planner_evaluate_batch(pg.p, obs, a.data(), 1, 11, c.data(), nullptr),
            MBRL_ERR_INVALID_ARG);
  EXPECT_TRUE(mbrl_test::has(mbrl_last_error(), "samples")) << mbrl_last_error();
  EXPECT_EQ(mbrl_planner_evaluate_batch(pg.p, obs, a.data(), 3, 5, c.data(), nullptr),
            MBRL_ERR_INVALID_ARG);
  EXPECT_TRUE(mbrl_test::has(mbrl_last_error(), "max_envs")) << mbrl_last_error();
  const float bad[3] = {1, NAN, 0};
  EXPECT_EQ(mbrl_planner_evaluate_batch(pg.p, bad, a.data(), 1, 5, c.data(), nullptr),
            MBRL_ERR_NUMERIC);
  EXPECT_EQ(mbrl_planner_evaluate_batch(pg.p, obs, nullptr, 1, 5, c.data(), nullptr),
            MBRL_ERR_INVALID_ARG);
}

// ---------------------------------------------------------------- PETS particles on CUDA
//
// Members are the same integers on both backends (Philox draws); the Gaussian noise of
// probabilistic members comes from the same Philox words, the CPU through its vector
// log/sin/cos (a few ulp from CUDA's): costs again within 2e-3 + 1e-4 |cost| over 12 steps,
// s_1 (the particles' mean) within 1e-4 + 1e-4 |s_1|.

namespace {

// A Pendulum-v1 ensemble (random weights, BatchNorm folded by the export) of `members`
// members with hidden widths `width`: 64 puts 5 members' weights in shared memory, 200 not.
struct Ens {
  mbrl_dyn_ensemble *e = nullptr;
  mbrl_plan_model *m = nullptr;
  Ens(int members, int probabilistic, int n_elites, int width, uint64_t seed)
      : e(mbrl_test::pendulum_ensemble(members, probabilistic, n_elites, width, seed)) {
    if (e) {
      EXPECT_EQ(mbrl_plan_model_from_ensemble(&m, e), MBRL_OK) << mbrl_last_error();
    }
  }
  ~Ens() {
    mbrl_plan_model_free(m);
    mbrl_dyn_ensemble_free(e);
  }
};

mbrl_planner_config pets_cfg(int K, int H, int E, int P, mbrl_plan_propagation prop,
                             int no_sample, mbrl_backend be) {
  auto c = cfg_of(K, H, 0.97f, E, be);
  c.particles = P;
  c.propagation = prop;
  c.no_sample = no_sample;
  return c;
}

const float kPendulumObs[6] = {0.9f, 0.43588989f, -0.7f, -0.6f, -0.8f, 2.5f};

struct PetsCase {
  int members, probabilistic, n_elites, width;
  mbrl_plan_propagation prop;
  int no_sample;
};

std::string name_of(const PetsCase &c) {
  const char *pn = c.prop == MBRL_PLAN_PROP_TS1 ? "ts1" : c.prop == MBRL_PLAN_PROP_TSINF ? "tsinf"
                                                                                        : "expectation";
  return std::to_string(c.members) + " members (" + std::to_string(c.n_elites) + " elites) width " +
         std::to_string(c.width) + (c.probabilistic ? " probabilistic" : " deterministic") + " " +
         pn + (c.no_sample ? " no-sample" : "");
}

const PetsCase kCases[] = {
    {5, 1, 0, 64, MBRL_PLAN_PROP_TSINF, 0},      {5, 1, 0, 64, MBRL_PLAN_PROP_TS1, 0},
    {5, 1, 3, 64, MBRL_PLAN_PROP_EXPECTATION, 0}, {5, 1, 0, 64, MBRL_PLAN_PROP_TS1, 1},
    {3, 0, 0, 64, MBRL_PLAN_PROP_TSINF, 0},      {5, 1, 3, 200, MBRL_PLAN_PROP_TS1, 0},
    {4, 0, 2, 200, MBRL_PLAN_PROP_TSINF, 0},
};

}  // namespace

TEST(PlannerCudaPets, EvaluateBatchSeededMatchesCpu) {
  MBRL_REQUIRE_GPU();
  for (const PetsCase &pc : kCases) {
    SCOPED_TRACE(name_of(pc));
    Ens ens(pc.members, pc.probabilistic, pc.n_elites, pc.width, 17);
    ASSERT_NE(ens.m, nullptr);
    const int E = 2, K = 150, Kn = 123, H = 12, P = 7, O = 3;
    PlannerPtr c, g;
    auto cc = pets_cfg(K, H, E, P, pc.prop, pc.no_sample, MBRL_BACKEND_CPU);
    auto cg = pets_cfg(K, H, E, P, pc.prop, pc.no_sample, MBRL_BACKEND_CUDA);
    ASSERT_EQ(mbrl_planner_create(&c.p, ens.m, &cc), MBRL_OK) << mbrl_last_error();
    ASSERT_EQ(mbrl_planner_create(&g.p, ens.m, &cg), MBRL_OK) << mbrl_last_error();
    EXPECT_EQ(mbrl_planner_particles(g.p), mbrl_planner_particles(c.p));
    const auto acts = draw_sequences(ens.m, E, Kn, H, 21);
    const uint64_t pseeds[E] = {11, 1ull << 50};
    std::vector<float> ccost((size_t)E * Kn), gcost(ccost.size(), NAN), cs1((size_t)E * Kn * O),
        gs1(cs1.size(), NAN);
    ASSERT_EQ(mbrl_planner_evaluate_batch_seeded(c.p, kPendulumObs, acts.data(), pseeds, E, Kn,
                                                 ccost.data(), cs1.data()), MBRL_OK);
    ASSERT_EQ(mbrl_planner_evaluate_batch_seeded(g.p, kPendulumObs, acts.data(), pseeds, E, Kn,
                                                 gcost.data(), gs1.data()), MBRL_OK)
        << mbrl_last_error();
    EXPECT_LE(worst_ratio(gcost.data(), ccost.data(), ccost.size(), 2e-3, 1e-4), 1.0);
    EXPECT_LE(worst_ratio(gs1.data(), cs1.data(), cs1.size(), 1e-4, 1e-4), 1.0);
    // another particle seed draws other members / noise (unless nothing is random)
    const uint64_t other[E] = {12, 13};
    std::vector<float> g2(gcost.size());
    ASSERT_EQ(mbrl_planner_evaluate_batch_seeded(g.p, kPendulumObs, acts.data(), other, E, Kn,
                                                 g2.data(), nullptr), MBRL_OK);
    const bool random = pc.prop != MBRL_PLAN_PROP_EXPECTATION;
    EXPECT_EQ(random, std::memcmp(g2.data(), gcost.data(), g2.size() * sizeof(float)) != 0);
  }
}

TEST(PlannerCudaPets, RandomShootingPlanMatchesCpu) {
  MBRL_REQUIRE_GPU();
  for (const PetsCase &pc : kCases) {
    SCOPED_TRACE(name_of(pc));
    Ens ens(pc.members, pc.probabilistic, pc.n_elites, pc.width, 23);
    ASSERT_NE(ens.m, nullptr);
    const int E = 2, K = 256, H = 10, P = 5;
    PlannerPtr c, g;
    auto cc = pets_cfg(K, H, E, P, pc.prop, pc.no_sample, MBRL_BACKEND_CPU);
    auto cg = pets_cfg(K, H, E, P, pc.prop, pc.no_sample, MBRL_BACKEND_CUDA);
    ASSERT_EQ(mbrl_planner_create(&c.p, ens.m, &cc), MBRL_OK) << mbrl_last_error();
    ASSERT_EQ(mbrl_planner_create(&g.p, ens.m, &cg), MBRL_OK) << mbrl_last_error();
    std::vector<float> prior((size_t)E * H);
    for (size_t i = 0; i < prior.size(); ++i) prior[i] = 1.9f * std::sin(0.37f * (float)i);
    for (int rep = 0; rep < 2; ++rep) {
      const uint64_t seeds[E] = {(uint64_t)rep * 1000 + 5, 77};
      const float *pp = rep == 1 ? prior.data() : nullptr;
      mbrl_plan_result rc[E], rg[E];
      ASSERT_EQ(mbrl_planner_plan_prior(c.p, kPendulumObs, seeds, pp, E, rc), MBRL_OK);
      ASSERT_EQ(mbrl_planner_plan_prior(g.p, kPendulumObs, seeds, pp, E, rg), MBRL_OK)
          << mbrl_last_error();
      std::vector<float> ccost((size_t)E * K), gcost(ccost.size());
      ASSERT_EQ(mbrl_planner_last_costs(c.p, ccost.data()), MBRL_OK);
      ASSERT_EQ(mbrl_planner_last_costs(g.p, gcost.data()), MBRL_OK);
      EXPECT_LE(worst_ratio(gcost.data(), ccost.data(), ccost.size(), 2e-3, 1e-4), 1.0);
      for (int e = 0; e < E; ++e) {
        const float *cst = &ccost[(size_t)e * K];
        const double tol = 2e-3 + 1e-4 * std::fabs(rc[e].best_return);
        if (rg[e].best_index != rc[e].best_index) {  // a near tie only
          EXPECT_NEAR(cst[rg[e].best_index], cst[rc[e].best_index], tol) << "env " << e;
          continue;
        }
        EXPECT_EQ(rg[e].action[0], rc[e].action[0]);
        EXPECT_NEAR(rg[e].best_return, rc[e].best_return, tol);
        EXPECT_LE(worst_ratio(rg[e].pred_next, rc[e].pred_next, 3, 1e-4, 1e-4), 1.0);
      }
    }
  }
}

// CEM over an ensemble on CUDA: one iteration, the device population against the CPU's and
// their particle costs (keyed by the iteration's particle seed) within the tolerances above.
TEST(PlannerCudaPets, CemScoresTheCpuPopulationWithParticles) {
  MBRL_REQUIRE_GPU();
  Ens ens(5, 1, 0, 64, 29);
  ASSERT_NE(ens.m, nullptr);
  const int H = 10, E = 2, D = H, P = 6;
  mbrl_plan_opt_config oc;
  mbrl_plan_opt_config_init(&oc, MBRL_PLAN_OPT_CEM);
  oc.population = 200;
  oc.iterations = 1;
  auto cc = pets_cfg(1, H, E, P, MBRL_PLAN_PROP_TS1, 0, MBRL_BACKEND_CPU);
  auto cg = pets_cfg(1, H, E, P, MBRL_PLAN_PROP_TS1, 0, MBRL_BACKEND_CUDA);
  mbrl_plan_opt *a = nullptr, *b = nullptr;
  ASSERT_EQ(mbrl_plan_opt_create(&a, ens.m, &cc, &oc), MBRL_OK) << mbrl_last_error();
  ASSERT_EQ(mbrl_plan_opt_create(&b, ens.m, &cg, &oc), MBRL_OK) << mbrl_last_error();
  const uint64_t seeds[E] = {3, 4};
  mbrl_plan_result ra[E], rb[E];
  EXPECT_EQ(mbrl_plan_opt_plan(a, kPendulumObs, seeds, E, ra), MBRL_OK);
  EXPECT_EQ(mbrl_plan_opt_plan(b, kPendulumObs, seeds, E, rb), MBRL_OK) << mbrl_last_error();
  for (int e = 0; e < E; ++e) {
    std::vector<float> pa((size_t)oc.population * D), pb(pa.size()), ca(oc.population),
        cb(oc.population), ca_same, cb_same;
    int na = 0, nb = 0;
    ASSERT_EQ(mbrl_plan_opt_last_population(a, e, pa.data(), ca.data(), &na), MBRL_OK);
    ASSERT_EQ(mbrl_plan_opt_last_population(b, e, pb.data(), cb.data(), &nb), MBRL_OK);
    ASSERT_EQ(na, nb);
    int off = 0;
    for (int k = 0; k < na; ++k) {
      bool same = true;
      for (int d = 0; d < D; ++d)
        if (!(std::fabs(pb[(size_t)k * D + d] - pa[(size_t)k * D + d]) <=
              1e-5 * (1.0 + std::fabs(pa[(size_t)k * D + d]))))
          same = false;
      if (!same) {
        ++off;
        continue;
      }
      ca_same.push_back(ca[k]);
      cb_same.push_back(cb[k]);
    }
    EXPECT_LE(off, 1) << "env " << e;
    EXPECT_LE(worst_ratio(cb_same.data(), ca_same.data(), ca_same.size(), 2e-3, 1e-4), 1.0);
  }
  mbrl_plan_opt_free(a);
  mbrl_plan_opt_free(b);
}
