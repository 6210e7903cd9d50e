/* mlp.c - the mlp module: config, parameter layout, orthogonal init, CPU forward/backward,
 * flat state vectors, BatchNorm folding and the optimizers. The CUDA path (src/kernels/mlp.cu,
 * declared in host/mlp_cuda.h) is chosen here by m->backend. */
#include "mbrl/mlp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/mlp_cuda.h"
#include "host/nn_cpu.h"
#include "mbrl/cpu.h"
#include "mbrl/philox.h"

/* ---------------- memory on a backend ---------------- */

static mbrl_status backend_alloc(mbrl_backend be, float **p, size_t n) {
  size_t bytes = (n ? n : 1) * sizeof(float);
  *p = NULL;
#ifdef MBRL_HAVE_CUDA
  if (be == MBRL_BACKEND_CUDA) return mbrl_mlp_cuda_alloc((void **)p, bytes);
#endif
  (void)be;
  bytes = (bytes + 63) & ~(size_t)63;
  *p = (float *)aligned_alloc(64, bytes);
  if (!*p) return mbrl_set_error(MBRL_ERR_NOMEM, "mlp: cannot allocate %zu bytes", bytes);
  memset(*p, 0, bytes);
  return MBRL_OK;
}

static void backend_free(mbrl_backend be, float *p) {
  if (!p) return;
#ifdef MBRL_HAVE_CUDA
  if (be == MBRL_BACKEND_CUDA) {
    mbrl_mlp_cuda_free(p);
    return;
  }
#endif
  (void)be;
  free(p);
}

/* Copy n floats between host memory and the backend (to_backend = 1: host -> backend). */
static mbrl_status backend_copy(mbrl_backend be, float *dst, const float *src, size_t n,
                                int to_backend) {
  if (n == 0) return MBRL_OK;
#ifdef MBRL_HAVE_CUDA
  if (be == MBRL_BACKEND_CUDA) return mbrl_mlp_cuda_copy(dst, src, n * sizeof(float), to_backend);
#endif
  (void)be;
  (void)to_backend;
  memcpy(dst, src, n * sizeof(float));
  return MBRL_OK;
}

/* ---------------- config and layout ---------------- */

void mbrl_mlp_config_init(mbrl_mlp_config *c, int n_layers, const int *sizes) {
  memset(c, 0, sizeof *c);
  c->n_layers = n_layers;
  for (int i = 0; i <= n_layers && i <= MBRL_MLP_MAX_LAYERS && sizes; ++i) c->sizes[i] = sizes[i];
  c->batchnorm = 0;
  c->activation = MBRL_ACT_RELU;
  c->bn_momentum = 0.1f;
  c->bn_eps = 1e-5f;
  for (int i = 0; i < MBRL_MLP_MAX_LAYERS; ++i) c->init_gain[i] = 1.0f;
  c->seed = 0;
}

mbrl_status mbrl_mlp_config_check(const mbrl_mlp_config *c) {
  if (!c) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp: config is NULL");
  if (c->n_layers < 1 || c->n_layers > MBRL_MLP_MAX_LAYERS)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "mlp: n_layers %d out of range (1..%d Linear layers)", c->n_layers,
                          MBRL_MLP_MAX_LAYERS);
  for (int i = 0; i <= c->n_layers; ++i)
    if (c->sizes[i] < 1 || c->sizes[i] > (1 << 20))
      return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                            "mlp: width sizes[%d] = %d out of range (1..1048576)", i, c->sizes[i]);
  if (c->activation != MBRL_ACT_NONE && c->activation != MBRL_ACT_RELU &&
      c->activation != MBRL_ACT_TANH)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp: unknown activation %d", (int)c->activation);
  if (c->batchnorm && (!(c->bn_eps > 0.0f) || !(c->bn_momentum >= 0.0f && c->bn_momentum <= 1.0f)))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "mlp: batchnorm eps %g must be > 0 and momentum %g in [0, 1]",
                          (double)c->bn_eps, (double)c->bn_momentum);
  for (int l = 0; l < c->n_layers; ++l)
    if (!isfinite(c->init_gain[l]))
      return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp: init_gain[%d] is not finite", l);
  return MBRL_OK;
}

static int has_bn(const mbrl_mlp *m, int l) { return m->cfg.batchnorm && l < m->cfg.n_layers - 1; }

