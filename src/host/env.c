/* env.c - the environment registry (built from MBRL_ENV_LIST, mbrl/envs/registry.h), single
 * and batched (SoA) stepping, and the batched physics op. No env-specific code: each env's
 * functions come from its header, instantiated below once per env by the list. */
#include "mbrl/env.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- per-env instantiations */

typedef void (*env_step_fn)(mbrl_env *e, const float *action, float *obs, float *reward,
                            int *terminated);
typedef void (*batch_step_fn)(mbrl_env_batch *eb, const float *actions, float *obs,
                              float *next_obs, float *rewards, uint8_t *terminated,
                              uint8_t *truncated);
typedef void (*physics_fn)(int B, double *s, const float *actions, float *obs, float *rewards,
                           uint8_t *terminated);

/* Gymnasium's bookkeeping of a step that terminated (or not): steps_beyond_terminated is
 * -1 until the first terminating step, then counts the steps taken after it. */
static inline void note_terminal(int *steps_beyond, int past, int term) {
  if (term) *steps_beyond = past ? *steps_beyond + 1 : 0;
}

static void batch_reset_one(mbrl_env_batch *eb, int b, float *obs_row);

/* For env NAME/name: env_step_name (one env, one step), batch_step_name (B envs, autoreset)
 * and physics_name (B states, no time limit, no reset), with the env's inline functions. */
