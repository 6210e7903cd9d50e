// tests/test_pets.cpp - PETS particles in the planner (mbrl/planner.h "particles"): ensembles
// planned with TS1 / TSinf / expectation on the CPU rollout, against a scalar reference built
// from the ensemble's own export step (mbrl_dyn_ensemble_export_step) and noise.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "planner_testing.h"
#include "testing.h"

extern "C" {
#include "mbrl/dyn_ensemble.h"
#include "mbrl/env.h"
#include "mbrl/plan_opt.h"
#include "mbrl/planner.h"
}

using mbrl_test::RunResult;
using mbrl_test::TempDir;

namespace {

struct Ens {
  mbrl_dyn_ensemble *e = nullptr;
  explicit Ens(int members, int probabilistic, int n_elites = 0, uint64_t seed = 7)
      : e(mbrl_test::pendulum_ensemble(members, probabilistic, n_elites, 0, seed)) {}
  ~Ens() { mbrl_dyn_ensemble_free(e); }
};

mbrl_planner *make_planner(const mbrl_plan_model *m, int K, int H, int P,
                           mbrl_plan_propagation prop, int no_sample = 0, float gamma = 0.97f) {
  mbrl_planner_config c = mbrl_test::cfg_of(K, H, gamma, 1, MBRL_BACKEND_CPU);
  c.particles = P;
  c.propagation = prop;
  c.no_sample = no_sample;
  mbrl_planner *p = nullptr;
  EXPECT_EQ(mbrl_planner_create(&p, m, &c), MBRL_OK) << mbrl_last_error();
  return p;
}

std::vector<float> sequences(int K, int H, unsigned seed) {
  std::vector<float> a = mbrl_test::randn((size_t)K * H, seed, 1.2f);
  for (float &x : a) x = x > 2.0f ? 2.0f : x < -2.0f ? -2.0f : x;
  return a;
}

// The documented particle rollout, scalar: row k*P+p, its member per step, the export's step,
// the noise, the env's reward on (s_h, a_h, s_{h+1}); the mean over particles.
std::vector<double> reference_costs(const mbrl_dyn_ensemble *e, const float *obs,
                                    const std::vector<float> &acts, int K, int H, int P,
                                    mbrl_plan_propagation prop, int sample, uint64_t pseed,
                                    float gamma) {
  mbrl_dyn_ensemble_export *x = nullptr;
  EXPECT_EQ(mbrl_dyn_ensemble_export_folded(e, &x), MBRL_OK);
  const mbrl_env_spec *spec = mbrl_env_find("Pendulum-v1");
  std::vector<double> out(K);
  for (int k = 0; k < K; ++k) {
    double sum = 0;
    for (int p = 0; p < P; ++p) {
      const uint64_t row = (uint64_t)k * P + p;
      float s[3] = {obs[0], obs[1], obs[2]}, n[3], mean[3], lv[3], eps[3];
      double cost = 0, g = 1;
      for (int h = 0; h < H; ++h) {
        const float *a = &acts[(size_t)k * H + h];
        int mem = mbrl_planner_particle_member(pseed, row, h, prop, x->elites, x->n_elites);
        EXPECT_EQ(mbrl_dyn_ensemble_export_step(x, s, a, &mem, 1, mean, x->probabilistic ? lv : nullptr),
                  MBRL_OK);
        if (sample) mbrl_dyn_ensemble_noise(mbrl_planner_seed(pseed, MBRL_PLAN_NOISE_TAG, h), row, 3, eps);
        for (int i = 0; i < 3; ++i) {
          const float d = sample ? mbrl_dyn_ensemble_sample1(mean[i], lv[i], eps[i]) : mean[i];
          n[i] = s[i] + (d * x->stats.delta_state_std[i] + x->stats.delta_state_mean[i]);
        }
        spec->project_obs(n);  // the planner's default (no_projection 0)
        cost -= g * spec->reward_obs(s, a, n);
        g *= gamma;
        std::memcpy(s, n, sizeof s);
      }
      sum += cost;
    }
    out[k] = sum / P;
  }
  mbrl_dyn_ensemble_export_free(x);
  return out;
}

const float OBS[3] = {-0.8f, 0.6f, 1.3f};

}  // namespace

