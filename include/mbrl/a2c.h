/* mbrl/a2c.h - A2C (stable-baselines3 defaults) and REINFORCE over a batch of environments,
 * for one actor-critic or for an ensemble of M of them acting together (mbrl/ensemble.h).
 *
 * One iteration (mbrl_a2c_iterate) = seed 004's T x B fragment: n_steps T steps of n_envs B
 * environments, then ONE gradient step per model on the T*B transitions.
 *   acting:  logits_i = actor_i(obs) for all M models in one mbrl_mlp_forward_many; p_i =
 *            softmax(logits_i); the action is drawn from the normalized sum of the p_i (M = 1:
 *            the model's own distribution) and each model's contribution p_i(a)/sum_j p_j(a)
 *            is accumulated (mbrl_ensemble_*).
 *   returns: SB3's compute_returns_and_advantage (GAE) with values of the same parameters; an
 *            episode that ends by the time limit and not by termination gets gamma *
 *            V(terminal observation) added to its last reward (SB3's TimeLimit bootstrap);
 *            the fragment's end bootstraps with V(last observation).
 *   A2C:     loss = -(A * logp(a)).mean() + vf_coef * MSE(returns, V) - ent_coef * H.mean();
 *            gradients through log-softmax into each mlp's backward (dL/dlogits, dL/dV), one
 *            clip_grad_norm over actor+critic parameters together, RMSprop on both.
 *   REINFORCE (seed 004): no critic; G_t = discounted return inside the fragment (bootstrap
 *            0, reset at episode ends), baseline G_t - mean over the fragment's T steps of the
 *            same env; loss = -((G - mean) * logp(a)).mean() - ent_coef * H.mean().
 * Networks: actor obs -> hidden (tanh) -> n_actions, critic obs -> hidden (tanh) -> 1, both
 * orthogonal init with gains sqrt(2) (hidden), 0.01 (policy head), 1 (value head), zero bias.
 *
 * Determinism: for a seed, a run repeats bit for bit on the same backend. Model i's actor is
 * initialized from seed mbrl_a2c_model_seed(seed, i, 0), its critic from (.., 1); actions
 * come from Philox(seed, 2^33); training env b is mbrl_env_batch(seed, stream0 = 0), i.e.
 * Gymnasium's reset seed + b (mbrl/env.h); evaluation k runs episodes e0 + b of a chunk in
 * mbrl_env_batch(seed, stream0 = 2^40 + k * episodes + e0). */
#ifndef MBRL_A2C_H
#define MBRL_A2C_H

#include <stddef.h>
#include <stdint.h>

#include "mbrl/device.h"
#include "mbrl/env.h"
#include "mbrl/mlp.h"
#include "mbrl/philox.h"
#include "mbrl/status.h"

MBRL_EXTERN_C_BEGIN

typedef enum mbrl_a2c_algo { MBRL_A2C_ALGO_A2C = 0, MBRL_A2C_ALGO_REINFORCE = 1 } mbrl_a2c_algo;

#define MBRL_A2C_MAX_HIDDEN 6
#define MBRL_POLICY_FORMAT "mbrl.policy"
#define MBRL_POLICY_FORMAT_VERSION 2 /* 2: sealed (mbrl/h5util.h); 1 still loads */

typedef struct mbrl_a2c_config {
  mbrl_a2c_algo algo;
  int n_envs;          /* B, environments stepped together (8) */
  int n_steps;         /* T, steps per fragment (A2C 5, REINFORCE 50) */
  float gamma;         /* discount (0.99) */
  float gae_lambda;    /* GAE lambda (1.0) */
  float vf_coef;       /* value loss coefficient (0.5) */
  float ent_coef;      /* entropy coefficient (A2C 0.0, REINFORCE 0.01 as seed 004) */
  float max_grad_norm; /* one norm over actor+critic (0.5); <= 0: no clipping */
  float lr;            /* RMSprop learning rate (7e-4) */
  float rms_alpha;     /* RMSprop smoothing (0.99) */
  float rms_eps;       /* RMSprop eps (1e-5, SB3) */
  int n_hidden;        /* hidden layers (2) */
  int hidden[MBRL_A2C_MAX_HIDDEN]; /* their widths (64, 64) */
  uint64_t seed;       /* everything random derives from it (0) */
} mbrl_a2c_config;

