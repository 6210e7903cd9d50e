/* src/host/cpu_kernels.h - private to the library: the table of CPU kernels that one kernel
 * path provides. The kernel sources in src/host/cpu/ are written once against host/simd.h and
 * compiled per ISA by src/host/cpu_avx512.c, cpu_avx2.c and cpu_generic.c; each of those
 * defines one table. mbrl_cpu_table() returns the table of the path in use (mbrl/cpu.h). */
#ifndef MBRL_SRC_HOST_CPU_KERNELS_H
#define MBRL_SRC_HOST_CPU_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "mbrl/common.h"
#include "mbrl/cpu.h"
#include "mbrl/nn.h"
#include "mbrl/dyn_ensemble.h"
#include "mbrl/planner.h"

MBRL_EXTERN_C_BEGIN

/* Functions of host/vmath.h, as the vmath entry evaluates them over arrays. */
typedef enum mbrl_vmath_fn {
  MBRL_VMATH_EXP = 0,
  MBRL_VMATH_LOG,
  MBRL_VMATH_TANH,
  MBRL_VMATH_SIN,
  MBRL_VMATH_COS,
  MBRL_VMATH_ATAN2, /* out = atan2(a, b) */
  MBRL_VMATH_COUNT
} mbrl_vmath_fn;

/* ---- the planner's CPU rollout (src/host/cpu/plan.c) ---- */

/* Rows per block of the rollout: a multiple of every path's vector width. */
#define MBRL_PLAN_BR 48
/* Layer widths are padded to a multiple of this many floats in the packed weights. */
#define MBRL_PLAN_PAD 16

/* A plan model laid out for the kernels (made once per planner, read-only while planning). */
typedef struct mbrl_plan_kmodel {
  const mbrl_plan_model *m; /* kind, widths, action bounds, normalizer */
  int H;                    /* horizon */
  float gamma;              /* discount */
  int score_next;           /* cost c(s_{h+1}, a_h, s_{h+1}) (1) or c(s_h, a_h, s_{h+1}) (0) */
  mbrl_env_kind env;        /* the env whose step/cost entry of the kernel's table runs */
  int shaped;               /* 1: spec->shaped_cost, 0: -spec->reward_obs */
  int project;              /* learned models: the env's project_obs after every model step */
  mbrl_reward_fn reward_fn; /* custom system (mbrl_planner_set_reward), or NULL: the env's */
  mbrl_terminal_fn terminal_fn;
  void *user;
  /* LEARNED: per Linear layer l (n = m->n_layers): wpad[l] = padded input width (the input of
   * layer 0 is obs_dim + act_dim, not padded), opad[l] = padded output width.
   * Layers l < n - 1: wt[l] = W^T (in, opad[l]) with zero rows/columns in the padding and
   * bias[l] (opad[l]) zero-padded; the last layer: wt = W (out, wpad) zero-padded. */
  int wpad[MBRL_MLP_MAX_LAYERS], opad[MBRL_MLP_MAX_LAYERS];
  const float *wt[MBRL_MLP_MAX_LAYERS], *bias[MBRL_MLP_MAX_LAYERS];
  int maxw; /* widest padded layer (floats per row of the activation buffers) */
  /* ensembles (m->members > 0): member q's packed layers at wt[l] + q * mstride, bias[l] +
   * q * mstride; rows are particles: row r of an environment is particle r % P of sequence
   * r / P (given sequences are indexed by r / P). */
  size_t mstride;
  int particles; /* P (1 for a single model) */
  int prop;      /* mbrl_plan_propagation */
  int sample;    /* 1: add the Gaussian noise of a probabilistic member */
} mbrl_plan_kmodel;

/* One block: rows k0 .. k0+R-1 (R <= MBRL_PLAN_BR) of one environment rolled from obs0. */
typedef struct mbrl_plan_block {
  const float *obs0;  /* (obs) */
  const float *given; /* (K, H, act) caller's sequences, or NULL: draw from Philox */
  const float *prior; /* (H, act) warm-start sequence used as sequence 1, or NULL */
  uint64_t seed;      /* plan seed when drawing */
  uint64_t pseed;     /* ensembles: the particle seed (member draws, noise) */
  int k0, R;          /* k0: the first row (a sequence index when P = 1) */
  float *cost_out;    /* (R) */
  float *s1_out;      /* (R, obs) predicted s_1, or NULL */
} mbrl_plan_block;

/* Rows per group inside a block: the network runs one group at a time, its activations
 * (MBRL_PLAN_GROUP x maxw floats, twice) staying in L1. */
#define MBRL_PLAN_GROUP 16

/* One thread's scratch for blocks of a model, in floats from a 64-byte aligned base. */
typedef struct mbrl_plan_scratch {
  size_t S, A, cost, dS, X, H0, H1, D; /* offsets (floats) */
  size_t S0, alive, T0, T1, TA, TR;    /* pre-step state (O, BR), alive mask (BR), row-major
                                          transitions for custom callbacks (BR, O) x 2,
                                          (BR, A), rewards and terminal flags (BR) each */
  size_t Xp, Yp, mem, pos;             /* ensembles: rows grouped by member (BRP, O + A), the
                                          network's outputs (2 O, BRP), the member (BR) and
                                          grouped position (BR) of each row (ints) */
  size_t floats;                       /* total */
} mbrl_plan_scratch;

static inline size_t mbrl_plan_round16(size_t n) { return (n + 15) / 16 * 16; }

/* Rows of a block grouped by member with every member's group padded to MBRL_PLAN_GROUP. */
#define MBRL_PLAN_BRP(members) \
  (MBRL_PLAN_BR + ((members) < MBRL_PLAN_BR ? (members) : MBRL_PLAN_BR) * MBRL_PLAN_GROUP)

