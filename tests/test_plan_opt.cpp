// tests/test_plan_opt.cpp - the planner optimizers (mbrl/plan_opt.h): CEM's and MPPI's update
// steps and iCEM's colored noise against PyTorch (tests/data/plan_opt_golden.h5, written by
// scripts/make_golden_cem.py) given the same noise and costs, the truncated-normal draws,
// convergence on a quadratic, mbrl_planner_evaluate_batch against the reference evaluate,
// determinism (seeds, thread count, E-batched == single), discrete envs, bad settings, and
// (PlanOptQualitySlow, Release ctest only) the oracle Pendulum-v1 bars over 50 episodes.
#include <omp.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "testing.h"

extern "C" {
#include "mbrl/env.h"
#include "mbrl/h5util.h"
#include "mbrl/plan_opt.h"
#include "mbrl/planner.h"
}

using mbrl_test::RunResult;
using mbrl_test::ModelPtr;
using mbrl_test::PlannerPtr;
using mbrl_test::OptPtr;

namespace {

struct Golden {
  hid_t f = -1;
  std::string path = std::string(MBRL_TEST_DATA_DIR) + "/plan_opt_golden.h5";
  // an h5py-written golden file (not an mbrl file: no seal), opened with HDF5 directly
  Golden() {
    f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    EXPECT_GE(f, 0) << "cannot open " << path;
  }
  ~Golden() {
    if (f >= 0) H5Fclose(f);
  }
  // dataset `name` (rank dims, any sizes) as floats; dims filled in
  std::vector<float> read(const char *name, int rank, hsize_t *dims) {
    for (int i = 0; i < rank; ++i) dims[i] = 0;
    EXPECT_EQ(mbrl_h5_check_f32(f, path.c_str(), name, rank, dims), MBRL_OK) << mbrl_last_error();
    size_t n = 1;
    for (int i = 0; i < rank; ++i) n *= dims[i];
    std::vector<float> v(n);
    EXPECT_EQ(mbrl_h5_read_f32(f, path.c_str(), name, v.data()), MBRL_OK) << mbrl_last_error();
    return v;
  }
  double attr(const char *group, const char *name) {
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    hid_t a = H5Aopen(g, name, H5P_DEFAULT);
    double v = NAN;
    H5Aread(a, H5T_NATIVE_DOUBLE, &v);
    H5Aclose(a);
    H5Gclose(g);
    return v;
  }
};

// max |a - b| / (atol + rtol |b|)
double worst(const float *a, const float *b, size_t n, double atol, double rtol) {
  double w = 0;
  for (size_t i = 0; i < n; ++i) {
    const double r = std::fabs((double)a[i] - b[i]) / (atol + rtol * std::fabs((double)b[i]));
    if (!(r <= w)) w = r;
  }
  return w;
}

float quad_cost(const float *x, const float *target, const float *weight, int D) {
  float c = 0;
  for (int d = 0; d < D; ++d) c += weight[d] * (x[d] - target[d]) * (x[d] - target[d]);
  return c;
}

mbrl_planner_config pcfg(int H, int E) {
  mbrl_planner_config c;
  mbrl_planner_config_init(&c);
  c.horizon = H;
  c.max_envs = E;
  c.backend = MBRL_BACKEND_CPU;
  return c;
}

}  // namespace

// ---------------------------------------------------------------- golden (PyTorch) updates

