// test_env.cpp - Pendulum-v1 / CartPole-v1: hand-computed steps, clipping, termination,
// truncation, Gymnasium's reset draws (numpy golden file), reset distributions, determinism,
// batch == singles, the vector-env seeding convention, spec lookup, CUDA twin.
// Expected numbers were computed with numpy 1.24 from Gymnasium's formulas
// (gymnasium/envs/classic_control/{pendulum,cartpole}.py) in float64.
#include <cfloat>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "nprandom_golden.h"
#include "testing.h"

extern "C" {
#include "mbrl/env.h"
}

#ifdef MBRL_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace {

const double kPi = 3.14159265358979323846;

mbrl_env make_env(const char *id, uint64_t seed = 1, uint64_t stream = 0) {
  mbrl_env e;
  EXPECT_EQ(mbrl_env_init(&e, id, seed, stream), MBRL_OK) << mbrl_last_error();
  return e;
}

struct StepOut {
  float obs[MBRL_MAX_DIM];
  float reward;
  int terminated, truncated;
};

// A random action of the env: an index for a discrete env; for a continuous one uniform in
// 1.25 x its bounds, so that clipping is exercised too.
float random_action(const mbrl_env_spec *spec, mbrl_philox *r) {
  if (spec->discrete) return (float)mbrl_philox_below(r, (uint32_t)spec->n_actions);
  const float lo = spec->act_low[0], hi = spec->act_high[0], pad = 0.125f * (hi - lo);
  return mbrl_philox_range_float(r, lo - pad, hi + pad);
}

// An energy-pumping action from an observation, so that episodes reach their terminal
// states (MountainCar's goal, Acrobot's line) and CartPole stays up for long.
float pump_action(const mbrl_env_spec *spec, const float *o) {
  switch (spec->kind) {
    case MBRL_ENV_PENDULUM: return o[2] >= 0 ? 2.5f : -2.5f;
    case MBRL_ENV_CARTPOLE: return o[2] + 0.5f * o[3] > 0 ? 1.0f : 0.0f;
    case MBRL_ENV_MOUNTAINCAR_CONTINUOUS: return o[1] >= 0 ? 1.5f : -1.5f;
    case MBRL_ENV_MOUNTAINCAR: return o[1] >= 0 ? 2.0f : 0.0f;
    case MBRL_ENV_ACROBOT: return o[5] >= 0 ? 2.0f : 0.0f;
    default: return 0.0f;
  }
}

StepOut step(mbrl_env *e, float a) {
  StepOut s{};
  mbrl_env_step(e, &a, s.obs, &s.reward, &s.terminated, &s.truncated);
  return s;
}

}  // namespace

// ---------------------------------------------------------------- Pendulum

TEST(Pendulum, OneStepFromKnownState) {
  mbrl_env e = make_env("Pendulum-v1");
  const double st[2] = {1.0, 0.5};
  mbrl_env_set_state(&e, st);
  StepOut o = step(&e, 1.5f);
  // numpy: newthdot = 0.5 + (15 sin 1 + 3*1.5) * 0.05; newth = 1 + newthdot * 0.05
  EXPECT_DOUBLE_EQ(e.state[1], 1.3561032386059226);
  EXPECT_DOUBLE_EQ(e.state[0], 1.0678051619302962);
  // reward on the PRE-step state: -(1^2 + .1 * .5^2 + .001 * 1.5^2)
  EXPECT_FLOAT_EQ(o.reward, -1.02725f);
  EXPECT_EQ(o.obs[0], (float)std::cos(e.state[0]));
  EXPECT_EQ(o.obs[1], (float)std::sin(e.state[0]));
  EXPECT_EQ(o.obs[2], (float)e.state[1]);
  EXPECT_EQ(o.terminated, 0);
  EXPECT_EQ(o.truncated, 0);
  EXPECT_EQ(e.t, 1);
}

TEST(Pendulum, TorqueIsClipped) {
  for (float big : {2.0f, 5.0f, 1e6f}) {
    for (float sign : {1.0f, -1.0f}) {
      mbrl_env a = make_env("Pendulum-v1"), b = make_env("Pendulum-v1");
      const double st[2] = {0.3, -0.7};
      mbrl_env_set_state(&a, st);
      mbrl_env_set_state(&b, st);
      StepOut oa = step(&a, sign * big), ob = step(&b, sign * 2.0f);
      EXPECT_EQ(a.state[0], b.state[0]);
      EXPECT_EQ(a.state[1], b.state[1]);
      EXPECT_EQ(oa.reward, ob.reward) << "the reward uses the clipped torque";
    }
  }
  // the clipped torque enters the reward: -(0.3^2 + .1 * 0.7^2 + .001 * 4)
  EXPECT_FLOAT_EQ((float)mbrl_pendulum_reward(0.3, -0.7, 100.0f), -(0.09f + 0.049f + 0.004f));
}

TEST(Pendulum, SpeedClippedBeforeAngleUpdate) {
  mbrl_env e = make_env("Pendulum-v1");
  const double st[2] = {kPi / 2, 7.9};  // sin = 1: 7.9 + (15 + 6) * .05 = 8.95 -> 8
  mbrl_env_set_state(&e, st);
  step(&e, 2.0f);
  EXPECT_EQ(e.state[1], 8.0);
  EXPECT_DOUBLE_EQ(e.state[0], kPi / 2 + 8.0 * 0.05);  // uses the clipped speed, not 8.95
  const double st2[2] = {-kPi / 2, -7.9};
  mbrl_env_set_state(&e, st2);
  step(&e, -2.0f);
  EXPECT_EQ(e.state[1], -8.0);
  EXPECT_DOUBLE_EQ(e.state[0], -kPi / 2 - 8.0 * 0.05);
}

TEST(Pendulum, AngleNormalizeIsFlooredModulo) {
  EXPECT_EQ(mbrl_pendulum_angle_normalize(0.0), 0.0);
  EXPECT_EQ(mbrl_pendulum_angle_normalize(kPi), -kPi);  // (2pi mod 2pi) - pi
  EXPECT_EQ(mbrl_pendulum_angle_normalize(-kPi), -kPi);
  EXPECT_NEAR(mbrl_pendulum_angle_normalize(1.5 * kPi), -0.5 * kPi, 1e-15);
  EXPECT_NEAR(mbrl_pendulum_angle_normalize(-1.5 * kPi), 0.5 * kPi, 1e-15);
  EXPECT_NEAR(mbrl_pendulum_angle_normalize(7.0), 7.0 - 2 * kPi, 1e-15);
  EXPECT_NEAR(mbrl_pendulum_angle_normalize(-7.0), -7.0 + 2 * kPi, 1e-15);
  EXPECT_NEAR(mbrl_pendulum_angle_normalize(100.0), 100.0 - 32 * kPi, 1e-13);
  for (double x = -50; x < 50; x += 0.37) {
    double y = mbrl_pendulum_angle_normalize(x);
    EXPECT_GE(y, -kPi);
    EXPECT_LT(y, kPi);
    EXPECT_NEAR(std::remainder(x - y, 2 * kPi), 0.0, 1e-12) << x;
    EXPECT_NEAR(mbrl_pendulum_angle_normalize_f((float)x), (float)y, 2e-5) << x;
  }
  // reward uses the normalized angle: th = 2pi + 0.1 costs like th = 0.1
  EXPECT_NEAR(mbrl_pendulum_reward(2 * kPi + 0.1, 0.0, 0.0f), -0.01, 1e-14);
}

