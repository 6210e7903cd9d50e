/* a2c.c - A2C / REINFORCE over batched environments for one model or an ensemble (see
 * mbrl/a2c.h). The networks are mlp modules on the chosen backend; the small per-sample math
 * (softmax, GAE, loss gradients, aggregation) runs on the host over T*B rows (softmax and the
 * tanh of the networks on the CPU kernel path, mbrl/cpu.h). After create
 * nothing is allocated: one iteration is T batched actor forwards (all M models in one
 * mbrl_mlp_forward_many), T env steps, one batched critic and actor forward over the fragment
 * and one backward + clip + RMSprop step per model. */
#include "mbrl/a2c.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/cpu_kernels.h"
#include "host/mlp_cuda.h"
#include "host/nn_cpu.h"
#include "mbrl/cpu.h"
#include "mbrl/ensemble.h"
#include "mbrl/h5util.h"

/* ---------------------------------------------------------------- config */

void mbrl_a2c_config_init(mbrl_a2c_config *c, mbrl_a2c_algo algo) {
  memset(c, 0, sizeof *c);
  c->algo = algo;
  c->n_envs = 8;
  c->n_steps = algo == MBRL_A2C_ALGO_REINFORCE ? 50 : 5;
  c->gamma = 0.99f;
  c->gae_lambda = 1.0f;
  c->vf_coef = 0.5f;
  c->ent_coef = algo == MBRL_A2C_ALGO_REINFORCE ? 0.01f : 0.0f;
  c->max_grad_norm = 0.5f;
  c->lr = 7e-4f;
  c->rms_alpha = 0.99f;
  c->rms_eps = 1e-5f;
  c->n_hidden = 2;
  c->hidden[0] = 64;
  c->hidden[1] = 64;
  c->seed = 0;
}

mbrl_status mbrl_a2c_config_check(const mbrl_a2c_config *c) {
  if (!c) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c: config is NULL");
  if (c->algo != MBRL_A2C_ALGO_A2C && c->algo != MBRL_A2C_ALGO_REINFORCE)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c: unknown algo %d (a2c or reinforce)",
                          (int)c->algo);
  if (c->n_envs < 1 || c->n_envs > 65536)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c: n_envs %d out of range 1..65536",
                          c->n_envs);
  if (c->n_steps < 1 || c->n_steps > 100000)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c: n_steps %d out of range 1..100000",
                          c->n_steps);
  if ((long long)c->n_steps * c->n_envs > 4000000)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "a2c: n_steps * n_envs = %lld is too large (at most 4000000)",
                          (long long)c->n_steps * c->n_envs);
  if (!(c->gamma >= 0.0f && c->gamma <= 1.0f))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c: gamma %g out of range [0, 1]",
                          (double)c->gamma);
  if (!(c->gae_lambda >= 0.0f && c->gae_lambda <= 1.0f))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c: gae_lambda %g out of range [0, 1]",
                          (double)c->gae_lambda);
  if (!(c->vf_coef >= 0.0f) || !isfinite(c->vf_coef) || !(c->ent_coef >= 0.0f) ||
      !isfinite(c->ent_coef))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c: vf_coef %g and ent_coef %g must be >= 0",
                          (double)c->vf_coef, (double)c->ent_coef);
  if (!isfinite(c->max_grad_norm))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c: max_grad_norm must be finite");
  if (!(c->lr > 0.0f) || !isfinite(c->lr))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c: lr %g must be > 0", (double)c->lr);
  if (!(c->rms_alpha >= 0.0f && c->rms_alpha <= 1.0f))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c: rms_alpha %g out of range [0, 1]",
                          (double)c->rms_alpha);
  if (!(c->rms_eps > 0.0f) || !isfinite(c->rms_eps))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c: rms_eps %g must be > 0",
                          (double)c->rms_eps);
  if (c->n_hidden < 0 || c->n_hidden > MBRL_A2C_MAX_HIDDEN || c->n_hidden + 1 > MBRL_MLP_MAX_LAYERS)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c: %d hidden layers (0..%d allowed)",
                          c->n_hidden, MBRL_A2C_MAX_HIDDEN);
  for (int i = 0; i < c->n_hidden; ++i)
    if (c->hidden[i] < 1 || c->hidden[i] > 4096)
      return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c: hidden width %d out of range 1..4096",
                            c->hidden[i]);
  return MBRL_OK;
}

const char *mbrl_a2c_algo_name(mbrl_a2c_algo a) {
  return a == MBRL_A2C_ALGO_REINFORCE ? "reinforce" : "a2c";
}

mbrl_status mbrl_a2c_algo_parse(const char *name, mbrl_a2c_algo *out) {
  if (name && strcmp(name, "a2c") == 0) {
    *out = MBRL_A2C_ALGO_A2C;
    return MBRL_OK;
  }
  if (name && strcmp(name, "reinforce") == 0) {
    *out = MBRL_A2C_ALGO_REINFORCE;
    return MBRL_OK;
  }
  return mbrl_set_error(MBRL_ERR_INVALID_ARG, "unknown algorithm '%s'; use a2c or reinforce",
                        name ? name : "(null)");
}

