/* dyn_ensemble_train.c - the trainer of a dynamics ensemble (mbrl/dyn_ensemble.h).
 *
 * One code path for both backends: the normalized training set X (n, in), Y (n, obs) lives in
 * the ensemble's backend memory; the host draws every member's minibatch row indices (each
 * member its own bootstrap pool and mbrl_sampler) for up to CHUNK_STEPS steps at a time into
 * one int32 list (M * batch per step) and moves it to the backend in ONE copy per chunk; each
 * step then gathers x (M, batch, in), y (M, batch, obs) on the backend and runs
 * mbrl_dyn_ensemble_train_step_backend with its loss written to slot k of a backend loss array
 * (copied back once per chunk). On CUDA nothing is synchronized within a chunk. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/dyn_ensemble_internal.h"
#include "mbrl/dyn_ensemble.h"

#define CHUNK_STEPS 1024
#define BOOTSTRAP_SUBSEQ (1ull << 40) /* Philox subsequence base of the bootstrap draws */

struct mbrl_dyn_ensemble_trainer {
  mbrl_dyn_ensemble *e;
  int batch, M, in, O;
  size_t n;
  float *X, *Y;           /* backend (n, in), (n, obs): the normalized training set */
  float *xb, *yb;         /* backend (M, batch, in), (M, batch, obs): one step's minibatches */
  int32_t *idx;           /* backend (CHUNK_STEPS, M, batch) row indices of a chunk */
  int32_t *h_idx;         /* host copy being filled (== idx on the CPU backend) */
  size_t *h_rows;         /* host (batch): one member's batch from its sampler */
  float *loss;            /* backend (CHUNK_STEPS) */
  float *h_loss;          /* host (CHUNK_STEPS) (== loss on the CPU backend) */
  unsigned long long *h_epoch; /* host (CHUNK_STEPS): member 0's epoch of each step */
  mbrl_sampler *samplers; /* (M) */
  mbrl_optim *opt;
  long long steps;
};

static int on_cpu(const mbrl_dyn_ensemble_trainer *t) { return t->e->backend == MBRL_BACKEND_CPU; }

void mbrl_dyn_ensemble_trainer_free(mbrl_dyn_ensemble_trainer *t) {
  if (!t) return;
  const mbrl_backend be = t->e->backend;
  mbrl_dyn_ensemble_mem_free(be, t->X);
  mbrl_dyn_ensemble_mem_free(be, t->Y);
  mbrl_dyn_ensemble_mem_free(be, t->xb);
  mbrl_dyn_ensemble_mem_free(be, t->yb);
  mbrl_dyn_ensemble_mem_free(be, t->idx);
  mbrl_dyn_ensemble_mem_free(be, t->loss);
  if (!on_cpu(t)) {
    free(t->h_idx);
    free(t->h_loss);
  }
  free(t->h_rows);
  free(t->h_epoch);
  if (t->samplers)
    for (int m = 0; m < t->M; ++m) mbrl_sampler_free(&t->samplers[m]);
  free(t->samplers);
  mbrl_optim_free(t->opt);
  free(t);
}