/* SB3's A2C defaults (algo A2C) or seed 004's REINFORCE settings (T 50, ent_coef 0.01). */
void mbrl_a2c_config_init(mbrl_a2c_config *c, mbrl_a2c_algo algo);

/* Check ranges; MBRL_ERR_INVALID_ARG names the field and the allowed range. */
mbrl_status mbrl_a2c_config_check(const mbrl_a2c_config *c);

/* "a2c" / "reinforce"; parse the same words (MBRL_ERR_INVALID_ARG otherwise). */
const char *mbrl_a2c_algo_name(mbrl_a2c_algo a);
mbrl_status mbrl_a2c_algo_parse(const char *name, mbrl_a2c_algo *out);

/* Init seed of model i's actor (net 0) or critic (net 1) for a run seed (splitmix64 mix). */
uint64_t mbrl_a2c_model_seed(uint64_t seed, int i, int net);

/* ---------------------------------------------------------------- the math (host) */

/* Row-wise softmax and log-softmax of logits (N, A) (max-subtracted); probs or logp may be
 * NULL. */
void mbrl_a2c_softmax(float *probs, float *logp, const float *logits, int N, int A);

/* SB3 compute_returns_and_advantage over a T x B fragment (row t*B + b).
 * rewards, terminated, truncated (T, B) as the env returned them; values (T, B) = V(obs_t);
 * terminal_values (T, B) = V(terminal observation), read only where truncated && !terminated
 * (may be NULL when there is none); last_values (B) = V(obs_T). The effective reward is
 * r + gamma * terminal_value for such steps; done = terminated || truncated.
 * Writes adv (T, B) (GAE(gamma, lambda)) and ret = adv + values (T, B). Accumulates in
 * float like SB3's numpy float32 buffers. */
void mbrl_a2c_gae(float *adv, float *ret, const float *rewards, const uint8_t *terminated,
                  const uint8_t *truncated, const float *values, const float *terminal_values,
                  const float *last_values, int T, int B, float gamma, float lambda);

/* Seed 004's REINFORCE advantage: G_t = r_t + gamma * (1 - done_t) * G_{t+1}, G_T = 0,
 * done = terminated || truncated; adv (T, B) = G - mean_t G (per env b); ret (T, B) = G. */
void mbrl_a2c_reinforce_returns(float *adv, float *ret, const float *rewards,
                                const uint8_t *terminated, const uint8_t *truncated, int T,
                                int B, float gamma);

/* Loss terms of one update (means over the N samples). */
typedef struct mbrl_a2c_losses {
  double policy_loss;  /* -(adv * logp(a)).mean() */
  double value_loss;   /* MSE(ret, values); 0 without values */
  double entropy;      /* H.mean() (the entropy loss is -entropy) */
  double loss;         /* policy_loss + vf_coef * value_loss - ent_coef * entropy */
} mbrl_a2c_losses;

/* The A2C/REINFORCE loss of N samples and its gradient: logits (N, A), actions (N) in
 * [0, A), adv (N), ret (N), values (N) or NULL (REINFORCE: no value term). Writes
 * dlogits (N, A) = dloss/dlogits and, when values is given, dvalues (N) = dloss/dV.
 * *out (may be NULL) receives the terms. */
void mbrl_a2c_loss(float *dlogits, float *dvalues, mbrl_a2c_losses *out, const float *logits,
                   const int *actions, const float *adv, const float *ret, const float *values,
                   int N, int A, float vf_coef, float ent_coef);

/* torch.nn.utils.clip_grad_norm_ over the grads of n mlps taken together (NULL entries are
 * skipped): total = sqrt(sum of squared grads); every grad *= max_norm / (total + 1e-6) when
 * that is < 1. *norm (may be NULL) receives the total before clipping. Any backend. */