static void compute_layout(mbrl_mlp *m) {
  const mbrl_mlp_config *c = &m->cfg;
  size_t p = 0, b = 0;
  for (int l = 0; l < c->n_layers; ++l) {
    const size_t in = (size_t)c->sizes[l], out = (size_t)c->sizes[l + 1];
    m->w_off[l] = p;
    p += in * out;
    m->b_off[l] = p;
    p += out;
    if (has_bn(m, l)) {
      m->gamma_off[l] = p;
      p += out;
      m->beta_off[l] = p;
      p += out;
      m->rmean_off[l] = b;
      b += out;
      m->rvar_off[l] = b;
      b += out;
    }
  }
  m->n_params = p;
  m->n_buffers = b;
}

static int max_width(const mbrl_mlp_config *c) {
  int w = 0;
  for (int i = 0; i <= c->n_layers; ++i) w = c->sizes[i] > w ? c->sizes[i] : w;
  return w;
}

/* ---------------- create / free ---------------- */

void mbrl_mlp_free(mbrl_mlp *m) {
  if (!m) return;
#ifdef MBRL_HAVE_CUDA
  if (m->backend == MBRL_BACKEND_CUDA) mbrl_mlp_cuda_teardown(m);
#endif
  backend_free(m->backend, m->params);
  backend_free(m->backend, m->grads);
  backend_free(m->backend, m->buffers);
  backend_free(m->backend, m->x_in); /* base of the whole workspace block */
  free(m);
}

mbrl_status mbrl_mlp_create(mbrl_mlp **out, const mbrl_mlp_config *cfg, mbrl_backend backend,
                            int max_batch) {
  if (!out) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_create: out is NULL");
  *out = NULL;
  mbrl_status st = mbrl_mlp_config_check(cfg);
  if (st) return st;
  if (max_batch < 1)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_create: max_batch %d must be >= 1",
                          max_batch);
  mbrl_backend be;
  st = mbrl_backend_resolve(backend, &be);
  if (st) return st;
  if (be == MBRL_BACKEND_CPU && (st = mbrl_cpu_check()) != MBRL_OK) return st; /* mbrl/cpu.h */
  mbrl_mlp *m = (mbrl_mlp *)calloc(1, sizeof *m);
  if (!m) return mbrl_set_error(MBRL_ERR_NOMEM, "mlp_create: out of memory");
  m->cfg = *cfg;
  m->backend = be;
  m->max_batch = max_batch;
  compute_layout(m);

  /* workspace: x_in | per hidden layer z (BN only), a, mean, rstd | dbuf0 | dbuf1 | dy_buf */
  const int L = cfg->n_layers;
  const size_t mb = (size_t)max_batch, W = (size_t)max_width(cfg);
  size_t ws = mb * (size_t)cfg->sizes[0];
  for (int l = 0; l < L - 1; ++l) {
    const size_t C = (size_t)cfg->sizes[l + 1];
    ws += (has_bn(m, l) ? 2 : 1) * mb * C + 2 * C;
  }
  ws += 2 * mb * W + mb * (size_t)cfg->sizes[L];

  if ((st = backend_alloc(be, &m->params, m->n_params)) ||
      (st = backend_alloc(be, &m->grads, m->n_params)) ||
      (st = backend_alloc(be, &m->buffers, m->n_buffers)) ||
      (st = backend_alloc(be, &m->x_in, ws))) {
    mbrl_mlp_free(m);
    return st;
  }
  float *p = m->x_in + mb * (size_t)cfg->sizes[0];
  for (int l = 0; l < L - 1; ++l) {
    const size_t C = (size_t)cfg->sizes[l + 1];
    if (has_bn(m, l)) {
      m->z[l] = p;
      p += mb * C;
    }
    m->a[l] = p;
    p += mb * C;
    m->mean[l] = p;
    p += C;
    m->rstd[l] = p;
    p += C;
  }
  m->dbuf[0] = p;
  p += mb * W;
  m->dbuf[1] = p;
  p += mb * W;
  m->dy_buf = p;
#ifdef MBRL_HAVE_CUDA
  if (be == MBRL_BACKEND_CUDA && (st = mbrl_mlp_cuda_setup(m))) {
    mbrl_mlp_free(m);
    return st;
  }
#endif
  if ((st = mbrl_mlp_init_params(m, cfg->seed))) {
    mbrl_mlp_free(m);
    return st;
  }
  *out = m;
  return MBRL_OK;
}

/* ---------------- init ---------------- */

/* torch.nn.init.orthogonal_(W (rows, cols), gain): QR of a (max, min) Gaussian matrix with the
 * signs of diag(R) folded into Q, transposed back when rows < cols. Gram-Schmidt (applied twice
 * for stability) in double gives the Q of the QR with positive diag(R), which is exactly that. */
