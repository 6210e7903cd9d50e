/* bench_files - what the damage protection of mbrl's files costs (issue 15): saving and loading
 * a Pendulum dataset of N rows as a sealed format_version 2 file (SHA-256 of the whole file
 * and of every dataset), the same rows as an unsealed format_version 1 file (written here the
 * way mbrl 0.1's writer did: variable-length string attributes, no digests) loaded through the
 * guard (a checking child process first), and SHA-256 alone. Medians of --runs timed runs
 * after one warm-up. Prints one JSON object (bench/README.md's schema, "bench": "files").
 * Usage: bench_files [--rows N] [--runs R] [--quick] [--dir DIR] */
#include "bench_common.h"

#include <hdf5.h>
#include <math.h>

#include "host/sha256.h"
#include "mbrl/dataset.h"
#include "mbrl/h5util.h"

static const char *PROG = "bench_files";

static void usage(FILE *f) {
  fprintf(f, "Usage: bench_files [--rows N] [--runs R] [--quick] [--dir DIR]\n"
             "  --rows N   dataset rows, 1000..100000000 (default 1000000; --quick 100000)\n"
             "  --runs R   timed runs per measurement, median reported (default 5)\n"
             "  --dir DIR  where the files go (default /tmp; a disk, not tmpfs, is what users have)\n");
}

static void make_rows(mbrl_dataset *ds, size_t n) {
  mbrl_dataset_init(ds, "Pendulum-v1", 3, 1);
  mbrl_dataset_reserve(ds, n);
  for (size_t i = 0; i < n; ++i) {
    const float th = 0.001f * (float)(i % 6283), w = (float)((i * 7919) % 1600) / 100.0f - 8.0f;
    float o[3] = {cosf(th), sinf(th), w}, a[1] = {(float)((i * 104729) % 400) / 100.0f - 2.0f};
    float nx[3] = {cosf(th + 0.05f), sinf(th + 0.05f), w + 0.1f * a[0]};
    mbrl_dataset_add(ds, o, a, nx, -th * th, 0, i % 200 == 199);
  }
  ds->episodes = (int)(n / 200);
}

/* A format_version 1 file as mbrl 0.1 wrote it: plain HDF5 (earliest format), no digests,
 * variable-length string attributes. */
