/* collect.c - random-policy data collection (mbrl/collect.h). */
#include "mbrl/collect.h"

#include <stdio.h>
#include <string.h>

#include "mbrl/env.h"
#include "mbrl/philox.h"

mbrl_status mbrl_collect_random(mbrl_dataset *ds, const char *env_id, int episodes,
                                long max_steps, uint64_t seed, uint64_t first_episode,
                                double *returns, long *lengths) {
  if (!ds) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mbrl_collect_random: dataset is NULL");
  const mbrl_env_spec *spec = mbrl_env_find(env_id);
  if (!spec) return MBRL_ERR_INVALID_ARG; /* message set by mbrl_env_find */
  if (episodes < 1)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "episodes must be >= 1, got %d", episodes);
  if (ds->obs_dim != spec->obs_dim || ds->act_dim != spec->act_dim)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "the dataset has widths obs %d act %d; %s has obs %d act %d",
                          ds->obs_dim, ds->act_dim, spec->id, spec->obs_dim, spec->act_dim);
  if (max_steps <= 0) max_steps = spec->max_steps;
  float obs[MBRL_MAX_DIM], next_obs[MBRL_MAX_DIM], act[MBRL_MAX_DIM];
  for (int k = 0; k < episodes; ++k) {
    const uint64_t ep = first_episode + (uint64_t)k;
    mbrl_env env;
    mbrl_status st = mbrl_env_init(&env, spec->id, seed, ep);
    if (st) return st;
    mbrl_philox rng;
    mbrl_philox_init(&rng, seed, MBRL_COLLECT_ACTION_STREAM + ep, 0);
    mbrl_env_reset(&env, obs);
    double ret = 0.0;
    long t = 0;
    for (;;) {
      ++t;
      for (int j = 0; j < spec->act_dim; ++j)
        act[j] = spec->discrete ? (float)mbrl_philox_below(&rng, (uint32_t)spec->n_actions)
                                : mbrl_philox_range_float(&rng, spec->act_low[j], spec->act_high[j]);
      float r;
      int terminated, truncated;
      mbrl_env_step(&env, act, next_obs, &r, &terminated, &truncated);
      const int timeout = (truncated || t >= max_steps) && !terminated;
      if ((st = mbrl_dataset_add(ds, obs, act, next_obs, r, terminated, timeout)) != MBRL_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", mbrl_last_error()); /* the message buffer is reused */
        return mbrl_set_error(st, "episode %llu: %s", (unsigned long long)ep, msg);
      }
      ret += (double)r;
      memcpy(obs, next_obs, sizeof obs);
      if (terminated || timeout) break;
    }
    ds->episodes++;
    if (returns) returns[k] = ret;
    if (lengths) lengths[k] = t;
  }
  return MBRL_OK;
}