mbrl_status mbrl_a2c_clip_grad_norm(mbrl_mlp *const *ms, int n, float max_norm, float *norm);

/* ---------------------------------------------------------------- the trainer */

/* One actor-critic. critic and critic_opt are NULL for REINFORCE. */
typedef struct mbrl_a2c_model {
  mbrl_mlp *actor;       /* obs_dim -> hidden -> n_actions logits */
  mbrl_mlp *critic;      /* obs_dim -> hidden -> 1 */
  mbrl_optim *actor_opt; /* RMSprop */
  mbrl_optim *critic_opt;
} mbrl_a2c_model;

/* What one iteration did (means over the models for the losses). */
typedef struct mbrl_a2c_stats {
  mbrl_a2c_losses losses;
  double grad_norm;        /* mean over models of the norm before clipping */
  int episodes;            /* episodes that ended during the iteration */
  double ep_return_mean;   /* mean return of the last (up to) 100 finished episodes, NAN if none */
  double ep_len_mean;      /* their mean length */
} mbrl_a2c_stats;

#define MBRL_A2C_EP_WINDOW 100

typedef struct mbrl_a2c {
  mbrl_a2c_config cfg;
  const mbrl_env_spec *spec;
  mbrl_backend backend;     /* CPU or CUDA (resolved) */
  int M;                    /* models: 1 = plain A2C, > 1 = ensemble */
  int A, O;                 /* n_actions, obs_dim */
  int max_rows;             /* mlp batch capacity: (T+1)*B + T*B rows */
  mbrl_a2c_model *models;   /* (M) */
  mbrl_mlp **actors;        /* (M) views for mbrl_mlp_forward_many */
  mbrl_mlp **critics;       /* (M) or NULL (REINFORCE) */
  mbrl_env_batch envs;      /* B training envs */
  mbrl_philox rng;          /* action sampling, Philox(seed, 2^33) */
  int64_t env_steps;        /* transitions collected */
  int64_t iterations;       /* fragments collected = gradient steps per model */
  int64_t evaluations;      /* mbrl_a2c_evaluate calls (picks the eval env streams) */
  double *contribution;     /* (M) accumulated p_i(a)/sum_j p_j(a) since the last reset */
  int training_enabled;     /* 0 between export and import of an evolution step */
  /* host buffers (no allocation after create) */
  float *obs;               /* (max_rows, O): obs_0..obs_T (T+1)*B rows, then terminal obs */
  float *next_obs;          /* (B, O) scratch for the env step */
  float *act_f;             /* (B) actions as floats for the env */
  int *actions;             /* (T, B) */
  float *rewards;           /* (T, B) */
  uint8_t *terminated;      /* (T, B) */
  uint8_t *truncated;       /* (T, B) */
  int *term_row;            /* (T, B) row in obs of the terminal observation, -1 none */
  int n_term;               /* terminal observations stored this fragment */
  float *out;               /* (M, max_rows, max(A, 1)) mlp outputs copied to the host */
  float *out_v;             /* (M, max_rows) critic outputs on the host */
  float *probs;             /* (M, B, A) */
  float *agg;               /* (B, A) aggregated distribution */
  float *term_vals;         /* (T, B) */
  float *adv, *ret;         /* (T, B) */
  float *dlogits;           /* (T*B, A) */
  float *dvalues;           /* (max_rows) zero beyond T*B */
  double *ep_ret;           /* (B) running episode returns */
  int *ep_len;              /* (B) */
  double win_ret[MBRL_A2C_EP_WINDOW];
  int win_len[MBRL_A2C_EP_WINDOW];
  int win_n, win_pos;
  int64_t episodes_total;
  /* backend copies of the inputs/outputs (alias the host buffers on CPU) */
  float *d_obs, *d_out, *d_out_v, *d_dlogits, *d_dvalues;
} mbrl_a2c;

