// tests/test_plan_opt_cuda.cpp - CEM, iCEM and MPPI on a CUDA planner (mbrl/plan_opt.h,
// src/kernels/plan_opt.cu) against their CPU twins: the device-drawn populations are the
// CPU's numbers, the costs the CPU's to rounding, the update over the copied-back population
// and costs is the CPU twin's function (recomputed here bit for bit), whole plans agree, and
// mbrl_mpc --device cuda runs the optimizers. Every test skips without a GPU.
//
// Tolerances, and why: the device draws the same Philox words through the same MBRL_HD
// functions, but CUDA's logf/sinf/cosf (Box-Muller) are within 1-2 ulp of the host libm's, so
// a population entry agrees within 1e-5 (1 + |x|) (a sample is mu + sigma z with |z| <= 2);
// a truncation decision at |z| = 2 exactly could flip and shift the rest of that row's draws,
// so up to 1 row in 500 may differ (expected: none). Costs: 2e-3 + 1e-4 |cost| over 10-15
// steps (test_planner.cpp's CUDA-vs-CPU bound). Whole plans (5 iterations): a near tie at the
// elite boundary may pick another elite and move the mean by (x_a - x_b) / n_elite, so the
// first actions (continuous envs) are compared within 25% of the action range (the same mode)
// and the predicted returns within 5% + 1.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "testing.h"

extern "C" {
#include "mbrl/device.h"
#include "mbrl/env.h"
#include "mbrl/plan_opt.h"
#include "mbrl/planner.h"
}

using mbrl_test::RunResult;
using mbrl_test::worst_ratio;
using mbrl_test::ModelPtr;
using mbrl_test::OptPtr;