TEST(PlannerPets, OneMemberOneParticleEqualsTheSingleModel) {
  Ens ens(1, 0);
  mbrl_plan_model *single = nullptr, *em = nullptr;
  ASSERT_EQ(mbrl_dyn_ensemble_plan_model(ens.e, 0, &single), MBRL_OK) << mbrl_last_error();
  ASSERT_EQ(mbrl_plan_model_from_ensemble(&em, ens.e), MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(em->members, 1);
  const int K = 200, H = 12;
  mbrl_planner *ps = make_planner(single, K, H, 0, MBRL_PLAN_PROP_TSINF);
  std::vector<float> want(K), got(K);
  const uint64_t seed = 99;
  mbrl_plan_result rs, re;
  ASSERT_EQ(mbrl_planner_plan(ps, OBS, &seed, 1, &rs), MBRL_OK);
  ASSERT_EQ(mbrl_planner_last_costs(ps, want.data()), MBRL_OK);
  for (mbrl_plan_propagation prop :
       {MBRL_PLAN_PROP_TS1, MBRL_PLAN_PROP_TSINF, MBRL_PLAN_PROP_EXPECTATION}) {
    mbrl_planner *pe = make_planner(em, K, H, 1, prop);
    EXPECT_EQ(mbrl_planner_particles(pe), 1);
    ASSERT_EQ(mbrl_planner_plan(pe, OBS, &seed, 1, &re), MBRL_OK) << mbrl_last_error();
    ASSERT_EQ(mbrl_planner_last_costs(pe, got.data()), MBRL_OK);
    for (int k = 0; k < K; ++k) ASSERT_EQ(got[k], want[k]) << "prop " << prop << " sequence " << k;
    EXPECT_EQ(re.best_index, rs.best_index);
    EXPECT_EQ(re.action[0], rs.action[0]);
    // caller-given sequences through evaluate_batch_seeded: the same costs as the single model's
    std::vector<float> acts = sequences(K, H, 5), c1(K), c2(K);
    const uint64_t ps_seed = 1234;
    ASSERT_EQ(mbrl_planner_evaluate_batch(ps, OBS, acts.data(), 1, K, c1.data(), nullptr), MBRL_OK);
    ASSERT_EQ(mbrl_planner_evaluate_batch_seeded(pe, OBS, acts.data(), &ps_seed, 1, K, c2.data(), nullptr),
              MBRL_OK);
    for (int k = 0; k < K; ++k) ASSERT_EQ(c2[k], c1[k]) << k;
    mbrl_planner_free(pe);
  }
  mbrl_planner_free(ps);
  mbrl_plan_model_free(single);
  mbrl_plan_model_free(em);
}

TEST(PlannerPets, ParticlesMatchTheScalarReference) {
  for (int probabilistic : {1, 0}) {
    Ens ens(4, probabilistic, 3);
    mbrl_plan_model *em = nullptr;
    ASSERT_EQ(mbrl_plan_model_from_ensemble(&em, ens.e), MBRL_OK) << mbrl_last_error();
    EXPECT_EQ(em->n_elites, 3);
    const int K = 23, H = 7, P = 5;  // 115 rows: blocks of 48 with a partial one
    const float gamma = 0.97f;
    std::vector<float> acts = sequences(K, H, 11);
    for (mbrl_plan_propagation prop : {MBRL_PLAN_PROP_TS1, MBRL_PLAN_PROP_TSINF}) {
      mbrl_planner *p = make_planner(em, K, H, P, prop, 0, gamma);
      EXPECT_EQ(mbrl_planner_particles(p), P);
      std::vector<float> c(K), c_again(K), c_other(K);
      const uint64_t pseed = 0xabcdef12345ull, other = pseed + 1;
      ASSERT_EQ(mbrl_planner_evaluate_batch_seeded(p, OBS, acts.data(), &pseed, 1, K, c.data(), nullptr),
                MBRL_OK)
          << mbrl_last_error();
      std::vector<double> want = reference_costs(ens.e, OBS, acts, K, H, P, prop, probabilistic, pseed, gamma);
      for (int k = 0; k < K; ++k)
        EXPECT_NEAR(c[k], want[k], 2e-4 * (1.0 + std::fabs(want[k])))
            << "probabilistic " << probabilistic << " prop " << prop << " k " << k;
      // reproducible bit for bit; another particle seed draws other members (and noise)
      ASSERT_EQ(mbrl_planner_evaluate_batch_seeded(p, OBS, acts.data(), &pseed, 1, K, c_again.data(), nullptr),
                MBRL_OK);
      for (int k = 0; k < K; ++k) ASSERT_EQ(c_again[k], c[k]);
      ASSERT_EQ(mbrl_planner_evaluate_batch_seeded(p, OBS, acts.data(), &other, 1, K, c_other.data(), nullptr),
                MBRL_OK);
      int differ = 0;
      for (int k = 0; k < K; ++k) differ += c_other[k] != c[k];
      EXPECT_GT(differ, K / 2);
      mbrl_planner_free(p);
    }
    // TS1 redraws per step, TSinf keeps the step-0 member: the draw itself
    int changes = 0;
    for (uint64_t row = 0; row < 50; ++row) {
      const int m0 = mbrl_planner_particle_member(5, row, 0, MBRL_PLAN_PROP_TSINF, em->elites, em->n_elites);
      EXPECT_EQ(mbrl_planner_particle_member(5, row, 3, MBRL_PLAN_PROP_TSINF, em->elites, em->n_elites), m0);
      EXPECT_EQ(mbrl_planner_particle_member(5, row, 0, MBRL_PLAN_PROP_TS1, em->elites, em->n_elites), m0);
      changes += mbrl_planner_particle_member(5, row, 3, MBRL_PLAN_PROP_TS1, em->elites, em->n_elites) != m0;
      EXPECT_TRUE(m0 == em->elites[0] || m0 == em->elites[1] || m0 == em->elites[2]);
    }
    EXPECT_GT(changes, 10);
    mbrl_plan_model_free(em);
  }
}

TEST(PlannerPets, ExpectationIsTheElitesMeanPrediction) {
  Ens ens(3, 1, 2);
  mbrl_plan_model *em = nullptr;
  ASSERT_EQ(mbrl_plan_model_from_ensemble(&em, ens.e), MBRL_OK);
  const int K = 40;
  mbrl_planner *p = make_planner(em, K, 1, 20, MBRL_PLAN_PROP_EXPECTATION);
  EXPECT_EQ(mbrl_planner_particles(p), 1);  // deterministic: one particle
  std::vector<float> acts = sequences(K, 1, 3), c(K), s1((size_t)K * 3), obs((size_t)K * 3), want((size_t)K * 3),
                     ref((size_t)K * 3);
  ASSERT_EQ(mbrl_planner_evaluate_batch(p, OBS, acts.data(), 1, K, c.data(), s1.data()), MBRL_OK);
  for (int k = 0; k < K; ++k) std::memcpy(&obs[(size_t)k * 3], OBS, sizeof OBS);
  ASSERT_EQ(mbrl_dyn_ensemble_predict_next(ens.e, obs.data(), acts.data(), nullptr, K, 0, 0, want.data()),
            MBRL_OK);
  ASSERT_EQ(mbrl_plan_model_step(em, obs.data(), acts.data(), K, ref.data()), MBRL_OK);
  const mbrl_env_spec *spec = mbrl_env_find("Pendulum-v1");
  for (int k = 0; k < K; ++k) {
    float wantp[3] = {want[(size_t)k * 3], want[(size_t)k * 3 + 1], want[(size_t)k * 3 + 2]};
    spec->project_obs(wantp);  // the planner's s_1 is projected (no_projection 0)
    for (int i = 0; i < 3; ++i) {
      EXPECT_NEAR(s1[(size_t)k * 3 + i], wantp[i], 1e-5) << k;
      EXPECT_NEAR(ref[(size_t)k * 3 + i], want[(size_t)k * 3 + i], 1e-5) << k;
    }
    EXPECT_NEAR(c[k], -spec->reward_obs(OBS, &acts[k], &want[(size_t)k * 3]), 1e-4) << k;
  }
  mbrl_planner_free(p);
  mbrl_plan_model_free(em);
}

TEST(PlannerPets, PlansRepeatAndEveryOptimizerRuns) {
  Ens ens(5, 1);
  mbrl_plan_model *em = nullptr;
  ASSERT_EQ(mbrl_plan_model_from_ensemble(&em, ens.e), MBRL_OK);
  mbrl_planner *p = make_planner(em, 64, 8, 6, MBRL_PLAN_PROP_TS1);
  const uint64_t seeds[2] = {3, 4};
  const float obs2[6] = {OBS[0], OBS[1], OBS[2], 1.0f, 0.0f, -2.0f};
  mbrl_plan_result r1[2], r2[2], one;
  ASSERT_EQ(mbrl_planner_plan(p, obs2, seeds, 1, r1), MBRL_OK);  // max_envs 1
  ASSERT_EQ(mbrl_planner_plan(p, obs2, seeds, 1, r2), MBRL_OK);
  EXPECT_EQ(r1[0].best_index, r2[0].best_index);
  EXPECT_EQ(r1[0].best_return, r2[0].best_return);
  EXPECT_TRUE(std::isfinite(r1[0].best_return));
  mbrl_planner_free(p);
  // E = 2 environments at once equal single plans
  mbrl_planner_config c;
  mbrl_planner_config_init(&c);
  c.samples = 64;
  c.horizon = 8;
  c.gamma = 0.97f;  // make_planner's
  c.max_envs = 2;
  c.backend = MBRL_BACKEND_CPU;
  c.particles = 6;
  c.propagation = MBRL_PLAN_PROP_TS1;
  ASSERT_EQ(mbrl_planner_create(&p, em, &c), MBRL_OK);
  ASSERT_EQ(mbrl_planner_plan(p, obs2, seeds, 2, r2), MBRL_OK);
  EXPECT_EQ(r2[0].best_return, r1[0].best_return);
  ASSERT_EQ(mbrl_planner_plan(p, obs2 + 3, seeds + 1, 1, &one), MBRL_OK);
  EXPECT_EQ(r2[1].best_return, one.best_return);
  EXPECT_EQ(r2[1].action[0], one.action[0]);
  mbrl_planner_free(p);
  for (mbrl_plan_opt_kind kind : {MBRL_PLAN_OPT_CEM, MBRL_PLAN_OPT_ICEM, MBRL_PLAN_OPT_MPPI}) {
    mbrl_plan_opt_config oc;
    mbrl_plan_opt_config_init(&oc, kind);
    oc.population = 40;
    oc.iterations = 2;
    c.max_envs = 1;
    c.propagation = MBRL_PLAN_PROP_TSINF;
    mbrl_plan_opt *o = nullptr;
    ASSERT_EQ(mbrl_plan_opt_create(&o, em, &c, &oc), MBRL_OK) << mbrl_last_error();
    mbrl_plan_result a, b;
    ASSERT_EQ(mbrl_plan_opt_plan(o, OBS, seeds, 1, &a), MBRL_OK) << mbrl_last_error();
    mbrl_plan_opt_reset(o, -1);
    ASSERT_EQ(mbrl_plan_opt_plan(o, OBS, seeds, 1, &b), MBRL_OK);
    EXPECT_TRUE(std::isfinite(a.action[0]) && std::fabs(a.action[0]) <= 2.0f);
    EXPECT_EQ(a.action[0], b.action[0]) << mbrl_plan_opt_kind_name(kind);
    EXPECT_EQ(a.best_return, b.best_return);
    mbrl_plan_opt_free(o);
  }
  mbrl_plan_model_free(em);
}

TEST(PlannerPets, RefusesParticlesWithoutAnEnsemble) {
  Ens ens(2, 1);
  mbrl_plan_model *em = nullptr, *single = nullptr;
  ASSERT_EQ(mbrl_plan_model_from_ensemble(&em, ens.e), MBRL_OK);
  ASSERT_EQ(mbrl_dyn_ensemble_plan_model(ens.e, 0, &single), MBRL_OK);
  mbrl_planner_config c;
  mbrl_planner_config_init(&c);
  c.backend = MBRL_BACKEND_CPU;
  c.particles = 5;
  mbrl_planner *p = nullptr;
  EXPECT_EQ(mbrl_planner_create(&p, single, &c), MBRL_ERR_INVALID_ARG);
  EXPECT_TRUE(mbrl_test::has(mbrl_last_error(), "ensemble")) << mbrl_last_error();
  c.particles = -1;
  EXPECT_EQ(mbrl_planner_create(&p, em, &c), MBRL_ERR_INVALID_ARG);
  c.particles = 5;
  c.propagation = (mbrl_plan_propagation)7;
  EXPECT_EQ(mbrl_planner_create(&p, em, &c), MBRL_ERR_INVALID_ARG);
  c.propagation = MBRL_PLAN_PROP_TS1;
  c.backend = MBRL_BACKEND_CUDA;  // ensembles plan on CUDA too (test_planner_cuda.cpp)
  if (mbrl_cuda_compiled() && mbrl_cuda_device_count() > 0) {
    ASSERT_EQ(mbrl_planner_create(&p, em, &c), MBRL_OK) << mbrl_last_error();
    EXPECT_EQ(mbrl_planner_particles(p), 5);
    mbrl_planner_free(p);
  } else {
    EXPECT_EQ(mbrl_planner_create(&p, em, &c), MBRL_ERR_UNSUPPORTED);
    EXPECT_TRUE(mbrl_test::has(mbrl_last_error(), "device cuda")) << mbrl_last_error();
    EXPECT_EQ(p, nullptr);
  }
  mbrl_plan_model_free(em);
  mbrl_plan_model_free(single);
}

TEST(PlannerPets, CheckpointLoadsAsAnEnsembleAndMpcPlansWithIt) {
  TempDir dir;
  Ens ens(3, 1);
  const std::string path = dir.file("ens.h5");
  ASSERT_EQ(mbrl_dyn_ensemble_save(ens.e, path.c_str()), MBRL_OK) << mbrl_last_error();
  mbrl_plan_model *m = nullptr;
  ASSERT_EQ(mbrl_plan_model_load(&m, path.c_str(), "Pendulum-v1"), MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(m->members, 3);
  EXPECT_EQ(m->probabilistic, 1);
  mbrl_plan_model_free(m);
  EXPECT_EQ(mbrl_plan_model_load(&m, path.c_str(), "CartPole-v1"), MBRL_ERR_FORMAT);
  for (const char *extra : {" --planner rs --propagation ts1 --particles 4",
                            " --planner cem --population 30 --opt-iterations 2 --horizon 5"}) {
    RunResult r = mbrl_test::run_bin("mbrl_mpc", "--model '" + path + "' --episodes 1 --max-steps 5 "
                                     "--samples 32 --horizon 5 --json" + std::string(extra));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(mbrl_test::has(r.out, "\"particles\"")) << r.out;
    EXPECT_EQ(mbrl_test::json_num(r.out, "env_steps"), 5);
  }
  // an ensemble on --device cuda: planned there on a GPU machine, else the runtime error of a
  // missing GPU (exit 1), as for any model
  RunResult r = mbrl_test::run_bin("mbrl_mpc", "--model '" + path + "' --device cuda --episodes 1 "
                                   "--max-steps 2 --samples 32 --horizon 5 --json");
  if (mbrl_cuda_compiled() && mbrl_cuda_device_count() > 0) {
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(mbrl_test::has(r.out, "\"device\": \"cuda\"")) << r.out;
  } else {
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_TRUE(mbrl_test::has(r.err, "--device cuda")) << r.err;
  }
  r = mbrl_test::run_bin("mbrl_mpc", "--oracle --particles 4 --max-steps 2");
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST(PlannerPets, LoopTrainsEnsemblesAndEvaluatesOnTheGivenSeeds) {
  TempDir dir;
  const std::string data = mbrl_test::collect_dataset(dir, "d.h5", 1, 40, 3);
  const std::string model = dir.file("ens.h5");
  RunResult r = mbrl_test::run_bin(
      "mbrl_mpc", "--iterations 1 --episodes 1 --max-steps 10 --data '" + data + "' --model '" + model +
                      "' --ensemble 2 --probabilistic --train-steps 30 --planner cem --population 20 "
                      "--opt-iterations 1 --horizon 5 --particles 3 --eval-episodes 2 --eval-seed 7 "
                      "--device cpu --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(mbrl_test::json_num(r.out, "ensemble_members"), 2);
  EXPECT_EQ(mbrl_test::json_num(r.out, "particles"), 3);
  EXPECT_EQ(mbrl_test::json_num(r.out, "reset_seed0"), 7);
  EXPECT_EQ(mbrl_test::json_num(r.out, "total_env_steps"), 50);
  EXPECT_EQ(mbrl_dyn_ensemble_is_file(model.c_str()), 1);
  r = mbrl_test::run_bin("mbrl_mpc", "--oracle --ensemble 3 --max-steps 2");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = mbrl_test::run_bin("mbrl_mpc", "--oracle --eval-seed 3 --max-steps 2");
  EXPECT_EQ(r.exit_code, 2) << r.err;
}