TEST(Pendulum, FloatTwinsTrackDouble) {
  mbrl_philox r;
  mbrl_philox_init(&r, 3, 0, 0);
  for (int i = 0; i < 1000; ++i) {
    double th = mbrl_philox_range_double(&r, -kPi, kPi), td = mbrl_philox_range_double(&r, -8, 8);
    float u = mbrl_philox_range_float(&r, -3.0f, 3.0f);
    float thf = (float)th, tdf = (float)td;
    EXPECT_NEAR(mbrl_pendulum_reward_f(thf, tdf, u), mbrl_pendulum_reward(th, td, u), 1e-4);
    EXPECT_NEAR(mbrl_pendulum_reward_obs_f((float)std::cos(th), (float)std::sin(th), tdf, u),
                mbrl_pendulum_reward(th, td, u), 1e-4);
    double thd = th, tdd = td;
    mbrl_pendulum_step(&thd, &tdd, u);
    mbrl_pendulum_step_f(&thf, &tdf, u);
    EXPECT_NEAR(thf, thd, 1e-5);
    EXPECT_NEAR(tdf, tdd, 1e-5);
  }
}

TEST(Pendulum, NeverTerminatesTruncatesAt200) {
  mbrl_env e = make_env("Pendulum-v1", 7, 0);
  float obs[3];
  mbrl_env_reset(&e, obs);
  for (int t = 1; t <= 200; ++t) {
    StepOut o = step(&e, 0.5f);
    EXPECT_EQ(o.terminated, 0);
    EXPECT_EQ(o.truncated, t >= 200 ? 1 : 0) << "step " << t;
  }
  mbrl_env_reset(&e, obs);
  EXPECT_EQ(e.t, 0);
  EXPECT_EQ(step(&e, 0.0f).truncated, 0);
}

// ---------------------------------------------------------------- CartPole

TEST(CartPole, OneStepFromKnownStateExplicitEuler) {
  mbrl_env e = make_env("CartPole-v1");
  const double st[4] = {0.1, -0.2, 0.05, 0.3};
  mbrl_env_set_state(&e, st);
  StepOut o = step(&e, 1.0f);
  // explicit Euler: positions advance with the OLD velocities
  EXPECT_DOUBLE_EQ(e.state[0], 0.096);
  EXPECT_DOUBLE_EQ(e.state[1], -0.005625065781779709);
  EXPECT_DOUBLE_EQ(e.state[2], 0.056);
  EXPECT_DOUBLE_EQ(e.state[3], 0.02349585151852651);
  EXPECT_EQ(o.reward, 1.0f);
  EXPECT_EQ(o.terminated, 0);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(o.obs[k], (float)e.state[k]);
  mbrl_env_set_state(&e, st);
  step(&e, 0.0f);  // push left
  EXPECT_DOUBLE_EQ(e.state[1], -0.3957976546439626);
  EXPECT_DOUBLE_EQ(e.state[3], 0.6080233136061515);
}

TEST(CartPole, TerminationThresholdsAreStrict) {
  const double th = 12 * 2 * kPi / 360;
  EXPECT_DOUBLE_EQ(MBRL_CARTPOLE_THETA_THRESHOLD, 0.20943951023931953);
  double s[4] = {2.4, 0, th, 0};
  EXPECT_EQ(mbrl_cartpole_terminated(s), 0);
  s[0] = std::nextafter(2.4, 3.0);
  EXPECT_EQ(mbrl_cartpole_terminated(s), 1);
  s[0] = -2.4;
  EXPECT_EQ(mbrl_cartpole_terminated(s), 0);
  s[0] = std::nextafter(-2.4, -3.0);
  EXPECT_EQ(mbrl_cartpole_terminated(s), 1);
  s[0] = 0;
  s[2] = std::nextafter(th, 1.0);
  EXPECT_EQ(mbrl_cartpole_terminated(s), 1);
  s[2] = -th;
  EXPECT_EQ(mbrl_cartpole_terminated(s), 0);
  s[2] = std::nextafter(-th, -1.0);
  EXPECT_EQ(mbrl_cartpole_terminated(s), 1);
}

TEST(CartPole, RewardOnTerminatingStepThenZero) {
  mbrl_env e = make_env("CartPole-v1");
  const double st[4] = {2.39, 1.0, 0.0, 0.0};  // x = 2.39 + 0.02 * 1.0 = 2.41 > 2.4
  mbrl_env_set_state(&e, st);
  StepOut o = step(&e, 1.0f);
  EXPECT_EQ(o.terminated, 1);
  EXPECT_EQ(o.reward, 1.0f) << "+1 on the terminating step too";
  EXPECT_EQ(e.steps_beyond_terminated, 0);
  o = step(&e, 1.0f);
  EXPECT_EQ(o.terminated, 1);
  EXPECT_EQ(o.reward, 0.0f) << "stepping past termination gives 0";
  EXPECT_EQ(e.steps_beyond_terminated, 1);
  o = step(&e, 0.0f);
  EXPECT_EQ(o.reward, 0.0f);
  EXPECT_EQ(e.steps_beyond_terminated, 2);
  float obs[4];
  mbrl_env_reset(&e, obs);
  EXPECT_EQ(e.steps_beyond_terminated, -1);
  EXPECT_EQ(step(&e, 1.0f).reward, 1.0f);
  // a pole falling past 12 degrees terminates too
  const double st2[4] = {0.0, 0.0, 0.2094, 1.0};
  mbrl_env_set_state(&e, st2);
  EXPECT_EQ(step(&e, 1.0f).terminated, 1);
}

TEST(CartPole, TruncatesAt500AndBothFlagsCanBeSet) {
  mbrl_env e = make_env("CartPole-v1");
  float obs[4];
  mbrl_env_reset(&e, obs);
  e.t = 498;  // pretend 498 upright steps have passed
  StepOut o = step(&e, 1.0f);
  EXPECT_EQ(o.truncated, 0);
  o = step(&e, 0.0f);
  EXPECT_EQ(e.t, 500);
  EXPECT_EQ(o.truncated, 1);
  EXPECT_EQ(o.terminated, 0);
  // falling on step 500: Gymnasium's TimeLimit returns terminated and truncated
  const double st[4] = {2.39, 1.0, 0.0, 0.0};
  mbrl_env_set_state(&e, st);
  e.t = 499;
  o = step(&e, 1.0f);
  EXPECT_EQ(o.terminated, 1);
  EXPECT_EQ(o.truncated, 1);
  EXPECT_EQ(o.reward, 1.0f);
}