TEST(PlanOptGolden, CemSampleAndUpdateMatchPyTorch) {
  Golden g;
  hsize_t dz[4], dl[1], dm[3], dc[2], d2[2];
  auto z = g.read("cem/z", 4, dz);
  const int I = (int)dz[0], N = (int)dz[1], H = (int)dz[2], A = (int)dz[3], D = H * A;
  auto lo = g.read("cem/lo", 1, dl), hi = g.read("cem/hi", 1, dl);
  auto target = g.read("cem/target", 2, d2), weight = g.read("cem/weight", 2, d2);
  auto mu = g.read("cem/mu0", 2, d2), var = g.read("cem/var0", 2, d2);
  auto pop_want = g.read("cem/pop", 4, dz), costs = g.read("cem/costs", 2, dc);
  auto mu_want = g.read("cem/mu", 3, dm), var_want = g.read("cem/var", 3, dm);
  const int n_elite = (int)g.attr("cem", "n_elite");
  const float alpha = (float)g.attr("cem", "alpha");
  ASSERT_EQ(n_elite, 7);
  std::vector<float> pop((size_t)N * D);
  std::vector<uint64_t> order(N);
  for (int it = 0; it < I; ++it) {
    const size_t off = (size_t)it * N * D;
    mbrl_plan_opt_cem_sample(H, A, mu.data(), var.data(), lo.data(), hi.data(), N, z.data() + off,
                             pop.data());
    EXPECT_LE(worst(pop.data(), pop_want.data() + off, (size_t)N * D, 1e-6, 1e-5), 1.0)
        << "iteration " << it;
    for (int k = 0; k < N; ++k) {  // our cost of our samples agrees with torch's
      const float c = quad_cost(pop.data() + (size_t)k * D, target.data(), weight.data(), D);
      EXPECT_NEAR(c, costs[(size_t)it * N + k], 1e-4 + 1e-4 * std::fabs(c));
    }
    // the update from torch's costs (a rounding difference must not swap elites)
    const int best = mbrl_plan_opt_cem_update(H, A, N, pop.data(), costs.data() + (size_t)it * N,
                                              n_elite, alpha, 1, mu.data(), var.data(),
                                              order.data());
    int bw = 0;
    for (int k = 1; k < N; ++k)
      if (costs[(size_t)it * N + k] < costs[(size_t)it * N + bw]) bw = k;
    EXPECT_EQ(best, bw);
    EXPECT_LE(worst(mu.data(), mu_want.data() + (size_t)it * D, D, 1e-6, 1e-5), 1.0) << it;
    EXPECT_LE(worst(var.data(), var_want.data() + (size_t)it * D, D, 1e-7, 1e-4), 1.0) << it;
  }
}

TEST(PlanOptGolden, MppiSampleAndUpdateMatchPyTorch) {
  Golden g;
  hsize_t dz[4], dl[1], dm[3], dc[2], d2[2];
  auto z = g.read("mppi/z", 4, dz);
  const int I = (int)dz[0], N = (int)dz[1], H = (int)dz[2], A = (int)dz[3], D = H * A;
  auto lo = g.read("mppi/lo", 1, dl), hi = g.read("mppi/hi", 1, dl), past = g.read("mppi/past", 1, dl);
  auto target = g.read("mppi/target", 2, d2), weight = g.read("mppi/weight", 2, d2);
  auto mean = g.read("mppi/mean0", 2, d2);
  auto pop_want = g.read("mppi/pop", 4, dz), costs = g.read("mppi/costs", 2, dc);
  auto mean_want = g.read("mppi/mean", 3, dm);
  const float sigma = (float)g.attr("mppi", "sigma"), beta = (float)g.attr("mppi", "beta"),
              lambda = (float)g.attr("mppi", "lambda");
  std::vector<float> pop((size_t)N * D);
  for (int it = 0; it < I; ++it) {
    const size_t off = (size_t)it * N * D;
    mbrl_plan_opt_mppi_sample(H, A, mean.data(), past.data(), sigma, beta, lo.data(), hi.data(), N,
                              z.data() + off, pop.data());
    EXPECT_LE(worst(pop.data(), pop_want.data() + off, (size_t)N * D, 1e-6, 1e-5), 1.0) << it;
    mbrl_plan_opt_mppi_update(H, A, N, pop.data(), costs.data() + (size_t)it * N, lambda,
                              mean.data());
    EXPECT_LE(worst(mean.data(), mean_want.data() + (size_t)it * D, D, 1e-6, 1e-5), 1.0) << it;
  }
}

TEST(PlanOptGolden, ColoredNoiseMatchesTheFftRecipe) {
  Golden g;
  for (const char *grp : {"colored/30_2", "colored/7_1", "colored/8_2.5"}) {
    hsize_t dg[1], dy[1];
    auto gn = g.read((std::string(grp) + "/g").c_str(), 1, dg);
    auto y = g.read((std::string(grp) + "/y").c_str(), 1, dy);
    const int n = (int)dy[0];
    ASSERT_EQ((int)dg[0], 2 * (n / 2 + 1));
    std::vector<float> got(n);
    mbrl_plan_opt_colored(n, (float)g.attr(grp, "exponent"), gn.data(), got.data());
    EXPECT_LE(worst(got.data(), y.data(), n, 1e-5, 1e-5), 1.0) << grp;
  }
}

// ---------------------------------------------------------------- draws

