// tests/test_cpu_paths.cpp - the CPU kernel paths (mbrl/cpu.h) side by side in one process:
// the path API and its errors (also as the apps report them), and for every path this CPU runs
// (switched with mbrl_cpu_set_kernels): reproducibility (same inputs -> same bits, a row's
// result independent of the rows around it, the sparse ReLU-skip kernel equal to the dense one,
// a saved-then-loaded model predicting bit for bit) and agreement between paths, with the
// tolerance of each comparison written where it is made:
//   bit for bit on every path: Adam, RMSprop, unfused BatchNorm, MSE (no FMA, same order);
//   Linear forward/backward:   |a - b| <= 1e-5 + 1e-5 |b|   (FMA vs multiply+add, sum trees)
//   tanh, softmax:             <= 3e-7 abs / 1e-6 + 1e-5 |b| (vmath.h: FMA in polynomials)
//   planner costs (K 300, H 15, learned and oracle): 1e-3 + 1e-4 |b| (the CUDA-vs-CPU bound)
//   dynamics training (30 Adam steps) and A2C (5 iterations): loss 1e-3 relative, and the
//   measured spread is printed (Adam/RMSprop turn a last-bit gradient difference near 0 into a
//   full step for that weight, so weights are not compared).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "testing.h"

extern "C" {
#include "host/cpu_kernels.h"
#include "host/nn_cpu.h"
#include "mbrl/a2c.h"
#include "mbrl/cpu.h"
#include "mbrl/dataset.h"
#include "mbrl/dynamics.h"
#include "mbrl/env.h"
#include "mbrl/nn.h"
#include "mbrl/philox.h"
#include "mbrl/planner.h"
}

using mbrl_test::has;
using mbrl_test::pendulum_data;
using mbrl_test::randn;
using mbrl_test::worst_ratio;

namespace {

// Paths this CPU runs, best first; restores the path in use when destroyed.
struct Paths {
  mbrl_cpu_path saved = mbrl_cpu_kernels();
  std::vector<mbrl_cpu_path> list;
  Paths() {
    for (mbrl_cpu_path p : {MBRL_CPU_AVX512, MBRL_CPU_AVX2, MBRL_CPU_GENERIC})
      if (mbrl_cpu_supports(p)) list.push_back(p);
  }
  ~Paths() { mbrl_cpu_set_kernels(saved); }
};

void use(mbrl_cpu_path p) { ASSERT_EQ(mbrl_cpu_set_kernels(p), MBRL_OK) << mbrl_last_error(); }

std::vector<float> relu_randn(size_t n, unsigned seed) {
  auto v = randn(n, seed);
  for (auto &x : v) x = x > 0.0f ? x : 0.0f;
  return v;
}

bool same_bits(const std::vector<float> &a, const std::vector<float> &b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// float == (so +0 == -0), element by element; prints the first difference
bool equal_values(const std::vector<float> &a, const std::vector<float> &b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i])) {
      std::printf("  first difference at %zu: %a vs %a\n", i, (double)a[i], (double)b[i]);
      return false;
    }
  return true;
}

struct Dyn {
  mbrl_dynamics *d = nullptr;
  ~Dyn() { mbrl_dynamics_free(d); }
};

// A 4-64-64-3 BatchNorm model trained `steps` Adam steps (batch 32) on ds.
void trained_model(Dyn *m, const mbrl_dataset &ds, int steps, int max_batch, float *last_loss) {
  const int hidden[2] = {64, 64};
  ASSERT_EQ(mbrl_dynamics_create(&m->d, ds.env_id, ds.obs_dim, ds.act_dim, &ds.stats, 2, hidden,
                                 1, MBRL_BACKEND_CPU, max_batch, 7),
            MBRL_OK)
      << mbrl_last_error();
  mbrl_dynamics_trainer *t = nullptr;
  mbrl_optim_config oc = mbrl_optim_adam_config(0.01f, 0.99f, 0.999f);
  ASSERT_EQ(mbrl_dynamics_trainer_create(&t, m->d, &ds, &oc, 32, 3), MBRL_OK);
  std::vector<float> losses(steps);
  ASSERT_EQ(mbrl_dynamics_trainer_run(t, steps, losses.data()), MBRL_OK);
  if (last_loss) *last_loss = losses.back();
  mbrl_dynamics_trainer_free(t);
}

std::vector<float> predict(mbrl_dynamics *d, const mbrl_dataset &ds) {
  std::vector<float> out(ds.n * 3);
  EXPECT_EQ(mbrl_dynamics_predict_next(d, ds.observations, ds.actions, (int)ds.n, out.data()),
            MBRL_OK);
  return out;
}