static void orthogonal_init(float *W, int rows, int cols, float gain, mbrl_philox *rng,
                            double *tmp) {
  const int tr = rows < cols;
  const int m = tr ? cols : rows, n = tr ? rows : cols; /* A is (m, n), m >= n, column-major */
  double *A = tmp;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; i += 2) {
      double u[2];
      mbrl_philox_uniform2_double(rng, u); /* Box-Muller, u in (0, 1] */
      const double r = sqrt(-2.0 * log(u[0])), t = 2.0 * 3.14159265358979323846 * u[1];
      A[(size_t)j * m + i] = r * cos(t);
      if (i + 1 < m) A[(size_t)j * m + i + 1] = r * sin(t);
    }
  for (int j = 0; j < n; ++j) {
    double *aj = A + (size_t)j * m;
    for (int pass = 0; pass < 2; ++pass)
      for (int k = 0; k < j; ++k) {
        const double *ak = A + (size_t)k * m;
        double d = 0.0;
        for (int i = 0; i < m; ++i) d += ak[i] * aj[i];
        for (int i = 0; i < m; ++i) aj[i] -= d * ak[i];
      }
    double nrm = 0.0;
    for (int i = 0; i < m; ++i) nrm += aj[i] * aj[i];
    nrm = sqrt(nrm);
    for (int i = 0; i < m; ++i) aj[i] = nrm > 0.0 ? aj[i] / nrm : 0.0;
  }
  /* Q (m, n) column j = A[j*m ...]; W = Q (rows=m) or Q^T (rows=n) */
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const double q = tr ? A[(size_t)r * m + c] : A[(size_t)c * m + r];
      W[(size_t)r * cols + c] = (float)(gain * q);
    }
}

mbrl_status mbrl_mlp_init_params(mbrl_mlp *m, uint64_t seed) {
  if (!m) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_init_params: mlp is NULL");
  float *hp = (float *)calloc(m->n_params ? m->n_params : 1, sizeof(float));
  float *hb = (float *)calloc(m->n_buffers ? m->n_buffers : 1, sizeof(float));
  size_t maxw = 0;
  for (int l = 0; l < m->cfg.n_layers; ++l) {
    size_t s = (size_t)m->cfg.sizes[l] * (size_t)m->cfg.sizes[l + 1];
    maxw = s > maxw ? s : maxw;
  }
  double *tmp = (double *)malloc(maxw * sizeof(double) + 16);
  if (!hp || !hb || !tmp) {
    free(hp);
    free(hb);
    free(tmp);
    return mbrl_set_error(MBRL_ERR_NOMEM, "mlp_init_params: out of memory");
  }
  for (int l = 0; l < m->cfg.n_layers; ++l) {
    mbrl_philox rng;
    mbrl_philox_init(&rng, seed, (uint64_t)l, 0); /* one subsequence per layer */
    orthogonal_init(hp + m->w_off[l], m->cfg.sizes[l + 1], m->cfg.sizes[l], m->cfg.init_gain[l],
                    &rng, tmp);
    if (has_bn(m, l)) {
      const int C = m->cfg.sizes[l + 1];
      for (int c = 0; c < C; ++c) {
        hp[m->gamma_off[l] + c] = 1.0f;
        hb[m->rvar_off[l] + c] = 1.0f;
      }
    }
    m->num_batches_tracked[l] = 0;
  }
  mbrl_status st = backend_copy(m->backend, m->params, hp, m->n_params, 1);
  if (!st) st = backend_copy(m->backend, m->buffers, hb, m->n_buffers, 1);
  if (!st) {
    memset(hp, 0, m->n_params * sizeof(float));
    st = backend_copy(m->backend, m->grads, hp, m->n_params, 1);
  }
  free(hp);
  free(hb);
  free(tmp);
  m->last_B = 0;
  return st;
}

/* ---------------- forward / backward (CPU) ---------------- */

static mbrl_status check_fwd(const mbrl_mlp *m, const float *x, int B, const float *y, int train,
                             const char *fn) {
  if (!m || !x || !y) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "%s: NULL argument", fn);
  if (B < 1 || B > m->max_batch)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "%s: batch %d out of range (1..max_batch %d given at create)", fn, B,
                          m->max_batch);
  if (train && m->cfg.batchnorm && m->cfg.n_layers > 1 && B < 2)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "%s: BatchNorm in training mode needs a batch of at least 2 (got %d)",
                          fn, B);
  return MBRL_OK;
}

