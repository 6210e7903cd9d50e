/* bench_env.c - environment steps per second on the CPU, single env and batched (SoA).
 *
 * Usage: bench_env [--seconds S]
 * Runs Pendulum-v1 and CartPole-v1: one mbrl_env (step + reset when done) and
 * mbrl_env_batch with B = 1, 64, 4096 (auto-reset inside). Each case runs whole chunks until
 * at least S seconds (default 0.5) have passed; the rate is steps / elapsed, one thread.
 * Actions are drawn in advance (uniform in the action bounds) so only the env is timed.
 * Prints one JSON object on stdout. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mbrl/env.h"

#define N_ACT_ROWS 64 /* pre-drawn action rows, cycled */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void machine_name(char *out, size_t n) {
  snprintf(out, n, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) == 0) {
      char *p = strchr(line, ':');
      if (p) {
        p++;
        while (*p == ' ' || *p == '\t') p++;
        size_t len = strcspn(p, "\n");
        snprintf(out, n, "%.*s", (int)len, p);
      }
      break;
    }
  }
  fclose(f);
}

/* Fill rows x B actions uniformly in the env's action bounds. */
static void draw_actions(const mbrl_env_spec *spec, float *a, size_t count) {
  mbrl_philox r;
  mbrl_philox_init(&r, 1234, 0, 0);
  for (size_t i = 0; i < count; ++i)
    a[i] = spec->discrete ? (float)mbrl_philox_below(&r, (uint32_t)spec->n_actions)
                          : mbrl_philox_range_float(&r, spec->act_low[0], spec->act_high[0]);
}

static volatile float g_sink; /* keeps results alive */

static int bench_single(const char *id, double min_s, double *steps_out, double *sec_out) {
  mbrl_env e;
  if (mbrl_env_init(&e, id, 1, 0) != MBRL_OK) return 1;
  float act[1024], obs[MBRL_MAX_DIM], r, acc = 0.0f;
  draw_actions(e.spec, act, 1024);
  int term, trunc;
  mbrl_env_reset(&e, obs);
  const long chunk = 100000;
  long steps = 0;
  double t0 = now_s(), el = 0;
  do {
    for (long i = 0; i < chunk; ++i) {
      mbrl_env_step(&e, &act[i & 1023], obs, &r, &term, &trunc);
      acc += r;
      if (term || trunc) mbrl_env_reset(&e, obs);
    }
    steps += chunk;
    el = now_s() - t0;
  } while (el < min_s);
  g_sink = acc;
  *steps_out = (double)steps;
  *sec_out = el;
  return 0;
}

static int bench_batch(const char *id, int B, double min_s, double *steps_out, double *sec_out) {
  mbrl_env_batch eb;
  if (mbrl_env_batch_init(&eb, id, B, 1, 0) != MBRL_OK) return 1;
  const int O = eb.spec->obs_dim;
  size_t nb = (size_t)B;
  float *act = malloc(N_ACT_ROWS * nb * sizeof *act);
  float *obs = malloc(nb * (size_t)O * sizeof *obs), *nobs = malloc(nb * (size_t)O * sizeof *nobs);
  float *rew = malloc(nb * sizeof *rew);
  uint8_t *te = malloc(nb), *tr = malloc(nb);
  int rc = 1;
  if (!act || !obs || !nobs || !rew || !te || !tr) goto done;
  draw_actions(eb.spec, act, N_ACT_ROWS * nb);
  mbrl_env_batch_reset(&eb, obs);
  long iters_per_chunk = 200000 / B + 1, iters = 0;
  double t0 = now_s(), el = 0;
  float acc = 0.0f;
  do {
    for (long i = 0; i < iters_per_chunk; ++i) {
      mbrl_env_batch_step(&eb, act + (size_t)(i % N_ACT_ROWS) * nb, obs, nobs, rew, te, tr);
      acc += rew[0];
    }
    iters += iters_per_chunk;
    el = now_s() - t0;
  } while (el < min_s);
  g_sink = acc;
  *steps_out = (double)iters * B;
  *sec_out = el;
  rc = 0;
done:
  free(act);
  free(obs);
  free(nobs);
  free(rew);
  free(te);
  free(tr);
  mbrl_env_batch_free(&eb);
  return rc;
}

int main(int argc, char **argv) {
  double min_s = 0.5;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      char *end;
      min_s = strtod(argv[++i], &end);
      if (*end || !(min_s > 0 && min_s <= 600)) {
        fprintf(stderr, "bench_env: error: --seconds '%s': need a number in (0, 600]\n", argv[i]);
        return 2;
      }
    } else if (strcmp(argv[i], "--help") == 0) {
      printf("usage: bench_env [--seconds S]  (min seconds per case, default 0.5)\n");
      return 0;
    } else {
      fprintf(stderr, "bench_env: error: unknown argument '%s' (try --help)\n", argv[i]);
      return 2;
    }
  }
  char machine[256];
  machine_name(machine, sizeof machine);
  const char *ids[2] = {"Pendulum-v1", "CartPole-v1"};
  const int Bs[3] = {1, 64, 4096};
  printf("{\"bench\": \"env\", \"machine\": \"%s\", \"threads\": 1, \"min_seconds\": %g, \"results\": [",
         machine, min_s);
  int first = 1;
  for (int k = 0; k < 2; ++k) {
    double steps, sec;
    if (bench_single(ids[k], min_s, &steps, &sec)) goto fail;
    printf("%s\n  {\"env\": \"%s\", \"mode\": \"single\", \"B\": 1, \"steps\": %.0f, \"seconds\": %.4f, "
           "\"steps_per_sec\": %.0f}",
           first ? "" : ",", ids[k], steps, sec, steps / sec);
    first = 0;
    for (int j = 0; j < 3; ++j) {
      if (bench_batch(ids[k], Bs[j], min_s, &steps, &sec)) goto fail;
      printf(",\n  {\"env\": \"%s\", \"mode\": \"batch\", \"B\": %d, \"steps\": %.0f, \"seconds\": %.4f, "
             "\"steps_per_sec\": %.0f}",
             ids[k], Bs[j], steps, sec, steps / sec);
    }
  }
  printf("\n]}\n");
  return 0;
fail:
  fflush(stdout);
  fprintf(stderr, "bench_env: error: %s\n", mbrl_last_error());
  return 1;
}