TEST(PlanOptDraws, TruncatedNormalMomentsBoundsAndDeterminism) {
  const int n = 200000;
  std::vector<float> z(n), z2(n);
  mbrl_philox s, s2;
  mbrl_plan_opt_rng(&s, 1234, 0, 7);
  mbrl_plan_opt_truncnormal(&s, n, z.data());
  mbrl_plan_opt_rng(&s2, 1234, 0, 7);
  mbrl_plan_opt_truncnormal(&s2, n, z2.data());
  EXPECT_EQ(std::memcmp(z.data(), z2.data(), n * sizeof(float)), 0);
  double m = 0, v = 0;
  for (float x : z) {
    ASSERT_LE(std::fabs(x), 2.0f);
    m += x;
  }
  m /= n;
  for (float x : z) v += (x - m) * (x - m);
  v /= n;
  // N(0,1) truncated at +-2: variance 1 - 4 phi(2) / (2 Phi(2) - 1) = 0.7737
  EXPECT_NEAR(m, 0.0, 0.006);
  EXPECT_NEAR(v, 0.7737, 0.008);
  mbrl_plan_opt_rng(&s2, 1234, 1, 7);  // another iteration: another stream
  mbrl_plan_opt_truncnormal(&s2, 16, z2.data());
  EXPECT_NE(std::memcmp(z.data(), z2.data(), 16 * sizeof(float)), 0);
}

// ---------------------------------------------------------------- convergence on a quadratic

TEST(PlanOptQuadratic, CemAndMppiConvergeToTheMinimum) {
  const int H = 6, A = 2, D = H * A, N = 200;
  const float lo[2] = {-2, -1}, hi[2] = {2, 3};
  std::vector<float> target(D), weight(D, 1.0f), z((size_t)N * D), pop((size_t)N * D), costs(N);
  for (int d = 0; d < D; ++d) target[d] = d % A == 0 ? -1.5f + 0.5f * (d / A) : 2.5f - 0.3f * (d / A);
  std::vector<uint64_t> order(N);
  // CEM: mu -> target, var -> 0
  std::vector<float> mu(D), var(D);
  for (int d = 0; d < D; ++d) {
    mu[d] = 0.5f * (lo[d % A] + hi[d % A]);
    var[d] = (hi[d % A] - lo[d % A]) * (hi[d % A] - lo[d % A]) / 16;
  }
  for (int it = 0; it < 40; ++it) {
    for (int k = 0; k < N; ++k) {
      mbrl_philox s;
      mbrl_plan_opt_rng(&s, 99, it, (uint64_t)k);
      mbrl_plan_opt_truncnormal(&s, D, z.data() + (size_t)k * D);
    }
    mbrl_plan_opt_cem_sample(H, A, mu.data(), var.data(), lo, hi, N, z.data(), pop.data());
    for (int k = 0; k < N; ++k) costs[k] = quad_cost(pop.data() + (size_t)k * D, target.data(), weight.data(), D);
    mbrl_plan_opt_cem_update(H, A, N, pop.data(), costs.data(), 20, 0.1f, 1, mu.data(), var.data(),
                             order.data());
  }
  for (int d = 0; d < D; ++d) {
    EXPECT_NEAR(mu[d], target[d], 0.02) << d;
    EXPECT_LT(var[d], 1e-3) << d;
  }
  // MPPI (beta 1: no smoothing, shrinking sigma): mean -> target
  std::vector<float> mean(D, 0.0f), past(A, 0.0f);
  for (int it = 0; it < 40; ++it) {
    for (int k = 0; k < N; ++k) {
      mbrl_philox s;
      mbrl_plan_opt_rng(&s, 77, it, (uint64_t)k);
      mbrl_plan_opt_truncnormal(&s, D, z.data() + (size_t)k * D);
    }
    const float sigma = 0.5f * std::pow(0.9f, (float)it);
    mbrl_plan_opt_mppi_sample(H, A, mean.data(), past.data(), sigma, 1.0f, lo, hi, N, z.data(), pop.data());
    for (int k = 0; k < N; ++k) costs[k] = quad_cost(pop.data() + (size_t)k * D, target.data(), weight.data(), D);
    mbrl_plan_opt_mppi_update(H, A, N, pop.data(), costs.data(), 0.01f, mean.data());
  }
  for (int d = 0; d < D; ++d) EXPECT_NEAR(mean[d], target[d], 0.03) << d;
}

// ---------------------------------------------------------------- evaluate_batch