uint64_t mbrl_a2c_model_seed(uint64_t seed, int i, int net) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (uint64_t)(2 * (uint64_t)i + (uint64_t)net + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/* ---------------------------------------------------------------- math */

void mbrl_a2c_softmax(float *probs, float *logp, const float *logits, int N, int A) {
  /* the CPU kernel path's (src/host/cpu/a2c.c): vector exp/log, VW rows at a time */
  mbrl_cpu_table_get()->softmax(probs, logp, logits, N, A);
}

void mbrl_a2c_gae(float *adv, float *ret, const float *rewards, const uint8_t *terminated,
                  const uint8_t *truncated, const float *values, const float *terminal_values,
                  const float *last_values, int T, int B, float gamma, float lambda) {
  for (int b = 0; b < B; ++b) {
    float gae = 0.0f;
    for (int t = T - 1; t >= 0; --t) {
      const size_t k = (size_t)t * B + b;
      const int done = terminated[k] || truncated[k];
      float r = rewards[k];
      if (truncated[k] && !terminated[k] && terminal_values) r += gamma * terminal_values[k];
      const float next_v = t == T - 1 ? last_values[b] : values[k + (size_t)B];
      const float nonterm = done ? 0.0f : 1.0f;
      const float delta = r + gamma * next_v * nonterm - values[k];
      gae = delta + gamma * lambda * nonterm * gae;
      adv[k] = gae;
      ret[k] = gae + values[k];
    }
  }
}

void mbrl_a2c_reinforce_returns(float *adv, float *ret, const float *rewards,
                                const uint8_t *terminated, const uint8_t *truncated, int T,
                                int B, float gamma) {
  for (int b = 0; b < B; ++b) {
    float g = 0.0f, sum = 0.0f;
    for (int t = T - 1; t >= 0; --t) {
      const size_t k = (size_t)t * B + b;
      const int done = terminated[k] || truncated[k];
      g = rewards[k] + gamma * (done ? 0.0f : g);
      ret[k] = g;
      sum += g;
    }
    const float mean = sum / (float)T;
    for (int t = 0; t < T; ++t) {
      const size_t k = (size_t)t * B + b;
      adv[k] = ret[k] - mean;
    }
  }
}

void mbrl_a2c_loss(float *dlogits, float *dvalues, mbrl_a2c_losses *out, const float *logits,
                   const int *actions, const float *adv, const float *ret, const float *values,
                   int N, int A, float vf_coef, float ent_coef) {
  double pl = 0.0, vl = 0.0, ent = 0.0;
  const float invN = 1.0f / (float)N;
  float lp_buf[64], p_buf[64];
  for (int n = 0; n < N; ++n) {
    const float *z = logits + (size_t)n * A;
    float *lp = lp_buf, *p = p_buf;
    float *heap = NULL;
    if (A > 64) { /* wide action spaces: rare, allocate */
      heap = (float *)malloc(2 * (size_t)A * sizeof(float));
      if (!heap) continue;
      lp = heap;
      p = heap + A;
    }
    mbrl_a2c_softmax(p, lp, z, 1, A);
    float H = 0.0f;
    for (int a = 0; a < A; ++a) H -= p[a] * lp[a];
    const int act = actions[n];
    pl -= (double)adv[n] * (double)lp[act];
    ent += (double)H;
    /* d/dz_k of -(adv * logp_act)/N = -(adv/N) (1[k = act] - p_k);
     * d/dz_k of -ent_coef * H/N = (ent_coef/N) p_k (logp_k + H) */
    float *d = dlogits + (size_t)n * A;
    for (int a = 0; a < A; ++a) {
      const float onehot = a == act ? 1.0f : 0.0f;
      d[a] = -adv[n] * invN * (onehot - p[a]) + ent_coef * invN * p[a] * (lp[a] + H);
    }
    if (values) {
      const float diff = values[n] - ret[n];
      vl += (double)diff * (double)diff;
      dvalues[n] = vf_coef * 2.0f * diff * invN;
    }
    free(heap);
  }
  if (out) {
    out->policy_loss = pl / N;
    out->value_loss = values ? vl / N : 0.0;
    out->entropy = ent / N;
    out->loss = out->policy_loss + (double)vf_coef * out->value_loss - (double)ent_coef * out->entropy;
  }
}

/* Total norm sqrt(sumsq) into *norm (may be NULL); a non-finite one is refused. *coef gets the
 * factor that scales it down to max_norm, or 1 when no clip is due (max_norm 0 = off). */
static mbrl_status clip_coef(double sumsq, float max_norm, float *norm, float *coef) {
  const float total = (float)sqrt(sumsq);
  if (norm) *norm = total;
  *coef = 1.0f;
  if (!isfinite(total))
    return mbrl_set_error(MBRL_ERR_NUMERIC,
                          "a2c: gradient norm is %g (diverged; lower --lr or check the input)",
                          (double)total);
  if (max_norm > 0.0f) {
    const float c = max_norm / (total + 1e-6f);
    if (c < 1.0f) *coef = c;
  }
  return MBRL_OK;
}

mbrl_status mbrl_a2c_clip_grad_norm(mbrl_mlp *const *ms, int n, float max_norm, float *norm) {
  int any_cuda = 0;
  float coef;
  for (int i = 0; i < n; ++i)
    if (ms[i] && ms[i]->backend == MBRL_BACKEND_CUDA) any_cuda = 1;
  if (!any_cuda) {
    double s = 0.0;
    for (int i = 0; i < n; ++i) {
      if (!ms[i]) continue;
      s += (double)mbrl_nn_cpu_sumsq(ms[i]->grads, ms[i]->n_params);
    }
    mbrl_status st = clip_coef(s, max_norm, norm, &coef);
    if (st) return st;
    if (coef < 1.0f)
      for (int i = 0; i < n; ++i) {
        if (!ms[i]) continue;
        float *g = ms[i]->grads;
        for (size_t k = 0; k < ms[i]->n_params; ++k) g[k] *= coef;
      }
    return MBRL_OK;
  }
  /* any backend: each mlp's norm (a clip at FLT_MAX scales by exactly 1), then one common
   * scale applied as a clip whose threshold makes its factor equal to coef */
  float ni[16];
  if (n > 16) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c_clip_grad_norm: at most 16 mlps");
  double s = 0.0;
  for (int i = 0; i < n; ++i) {
    ni[i] = 0.0f;
    if (!ms[i]) continue;
    mbrl_status st = mbrl_mlp_clip_grad_norm(ms[i], FLT_MAX, &ni[i]);
    if (st) return st;
    s += (double)ni[i] * (double)ni[i];
  }
  mbrl_status st = clip_coef(s, max_norm, norm, &coef);
  if (st) return st;
  if (coef < 1.0f)
    for (int i = 0; i < n; ++i) {
      if (!ms[i]) continue;
      if ((st = mbrl_mlp_clip_grad_norm(ms[i], coef * (ni[i] + 1e-6f), NULL))) return st;
    }
  return MBRL_OK;
}

/* ---------------------------------------------------------------- backend buffers */

static mbrl_status dev_alloc(const mbrl_a2c *a, float **d, float *host, size_t n) {
#ifdef MBRL_HAVE_CUDA
  if (a->backend == MBRL_BACKEND_CUDA) return mbrl_mlp_cuda_alloc((void **)d, (n ? n : 1) * sizeof(float));
#endif
  (void)a;
  (void)n;
  *d = host;
  return MBRL_OK;
}

static void dev_free(const mbrl_a2c *a, float *d) {
#ifdef MBRL_HAVE_CUDA
  if (a->backend == MBRL_BACKEND_CUDA && d) mbrl_mlp_cuda_free(d);
#endif
  (void)a;
  (void)d;
}

/* host -> backend (no-op on CPU where d aliases h) */
static mbrl_status to_dev(const mbrl_a2c *a, float *d, const float *h, size_t n) {
#ifdef MBRL_HAVE_CUDA
  if (a->backend == MBRL_BACKEND_CUDA) return mbrl_mlp_cuda_copy(d, h, n * sizeof(float), 1);
#endif
  (void)a;
  if (d != h && n) memcpy(d, h, n * sizeof(float));
  return MBRL_OK;
}

static mbrl_status from_dev(const mbrl_a2c *a, float *h, const float *d, size_t n) {
#ifdef MBRL_HAVE_CUDA
  if (a->backend == MBRL_BACKEND_CUDA) return mbrl_mlp_cuda_copy(h, d, n * sizeof(float), 0);
#endif
  (void)a;
  if (d != h && n) memcpy(h, d, n * sizeof(float));
  return MBRL_OK;
}

/* ---------------------------------------------------------------- create / free */

void mbrl_a2c_free(mbrl_a2c *a) {
  if (!a) return;
  if (a->models)
    for (int i = 0; i < a->M; ++i) {
      mbrl_optim_free(a->models[i].actor_opt);
      mbrl_optim_free(a->models[i].critic_opt);
      mbrl_mlp_free(a->models[i].actor);
      mbrl_mlp_free(a->models[i].critic);
    }
  if (a->backend == MBRL_BACKEND_CUDA) {
    dev_free(a, a->d_obs);
    dev_free(a, a->d_out);
    dev_free(a, a->d_out_v);
    dev_free(a, a->d_dlogits);
    dev_free(a, a->d_dvalues);
  }
  mbrl_env_batch_free(&a->envs);
  free(a->models);
  free(a->actors);
  free(a->critics);
  free(a->contribution);
  free(a->obs);
  free(a->next_obs);
  free(a->act_f);
  free(a->actions);
  free(a->rewards);
  free(a->terminated);
  free(a->truncated);
  free(a->term_row);
  free(a->out);
  free(a->out_v);
  free(a->probs);
  free(a->agg);
  free(a->term_vals);
  free(a->adv);
  free(a->ret);
  free(a->dlogits);
  free(a->dvalues);
  free(a->ep_ret);
  free(a->ep_len);
  free(a);
}

static void net_config(mbrl_mlp_config *mc, const mbrl_a2c_config *c, int in, int out,
                       float head_gain, uint64_t seed) {
  int sizes[MBRL_MLP_MAX_LAYERS + 1];
  sizes[0] = in;
  for (int i = 0; i < c->n_hidden; ++i) sizes[i + 1] = c->hidden[i];
  sizes[c->n_hidden + 1] = out;
  mbrl_mlp_config_init(mc, c->n_hidden + 1, sizes);
  mc->activation = MBRL_ACT_TANH;
  for (int l = 0; l < c->n_hidden; ++l) mc->init_gain[l] = (float)sqrt(2.0);
  mc->init_gain[c->n_hidden] = head_gain;
  mc->seed = seed;
}

mbrl_status mbrl_a2c_create(mbrl_a2c **out, const mbrl_a2c_config *cfg, const char *env_id,
                            int M, mbrl_backend backend) {
  if (!out) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c_create: out is NULL");
  *out = NULL;
  mbrl_status st = mbrl_a2c_config_check(cfg);
  if (st) return st;
  const mbrl_env_spec *spec = env_id ? mbrl_env_find(env_id) : NULL;
  if (!spec)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c: unknown environment '%s'; use one of: %s",
                          env_id ? env_id : "(null)", mbrl_env_known_ids());
  if (!spec->discrete || spec->n_actions < 2)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "a2c: %s has a continuous action space; the A2C/REINFORCE policy here "
                          "is categorical and needs a discrete-action environment (CartPole-v1)",
                          spec->id);
  if (M < 1 || M > 1024)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c: ensemble size %d out of range 1..1024", M);
  mbrl_backend be;
  st = mbrl_backend_resolve(backend, &be);
  if (st) return st;
  st = mbrl_cpu_check(); /* the host math runs CPU kernels on any backend (mbrl/cpu.h) */
  if (st) return st;

  mbrl_a2c *a = (mbrl_a2c *)calloc(1, sizeof *a);
  if (!a) return mbrl_set_error(MBRL_ERR_NOMEM, "a2c: out of memory");
  a->cfg = *cfg;
  a->spec = spec;
  a->backend = be;
  a->M = M;
  a->A = spec->n_actions;
  a->O = spec->obs_dim;
  a->training_enabled = 1;
  const int T = cfg->n_steps, B = cfg->n_envs, O = a->O, A = a->A;
  const int reinforce = cfg->algo == MBRL_A2C_ALGO_REINFORCE;
  a->max_rows = (T + 1) * B + T * B;
  const size_t R = (size_t)a->max_rows, TB = (size_t)T * B;

  a->models = (mbrl_a2c_model *)calloc((size_t)M, sizeof *a->models);
  a->actors = (mbrl_mlp **)calloc((size_t)M, sizeof *a->actors);
  a->critics = reinforce ? NULL : (mbrl_mlp **)calloc((size_t)M, sizeof *a->critics);
  a->contribution = (double *)calloc((size_t)M, sizeof(double));
  a->obs = (float *)calloc(R * O, sizeof(float));
  a->next_obs = (float *)calloc((size_t)B * O, sizeof(float));
  a->act_f = (float *)calloc((size_t)B, sizeof(float));
  a->actions = (int *)calloc(TB, sizeof(int));
  a->rewards = (float *)calloc(TB, sizeof(float));
  a->terminated = (uint8_t *)calloc(TB, 1);
  a->truncated = (uint8_t *)calloc(TB, 1);
  a->term_row = (int *)calloc(TB, sizeof(int));
  a->out = (float *)calloc((size_t)M * R * A, sizeof(float));
  a->out_v = (float *)calloc((size_t)M * R, sizeof(float));
  a->probs = (float *)calloc((size_t)M * R * A, sizeof(float));
  a->agg = (float *)calloc(R * A, sizeof(float));
  a->term_vals = (float *)calloc(TB, sizeof(float));
  a->adv = (float *)calloc(TB, sizeof(float));
  a->ret = (float *)calloc(TB, sizeof(float));
  a->dlogits = (float *)calloc(TB * A, sizeof(float));
  a->dvalues = (float *)calloc(R, sizeof(float));
  a->ep_ret = (double *)calloc((size_t)B, sizeof(double));
  a->ep_len = (int *)calloc((size_t)B, sizeof(int));
  if (!a->models || !a->actors || (!reinforce && !a->critics) || !a->contribution || !a->obs ||
      !a->next_obs || !a->act_f || !a->actions || !a->rewards || !a->terminated ||
      !a->truncated || !a->term_row || !a->out || !a->out_v || !a->probs || !a->agg ||
      !a->term_vals || !a->adv || !a->ret || !a->dlogits || !a->dvalues || !a->ep_ret ||
      !a->ep_len) {
    mbrl_a2c_free(a);
    return mbrl_set_error(MBRL_ERR_NOMEM, "a2c: out of memory for the buffers of %d models", M);
  }
  const mbrl_optim_config oc = mbrl_optim_rmsprop_config(cfg->lr, cfg->rms_alpha, cfg->rms_eps);
  for (int i = 0; i < M && !st; ++i) {
    mbrl_a2c_model *m = &a->models[i];
    mbrl_mlp_config mc;
    net_config(&mc, cfg, O, A, 0.01f, mbrl_a2c_model_seed(cfg->seed, i, 0));
    st = mbrl_mlp_create(&m->actor, &mc, be, a->max_rows);
    if (!st) st = mbrl_optim_create(&m->actor_opt, &oc, m->actor);
    if (!st && !reinforce) {
      net_config(&mc, cfg, O, 1, 1.0f, mbrl_a2c_model_seed(cfg->seed, i, 1));
      st = mbrl_mlp_create(&m->critic, &mc, be, a->max_rows);
      if (!st) st = mbrl_optim_create(&m->critic_opt, &oc, m->critic);
    }
    a->actors[i] = m->actor;
    if (a->critics) a->critics[i] = m->critic;
  }
  if (!st) st = mbrl_env_batch_init(&a->envs, spec->id, B, cfg->seed, 0);
  if (!st) st = dev_alloc(a, &a->d_obs, a->obs, R * O);
  if (!st) st = dev_alloc(a, &a->d_out, a->out, (size_t)M * R * A);
  if (!st) st = dev_alloc(a, &a->d_out_v, a->out_v, (size_t)M * R);
  if (!st) st = dev_alloc(a, &a->d_dlogits, a->dlogits, TB * A);
  if (!st) st = dev_alloc(a, &a->d_dvalues, a->dvalues, R);
  if (!st) st = to_dev(a, a->d_dvalues, a->dvalues, R); /* zero rows beyond T*B */
  if (st) {
    mbrl_a2c_free(a);
    return st;
  }
  mbrl_env_batch_reset(&a->envs, a->obs);
  mbrl_philox_init(&a->rng, cfg->seed, 1ULL << 33, 0);
  *out = a;
  return MBRL_OK;
}

