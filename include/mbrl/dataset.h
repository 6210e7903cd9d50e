/* mbrl/dataset.h - transitions in memory, statistics, normalization, a seeded minibatch
 * sampler, a split by whole episodes, and HDF5 files (DESIGN.md "Files").
 *
 * Rows are transitions stored back to back, episode after episode. An episode ends at a
 * row with terminals[i] | timeouts[i] (or at the last row). Statistics are population
 * mean/std (numpy's default, ddof 0) computed in double over all rows:
 * state = observations, action = actions, delta_state = next_observations - observations
 * (the difference taken in float32, as numpy does on float32 arrays).
 *
 * File (mbrl_dataset_save / _load):
 *   /observations [N,obs] f32  /actions [N,act] f32  /next_observations [N,obs] f32
 *   /rewards [N] f32  /terminals [N] bool  /timeouts [N] bool   (h5py reads numpy bool)
 *   /stats/{state_mean,state_std,action_mean,action_std,delta_state_mean,delta_state_std} f32
 *   root attrs: format="mbrl.dataset", format_version=2, env_id, seed (u64), episodes (i64),
 *   created_by.
 * Version 2 files are sealed (mbrl/h5util.h: a SHA-256 per dataset, fixed-length strings, a
 * whole-file SHA-256 checked before HDF5 reads the file); version 1 files (older mbrl, h5py)
 * still load, unsealed, through mbrl_h5_guarded_read (README "Files: integrity"). */
#ifndef MBRL_DATASET_H
#define MBRL_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "mbrl/common.h"
#include "mbrl/status.h"

MBRL_EXTERN_C_BEGIN

#define MBRL_DATASET_FORMAT "mbrl.dataset"
#define MBRL_DATASET_FORMAT_VERSION 2
#define MBRL_NORMALIZE_EPS 1e-8f

typedef struct mbrl_dataset_stats {
  float state_mean[MBRL_MAX_DIM], state_std[MBRL_MAX_DIM];             /* (obs_dim) */
  float action_mean[MBRL_MAX_DIM], action_std[MBRL_MAX_DIM];           /* (act_dim) */
  float delta_state_mean[MBRL_MAX_DIM], delta_state_std[MBRL_MAX_DIM]; /* (obs_dim) */
} mbrl_dataset_stats;

typedef struct mbrl_dataset {
  char env_id[64];          /* Gymnasium id, e.g. "Pendulum-v1" */
  int obs_dim, act_dim;     /* 1..MBRL_MAX_DIM */
  size_t n, capacity;       /* rows used / allocated */
  float *observations;      /* (n, obs_dim) */
  float *actions;           /* (n, act_dim) */
  float *next_observations; /* (n, obs_dim) */
  float *rewards;           /* (n) */
  uint8_t *terminals;       /* (n) 0/1: the env terminated (CartPole fell) */
  uint8_t *timeouts;        /* (n) 0/1: the episode was cut by a time limit (never both) */
  mbrl_dataset_stats stats; /* valid after mbrl_dataset_compute_stats or _load */
  uint64_t seed;            /* collection seed (file attribute) */
  int episodes;             /* episodes collected (file attribute; adds up on append) */
} mbrl_dataset;

/* ---------------------------------------------------------------- in memory */

/* Empty dataset for env_id with the given widths (1..MBRL_MAX_DIM). No env lookup. */
mbrl_status mbrl_dataset_init(mbrl_dataset *ds, const char *env_id, int obs_dim, int act_dim);

/* Release the arrays; ds is zeroed (safe to call twice). */
void mbrl_dataset_free(mbrl_dataset *ds);

/* Make room for at least `capacity` rows. */
mbrl_status mbrl_dataset_reserve(mbrl_dataset *ds, size_t capacity);

/* Append one transition: obs (obs_dim), act (act_dim), next_obs (obs_dim). Grows by doubling.
 * Refuses non-finite values and terminal && timeout both set. */
mbrl_status mbrl_dataset_add(mbrl_dataset *ds, const float *obs, const float *act,
                             const float *next_obs, float reward, int terminal, int timeout);

/* Append every row of src (same env_id and widths); dst->episodes += src->episodes.
 * dst's stats are NOT recomputed: call mbrl_dataset_compute_stats. */
mbrl_status mbrl_dataset_extend(mbrl_dataset *dst, const mbrl_dataset *src);

/* Population mean/std (ddof 0, in double) of states, actions, deltas into *out (n >= 1). */
mbrl_status mbrl_dataset_stats_compute(const mbrl_dataset *ds, mbrl_dataset_stats *out);

/* *out = stats under which normalizing changes nothing (every mean 0, every std 1): what a
 * model made without a dataset's stats normalizes with. */
void mbrl_dataset_stats_identity(mbrl_dataset_stats *out);

/* ds->stats = mbrl_dataset_stats_compute(ds). */
mbrl_status mbrl_dataset_compute_stats(mbrl_dataset *ds);

/* Number of episodes by boundaries (a row with terminals|timeouts ends one; a last
 * unfinished run of rows counts as one). */
size_t mbrl_dataset_count_episodes(const mbrl_dataset *ds);

/* Gather rows idx[0..k): obs (k, obs_dim), act (k, act_dim), delta (k, obs_dim) =
 * next_obs - obs in float. Any output may be NULL. Indices must be < ds->n. */
void mbrl_dataset_gather(const mbrl_dataset *ds, const size_t *idx, size_t k, float *obs,
                         float *act, float *delta);

/* ---------------------------------------------------------------- normalization */