TEST(PlanOptEvaluateBatch, EqualsTheReferenceEvaluatePerEnvironment) {
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_oracle(&m.m, "Pendulum-v1"), MBRL_OK);
  const int E = 3, K = 37, H = 9;
  PlannerPtr p;
  auto c = pcfg(H, E);
  c.samples = 64;
  c.gamma = 0.95f;
  ASSERT_EQ(mbrl_planner_create(&p.p, m.m, &c), MBRL_OK);
  std::vector<float> obs(E * 3), acts((size_t)E * K * H), costs(E * K), s1((size_t)E * K * 3), ref(K);
  for (int e = 0; e < E; ++e) {
    const float th = 0.5f + 1.1f * e;
    obs[e * 3] = std::cos(th);
    obs[e * 3 + 1] = std::sin(th);
    obs[e * 3 + 2] = 0.3f * e - 0.2f;
  }
  for (size_t i = 0; i < acts.size(); ++i) acts[i] = -2.0f + 4.0f * (float)((i * 2654435761u) % 1000) / 999.0f;
  ASSERT_EQ(mbrl_planner_evaluate_batch(p.p, obs.data(), acts.data(), E, K, costs.data(), s1.data()),
            MBRL_OK) << mbrl_last_error();
  for (int e = 0; e < E; ++e) {
    ASSERT_EQ(mbrl_planner_evaluate(p.p, obs.data() + e * 3, acts.data() + (size_t)e * K * H, K, ref.data()),
              MBRL_OK);
    for (int k = 0; k < K; ++k) {
      EXPECT_EQ(costs[e * K + k], ref[k]) << e << " " << k;  // same kernel: same bits
      float nx[3];
      ASSERT_EQ(mbrl_plan_model_step(m.m, obs.data() + e * 3, acts.data() + ((size_t)e * K + k) * H, 1, nx), MBRL_OK);
      for (int i = 0; i < 3; ++i) EXPECT_NEAR(s1[((size_t)e * K + k) * 3 + i], nx[i], 1e-5);
    }
  }
  // a costs-only call (s1 NULL), and bad arguments
  ASSERT_EQ(mbrl_planner_evaluate_batch(p.p, obs.data(), acts.data(), 1, K, costs.data(), nullptr), MBRL_OK);
  ASSERT_EQ(mbrl_planner_evaluate(p.p, obs.data(), acts.data(), K, ref.data()), MBRL_OK);
  for (int k = 0; k < K; ++k) EXPECT_EQ(costs[k], ref[k]);
  EXPECT_EQ(mbrl_planner_evaluate_batch(p.p, obs.data(), acts.data(), 4, K, costs.data(), nullptr),
            MBRL_ERR_INVALID_ARG);
  EXPECT_TRUE(mbrl_test::has(mbrl_last_error(), "max_envs"));
  EXPECT_EQ(mbrl_planner_evaluate_batch(p.p, obs.data(), acts.data(), 1, 65, costs.data(), nullptr),
            MBRL_ERR_INVALID_ARG);
  EXPECT_EQ(mbrl_planner_evaluate_batch(p.p, obs.data(), nullptr, 1, 5, costs.data(), nullptr),
            MBRL_ERR_INVALID_ARG);
  obs[1] = NAN;
  EXPECT_EQ(mbrl_planner_evaluate_batch(p.p, obs.data(), acts.data(), 1, 5, costs.data(), nullptr),
            MBRL_ERR_NUMERIC);
}

// ---------------------------------------------------------------- the optimizers on an env

namespace {
// plans of E envs from fixed observations, `steps` times (warm state carried)
std::vector<mbrl_plan_result> run_plans(mbrl_plan_opt_kind kind, int E, int steps, int threads) {
  ModelPtr m;
  EXPECT_EQ(mbrl_plan_model_oracle(&m.m, "Pendulum-v1"), MBRL_OK);
  mbrl_plan_opt_config oc;
  mbrl_plan_opt_config_init(&oc, kind);
  oc.population = 60;
  oc.iterations = 3;
  auto c = pcfg(12, E);
  OptPtr o;
  EXPECT_EQ(mbrl_plan_opt_create(&o.o, m.m, &c, &oc), MBRL_OK) << mbrl_last_error();
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  std::vector<mbrl_plan_result> out;
  std::vector<float> obs(E * 3);
  std::vector<uint64_t> seeds(E);
  for (int t = 0; t < steps; ++t) {
    for (int e = 0; e < E; ++e) {
      const float th = 2.8f - 0.4f * e + 0.05f * t;
      obs[e * 3] = std::cos(th);
      obs[e * 3 + 1] = std::sin(th);
      obs[e * 3 + 2] = 0.1f * e;
      seeds[e] = mbrl_planner_seed(5 + e, 0, t);
    }
    std::vector<mbrl_plan_result> r(E);
    EXPECT_EQ(mbrl_plan_opt_plan(o.o, obs.data(), seeds.data(), E, r.data()), MBRL_OK) << mbrl_last_error();
    out.insert(out.end(), r.begin(), r.end());
  }
  omp_set_num_threads(saved);
  return out;
}
}  // namespace