TEST(CartPole, ActionIndexFromFloat) {
  mbrl_env a = make_env("CartPole-v1"), b = make_env("CartPole-v1");
  const double st[4] = {0.01, 0.02, -0.01, 0.03};
  mbrl_env_set_state(&a, st);
  mbrl_env_set_state(&b, st);
  step(&a, 1.0f);
  step(&b, 0.0f);
  EXPECT_GT(a.state[1], b.state[1]) << "action 1 pushes right";
  mbrl_env_set_state(&b, st);
  step(&b, 0.9f);  // > 0.5 counts as 1
  EXPECT_EQ(a.state[1], b.state[1]);
}

// ---------------------------------------------------------------- resets, determinism

// Gymnasium's start states from numpy itself (tests/data/nprandom_golden.txt): the golden
// file holds, per seed s, N resets of a Gymnasium env: reset(seed=s), then reset() N-1 times.

static void expect_reset(const mbrl_env_spec *spec, const double *state, const float *obs,
                         const double *want, const std::string &what) {
  for (int k = 0; k < spec->state_dim; ++k) EXPECT_EQ(state[k], want[k]) << what << " k " << k;
  if (spec->kind == MBRL_ENV_PENDULUM) {
    EXPECT_EQ(obs[0], (float)std::cos(want[0])) << what;
    EXPECT_EQ(obs[1], (float)std::sin(want[0])) << what;
    EXPECT_EQ(obs[2], (float)want[1]) << what;
  } else {
    for (int k = 0; k < 4; ++k) EXPECT_EQ(obs[k], (float)want[k]) << what;
  }
}

static const std::vector<double> &golden_resets(const npgold::Case &c, const char *id) {
  return std::string(id) == "Pendulum-v1" ? c.pendulum : c.cartpole;
}

