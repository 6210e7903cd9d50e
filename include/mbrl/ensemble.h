/* mbrl/ensemble.h - the M-policy ensemble of seeds 000 and 001: aggregation of the models'
 * action probabilities, per-model contribution, and the evolution step over flat weight
 * vectors.
 *
 * Aggregation (seed 001's get_action): agg = sum_i p_i / sum over actions of sum_i p_i;
 * the action is drawn from agg, or its argmax (first maximum) when deterministic.
 * Contribution of model i to the taken action a: p_i(a) / sum_j p_j(a), summed over every
 * decision since the last reset (so the M contributions of one decision add up to 1).
 *
 * Evolution (seed 000's GET/SET of weight vectors, done in-process): rank the models by
 * accumulated contribution (highest first, ties by lower index); the n_rebuild = round(frac *
 * M) lowest-ranked (at most M - 1) are rebuilt: child k (k-th from the bottom) starts as a
 * copy of the parent of rank k mod n_parents, where the parents are the top min(n_rebuild,
 * M - n_rebuild) models; with crossover each element comes with probability 1/2 from a
 * second parent (another surviving model drawn uniformly); then N(0, mutation_std^2) noise
 * is added to every element. Models that are not rebuilt keep their vectors bit for bit.
 * Random numbers come from the Philox stream the caller hands in. */
#ifndef MBRL_ENSEMBLE_H
#define MBRL_ENSEMBLE_H

#include <stddef.h>
#include <stdint.h>

#include "mbrl/a2c.h"
#include "mbrl/philox.h"
#include "mbrl/status.h"

MBRL_EXTERN_C_BEGIN

/* agg (B, A) = normalized sum over the M models of probs (M, B, A). */
void mbrl_ensemble_aggregate(float *agg, const float *probs, int M, int B, int A);

/* actions (B): argmax of each row of agg (B, A) when deterministic, else a draw from it with
 * one mbrl_philox_uniform per row (smallest a with u <= cumulative sum, the last action when
 * rounding leaves u above the total). rng may be NULL when deterministic. */
void mbrl_ensemble_select(int *actions, const float *agg, int B, int A, int deterministic,
                          mbrl_philox *rng);

/* contribution (M) += p_i(a_b) / sum_j p_j(a_b) for every env b; probs (M, B, A), actions (B).
 * A taken action every model gives probability 0 adds 1/M to each. */
void mbrl_ensemble_contribution(double *contribution, const float *probs, const int *actions,
                                int M, int B, int A);

/* order (M): model indices by contribution, highest first, ties by lower index. */
void mbrl_ensemble_rank(int *order, const double *contribution, int M);

typedef struct mbrl_evolve_config {
  double frac;         /* fraction of the models rebuilt, (0, 1) (0.25) */
  float mutation_std;  /* std of the Gaussian noise added to a rebuilt vector (0.01) */
  int crossover;       /* 1: uniform crossover of two parents before the noise (0) */
} mbrl_evolve_config;

/* frac 0.25, mutation_std 0.01, no crossover. */
void mbrl_evolve_config_init(mbrl_evolve_config *c);

/* How many models an evolution step rebuilds: round(frac * M), clamped to [0, M - 1]. */
int mbrl_ensemble_n_rebuild(const mbrl_evolve_config *c, int M);

/* The evolution step on flat vectors vecs (M, S) (host), in place, ranked by contribution
 * (M). rebuilt (M) (may be NULL) receives 1 for a rebuilt model, 0 otherwise; parent (M)
 * (may be NULL) the first parent of a rebuilt model, -1 for the others. Returns how many
 * were rebuilt (>= 0), or -1 with MBRL_ERR_INVALID_ARG set for a bad config. */
int mbrl_ensemble_evolve_vectors(float *vecs, size_t S, const double *contribution, int M,
                                 const mbrl_evolve_config *c, mbrl_philox *rng, int *rebuilt,
                                 int *parent);

/* The whole step on a trainer (seed 000 + 001): training disabled, every model's state
 * exported (mbrl_a2c_get_state), mbrl_ensemble_evolve_vectors with a->contribution, the
 * rebuilt ones imported (mbrl_a2c_set_state) with their optimizer state reset, contributions
 * reset to 0, training enabled. rebuilt (M) may be NULL. *n_rebuilt (may be NULL) gets the
 * count. Needs a->M >= 2. */
mbrl_status mbrl_ensemble_evolve(mbrl_a2c *a, const mbrl_evolve_config *c, mbrl_philox *rng,
                                 int *rebuilt, int *n_rebuilt);

MBRL_EXTERN_C_END

#endif