TEST(PlanOptPendulum, DeterministicWhateverTheThreadsAndBatchedEqualsSingle) {
  for (auto kind : {MBRL_PLAN_OPT_CEM, MBRL_PLAN_OPT_ICEM, MBRL_PLAN_OPT_MPPI}) {
    auto a = run_plans(kind, 3, 3, 1), b = run_plans(kind, 3, 3, 2);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].action[0], b[i].action[0]) << mbrl_plan_opt_kind_name(kind) << " " << i;
      EXPECT_EQ(a[i].best_return, b[i].best_return);
      EXPECT_EQ(a[i].best_index, -1);
      EXPECT_GE(a[i].action[0], -2.0f);
      EXPECT_LE(a[i].action[0], 2.0f);
    }
    // env 0 of the batch equals env 0 planned alone (same observations, seeds, warm state)
    auto s = run_plans(kind, 1, 3, 1);
    for (int t = 0; t < 3; ++t) EXPECT_EQ(s[t].action[0], a[(size_t)t * 3].action[0]) << t;
  }
}

TEST(PlanOptPendulum, ResultIsTheReturnedSequencesCostAndWarmStartShifts) {
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_oracle(&m.m, "Pendulum-v1"), MBRL_OK);
  mbrl_plan_opt_config oc;
  mbrl_plan_opt_config_init(&oc, MBRL_PLAN_OPT_CEM);
  oc.population = 100;
  auto c = pcfg(10, 1);
  OptPtr o;
  ASSERT_EQ(mbrl_plan_opt_create(&o.o, m.m, &c, &oc), MBRL_OK);
  const float obs[3] = {-1.0f, 0.05f, 0.0f};  // hanging down
  uint64_t seed = 42;
  mbrl_plan_result r;
  ASSERT_EQ(mbrl_plan_opt_plan(o.o, obs, &seed, 1, &r), MBRL_OK);
  std::vector<float> seq(10), cost(1);
  ASSERT_EQ(mbrl_plan_opt_last_sequence(o.o, 0, seq.data()), MBRL_OK);
  EXPECT_EQ(r.action[0], seq[0]);
  PlannerPtr p;
  auto pc = pcfg(10, 1);
  ASSERT_EQ(mbrl_planner_create(&p.p, m.m, &pc), MBRL_OK);
  ASSERT_EQ(mbrl_planner_evaluate(p.p, obs, seq.data(), 1, cost.data()), MBRL_OK);
  EXPECT_EQ(r.best_return, -cost[0]);
  // the plan beats the all-zeros sequence from this start
  std::vector<float> zeros(10, 0.0f);
  float c0;
  ASSERT_EQ(mbrl_planner_evaluate(p.p, obs, zeros.data(), 1, &c0), MBRL_OK);
  EXPECT_LT(-r.best_return, c0);
  // same seed again: the warm start changes the plan; after a reset it repeats exactly
  mbrl_plan_result r2, r3;
  ASSERT_EQ(mbrl_plan_opt_plan(o.o, obs, &seed, 1, &r2), MBRL_OK);
  mbrl_plan_opt_reset(o.o, -1);
  ASSERT_EQ(mbrl_plan_opt_plan(o.o, obs, &seed, 1, &r3), MBRL_OK);
  EXPECT_EQ(r3.action[0], r.action[0]);
  EXPECT_EQ(r3.best_return, r.best_return);
  EXPECT_NE(r2.best_return, r.best_return);
}

TEST(PlanOptEnvs, DiscreteCartPoleActsWithIndicesAndBalances) {
  for (auto kind : {MBRL_PLAN_OPT_CEM, MBRL_PLAN_OPT_MPPI}) {
    ModelPtr m;
    ASSERT_EQ(mbrl_plan_model_oracle(&m.m, "CartPole-v1"), MBRL_OK);
    mbrl_plan_opt_config oc;
    mbrl_plan_opt_config_init(&oc, kind);
    oc.population = 50;
    oc.iterations = 2;
    auto c = pcfg(15, 1);
    OptPtr o;
    ASSERT_EQ(mbrl_plan_opt_create(&o.o, m.m, &c, &oc), MBRL_OK) << mbrl_last_error();
    mbrl_env env;
    ASSERT_EQ(mbrl_env_init(&env, "CartPole-v1", 3, 0), MBRL_OK);
    float ob[MBRL_MAX_DIM], nx[MBRL_MAX_DIM];
    mbrl_env_reset(&env, ob);
    int steps = 0;
    for (; steps < 150; ++steps) {
      uint64_t ps = mbrl_planner_seed(3, 0, steps);
      mbrl_plan_result r;
      ASSERT_EQ(mbrl_plan_opt_plan(o.o, ob, &ps, 1, &r), MBRL_OK);
      ASSERT_TRUE(r.action[0] == 0.0f || r.action[0] == 1.0f) << r.action[0];
      float rew;
      int term, trunc;
      mbrl_env_step(&env, r.action, nx, &rew, &term, &trunc);
      std::memcpy(ob, nx, sizeof ob);
      if (term) break;
    }
    EXPECT_EQ(steps, 150) << mbrl_plan_opt_kind_name(kind) << " dropped the pole";
  }
}