std::vector<float> plan_costs(const mbrl_plan_model *m, int K, int H, const float *obs,
                              uint64_t seed) {
  mbrl_planner_config c;
  mbrl_planner_config_init(&c);
  c.samples = K;
  c.horizon = H;
  c.backend = MBRL_BACKEND_CPU;
  mbrl_planner *p = nullptr;
  EXPECT_EQ(mbrl_planner_create(&p, m, &c), MBRL_OK) << mbrl_last_error();
  mbrl_plan_result r;
  EXPECT_EQ(mbrl_planner_plan(p, obs, &seed, 1, &r), MBRL_OK);
  std::vector<float> costs(K);
  EXPECT_EQ(mbrl_planner_last_costs(p, costs.data()), MBRL_OK);
  mbrl_planner_free(p);
  return costs;
}

}  // namespace

// ---------------------------------------------------------------- the path API

TEST(CpuPaths, NamesParseAndSupport) {
  mbrl_cpu_path p;
  for (mbrl_cpu_path q : {MBRL_CPU_GENERIC, MBRL_CPU_AVX2, MBRL_CPU_AVX512}) {
    ASSERT_EQ(mbrl_cpu_path_parse(mbrl_cpu_path_name(q), &p), MBRL_OK);
    EXPECT_EQ(p, q);
  }
  EXPECT_EQ(mbrl_cpu_path_parse("sse2", &p), MBRL_ERR_INVALID_ARG);
  EXPECT_TRUE(has(mbrl_last_error(), "avx512, avx2 or generic")) << mbrl_last_error();
  EXPECT_TRUE(mbrl_cpu_supports(MBRL_CPU_GENERIC));
  EXPECT_TRUE(mbrl_cpu_supports(mbrl_cpu_best()));
  EXPECT_TRUE(mbrl_cpu_supports(mbrl_cpu_kernels()));
  EXPECT_NE(std::string(mbrl_cpu_features()), "");
  std::printf("  cpu: %s; best path %s, in use %s\n", mbrl_cpu_features(),
              mbrl_cpu_path_name(mbrl_cpu_best()), mbrl_cpu_path_name(mbrl_cpu_kernels()));
  if (mbrl_cpu_supports(MBRL_CPU_AVX512)) {
    EXPECT_TRUE(mbrl_cpu_supports(MBRL_CPU_AVX2));  // the paths nest
  }
}

// MBRL_CPU_MASK plays a CPU without AVX-512: the path is refused (nothing changes) with a
// message naming the CPU's features.
TEST(CpuPaths, ForcingAPathTheCpuLacksIsRefused) {
  if (!mbrl_cpu_supports(MBRL_CPU_AVX2)) GTEST_SKIP() << "not an x86-64 CPU with AVX2";
  Paths keep;
  ::setenv("MBRL_CPU_MASK", "avx512f", 1);
  EXPECT_FALSE(mbrl_cpu_supports(MBRL_CPU_AVX512));
  EXPECT_TRUE(mbrl_cpu_supports(MBRL_CPU_AVX2));
  EXPECT_EQ(mbrl_cpu_set_kernels(MBRL_CPU_AVX512), MBRL_ERR_UNSUPPORTED);
  const std::string msg = mbrl_last_error();
  EXPECT_TRUE(has(msg, "avx512") && has(msg, "avx2 fma")) << msg;
  EXPECT_EQ(mbrl_cpu_kernels(), keep.saved);
  EXPECT_EQ(mbrl_cpu_table_of(MBRL_CPU_AVX512), nullptr);
  ::unsetenv("MBRL_CPU_MASK");
}

