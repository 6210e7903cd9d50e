/* cpu.c - the CPU kernel path (mbrl/cpu.h): cpuid features, MBRL_CPU_KERNELS, the table of the
 * path in use (host/cpu_kernels.h). */
#include "mbrl/cpu.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/cpu_kernels.h"

const char *mbrl_cpu_path_name(mbrl_cpu_path p) {
  switch (p) {
    case MBRL_CPU_GENERIC: return "generic";
    case MBRL_CPU_AVX2: return "avx2";
    case MBRL_CPU_AVX512: return "avx512";
  }
  return "?";
}

mbrl_status mbrl_cpu_path_parse(const char *name, mbrl_cpu_path *out) {
  for (int p = 0; p < MBRL_CPU_PATH_COUNT; ++p)
    if (name && strcmp(name, mbrl_cpu_path_name((mbrl_cpu_path)p)) == 0) {
      *out = (mbrl_cpu_path)p;
      return MBRL_OK;
    }
  return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                        "'%s' is not a CPU kernel path; use avx512, avx2 or generic",
                        name ? name : "(null)");
}

/* ---------------------------------------------------------------- features */

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_X86 1
static const char *const k_avx2_feats[] = {"avx2", "fma", "bmi", "bmi2", "popcnt"};
static const char *const k_avx512_feats[] = {"avx512f", "avx512vl", "avx512dq", "avx512bw"};
/* MBRL_CPU_MASK (tests): features to treat as absent, e.g. "avx512f" plays an AVX2-only CPU. */
static int masked(const char *f) {
  const char *m = getenv("MBRL_CPU_MASK");
  const size_t n = strlen(f);
  for (const char *p = m; p && (p = strstr(p, f)) != NULL; p += n)
    if ((p == m || p[-1] == ' ' || p[-1] == ',') && (p[n] == '\0' || p[n] == ' ' || p[n] == ','))
      return 1;
  return 0;
}
/* __builtin_cpu_supports needs a literal name */
static int has_feature(const char *f) {
  __builtin_cpu_init();
  if (masked(f)) return 0;
  if (!strcmp(f, "avx2")) return __builtin_cpu_supports("avx2");
  if (!strcmp(f, "fma")) return __builtin_cpu_supports("fma");
  if (!strcmp(f, "bmi")) return __builtin_cpu_supports("bmi");
  if (!strcmp(f, "bmi2")) return __builtin_cpu_supports("bmi2");
  if (!strcmp(f, "popcnt")) return __builtin_cpu_supports("popcnt");
  if (!strcmp(f, "avx512f")) return __builtin_cpu_supports("avx512f");
  if (!strcmp(f, "avx512vl")) return __builtin_cpu_supports("avx512vl");
  if (!strcmp(f, "avx512dq")) return __builtin_cpu_supports("avx512dq");
  if (!strcmp(f, "avx512bw")) return __builtin_cpu_supports("avx512bw");
  return 0;
}
static int has_all(const char *const *f, int n) {
  for (int i = 0; i < n; ++i)
    if (!has_feature(f[i])) return 0;
  return 1;
}
#else
#define HAVE_X86 0
#endif

int mbrl_cpu_supports(mbrl_cpu_path p) {
  switch (p) {
    case MBRL_CPU_GENERIC: return 1;
#if HAVE_X86
    case MBRL_CPU_AVX2: return has_all(k_avx2_feats, 5);
    case MBRL_CPU_AVX512: return has_all(k_avx2_feats, 5) && has_all(k_avx512_feats, 4);
#else
    default: return 0;
#endif
  }
  return 0;
}

mbrl_cpu_path mbrl_cpu_best(void) {
  if (mbrl_cpu_supports(MBRL_CPU_AVX512)) return MBRL_CPU_AVX512;
  if (mbrl_cpu_supports(MBRL_CPU_AVX2)) return MBRL_CPU_AVX2;
  return MBRL_CPU_GENERIC;
}

static char g_features[128];
static pthread_once_t g_features_once = PTHREAD_ONCE_INIT;

static void features_init(void) {
#if HAVE_X86
  size_t n = 0;
  const char *const *lists[2] = {k_avx512_feats, k_avx2_feats};
  const int counts[2] = {4, 5};
  for (int l = 0; l < 2; ++l)
    for (int i = 0; i < counts[l]; ++i)
      if (has_feature(lists[l][i]))
        n += (size_t)snprintf(g_features + n, sizeof g_features - n, "%s%s", n ? " " : "",
                              lists[l][i]);
  if (n == 0) snprintf(g_features, sizeof g_features, "none");
#else
  snprintf(g_features, sizeof g_features, "not x86-64");
#endif
}

