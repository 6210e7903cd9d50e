/* env.c - Pendulum-v1 / CartPole-v1 registry, single env and batched (SoA) stepping.
 * The physics is in mbrl/pendulum.h and mbrl/cartpole.h (shared with the CUDA kernels). */
#include "mbrl/env.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "mbrl/cartpole.h"
#include "mbrl/pendulum.h"

static const mbrl_env_spec g_specs[] = {
    {
        .id = "Pendulum-v1",
        .kind = MBRL_ENV_PENDULUM,
        .obs_dim = 3,
        .act_dim = 1,
        .discrete = 0,
        .n_actions = 0,
        .act_low = {-2.0f},
        .act_high = {2.0f},
        .obs_low = {-1.0f, -1.0f, -8.0f},
        .obs_high = {1.0f, 1.0f, 8.0f},
        .max_steps = MBRL_PENDULUM_MAX_STEPS,
        .state_dim = 2,
    },
    {
        .id = "CartPole-v1",
        .kind = MBRL_ENV_CARTPOLE,
        .obs_dim = 4,
        .act_dim = 1,
        .discrete = 1,
        .n_actions = 2,
        .act_low = {0.0f},
        .act_high = {1.0f},
        .obs_low = {(float)(-MBRL_CARTPOLE_X_THRESHOLD * 2), -FLT_MAX,
                    (float)(-MBRL_CARTPOLE_THETA_THRESHOLD * 2), -FLT_MAX},
        .obs_high = {(float)(MBRL_CARTPOLE_X_THRESHOLD * 2), FLT_MAX,
                     (float)(MBRL_CARTPOLE_THETA_THRESHOLD * 2), FLT_MAX},
        .max_steps = MBRL_CARTPOLE_MAX_STEPS,
        .state_dim = 4,
    },
};
#define N_SPECS ((int)(sizeof g_specs / sizeof g_specs[0]))

const char *mbrl_env_known_ids(void) { return "Pendulum-v1, CartPole-v1"; }

const mbrl_env_spec *mbrl_env_find(const char *id) {
  if (!id) {
    mbrl_set_error(MBRL_ERR_INVALID_ARG, "env id is NULL; known ids: %s", mbrl_env_known_ids());
    return NULL;
  }
  for (int i = 0; i < N_SPECS; ++i)
    if (strcmp(g_specs[i].id, id) == 0) return &g_specs[i];
  mbrl_set_error(MBRL_ERR_INVALID_ARG, "unknown env id '%s'; known ids: %s", id,
                 mbrl_env_known_ids());
  return NULL;
}

/* ---------------------------------------------------------------- shared per-env pieces */

/* Draw an initial state from rng into s (state_dim), as Gymnasium's reset does:
 * Pendulum np_random.uniform(low=-[pi, 1], high=[pi, 1]) (th, thdot); CartPole
 * np_random.uniform(low=-0.05, high=0.05, size=(4,)). */
static void draw_reset(const mbrl_env_spec *spec, mbrl_nprandom_pcg64 *rng, double *s) {
  if (spec->kind == MBRL_ENV_PENDULUM) {
    s[0] = mbrl_nprandom_pcg64_uniform(rng, -MBRL_PI, MBRL_PI);
    s[1] = mbrl_nprandom_pcg64_uniform(rng, -1.0, 1.0);
  } else {
    for (int k = 0; k < 4; ++k) s[k] = mbrl_nprandom_pcg64_uniform(rng, -0.05, 0.05);
  }
}

/* The reset generator of Gymnasium's reset(seed = seed_hi * 2^64 + seed_lo), advanced past
 * `skip` resets (each draws state_dim doubles, one next64 apiece). */
static void reset_rng_init(const mbrl_env_spec *spec, mbrl_nprandom_pcg64 *rng, uint64_t seed_hi,
                           uint64_t seed_lo, uint64_t skip) {
  uint32_t words[4];
  size_t n = mbrl_nprandom_seed_words(seed_hi, seed_lo, words);
  mbrl_nprandom_pcg64_init_entropy(rng, words, n);
  if (skip) {
    __extension__ unsigned __int128 delta = (unsigned __int128)skip * (unsigned)spec->state_dim;
    mbrl_nprandom_pcg64_advance(rng, (uint64_t)(delta >> 64), (uint64_t)delta);
  }
}

static void state_obs(const mbrl_env_spec *spec, const double *s, float *obs) {
  if (spec->kind == MBRL_ENV_PENDULUM)
    mbrl_pendulum_obs(s[0], s[1], obs);
  else
    mbrl_cartpole_obs(s, obs);
}

