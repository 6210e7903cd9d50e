/* src/host/dataset_h5.h - private: the six statistics arrays as an HDF5 group, shared by the
 * dataset file (group "stats") and the dynamics checkpoint (group "normalizer").
 * Implemented in dataset_h5.c. */
#ifndef MBRL_HOST_DATASET_H5_H
#define MBRL_HOST_DATASET_H5_H

#include <hdf5.h>

#include "mbrl/dataset.h"

MBRL_EXTERN_C_BEGIN

#define MBRL_STATS_N 6

/* Name of statistics array k (0..5): state_mean, state_std, action_mean, action_std,
 * delta_state_mean, delta_state_std (the file order). Odd k are standard deviations. */
const char *mbrl_stats_name(int k);

/* Pointer to array k inside *s and its width (obs_dim, or act_dim for the action arrays). */
float *mbrl_stats_array(mbrl_dataset_stats *s, int k, int obs_dim, int act_dim, int *width);

/* Write GROUP/<name> f32 (width) for the six arrays (parent groups created, no time stamps). */
mbrl_status mbrl_stats_write_h5(hid_t loc, const char *group, const mbrl_dataset_stats *s,
                                int obs_dim, int act_dim);

/* Check GROUP/<name> are float32 of the widths (obs_dim / act_dim) and read them into *out
 * (zeroed first). Values are not checked: callers decide about NaN/Inf. MBRL_ERR_FORMAT naming
 * `file` and the dataset otherwise. */
mbrl_status mbrl_stats_read_h5(hid_t loc, const char *file, const char *group, int obs_dim,
                               int act_dim, mbrl_dataset_stats *out);

MBRL_EXTERN_C_END

#endif