// ---------------------------------------------------------------- bad settings

TEST(PlanOptCreate, RefusesBadSettingsNamingThem) {
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_oracle(&m.m, "Pendulum-v1"), MBRL_OK);
  auto c = pcfg(10, 1);
  struct Case {
    mbrl_plan_opt_kind kind;
    void (*set)(mbrl_plan_opt_config *);
    const char *msg;
  } cases[] = {
      {MBRL_PLAN_OPT_CEM, [](mbrl_plan_opt_config *o) { o->population = 0; }, "population 0"},
      {MBRL_PLAN_OPT_CEM, [](mbrl_plan_opt_config *o) { o->population = 10; }, "at least 2"},
      {MBRL_PLAN_OPT_CEM, [](mbrl_plan_opt_config *o) { o->alpha = 1.0f; }, "alpha 1"},
      {MBRL_PLAN_OPT_CEM, [](mbrl_plan_opt_config *o) { o->iterations = 0; }, "iterations 0"},
      {MBRL_PLAN_OPT_ICEM, [](mbrl_plan_opt_config *o) { o->pop_decay = 0.5f; }, "decay 0.5"},
      {MBRL_PLAN_OPT_MPPI, [](mbrl_plan_opt_config *o) { o->lambda = 0.0f; }, "lambda 0"},
      {MBRL_PLAN_OPT_MPPI, [](mbrl_plan_opt_config *o) { o->beta = NAN; }, "beta nan"},
  };
  for (const auto &cs : cases) {
    mbrl_plan_opt_config oc;
    mbrl_plan_opt_config_init(&oc, cs.kind);
    cs.set(&oc);
    OptPtr o;
    EXPECT_EQ(mbrl_plan_opt_create(&o.o, m.m, &c, &oc), MBRL_ERR_INVALID_ARG) << cs.msg;
    EXPECT_TRUE(mbrl_test::has(mbrl_last_error(), cs.msg)) << mbrl_last_error();
    EXPECT_EQ(o.o, nullptr);
  }
  mbrl_plan_opt_config oc;
  mbrl_plan_opt_config_init(&oc, MBRL_PLAN_OPT_CEM);
  OptPtr o;
  ASSERT_EQ(mbrl_plan_opt_create(&o.o, m.m, &c, &oc), MBRL_OK);
  mbrl_plan_result r[2];
  const float obs[6] = {1, 0, 0, 1, 0, 0};
  const uint64_t seeds[2] = {1, 2};
  EXPECT_EQ(mbrl_plan_opt_plan(o.o, obs, seeds, 2, r), MBRL_ERR_INVALID_ARG);
  EXPECT_TRUE(mbrl_test::has(mbrl_last_error(), "max_envs"));
  const float bad[3] = {1, NAN, 0};
  EXPECT_EQ(mbrl_plan_opt_plan(o.o, bad, seeds, 1, r), MBRL_ERR_NUMERIC);
  float seq[10];
  EXPECT_EQ(mbrl_plan_opt_last_sequence(o.o, 0, seq), MBRL_ERR_INVALID_ARG);  // no plan yet
}

