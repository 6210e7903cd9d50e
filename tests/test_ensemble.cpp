// tests/test_ensemble.cpp - the M-policy ensemble: aggregation and contribution against
// hand-computed cases, sampling frequencies, ranking, the evolution step (the best model and
// every survivor bit for bit, children = parent + noise, crossover), the trainer-level
// evolution (contributions and optimizer state reset), batched forward == M single forwards,
// and the CUDA path against the CPU when a GPU is present.
#include <cmath>
#include <cstring>
#include <vector>

#include "testing.h"

extern "C" {
#include "mbrl/a2c.h"
#include "mbrl/ensemble.h"
#include "mbrl/mlp.h"
#include "mbrl/philox.h"
}
#include "host/mlp_cuda.h"

TEST(EnsembleAggregate, NormalizedSumOfProbabilities) {
  // M = 2, B = 2, A = 2
  const float probs[8] = {0.2f, 0.8f, 0.5f, 0.5f,   // model 0: env 0, env 1
                          0.6f, 0.4f, 0.9f, 0.1f};  // model 1
  float agg[4];
  mbrl_ensemble_aggregate(agg, probs, 2, 2, 2);
  EXPECT_FLOAT_EQ(agg[0], 0.4f);  // (0.2 + 0.6) / 2
  EXPECT_FLOAT_EQ(agg[1], 0.6f);
  EXPECT_FLOAT_EQ(agg[2], 0.7f);
  EXPECT_FLOAT_EQ(agg[3], 0.3f);
  int act[2];
  mbrl_ensemble_select(act, agg, 2, 2, 1, nullptr);
  EXPECT_EQ(act[0], 1);
  EXPECT_EQ(act[1], 0);
  // contributions: env 0 took a = 1: 0.8/1.2, 0.4/1.2; env 1 took a = 0: 0.5/1.4, 0.9/1.4
  double c[2] = {0, 0};
  mbrl_ensemble_contribution(c, probs, act, 2, 2, 2);
  EXPECT_NEAR(c[0], 0.8 / 1.2 + 0.5 / 1.4, 1e-6);
  EXPECT_NEAR(c[1], 0.4 / 1.2 + 0.9 / 1.4, 1e-6);
  EXPECT_NEAR(c[0] + c[1], 2.0, 1e-9);  // one per decision
  // accumulates
  mbrl_ensemble_contribution(c, probs, act, 2, 2, 2);
  EXPECT_NEAR(c[0], 2 * (0.8 / 1.2 + 0.5 / 1.4), 1e-6);
}

TEST(EnsembleAggregate, ThreeActionsAndAZeroProbabilityAction) {
  const float probs[6] = {0.5f, 0.5f, 0.0f, 0.25f, 0.75f, 0.0f};  // M = 2, B = 1, A = 3
  float agg[3];
  mbrl_ensemble_aggregate(agg, probs, 2, 1, 3);
  EXPECT_FLOAT_EQ(agg[0], 0.375f);
  EXPECT_FLOAT_EQ(agg[1], 0.625f);
  EXPECT_FLOAT_EQ(agg[2], 0.0f);
  const int a = 2;  // an action nobody proposes: split evenly
  double c[2] = {0, 0};
  mbrl_ensemble_contribution(c, probs, &a, 2, 1, 3);
  EXPECT_EQ(c[0], 0.5);
  EXPECT_EQ(c[1], 0.5);
}

TEST(EnsembleSelect, SamplesFollowTheAggregate) {
  const int B = 200000;
  std::vector<float> agg(B * 3);
  for (int b = 0; b < B; ++b) {
    agg[b * 3 + 0] = 0.2f;
    agg[b * 3 + 1] = 0.5f;
    agg[b * 3 + 2] = 0.3f;
  }
  std::vector<int> act(B);
  mbrl_philox rng;
  mbrl_philox_init(&rng, 1, 0, 0);
  mbrl_ensemble_select(act.data(), agg.data(), B, 3, 0, &rng);
  int n[3] = {0, 0, 0};
  for (int a : act) n[a]++;
  EXPECT_NEAR(n[0] / (double)B, 0.2, 0.005);
  EXPECT_NEAR(n[1] / (double)B, 0.5, 0.005);
  EXPECT_NEAR(n[2] / (double)B, 0.3, 0.005);
}

