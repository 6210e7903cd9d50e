/* mbrl/trajectory.h - what an MPC run did, step by step, and its HDF5 file
 * (mbrl_mpc --record; format "mbrl.mpc_trajectory").
 *
 * File (sealed, mbrl/h5util.h), T = steps recorded over all episodes, O/A = the env's widths:
 *   /observations (T,O) f32       the observation the step planned from
 *   /actions (T,A) f32            the action executed
 *   /rewards (T) f32              the env's reward of the step
 *   /predicted_returns (T) f32    the best sequence's predicted return
 *   /predicted_next_observations (T,O) f32   the model's prediction of the next observation
 *   /next_observations (T,O) f32  the true next observation
 *   /episode (T) i64, /step (T) i64   episode index (from 0) and step within it (from 0)
 *   /terminals (T) bool           the episode ended in a terminal state at this step (version 2)
 *   /timeouts (T) bool            the episode ended by its time limit at this step (version 2)
 *   root attrs: format, format_version, env_id, model (a path, or "oracle"), samples (i64),
 *   horizon (i64), gamma (f64), seed (u64); optional: cost ("reward" or "shaped": what the
 *   planner minimized) and planner (its kind and settings as JSON), written when set.
 * format_version 1 (unsealed, no /terminals or /timeouts: no terminal steps, a timeout at the
 * last step of each episode, as mbrl_mpc recorded Pendulum-v1 then) loads. */
#ifndef MBRL_TRAJECTORY_H
#define MBRL_TRAJECTORY_H

#include <stddef.h>
#include <stdint.h>

#include "mbrl/common.h"
#include "mbrl/status.h"

MBRL_EXTERN_C_BEGIN

#define MBRL_TRAJECTORY_FORMAT "mbrl.mpc_trajectory"
#define MBRL_TRAJECTORY_FORMAT_VERSION 2

typedef struct mbrl_trajectory {
  char env_id[64];
  char model[1024];        /* the model file, or "oracle" */
  int obs_dim, act_dim;    /* 1..MBRL_MAX_DIM */
  int64_t samples, horizon;
  double gamma;
  uint64_t seed;
  char cost[16];           /* "reward" | "shaped", or "" (not recorded) */
  char planner[1024];      /* the planner's kind and settings as JSON, or "" */
  size_t n, cap;           /* steps recorded / allocated */
  float *obs, *act;        /* (n, obs_dim), (n, act_dim) */
  float *rew, *pred_ret;   /* (n) */
  float *pred_next, *next_obs; /* (n, obs_dim) */
  int64_t *episode, *step; /* (n) */
  uint8_t *terminal;       /* (n) 0/1: the step ended its episode in a terminal state */
  uint8_t *timeout;        /* (n) 0/1: the step ended its episode by the time limit */
} mbrl_trajectory;

/* An empty trajectory of env env_id (obs_dim/act_dim its widths, 1..MBRL_MAX_DIM). */
mbrl_status mbrl_trajectory_init(mbrl_trajectory *t, const char *env_id, int obs_dim,
                                 int act_dim);

/* Append one step (o, a, pn, no: obs_dim / act_dim values; terminal and timeout never both).
 * MBRL_ERR_NOMEM on failure. */
mbrl_status mbrl_trajectory_push(mbrl_trajectory *t, const float *o, const float *a, float r,
                                 float pred_ret, const float *pn, const float *no,
                                 int64_t episode, int64_t step, int terminal, int timeout);

/* Release the arrays; t is zeroed (safe to call twice). */
void mbrl_trajectory_free(mbrl_trajectory *t);

/* Write t to path atomically and sealed (with its metadata fields). */
mbrl_status mbrl_trajectory_save(const mbrl_trajectory *t, const char *path);

/* Read and validate path into t (not initialised on entry; free with mbrl_trajectory_free):
 * format and version, a known env_id and its widths, every dataset's shape and the same row
 * count, finite numbers (the first bad step is named), episode/step counters that start at 0
 * and count up by one, 0/1 flags (never both on one step). On failure t holds nothing. */
mbrl_status mbrl_trajectory_load(mbrl_trajectory *t, const char *path);

MBRL_EXTERN_C_END

#endif