/* ---------------------------------------------------------------- acting */

/* probs (M, n, A) of every model for host observations obs (n, O): one forward_many. */
static mbrl_status actor_probs(mbrl_a2c *a, const float *obs, int n, float *probs) {
  const float *x = obs;
  float *y = a->out;
  mbrl_status st = MBRL_OK;
  if (a->backend == MBRL_BACKEND_CUDA) {
    st = to_dev(a, a->d_obs, obs, (size_t)n * a->O);
    x = a->d_obs;
    y = a->d_out;
  }
  if (!st) st = mbrl_mlp_forward_many(a->actors, a->M, x, n, y, 0);
  if (!st) st = from_dev(a, a->out, y, (size_t)a->M * n * a->A);
  if (!st) mbrl_a2c_softmax(probs, NULL, a->out, a->M * n, a->A);
  return st;
}

mbrl_status mbrl_a2c_policy(mbrl_a2c *a, const float *obs, int n, float *probs, float *agg) {
  if (!a || !obs || !agg) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c_policy: NULL argument");
  if (n < 1 || n > a->max_rows)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c_policy: %d observations (1..%d)", n,
                          a->max_rows);
  float *p = probs ? probs : a->probs;
  mbrl_status st = actor_probs(a, obs, n, p);
  if (!st) mbrl_ensemble_aggregate(agg, p, a->M, n, a->A);
  return st;
}