namespace {

mbrl_planner_config pcfg(int H, int E, mbrl_backend be) {
  mbrl_planner_config c;
  mbrl_planner_config_init(&c);
  c.horizon = H;
  c.max_envs = E;
  c.backend = be;
  return c;
}

std::vector<float> env_resets(const mbrl_env_spec *spec, int n) {
  std::vector<float> obs;
  for (int e = 0; e < n; ++e) {
    mbrl_env env;
    EXPECT_EQ(mbrl_env_init(&env, spec->id, (uint64_t)e + 3, 0), MBRL_OK);
    float o[MBRL_MAX_DIM];
    mbrl_env_reset(&env, o);
    obs.insert(obs.end(), o, o + spec->obs_dim);
  }
  return obs;
}

// The optimizer's sampling bounds (plan_opt.h: a discrete env's relaxation).
void bounds_of(const mbrl_plan_model *m, float *lo, float *hi) {
  for (int j = 0; j < m->act_dim; ++j) {
    lo[j] = m->n_actions > 0 ? -0.5f : m->act_low[j];
    hi[j] = m->n_actions > 0 ? (float)m->n_actions - 0.5f : m->act_high[j];
  }
}

// One iteration of a first plan on CPU and CUDA with the same seeds: populations, costs, and
// the CUDA result = the CPU twin's update over the CUDA population and costs.
void first_iteration(const mbrl_plan_model *m, mbrl_plan_opt_kind kind) {
  SCOPED_TRACE(std::string(m->env_id) + " " + mbrl_plan_opt_kind_name(kind) +
               (m->kind == MBRL_PLAN_MODEL_ORACLE ? " oracle" : " learned"));
  const int H = 12, E = 3, A = m->act_dim, D = H * A;
  mbrl_env_spec const *spec = mbrl_env_find(m->env_id);
  ASSERT_NE(spec, nullptr);
  const auto obs = env_resets(spec, E);
  mbrl_plan_opt_config oc;
  mbrl_plan_opt_config_init(&oc, kind);
  oc.population = 500;
  oc.iterations = 1;
  OptPtr oc_cpu, oc_gpu;
  auto cc = pcfg(H, E, MBRL_BACKEND_CPU), cg = pcfg(H, E, MBRL_BACKEND_CUDA);
  ASSERT_EQ(mbrl_plan_opt_create(&oc_cpu.o, m, &cc, &oc), MBRL_OK) << mbrl_last_error();
  ASSERT_EQ(mbrl_plan_opt_create(&oc_gpu.o, m, &cg, &oc), MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(mbrl_planner_backend(mbrl_plan_opt_planner(oc_gpu.o)), MBRL_BACKEND_CUDA);
  const uint64_t seeds[E] = {5, 6, 1ull << 40};
  mbrl_plan_result rc[E], rg[E];
  ASSERT_EQ(mbrl_plan_opt_plan(oc_cpu.o, obs.data(), seeds, E, rc), MBRL_OK);
  ASSERT_EQ(mbrl_plan_opt_plan(oc_gpu.o, obs.data(), seeds, E, rg), MBRL_OK) << mbrl_last_error();
  float lo[MBRL_MAX_DIM], hi[MBRL_MAX_DIM];
  bounds_of(m, lo, hi);
  for (int e = 0; e < E; ++e) {
    int nc = 0, ng = 0;
    std::vector<float> pc((size_t)oc.population * D), pg(pc.size()), cc_(oc.population),
        cg_(oc.population);
    ASSERT_EQ(mbrl_plan_opt_last_population(oc_cpu.o, e, pc.data(), cc_.data(), &nc), MBRL_OK);
    ASSERT_EQ(mbrl_plan_opt_last_population(oc_gpu.o, e, pg.data(), cg_.data(), &ng), MBRL_OK);
    ASSERT_EQ(nc, oc.population);
    ASSERT_EQ(ng, oc.population);
    int rows_off = 0;
    std::vector<float> cc_same, cg_same;
    for (int k = 0; k < nc; ++k) {
      const float *a = &pg[(size_t)k * D], *b = &pc[(size_t)k * D];
      bool same = true;
      for (int d = 0; d < D; ++d)
        if (!(std::fabs(a[d] - b[d]) <= 1e-5 * (1.0 + std::fabs(b[d])))) same = false;
      if (!same) {
        ++rows_off;
        continue;
      }
      cc_same.push_back(cc_[k]);
      cg_same.push_back(cg_[k]);
    }
    EXPECT_LE(rows_off, 1) << "env " << e << ": rows whose device draws differ from the CPU's";
    EXPECT_LE(worst_ratio(cg_same.data(), cc_same.data(), cc_same.size(), 2e-3, 1e-4), 1.0)
        << "env " << e << ": worst |cuda - cpu| / tol over the costs";
    // the CUDA result is the CPU twin's update over the CUDA population and costs
    std::vector<float> mu(D), var(D), seq(D);
    for (int d = 0; d < D; ++d) {
      const int j = d % A;
      mu[d] = 0.5f * (lo[j] + hi[j]);
      var[d] = (hi[j] - lo[j]) * (hi[j] - lo[j]) / 16.0f;
    }
    if (kind == MBRL_PLAN_OPT_CEM) {
      std::vector<uint64_t> order(ng);
      const double x = (double)oc.population * (double)oc.elite_ratio;
      const int ne = (int)std::ceil(x - 1e-6 * x);  // plan_opt.c's elites_of
      mbrl_plan_opt_cem_update(H, A, ng, pg.data(), cg_.data(), ne, oc.alpha, 1, mu.data(),
                               var.data(), order.data());
    } else {
      mbrl_plan_opt_mppi_update(H, A, ng, pg.data(), cg_.data(), oc.lambda, mu.data());
    }
    ASSERT_EQ(mbrl_plan_opt_last_sequence(oc_gpu.o, e, seq.data()), MBRL_OK);
    EXPECT_EQ(0, std::memcmp(seq.data(), mu.data(), D * sizeof(float))) << "env " << e;
    EXPECT_EQ(rg[e].best_index, -1);
    EXPECT_TRUE(std::isfinite(rg[e].best_return));
  }
}

// Whole plans (defaults: 5 iterations), then a warm-started second step.
void whole_plans(const mbrl_plan_model *m, mbrl_plan_opt_kind kind) {
  SCOPED_TRACE(std::string(m->env_id) + " " + mbrl_plan_opt_kind_name(kind));
  const int H = 15, E = 3;
  const mbrl_env_spec *spec = mbrl_env_find(m->env_id);
  ASSERT_NE(spec, nullptr);
  const auto obs = env_resets(spec, E);
  mbrl_plan_opt_config oc;
  mbrl_plan_opt_config_init(&oc, kind);
  OptPtr o_cpu, o_gpu;
  auto cc = pcfg(H, E, MBRL_BACKEND_CPU), cg = pcfg(H, E, MBRL_BACKEND_CUDA);
  ASSERT_EQ(mbrl_plan_opt_create(&o_cpu.o, m, &cc, &oc), MBRL_OK) << mbrl_last_error();
  ASSERT_EQ(mbrl_plan_opt_create(&o_gpu.o, m, &cg, &oc), MBRL_OK) << mbrl_last_error();
  float lo[MBRL_MAX_DIM], hi[MBRL_MAX_DIM];
  bounds_of(m, lo, hi);
  for (int step = 0; step < 2; ++step) {
    uint64_t seeds[E];
    for (int e = 0; e < E; ++e) seeds[e] = mbrl_planner_seed(3, e, step);
    mbrl_plan_result rc[E], rg[E];
    ASSERT_EQ(mbrl_plan_opt_plan(o_cpu.o, obs.data(), seeds, E, rc), MBRL_OK);
    ASSERT_EQ(mbrl_plan_opt_plan(o_gpu.o, obs.data(), seeds, E, rg), MBRL_OK) << mbrl_last_error();
    for (int e = 0; e < E; ++e) {
      // discrete envs: ties between equal-cost sequences (CartPole's alive reward) may pick
      // another index legitimately; continuous: the same mode (a flip would be ~100%)
      for (int j = 0; j < m->act_dim && m->n_actions == 0; ++j)
        EXPECT_NEAR(rg[e].action[j], rc[e].action[j], 0.25 * (hi[j] - lo[j]))
            << "env " << e << " step " << step;
      EXPECT_NEAR(rg[e].best_return, rc[e].best_return, 0.05 * std::fabs(rc[e].best_return) + 1.0)
          << "env " << e << " step " << step;
    }
  }
}

}  // namespace

TEST(PlanOptCuda, FirstIterationDrawsTheCpuPopulation) {
  MBRL_REQUIRE_GPU();
  for (const char *id : {"Pendulum-v1", "CartPole-v1", "MountainCarContinuous-v0"}) {
    ModelPtr m;
    ASSERT_EQ(mbrl_plan_model_oracle(&m.m, id), MBRL_OK);
    for (mbrl_plan_opt_kind kind : {MBRL_PLAN_OPT_CEM, MBRL_PLAN_OPT_MPPI}) first_iteration(m.m, kind);
  }
}

// iCEM samples on the host (the CPU twin's code), so its first population is the same bits
// and only the scores come from the device.
TEST(PlanOptCuda, IcemScoresTheSamePopulationOnTheDevice) {
  MBRL_REQUIRE_GPU();
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_oracle(&m.m, "Pendulum-v1"), MBRL_OK);
  const int H = 12, E = 2, D = H;
  const auto obs = env_resets(mbrl_env_find("Pendulum-v1"), E);
  mbrl_plan_opt_config oc;
  mbrl_plan_opt_config_init(&oc, MBRL_PLAN_OPT_ICEM);
  oc.iterations = 1;
  OptPtr a, b;
  auto cc = pcfg(H, E, MBRL_BACKEND_CPU), cg = pcfg(H, E, MBRL_BACKEND_CUDA);
  ASSERT_EQ(mbrl_plan_opt_create(&a.o, m.m, &cc, &oc), MBRL_OK);
  ASSERT_EQ(mbrl_plan_opt_create(&b.o, m.m, &cg, &oc), MBRL_OK) << mbrl_last_error();
  const uint64_t seeds[E] = {1, 2};
  mbrl_plan_result ra[E], rb[E];
  ASSERT_EQ(mbrl_plan_opt_plan(a.o, obs.data(), seeds, E, ra), MBRL_OK);
  ASSERT_EQ(mbrl_plan_opt_plan(b.o, obs.data(), seeds, E, rb), MBRL_OK) << mbrl_last_error();
  for (int e = 0; e < E; ++e) {
    std::vector<float> pa((size_t)2 * oc.population * D), pb(pa.size()), ca(2 * oc.population),
        cb(ca.size());
    int na = 0, nb = 0;
    ASSERT_EQ(mbrl_plan_opt_last_population(a.o, e, pa.data(), ca.data(), &na), MBRL_OK);
    ASSERT_EQ(mbrl_plan_opt_last_population(b.o, e, pb.data(), cb.data(), &nb), MBRL_OK);
    ASSERT_EQ(na, nb);
    EXPECT_EQ(0, std::memcmp(pa.data(), pb.data(), (size_t)na * D * sizeof(float)));
    EXPECT_LE(worst_ratio(cb.data(), ca.data(), (size_t)na, 2e-3, 1e-4), 1.0);
  }
}