static int cartpole_action(float a) { return a > 0.5f ? 1 : 0; }

/* CartPole step + Gymnasium's reward / steps_beyond_terminated bookkeeping. */
static void cartpole_step(double *s, int *steps_beyond, float action, float *reward,
                          int *terminated) {
  mbrl_cartpole_step(s, cartpole_action(action));
  int term = mbrl_cartpole_terminated(s);
  float r;
  if (!term) {
    r = 1.0f;
  } else if (*steps_beyond < 0) {
    *steps_beyond = 0; /* the pole just fell */
    r = 1.0f;
  } else {
    *steps_beyond += 1;
    r = 0.0f;
  }
  *reward = r;
  *terminated = term;
}

/* ---------------------------------------------------------------- single env */

mbrl_status mbrl_env_init(mbrl_env *e, const char *id, uint64_t seed, uint64_t stream) {
  if (!e) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mbrl_env_init: env pointer is NULL");
  memset(e, 0, sizeof *e);
  const mbrl_env_spec *spec = mbrl_env_find(id);
  if (!spec) return MBRL_ERR_INVALID_ARG;
  e->spec = spec;
  e->t = 0;
  e->steps_beyond_terminated = -1;
  reset_rng_init(spec, &e->rng, 0, seed, stream);
  return MBRL_OK;
}

void mbrl_env_reset(mbrl_env *e, float *obs) {
  draw_reset(e->spec, &e->rng, e->state);
  e->t = 0;
  e->steps_beyond_terminated = -1;
  if (obs) state_obs(e->spec, e->state, obs);
}

void mbrl_env_set_state(mbrl_env *e, const double *state) {
  for (int k = 0; k < e->spec->state_dim; ++k) e->state[k] = state[k];
  e->t = 0;
  e->steps_beyond_terminated = -1;
}

void mbrl_env_obs(const mbrl_env *e, float *obs) { state_obs(e->spec, e->state, obs); }

void mbrl_env_step(mbrl_env *e, const float *action, float *obs, float *reward, int *terminated,
                   int *truncated) {
  float r;
  int term = 0;
  if (e->spec->kind == MBRL_ENV_PENDULUM) {
    r = (float)mbrl_pendulum_reward(e->state[0], e->state[1], action[0]);
    mbrl_pendulum_step(&e->state[0], &e->state[1], action[0]);
  } else {
    cartpole_step(e->state, &e->steps_beyond_terminated, action[0], &r, &term);
  }
  e->t += 1;
  if (obs) state_obs(e->spec, e->state, obs);
  if (reward) *reward = r;
  if (terminated) *terminated = term;
  if (truncated) *truncated = e->t >= e->spec->max_steps;
}

/* ---------------------------------------------------------------- pendulum batch op */

mbrl_status mbrl_pendulum_batch_step(int B, double *th, double *thdot, const float *u, float *obs,
                                     float *reward) {
  if (B < 0) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mbrl_pendulum_batch_step: B=%d < 0", B);
  if (B > 0 && (!th || !thdot || !u))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "mbrl_pendulum_batch_step: th, thdot and u must not be NULL");
  for (int b = 0; b < B; ++b) {
    if (reward) reward[b] = (float)mbrl_pendulum_reward(th[b], thdot[b], u[b]);
    mbrl_pendulum_step(&th[b], &thdot[b], u[b]);
    if (obs) mbrl_pendulum_obs(th[b], thdot[b], obs + (size_t)b * 3);
  }
  return MBRL_OK;
}

/* ---------------------------------------------------------------- batched envs */

void mbrl_env_batch_free(mbrl_env_batch *eb) {
  if (!eb) return;
  free(eb->s[0]);
  free(eb->t);
  free(eb->steps_beyond_terminated);
  free(eb->rng);
  memset(eb, 0, sizeof *eb);
}

