/* env_server.c - test helper: drives mbrl's environments line by line over stdin/stdout, so
 * that tests/py_gym_envs.py can step them side by side with the real Gymnasium. Floats go
 * both ways as C99 hex floats (%a, float.fromhex), so nothing is lost in transit.
 *
 * Commands (one per line; replies end with a line "ok", or "error <message>"):
 *   spec ID            "spec" id kind obs_dim act_dim discrete n_actions max_steps state_dim
 *                      reset_draws, then act_low, act_high (act_dim each), obs_low, obs_high
 *                      (obs_dim each)
 *   open ID MODE B SEED STREAM0
 *                      MODE single: B envs mbrl_env_init(ID, SEED + b, STREAM0), reset only
 *                      on "reset"; MODE batch: mbrl_env_batch_init(ID, B, SEED, STREAM0),
 *                      auto-reset inside "step"
 *   reset [b]          reset every env (or only single env b); one line per reset env:
 *                      "r" b obs[obs_dim] state[state_dim]
 *   set b s[state_dim] overwrite env b's state (nothing else: its step count and
 *                      termination bookkeeping stay), to follow another implementation's state
 *   step a[B*act_dim]  step every env; one line per env:
 *                      "s" b next_obs[O] reward terminated truncated obs[O] reward_obs
 *                      terminal_obs oracle[O] shaped_cost
 *                      obs: what to act on next (batch: after an auto-reset); reward_obs,
 *                      terminal_obs, oracle (the oracle step) and shaped_cost are the env's
 *                      planner functions on (the obs the action was taken on, a, next_obs)
 *   sincos x...        "c" mbrl_np_sincosf(x, cos) mbrl_np_sincosf(x, sin) per float x
 *   quit
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbrl/env.h"

#define MAX_LINE (1 << 20)

static void put_floats(const float *v, int n) {
  for (int i = 0; i < n; ++i) printf(" %a", (double)v[i]);
}

static void put_doubles(const double *v, int n) {
  for (int i = 0; i < n; ++i) printf(" %a", v[i]);
}

typedef struct server {
  const mbrl_env_spec *spec;
  int batch, B;
  mbrl_env *singles;  /* (B) in single mode */
  mbrl_env_batch eb;  /* in batch mode */
  float *prev;        /* (B, O) the observation each env acts on next */
  float *act, *obs, *next, *rew;
  uint8_t *te, *tr;
} server;

static void server_close(server *sv) {
  free(sv->singles);
  mbrl_env_batch_free(&sv->eb);
  free(sv->prev);
  free(sv->act);
  free(sv->obs);
  free(sv->next);
  free(sv->rew);
  free(sv->te);
  free(sv->tr);
  memset(sv, 0, sizeof *sv);
}

static const char *cmd_spec(char *args) {
  char *id = strtok(args, " \t\n");
  const mbrl_env_spec *s = id ? mbrl_env_find(id) : NULL;
  if (!s) return mbrl_last_error();
  printf("spec %s %d %d %d %d %d %d %d %d", s->id, (int)s->kind, s->obs_dim, s->act_dim,
         s->discrete, s->n_actions, s->max_steps, s->state_dim, s->reset_draws);
  put_floats(s->act_low, s->act_dim);
  put_floats(s->act_high, s->act_dim);
  put_floats(s->obs_low, s->obs_dim);
  put_floats(s->obs_high, s->obs_dim);
  printf("\n");
  return NULL;
}

static const char *cmd_open(server *sv, char *args) {
  server_close(sv);
  char *id = strtok(args, " \t\n"), *mode = strtok(NULL, " \t\n");
  char *bs = strtok(NULL, " \t\n"), *seeds = strtok(NULL, " \t\n"), *streams = strtok(NULL, " \t\n");
  if (!id || !mode || !bs || !seeds || !streams) return "open ID MODE B SEED STREAM0";
  const mbrl_env_spec *spec = mbrl_env_find(id);
  if (!spec) return mbrl_last_error();
  const int B = atoi(bs);
  const uint64_t seed = strtoull(seeds, NULL, 10), stream0 = strtoull(streams, NULL, 10);
  if (B < 1) return "B must be >= 1";
  const size_t O = (size_t)spec->obs_dim, A = (size_t)spec->act_dim, n = (size_t)B;
  sv->spec = spec;
  sv->B = B;
  sv->batch = strcmp(mode, "batch") == 0;
  sv->prev = calloc(n * O, sizeof(float));
  sv->act = calloc(n * A, sizeof(float));
  sv->obs = calloc(n * O, sizeof(float));
  sv->next = calloc(n * O, sizeof(float));
  sv->rew = calloc(n, sizeof(float));
  sv->te = calloc(n, 1);
  sv->tr = calloc(n, 1);
  if (!sv->prev || !sv->act || !sv->obs || !sv->next || !sv->rew || !sv->te || !sv->tr)
    return "out of memory";
  if (sv->batch) {
    if (mbrl_env_batch_init(&sv->eb, id, B, seed, stream0) != MBRL_OK) return mbrl_last_error();
  } else {
    sv->singles = calloc(n, sizeof(mbrl_env));
    if (!sv->singles) return "out of memory";
    for (int b = 0; b < B; ++b)
      if (mbrl_env_init(&sv->singles[b], id, seed + (uint64_t)b, stream0) != MBRL_OK)
        return mbrl_last_error();
  }
  return NULL;
}