// The apps check MBRL_CPU_KERNELS before any work: exit 1 naming the variable (and the CPU's
// features when the path is missing); otherwise they print the path (stderr, --json).
TEST(CpuPaths, AppsNameThePathAndRefuseABadOne) {
  const std::string mpc = mbrl_test::bin("mbrl_mpc") + " --oracle --episodes 1 --max-steps 2";
  auto bad = mbrl_test::run("MBRL_CPU_KERNELS=sse9 " + mpc);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(has(bad.err, "MBRL_CPU_KERNELS=sse9") && has(bad.err, "avx512, avx2 or generic"))
      << bad.err;
  if (mbrl_cpu_supports(MBRL_CPU_AVX2)) {
    const std::string lack = "MBRL_CPU_MASK=avx512f MBRL_CPU_KERNELS=avx512 ";
    for (const std::string &cmd :
         {mpc, mbrl_test::bin("mbrl_a2c") + " --steps 40", 
          mbrl_test::bin("mbrl_train") + " --data /nonexistent/data.h5"}) {
      auto r = mbrl_test::run(lack + cmd);
      EXPECT_EQ(r.exit_code, 1) << cmd;
      EXPECT_TRUE(has(r.err, "MBRL_CPU_KERNELS=avx512") && has(r.err, "avx2 fma")) << r.err;
    }
  }
  auto ok = mbrl_test::run("MBRL_CPU_KERNELS=generic " + mpc + " --json");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(has(ok.err, "CPU kernels generic")) << ok.err;
  EXPECT_TRUE(has(ok.out, "\"cpu_kernels\": \"generic\"")) << ok.out;
}

// ---------------------------------------------------------------- reproducibility, per path

// The sparse kernel (zeros of a ReLU input skipped) equals the dense one value for value, and a
// row's output does not depend on the other rows of the call (all three Linear kernels: dense,
// sparse, narrow-output dot products), over shapes that cross every blocking.
TEST(CpuPaths, SparseEqualsDenseAndRowsAreIndependent) {
  Paths paths;
  const int Bs[] = {1, 2, 5, 16, 33}, ins[] = {1, 4, 17, 64, 70}, outs[] = {1, 3, 8, 17, 64, 130};
  for (mbrl_cpu_path p : paths.list) {
    use(p);
    for (int B : Bs)
      for (int in : ins)
        for (int out : outs) {
          SCOPED_TRACE(std::string(mbrl_cpu_path_name(p)) + " " + std::to_string(B) + "x" +
                       std::to_string(in) + "->" + std::to_string(out));
          auto x = relu_randn((size_t)B * in, B * 7 + in), W = randn((size_t)out * in, out, 0.3f),
               b = randn(out, 3), dy = randn((size_t)B * out, 4);
          std::vector<float> yd((size_t)B * out), ys(yd.size()), yr(yd.size());
          mbrl_nn_linear_forward(yd.data(), x.data(), W.data(), b.data(), B, in, out);
          mbrl_nn_cpu_linear_forward_sparse(ys.data(), x.data(), W.data(), b.data(), B, in, out);
          ASSERT_TRUE(equal_values(yd, ys));
          for (int r = 0; r < B; ++r)  // each row alone
            mbrl_nn_linear_forward(yr.data() + (size_t)r * out, x.data() + (size_t)r * in,
                                   W.data(), b.data(), 1, in, out);
          ASSERT_TRUE(same_bits(yd, yr));
          std::vector<float> dWd(W.size()), dWs(W.size()), dx1(x.size()), dx2(x.size());
          mbrl_nn_linear_backward(dx1.data(), dWd.data(), nullptr, dy.data(), x.data(), W.data(),
                                  B, in, out);
          mbrl_nn_cpu_linear_backward_sparse(dx2.data(), dWs.data(), nullptr, dy.data(),
                                             x.data(), W.data(), B, in, out);
          ASSERT_TRUE(equal_values(dWd, dWs));
          ASSERT_TRUE(same_bits(dx1, dx2));
        }
  }
}