TEST(EnvReset, SeedThenResetsEqualGymnasiumsStartStates) {
  const npgold::Golden &g = npgold::golden();
  ASSERT_TRUE(g.error.empty()) << g.error;
  int checked = 0;
  for (const auto &c : g.cases) {
    if (c.seed_hi != 0) continue;  // mbrl_env_init takes a uint64 seed
    for (const char *id : {"Pendulum-v1", "CartPole-v1"}) {
      mbrl_env e = make_env(id, c.seed_lo, 0);
      const int D = e.spec->state_dim;
      const std::vector<double> &want = golden_resets(c, id);
      float obs[4];
      for (int k = 0; k < c.n_resets; ++k) {
        e.t = 17;
        e.steps_beyond_terminated = 3;
        mbrl_env_reset(&e, obs);
        expect_reset(e.spec, e.state, obs, &want[(size_t)k * D],
                     std::string(id) + " seed " + std::to_string(c.seed_lo) + " reset " +
                         std::to_string(k));
        EXPECT_EQ(e.t, 0);
        EXPECT_EQ(e.steps_beyond_terminated, -1);
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 100);
}

TEST(EnvReset, StreamSkipsEarlierResets) {
  // init(seed, k) + reset == the (k+1)-th reset of Gymnasium's env seeded with `seed`
  for (const auto &c : npgold::golden().cases) {
    if (c.seed_hi != 0) continue;
    for (const char *id : {"Pendulum-v1", "CartPole-v1"}) {
      const std::vector<double> &want = golden_resets(c, id);
      for (int k = 0; k < c.n_resets; ++k) {
        mbrl_env e = make_env(id, c.seed_lo, (uint64_t)k);
        float obs[4];
        mbrl_env_reset(&e, obs);
        expect_reset(e.spec, e.state, obs, &want[(size_t)k * e.spec->state_dim],
                     std::string(id) + " seed " + std::to_string(c.seed_lo) + " stream " +
                         std::to_string(k));
      }
    }
  }
  // a huge stream is a jump-ahead, not a loop: init(s, 2^40) then one reset == init(s,
  // 2^40 - 1) then two resets
  for (const char *id : {"Pendulum-v1", "CartPole-v1"}) {
    mbrl_env a = make_env(id, 3, 1ull << 40), b = make_env(id, 3, (1ull << 40) - 1);
    float oa[4], ob[4];
    mbrl_env_reset(&a, oa);
    mbrl_env_reset(&b, ob);
    mbrl_env_reset(&b, ob);
    for (int k = 0; k < a.spec->state_dim; ++k) EXPECT_EQ(a.state[k], b.state[k]) << id;
  }
}

TEST(EnvReset, SetStateDrawsNothing) {
  const npgold::Case &c = npgold::golden().cases.at(1);  // seed 1
  ASSERT_EQ(c.seed_hi, 0u);
  mbrl_env e = make_env("Pendulum-v1", c.seed_lo, 0);
  float obs[3];
  const double st[2] = {0.5, 0.25};
  mbrl_env_set_state(&e, st);
  mbrl_env_reset(&e, obs);
  expect_reset(e.spec, e.state, obs, &c.pendulum[0], "first reset after set_state");
}

TEST(EnvReset, RangesOverManyDraws) {
  const int n = 20000;
  mbrl_env p = make_env("Pendulum-v1", 11, 0), c = make_env("CartPole-v1", 11, 1);
  double lo[6] = {1e9, 1e9, 1e9, 1e9, 1e9, 1e9}, hi[6] = {-1e9, -1e9, -1e9, -1e9, -1e9, -1e9};
  double sum[6] = {0};
  float obs[4];
  for (int i = 0; i < n; ++i) {
    mbrl_env_reset(&p, obs);
    mbrl_env_reset(&c, obs);
    double v[6] = {p.state[0], p.state[1], c.state[0], c.state[1], c.state[2], c.state[3]};
    for (int k = 0; k < 6; ++k) {
      lo[k] = std::min(lo[k], v[k]);
      hi[k] = std::max(hi[k], v[k]);
      sum[k] += v[k];
    }
    ASSERT_GE(p.state[0], -kPi);
    ASSERT_LT(p.state[0], kPi);
    ASSERT_GE(p.state[1], -1.0);
    ASSERT_LT(p.state[1], 1.0);
    for (int k = 0; k < 4; ++k) {
      ASSERT_GE(c.state[k], -0.05);
      ASSERT_LT(c.state[k], 0.05);
    }
  }
  const double bound[6] = {kPi, 1, .05, .05, .05, .05};
  for (int k = 0; k < 6; ++k) {
    EXPECT_LT(lo[k], -0.999 * bound[k]) << k;  // the whole range is covered
    EXPECT_GT(hi[k], 0.999 * bound[k]) << k;
    // mean of U[-b, b): sd b/sqrt(3n) ~ 0.004 b; 5 sd
    EXPECT_NEAR(sum[k] / n, 0.0, 0.02 * bound[k]) << k;
  }
}

TEST(EnvDeterminism, SameSeedSameNumbersOtherStreamOtherNumbers) {
  for (int i = 0; i < MBRL_ENV_COUNT; ++i) {
    const char *id = mbrl_env_at(i)->id;
    mbrl_env a = make_env(id, 9, 3), b = make_env(id, 9, 3), c = make_env(id, 9, 4);
    float oa[MBRL_MAX_DIM] = {0}, ob[MBRL_MAX_DIM] = {0}, oc[MBRL_MAX_DIM] = {0};
    mbrl_env_reset(&a, oa);
    mbrl_env_reset(&b, ob);
    mbrl_env_reset(&c, oc);
    EXPECT_NE(a.state[0], c.state[0]) << id;
    mbrl_philox pol;
    mbrl_philox_init(&pol, 5, 0, 0);
    for (int t = 0; t < 600; ++t) {
      const float act = random_action(a.spec, &pol);
      StepOut sa = step(&a, act), sb = step(&b, act);
      ASSERT_EQ(0, std::memcmp(&sa, &sb, sizeof sa)) << id << " t=" << t;
      if (sa.terminated || sa.truncated) {
        mbrl_env_reset(&a, oa);
        mbrl_env_reset(&b, ob);
        ASSERT_EQ(0, std::memcmp(oa, ob, sizeof oa));
      }
    }
  }
}

// ---------------------------------------------------------------- batch == singles

static void batch_equals_singles(const char *id, int B, int T, bool with_next_obs) {
  const uint64_t seed = 123, stream0 = 10;
  mbrl_env_batch eb;
  ASSERT_EQ(mbrl_env_batch_init(&eb, id, B, seed, stream0), MBRL_OK) << mbrl_last_error();
  const int O = eb.spec->obs_dim;
  std::vector<mbrl_env> singles(B);
  for (int b = 0; b < B; ++b)
    ASSERT_EQ(mbrl_env_init(&singles[b], id, seed + b, stream0), MBRL_OK);

  std::vector<float> obs(B * O), nobs(B * O), rew(B), sobs(B * O), snobs(B * O), srew(B);
  std::vector<float> act(B);
  std::vector<uint8_t> term(B), trunc(B);
  mbrl_env_batch_reset(&eb, obs.data());
  for (int b = 0; b < B; ++b) mbrl_env_reset(&singles[b], &sobs[b * O]);
  ASSERT_EQ(obs, sobs);

  mbrl_philox pol;
  mbrl_philox_init(&pol, 77, 0, 0);
  int episodes_done = 0;
  for (int t = 0; t < T; ++t) {
    for (int b = 0; b < B; ++b) act[b] = random_action(eb.spec, &pol);
    mbrl_env_batch_step(&eb, act.data(), obs.data(), with_next_obs ? nobs.data() : nullptr,
                        rew.data(), term.data(), trunc.data());
    for (int b = 0; b < B; ++b) {
      int te, tr;
      mbrl_env_step(&singles[b], &act[b], &snobs[b * O], &srew[b], &te, &tr);
      ASSERT_EQ(term[b], te) << "env " << b << " t " << t;
      ASSERT_EQ(trunc[b], tr) << "env " << b << " t " << t;
      if (with_next_obs) {
        for (int k = 0; k < O; ++k) ASSERT_EQ(nobs[b * O + k], snobs[b * O + k]);
      }
      if (te || tr) {
        mbrl_env_reset(&singles[b], &sobs[b * O]);
        ++episodes_done;
      } else {
        std::memcpy(&sobs[b * O], &snobs[b * O], O * sizeof(float));
      }
    }
    ASSERT_EQ(rew, srew) << "t " << t;
    ASSERT_EQ(obs, sobs) << "t " << t;
    for (int b = 0; b < B; ++b) {
      ASSERT_EQ(eb.t[b], singles[b].t);
      for (int k = 0; k < eb.spec->state_dim; ++k) ASSERT_EQ(eb.s[k][b], singles[b].state[k]);
    }
  }
  EXPECT_GT(episodes_done, B) << "the run should cross several auto-resets";
  mbrl_env_batch_free(&eb);
  mbrl_env_batch_free(&eb);  // safe twice
}

TEST(EnvBatch, EveryEnvEqualsSingles) {
  // long enough for every env to cross auto-resets (MountainCarContinuous: 999 steps)
  for (int i = 0; i < MBRL_ENV_COUNT; ++i) {
    const mbrl_env_spec *spec = mbrl_env_at(i);
    SCOPED_TRACE(spec->id);
    const int T = spec->max_steps * 5 / 2;
    batch_equals_singles(spec->id, 5, T, true);
    batch_equals_singles(spec->id, 3, T, false);
  }
}

// Gymnasium's vector-env convention: envs.reset(seed=s) seeds env b with s + b, and an
// autoreset continues env b's generator (its next reset()).
static const npgold::Case *golden_case(uint64_t hi, uint64_t lo) {
  for (const auto &c : npgold::golden().cases)
    if (c.seed_hi == hi && c.seed_lo == lo) return &c;
  return nullptr;
}

TEST(EnvBatch, EnvBIsGymnasiumSeededWithSeedPlusBAndAutoresetsContinueIt) {
  ASSERT_TRUE(npgold::golden().error.empty()) << npgold::golden().error;
  for (const char *id : {"Pendulum-v1", "CartPole-v1"}) {
    // seed 2^64 - 1: env 1 is seeded with the integer 2^64, as in Python
    for (uint64_t seed : {0ull, 18446744073709551615ull}) {
      for (uint64_t stream0 : {0ull, 2ull}) {
        const int B = 2;
        mbrl_env_batch eb;
        ASSERT_EQ(mbrl_env_batch_init(&eb, id, B, seed, stream0), MBRL_OK) << mbrl_last_error();
        const int O = eb.spec->obs_dim, D = eb.spec->state_dim;
        std::vector<float> obs(B * O), rew(B), act(B, 0.0f);
        std::vector<uint8_t> te(B), tr(B);
        mbrl_env_batch_reset(&eb, obs.data());
        std::vector<int> resets(B, (int)stream0);
        const npgold::Case *cs[2] = {golden_case(0, seed), golden_case(seed == 0 ? 0 : 1, seed + 1)};
        ASSERT_NE(cs[0], nullptr);
        ASSERT_NE(cs[1], nullptr);
        int autoresets = 0, left = B;
        for (int t = 0; left > 0 && t < 5000; ++t) {
          for (int b = 0; b < B; ++b) {
            if (t > 0 && !te[b] && !tr[b]) continue;
            if (t > 0) ++autoresets;
            const int k = resets[b]++;
            if (k >= cs[b]->n_resets) continue;  // past the golden resets
            if (k == cs[b]->n_resets - 1) --left;
            double st[4];
            for (int j = 0; j < D; ++j) st[j] = eb.s[j][b];
            expect_reset(eb.spec, st, &obs[b * O], &golden_resets(*cs[b], id)[(size_t)k * D],
                         std::string(id) + " env " + std::to_string(b) + " reset " +
                             std::to_string(k) + " stream0 " + std::to_string(stream0));
          }
          for (int b = 0; b < B; ++b) act[b] = (float)((t + b) % 2);  // CartPole wiggles
          mbrl_env_batch_step(&eb, act.data(), obs.data(), nullptr, rew.data(), te.data(),
                              tr.data());
        }
        EXPECT_EQ(left, 0) << id << ": every golden reset should be reached";
        EXPECT_GE(autoresets, 2 * B) << id;
        mbrl_env_batch_free(&eb);
      }
    }
  }
}

TEST(EnvBatch, FragmentRowsTimesEnvs) {
  // seed 004's T x B fragment: obs (T+1, B, O), stepping row t into row t+1
  const int T = 30, B = 4;
  mbrl_env_batch eb;
  ASSERT_EQ(mbrl_env_batch_init(&eb, "CartPole-v1", B, 5, 0), MBRL_OK);
  const int O = 4;
  std::vector<float> obs((T + 1) * B * O), nobs(T * B * O), act(T * B), rew(T * B);
  std::vector<uint8_t> te(T * B), tr(T * B);
  mbrl_env_batch_reset(&eb, obs.data());
  for (int t = 0; t < T; ++t) {
    for (int b = 0; b < B; ++b) act[t * B + b] = (float)((t + b) % 2);
    mbrl_env_batch_step(&eb, &act[t * B], &obs[(t + 1) * B * O], &nobs[t * B * O], &rew[t * B],
                        &te[t * B], &tr[t * B]);
  }
  // every non-final transition links: next_obs of row t == obs of row t+1
  for (int t = 0; t < T; ++t) {
    for (int b = 0; b < B; ++b) {
      if (te[t * B + b] || tr[t * B + b]) continue;
      for (int k = 0; k < O; ++k)
        ASSERT_EQ(nobs[(t * B + b) * O + k], obs[((t + 1) * B + b) * O + k]);
    }
  }
  mbrl_env_batch_free(&eb);
}

TEST(EnvBatch, BadArguments) {
  mbrl_env_batch eb;
  EXPECT_EQ(mbrl_env_batch_init(&eb, "Pendulum-v1", 0, 1, 0), MBRL_ERR_INVALID_ARG);
  EXPECT_NE(std::string(mbrl_last_error()).find("B=0"), std::string::npos) << mbrl_last_error();
  EXPECT_EQ(mbrl_env_batch_init(&eb, "Acrobot-v0", 4, 1, 0), MBRL_ERR_INVALID_ARG);
  EXPECT_EQ(eb.s[0], nullptr);
  mbrl_env_batch_free(&eb);
  EXPECT_EQ(mbrl_env_batch_physics(mbrl_env_find("Pendulum-v1"), -1, nullptr, nullptr, nullptr,
                                   nullptr, nullptr),
            MBRL_ERR_INVALID_ARG);
  EXPECT_EQ(mbrl_env_batch_physics(nullptr, 1, nullptr, nullptr, nullptr, nullptr, nullptr),
            MBRL_ERR_INVALID_ARG);
}

// ---------------------------------------------------------------- spec lookup

TEST(EnvSpec, LookupById) {
  const mbrl_env_spec *p = mbrl_env_find("Pendulum-v1");
  ASSERT_NE(p, nullptr);
  EXPECT_STREQ(p->id, "Pendulum-v1");
  EXPECT_EQ(p->kind, MBRL_ENV_PENDULUM);
  EXPECT_EQ(p->obs_dim, 3);
  EXPECT_EQ(p->act_dim, 1);
  EXPECT_EQ(p->discrete, 0);
  EXPECT_EQ(p->act_low[0], -2.0f);
  EXPECT_EQ(p->act_high[0], 2.0f);
  EXPECT_EQ(p->obs_high[2], 8.0f);
  EXPECT_EQ(p->obs_low[0], -1.0f);
  EXPECT_EQ(p->max_steps, 200);
  const mbrl_env_spec *c = mbrl_env_find("CartPole-v1");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->kind, MBRL_ENV_CARTPOLE);
  EXPECT_EQ(c->obs_dim, 4);
  EXPECT_EQ(c->act_dim, 1);
  EXPECT_EQ(c->discrete, 1);
  EXPECT_EQ(c->n_actions, 2);
  EXPECT_EQ(c->act_low[0], 0.0f);
  EXPECT_EQ(c->act_high[0], 1.0f);
  EXPECT_EQ(c->obs_high[0], 4.8f);
  EXPECT_EQ(c->obs_high[1], INFINITY);
  EXPECT_EQ(c->obs_low[3], -INFINITY);
  EXPECT_EQ(c->obs_high[2], (float)(2 * 12 * 2 * kPi / 360));
  EXPECT_EQ(c->max_steps, 500);
}

TEST(EnvSpec, UnknownIdIsAnErrorNamingKnownIds) {
  EXPECT_EQ(mbrl_env_find("pendulum"), nullptr);
  std::string msg = mbrl_last_error();
  EXPECT_NE(msg.find("'pendulum'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Pendulum-v1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("CartPole-v1"), std::string::npos) << msg;
  EXPECT_EQ(mbrl_env_find(nullptr), nullptr);
  mbrl_env e;
  EXPECT_EQ(mbrl_env_init(&e, "CartPole-v0", 1, 0), MBRL_ERR_INVALID_ARG);
  EXPECT_NE(std::string(mbrl_last_error()).find("CartPole-v0"), std::string::npos);
}


// ---------------------------------------------------------------- the registry

TEST(EnvRegistry, EveryEnvIsCompleteAndFoundById) {
  const std::string ids = mbrl_env_known_ids();
  EXPECT_EQ(ids, "Pendulum-v1, CartPole-v1, MountainCarContinuous-v0, MountainCar-v0, Acrobot-v1");
  EXPECT_EQ(MBRL_ENV_COUNT, 5);
  for (int i = 0; i < MBRL_ENV_COUNT; ++i) {
    const mbrl_env_spec *s = mbrl_env_at(i);
    ASSERT_NE(s, nullptr);
    SCOPED_TRACE(s->id);
    EXPECT_EQ((int)s->kind, i);
    EXPECT_EQ(mbrl_env_find(s->id), s);
    EXPECT_NE(ids.find(s->id), std::string::npos);
    EXPECT_GE(s->obs_dim, 1);
    EXPECT_LE(s->obs_dim, MBRL_MAX_DIM);
    EXPECT_EQ(s->act_dim, 1);
    EXPECT_GE(s->state_dim, 1);
    EXPECT_LE(s->state_dim, MBRL_ENV_MAX_STATE);
    EXPECT_GE(s->reset_draws, 1);
    EXPECT_GT(s->max_steps, 0);
    EXPECT_EQ(s->discrete, s->n_actions > 0);
    if (s->discrete) {
      EXPECT_EQ(s->act_low[0], 0.0f);
      EXPECT_EQ(s->act_high[0], (float)(s->n_actions - 1));
    } else {
      EXPECT_LT(s->act_low[0], s->act_high[0]);
    }
    for (int k = 0; k < s->obs_dim; ++k) {
      EXPECT_LT(s->obs_low[k], s->obs_high[k]) << k;
      ASSERT_NE(s->obs_names[k], nullptr) << k;
      EXPECT_GT(std::strlen(s->obs_names[k]), 0u) << k;
    }
    ASSERT_NE(s->shaped_cost_doc, nullptr);
    EXPECT_GT(std::strlen(s->shaped_cost_doc), 10u);
    EXPECT_TRUE(s->reset_state && s->step_state && s->obs_from_state && s->reward_obs &&
                s->terminal_obs && s->oracle_step && s->shaped_cost);
  }
  EXPECT_EQ(mbrl_env_at(-1), nullptr);
  EXPECT_EQ(mbrl_env_at(MBRL_ENV_COUNT), nullptr);
  // Gymnasium's spaces and time limits of the three envs added with the registry
  const mbrl_env_spec *mcc = mbrl_env_find("MountainCarContinuous-v0");
  ASSERT_NE(mcc, nullptr);
  EXPECT_EQ(mcc->max_steps, 999);
  EXPECT_EQ(mcc->act_low[0], -1.0f);
  EXPECT_EQ(mcc->obs_high[1], 0.07f);
  const mbrl_env_spec *mc = mbrl_env_find("MountainCar-v0");
  ASSERT_NE(mc, nullptr);
  EXPECT_EQ(mc->n_actions, 3);
  EXPECT_EQ(mc->max_steps, 200);
  EXPECT_EQ(mc->obs_low[0], -1.2f);
  const mbrl_env_spec *ac = mbrl_env_find("Acrobot-v1");
  ASSERT_NE(ac, nullptr);
  EXPECT_EQ(ac->n_actions, 3);
  EXPECT_EQ(ac->obs_dim, 6);
  EXPECT_EQ(ac->max_steps, 500);
  EXPECT_EQ(ac->obs_high[5], (float)(9 * kPi));
}

TEST(EnvRegistry, ActionIndexOfAFloat) {
  EXPECT_EQ(mbrl_env_action_index(0.0f, 3), 0);
  EXPECT_EQ(mbrl_env_action_index(1.0f, 3), 1);
  EXPECT_EQ(mbrl_env_action_index(2.0f, 3), 2);
  EXPECT_EQ(mbrl_env_action_index(0.5f, 3), 0);
  EXPECT_EQ(mbrl_env_action_index(std::nextafter(0.5f, 1.0f), 3), 1);
  EXPECT_EQ(mbrl_env_action_index(1.5f, 3), 1);
  EXPECT_EQ(mbrl_env_action_index(1.51f, 3), 2);
  EXPECT_EQ(mbrl_env_action_index(-4.0f, 3), 0);
  EXPECT_EQ(mbrl_env_action_index(9.0f, 3), 2);
  EXPECT_EQ(mbrl_env_action_index(NAN, 3), 0);
  EXPECT_EQ(mbrl_env_action_index(0.9f, 2), 1);
  EXPECT_EQ(mbrl_env_action_index(7.0f, 2), 1);
}

// ---------------------------------------------------------------- every env: resets, steps

TEST(EnvReset, EveryEnvStreamSkipsEarlierResets) {
  for (int i = 0; i < MBRL_ENV_COUNT; ++i) {
    const mbrl_env_spec *spec = mbrl_env_at(i);
    SCOPED_TRACE(spec->id);
    mbrl_env ref = make_env(spec->id, 21, 0);
    float want[MBRL_MAX_DIM], got[MBRL_MAX_DIM];
    for (uint64_t k = 0; k < 6; ++k) {
      mbrl_env_reset(&ref, want);
      mbrl_env e = make_env(spec->id, 21, k);
      mbrl_env_reset(&e, got);
      for (int j = 0; j < spec->state_dim; ++j) ASSERT_EQ(e.state[j], ref.state[j]) << k;
      for (int j = 0; j < spec->obs_dim; ++j) ASSERT_EQ(got[j], want[j]) << k;
    }
    mbrl_env a = make_env(spec->id, 3, 1ull << 40), b = make_env(spec->id, 3, (1ull << 40) - 1);
    mbrl_env_reset(&a, got);
    mbrl_env_reset(&b, want);
    mbrl_env_reset(&b, want);
    for (int j = 0; j < spec->state_dim; ++j) EXPECT_EQ(a.state[j], b.state[j]);
  }
}

TEST(EnvReset, EveryEnvResetsInsideItsObservationSpace) {
  for (int i = 0; i < MBRL_ENV_COUNT; ++i) {
    const mbrl_env_spec *spec = mbrl_env_at(i);
    SCOPED_TRACE(spec->id);
    mbrl_env e = make_env(spec->id, 5, 0);
    float obs[MBRL_MAX_DIM], again[MBRL_MAX_DIM];
    for (int n = 0; n < 2000; ++n) {
      mbrl_env_reset(&e, obs);
      mbrl_env_obs(&e, again);
      for (int k = 0; k < spec->obs_dim; ++k) {
        ASSERT_GE(obs[k], spec->obs_low[k]) << k;
        ASSERT_LE(obs[k], spec->obs_high[k]) << k;
        // Acrobot's reset observation is numpy's float32 cos/sin: within one float32 ulp
        ASSERT_LE(std::fabs(obs[k] - again[k]), std::nextafter(std::fabs(again[k]), 2.0f) -
                                                     std::fabs(again[k]))
            << k;
      }
    }
  }
}

TEST(EnvStep, MountainCarLeftWallStopsTheCar) {
  for (const char *id : {"MountainCar-v0", "MountainCarContinuous-v0"}) {
    mbrl_env e = make_env(id);
    const double st[2] = {-1.19, -0.05};
    mbrl_env_set_state(&e, st);
    StepOut o = step(&e, 0.0f);  // push left (or no force): the car hits the wall
    const bool f32 = std::string(id) == "MountainCarContinuous-v0";  // stores float32
    EXPECT_EQ(e.state[0], f32 ? (double)(float)-1.2 : -1.2) << id;
    EXPECT_EQ(e.state[1], 0.0) << id;
    EXPECT_EQ(o.obs[0], -1.2f) << id;
    EXPECT_EQ(o.obs[1], 0.0f) << id;
    EXPECT_EQ(o.terminated, 0);
  }
  mbrl_env e = make_env("MountainCar-v0");
  const double st[2] = {-1.19, -0.05};
  mbrl_env_set_state(&e, st);
  EXPECT_EQ(step(&e, 0.0f).reward, -1.0f);
}

TEST(EnvStep, MountainCarContinuousRewardUsesTheUnclippedAction) {
  mbrl_env a = make_env("MountainCarContinuous-v0"), b = make_env("MountainCarContinuous-v0");
  const double st[2] = {-0.5, 0.01};
  mbrl_env_set_state(&a, st);
  mbrl_env_set_state(&b, st);
  StepOut oa = step(&a, 3.0f), ob = step(&b, 1.0f);
  EXPECT_EQ(a.state[0], b.state[0]) << "the force is clipped to 1";
  EXPECT_EQ(a.state[1], b.state[1]);
  EXPECT_EQ(oa.reward, (float)(0.0 - 9.0 * 0.1)) << "the reward is not";
  EXPECT_EQ(ob.reward, (float)(0.0 - 1.0 * 0.1));
  // reaching the goal: +100, terminated
  const double goal[2] = {0.449, 0.05};
  mbrl_env_set_state(&a, goal);
  oa = step(&a, 0.5f);
  EXPECT_EQ(oa.terminated, 1);
  EXPECT_EQ(oa.reward, (float)(100.0 - 0.25 * 0.1));
}

TEST(EnvStep, AcrobotWrapsAnglesAndBoundsVelocities) {
  mbrl_env e = make_env("Acrobot-v1");
  const double st[4] = {3.1, -3.1, 12.0, -27.0};
  mbrl_env_set_state(&e, st);
  StepOut o = step(&e, 2.0f);
  EXPECT_GE(e.state[0], -kPi);
  EXPECT_LE(e.state[0], kPi);
  EXPECT_GE(e.state[1], -kPi);
  EXPECT_LE(e.state[1], kPi);
  EXPECT_LE(std::fabs(e.state[2]), 4 * kPi);
  EXPECT_LE(std::fabs(e.state[3]), 9 * kPi);
  EXPECT_EQ(o.reward, o.terminated ? 0.0f : -1.0f);
  const double fast[4] = {0.0, 0.0, 100.0, -100.0};
  mbrl_env_set_state(&e, fast);
  step(&e, 1.0f);
  EXPECT_EQ(std::fabs(e.state[2]), 4 * kPi);
  EXPECT_EQ(std::fabs(e.state[3]), 9 * kPi);
  // the tip above the line terminates with reward 0: both links up
  const double up[4] = {kPi - 0.01, 0.0, 0.0, 0.0};
  mbrl_env_set_state(&e, up);
  o = step(&e, 1.0f);
  EXPECT_EQ(o.terminated, 1);
  EXPECT_EQ(o.reward, 0.0f);
}

// The planner's functions of each env (on observations, in float) against the exact env on
// its own transitions (episodes to their end, of uniform random and of energy-pumping
// actions in turn): reward_obs equals
// the step's reward (float) within REWARD_TOL, terminal_obs equals `terminated` exactly,
// the oracle step is within ORACLE_TOL of the env's next observation (|a-b| <= atol +
// rtol |b|, the worst ratio printed), shaped_cost is finite. tests/py_gym_envs.py does the
// same against Gymnasium itself.
TEST(EnvPlannerFunctions, TrackTheExactEnvOnItsTransitions) {
  struct Tol {
    double reward_atol, reward_rtol, oracle_atol, oracle_rtol;
  };
  const Tol tol[MBRL_ENV_COUNT] = {
      {1e-5, 1e-6, 2e-6, 2e-6},  // Pendulum: float reward from atan2 of float cos/sin
      {0, 0, 1e-6, 1e-6},        // CartPole
      {1e-6, 1e-6, 1e-7, 1e-6},  // MountainCarContinuous
      {0, 0, 1e-7, 1e-6},        // MountainCar
      {0, 0, 1e-5, 1e-5},        // Acrobot: rk4 in float from atan2 angles
  };
  for (int i = 0; i < MBRL_ENV_COUNT; ++i) {
    const mbrl_env_spec *spec = mbrl_env_at(i);
    SCOPED_TRACE(spec->id);
    const int O = spec->obs_dim;
    mbrl_env e = make_env(spec->id, 40 + i, 0);
    mbrl_philox pol;
    mbrl_philox_init(&pol, 8, (uint64_t)i, 0);
    float obs[MBRL_MAX_DIM], next[MBRL_MAX_DIM], oracle[MBRL_MAX_DIM];
    mbrl_env_reset(&e, obs);
    double worst_r = 0, worst_o = 0;
    int terminals = 0, steps = 0;
    int episode = 0;
    for (; steps < 20000; ++steps) {
      const float a = episode % 2 ? pump_action(spec, obs) : random_action(spec, &pol);
      float r;
      int te, tr;
      mbrl_env_step(&e, &a, next, &r, &te, &tr);
      const float ro = spec->reward_obs(obs, &a, next);
      if (tol[i].reward_atol == 0) {
        ASSERT_EQ(ro, r) << "step " << steps;
      } else {
        worst_r = std::max(worst_r, std::fabs((double)ro - r) /
                                        (tol[i].reward_atol + tol[i].reward_rtol * std::fabs(r)));
      }
      ASSERT_EQ(spec->terminal_obs(next), te) << "step " << steps;
      spec->oracle_step(obs, &a, oracle);
      worst_o = std::max(worst_o, mbrl_test::worst_ratio(oracle, next, (size_t)O,
                                                         tol[i].oracle_atol, tol[i].oracle_rtol));
      ASSERT_TRUE(std::isfinite(spec->shaped_cost(obs, &a, next))) << "step " << steps;
      terminals += te;
      if (te || tr) {
        ++episode;
        mbrl_env_reset(&e, obs);
      } else {
        std::memcpy(obs, next, sizeof obs);
      }
    }
    std::printf("%-26s %d steps, %d terminations: reward error/tol %.3g, oracle error/tol %.3g\n",
                spec->id, steps, terminals, worst_r, worst_o);
    EXPECT_LE(worst_r, 1.0);
    EXPECT_LE(worst_o, 1.0);
  }
}

// The physics op (B states at once, no time limit) equals B single envs stepped from the
// same states, for every env; on CUDA it tracks the CPU twin (device sin/cos/FMA differ in
// the last bits).
static void physics_inputs(const mbrl_env_spec *spec, int B, std::vector<double> *s,
                           std::vector<float> *act, uint64_t seed) {
  mbrl_env e = make_env(spec->id, seed, 0);
  mbrl_philox pol;
  mbrl_philox_init(&pol, seed, 1, 0);
  s->assign((size_t)spec->state_dim * B, 0.0);
  act->resize((size_t)B);
  float obs[MBRL_MAX_DIM];
  mbrl_env_reset(&e, obs);
  for (int b = 0; b < B; ++b) {  // states along random-policy episodes
    const float a = random_action(spec, &pol);
    float r;
    int te, tr;
    mbrl_env_step(&e, &a, obs, &r, &te, &tr);
    if (te || tr) mbrl_env_reset(&e, obs);
    for (int k = 0; k < spec->state_dim; ++k) (*s)[(size_t)k * B + b] = e.state[k];
    (*act)[b] = random_action(spec, &pol);
  }
}

TEST(EnvPhysics, EqualsSingleEnvSteps) {
  const int B = 300;
  for (int i = 0; i < MBRL_ENV_COUNT; ++i) {
    const mbrl_env_spec *spec = mbrl_env_at(i);
    SCOPED_TRACE(spec->id);
    const int O = spec->obs_dim, D = spec->state_dim;
    std::vector<double> s;
    std::vector<float> act;
    physics_inputs(spec, B, &s, &act, 60 + i);
    const std::vector<double> s0 = s;
    std::vector<float> obs((size_t)B * O), rew(B);
    std::vector<uint8_t> te(B);
    ASSERT_EQ(mbrl_env_batch_physics(spec, B, s.data(), act.data(), obs.data(), rew.data(),
                                     te.data()),
              MBRL_OK)
        << mbrl_last_error();
    for (int b = 0; b < B; ++b) {
      mbrl_env e = make_env(spec->id);
      double st[MBRL_ENV_MAX_STATE];
      for (int k = 0; k < D; ++k) st[k] = s0[(size_t)k * B + b];
      mbrl_env_set_state(&e, st);
      StepOut o = step(&e, act[b]);
      for (int k = 0; k < D; ++k) ASSERT_EQ(s[(size_t)k * B + b], e.state[k]) << b;
      for (int k = 0; k < O; ++k) ASSERT_EQ(obs[(size_t)b * O + k], o.obs[k]) << b;
      ASSERT_EQ(rew[b], o.reward) << b;
      ASSERT_EQ(te[b], o.terminated) << b;
    }
    // NULL outputs are skipped; B = 0 does nothing
    ASSERT_EQ(mbrl_env_batch_physics(spec, B, s.data(), act.data(), nullptr, nullptr, nullptr),
              MBRL_OK);
    ASSERT_EQ(mbrl_env_batch_physics(spec, 0, nullptr, nullptr, nullptr, nullptr, nullptr), MBRL_OK);
  }
}

#ifdef MBRL_HAVE_CUDA
#define CUDA_OK(x) ASSERT_EQ((x), cudaSuccess) << #x
#endif

TEST(EnvPhysicsCuda, EveryEnvMatchesTheCpuTwin) {
  MBRL_REQUIRE_GPU();
#ifdef MBRL_HAVE_CUDA
  const int B = 10007, steps = 20;
  for (int i = 0; i < MBRL_ENV_COUNT; ++i) {
    const mbrl_env_spec *spec = mbrl_env_at(i);
    SCOPED_TRACE(spec->id);
    const int O = spec->obs_dim, D = spec->state_dim;
    std::vector<double> s, gs((size_t)D * B);
    std::vector<float> act;
    physics_inputs(spec, B, &s, &act, 90 + i);
    double *d_s;
    float *d_a, *d_obs, *d_rew;
    uint8_t *d_te;
    CUDA_OK(cudaMalloc(&d_s, s.size() * sizeof(double)));
    CUDA_OK(cudaMalloc(&d_a, (size_t)B * sizeof(float)));
    CUDA_OK(cudaMalloc(&d_obs, (size_t)B * O * sizeof(float)));
    CUDA_OK(cudaMalloc(&d_rew, (size_t)B * sizeof(float)));
    CUDA_OK(cudaMalloc(&d_te, (size_t)B));
    CUDA_OK(cudaMemcpy(d_s, s.data(), s.size() * sizeof(double), cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(d_a, act.data(), (size_t)B * sizeof(float), cudaMemcpyHostToDevice));
    std::vector<float> obs((size_t)B * O), rew(B), gobs((size_t)B * O), grew(B);
    std::vector<uint8_t> te(B), gte(B);
    double worst_obs = 0, worst_rew = 0;
    int term_differ = 0;
    for (int t = 0; t < steps; ++t) {
      // each step restarts from the CPU's state, so the comparison stays one step deep
      CUDA_OK(cudaMemcpy(d_s, s.data(), s.size() * sizeof(double), cudaMemcpyHostToDevice));
      ASSERT_EQ(mbrl_env_batch_physics(spec, B, s.data(), act.data(), obs.data(), rew.data(),
                                       te.data()),
                MBRL_OK);
      ASSERT_EQ(mbrl_env_batch_physics_cuda(spec, B, d_s, d_a, d_obs, d_rew, d_te, nullptr),
                MBRL_OK)
          << mbrl_last_error();
      CUDA_OK(cudaDeviceSynchronize());
      CUDA_OK(cudaMemcpy(gobs.data(), d_obs, gobs.size() * sizeof(float), cudaMemcpyDeviceToHost));
      CUDA_OK(cudaMemcpy(grew.data(), d_rew, grew.size() * sizeof(float), cudaMemcpyDeviceToHost));
      CUDA_OK(cudaMemcpy(gte.data(), d_te, (size_t)B, cudaMemcpyDeviceToHost));
      // device sin/cos and FMA contraction differ from glibc by a few ulps
      worst_obs = std::max(worst_obs, mbrl_test::worst_ratio(gobs.data(), obs.data(), gobs.size(), 1e-5, 1e-5));
      worst_rew = std::max(worst_rew, mbrl_test::worst_ratio(grew.data(), rew.data(), (size_t)B, 1e-5, 1e-5));
      for (int b = 0; b < B; ++b) term_differ += gte[b] != te[b];
    }
    EXPECT_LE(worst_obs, 1.0);
    EXPECT_LE(worst_rew, 1.0);
    EXPECT_LE(term_differ, 2) << "terminations may differ only at the boundary";
    std::printf("%s cuda vs cpu: worst obs ratio %.3g, reward ratio %.3g, %d terminations differ\n",
                spec->id, worst_obs, worst_rew, term_differ);
    cudaFree(d_s);
    cudaFree(d_a);
    cudaFree(d_obs);
    cudaFree(d_rew);
    cudaFree(d_te);
  }
#endif
}