TEST(PlanOptCuda, WholePlansAgreeWithTheCpu) {
  MBRL_REQUIRE_GPU();
  for (const char *id : {"Pendulum-v1", "CartPole-v1"}) {
    ModelPtr m;
    ASSERT_EQ(mbrl_plan_model_oracle(&m.m, id), MBRL_OK);
    for (mbrl_plan_opt_kind kind : {MBRL_PLAN_OPT_CEM, MBRL_PLAN_OPT_ICEM, MBRL_PLAN_OPT_MPPI})
      whole_plans(m.m, kind);
  }
}

// AUTO picks CUDA for a single model on a GPU machine (ensembles stay on the CPU: no particle
// rollout on the device yet; test_pets.cpp checks the refusal of an explicit CUDA backend).
TEST(PlanOptCuda, AutoPicksCudaForASingleModel) {
  MBRL_REQUIRE_GPU();
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_oracle(&m.m, "Pendulum-v1"), MBRL_OK);
  mbrl_plan_opt_config oc;
  mbrl_plan_opt_config_init(&oc, MBRL_PLAN_OPT_MPPI);
  OptPtr o;
  auto c = pcfg(10, 1, MBRL_BACKEND_AUTO);
  ASSERT_EQ(mbrl_plan_opt_create(&o.o, m.m, &c, &oc), MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(mbrl_planner_backend(mbrl_plan_opt_planner(o.o)), MBRL_BACKEND_CUDA);
}

TEST(PlanOptCudaCli, MpcRunsTheOptimizersOnTheGpu) {
  MBRL_REQUIRE_GPU();
  for (const char *p : {"cem", "icem", "mppi"}) {
    RunResult r = mbrl_test::run_bin("mbrl_mpc", std::string("--oracle --planner ") + p +
                                                     " --device cuda --population 100 "
                                                     "--opt-iterations 3 --horizon 15 "
                                                     "--episodes 1 --max-steps 20 --json");
    ASSERT_EQ(r.exit_code, 0) << p << ": " << r.err;
    EXPECT_TRUE(mbrl_test::has(r.out, "\"device\": \"cuda\"")) << r.out;
    EXPECT_EQ(mbrl_test::json_num(r.out, "env_steps"), 20) << r.out;
  }
}
