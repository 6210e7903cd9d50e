/* tests/fuzz/fuzz_loader.c - libFuzzer harness of one file loader, chosen at compile time
 * (FUZZ_KIND 1 dataset, 2 dynamics checkpoint, 3 policy, 4 MPC trajectory, 5 mlp, 6 dynamics
 * ensemble): the input bytes are written to a file and handed to the loader as the programs
 * call it:
 *   dataset     mbrl_dataset_load (mbrl_train --data, mbrl_collect --append, mbrl_mpc)
 *   dynamics    mbrl_plan_model_load (mbrl_mpc --model: mbrl_dynamics_load + the planner's
 *               model)
 *   policy      mbrl_a2c_file_info_read, mbrl_a2c_create from its answer, mbrl_a2c_load
 *               (mbrl_a2c --load)
 *   trajectory  mbrl_trajectory_load (mbrl_check)
 *   mlp         mbrl_mlp_load (mbrl.mlp files: the Python package's MLP.load)
 *   ensemble    mbrl_dyn_ensemble_is_file, then mbrl_dyn_ensemble_load (mbrl_train --eval and
 *               --predict with an mbrl.dyn_ensemble checkpoint)
 * Environment:
 *   MBRL_FUZZ_RESEAL=1  an input that starts with mbrl's seal gets a fresh, valid seal first
 *                       (its length and SHA-256 fixed), so the mutations reach HDF5 and the
 *                       loaders' checks behind the seal (a deliberately forged file); inputs
 *                       without the seal's magic are skipped (the guard's territory: the plain
 *                       and legacy modes of scripts/fuzz cover them)
 *   MBRL_FUZZ_WRITE_SEED=PATH  write one valid file of this kind to PATH and exit (a seed for
 *                       kinds no program writes: mlp)
 *   MBRL_H5_GUARD=off   unsealed inputs are parsed in this process instead of a checking
 *                       child first (finds what the guard contains)
 * scripts/fuzz builds these with clang -fsanitize=fuzzer,address,undefined and runs them. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/sha256.h"
#include "mbrl/a2c.h"
#include "mbrl/dataset.h"
#include "mbrl/dyn_ensemble.h"
#include "mbrl/dynamics.h"
#include "mbrl/env.h"
#include "mbrl/h5util.h"
#include "mbrl/mlp.h"
#include "mbrl/planner.h"
#include "mbrl/trajectory.h"

#ifndef FUZZ_KIND
#error "define FUZZ_KIND"
#endif

static char g_path[512];
static int g_reseal;

static const uint8_t k_seal_magic[16] = {0x89, 'M', 'B', 'R', 'L', ' ', 'S', 'E',
                                          'A',  'L', '\r', '\n', 0x1a, '\n', 0, 0};

/* MBRL_FUZZ_WRITE_SEED: a valid file of this kind (mlp only: the programs write the others). */
static int write_seed(const char *path) {
#if FUZZ_KIND == 5
  const int sizes[4] = {4, 8, 8, 3};
  mbrl_mlp_config c;
  mbrl_mlp_config_init(&c, 3, sizes);
  c.batchnorm = 1;
  c.activation = MBRL_ACT_RELU;
  mbrl_mlp *m = NULL;
  mbrl_status st = mbrl_mlp_create(&m, &c, MBRL_BACKEND_CPU, 4);
  if (!st) st = mbrl_mlp_save(m, path);
  mbrl_mlp_free(m);
  if (st) fprintf(stderr, "fuzz: %s\n", mbrl_last_error());
  return st ? 1 : 0;
#else
  fprintf(stderr, "fuzz: no seed writer for kind %d (%s): the programs write its seeds\n",
          FUZZ_KIND, path);
  return 2;
#endif
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  const char *seed = getenv("MBRL_FUZZ_WRITE_SEED");
  if (seed && *seed) exit(write_seed(seed));
  const char *dir = getenv("MBRL_FUZZ_TMPDIR");
  if (!dir || !*dir) dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(g_path, sizeof g_path, "%s/mbrl_fuzz_%d_%ld.h5", dir, FUZZ_KIND, (long)getpid());
  const char *r = getenv("MBRL_FUZZ_RESEAL");
  g_reseal = r && strcmp(r, "1") == 0;
  mbrl_h5_quiet();
  return 0;
}