// Same path, same inputs, same seed: the same bits (training, prediction, a plan, A2C), and a
// saved-then-loaded model predicts bit for bit what it did, with another max_batch (so in other
// chunk sizes) too.
TEST(CpuPaths, RepeatsAndSaveLoadAreBitForBit) {
  Paths paths;
  mbrl_dataset ds;
  pendulum_data(&ds, 2, 100, 11);
  mbrl_test::TempDir dir;
  for (mbrl_cpu_path p : paths.list) {
    use(p);
    SCOPED_TRACE(mbrl_cpu_path_name(p));
    Dyn a, b;
    trained_model(&a, ds, 20, 256, nullptr);
    trained_model(&b, ds, 20, 256, nullptr);
    std::vector<float> sa(mbrl_mlp_state_size(a.d->mlp)), sb(sa.size());
    ASSERT_EQ(mbrl_mlp_get_state(a.d->mlp, sa.data()), MBRL_OK);
    ASSERT_EQ(mbrl_mlp_get_state(b.d->mlp, sb.data()), MBRL_OK);
    EXPECT_TRUE(same_bits(sa, sb)) << "two trainings from one seed";
    const auto before = predict(a.d, ds);
    const std::string path = dir.file(std::string("m_") + mbrl_cpu_path_name(p) + ".h5");
    ASSERT_EQ(mbrl_dynamics_save(a.d, path.c_str()), MBRL_OK) << mbrl_last_error();
    Dyn l;
    ASSERT_EQ(mbrl_dynamics_load(path.c_str(), MBRL_BACKEND_CPU, 37, &l.d), MBRL_OK);
    EXPECT_TRUE(same_bits(predict(l.d, ds), before)) << "loaded model, chunks of 37 rows";
    EXPECT_TRUE(same_bits(predict(a.d, ds), before)) << "the same model again";

    mbrl_plan_model *pm = nullptr;
    ASSERT_EQ(mbrl_plan_model_from_dynamics(&pm, a.d), MBRL_OK);
    const float obs[3] = {-0.9f, 0.4f, 1.0f};
    const auto c1 = plan_costs(pm, 300, 15, obs, 5), c2 = plan_costs(pm, 300, 15, obs, 5);
    EXPECT_TRUE(same_bits(c1, c2)) << "a plan repeated";
    const auto c3 = plan_costs(pm, 100, 15, obs, 5);  // other K: other blocks, same rows
    EXPECT_TRUE(same_bits(c3, std::vector<float>(c1.begin(), c1.begin() + 100)));
    mbrl_plan_model_free(pm);

    std::vector<float> st[2];
    for (int rep = 0; rep < 2; ++rep) {
      mbrl_a2c_config c;
      mbrl_a2c_config_init(&c, MBRL_A2C_ALGO_A2C);
      c.seed = 3;
      mbrl_a2c *t = nullptr;
      ASSERT_EQ(mbrl_a2c_create(&t, &c, "CartPole-v1", 1, MBRL_BACKEND_CPU), MBRL_OK);
      for (int i = 0; i < 5; ++i) ASSERT_EQ(mbrl_a2c_iterate(t, nullptr), MBRL_OK);
      st[rep].resize(mbrl_a2c_state_size(t));
      ASSERT_EQ(mbrl_a2c_get_state(t, 0, st[rep].data()), MBRL_OK);
      mbrl_a2c_free(t);
    }
    EXPECT_TRUE(same_bits(st[0], st[1])) << "A2C repeated";
  }
  mbrl_dataset_free(&ds);
}

// ---------------------------------------------------------------- agreement between paths