/* ---------------------------------------------------------------- update */

static mbrl_status update(mbrl_a2c *a, mbrl_a2c_stats *s) {
  const int T = a->cfg.n_steps, B = a->cfg.n_envs, A = a->A, O = a->O, M = a->M;
  const int N = T * B;
  const int reinforce = a->cfg.algo == MBRL_A2C_ALGO_REINFORCE;
  const int R = reinforce ? N : (T + 1) * B + a->n_term;
  mbrl_status st = to_dev(a, a->d_obs, a->obs, (size_t)R * O);
  if (!st && !reinforce) st = mbrl_mlp_forward_many(a->critics, M, a->d_obs, R, a->d_out_v, 1);
  if (!st && !reinforce) st = from_dev(a, a->out_v, a->d_out_v, (size_t)M * R);
  if (!st) st = mbrl_mlp_forward_many(a->actors, M, a->d_obs, N, a->d_out, 1);
  if (!st) st = from_dev(a, a->out, a->d_out, (size_t)M * N * A);
  if (st) return st;
  mbrl_a2c_losses sum = {0, 0, 0, 0};
  double gsum = 0.0;
  for (int i = 0; i < M; ++i) {
    mbrl_a2c_model *m = &a->models[i];
    const float *logits = a->out + (size_t)i * N * A;
    mbrl_a2c_losses l;
    if (!reinforce) {
      const float *v = a->out_v + (size_t)i * R;
      for (int k = 0; k < N; ++k)
        if (a->term_row[k] >= 0) a->term_vals[k] = v[a->term_row[k]];
      mbrl_a2c_gae(a->adv, a->ret, a->rewards, a->terminated, a->truncated, v, a->term_vals,
                   v + N, T, B, a->cfg.gamma, a->cfg.gae_lambda);
      mbrl_a2c_loss(a->dlogits, a->dvalues, &l, logits, a->actions, a->adv, a->ret, v, N, A,
                    a->cfg.vf_coef, a->cfg.ent_coef);
    } else {
      mbrl_a2c_reinforce_returns(a->adv, a->ret, a->rewards, a->terminated, a->truncated, T, B,
                                 a->cfg.gamma);
      mbrl_a2c_loss(a->dlogits, NULL, &l, logits, a->actions, a->adv, a->ret, NULL, N, A,
                    a->cfg.vf_coef, a->cfg.ent_coef);
    }
    st = to_dev(a, a->d_dlogits, a->dlogits, (size_t)N * A);
    if (!st) st = mbrl_mlp_backward(m->actor, a->d_dlogits, NULL);
    if (!st && !reinforce) st = to_dev(a, a->d_dvalues, a->dvalues, (size_t)N);
    if (!st && !reinforce) st = mbrl_mlp_backward(m->critic, a->d_dvalues, NULL);
    float gn = 0.0f;
    mbrl_mlp *nets[2] = {m->actor, m->critic};
    if (!st) st = mbrl_a2c_clip_grad_norm(nets, 2, a->cfg.max_grad_norm, &gn);
    if (!st) st = mbrl_optim_step(m->actor_opt, m->actor);
    if (!st && !reinforce) st = mbrl_optim_step(m->critic_opt, m->critic);
    if (st) return st;
    sum.policy_loss += l.policy_loss;
    sum.value_loss += l.value_loss;
    sum.entropy += l.entropy;
    sum.loss += l.loss;
    gsum += gn;
  }
  if (s) {
    s->losses.policy_loss = sum.policy_loss / M;
    s->losses.value_loss = sum.value_loss / M;
    s->losses.entropy = sum.entropy / M;
    s->losses.loss = sum.loss / M;
    s->grad_norm = gsum / M;
  }
  return MBRL_OK;
}

