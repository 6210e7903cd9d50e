/* mbrl/collect.h - random-policy data collection into a dataset (the loop of mbrl_collect).
 *
 * Episode i (i = first_episode + k for the k-th episode of a call) starts from
 * mbrl_env_init(env, seed, stream = i) + reset: Gymnasium's start state of the standard
 * collection loop (env.reset(seed=seed) for episode 0, env.reset() for each later one). Its
 * actions come from Philox(seed, subsequence = 2^32 + i): uniform in (low, high] per entry for a
 * continuous action (mbrl_philox_range_float), uniform over {0, .., n_actions - 1} for a
 * discrete one (mbrl_philox_below). An episode ends when the env terminates or truncates or
 * after max_steps steps; its last row has timeouts = 1 unless it terminated. */
#ifndef MBRL_COLLECT_H
#define MBRL_COLLECT_H

#include <stdint.h>

#include "mbrl/common.h"
#include "mbrl/dataset.h"
#include "mbrl/status.h"

MBRL_EXTERN_C_BEGIN

/* Philox subsequence of episode i's actions: MBRL_COLLECT_ACTION_STREAM + i. */
#define MBRL_COLLECT_ACTION_STREAM (1ULL << 32)

/* Run `episodes` (>= 1) random-policy episodes of env_id, episode numbers first_episode ..
 * first_episode + episodes - 1, each capped at max_steps (<= 0: the env's time limit), and
 * append their transitions to ds, which must be initialised for env_id's widths
 * (mbrl_dataset_init). ds->episodes grows by `episodes`; ds->stats is NOT recomputed.
 * returns / lengths (episodes) may be NULL: each episode's return (a double sum of the float
 * rewards) and step count. Errors: unknown env or widths unlike ds's (MBRL_ERR_INVALID_ARG),
 * allocation; rows added before an error stay in ds. */
mbrl_status mbrl_collect_random(mbrl_dataset *ds, const char *env_id, int episodes,
                                long max_steps, uint64_t seed, uint64_t first_episode,
                                double *returns, long *lengths);

MBRL_EXTERN_C_END

#endif