TEST(EnsembleRank, HighestFirstTiesByIndex) {
  const double c[5] = {1.0, 3.0, 2.0, 3.0, 0.5};
  int order[5];
  mbrl_ensemble_rank(order, c, 5);
  const int want[5] = {1, 3, 2, 0, 4};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(order[i], want[i]) << i;
}

namespace {

std::vector<float> random_vecs(int M, size_t S, uint64_t seed) {
  std::vector<float> v((size_t)M * S);
  mbrl_philox r;
  mbrl_philox_init(&r, seed, 0, 0);
  for (auto &x : v) x = mbrl_philox_range_float(&r, -1, 1);
  return v;
}

}  // namespace

TEST(EnsembleEvolve, BestAndSurvivorsKeptBitForBitChildrenAreNoisyParents) {
  const int M = 8;
  const size_t S = 5000;
  auto v = random_vecs(M, S, 3);
  const auto orig = v;
  const double contrib[M] = {5, 9, 1, 7, 0.5, 3, 2, 8};  // ranking: 1 7 3 0 5 6 2 4
  mbrl_evolve_config c;
  mbrl_evolve_config_init(&c);  // frac 0.25 -> 2 rebuilt
  c.mutation_std = 0.05f;
  mbrl_philox rng;
  mbrl_philox_init(&rng, 7, 0, 0);
  int rebuilt[M], parent[M];
  ASSERT_EQ(mbrl_ensemble_evolve_vectors(v.data(), S, contrib, M, &c, &rng, rebuilt, parent), 2);
  // the two lowest (4, then 2) are rebuilt from the two best (1, then 7)
  for (int i = 0; i < M; ++i) EXPECT_EQ(rebuilt[i], i == 4 || i == 2) << i;
  EXPECT_EQ(parent[4], 1);
  EXPECT_EQ(parent[2], 7);
  for (int i = 0; i < M; ++i) {
    if (rebuilt[i]) continue;
    EXPECT_EQ(0, std::memcmp(&v[i * S], &orig[i * S], S * sizeof(float))) << "model " << i;
  }
  for (int child : {4, 2}) {
    const int p = parent[child];
    double s = 0, s2 = 0;
    for (size_t j = 0; j < S; ++j) {
      const double d = (double)v[child * S + j] - orig[p * S + j];
      s += d;
      s2 += d * d;
    }
    EXPECT_NEAR(s / S, 0.0, 0.005);
    EXPECT_NEAR(std::sqrt(s2 / S), 0.05, 0.003);
  }
  // without noise a child is an exact copy
  v = orig;
  c.mutation_std = 0.0f;
  ASSERT_EQ(mbrl_ensemble_evolve_vectors(v.data(), S, contrib, M, &c, &rng, rebuilt, parent), 2);
  EXPECT_EQ(0, std::memcmp(&v[4 * S], &orig[1 * S], S * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(&v[2 * S], &orig[7 * S], S * sizeof(float)));
}

TEST(EnsembleEvolve, CrossoverMixesTwoSurvivors) {
  const int M = 4;
  const size_t S = 4000;
  auto v = random_vecs(M, S, 5);
  const auto orig = v;
  const double contrib[M] = {4, 3, 2, 1};
  mbrl_evolve_config c;
  mbrl_evolve_config_init(&c);  // 1 rebuilt: model 3 from model 0
  c.mutation_std = 0.0f;
  c.crossover = 1;
  mbrl_philox rng;
  mbrl_philox_init(&rng, 8, 0, 0);
  int parent[M];
  ASSERT_EQ(mbrl_ensemble_evolve_vectors(v.data(), S, contrib, M, &c, &rng, nullptr, parent), 1);
  ASSERT_EQ(parent[3], 0);
  int from0 = 0, from_other = 0, other = -1;
  for (size_t j = 0; j < S; ++j) {
    const float x = v[3 * S + j];
    if (x == orig[0 * S + j]) {
      from0++;
      continue;
    }
    for (int p : {1, 2})
      if (x == orig[p * S + j]) {
        if (other < 0) other = p;
        EXPECT_EQ(p, other) << "element " << j << " from a third parent";
        from_other++;
      }
  }
  EXPECT_EQ(from0 + from_other, (int)S);  // every element from one of the two parents
  EXPECT_NEAR(from0 / (double)S, 0.5, 0.05);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(0, std::memcmp(&v[i * S], &orig[i * S], S * sizeof(float)));
}

TEST(EnsembleEvolve, RebuildCountsAndBadConfig) {
  mbrl_evolve_config c;
  mbrl_evolve_config_init(&c);
  EXPECT_EQ(mbrl_ensemble_n_rebuild(&c, 20), 5);
  c.frac = 0.9;
  EXPECT_EQ(mbrl_ensemble_n_rebuild(&c, 20), 18);
  EXPECT_EQ(mbrl_ensemble_n_rebuild(&c, 2), 1);  // never the whole ensemble
  // more children than survivors: parents cycle over the 2 survivors, which stay intact
  const int M = 20;
  auto v = random_vecs(M, 16, 1);
  const auto orig = v;
  std::vector<double> contrib(M);
  for (int i = 0; i < M; ++i) contrib[i] = i;  // best is 19, then 18
  mbrl_philox rng;
  mbrl_philox_init(&rng, 1, 0, 0);
  int parent[M];
  ASSERT_EQ(mbrl_ensemble_evolve_vectors(v.data(), 16, contrib.data(), M, &c, &rng, nullptr, parent), 18);
  for (int i = 0; i < 18; ++i) EXPECT_TRUE(parent[i] == 19 || parent[i] == 18) << i;
  EXPECT_EQ(0, std::memcmp(&v[19 * 16], &orig[19 * 16], 16 * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(&v[18 * 16], &orig[18 * 16], 16 * sizeof(float)));
  c.frac = 1.5;
  EXPECT_EQ(mbrl_ensemble_evolve_vectors(v.data(), 16, contrib.data(), M, &c, &rng, nullptr, nullptr), -1);
  EXPECT_NE(std::string(mbrl_last_error()).find("frac"), std::string::npos);
}

namespace {

mbrl_a2c *make(int M, uint64_t seed, mbrl_backend be = MBRL_BACKEND_CPU) {
  mbrl_a2c_config c;
  mbrl_a2c_config_init(&c, MBRL_A2C_ALGO_A2C);
  c.seed = seed;
  mbrl_a2c *a = nullptr;
  EXPECT_EQ(mbrl_a2c_create(&a, &c, "CartPole-v1", M, be), MBRL_OK) << mbrl_last_error();
  return a;
}

std::vector<float> state(const mbrl_a2c *a, int i) {
  std::vector<float> s(mbrl_a2c_state_size(a));
  EXPECT_EQ(mbrl_a2c_get_state(a, i, s.data()), MBRL_OK);
  return s;
}

}  // namespace

TEST(EnsembleTrainer, ModelsDifferContributionsSumToDecisions) {
  mbrl_a2c *a = make(5, 2);
  ASSERT_TRUE(a);
  EXPECT_NE(state(a, 0), state(a, 1));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(mbrl_a2c_iterate(a, nullptr), MBRL_OK);
  double s = 0;
  for (int i = 0; i < 5; ++i) {
    EXPECT_GT(a->contribution[i], 0.0);
    s += a->contribution[i];
  }
  EXPECT_NEAR(s, 3.0 * 40, 1e-6);
  mbrl_a2c_free(a);
}

TEST(EnsembleTrainer, EvolveKeepsTheBestAndResetsContributionsAndOptimizers) {
  const int M = 6;
  mbrl_a2c *a = make(M, 3);
  ASSERT_TRUE(a);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(mbrl_a2c_iterate(a, nullptr), MBRL_OK);
  std::vector<std::vector<float>> before;
  for (int i = 0; i < M; ++i) before.push_back(state(a, i));
  int order[M];
  mbrl_ensemble_rank(order, a->contribution, M);
  mbrl_evolve_config c;
  mbrl_evolve_config_init(&c);  // 2 of 6 (round(1.5) = 2)
  mbrl_philox rng;
  mbrl_philox_init(&rng, 4, 0, 0);
  int rebuilt[M], n = 0;
  ASSERT_EQ(mbrl_ensemble_evolve(a, &c, &rng, rebuilt, &n), MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(n, 2);
  EXPECT_EQ(rebuilt[order[M - 1]], 1);
  EXPECT_EQ(rebuilt[order[M - 2]], 1);
  EXPECT_EQ(state(a, order[0]), before[order[0]]);  // the best, bit for bit
  for (int i = 0; i < M; ++i) {
    EXPECT_EQ(a->contribution[i], 0.0);
    if (!rebuilt[i]) {
      EXPECT_EQ(state(a, i), before[i]) << i;
      EXPECT_EQ(a->models[i].actor_opt->step, 10);
      continue;
    }
    EXPECT_NE(state(a, i), before[i]);
    const mbrl_optim *o = a->models[i].actor_opt;
    EXPECT_EQ(o->step, 0);
    for (size_t k = 0; k < o->n; ++k) ASSERT_EQ(o->m[k], 0.0f);
    EXPECT_EQ(a->models[i].critic_opt->step, 0);
  }
  EXPECT_EQ(a->training_enabled, 1);
  // a single model cannot evolve
  mbrl_a2c *one = make(1, 3);
  EXPECT_EQ(mbrl_ensemble_evolve(one, &c, &rng, nullptr, nullptr), MBRL_ERR_INVALID_ARG);
  mbrl_a2c_free(one);
  mbrl_a2c_free(a);
}

TEST(EnsembleTrainer, BatchedForwardEqualsSingleForwards) {
  const int M = 5, n = 7;
  mbrl_a2c *a = make(M, 6);
  ASSERT_TRUE(a);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(mbrl_a2c_iterate(a, nullptr), MBRL_OK);
  std::vector<float> obs(n * 4);
  mbrl_philox r;
  mbrl_philox_init(&r, 2, 0, 0);
  for (auto &x : obs) x = mbrl_philox_range_float(&r, -0.5f, 0.5f);
  std::vector<float> probs(M * n * 2), agg(n * 2);
  ASSERT_EQ(mbrl_a2c_policy(a, obs.data(), n, probs.data(), agg.data()), MBRL_OK);
  std::vector<float> sum(n * 2, 0.0f);
  for (int i = 0; i < M; ++i) {
    std::vector<float> z(n * 2), p(n * 2);
    ASSERT_EQ(mbrl_mlp_forward(a->models[i].actor, obs.data(), n, z.data(), 0), MBRL_OK);
    mbrl_a2c_softmax(p.data(), nullptr, z.data(), n, 2);
    EXPECT_EQ(0, std::memcmp(p.data(), &probs[(size_t)i * n * 2], p.size() * sizeof(float))) << i;
  }
  std::vector<float> agg2(n * 2);
  mbrl_ensemble_aggregate(agg2.data(), probs.data(), M, n, 2);
  EXPECT_EQ(agg, agg2);
  mbrl_a2c_free(a);
}

// What the update relies on: after mbrl_mlp_forward_many every mlp's backward differentiates
// its own part of that forward, as after a single mbrl_mlp_forward.
static void check_backward_after_forward_many(mbrl_backend be) {
  const int M = 3, n = 10, O = 4;
  const int sizes[4] = {O, 64, 64, 2};
  mbrl_mlp_config c;
  mbrl_mlp_config_init(&c, 3, sizes);
  c.activation = MBRL_ACT_TANH;
  mbrl_mlp *many[M], *single[M];
  for (int i = 0; i < M; ++i) {
    c.seed = 100 + i;
    ASSERT_EQ(mbrl_mlp_create(&many[i], &c, be, n), MBRL_OK) << mbrl_last_error();
    ASSERT_EQ(mbrl_mlp_create(&single[i], &c, MBRL_BACKEND_CPU, n), MBRL_OK);
  }
  std::vector<float> x(n * O), dy(M * n * 2);
  mbrl_philox r;
  mbrl_philox_init(&r, 3, 0, 0);
  for (auto &e : x) e = mbrl_philox_range_float(&r, -1, 1);
  for (auto &e : dy) e = mbrl_philox_range_float(&r, -1, 1);
  float *dyd = nullptr;
  std::vector<float> y(M * n * 2);
  const float *xin = x.data();
  float *yout = y.data();
#ifdef MBRL_HAVE_CUDA
  float *dx = nullptr, *dout = nullptr;
  if (be == MBRL_BACKEND_CUDA) {
    ASSERT_EQ(mbrl_mlp_cuda_alloc((void **)&dx, x.size() * 4), MBRL_OK);
    ASSERT_EQ(mbrl_mlp_cuda_alloc((void **)&dyd, dy.size() * 4), MBRL_OK);
    ASSERT_EQ(mbrl_mlp_cuda_alloc((void **)&dout, y.size() * 4), MBRL_OK);
    ASSERT_EQ(mbrl_mlp_cuda_copy(dx, x.data(), x.size() * 4, 1), MBRL_OK);
    ASSERT_EQ(mbrl_mlp_cuda_copy(dyd, dy.data(), dy.size() * 4, 1), MBRL_OK);
    xin = dx;
    yout = dout;
  }
#endif
  ASSERT_EQ(mbrl_mlp_forward_many(many, M, xin, n, yout, 1), MBRL_OK) << mbrl_last_error();
#ifdef MBRL_HAVE_CUDA
  if (be == MBRL_BACKEND_CUDA) {
    ASSERT_EQ(mbrl_mlp_cuda_copy(y.data(), dout, y.size() * 4, 0), MBRL_OK);
  }
#endif
  for (int i = 0; i < M; ++i) {
    const float *dyi = (dyd ? dyd : dy.data()) + (size_t)i * n * 2;
    ASSERT_EQ(mbrl_mlp_backward(many[i], dyi, nullptr), MBRL_OK) << mbrl_last_error();
  }
  for (int i = 0; i < M; ++i) {
    std::vector<float> ys(n * 2);
    ASSERT_EQ(mbrl_mlp_forward(single[i], x.data(), n, ys.data(), 1), MBRL_OK);
    ASSERT_EQ(mbrl_mlp_backward(single[i], dy.data() + (size_t)i * n * 2, nullptr), MBRL_OK);
    std::vector<float> g1(many[i]->n_params), g2(single[i]->n_params);
    ASSERT_EQ(mbrl_mlp_get_grads(many[i], g1.data()), MBRL_OK);
    ASSERT_EQ(mbrl_mlp_get_grads(single[i], g2.data()), MBRL_OK);
    if (be == MBRL_BACKEND_CPU) {
      EXPECT_EQ(0, std::memcmp(ys.data(), &y[(size_t)i * n * 2], ys.size() * 4)) << i;
      EXPECT_EQ(g1, g2) << i;
    } else {
      EXPECT_LE(mbrl_test::worst_ratio(&y[(size_t)i * n * 2], ys.data(), ys.size(), 1e-5, 1e-4), 1.0);
      EXPECT_LE(mbrl_test::worst_ratio(g1.data(), g2.data(), g1.size(), 1e-5, 1e-3), 1.0) << i;
    }
  }
#ifdef MBRL_HAVE_CUDA
  if (be == MBRL_BACKEND_CUDA) {
    mbrl_mlp_cuda_free(dx);
    mbrl_mlp_cuda_free(dyd);
    mbrl_mlp_cuda_free(dout);
  }
#endif
  for (int i = 0; i < M; ++i) {
    mbrl_mlp_free(many[i]);
    mbrl_mlp_free(single[i]);
  }
}

TEST(EnsembleTrainer, BackwardAfterForwardManyMatchesSingleCpu) {
  check_backward_after_forward_many(MBRL_BACKEND_CPU);
}

TEST(EnsembleCuda, BackwardAfterForwardManyMatchesCpu) {
  MBRL_REQUIRE_GPU();
  check_backward_after_forward_many(MBRL_BACKEND_CUDA);
}

// The trainer on CUDA against the same trainer on the CPU: same init, the first fragment's
// actions agree (same probabilities up to rounding, same uniforms), the updated weights
// agree to float tolerance.
TEST(EnsembleCuda, TrainerMatchesCpu) {
  MBRL_REQUIRE_GPU();
  for (int M : {1, 4}) {
    mbrl_a2c *c = make(M, 5, MBRL_BACKEND_CPU), *g = make(M, 5, MBRL_BACKEND_CUDA);
    ASSERT_TRUE(c && g);
    for (int i = 0; i < M; ++i) ASSERT_EQ(state(c, i), state(g, i));
    ASSERT_EQ(mbrl_a2c_iterate(c, nullptr), MBRL_OK);
    ASSERT_EQ(mbrl_a2c_iterate(g, nullptr), MBRL_OK) << mbrl_last_error();
    EXPECT_EQ(0, std::memcmp(c->actions, g->actions, sizeof(int) * 40));
    for (int i = 0; i < M; ++i) {
      const auto sc = state(c, i), sg = state(g, i);
      EXPECT_LE(mbrl_test::worst_ratio(sg.data(), sc.data(), sc.size(), 1e-5, 1e-3), 1.0) << i;
    }
    double mc = 0, mg = 0;
    ASSERT_EQ(mbrl_a2c_evaluate(c, 4, 1, nullptr, &mc), MBRL_OK);
    ASSERT_EQ(mbrl_a2c_evaluate(g, 4, 1, nullptr, &mg), MBRL_OK);
    EXPECT_GE(mg, 1.0);
    mbrl_a2c_free(c);
    mbrl_a2c_free(g);
  }
}