mbrl_status mbrl_a2c_iterate(mbrl_a2c *a, mbrl_a2c_stats *stats) {
  if (!a) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c_iterate: NULL trainer");
  const int T = a->cfg.n_steps, B = a->cfg.n_envs, A = a->A, O = a->O, M = a->M;
  const int reinforce = a->cfg.algo == MBRL_A2C_ALGO_REINFORCE;
  const size_t BO = (size_t)B * O;
  const float *agg = M == 1 ? a->probs : a->agg;
  int episodes = 0;
  mbrl_status st = MBRL_OK;
  a->n_term = 0;
  for (int t = 0; t < T; ++t) {
    float *o = a->obs + (size_t)t * BO;
    st = actor_probs(a, o, B, a->probs);
    if (st) return st;
    if (M > 1) mbrl_ensemble_aggregate(a->agg, a->probs, M, B, A);
    int *act = a->actions + (size_t)t * B;
    mbrl_ensemble_select(act, agg, B, A, 0, &a->rng);
    if (M > 1) mbrl_ensemble_contribution(a->contribution, a->probs, act, M, B, A);
    else a->contribution[0] += (double)B;
    for (int b = 0; b < B; ++b) a->act_f[b] = (float)act[b];
    const size_t k0 = (size_t)t * B;
    mbrl_env_batch_step(&a->envs, a->act_f, o + BO, a->next_obs, a->rewards + k0,
                        a->terminated + k0, a->truncated + k0);
    for (int b = 0; b < B; ++b) {
      const size_t k = k0 + b;
      a->term_row[k] = -1;
      a->ep_ret[b] += (double)a->rewards[k];
      a->ep_len[b] += 1;
      if (a->terminated[k] || a->truncated[k]) {
        a->win_ret[a->win_pos] = a->ep_ret[b];
        a->win_len[a->win_pos] = a->ep_len[b];
        a->win_pos = (a->win_pos + 1) % MBRL_A2C_EP_WINDOW;
        if (a->win_n < MBRL_A2C_EP_WINDOW) a->win_n++;
        a->ep_ret[b] = 0.0;
        a->ep_len[b] = 0;
        episodes++;
        a->episodes_total++;
        if (a->truncated[k] && !a->terminated[k] && !reinforce) {
          /* SB3: bootstrap with V(terminal observation); its row follows obs_T */
          const int row = (T + 1) * B + a->n_term++;
          memcpy(a->obs + (size_t)row * O, a->next_obs + (size_t)b * O, (size_t)O * sizeof(float));
          a->term_row[k] = row;
        }
      }
    }
  }
  a->env_steps += (int64_t)T * B;
  mbrl_a2c_stats s;
  memset(&s, 0, sizeof s);
  if (a->training_enabled) st = update(a, &s);
  if (st) return st;
  /* the next fragment starts from obs_T */
  memcpy(a->obs, a->obs + (size_t)T * BO, BO * sizeof(float));
  a->iterations++;
  if (stats) {
    *stats = s;
    stats->episodes = episodes;
    double r = 0.0, l = 0.0;
    for (int i = 0; i < a->win_n; ++i) {
      r += a->win_ret[i];
      l += a->win_len[i];
    }
    stats->ep_return_mean = a->win_n ? r / a->win_n : NAN;
    stats->ep_len_mean = a->win_n ? l / a->win_n : NAN;
  }
  return MBRL_OK;
}