TEST(CpuPaths, PathsAgreeWithinTolerances) {
  Paths paths;
  if (paths.list.size() < 2) GTEST_SKIP() << "only the generic path on this CPU";
  struct Out {
    std::vector<float> y, dx, dW, bn, adam, rms, tanh_y, probs, oracle, learned;
    float loss = 0, a2c_loss = 0;
  };
  mbrl_dataset ds;
  pendulum_data(&ds, 2, 100, 3);
  Dyn ref;  // the plan model is made once (on the best path) so all paths plan the same net
  trained_model(&ref, ds, 5, 256, nullptr);
  mbrl_plan_model *pm = nullptr, *om = nullptr;
  ASSERT_EQ(mbrl_plan_model_from_dynamics(&pm, ref.d), MBRL_OK);
  ASSERT_EQ(mbrl_plan_model_oracle(&om, "Pendulum-v1"), MBRL_OK);
  const int B = 33, in = 70, out = 64;
  auto x = randn((size_t)B * in, 1), W = randn((size_t)out * in, 2, 0.3f), b = randn(out, 3),
       dy = randn((size_t)B * out, 4), g = randn(4099, 5, 0.1f), z = randn((size_t)B * out, 6);
  std::vector<Out> outs;
  for (mbrl_cpu_path p : paths.list) {
    use(p);
    Out o;
    o.y.resize((size_t)B * out);
    mbrl_nn_linear_forward(o.y.data(), x.data(), W.data(), b.data(), B, in, out);
    o.dx.resize(x.size());
    o.dW.resize(W.size());
    mbrl_nn_linear_backward(o.dx.data(), o.dW.data(), nullptr, dy.data(), x.data(), W.data(), B,
                            in, out);
    std::vector<float> mean(out), rstd(out), rm(out, 0.0f), rv(out, 1.0f), gam(out, 1.5f),
        bet(out, 0.2f);
    o.bn.resize(z.size());
    mbrl_nn_batchnorm_forward_train(o.bn.data(), mean.data(), rstd.data(), rm.data(), rv.data(),
                                    z.data(), gam.data(), bet.data(), B, out, 0.1f, 1e-5f);
    o.adam.assign(4099, 0.5f);
    std::vector<float> m(4099, 0.0f), v(4099, 0.0f), sq(4099, 0.0f);
    o.rms.assign(4099, 0.5f);
    for (int s = 1; s <= 3; ++s) {
      mbrl_nn_adam_step(o.adam.data(), m.data(), v.data(), g.data(), 4099, 0.01f, 0.9f, 0.999f,
                        1e-8f, s);
      mbrl_nn_rmsprop_step(o.rms.data(), sq.data(), g.data(), 4099, 7e-4f, 0.99f, 1e-5f);
    }
    o.tanh_y.resize(z.size());
    mbrl_nn_act_forward(o.tanh_y.data(), z.data(), z.size(), MBRL_ACT_TANH);
    o.probs.resize(z.size());
    mbrl_a2c_softmax(o.probs.data(), nullptr, z.data(), B * out / 4, 4);
    const float obs[3] = {-0.9f, 0.4f, 1.0f};
    o.oracle = plan_costs(om, 300, 15, obs, 9);
    o.learned = plan_costs(pm, 300, 15, obs, 9);
    Dyn t;
    trained_model(&t, ds, 30, 256, &o.loss);
    mbrl_a2c_config c;
    mbrl_a2c_config_init(&c, MBRL_A2C_ALGO_A2C);
    mbrl_a2c *a = nullptr;
    ASSERT_EQ(mbrl_a2c_create(&a, &c, "CartPole-v1", 1, MBRL_BACKEND_CPU), MBRL_OK);
    mbrl_a2c_stats st;
    for (int i = 0; i < 5; ++i) ASSERT_EQ(mbrl_a2c_iterate(a, &st), MBRL_OK);
    o.a2c_loss = (float)st.losses.loss;
    mbrl_a2c_free(a);
    outs.push_back(o);
  }
  const Out &r = outs.back();  // generic
  for (size_t i = 0; i + 1 < outs.size(); ++i) {
    const Out &o = outs[i];
    SCOPED_TRACE(std::string(mbrl_cpu_path_name(paths.list[i])) + " vs generic");
    EXPECT_TRUE(same_bits(o.adam, r.adam)) << "Adam is bit for bit on every path";
    EXPECT_TRUE(same_bits(o.rms, r.rms)) << "RMSprop is bit for bit on every path";
    EXPECT_TRUE(same_bits(o.bn, r.bn)) << "BatchNorm (unfused) is bit for bit on every path";
    EXPECT_LE(worst_ratio(o.y.data(), r.y.data(), o.y.size(), 1e-5, 1e-5), 1.0) << "linear y";
    EXPECT_LE(worst_ratio(o.dx.data(), r.dx.data(), o.dx.size(), 1e-5, 1e-5), 1.0) << "dx";
    EXPECT_LE(worst_ratio(o.dW.data(), r.dW.data(), o.dW.size(), 1e-5, 1e-5), 1.0) << "dW";
    EXPECT_LE(worst_ratio(o.tanh_y.data(), r.tanh_y.data(), o.tanh_y.size(), 3e-7, 0.0), 1.0);
    EXPECT_LE(worst_ratio(o.probs.data(), r.probs.data(), o.probs.size(), 1e-6, 1e-5), 1.0);
    EXPECT_LE(worst_ratio(o.oracle.data(), r.oracle.data(), 300, 1e-3, 1e-4), 1.0) << "oracle";
    EXPECT_LE(worst_ratio(o.learned.data(), r.learned.data(), 300, 1e-3, 1e-4), 1.0) << "learned";
    std::printf("  %s vs generic: dynamics loss after 30 steps %.7g vs %.7g (rel %.2e); A2C loss "
                "after 5 iterations %.7g vs %.7g (rel %.2e)\n",
                mbrl_cpu_path_name(paths.list[i]), o.loss, r.loss,
                std::fabs(o.loss - r.loss) / std::fabs(r.loss), o.a2c_loss, r.a2c_loss,
                std::fabs(o.a2c_loss - r.a2c_loss) / std::fabs(r.a2c_loss));
    EXPECT_LE(std::fabs(o.loss - r.loss), 1e-3 * std::fabs(r.loss)) << "dynamics loss";
    EXPECT_LE(std::fabs(o.a2c_loss - r.a2c_loss), 1e-3 * std::fabs(r.a2c_loss)) << "A2C loss";
  }
  mbrl_plan_model_free(pm);
  mbrl_plan_model_free(om);
  mbrl_dataset_free(&ds);
}