static void forward_cpu(mbrl_mlp *m, const float *x, int B, float *y, int train) {
  const mbrl_mlp_config *c = &m->cfg;
  const int L = c->n_layers;
  const float *P = m->params;
  if (m->x_in != x) memcpy(m->x_in, x, sizeof(float) * (size_t)B * (size_t)c->sizes[0]);
  const float *h = m->x_in;
  for (int l = 0; l < L; ++l) {
    const int in = c->sizes[l], out = c->sizes[l + 1];
    /* after a ReLU about half of h is exact zeros: the sparse product skips them */
    void (*linear)(float *, const float *, const float *, const float *, int, int, int) =
        l > 0 && c->activation == MBRL_ACT_RELU ? mbrl_nn_cpu_linear_forward_sparse
                                                : mbrl_nn_linear_forward;
    if (l == L - 1) {
      linear(y, h, P + m->w_off[l], P + m->b_off[l], B, in, out);
      break;
    }
    float *a = m->a[l];
    if (has_bn(m, l)) {
      float *z = m->z[l];
      float *rm = m->buffers + m->rmean_off[l], *rv = m->buffers + m->rvar_off[l];
      linear(z, h, P + m->w_off[l], P + m->b_off[l], B, in, out);
      if (train) {
        mbrl_nn_cpu_bn_act_forward_train(a, m->mean[l], m->rstd[l], rm, rv, z, P + m->gamma_off[l],
                                         P + m->beta_off[l], B, out, c->bn_momentum, c->bn_eps,
                                         c->activation);
        h = a;
        continue;
      }
      mbrl_nn_batchnorm_forward_eval(a, m->mean[l], m->rstd[l], z, P + m->gamma_off[l],
                                     P + m->beta_off[l], rm, rv, B, out, c->bn_eps);
    } else {
      linear(a, h, P + m->w_off[l], P + m->b_off[l], B, in, out);
    }
    mbrl_nn_act_forward(a, a, (size_t)B * (size_t)out, c->activation);
    h = a;
  }
}

static void backward_cpu(mbrl_mlp *m, const float *dy, float *dx) {
  const mbrl_mlp_config *c = &m->cfg;
  const int L = c->n_layers, B = m->last_B;
  const float *P = m->params;
  float *G = m->grads;
  const float *d = dy; /* dL/d(output of Linear l), once through layer l's act and BN */
  int through = 0;     /* 1: d already went through layer l's act and BN (fused below) */
  for (int l = L - 1; l >= 0; --l) {
    const int in = c->sizes[l], out = c->sizes[l + 1];
    float *db = G + m->b_off[l]; /* NULL once a fused BN backward has summed it */
    if (through) {
      db = NULL;
    } else if (l < L - 1) {
      /* through the activation (into the ping-pong buffer), then BN */
      float *t = m->dbuf[l & 1];
      if (has_bn(m, l)) {
        mbrl_nn_cpu_act_bn_backward(t, G + m->gamma_off[l], G + m->beta_off[l], db, d, m->a[l],
                                    m->z[l], m->mean[l], m->rstd[l], P + m->gamma_off[l], B, out,
                                    c->activation, m->last_train);
        db = NULL;
      } else {
        mbrl_nn_act_backward(t, d, m->a[l], (size_t)B * (size_t)out, c->activation);
      }
      d = t;
    }
    /* below a BN layer, its act and BN backward take this Linear's input gradient directly
     * from d and W (one fused pass, host/nn_cpu.h) */
    const int fuse = l > 0 && has_bn(m, l - 1);
    const float *xin = l == 0 ? m->x_in : m->a[l - 1];
    float *dxin = l == 0 ? dx : fuse ? NULL : m->dbuf[(l - 1) & 1];
    /* a ReLU output as input: its zeros are skipped in dW */
    if (l > 0 && c->activation == MBRL_ACT_RELU)
      mbrl_nn_cpu_linear_backward_sparse(dxin, G + m->w_off[l], db, d, xin, P + m->w_off[l], B,
                                         in, out);
    else
      mbrl_nn_linear_backward(dxin, G + m->w_off[l], db, d, xin, P + m->w_off[l], B, in, out);
    if (fuse) {
      const int k = l - 1;
      float *t = m->dbuf[k & 1]; /* != d, which is dy or dbuf[l & 1] */
      mbrl_nn_cpu_linear_act_bn_backward(t, G + m->gamma_off[k], G + m->beta_off[k],
                                         G + m->b_off[k], d, P + m->w_off[l], out, m->a[k],
                                         m->z[k], m->mean[k], m->rstd[k], P + m->gamma_off[k], B,
                                         in, c->activation, m->last_train);
      d = t;
      through = 1;
    } else {
      d = dxin;
      through = 0;
    }
  }
}