/* Give a sealed input a valid seal over its (mutated) contents, as mbrl_h5_seal_rewrite
 * would: length at 24, SHA-256 of the rest at 32, SHA-256 of bytes 0..135 at 136. */
static void reseal(uint8_t *b, size_t n) {
  if (n < 512 || memcmp(b, k_seal_magic, 16) != 0) return;
  const uint64_t len = n - 512;
  for (int i = 0; i < 8; ++i) b[24 + i] = (uint8_t)(len >> (8 * i));
  mbrl_sha256(b + 512, len, b + 32);
  mbrl_sha256(b, 136, b + 136);
}

static int write_input(const uint8_t *data, size_t size) {
  uint8_t *b = (uint8_t *)malloc(size ? size : 1);
  if (!b) return -1;
  memcpy(b, data, size);
  if (g_reseal) reseal(b, size);
  unlink(g_path);
  int fd = open(g_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int ok = fd >= 0 && (size == 0 || write(fd, b, size) == (ssize_t)size);
  if (fd >= 0) close(fd);
  free(b);
  return ok ? 0 : -1;
}

static void load(const char *path) {
#if FUZZ_KIND == 1
  mbrl_dataset ds;
  if (mbrl_dataset_load(&ds, path) == MBRL_OK) mbrl_dataset_free(&ds);
#elif FUZZ_KIND == 2
  mbrl_plan_model *m = NULL;
  if (mbrl_plan_model_load(&m, path, "Pendulum-v1") == MBRL_OK) mbrl_plan_model_free(m);
#elif FUZZ_KIND == 3
  mbrl_a2c_file_info info;
  if (mbrl_a2c_file_info_read(path, &info) != MBRL_OK) return;
  const mbrl_env_spec *s = mbrl_env_find(info.env_id);
  if (!s || !s->discrete) return;
  mbrl_a2c_config cfg;
  mbrl_a2c_config_init(&cfg, info.algo);
  cfg.n_hidden = info.n_hidden;
  for (int i = 0; i < info.n_hidden; ++i) cfg.hidden[i] = info.hidden[i];
  cfg.n_envs = 1;
  if (mbrl_a2c_config_check(&cfg) != MBRL_OK) return;
  mbrl_a2c *a = NULL;
  if (mbrl_a2c_create(&a, &cfg, s->id, info.models, MBRL_BACKEND_CPU) != MBRL_OK) return;
  mbrl_a2c_load(a, path);
  mbrl_a2c_free(a);
#elif FUZZ_KIND == 4
  mbrl_trajectory t;
  if (mbrl_trajectory_load(&t, path) == MBRL_OK) mbrl_trajectory_free(&t);
#elif FUZZ_KIND == 5
  mbrl_mlp *m = NULL;
  if (mbrl_mlp_load(path, NULL, MBRL_BACKEND_CPU, 4, &m) == MBRL_OK) mbrl_mlp_free(m);
#elif FUZZ_KIND == 6
  /* mbrl_train --eval/--predict: an ensemble checkpoint by its seal, else the single model's
   * loader (fuzz_dynamics covers that one) */
  if (!mbrl_dyn_ensemble_is_file(path)) return;
  mbrl_dyn_ensemble *e = NULL;
  if (mbrl_dyn_ensemble_load(path, MBRL_BACKEND_CPU, 4096, &e) == MBRL_OK) mbrl_dyn_ensemble_free(e);
#else
#error "FUZZ_KIND must be 1..6"
#endif
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (g_reseal && (size < 512 || memcmp(data, k_seal_magic, 16) != 0)) return 0;
  if (write_input(data, size) != 0) return 0;
  load(g_path);
  unlink(g_path);
  return 0;
}