mbrl_status mbrl_dyn_ensemble_trainer_create(mbrl_dyn_ensemble_trainer **out,
                                             mbrl_dyn_ensemble *e, const mbrl_dataset *train_data,
                                             const mbrl_optim_config *opt, int batch,
                                             int bootstrap, uint64_t seed) {
  if (!out) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_trainer_create: out is NULL");
  *out = NULL;
  if (!e || !train_data || !opt)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_trainer_create: NULL argument");
  if (train_data->obs_dim != e->obs_dim || train_data->act_dim != e->act_dim)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dyn_ensemble_trainer_create: the data has obs_dim %d, act_dim %d but "
                          "the model %d, %d",
                          train_data->obs_dim, train_data->act_dim, e->obs_dim, e->act_dim);
  const size_t n = train_data->n;
  if (n > (size_t)INT32_MAX)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dyn_ensemble_trainer_create: %zu rows; at most %d are supported", n,
                          INT32_MAX);
  if (batch < 2 || (size_t)batch > n)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "batch size %d does not fit the training set of %zu rows; use a batch "
                          "in [2, %zu] (BatchNorm needs 2 rows) or more data",
                          batch, n, n);
  if (batch > e->max_batch)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "batch size %d exceeds the ensemble's max_batch %d (create it with "
                          "max_batch >= batch)",
                          batch, e->max_batch);
  mbrl_dyn_ensemble_trainer *t = (mbrl_dyn_ensemble_trainer *)calloc(1, sizeof *t);
  if (!t) return mbrl_set_error(MBRL_ERR_NOMEM, "dyn_ensemble_trainer_create: out of memory");
  t->e = e;
  t->batch = batch;
  t->M = e->cfg.members;
  t->in = e->obs_dim + e->act_dim;
  t->O = e->obs_dim;
  t->n = n;
  const mbrl_backend be = e->backend;
  const size_t M = (size_t)t->M, B = (size_t)batch, in = (size_t)t->in, O = (size_t)t->O;
  const size_t nidx = (size_t)CHUNK_STEPS * M * B;
  mbrl_status st = MBRL_OK;
  float *hx = NULL, *hy = NULL;
  size_t *pool = NULL;
  if ((st = mbrl_dyn_ensemble_mem_alloc(be, (void **)&t->X, n * in * sizeof(float))) ||
      (st = mbrl_dyn_ensemble_mem_alloc(be, (void **)&t->Y, n * O * sizeof(float))) ||
      (st = mbrl_dyn_ensemble_mem_alloc(be, (void **)&t->xb, M * B * in * sizeof(float))) ||
      (st = mbrl_dyn_ensemble_mem_alloc(be, (void **)&t->yb, M * B * O * sizeof(float))) ||
      (st = mbrl_dyn_ensemble_mem_alloc(be, (void **)&t->idx, nidx * sizeof(int32_t))) ||
      (st = mbrl_dyn_ensemble_mem_alloc(be, (void **)&t->loss, CHUNK_STEPS * sizeof(float))))
    goto fail;
  if (be == MBRL_BACKEND_CPU) {
    t->h_idx = t->idx;
    t->h_loss = t->loss;
    hx = t->X;
    hy = t->Y;
  } else {
    t->h_idx = (int32_t *)malloc(nidx * sizeof(int32_t));
    t->h_loss = (float *)malloc(CHUNK_STEPS * sizeof(float));
    hx = (float *)malloc(n * in * sizeof(float));
    hy = (float *)malloc(n * O * sizeof(float));
  }
  t->h_rows = (size_t *)malloc(B * sizeof(size_t));
  t->h_epoch = (unsigned long long *)malloc(CHUNK_STEPS * sizeof(unsigned long long));
  t->samplers = (mbrl_sampler *)calloc(M, sizeof(mbrl_sampler));
  pool = (size_t *)malloc(n * sizeof(size_t));
  if (!t->h_idx || !t->h_loss || !hx || !hy || !t->h_rows || !t->h_epoch || !t->samplers || !pool) {
    st = mbrl_set_error(MBRL_ERR_NOMEM,
                        "dyn_ensemble_trainer_create: cannot allocate the training set (%zu rows)",
                        n);
    goto fail;
  }
  if ((st = mbrl_dyn_ensemble_normalize_data(e, train_data, hx, hy))) goto fail;
  if (be != MBRL_BACKEND_CPU &&
      ((st = mbrl_dyn_ensemble_mem_copy(be, t->X, hx, n * in * sizeof(float), 1)) ||
       (st = mbrl_dyn_ensemble_mem_copy(be, t->Y, hy, n * O * sizeof(float), 1))))
    goto fail;
  for (int m = 0; m < t->M; ++m) {
    if (bootstrap) {
      mbrl_philox rng;
      mbrl_philox_init(&rng, seed, BOOTSTRAP_SUBSEQ + (uint64_t)m, 0);
      for (size_t i = 0; i < n; ++i) pool[i] = (size_t)mbrl_philox_below(&rng, (uint32_t)n);
    }
    if ((st = mbrl_sampler_init(&t->samplers[m], bootstrap ? pool : NULL, n, B,
                                mbrl_dyn_ensemble_member_seed(seed, m))))
      goto fail;
  }
  if ((st = mbrl_dyn_ensemble_optim_create(&t->opt, opt, e))) goto fail;
  if (be != MBRL_BACKEND_CPU) {
    free(hx);
    free(hy);
  }
  free(pool);
  *out = t;
  return MBRL_OK;