const char *mbrl_cpu_features(void) {
  pthread_once(&g_features_once, features_init);
  return g_features;
}

/* ---------------------------------------------------------------- the path in use */

static int g_path = -1;          /* mbrl_cpu_path, -1 = not decided yet */
static mbrl_status g_env_status; /* MBRL_CPU_KERNELS's error, if any */
static char g_env_message[512];
static pthread_once_t g_path_once = PTHREAD_ONCE_INIT;

static void path_init(void) {
  mbrl_cpu_path p = mbrl_cpu_best();
  const char *e = getenv("MBRL_CPU_KERNELS");
  g_env_status = MBRL_OK;
  if (e && *e) {
    mbrl_cpu_path want;
    if (mbrl_cpu_path_parse(e, &want) != MBRL_OK) {
      g_env_status = MBRL_ERR_INVALID_ARG;
      snprintf(g_env_message, sizeof g_env_message,
               "MBRL_CPU_KERNELS=%s is not a CPU kernel path; use avx512, avx2 or generic (or "
               "unset it to use the best this CPU runs, %s)",
               e, mbrl_cpu_path_name(p));
    } else if (!mbrl_cpu_supports(want)) {
      g_env_status = MBRL_ERR_UNSUPPORTED;
      snprintf(g_env_message, sizeof g_env_message,
               "MBRL_CPU_KERNELS=%s asks for a kernel path this CPU cannot run (its features: "
               "%s); use %s or a lower path, or unset MBRL_CPU_KERNELS",
               e, mbrl_cpu_features(), mbrl_cpu_path_name(p));
    } else {
      p = want;
    }
  }
  __atomic_store_n(&g_path, (int)p, __ATOMIC_RELEASE);
}

mbrl_cpu_path mbrl_cpu_kernels(void) {
  int p = __atomic_load_n(&g_path, __ATOMIC_ACQUIRE);
  if (p < 0) {
    pthread_once(&g_path_once, path_init);
    p = __atomic_load_n(&g_path, __ATOMIC_ACQUIRE);
  }
  return (mbrl_cpu_path)p;
}

mbrl_status mbrl_cpu_check(void) {
  (void)mbrl_cpu_kernels();
  if (g_env_status != MBRL_OK) return mbrl_set_error(g_env_status, "%s", g_env_message);
  return MBRL_OK;
}

mbrl_status mbrl_cpu_set_kernels(mbrl_cpu_path p) {
  (void)mbrl_cpu_kernels();
  if (p != MBRL_CPU_GENERIC && p != MBRL_CPU_AVX2 && p != MBRL_CPU_AVX512)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "cpu_set_kernels: %d is not a path", (int)p);
  if (!mbrl_cpu_supports(p))
    return mbrl_set_error(MBRL_ERR_UNSUPPORTED,
                          "cpu_set_kernels: this CPU cannot run the %s kernels (its features: %s)",
                          mbrl_cpu_path_name(p), mbrl_cpu_features());
  g_env_status = MBRL_OK;
  __atomic_store_n(&g_path, (int)p, __ATOMIC_RELEASE);
  return MBRL_OK;
}

/* ---------------------------------------------------------------- tables */

const mbrl_cpu_table *mbrl_cpu_table_of(mbrl_cpu_path p) {
  if (!mbrl_cpu_supports(p)) return NULL;
  switch (p) {
#if defined(__x86_64__)
    case MBRL_CPU_AVX512: return &mbrl_cpu_table_avx512;
    case MBRL_CPU_AVX2: return &mbrl_cpu_table_avx2;
#endif
    case MBRL_CPU_GENERIC: return &mbrl_cpu_table_generic;
    default: return NULL;
  }
}

const mbrl_cpu_table *mbrl_cpu_table_get(void) {
  switch (mbrl_cpu_kernels()) {
#if defined(__x86_64__)
    case MBRL_CPU_AVX512: return &mbrl_cpu_table_avx512;
    case MBRL_CPU_AVX2: return &mbrl_cpu_table_avx2;
#endif
    default: return &mbrl_cpu_table_generic;
  }
}