mbrl_status mbrl_env_batch_init(mbrl_env_batch *eb, const char *id, int B, uint64_t seed,
                                uint64_t stream0) {
  if (!eb) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mbrl_env_batch_init: batch pointer is NULL");
  memset(eb, 0, sizeof *eb);
  const mbrl_env_spec *spec = mbrl_env_find(id);
  if (!spec) return MBRL_ERR_INVALID_ARG;
  if (B < 1)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "mbrl_env_batch_init: number of envs B=%d; it must be >= 1", B);
  size_t n = (size_t)B;
  double *s = calloc(4 * n, sizeof *s);
  eb->t = calloc(n, sizeof *eb->t);
  eb->steps_beyond_terminated = malloc(n * sizeof *eb->steps_beyond_terminated);
  eb->rng = malloc(n * sizeof *eb->rng);
  if (!s || !eb->t || !eb->steps_beyond_terminated || !eb->rng) {
    free(s);
    mbrl_env_batch_free(eb);
    return mbrl_set_error(MBRL_ERR_NOMEM, "mbrl_env_batch_init: cannot allocate %d envs of %s",
                          B, spec->id);
  }
  for (int k = 0; k < 4; ++k) eb->s[k] = s + (size_t)k * n;
  eb->spec = spec;
  eb->B = B;
  for (int b = 0; b < B; ++b) {
    eb->steps_beyond_terminated[b] = -1;
    const uint64_t sb = seed + (uint64_t)b; /* the exact integer seed + b: carry into hi */
    reset_rng_init(spec, &eb->rng[b], sb < seed ? 1u : 0u, sb, stream0);
  }
  return MBRL_OK;
}

static void batch_put(mbrl_env_batch *eb, int b, const double *st) {
  for (int k = 0; k < eb->spec->state_dim; ++k) eb->s[k][b] = st[k];
}

/* Reset env b: draw, t = 0, not terminated, write its observation row. */
static void batch_reset_one(mbrl_env_batch *eb, int b, float *obs_row) {
  double st[4];
  draw_reset(eb->spec, &eb->rng[b], st);
  batch_put(eb, b, st);
  eb->t[b] = 0;
  eb->steps_beyond_terminated[b] = -1;
  if (obs_row) state_obs(eb->spec, st, obs_row);
}

void mbrl_env_batch_reset(mbrl_env_batch *eb, float *obs) {
  const int O = eb->spec->obs_dim;
  for (int b = 0; b < eb->B; ++b) batch_reset_one(eb, b, obs ? obs + (size_t)b * O : NULL);
}

void mbrl_env_batch_set_state(mbrl_env_batch *eb, int b, const double *state) {
  batch_put(eb, b, state);
  eb->t[b] = 0;
  eb->steps_beyond_terminated[b] = -1;
}

void mbrl_env_batch_step(mbrl_env_batch *eb, const float *actions, float *obs, float *next_obs,
                         float *rewards, uint8_t *terminated, uint8_t *truncated) {
  const int B = eb->B, A = eb->spec->act_dim;
  const int max_steps = eb->spec->max_steps;
  if (eb->spec->kind == MBRL_ENV_PENDULUM) {
    /* the batch op writes rewards and the post-step observations in one pass */
    float *post = next_obs ? next_obs : obs;
    if (A == 1) {
      mbrl_pendulum_batch_step(B, eb->s[0], eb->s[1], actions, post, rewards);
    } else {
      for (int b = 0; b < B; ++b) {
        float u = actions[(size_t)b * A];
        rewards[b] = (float)mbrl_pendulum_reward(eb->s[0][b], eb->s[1][b], u);
        mbrl_pendulum_step(&eb->s[0][b], &eb->s[1][b], u);
        mbrl_pendulum_obs(eb->s[0][b], eb->s[1][b], post + (size_t)b * 3);
      }
    }
    for (int b = 0; b < B; ++b) {
      int trunc = ++eb->t[b] >= max_steps;
      terminated[b] = 0;
      truncated[b] = (uint8_t)trunc;
      float *o = obs + (size_t)b * 3;
      if (trunc) {
        batch_reset_one(eb, b, o);
      } else if (post != obs) {
        const float *p = post + (size_t)b * 3;
        o[0] = p[0];
        o[1] = p[1];
        o[2] = p[2];
      }
    }
    return;
  }
  double *s0 = eb->s[0], *s1 = eb->s[1], *s2 = eb->s[2], *s3 = eb->s[3];
  for (int b = 0; b < B; ++b) {
    double st[4] = {s0[b], s1[b], s2[b], s3[b]};
    float r;
    int term;
    cartpole_step(st, &eb->steps_beyond_terminated[b], actions[(size_t)b * A], &r, &term);
    s0[b] = st[0];
    s1[b] = st[1];
    s2[b] = st[2];
    s3[b] = st[3];
    int trunc = ++eb->t[b] >= max_steps;
    rewards[b] = r;
    terminated[b] = (uint8_t)term;
    truncated[b] = (uint8_t)trunc;
    float *o = obs + (size_t)b * 4;
    mbrl_cartpole_obs(st, o);
    if (next_obs) mbrl_cartpole_obs(st, next_obs + (size_t)b * 4);
    if (term || trunc) batch_reset_one(eb, b, o);
  }
}