/* Bookkeeping after any successful forward (both backends): what backward differentiates and
 * the host-side num_batches_tracked counters. */
static void after_forward(mbrl_mlp *m, int B, int train) {
  m->last_B = B;
  m->last_train = train ? 1 : 0;
  if (train)
    for (int l = 0; l < m->cfg.n_layers; ++l)
      if (has_bn(m, l)) m->num_batches_tracked[l] += 1;
}

mbrl_status mbrl_mlp_forward(mbrl_mlp *m, const float *x, int B, float *y, int train) {
  mbrl_status st = check_fwd(m, x, B, y, train, "mlp_forward");
  if (st) return st;
#ifdef MBRL_HAVE_CUDA
  if (m->backend == MBRL_BACKEND_CUDA) {
    st = mbrl_mlp_forward_cuda(m, x, B, y, train);
    if (!st) after_forward(m, B, train);
    return st;
  }
#endif
  forward_cpu(m, x, B, y, train);
  after_forward(m, B, train);
  return MBRL_OK;
}

mbrl_status mbrl_mlp_backward(mbrl_mlp *m, const float *dy, float *dx) {
  if (!m || !dy) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_backward: NULL argument");
  if (m->last_B < 1)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "mlp_backward: no forward to differentiate (call mbrl_mlp_forward first)");
#ifdef MBRL_HAVE_CUDA
  if (m->backend == MBRL_BACKEND_CUDA) return mbrl_mlp_backward_cuda(m, dy, dx);
#endif
  backward_cpu(m, dy, dx);
  return MBRL_OK;
}

mbrl_status mbrl_mlp_train_step_mse(mbrl_mlp *m, struct mbrl_optim *opt, const float *x,
                                    const float *target, int B, float *loss) {
  if (!opt || !target)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_train_step_mse: NULL argument");
  mbrl_status st = check_fwd(m, x, B, target, 1, "mlp_train_step_mse");
  if (st) return st;
  if (opt->n != m->n_params || opt->backend != m->backend)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "mlp_train_step_mse: optimizer was created for another mlp");
#ifdef MBRL_HAVE_CUDA
  if (m->backend == MBRL_BACKEND_CUDA) {
    st = mbrl_mlp_train_step_mse_cuda(m, opt, x, target, B, loss);
    if (!st) after_forward(m, B, 1);
    return st;
  }
#endif
  float *pred = m->dbuf[1]; /* backward's last use of dbuf[1] comes after pred is consumed */
  const size_t n = (size_t)B * (size_t)m->cfg.sizes[m->cfg.n_layers];
  forward_cpu(m, x, B, pred, 1);
  after_forward(m, B, 1);
  mbrl_nn_mse_loss(loss, m->dy_buf, pred, target, n);
  backward_cpu(m, m->dy_buf, NULL);
  return mbrl_optim_step(opt, m);
}

mbrl_status mbrl_mlp_forward_many(mbrl_mlp *const *ms, int M, const float *x, int B, float *y,
                                  int train) {
  if (!ms || M < 1 || !ms[0])
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_forward_many: need M >= 1 mlps");
  for (int i = 1; i < M; ++i) {
    if (!ms[i] || ms[i]->backend != ms[0]->backend ||
        memcmp(ms[i]->cfg.sizes, ms[0]->cfg.sizes, sizeof ms[0]->cfg.sizes) != 0 ||
        ms[i]->cfg.n_layers != ms[0]->cfg.n_layers || ms[i]->cfg.batchnorm != ms[0]->cfg.batchnorm ||
        ms[i]->cfg.activation != ms[0]->cfg.activation)
      return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                            "mlp_forward_many: mlp %d differs from mlp 0 in backend or architecture",
                            i);
  }
  for (int i = 0; i < M; ++i) {
    mbrl_status st = check_fwd(ms[i], x, B, y, train, "mlp_forward_many");
    if (st) return st;
  }
#ifdef MBRL_HAVE_CUDA
  if (ms[0]->backend == MBRL_BACKEND_CUDA) {
    mbrl_status st = mbrl_mlp_forward_many_cuda(ms, M, x, B, y, train);
    if (!st)
      for (int i = 0; i < M; ++i) after_forward(ms[i], B, train);
    return st;
  }
