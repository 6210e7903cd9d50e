// tests/planner_testing.h - models the planner tests share (test_planner, test_planner_cuda,
// test_pets). Inline in a header of their own, not in testing.cpp: every test program links
// testing.cpp, and these pull the ensemble and MLP code (with its CUDA kernels) into the
// program, which the GPU bundle's size limit has no room for in every test.
#ifndef MBRL_TESTS_PLANNER_TESTING_H
#define MBRL_TESTS_PLANNER_TESTING_H

#include <cstring>

#include "mbrl/dyn_ensemble.h"
#include "mbrl/env.h"
#include "mbrl/mlp.h"
#include "testing.h"

namespace mbrl_test {

// m = a learned plan model for env `spec` from a randomly initialized obs+act -> 32 -> obs ReLU
// net (mlp seed `seed`) with unit-ish normalizer statistics, the action normalized to its
// bounds (what a planner does with it is the point, not its accuracy).
inline void random_learned(ModelPtr &m, const mbrl_env_spec *spec, uint64_t seed) {
  const int O = spec->obs_dim, A = spec->act_dim;
  int sizes[3] = {O + A, 32, O};
  mbrl_mlp_config c;
  mbrl_mlp_config_init(&c, 2, sizes);
  c.seed = seed;
  mbrl_mlp *mlp = nullptr;
  ASSERT_EQ(mbrl_mlp_create(&mlp, &c, MBRL_BACKEND_CPU, 1), MBRL_OK) << mbrl_last_error();
  mbrl_dataset_stats st;
  std::memset(&st, 0, sizeof st);
  for (int i = 0; i < O; ++i) {
    st.state_std[i] = 1.0f;
    st.delta_state_std[i] = 0.05f;
  }
  for (int j = 0; j < A; ++j) {
    st.action_mean[j] = 0.5f * (spec->act_low[j] + spec->act_high[j]);
    st.action_std[j] = 0.5f * (spec->act_high[j] - spec->act_low[j]);
  }
  ASSERT_EQ(mbrl_plan_model_from_mlp(&m.m, spec->id, O, A, mlp, &st), MBRL_OK) << mbrl_last_error();
  mbrl_mlp_free(mlp);
}

// A Pendulum-v1 dynamics ensemble with random weights: `members`
// members, probabilistic or not, n_elites (0: all), hidden widths `width`,`width` (0: the
// config's default), fixed non-trivial normalizer statistics and, if probabilistic,
// log-variance bounds that make the noise matter; NULL (test failed) on error.
inline mbrl_dyn_ensemble *pendulum_ensemble(int members, int probabilistic, int n_elites, int width,
                                     uint64_t seed) {
  mbrl_dyn_ensemble_config c;
  mbrl_dyn_ensemble_config_init(&c);
  c.members = members;
  c.probabilistic = probabilistic;
  c.n_elites = n_elites;
  if (width > 0) c.hidden[0] = c.hidden[1] = width;
  mbrl_dataset_stats st;
  std::memset(&st, 0, sizeof st);
  const float sm[3] = {0.1f, -0.2f, 0.3f}, ss[3] = {0.7f, 0.6f, 2.5f},
              dm[3] = {0.01f, -0.02f, 0.05f}, ds[3] = {0.15f, 0.16f, 0.6f};
  for (int i = 0; i < 3; ++i) {
    st.state_mean[i] = sm[i];
    st.state_std[i] = ss[i];
    st.delta_state_mean[i] = dm[i];
    st.delta_state_std[i] = ds[i];
  }
  st.action_mean[0] = 0.05f;
  st.action_std[0] = 1.1f;
  mbrl_dyn_ensemble *e = nullptr;
  EXPECT_EQ(mbrl_dyn_ensemble_create(&e, "Pendulum-v1", 3, 1, &st, &c, MBRL_BACKEND_CPU, 64, seed),
            MBRL_OK)
      << mbrl_last_error();
  if (e && probabilistic) {  // bounds that make the noise matter
    const float mx[3] = {-1.0f, -0.5f, 0.0f}, mn[3] = {-6.0f, -6.0f, -6.0f};
    EXPECT_EQ(mbrl_dyn_ensemble_set_logvar_bounds(e, mx, mn), MBRL_OK);
  }
  return e;
}


}  // namespace mbrl_test

#endif