/* Build M >= 1 models for env `env_id` (a discrete-action env: CartPole-v1) on `backend`
 * (AUTO resolved), the B training envs (reset) and every buffer. Errors: unknown env or a
 * continuous one (MBRL_ERR_INVALID_ARG naming it), bad config, no CUDA device. */
mbrl_status mbrl_a2c_create(mbrl_a2c **out, const mbrl_a2c_config *cfg, const char *env_id,
                            int M, mbrl_backend backend);

/* Release everything (NULL is fine). */
void mbrl_a2c_free(mbrl_a2c *a);

/* Collect one T x B fragment with the current policies, then one update of every model
 * (skipped while training_enabled is 0). Adds T*B to env_steps. *stats may be NULL. */
mbrl_status mbrl_a2c_iterate(mbrl_a2c *a, mbrl_a2c_stats *stats);

/* Run `episodes` fresh episodes (each in its own env; for evaluation k, episode e0 + b of a
 * chunk runs env b of mbrl_env_batch(seed, stream0 = 2^40 + k * episodes + e0)) with the
 * ensemble's argmax action (deterministic = 1) or sampled actions (0, from a separate
 * Philox stream); returns (episodes) or NULL receives each return, *mean their mean. Does
 * not touch training state. */
mbrl_status mbrl_a2c_evaluate(mbrl_a2c *a, int episodes, int deterministic, double *returns,
                              double *mean);

/* The ensemble's action distribution for observations obs (n, O) (host): probs (M, n, A) of
 * the models (may be NULL) and agg (n, A), the normalized sum. n <= max_rows. */
mbrl_status mbrl_a2c_policy(mbrl_a2c *a, const float *obs, int n, float *probs, float *agg);

/* Floats in one model's flat state vector: actor's mbrl_mlp_state_size, then the critic's
 * (seed 000's model_weights_as_vector over policy.state_dict()). */
size_t mbrl_a2c_state_size(const mbrl_a2c *a);

/* Export / import model i's flat state vector (HOST memory, mbrl_a2c_state_size floats). */
mbrl_status mbrl_a2c_get_state(const mbrl_a2c *a, int i, float *state);
mbrl_status mbrl_a2c_set_state(mbrl_a2c *a, int i, const float *state);

/* Zero model i's optimizer state (RMSprop square averages and step counts). */
mbrl_status mbrl_a2c_reset_optim(mbrl_a2c *a, int i);

/* ---------------------------------------------------------------- files */

/* Write every model to `path` atomically and sealed (mbrl/h5util.h): root attrs
 * format="mbrl.policy", format_version=2, env_id, algo, models (M), hidden ("64,64"), obs_dim, n_actions;
 * M = 1: /actor/network/{0,2,4}/{weight,bias}, /critic/network/... (PyTorch state_dict names
 * of nn.Sequential(Linear, Tanh, ...)); M > 1: the same under /models/<i>/. A failed write
 * leaves nothing at `path` ("writing 'PATH' failed: ...; nothing was written"). */
mbrl_status mbrl_a2c_save(const mbrl_a2c *a, const char *path);

/* What a policy file holds (validated: format, version, attributes). */
typedef struct mbrl_a2c_file_info {
  char env_id[64];
  mbrl_a2c_algo algo;
  int models;
  int n_hidden;
  int hidden[MBRL_A2C_MAX_HIDDEN];
} mbrl_a2c_file_info;

/* Read and check the root attributes of a policy file. MBRL_ERR_IO (missing/unreadable) or
 * MBRL_ERR_FORMAT (not HDF5, not mbrl.policy, bad attribute) naming the file. */
mbrl_status mbrl_a2c_file_info_read(const char *path, mbrl_a2c_file_info *info);

/* Load the weights of a file written by mbrl_a2c_save (format_version 1 or 2) into `a`: env,
 * algo, model count and every shape must match (MBRL_ERR_FORMAT naming what differs). Every
 * network is read before any weight of `a` changes: on failure `a` is untouched. Optimizer
 * states are reset. */
mbrl_status mbrl_a2c_load(mbrl_a2c *a, const char *path);

MBRL_EXTERN_C_END

#endif