static void state_of(const server *sv, int b, double *st) {
  for (int k = 0; k < sv->spec->state_dim; ++k)
    st[k] = sv->batch ? sv->eb.s[k][b] : sv->singles[b].state[k];
}

static void put_reset(const server *sv, int b) {
  const int O = sv->spec->obs_dim;
  double st[MBRL_ENV_MAX_STATE];
  state_of(sv, b, st);
  printf("r %d", b);
  put_floats(sv->prev + (size_t)b * O, O);
  put_doubles(st, sv->spec->state_dim);
  printf("\n");
}

static const char *cmd_reset(server *sv, char *args) {
  if (!sv->spec) return "no env open";
  const int O = sv->spec->obs_dim;
  char *bs = strtok(args, " \t\n");
  if (bs) {
    const int b = atoi(bs);
    if (sv->batch || b < 0 || b >= sv->B) return "reset b: single mode, 0 <= b < B";
    mbrl_env_reset(&sv->singles[b], sv->prev + (size_t)b * O);
    put_reset(sv, b);
    return NULL;
  }
  if (sv->batch) {
    mbrl_env_batch_reset(&sv->eb, sv->prev);
  } else {
    for (int b = 0; b < sv->B; ++b) mbrl_env_reset(&sv->singles[b], sv->prev + (size_t)b * O);
  }
  for (int b = 0; b < sv->B; ++b) put_reset(sv, b);
  return NULL;
}

static const char *cmd_set(server *sv, char *args) {
  if (!sv->spec) return "no env open";
  char *end, *p = args;
  const long b = strtol(p, &end, 10);
  if (end == p || b < 0 || b >= sv->B) return "set b s...: 0 <= b < B";
  p = end;
  for (int k = 0; k < sv->spec->state_dim; ++k) {
    const double v = strtod(p, &end);
    if (end == p) return "set: too few state values";
    p = end;
    if (sv->batch) sv->eb.s[k][b] = v;
    else sv->singles[b].state[k] = v;
  }
  return NULL;
}

static const char *cmd_sincos(char *args) {
  char *end, *p = args;
  for (;;) {
    const float x = (float)strtod(p, &end);
    if (end == p) break;
    p = end;
    printf("c %a %a\n", (double)mbrl_np_sincosf(x, 1), (double)mbrl_np_sincosf(x, 0));
  }
  return NULL;
}

static const char *cmd_step(server *sv, char *args) {
  if (!sv->spec) return "no env open";
  const mbrl_env_spec *s = sv->spec;
  const int O = s->obs_dim, A = s->act_dim, B = sv->B;
  char *p = args;
  for (int i = 0; i < B * A; ++i) {
    char *end;
    sv->act[i] = (float)strtod(p, &end);
    if (end == p) return "step: too few actions";
    p = end;
  }
  if (sv->batch) {
    mbrl_env_batch_step(&sv->eb, sv->act, sv->obs, sv->next, sv->rew, sv->te, sv->tr);
  } else {
    for (int b = 0; b < B; ++b) {
      int te, tr;
      mbrl_env_step(&sv->singles[b], sv->act + (size_t)b * A, sv->next + (size_t)b * O,
                    &sv->rew[b], &te, &tr);
      sv->te[b] = (uint8_t)te;
      sv->tr[b] = (uint8_t)tr;
      memcpy(sv->obs + (size_t)b * O, sv->next + (size_t)b * O, (size_t)O * sizeof(float));
    }
  }
  for (int b = 0; b < B; ++b) {
    const float *prev = sv->prev + (size_t)b * O, *a = sv->act + (size_t)b * A;
    const float *next = sv->next + (size_t)b * O;
    float oracle[MBRL_MAX_DIM];
    s->oracle_step(prev, a, oracle);
    printf("s %d", b);
    put_floats(next, O);
    printf(" %a %d %d", (double)sv->rew[b], sv->te[b], sv->tr[b]);
    put_floats(sv->obs + (size_t)b * O, O);
    printf(" %a %d", (double)s->reward_obs(prev, a, next), s->terminal_obs(next));
    put_floats(oracle, O);
    printf(" %a\n", (double)s->shaped_cost(prev, a, next));
  }
  memcpy(sv->prev, sv->obs, (size_t)B * (size_t)O * sizeof(float));
  return NULL;
}

int main(void) {
  static char line[MAX_LINE];
  server sv;
  memset(&sv, 0, sizeof sv);
  while (fgets(line, sizeof line, stdin)) {
    char *rest = line;
    while (*rest == ' ') ++rest;
    char *cmd = rest;
    while (*rest && *rest != ' ' && *rest != '\n') ++rest;
    if (*rest) *rest++ = '\0';
    const char *err;
    if (strcmp(cmd, "spec") == 0) {
      err = cmd_spec(rest);
    } else if (strcmp(cmd, "open") == 0) {
      err = cmd_open(&sv, rest);
    } else if (strcmp(cmd, "reset") == 0) {
      err = cmd_reset(&sv, rest);
    } else if (strcmp(cmd, "sincos") == 0) {
      err = cmd_sincos(rest);
    } else if (strcmp(cmd, "set") == 0) {
      err = cmd_set(&sv, rest);
    } else if (strcmp(cmd, "step") == 0) {
      err = cmd_step(&sv, rest);
    } else if (strcmp(cmd, "quit") == 0 || cmd[0] == '\0') {
      break;
    } else {
      err = "unknown command";
    }
    if (err) printf("error %s\n", err);
    else printf("ok\n");
    fflush(stdout);
  }
  server_close(&sv);
  return 0;
}