/* ---------------------------------------------------------------- evaluation */

mbrl_status mbrl_a2c_evaluate(mbrl_a2c *a, int episodes, int deterministic, double *returns,
                              double *mean) {
  if (!a || episodes < 1)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c_evaluate: need a trainer and episodes >= 1");
  const int O = a->O, A = a->A, M = a->M;
  const int chunk = episodes < a->max_rows ? episodes : a->max_rows;
  float *obs = (float *)malloc((size_t)chunk * O * sizeof(float));
  float *probs = (float *)malloc((size_t)M * chunk * A * sizeof(float));
  float *agg = (float *)malloc((size_t)chunk * A * sizeof(float));
  float *act_f = (float *)malloc((size_t)chunk * sizeof(float));
  float *rew = (float *)malloc((size_t)chunk * sizeof(float));
  int *act = (int *)malloc((size_t)chunk * sizeof(int));
  uint8_t *term = (uint8_t *)malloc((size_t)chunk);
  uint8_t *trunc = (uint8_t *)malloc((size_t)chunk);
  uint8_t *done = (uint8_t *)malloc((size_t)chunk);
  double *ret = (double *)malloc((size_t)chunk * sizeof(double));
  mbrl_status st = MBRL_OK;
  if (!obs || !probs || !agg || !act_f || !rew || !act || !term || !trunc || !done || !ret)
    st = mbrl_set_error(MBRL_ERR_NOMEM, "a2c_evaluate: out of memory");
  const uint64_t k = (uint64_t)a->evaluations;
  mbrl_philox rng;
  mbrl_philox_init(&rng, a->cfg.seed, (1ULL << 34) + k, 0);
  double total = 0.0;
  for (int e0 = 0; e0 < episodes && !st; e0 += chunk) {
    const int n = episodes - e0 < chunk ? episodes - e0 : chunk;
    mbrl_env_batch eb;
    memset(&eb, 0, sizeof eb);
    st = mbrl_env_batch_init(&eb, a->spec->id, n, a->cfg.seed,
                             (1ULL << 40) + k * (uint64_t)episodes + (uint64_t)e0);
    if (st) break;
    mbrl_env_batch_reset(&eb, obs);
    memset(done, 0, (size_t)n);
    for (int b = 0; b < n; ++b) ret[b] = 0.0;
    int left = n;
    while (left > 0 && !st) {
      st = actor_probs(a, obs, n, probs);
      if (st) break;
      mbrl_ensemble_aggregate(agg, probs, M, n, A);
      mbrl_ensemble_select(act, agg, n, A, deterministic, &rng);
      for (int b = 0; b < n; ++b) act_f[b] = (float)act[b];
      mbrl_env_batch_step(&eb, act_f, obs, NULL, rew, term, trunc);
      for (int b = 0; b < n; ++b) {
        if (done[b]) continue;
        ret[b] += (double)rew[b];
        if (term[b] || trunc[b]) {
          done[b] = 1;
          left--;
        }
      }
    }
    mbrl_env_batch_free(&eb);
    for (int b = 0; b < n && !st; ++b) {
      if (returns) returns[e0 + b] = ret[b];
      total += ret[b];
    }
  }
  free(obs);
  free(probs);
  free(agg);
  free(act_f);
  free(rew);
  free(act);
  free(term);
  free(trunc);
  free(done);
  free(ret);
  if (st) return st;
  a->evaluations++;
  if (mean) *mean = total / episodes;
  return MBRL_OK;
}

/* ---------------------------------------------------------------- state vectors */

size_t mbrl_a2c_state_size(const mbrl_a2c *a) {
  const mbrl_a2c_model *m = &a->models[0];
  return mbrl_mlp_state_size(m->actor) + (m->critic ? mbrl_mlp_state_size(m->critic) : 0);
}

mbrl_status mbrl_a2c_get_state(const mbrl_a2c *a, int i, float *state) {
  if (!a || !state || i < 0 || i >= a->M)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c_get_state: bad model index %d (0..%d)", i,
                          a ? a->M - 1 : -1);
  const mbrl_a2c_model *m = &a->models[i];
  mbrl_status st = mbrl_mlp_get_state(m->actor, state);
  if (!st && m->critic) st = mbrl_mlp_get_state(m->critic, state + mbrl_mlp_state_size(m->actor));
  return st;
}