// The population of the last iteration is what the sampler made: CEM rows are
// mbrl_plan_opt_cem_entry(mid, var0, z) and MPPI rows mbrl_plan_opt_mppi_row(mid, mid, z) of the
// truncated normals z of the rows' streams (the per-element functions the CUDA sampler shares),
// the costs are evaluate_batch's of the (rounded) rows, and the result is the update's. The
// CUDA twin is checked against the same numbers in test_plan_opt_cuda.cpp.
TEST(PlanOptPopulation, LastPopulationIsTheSampledOneAndTheUpdateItsResult) {
  for (const char *id : {"Pendulum-v1", "CartPole-v1"}) {
    ModelPtr m;
    ASSERT_EQ(mbrl_plan_model_oracle(&m.m, id), MBRL_OK);
    const int H = 7, E = 2, A = m.m->act_dim, D = H * A, n_act = m.m->n_actions;
    for (mbrl_plan_opt_kind kind : {MBRL_PLAN_OPT_CEM, MBRL_PLAN_OPT_MPPI}) {
      SCOPED_TRACE(std::string(id) + " " + mbrl_plan_opt_kind_name(kind));
      mbrl_plan_opt_config oc;
      mbrl_plan_opt_config_init(&oc, kind);
      oc.population = 60;
      oc.iterations = 1;
      OptPtr o;
      auto c = pcfg(H, E);
      ASSERT_EQ(mbrl_plan_opt_create(&o.o, m.m, &c, &oc), MBRL_OK) << mbrl_last_error();
      const float obs[2 * MBRL_MAX_DIM] = {0.1f, -0.2f, 0.03f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f};
      std::vector<float> obs2((size_t)E * m.m->obs_dim);
      for (size_t i = 0; i < obs2.size(); ++i) obs2[i] = obs[i % 8] * (id[0] == 'P' ? 1.0f : 0.1f);
      if (id[0] == 'P')  // a valid (cos, sin, thdot) per env
        for (int e = 0; e < E; ++e) {
          obs2[e * 3] = std::cos(1.0f + e);
          obs2[e * 3 + 1] = std::sin(1.0f + e);
        }
      const uint64_t seeds[E] = {42, 43};
      mbrl_plan_result r[E];
      ASSERT_EQ(mbrl_plan_opt_plan(o.o, obs2.data(), seeds, E, r), MBRL_OK);
      float lo[MBRL_MAX_DIM], hi[MBRL_MAX_DIM], mid[MBRL_MAX_DIM];
      for (int j = 0; j < A; ++j) {
        lo[j] = n_act > 0 ? -0.5f : m.m->act_low[j];
        hi[j] = n_act > 0 ? (float)n_act - 0.5f : m.m->act_high[j];
        mid[j] = 0.5f * (lo[j] + hi[j]);
      }
      for (int e = 0; e < E; ++e) {
        std::vector<float> pop((size_t)oc.population * D), cost(oc.population), want(D),
            mu(D), var(D), rounded(pop.size()), ref(oc.population), seq(D);
        int n = 0;
        ASSERT_EQ(mbrl_plan_opt_last_population(o.o, e, pop.data(), cost.data(), &n), MBRL_OK);
        ASSERT_EQ(n, oc.population);
        for (int d = 0; d < D; ++d) {
          mu[d] = mid[d % A];
          var[d] = (hi[d % A] - lo[d % A]) * (hi[d % A] - lo[d % A]) / 16.0f;
        }
        for (int k = 0; k < n; ++k) {
          mbrl_philox s;
          mbrl_plan_opt_rng(&s, seeds[e], 0, (uint64_t)k);
          mbrl_plan_opt_truncnormal(&s, D, want.data());
          if (kind == MBRL_PLAN_OPT_CEM)
            for (int d = 0; d < D; ++d)
              want[d] = mbrl_plan_opt_cem_entry(mu[d], var[d], lo[d % A], hi[d % A], want[d]);
          else
            mbrl_plan_opt_mppi_row(H, A, mu.data(), mid, oc.sigma, oc.beta, lo, hi, want.data(),
                                   want.data());
          EXPECT_EQ(0, std::memcmp(want.data(), &pop[(size_t)k * D], D * sizeof(float))) << k;
        }
        for (size_t i = 0; i < pop.size(); ++i)
          rounded[i] = n_act > 0 ? mbrl_plan_opt_round_index(pop[i], n_act) : pop[i];
        PlannerPtr p;
        auto pc = pcfg(H, 1);
        pc.samples = n;
        ASSERT_EQ(mbrl_planner_create(&p.p, m.m, &pc), MBRL_OK);
        ASSERT_EQ(mbrl_planner_evaluate_batch(p.p, &obs2[(size_t)e * m.m->obs_dim], rounded.data(),
                                              1, n, ref.data(), nullptr), MBRL_OK);
        EXPECT_EQ(0, std::memcmp(ref.data(), cost.data(), n * sizeof(float)));
        if (kind == MBRL_PLAN_OPT_CEM) {
          std::vector<uint64_t> order(n);
          mbrl_plan_opt_cem_update(H, A, n, pop.data(), cost.data(), 6, oc.alpha, 1, mu.data(),
                                   var.data(), order.data());
        } else {
          mbrl_plan_opt_mppi_update(H, A, n, pop.data(), cost.data(), oc.lambda, mu.data());
        }
        ASSERT_EQ(mbrl_plan_opt_last_sequence(o.o, e, seq.data()), MBRL_OK);
        EXPECT_EQ(0, std::memcmp(seq.data(), mu.data(), D * sizeof(float)));
      }
      int n = 0;
      EXPECT_EQ(mbrl_plan_opt_last_population(o.o, E, nullptr, nullptr, &n), MBRL_ERR_INVALID_ARG);
    }
  }
}