fail:
  if (be != MBRL_BACKEND_CPU) {
    free(hx);
    free(hy);
  }
  free(pool);
  mbrl_dyn_ensemble_trainer_free(t);
  return st;
}

/* The next batch of member m into h_idx + (s * M + m) * batch. */
static void draw(mbrl_dyn_ensemble_trainer *t, int m, int s) {
  mbrl_sampler *sp = &t->samplers[m];
  if (!mbrl_sampler_next(sp, t->h_rows)) {
    mbrl_sampler_begin_epoch(sp, sp->epoch + 1);
    mbrl_sampler_next(sp, t->h_rows); /* batch <= n: an epoch has >= 1 batch */
  }
  int32_t *dst = t->h_idx + ((size_t)s * (size_t)t->M + (size_t)m) * (size_t)t->batch;
  for (int r = 0; r < t->batch; ++r) dst[r] = (int32_t)t->h_rows[r];
}

/* MBRL_FAULT_NAN_LOSS_STEP=N (tests only; as mbrl_dynamics_trainer_run): the CPU trainer
 * reports step N's loss as NaN, so that what follows a loss turning non-finite can be tested. */
static long long nan_fault_step(void) {
  const char *s = getenv("MBRL_FAULT_NAN_LOSS_STEP");
  return s && *s ? atoll(s) : -1;
}

mbrl_status mbrl_dyn_ensemble_trainer_run(mbrl_dyn_ensemble_trainer *t, int n, float *losses) {
  if (!t || n < 1)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dyn_ensemble_trainer_run: NULL trainer or n %d < 1", n);
  mbrl_dyn_ensemble *e = t->e;
  const mbrl_backend be = e->backend;
  const size_t M = (size_t)t->M, B = (size_t)t->batch;
  for (int done = 0; done < n;) {
    const int k = n - done < CHUNK_STEPS ? n - done : CHUNK_STEPS;
    for (int s = 0; s < k; ++s) {
      for (int m = 0; m < t->M; ++m) draw(t, m, s);
      t->h_epoch[s] = (unsigned long long)t->samplers[0].epoch;
    }
    mbrl_status st = MBRL_OK;
    if (be != MBRL_BACKEND_CPU)
      st = mbrl_dyn_ensemble_mem_copy(be, t->idx, t->h_idx, (size_t)k * M * B * sizeof(int32_t), 1);
    for (int s = 0; s < k && !st; ++s) {
      const int32_t *rows = t->idx + (size_t)s * M * B;
      st = mbrl_dyn_ensemble_gather(e, t->xb, t->X, rows, M * B, t->in);
      if (!st) st = mbrl_dyn_ensemble_gather(e, t->yb, t->Y, rows, M * B, t->O);
      if (!st)
        st = mbrl_dyn_ensemble_train_step_backend(e, t->opt, t->xb, t->yb, t->batch, t->loss + s,
                                                  NULL);
      if (!st && on_cpu(t) && t->steps + s + 1 == nan_fault_step())
        t->loss[s] = NAN; /* fault injection for tests */
      if (!st && on_cpu(t) && !isfinite(t->loss[s])) break; /* reported below */
    }
    if (st) return st;
    if (be != MBRL_BACKEND_CPU &&
        (st = mbrl_dyn_ensemble_mem_copy(be, t->h_loss, t->loss, (size_t)k * sizeof(float), 0)))
      return st;
    for (int s = 0; s < k; ++s) {
      const float l = t->h_loss[s];
      if (losses) losses[done + s] = l;
      if (!isfinite(l)) {
        t->steps += s + 1;
        return mbrl_set_error(MBRL_ERR_NUMERIC,
                              "the training loss became %s at step %lld (epoch %llu); the weights "
                              "are no longer usable: lower the learning rate",
                              isnan(l) ? "NaN" : "Inf", t->steps, t->h_epoch[s]);
      }
    }
    t->steps += k;
    done += k;
  }
  return MBRL_OK;
}

long long mbrl_dyn_ensemble_trainer_steps(const mbrl_dyn_ensemble_trainer *t) {
  return t ? t->steps : 0;
}