mbrl_status mbrl_a2c_set_state(mbrl_a2c *a, int i, const float *state) {
  if (!a || !state || i < 0 || i >= a->M)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c_set_state: bad model index %d (0..%d)", i,
                          a ? a->M - 1 : -1);
  mbrl_a2c_model *m = &a->models[i];
  mbrl_status st = mbrl_mlp_set_state(m->actor, state);
  if (!st && m->critic) st = mbrl_mlp_set_state(m->critic, state + mbrl_mlp_state_size(m->actor));
  return st;
}

mbrl_status mbrl_a2c_reset_optim(mbrl_a2c *a, int i) {
  if (!a || i < 0 || i >= a->M)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c_reset_optim: bad model index %d", i);
  mbrl_status st = mbrl_optim_reset(a->models[i].actor_opt);
  if (!st && a->models[i].critic_opt) st = mbrl_optim_reset(a->models[i].critic_opt);
  return st;
}

/* ---------------------------------------------------------------- files */

static void hidden_str(const mbrl_a2c_config *c, char *buf, size_t cap) {
  size_t k = 0;
  buf[0] = '\0';
  for (int i = 0; i < c->n_hidden && k + 12 < cap; ++i)
    k += (size_t)snprintf(buf + k, cap - k, "%s%d", i ? "," : "", c->hidden[i]);
}

static void net_prefix(char *buf, size_t cap, int M, int i, const char *net) {
  if (M == 1) snprintf(buf, cap, "/%s/network", net);
  else snprintf(buf, cap, "/models/%d/%s/network", i, net);
}

mbrl_status mbrl_a2c_save(const mbrl_a2c *a, const char *path) {
  if (!a || !path) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c_save: NULL argument");
  mbrl_h5_writer w;
  mbrl_status st = mbrl_h5_writer_open(&w, path);
  if (st) return st;
  char hid[128], cfg_json[1024], pre[128];
  hidden_str(&a->cfg, hid, sizeof hid);
  const mbrl_a2c_config *c = &a->cfg;
  snprintf(cfg_json, sizeof cfg_json,
           "{\"algo\": \"%s\", \"n_envs\": %d, \"n_steps\": %d, \"gamma\": %.9g, "
           "\"gae_lambda\": %.9g, \"vf_coef\": %.9g, \"ent_coef\": %.9g, \"max_grad_norm\": %.9g, "
           "\"lr\": %.9g, \"rms_alpha\": %.9g, \"rms_eps\": %.9g, \"hidden\": [%s], "
           "\"seed\": %llu, \"models\": %d, \"env_steps\": %lld}",
           mbrl_a2c_algo_name(c->algo), c->n_envs, c->n_steps, (double)c->gamma,
           (double)c->gae_lambda, (double)c->vf_coef, (double)c->ent_coef,
           (double)c->max_grad_norm, (double)c->lr, (double)c->rms_alpha, (double)c->rms_eps,
           hid, (unsigned long long)c->seed, a->M, (long long)a->env_steps);
  st = mbrl_h5_attr_write_str(w.file, "format", MBRL_POLICY_FORMAT);
  if (!st) st = mbrl_h5_attr_write_i64(w.file, "format_version", MBRL_POLICY_FORMAT_VERSION);
  if (!st) st = mbrl_h5_attr_write_str(w.file, "env_id", a->spec->id);
  if (!st) st = mbrl_h5_attr_write_str(w.file, "algo", mbrl_a2c_algo_name(c->algo));
  if (!st) st = mbrl_h5_attr_write_i64(w.file, "models", a->M);
  if (!st) st = mbrl_h5_attr_write_str(w.file, "hidden", hid);
  if (!st) st = mbrl_h5_attr_write_i64(w.file, "obs_dim", a->O);
  if (!st) st = mbrl_h5_attr_write_i64(w.file, "n_actions", a->A);
  if (!st) st = mbrl_h5_attr_write_i64(w.file, "env_steps", a->env_steps);
  if (!st) st = mbrl_h5_attr_write_str(w.file, "config", cfg_json);
  for (int i = 0; i < a->M && !st; ++i) {
    net_prefix(pre, sizeof pre, a->M, i, "actor");
    st = mbrl_mlp_write_h5(a->models[i].actor, w.file, pre);
    if (!st && a->models[i].critic) {
      net_prefix(pre, sizeof pre, a->M, i, "critic");
      st = mbrl_mlp_write_h5(a->models[i].critic, w.file, pre);
    }
  }
  return mbrl_h5_writer_finish(&w, st);
}

/* Parse "64,64" into widths; 0 on a malformed list. */
static int parse_hidden(const char *s, int *out, int *n) {
  *n = 0;
  if (!*s) return 1; /* no hidden layers */
  while (*s) {
    char *e;
    long v = strtol(s, &e, 10);
    if (e == s || v < 1 || v > 4096 || *n >= MBRL_A2C_MAX_HIDDEN) return 0;
    out[(*n)++] = (int)v;
    s = e;
    if (*s == ',') ++s;
    else if (*s) return 0;
  }
  return 1;
}

