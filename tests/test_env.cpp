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
#include "mbrl/cartpole.h"
#include "mbrl/env.h"
#include "mbrl/pendulum.h"
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
  float obs[4];
  float reward;
  int terminated, truncated;
};

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
  for (const char *id : {"Pendulum-v1", "CartPole-v1"}) {
    mbrl_env a = make_env(id, 9, 3), b = make_env(id, 9, 3), c = make_env(id, 9, 4);
    float oa[4] = {0}, ob[4] = {0}, oc[4] = {0};
    mbrl_env_reset(&a, oa);
    mbrl_env_reset(&b, ob);
    mbrl_env_reset(&c, oc);
    EXPECT_NE(a.state[0], c.state[0]);
    for (int t = 0; t < 300; ++t) {
      float act = (t % 3 == 0) ? 1.0f : (t % 3 == 1 ? 0.0f : -1.3f);
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
    for (int b = 0; b < B; ++b)
      act[b] = eb.spec->discrete ? (float)mbrl_philox_below(&pol, 2)
                                 : mbrl_philox_range_float(&pol, -2.5f, 2.5f);
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

TEST(EnvBatch, PendulumEqualsSingles) { batch_equals_singles("Pendulum-v1", 5, 450, true); }
TEST(EnvBatch, PendulumEqualsSinglesWithoutNextObs) {
  batch_equals_singles("Pendulum-v1", 3, 420, false);
}
TEST(EnvBatch, CartPoleEqualsSingles) { batch_equals_singles("CartPole-v1", 7, 300, true); }
TEST(EnvBatch, CartPoleEqualsSinglesWithoutNextObs) {
  batch_equals_singles("CartPole-v1", 4, 200, false);
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
  EXPECT_EQ(mbrl_env_batch_init(&eb, "Acrobot-v1", 4, 1, 0), MBRL_ERR_INVALID_ARG);
  EXPECT_EQ(eb.s[0], nullptr);
  mbrl_env_batch_free(&eb);
  EXPECT_EQ(mbrl_pendulum_batch_step(-1, nullptr, nullptr, nullptr, nullptr, nullptr),
            MBRL_ERR_INVALID_ARG);
}

TEST(PendulumBatchOp, MatchesScalarFunctions) {
  const int B = 64;
  std::vector<double> th(B), td(B);
  std::vector<float> u(B), obs(B * 3), rew(B);
  mbrl_philox r;
  mbrl_philox_init(&r, 1, 2, 3);
  for (int b = 0; b < B; ++b) {
    th[b] = mbrl_philox_range_double(&r, -10, 10);
    td[b] = mbrl_philox_range_double(&r, -8, 8);
    u[b] = mbrl_philox_range_float(&r, -3, 3);
  }
  std::vector<double> th0 = th, td0 = td;
  ASSERT_EQ(mbrl_pendulum_batch_step(B, th.data(), td.data(), u.data(), obs.data(), rew.data()),
            MBRL_OK);
  for (int b = 0; b < B; ++b) {
    EXPECT_EQ(rew[b], (float)mbrl_pendulum_reward(th0[b], td0[b], u[b]));
    mbrl_pendulum_step(&th0[b], &td0[b], u[b]);
    EXPECT_EQ(th[b], th0[b]);
    EXPECT_EQ(td[b], td0[b]);
    EXPECT_EQ(obs[b * 3 + 2], (float)td0[b]);
  }
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
  EXPECT_EQ(c->obs_high[1], FLT_MAX);
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

// ---------------------------------------------------------------- CUDA twin

#ifdef MBRL_HAVE_CUDA
#define CUDA_OK(x) ASSERT_EQ((x), cudaSuccess) << #x
#endif

TEST(PendulumCuda, BatchStepMatchesCpuTwin) {
  MBRL_REQUIRE_GPU();
#ifdef MBRL_HAVE_CUDA
  const int B = 10007, steps = 50;
  std::vector<double> th(B), td(B);
  std::vector<float> u(B);
  mbrl_philox r;
  mbrl_philox_init(&r, 2024, 0, 0);
  for (int b = 0; b < B; ++b) {
    th[b] = mbrl_philox_range_double(&r, -4 * kPi, 4 * kPi);
    td[b] = mbrl_philox_range_double(&r, -9, 9);
  }
  double *d_th, *d_td;
  float *d_u, *d_obs, *d_rew;
  CUDA_OK(cudaMalloc(&d_th, B * sizeof(double)));
  CUDA_OK(cudaMalloc(&d_td, B * sizeof(double)));
  CUDA_OK(cudaMalloc(&d_u, B * sizeof(float)));
  CUDA_OK(cudaMalloc(&d_obs, B * 3 * sizeof(float)));
  CUDA_OK(cudaMalloc(&d_rew, B * sizeof(float)));
  CUDA_OK(cudaMemcpy(d_th, th.data(), B * sizeof(double), cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemcpy(d_td, td.data(), B * sizeof(double), cudaMemcpyHostToDevice));
  std::vector<float> obs(B * 3), rew(B), gobs(B * 3), grew(B);
  std::vector<double> gth(B), gtd(B);
  double worst_obs = 0, worst_rew = 0, worst_state = 0;
  for (int s = 0; s < steps; ++s) {
    for (int b = 0; b < B; ++b) u[b] = mbrl_philox_range_float(&r, -3.0f, 3.0f);
    CUDA_OK(cudaMemcpy(d_u, u.data(), B * sizeof(float), cudaMemcpyHostToDevice));
    ASSERT_EQ(mbrl_pendulum_batch_step(B, th.data(), td.data(), u.data(), obs.data(), rew.data()),
              MBRL_OK);
    ASSERT_EQ(mbrl_pendulum_batch_step_cuda(B, d_th, d_td, d_u, d_obs, d_rew, nullptr), MBRL_OK)
        << mbrl_last_error();
    CUDA_OK(cudaDeviceSynchronize());
    CUDA_OK(cudaMemcpy(gobs.data(), d_obs, B * 3 * sizeof(float), cudaMemcpyDeviceToHost));
    CUDA_OK(cudaMemcpy(grew.data(), d_rew, B * sizeof(float), cudaMemcpyDeviceToHost));
    CUDA_OK(cudaMemcpy(gth.data(), d_th, B * sizeof(double), cudaMemcpyDeviceToHost));
    CUDA_OK(cudaMemcpy(gtd.data(), d_td, B * sizeof(double), cudaMemcpyDeviceToHost));
    // device sin/cos and FMA contraction differ from glibc by a few ulps: atol 1e-6 + rtol 1e-6
    worst_obs = std::max(worst_obs, mbrl_test::worst_ratio(gobs.data(), obs.data(), B * 3, 1e-6, 1e-6));
    worst_rew = std::max(worst_rew, mbrl_test::worst_ratio(grew.data(), rew.data(), B, 1e-6, 1e-6));
    for (int b = 0; b < B; ++b)
      worst_state = std::max(worst_state, std::fabs(gth[b] - th[b]) + std::fabs(gtd[b] - td[b]));
  }
  EXPECT_LE(worst_obs, 1.0);
  EXPECT_LE(worst_rew, 1.0);
  EXPECT_LE(worst_state, 1e-9);
  std::printf("cuda vs cpu: worst obs ratio %.3g, reward ratio %.3g, state abs %.3g\n", worst_obs,
              worst_rew, worst_state);
  cudaFree(d_th);
  cudaFree(d_td);
  cudaFree(d_u);
  cudaFree(d_obs);
  cudaFree(d_rew);
#endif
}