static inline mbrl_plan_scratch mbrl_plan_scratch_layout(int obs_dim, int act_dim, int maxw,
                                                         int members) {
  const size_t BR = MBRL_PLAN_BR, O = (size_t)obs_dim, A = (size_t)act_dim;
  mbrl_plan_scratch s;
  s.S = 0;                                        /* (O, BR) state, feature-major */
  s.A = s.S + mbrl_plan_round16(O * BR);          /* (A, BR) actions */
  s.cost = s.A + mbrl_plan_round16(A * BR);       /* (BR) */
  s.dS = s.cost + BR;                             /* (O, BR) network output */
  s.X = s.dS + mbrl_plan_round16(O * BR);         /* (BR, O + A) network input, row-major */
  s.H0 = s.X + mbrl_plan_round16(BR * (O + A));   /* (GROUP, maxw) activations */
  s.H1 = s.H0 + (size_t)MBRL_PLAN_GROUP * (size_t)maxw;
  s.D = s.H1 + (size_t)MBRL_PLAN_GROUP * (size_t)maxw; /* (4, BR) uint32 Philox words */
  s.S0 = s.D + 4 * BR;
  s.alive = s.S0 + mbrl_plan_round16(O * BR);
  s.T0 = s.alive + BR;
  s.T1 = s.T0 + mbrl_plan_round16(BR * O);
  s.TA = s.T1 + mbrl_plan_round16(BR * O);
  s.TR = s.TA + mbrl_plan_round16(BR * A);
  s.Xp = s.TR + 2 * BR;
  const size_t BRP = members > 0 ? (size_t)MBRL_PLAN_BRP(members) : 0;
  s.Yp = s.Xp + mbrl_plan_round16(BRP * (O + A));
  s.mem = s.Yp + mbrl_plan_round16(2 * O * BRP);
  s.pos = s.mem + (members > 0 ? BR : 0);
  s.floats = s.pos + (members > 0 ? BR : 0);
  return s;
}

/* ---- the table ---- */

typedef struct mbrl_cpu_table {
  mbrl_cpu_path path;
  /* nn (mbrl/nn.h and host/nn_cpu.h; sparse = 1: x mostly exact zeros) */
  void (*linear_forward)(float *y, const float *x, const float *W, const float *b, int B, int in,
                         int out, int sparse);
  void (*linear_backward)(float *dx, float *dW, float *db, const float *dy, const float *x,
                          const float *W, int B, int in, int out, int sparse);
  void (*bn_forward_train)(float *y, float *mean, float *rstd, float *running_mean,
                           float *running_var, const float *x, const float *gamma,
                           const float *beta, int B, int C, float momentum, float eps);
  void (*bn_forward_eval)(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                          const float *beta, const float *running_mean,
                          const float *running_var, int B, int C, float eps);
  void (*bn_backward)(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                      const float *mean, const float *rstd, const float *gamma, int B, int C,
                      int train);
  void (*bn_act_forward_train)(float *a, float *mean, float *rstd, float *running_mean,
                               float *running_var, const float *z, const float *gamma,
                               const float *beta, int B, int C, float momentum, float eps,
                               mbrl_act act);
  void (*act_bn_backward)(float *dz, float *dgamma, float *dbeta, float *db, const float *da,
                          const float *a, const float *z, const float *mean, const float *rstd,
                          const float *gamma, int B, int C, mbrl_act act, int train);
  void (*linear_act_bn_backward)(float *dz, float *dgamma, float *dbeta, float *db,
                                 const float *dy, const float *W, int K, const float *a,
                                 const float *z, const float *mean, const float *rstd,
                                 const float *gamma, int B, int C, mbrl_act act, int train);
  void (*act_forward)(float *y, const float *x, size_t n, mbrl_act act);
  void (*act_backward)(float *dx, const float *dy, const float *y, size_t n, mbrl_act act);
  void (*mse_loss)(float *loss, float *dpred, const float *pred, const float *target, size_t n);
  void (*adam)(float *p, float *m, float *v, const float *g, size_t n, float beta1, float beta2,
               float step_size, float bc2_sqrt, float eps);
  void (*rmsprop)(float *p, float *sq, const float *g, size_t n, float lr, float alpha,
                  float eps);
  float (*sumsq)(const float *g, size_t n);
  /* planner: one block of rows; scratch: mbrl_plan_scratch_bytes, 64-byte aligned */
  void (*plan_block)(const mbrl_plan_kmodel *km, const mbrl_plan_block *blk, void *scratch);
  /* a2c: row-wise softmax and log-softmax of logits (N, A) (either output may be NULL) */
  void (*softmax)(float *probs, float *logp, const float *logits, int N, int A);
  /* host/vmath.h over arrays (tests, benchmarks): out[i] = f(a[i]) or f(a[i], b[i]) */
  void (*vmath)(mbrl_vmath_fn fn, float *out, const float *a, const float *b, size_t n);
} mbrl_cpu_table;

/* The table of the path in use (mbrl_cpu_kernels()); never NULL. */
const mbrl_cpu_table *mbrl_cpu_table_get(void);
/* The table of path p, or NULL when this build or CPU cannot run it. */
const mbrl_cpu_table *mbrl_cpu_table_of(mbrl_cpu_path p);

/* One per compiled path (cpu_avx512.c, cpu_avx2.c on x86-64; cpu_generic.c everywhere). */
#if defined(__x86_64__)
extern const mbrl_cpu_table mbrl_cpu_table_avx512;
extern const mbrl_cpu_table mbrl_cpu_table_avx2;
#endif
extern const mbrl_cpu_table mbrl_cpu_table_generic;

MBRL_EXTERN_C_END

#endif