/* normalize(x) = (x - mean) / (std + 1e-8), in float (the seed's CS285 utils). */
MBRL_HD static inline float mbrl_normalize1(float x, float mean, float std) {
  return (x - mean) / (std + MBRL_NORMALIZE_EPS);
}
/* unnormalize(x) = x * std + mean, in float. */
MBRL_HD static inline float mbrl_unnormalize1(float x, float mean, float std) {
  return x * std + mean;
}

/* out (rows, dim) = normalize(x (rows, dim)) with mean/std (dim); out may equal x. */
void mbrl_normalize(float *out, const float *x, size_t rows, int dim, const float *mean,
                    const float *std);
/* out (rows, dim) = unnormalize(x (rows, dim)) with mean/std (dim); out may equal x. */
void mbrl_unnormalize(float *out, const float *x, size_t rows, int dim, const float *mean,
                      const float *std);

/* ---------------------------------------------------------------- minibatch sampler */

/* Draws minibatches from a pool of row indices without replacement within an epoch.
 * Epoch e's order is a Fisher-Yates permutation of the pool driven by
 * Philox(seed, subsequence = e, offset 0), so it depends only on (pool, seed, e).
 * Last-batch policy: DROP. An epoch yields floor(n / batch) full batches; the n % batch
 * rows left over are not used in that epoch (a different set each epoch). */
typedef struct mbrl_sampler {
  size_t *pool;      /* (n) row indices sampled from (a copy) */
  size_t *perm;      /* (n) this epoch's order */
  size_t n, batch;   /* pool size, batch size (1 <= batch <= n) */
  uint64_t seed;
  uint64_t epoch;    /* current epoch */
  size_t pos;        /* next position in perm */
} mbrl_sampler;

/* Sampler over pool (n indices; NULL means 0..n-1) with batch_size in [1, n]; starts
 * epoch 0. MBRL_ERR_INVALID_ARG when n == 0 or batch_size is out of range. */
mbrl_status mbrl_sampler_init(mbrl_sampler *s, const size_t *pool, size_t n, size_t batch_size,
                              uint64_t seed);

/* Start epoch `epoch` (computes its permutation, pos = 0). */
void mbrl_sampler_begin_epoch(mbrl_sampler *s, uint64_t epoch);

/* Fill idx (batch) with the next batch of the current epoch and return 1; return 0 (idx
 * untouched) when the epoch has no full batch left: then call begin_epoch(epoch + 1). */
int mbrl_sampler_next(mbrl_sampler *s, size_t *idx);

/* floor(n / batch). */
size_t mbrl_sampler_batches_per_epoch(const mbrl_sampler *s);

/* Release the pool and permutation; s is zeroed (safe to call twice). */
void mbrl_sampler_free(mbrl_sampler *s);

/* ---------------------------------------------------------------- episode split */

typedef struct mbrl_dataset_split {
  size_t *train, *val;            /* row indices, ascending */
  size_t n_train, n_val;          /* rows in each part */
  size_t train_episodes, val_episodes;
} mbrl_dataset_split;

/* Split by whole episodes: round(val_fraction * E) episodes (clamped to [1, E-1] when
 * E >= 2 and val_fraction > 0) chosen by a Fisher-Yates permutation from Philox(seed, 0)
 * go to val, the rest to train. E == 1 or val_fraction == 0: everything is train.
 * val_fraction must be in [0, 1). Free with mbrl_dataset_split_free. */
mbrl_status mbrl_dataset_split_episodes(const mbrl_dataset *ds, double val_fraction,
                                        uint64_t seed, mbrl_dataset_split *out);

/* Release the index arrays; sp is zeroed (safe to call twice). */
void mbrl_dataset_split_free(mbrl_dataset_split *sp);

/* ---------------------------------------------------------------- HDF5 files */

/* Write ds to path in the layout above, stats recomputed from the rows (ds->stats is not
 * used). Written to `<path>.tmp.<pid>` then renamed: on failure nothing is left and an
 * existing file is untouched. created_by: e.g. "mbrl_collect 0.1.0" (NULL: "mbrl VERSION").
 * Overwrites an existing path: callers decide whether that is allowed. Needs n >= 1. */
mbrl_status mbrl_dataset_save(const mbrl_dataset *ds, const char *path, const char *created_by);

/* Read and validate path into ds (not initialised on entry; free with mbrl_dataset_free).
 * Refuses (MBRL_ERR_FORMAT, message naming the file and the fault) a non-HDF5, truncated,
 * damaged (seal or digest mismatch) or foreign file, a wrong format name/version, an unknown
 * env_id, a missing dataset, a wrong rank/shape/dtype, disagreeing row counts, widths unlike
 * the env's spec or non-0/1 flags; rows holding NaN or Inf are MBRL_ERR_NUMERIC naming the
 * first such row, its array and how many rows are bad. On failure ds holds nothing. */
mbrl_status mbrl_dataset_load(mbrl_dataset *ds, const char *path);

/* As mbrl_dataset_load, but rows and stats holding NaN/Inf are kept (every other check is
 * made): for callers that report or drop such rows themselves (mbrl_train). */
mbrl_status mbrl_dataset_load_keep_nonfinite(mbrl_dataset *ds, const char *path);

/* Load path, check that it holds more->env_id, add more's rows and episodes, recompute the
 * stats and save it back atomically. On any failure the file is untouched. */
mbrl_status mbrl_dataset_append_file(const char *path, const mbrl_dataset *more,
                                     const char *created_by);

MBRL_EXTERN_C_END

#endif