#endif
  const size_t ystride = (size_t)B * (size_t)ms[0]->cfg.sizes[ms[0]->cfg.n_layers];
  for (int i = 0; i < M; ++i) {
    forward_cpu(ms[i], x, B, y + (size_t)i * ystride, train);
    after_forward(ms[i], B, train);
  }
  return MBRL_OK;
}

mbrl_status mbrl_mlp_clip_grad_norm(mbrl_mlp *m, float max_norm, float *norm) {
  if (!m) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_clip_grad_norm: mlp is NULL");
  if (!(max_norm > 0.0f))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_clip_grad_norm: max_norm %g must be > 0",
                          (double)max_norm);
#ifdef MBRL_HAVE_CUDA
  if (m->backend == MBRL_BACKEND_CUDA) return mbrl_mlp_clip_grad_norm_cuda(m, max_norm, norm);
#endif
  mbrl_nn_clip_grad_norm(m->grads, norm, m->n_params, max_norm);
  return MBRL_OK;
}

/* ---------------- state vectors ---------------- */

size_t mbrl_mlp_state_size(const mbrl_mlp *m) {
  size_t n = m->n_params + m->n_buffers;
  for (int l = 0; l < m->cfg.n_layers; ++l) n += has_bn(m, l) ? 1 : 0;
  return n;
}

/* Walk the state_dict order: calls visit(kind, param_off or buffer_off, count, state_off). */
typedef enum { SEG_PARAM, SEG_BUFFER, SEG_COUNTER } seg_kind;
typedef struct {
  seg_kind kind;
  size_t off, n;
  int layer;
} seg;

static int state_segments(const mbrl_mlp *m, seg *s) {
  int k = 0;
  for (int l = 0; l < m->cfg.n_layers; ++l) {
    const size_t in = (size_t)m->cfg.sizes[l], out = (size_t)m->cfg.sizes[l + 1];
    s[k++] = (seg){SEG_PARAM, m->w_off[l], in * out, l};
    s[k++] = (seg){SEG_PARAM, m->b_off[l], out, l};
    if (has_bn(m, l)) {
      s[k++] = (seg){SEG_PARAM, m->gamma_off[l], out, l};
      s[k++] = (seg){SEG_PARAM, m->beta_off[l], out, l};
      s[k++] = (seg){SEG_BUFFER, m->rmean_off[l], out, l};
      s[k++] = (seg){SEG_BUFFER, m->rvar_off[l], out, l};
      s[k++] = (seg){SEG_COUNTER, 0, 1, l};
    }
  }
  return k;
}

mbrl_status mbrl_mlp_get_state(const mbrl_mlp *m, float *state) {
  if (!m || !state) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_get_state: NULL argument");
  float *hp = (float *)malloc((m->n_params + m->n_buffers + 1) * sizeof(float));
  if (!hp) return mbrl_set_error(MBRL_ERR_NOMEM, "mlp_get_state: out of memory");
  float *hb = hp + m->n_params;
  mbrl_status st = backend_copy(m->backend, hp, m->params, m->n_params, 0);
  if (!st) st = backend_copy(m->backend, hb, m->buffers, m->n_buffers, 0);
  if (!st) {
    seg s[7 * MBRL_MLP_MAX_LAYERS];
    const int k = state_segments(m, s);
    size_t o = 0;
    for (int i = 0; i < k; ++i) {
      if (s[i].kind == SEG_PARAM) memcpy(state + o, hp + s[i].off, s[i].n * sizeof(float));
      if (s[i].kind == SEG_BUFFER) memcpy(state + o, hb + s[i].off, s[i].n * sizeof(float));
      if (s[i].kind == SEG_COUNTER) state[o] = (float)m->num_batches_tracked[s[i].layer];
      o += s[i].n;
    }
  }
  free(hp);
  return st;
}