static mbrl_status read_info(hid_t f, const char *path, mbrl_a2c_file_info *info) {
  memset(info, 0, sizeof *info);
  mbrl_status st = mbrl_h5_check_format(f, path, MBRL_POLICY_FORMAT, MBRL_POLICY_FORMAT_VERSION);
  char buf[128];
  int64_t v = 0;
  if (!st) st = mbrl_h5_attr_read_str(f, path, "env_id", info->env_id, sizeof info->env_id);
  if (!st) st = mbrl_h5_attr_read_str(f, path, "algo", buf, sizeof buf);
  if (!st && mbrl_a2c_algo_parse(buf, &info->algo))
    st = mbrl_set_error(MBRL_ERR_FORMAT, "%s: attribute algo is '%s' (a2c or reinforce expected)",
                        path, buf);
  if (!st) st = mbrl_h5_attr_read_i64(f, path, "models", &v);
  if (!st && (v < 1 || v > 1024))
    st = mbrl_set_error(MBRL_ERR_FORMAT, "%s: attribute models is %lld (1..1024 expected)", path,
                        (long long)v);
  if (!st) info->models = (int)v;
  if (!st) st = mbrl_h5_attr_read_str(f, path, "hidden", buf, sizeof buf);
  if (!st && !parse_hidden(buf, info->hidden, &info->n_hidden))
    st = mbrl_set_error(MBRL_ERR_FORMAT, "%s: attribute hidden is '%s' (e.g. '64,64' expected)",
                        path, buf);
  /* the networks these attributes describe must fit in the file: callers allocate for them */
  const mbrl_env_spec *spec = st ? NULL : mbrl_env_find(info->env_id);
  if (spec) {
    double per_model = 0.0;
    for (int net = 0; net < 2; ++net) {
      double in = spec->obs_dim;
      for (int l = 0; l <= info->n_hidden; ++l) {
        const double out = l < info->n_hidden ? info->hidden[l] : net ? 1 : spec->n_actions;
        per_model += (in + 1.0) * out;
        in = out;
      }
    }
    char what[200];
    snprintf(what, sizeof what, "%d models of hidden widths '%.100s'", info->models, buf);
    st = mbrl_h5_check_claim(f, path, 4.0 * per_model * info->models, what);
  }
  return st;
}

typedef struct info_args {
  mbrl_a2c_file_info *info;
} info_args;

static mbrl_status info_fn(const char *path, void *ctx) {
  hid_t f;
  mbrl_status st = mbrl_h5_open_read(path, &f);
  if (st) return st;
  st = read_info(f, path, ((info_args *)ctx)->info);
  H5Fclose(f);
  return st;
}

mbrl_status mbrl_a2c_file_info_read(const char *path, mbrl_a2c_file_info *info) {
  if (!path || !info) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c_file_info: NULL argument");
  info_args a = {info};
  return mbrl_h5_guarded_read(path, info_fn, &a);
}

/* Read network `pre` of f into a CPU mlp of m's architecture, *out (freed by the caller). */
static mbrl_status read_net(const mbrl_mlp *m, hid_t f, const char *pre, mbrl_mlp **out) {
  mbrl_status st = mbrl_mlp_create(out, &m->cfg, MBRL_BACKEND_CPU, 1);
  if (!st) st = mbrl_mlp_read_h5(*out, f, pre);
  return st;
}

/* Copy the state of CPU mlp src into m (any backend). */
static mbrl_status copy_net(mbrl_mlp *m, const mbrl_mlp *src) {
  float *state = (float *)malloc(mbrl_mlp_state_size(src) * sizeof(float));
  if (!state) return mbrl_set_error(MBRL_ERR_NOMEM, "a2c_load: out of memory");
  mbrl_status st = mbrl_mlp_get_state(src, state);
  if (!st) st = mbrl_mlp_set_state(m, state);
  free(state);
  return st;
}

static mbrl_status load_fn(const char *path, void *ctx) {
  mbrl_a2c *a = (mbrl_a2c *)ctx;
  hid_t f;
  mbrl_status st = mbrl_h5_open_read(path, &f);
  if (st) return st;
  mbrl_a2c_file_info info;
  st = read_info(f, path, &info);
  if (!st && strcmp(info.env_id, a->spec->id) != 0)
    st = mbrl_set_error(MBRL_ERR_FORMAT, "%s holds a policy for %s, not %s (use --env %s)", path,
                        info.env_id, a->spec->id, info.env_id);
  if (!st && info.algo != a->cfg.algo)
    st = mbrl_set_error(MBRL_ERR_FORMAT, "%s holds a %s policy, not %s (use --algo %s)", path,
                        mbrl_a2c_algo_name(info.algo), mbrl_a2c_algo_name(a->cfg.algo),
                        mbrl_a2c_algo_name(info.algo));
  if (!st && info.models != a->M)
    st = mbrl_set_error(MBRL_ERR_FORMAT, "%s holds %d model(s), not %d (use --ensemble %d)", path,
                        info.models, a->M, info.models);
  /* every network is read (into CPU copies) before any of a's weights change */
  mbrl_mlp **nets = (mbrl_mlp **)calloc(2 * (size_t)a->M, sizeof *nets);
  if (!st && !nets) st = mbrl_set_error(MBRL_ERR_NOMEM, "a2c_load: out of memory");
  char pre[128];
  for (int i = 0; i < a->M && !st; ++i) {
    net_prefix(pre, sizeof pre, a->M, i, "actor");
    st = read_net(a->models[i].actor, f, pre, &nets[2 * i]);
    if (!st && a->models[i].critic) {
      net_prefix(pre, sizeof pre, a->M, i, "critic");
      st = read_net(a->models[i].critic, f, pre, &nets[2 * i + 1]);
    }
  }
  H5Fclose(f);
  for (int i = 0; i < a->M && !st && !mbrl_h5_guard_child(); ++i) {
    st = copy_net(a->models[i].actor, nets[2 * i]);
    if (!st && a->models[i].critic) st = copy_net(a->models[i].critic, nets[2 * i + 1]);
  }
  for (int i = 0; nets && i < 2 * a->M; ++i) mbrl_mlp_free(nets[i]);
  free(nets);
  return st;
}

mbrl_status mbrl_a2c_load(mbrl_a2c *a, const char *path) {
  if (!a || !path) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "a2c_load: NULL argument");
  mbrl_status st = mbrl_h5_guarded_read(path, load_fn, a);
  for (int i = 0; i < a->M && !st; ++i) st = mbrl_a2c_reset_optim(a, i);
  return st;
}