static int write_v1(const mbrl_dataset *ds, const char *path) {
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) return -1;
  const hsize_t N = ds->n;
  const struct { const char *name; const float *p; hsize_t w; } arrs[] = {
      {"observations", ds->observations, 3}, {"actions", ds->actions, 1},
      {"next_observations", ds->next_observations, 3}, {"rewards", ds->rewards, 0}};
  int bad = 0;
  for (int k = 0; k < 4; ++k) {
    hsize_t d[2] = {N, arrs[k].w};
    hid_t sp = H5Screate_simple(arrs[k].w ? 2 : 1, d, NULL);
    hid_t x = H5Dcreate2(f, arrs[k].name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bad |= x < 0 || H5Dwrite(x, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, arrs[k].p) < 0;
    H5Dclose(x), H5Sclose(sp);
  }
  hid_t bt = H5Tenum_create(H5T_NATIVE_INT8);
  int8_t fv = 0, tv = 1;
  H5Tenum_insert(bt, "FALSE", &fv), H5Tenum_insert(bt, "TRUE", &tv);
  const uint8_t *flags[2] = {ds->terminals, ds->timeouts};
  const char *fn[2] = {"terminals", "timeouts"};
  for (int k = 0; k < 2; ++k) {
    hid_t sp = H5Screate_simple(1, &N, NULL);
    hid_t x = H5Dcreate2(f, fn[k], bt, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bad |= x < 0 || H5Dwrite(x, bt, H5S_ALL, H5S_ALL, H5P_DEFAULT, flags[k]) < 0;
    H5Dclose(x), H5Sclose(sp);
  }
  H5Tclose(bt);
  const char *sn[6] = {"stats/state_mean", "stats/state_std", "stats/action_mean",
                       "stats/action_std", "stats/delta_state_mean", "stats/delta_state_std"};
  const float *sv[6] = {ds->stats.state_mean, ds->stats.state_std, ds->stats.action_mean,
                        ds->stats.action_std, ds->stats.delta_state_mean, ds->stats.delta_state_std};
  H5Gclose(H5Gcreate2(f, "stats", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  for (int k = 0; k < 6; ++k) {
    hsize_t w = (k == 2 || k == 3) ? 1 : 3;
    hid_t sp = H5Screate_simple(1, &w, NULL);
    hid_t x = H5Dcreate2(f, sn[k], H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bad |= x < 0 || H5Dwrite(x, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, sv[k]) < 0;
    H5Dclose(x), H5Sclose(sp);
  }
  hid_t st = H5Tcopy(H5T_C_S1);
  H5Tset_size(st, H5T_VARIABLE);
  H5Tset_cset(st, H5T_CSET_UTF8);
  const char *sk[3] = {"format", "env_id", "created_by"}, *svv[3] = {"mbrl.dataset", "Pendulum-v1", "bench"};
  hid_t scalar = H5Screate(H5S_SCALAR);
  for (int k = 0; k < 3; ++k) {
    hid_t a = H5Acreate2(f, sk[k], st, scalar, H5P_DEFAULT, H5P_DEFAULT);
    bad |= a < 0 || H5Awrite(a, st, &svv[k]) < 0;
    H5Aclose(a);
  }
  const int64_t iv[3] = {1, (int64_t)ds->episodes, 0};
  const char *ik[3] = {"format_version", "episodes", "seed"};
  for (int k = 0; k < 3; ++k) {
    hid_t a = H5Acreate2(f, ik[k], k == 2 ? H5T_NATIVE_UINT64 : H5T_NATIVE_INT64, scalar,
                         H5P_DEFAULT, H5P_DEFAULT);
    bad |= a < 0 || H5Awrite(a, k == 2 ? H5T_NATIVE_UINT64 : H5T_NATIVE_INT64, &iv[k]) < 0;
    H5Aclose(a);
  }
  H5Sclose(scalar), H5Tclose(st);
  return H5Fclose(f) < 0 || bad ? -1 : 0;
}

int main(int argc, char **argv) {
  bench_flags fl = {0, -1, -1, -1.0};
  long long rows = -1;
  const char *dir = "/tmp";
  for (int i = 1; i < argc; ++i) {
    const int c = bench_common_flag(PROG, argc, argv, &i, &fl, 0);
    if (c == 2) return 2;
    if (c == 1) continue;
    if (!strcmp(argv[i], "--rows") && i + 1 < argc) {
      if (bench_parse_int(PROG, "--rows", argv[++i], 1000, 100000000, &rows)) return 2;
    } else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
      dir = argv[++i];
    } else if (!strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    } else {
      return bench_bad_arg(PROG, argv[i], usage);
    }
  }
  if (rows < 0) rows = fl.quick ? 100000 : 1000000;
  const int runs = fl.runs > 0 ? fl.runs : 5;
  mbrl_h5_quiet();
  mbrl_dataset ds;
  make_rows(&ds, (size_t)rows);
  mbrl_dataset_compute_stats(&ds);
  char v2[4096], v1[4096];
  snprintf(v2, sizeof v2, "%s/bench_files_%ld_v2.h5", dir, (long)getpid());
  snprintf(v1, sizeof v1, "%s/bench_files_%ld_v1.h5", dir, (long)getpid());
  if (write_v1(&ds, v1) != 0 || mbrl_dataset_save(&ds, v2, "bench") != MBRL_OK) {
    fprintf(stderr, "%s: error: cannot write the files in %s: %s\n", PROG, dir, mbrl_last_error());
    return 1;
  }
  const double mb = (double)(ds.n * (3 + 1 + 3 + 1) * sizeof(float) + 2 * ds.n) / 1e6;
  double t_save[32], t_load2[32], t_load1[32], t_sha[32];
  for (int r = -1; r < runs; ++r) { /* r = -1: warm-up */
    double t0 = bench_now_s();
    if (mbrl_dataset_save(&ds, v2, "bench") != MBRL_OK) return 1;
    double t1 = bench_now_s();
    mbrl_dataset back;
    if (mbrl_dataset_load(&back, v2) != MBRL_OK) return 1;
    double t2 = bench_now_s();
    mbrl_dataset_free(&back);
    double t3 = bench_now_s();
    if (mbrl_dataset_load(&back, v1) != MBRL_OK) {
      fprintf(stderr, "%s: error: %s\n", PROG, mbrl_last_error());
      return 1;
    }
    double t4 = bench_now_s();
    mbrl_dataset_free(&back);
    uint8_t d[MBRL_SHA256_BYTES];
    double t5 = bench_now_s();
    mbrl_sha256(ds.observations, ds.n * 3 * sizeof(float), d);
    double t6 = bench_now_s();
    if (r < 0) continue;
    t_save[r] = t1 - t0, t_load2[r] = t2 - t1, t_load1[r] = t4 - t3;
    t_sha[r] = (t6 - t5) / ((double)(ds.n * 3 * sizeof(float)) / 1e6); /* s per MB */
  }
  const double save = bench_median(t_save, runs), load2 = bench_median(t_load2, runs);
  const double load1 = bench_median(t_load1, runs), sha = bench_median(t_sha, runs);
  /* hashing's share: the seal covers the file once, the digests every dataset once more */
  FILE *fp = fopen(v2, "rb");
  long file_bytes = 0;
  if (fp) fseek(fp, 0, SEEK_END), file_bytes = ftell(fp), fclose(fp);
  const double hash_s = sha * ((double)file_bytes / 1e6 + mb);
  unlink(v1), unlink(v2);
  mbrl_dataset_free(&ds);

  char date[64];
  bench_date_utc(date, sizeof date);
  bench_print_head("files", 0);
  printf(" \"threads\": 1, \"date\": \"%s\", \"command\": ", date);
  bench_print_command(argc, argv);
  printf(",\n \"results\": [\n");
  printf("  {\"name\": \"dataset_save_v2\", \"rows\": %lld, \"mb\": %.3f, \"ms\": %.3f, \"mb_per_s\": %.1f, \"runs\": %d},\n",
         rows, mb, 1e3 * save, mb / save, runs);
  printf("  {\"name\": \"dataset_load_v2_sealed\", \"rows\": %lld, \"mb\": %.3f, \"ms\": %.3f, \"mb_per_s\": %.1f, \"runs\": %d},\n",
         rows, mb, 1e3 * load2, mb / load2, runs);
  printf("  {\"name\": \"dataset_load_v1_guarded\", \"rows\": %lld, \"mb\": %.3f, \"ms\": %.3f, \"mb_per_s\": %.1f, \"runs\": %d},\n",
         rows, mb, 1e3 * load1, mb / load1, runs);
  printf("  {\"name\": \"sha256\", \"mb_per_s\": %.1f, \"runs\": %d},\n", 1.0 / sha, runs);
  printf("  {\"name\": \"hashing_in_a_v2_load\", \"ms\": %.3f, \"share\": %.3f}\n", 1e3 * hash_s,
         hash_s / load2);
  printf(" ]}\n");
  return 0;
}