#define DEFINE_ENV_FUNCS(NAME, name)                                                            \
  static void env_step_##name(mbrl_env *e, const float *action, float *obs, float *reward,     \
                              int *terminated) {                                                \
    int term;                                                                                   \
    const int past = e->steps_beyond_terminated >= 0;                                           \
    const double r = mbrl_##name##_step_state(e->state, action, past, &term);                   \
    note_terminal(&e->steps_beyond_terminated, past, term);                                     \
    if (obs) mbrl_##name##_obs_from_state(e->state, obs);                                       \
    *reward = (float)r;                                                                         \
    *terminated = term;                                                                         \
  }                                                                                             \
  static void batch_step_##name(mbrl_env_batch *eb, const float *actions, float *obs,           \
                                float *next_obs, float *rewards, uint8_t *terminated,           \
                                uint8_t *truncated) {                                           \
    enum { D = MBRL_##NAME##_STATE_DIM, O = MBRL_##NAME##_OBS_DIM, A = MBRL_##NAME##_ACT_DIM }; \
    const int B = eb->B, max_steps = MBRL_##NAME##_MAX_STEPS;                                   \
    double *sk[D]; /* hoisted: the uint8_t stores below may alias anything */                  \
    for (int k = 0; k < D; ++k) sk[k] = eb->s[k];                                               \
    int *const tb = eb->t, *const beyond = eb->steps_beyond_terminated;                         \
    for (int b = 0; b < B; ++b) {                                                               \
      double st[D];                                                                             \
      for (int k = 0; k < D; ++k) st[k] = sk[k][b];                                             \
      int term;                                                                                 \
      const int past = beyond[b] >= 0;                                                          \
      const double r = mbrl_##name##_step_state(st, actions + (size_t)b * A, past, &term);      \
      for (int k = 0; k < D; ++k) sk[k][b] = st[k];                                             \
      note_terminal(&beyond[b], past, term);                                                    \
      const int trunc = ++tb[b] >= max_steps;                                                   \
      rewards[b] = (float)r;                                                                    \
      terminated[b] = (uint8_t)term;                                                            \
      truncated[b] = (uint8_t)trunc;                                                            \
      float *o = obs + (size_t)b * O;                                                           \
      if (next_obs) {                                                                           \
        float *no = next_obs + (size_t)b * O;                                                   \
        mbrl_##name##_obs_from_state(st, no);                                                   \
        if (!(term || trunc))                                                                   \
          for (int k = 0; k < O; ++k) o[k] = no[k];                                             \
      } else if (!(term || trunc)) {                                                            \
        mbrl_##name##_obs_from_state(st, o);                                                    \
      }                                                                                         \
      if (term || trunc) batch_reset_one(eb, b, o);                                             \
    }                                                                                           \
  }                                                                                             \
  static void physics_##name(int B, double *s, const float *actions, float *obs, float *rewards, \
                             uint8_t *terminated) {                                             \
    enum { D = MBRL_##NAME##_STATE_DIM, O = MBRL_##NAME##_OBS_DIM, A = MBRL_##NAME##_ACT_DIM }; \
    for (int b = 0; b < B; ++b) {                                                               \
      double st[D];                                                                             \
      for (int k = 0; k < D; ++k) st[k] = s[(size_t)k * B + b];                                 \
      int term;                                                                                 \
      const double r = mbrl_##name##_step_state(st, actions + (size_t)b * A, 0, &term);         \
      for (int k = 0; k < D; ++k) s[(size_t)k * B + b] = st[k];                                 \
      if (obs) mbrl_##name##_obs_from_state(st, obs + (size_t)b * O);                           \
      if (rewards) rewards[b] = (float)r;                                                       \
      if (terminated) terminated[b] = (uint8_t)term;                                            \
    }                                                                                           \
  }
MBRL_ENV_LIST(DEFINE_ENV_FUNCS)
#undef DEFINE_ENV_FUNCS

/* ---------------------------------------------------------------- the table */

typedef struct env_entry {
  mbrl_env_spec spec;
  env_step_fn step;
  batch_step_fn batch_step;
  physics_fn physics;
} env_entry;

#define ENV_ENTRY(NAME, name)                                       \
  {.spec = {.id = MBRL_##NAME##_ID,                                 \
            .kind = MBRL_ENV_##NAME,                                \
            .obs_dim = MBRL_##NAME##_OBS_DIM,                       \
            .act_dim = MBRL_##NAME##_ACT_DIM,                       \
            .discrete = MBRL_##NAME##_N_ACTIONS > 0,                \
            .n_actions = MBRL_##NAME##_N_ACTIONS,                   \
            .act_low = MBRL_##NAME##_ACT_LOW,                       \
            .act_high = MBRL_##NAME##_ACT_HIGH,                     \
            .obs_low = MBRL_##NAME##_OBS_LOW,                       \
            .obs_high = MBRL_##NAME##_OBS_HIGH,                     \
            .max_steps = MBRL_##NAME##_MAX_STEPS,                   \
            .state_dim = MBRL_##NAME##_STATE_DIM,                   \
            .reset_draws = MBRL_##NAME##_RESET_DRAWS,               \
            .obs_names = MBRL_##NAME##_OBS_NAMES,                   \
            .shaped_cost_doc = MBRL_##NAME##_SHAPED_COST_DOC,       \
            .reset_state = mbrl_##name##_reset_state,               \
            .step_state = mbrl_##name##_step_state,                 \
            .obs_from_state = mbrl_##name##_obs_from_state,         \
            .reward_obs = mbrl_##name##_reward_obs,                 \
            .terminal_obs = mbrl_##name##_terminal_obs,             \
            .oracle_step = mbrl_##name##_oracle_step,               \
            .shaped_cost = mbrl_##name##_shaped_cost,               \
            .project_obs = mbrl_##name##_project_obs},              \
   .step = env_step_##name,                                         \
   .batch_step = batch_step_##name,                                 \
   .physics = physics_##name},

static const env_entry g_envs[] = {MBRL_ENV_LIST(ENV_ENTRY)};
#undef ENV_ENTRY
#define N_ENVS ((int)(sizeof g_envs / sizeof g_envs[0]))

#define ENV_ID_SEP(NAME, name) ", " MBRL_##NAME##_ID
static const char g_known_ids[] = "" MBRL_ENV_LIST(ENV_ID_SEP);
#undef ENV_ID_SEP

/* A spec's table entry: its kind is its index in the list. */
static const env_entry *entry_of(const mbrl_env_spec *spec) { return &g_envs[spec->kind]; }

const char *mbrl_env_known_ids(void) { return g_known_ids + 2; /* past the first ", " */ }

const mbrl_env_spec *mbrl_env_at(int i) {
  return i >= 0 && i < N_ENVS ? &g_envs[i].spec : NULL;
}

const mbrl_env_spec *mbrl_env_find(const char *id) {
  if (!id) {
    mbrl_set_error(MBRL_ERR_INVALID_ARG, "env id is NULL; known ids: %s", mbrl_env_known_ids());
    return NULL;
  }
  for (int i = 0; i < N_ENVS; ++i)
    if (strcmp(g_envs[i].spec.id, id) == 0) return &g_envs[i].spec;
  mbrl_set_error(MBRL_ERR_INVALID_ARG, "unknown env id '%s'; known ids: %s", id,
                 mbrl_env_known_ids());
  return NULL;
}

/* ---------------------------------------------------------------- reset generators */

/* The reset generator of Gymnasium's reset(seed = seed_hi * 2^64 + seed_lo), advanced past
 * `skip` resets (each draws spec->reset_draws doubles, one next64 apiece). */
static void reset_rng_init(const mbrl_env_spec *spec, mbrl_nprandom_pcg64 *rng, uint64_t seed_hi,
                           uint64_t seed_lo, uint64_t skip) {
  uint32_t words[4];
  size_t n = mbrl_nprandom_seed_words(seed_hi, seed_lo, words);
  mbrl_nprandom_pcg64_init_entropy(rng, words, n);
  if (skip) {
    __extension__ unsigned __int128 delta = (unsigned __int128)skip * (unsigned)spec->reset_draws;
    mbrl_nprandom_pcg64_advance(rng, (uint64_t)(delta >> 64), (uint64_t)delta);
  }
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
  float tmp[MBRL_MAX_DIM];
  e->spec->reset_state(&e->rng, e->state, obs ? obs : tmp);
  e->t = 0;
  e->steps_beyond_terminated = -1;
}

void mbrl_env_set_state(mbrl_env *e, const double *state) {
  for (int k = 0; k < e->spec->state_dim; ++k) e->state[k] = state[k];
  e->t = 0;
  e->steps_beyond_terminated = -1;
}

void mbrl_env_obs(const mbrl_env *e, float *obs) { e->spec->obs_from_state(e->state, obs); }

void mbrl_env_step(mbrl_env *e, const float *action, float *obs, float *reward, int *terminated,
                   int *truncated) {
  float r;
  int term;
  entry_of(e->spec)->step(e, action, obs, &r, &term);
  e->t += 1;
  if (reward) *reward = r;
  if (terminated) *terminated = term;
  if (truncated) *truncated = e->t >= e->spec->max_steps;
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
  const size_t n = (size_t)B, D = (size_t)spec->state_dim;
  double *s = calloc(D * n, sizeof *s);
  eb->t = calloc(n, sizeof *eb->t);
  eb->steps_beyond_terminated = malloc(n * sizeof *eb->steps_beyond_terminated);
  eb->rng = malloc(n * sizeof *eb->rng);
  if (!s || !eb->t || !eb->steps_beyond_terminated || !eb->rng) {
    free(s);
    mbrl_env_batch_free(eb);
    return mbrl_set_error(MBRL_ERR_NOMEM, "mbrl_env_batch_init: cannot allocate %d envs of %s",
                          B, spec->id);
  }
  for (size_t k = 0; k < D; ++k) eb->s[k] = s + k * n;
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
  double st[MBRL_ENV_MAX_STATE];
  float tmp[MBRL_MAX_DIM];
  eb->spec->reset_state(&eb->rng[b], st, obs_row ? obs_row : tmp);
  batch_put(eb, b, st);
  eb->t[b] = 0;
  eb->steps_beyond_terminated[b] = -1;
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
  entry_of(eb->spec)->batch_step(eb, actions, obs, next_obs, rewards, terminated, truncated);
}

/* ---------------------------------------------------------------- batched physics op */

mbrl_status mbrl_env_batch_physics(const mbrl_env_spec *spec, int B, double *s,
                                   const float *actions, float *obs, float *rewards,
                                   uint8_t *terminated) {
  if (!spec || (int)spec->kind < 0 || (int)spec->kind >= N_ENVS)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mbrl_env_batch_physics: no env spec");
  if (B < 0) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mbrl_env_batch_physics: B=%d < 0", B);
  if (B > 0 && (!s || !actions))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "mbrl_env_batch_physics: the states and actions must not be NULL");
  entry_of(spec)->physics(B, s, actions, obs, rewards, terminated);
  return MBRL_OK;
}