mbrl_status mbrl_mlp_set_state(mbrl_mlp *m, const float *state) {
  if (!m || !state) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_set_state: NULL argument");
  seg s[7 * MBRL_MLP_MAX_LAYERS];
  const int k = state_segments(m, s);
  size_t o = 0;
  for (int i = 0; i < k; ++i) {
    for (size_t j = 0; j < s[i].n; ++j)
      if (!isfinite(state[o + j]))
        return mbrl_set_error(MBRL_ERR_NUMERIC,
                              "mlp_set_state: state[%zu] is not finite; nothing was changed",
                              o + j);
    if (s[i].kind == SEG_COUNTER && !(state[o] >= 0.0f))
      return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                            "mlp_set_state: num_batches_tracked state[%zu] = %g is negative", o,
                            (double)state[o]);
    o += s[i].n;
  }
  float *hp = (float *)malloc((m->n_params + m->n_buffers + 1) * sizeof(float));
  if (!hp) return mbrl_set_error(MBRL_ERR_NOMEM, "mlp_set_state: out of memory");
  float *hb = hp + m->n_params;
  o = 0;
  for (int i = 0; i < k; ++i) {
    if (s[i].kind == SEG_PARAM) memcpy(hp + s[i].off, state + o, s[i].n * sizeof(float));
    if (s[i].kind == SEG_BUFFER) memcpy(hb + s[i].off, state + o, s[i].n * sizeof(float));
    if (s[i].kind == SEG_COUNTER) m->num_batches_tracked[s[i].layer] = (long long)state[o];
    o += s[i].n;
  }
  mbrl_status st = backend_copy(m->backend, m->params, hp, m->n_params, 1);
  if (!st) st = backend_copy(m->backend, m->buffers, hb, m->n_buffers, 1);
  free(hp);
  return st;
}

mbrl_status mbrl_mlp_get_params(const mbrl_mlp *m, float *params) {
  if (!m || !params) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_get_params: NULL argument");
  return backend_copy(m->backend, params, m->params, m->n_params, 0);
}

mbrl_status mbrl_mlp_set_params(mbrl_mlp *m, const float *params) {
  if (!m || !params) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_set_params: NULL argument");
  return backend_copy(m->backend, m->params, params, m->n_params, 1);
}

mbrl_status mbrl_mlp_get_grads(const mbrl_mlp *m, float *grads) {
  if (!m || !grads) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_get_grads: NULL argument");
  return backend_copy(m->backend, grads, m->grads, m->n_params, 0);
}

mbrl_status mbrl_mlp_get_buffers(const mbrl_mlp *m, float *buffers) {
  if (!m || (!buffers && m->n_buffers))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_get_buffers: NULL argument");
  return backend_copy(m->backend, buffers, m->buffers, m->n_buffers, 0);
}

/* ---------------- BatchNorm folding ---------------- */

mbrl_status mbrl_mlp_fold_batchnorm(const mbrl_mlp *m, int max_batch, mbrl_mlp **out) {
  if (!m || !out) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_fold_batchnorm: NULL argument");
  *out = NULL;
  mbrl_mlp_config c = m->cfg;
  c.batchnorm = 0;
  mbrl_mlp *f = NULL;
  mbrl_status st = mbrl_mlp_create(&f, &c, m->backend, max_batch);
  if (st) return st;
  float *hp = (float *)malloc((m->n_params + m->n_buffers + f->n_params + 1) * sizeof(float));
  if (!hp) {
    mbrl_mlp_free(f);
    return mbrl_set_error(MBRL_ERR_NOMEM, "mlp_fold_batchnorm: out of memory");
  }
  float *hb = hp + m->n_params, *fp = hb + m->n_buffers;
  st = backend_copy(m->backend, hp, m->params, m->n_params, 0);
  if (!st) st = backend_copy(m->backend, hb, m->buffers, m->n_buffers, 0);
  if (!st) {
    for (int l = 0; l < c.n_layers; ++l) {
      const int in = c.sizes[l], o = c.sizes[l + 1];
      float *W = fp + f->w_off[l], *b = fp + f->b_off[l];
      memcpy(W, hp + m->w_off[l], sizeof(float) * (size_t)in * (size_t)o);
      memcpy(b, hp + m->b_off[l], sizeof(float) * (size_t)o);
      if (!has_bn(m, l)) continue;
      for (int r = 0; r < o; ++r) {
        const double s = (double)hp[m->gamma_off[l] + r] /
                         sqrt((double)hb[m->rvar_off[l] + r] + (double)c.bn_eps);
        for (int i = 0; i < in; ++i) W[(size_t)r * in + i] = (float)(W[(size_t)r * in + i] * s);
        b[r] = (float)(((double)b[r] - hb[m->rmean_off[l] + r]) * s + hp[m->beta_off[l] + r]);
      }
    }
    st = backend_copy(f->backend, f->params, fp, f->n_params, 1);
  }
  free(hp);
  if (st) {
    mbrl_mlp_free(f);
    return st;
  }
  *out = f;
  return MBRL_OK;
}

/* ---------------- optimizers ---------------- */