// A CUDA optimizer is made on a GPU machine (its CPU-vs-CUDA checks: test_plan_opt_cuda.cpp).
TEST(PlanOptCuda, CudaBackendIsAccepted) {
  MBRL_REQUIRE_GPU();
  ModelPtr m;
  ASSERT_EQ(mbrl_plan_model_oracle(&m.m, "Pendulum-v1"), MBRL_OK);
  auto c = pcfg(10, 1);
  c.backend = MBRL_BACKEND_CUDA;
  mbrl_plan_opt_config oc;
  mbrl_plan_opt_config_init(&oc, MBRL_PLAN_OPT_CEM);
  OptPtr o;
  ASSERT_EQ(mbrl_plan_opt_create(&o.o, m.m, &c, &oc), MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(mbrl_planner_backend(mbrl_plan_opt_planner(o.o)), MBRL_BACKEND_CUDA);
  mbrl_plan_result r;
  const float obs[3] = {1, 0, 0};
  const uint64_t seed = 9;
  ASSERT_EQ(mbrl_plan_opt_plan(o.o, obs, &seed, 1, &r), MBRL_OK) << mbrl_last_error();
  EXPECT_TRUE(std::isfinite(r.action[0]) && std::fabs(r.action[0]) <= 2.0f);
}

// ---------------------------------------------------------------- mbrl_mpc --planner

TEST(PlanOptCli, PlannerFlagsRunAndBadOnesAreUsageErrors) {
  RunResult r = mbrl_test::run_bin("mbrl_mpc", "--oracle --planner cem --population 40 --opt-iterations 2 "
                                               "--horizon 8 --episodes 1 --max-steps 5 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(mbrl_test::has(r.out, "\"planner\": {\"planner\": \"cem\", \"population\": 40"));
  r = mbrl_test::run_bin("mbrl_mpc", "--oracle --planner mppi --population 30 --episodes 1 --max-steps 3 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(mbrl_test::has(r.out, "\"planner\": \"mppi\""));
  EXPECT_EQ(mbrl_test::json_num(r.out, "horizon"), 20) << r.out;  // MPPI's default horizon
  EXPECT_EQ(mbrl_plan_opt_default_horizon(MBRL_PLAN_OPT_MPPI), 20);
  EXPECT_EQ(mbrl_plan_opt_default_horizon(MBRL_PLAN_OPT_CEM), 30);
  EXPECT_EQ(mbrl_plan_opt_default_horizon(MBRL_PLAN_OPT_ICEM), 30);
  EXPECT_EQ(mbrl_plan_opt_default_horizon((mbrl_plan_opt_kind)99), 0);
  r = mbrl_test::run_bin("mbrl_mpc", "--oracle --planner cem --population 10 --episodes 1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(mbrl_test::has(r.err, "at least 2")) << r.err;
  r = mbrl_test::run_bin("mbrl_mpc", "--oracle --lambda 2 --episodes 1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(mbrl_test::has(r.err, "need --planner")) << r.err;
  r = mbrl_test::run_bin("mbrl_mpc", "--oracle --planner bogus");
  EXPECT_EQ(r.exit_code, 2);
}

// ---------------------------------------------------------------- quality (Release only)

namespace {
double oracle_mean(const std::string &planner) {
  RunResult r = mbrl_test::run_bin("mbrl_mpc", "--oracle --planner " + planner +
                                                   " --episodes 50 --seed 0 --device cpu --json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(mbrl_test::json_arr(r.out, "returns").size(), 50u);
  return mbrl_test::json_num(r.out, "mean_return");
}
}  // namespace

// Issue 11's bars on Gymnasium's reset seeds 0..49 with the true dynamics (defaults of
// mbrl/plan_opt.h: CEM H 30, MPPI H 20). About 20 s each on one core.
TEST(PlanOptQualitySlow, OracleCemReachesMinus145) {
  const double m = oracle_mean("cem");
  std::cout << "oracle CEM mean return over 50 episodes: " << m << "\n";
  EXPECT_GE(m, -145.0);
}

TEST(PlanOptQualitySlow, OracleMppiReachesMinus140) {
  const double m = oracle_mean("mppi");
  std::cout << "oracle MPPI mean return over 50 episodes: " << m << "\n";
  EXPECT_GE(m, -140.0);
}