mbrl_optim_config mbrl_optim_adam_config(float lr, float beta1, float beta2) {
  mbrl_optim_config c;
  memset(&c, 0, sizeof c);
  c.kind = MBRL_OPTIM_ADAM;
  c.lr = lr;
  c.beta1 = beta1;
  c.beta2 = beta2;
  c.alpha = 0.99f;
  c.eps = 1e-8f;
  return c;
}

mbrl_optim_config mbrl_optim_rmsprop_config(float lr, float alpha, float eps) {
  mbrl_optim_config c;
  memset(&c, 0, sizeof c);
  c.kind = MBRL_OPTIM_RMSPROP;
  c.lr = lr;
  c.beta1 = 0.9f;
  c.beta2 = 0.999f;
  c.alpha = alpha;
  c.eps = eps;
  return c;
}

mbrl_status mbrl_optim_create(mbrl_optim **out, const mbrl_optim_config *cfg, const mbrl_mlp *m) {
  if (!out || !cfg || !m)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "optim_create: NULL argument");
  *out = NULL;
  if (cfg->kind != MBRL_OPTIM_ADAM && cfg->kind != MBRL_OPTIM_RMSPROP)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "optim_create: unknown optimizer kind %d",
                          (int)cfg->kind);
  if (!(cfg->lr >= 0.0f) || !isfinite(cfg->lr) || !(cfg->eps >= 0.0f))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "optim_create: lr %g and eps %g must be >= 0",
                          (double)cfg->lr, (double)cfg->eps);
  if (cfg->kind == MBRL_OPTIM_ADAM &&
      !(cfg->beta1 >= 0.0f && cfg->beta1 < 1.0f && cfg->beta2 >= 0.0f && cfg->beta2 < 1.0f))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "optim_create: Adam betas (%g, %g) must be in [0, 1)",
                          (double)cfg->beta1, (double)cfg->beta2);
  if (cfg->kind == MBRL_OPTIM_RMSPROP && !(cfg->alpha >= 0.0f && cfg->alpha <= 1.0f))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "optim_create: RMSprop alpha %g must be in [0, 1]",
                          (double)cfg->alpha);
  mbrl_optim *o = (mbrl_optim *)calloc(1, sizeof *o);
  if (!o) return mbrl_set_error(MBRL_ERR_NOMEM, "optim_create: out of memory");
  o->cfg = *cfg;
  o->backend = m->backend;
  o->n = m->n_params;
  mbrl_status st = backend_alloc(o->backend, &o->m, o->n);
  if (!st && cfg->kind == MBRL_OPTIM_ADAM) st = backend_alloc(o->backend, &o->v, o->n);
  if (st) {
    mbrl_optim_free(o);
    return st;
  }
  *out = o;
  return MBRL_OK;
}

void mbrl_optim_free(mbrl_optim *o) {
  if (!o) return;
  backend_free(o->backend, o->m);
  backend_free(o->backend, o->v);
  free(o);
}

mbrl_status mbrl_optim_reset(mbrl_optim *o) {
  if (!o) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "optim_reset: NULL optimizer");
  o->step = 0;
  float *z = (float *)calloc(o->n ? o->n : 1, sizeof(float));
  if (!z) return mbrl_set_error(MBRL_ERR_NOMEM, "optim_reset: out of memory");
  mbrl_status st = backend_copy(o->backend, o->m, z, o->n, 1);
  if (!st && o->v) st = backend_copy(o->backend, o->v, z, o->n, 1);
  free(z);
  return st;
}

mbrl_status mbrl_optim_step(mbrl_optim *o, mbrl_mlp *m) {
  if (!o || !m) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "optim_step: NULL argument");
  if (o->n != m->n_params || o->backend != m->backend)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "optim_step: optimizer was created for another mlp");
#ifdef MBRL_HAVE_CUDA
  if (o->backend == MBRL_BACKEND_CUDA) return mbrl_optim_step_cuda(o, m); /* increments o->step */
#endif
  o->step += 1; /* the step count t of this update (1 for the first) */
  if (o->cfg.kind == MBRL_OPTIM_ADAM)
    mbrl_nn_adam_step(m->params, o->m, o->v, m->grads, o->n, o->cfg.lr, o->cfg.beta1,
                      o->cfg.beta2, o->cfg.eps, o->step);
  else
    mbrl_nn_rmsprop_step(m->params, o->m, m->grads, o->n, o->cfg.lr, o->cfg.alpha, o->cfg.eps);
  return MBRL_OK;
}
