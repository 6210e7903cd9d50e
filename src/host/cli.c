/* cli.c - GNU long-option helpers for the apps (they print and exit; see cli.h). */
#include "mbrl/cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mbrl/cpu.h"

#ifndef MBRL_VERSION
#define MBRL_VERSION "unknown"
#endif

void mbrl_cli_usage_error(const char *prog, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s: error: ", prog);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
  exit(2);
}

void mbrl_cli_fail(const char *prog, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s: error: ", prog);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

void mbrl_cli_print_version(const char *prog) { printf("%s (mbrl) %s\n", prog, MBRL_VERSION); }

void mbrl_cli_init(mbrl_cli *c, const char *prog, int argc, char **argv) {
  memset(c, 0, sizeof *c);
  c->prog = prog;
  c->argc = argc;
  c->argv = argv;
  c->i = 0;
}

int mbrl_cli_next(mbrl_cli *c) {
  c->i++;
  c->name = c->value = NULL;
  if (c->i >= c->argc) {
    c->arg = NULL;
    return 0;
  }
  c->arg = c->argv[c->i];
  if (strncmp(c->arg, "--", 2) != 0 || c->arg[2] == '\0')
    mbrl_cli_usage_error(c->prog, "unexpected argument '%s' (options are --name value)", c->arg);
  return 1;
}

/* Does the current argument name `name`, as "name" or "name=..."? */
static int matches(const mbrl_cli *c, const char *name, const char **eq) {
  size_t n = strlen(name);
  if (strncmp(c->arg, name, n) != 0) return 0;
  if (c->arg[n] == '\0') {
    *eq = NULL;
    return 1;
  }
  if (c->arg[n] == '=') {
    *eq = c->arg + n + 1;
    return 1;
  }
  return 0;
}

void mbrl_cli_help_version(mbrl_cli *c, void (*usage)(void)) {
  if (mbrl_cli_flag(c, "--help")) {
    usage();
    exit(0);
  }
  if (mbrl_cli_flag(c, "--version")) {
    mbrl_cli_print_version(c->prog);
    exit(0);
  }
}

int mbrl_cli_flag(mbrl_cli *c, const char *name) {
  const char *eq;
  if (!matches(c, name, &eq)) return 0;
  if (eq) mbrl_cli_usage_error(c->prog, "%s takes no value (got '%s')", name, c->arg);
  c->name = name;
  return 1;
}

int mbrl_cli_option(mbrl_cli *c, const char *name) {
  const char *eq;
  if (!matches(c, name, &eq)) return 0;
  c->name = name;
  if (eq) {
    c->value = eq;
    return 1;
  }
  if (c->i + 1 >= c->argc)
    mbrl_cli_usage_error(c->prog, "%s: missing value; give it as %s VALUE", name, name);
  const char *v = c->argv[c->i + 1];
  if (strncmp(v, "--", 2) == 0)
    mbrl_cli_usage_error(c->prog, "%s: missing value (the next word is the option '%s')", name, v);
  c->value = v;
  c->i++;
  return 1;
}

void mbrl_cli_unknown(const mbrl_cli *c) {
  mbrl_cli_usage_error(c->prog, "unknown option '%s'", c->arg);
}

/* Parse one decimal integer from s[0..len) (all of it): 1 ok, 0 not an integer, -1 an
 * integer too large for a long (*out is then LONG_MAX or LONG_MIN). */
static int parse_long(const char *s, size_t len, long *out) {
  char buf[64];
  if (len == 0) return 0;
  if (len >= sizeof buf) {
    size_t k = s[0] == '-' || s[0] == '+';
    if (k == len) return 0;
    for (size_t i = k; i < len; ++i)
      if (s[i] < '0' || s[i] > '9') return 0;
    *out = s[0] == '-' ? LONG_MIN : LONG_MAX;
    return -1;
  }
  memcpy(buf, s, len);
  buf[len] = '\0';
  char *e;
  errno = 0;
  long v = strtol(buf, &e, 10);
  if (*e != '\0' || e == buf || buf[0] == ' ' || buf[0] == '\t') return 0;
  *out = v;
  return errno == ERANGE ? -1 : 1;
}

static int parse_double(const char *s, size_t len, double *out) {
  char buf[64];
  if (len == 0 || len >= sizeof buf) return 0;
  memcpy(buf, s, len);
  buf[len] = '\0';
  char *e;
  errno = 0;
  double v = strtod(buf, &e);
  if (*e != '\0' || e == buf || buf[0] == ' ' || buf[0] == '\t' || !isfinite(v)) return 0;
  *out = v;
  return 1;
}

long mbrl_cli_int(const mbrl_cli *c, long lo, long hi) {
  long v;
  int ok = parse_long(c->value, strlen(c->value), &v);
  if (ok == 0)
    mbrl_cli_usage_error(c->prog, "%s: '%s' is not an integer; use an integer in [%ld, %ld]",
                         c->name, c->value, lo, hi);
  if (ok < 0 || v < lo || v > hi)
    mbrl_cli_usage_error(c->prog, "%s: '%s' is out of range; use an integer in [%ld, %ld]",
                         c->name, c->value, lo, hi);
  return v;
}

uint64_t mbrl_cli_u64(const mbrl_cli *c) {
  const char *s = c->value;
  int ok = *s != '\0';
  for (const char *p = s; *p; ++p)
    if (*p < '0' || *p > '9') ok = 0;
  unsigned long long v = 0;
  if (ok) {
    char *e;
    errno = 0;
    v = strtoull(s, &e, 10);
    if (errno == ERANGE || *e) ok = 0;
  }
  if (!ok)
    mbrl_cli_usage_error(c->prog,
                         "%s: '%s' is not an integer in [0, 18446744073709551615]; use a "
                         "non-negative whole number",
                         c->name, s);
  return (uint64_t)v;
}

double mbrl_cli_double(const mbrl_cli *c, double lo, double hi) {
  double v;
  if (!parse_double(c->value, strlen(c->value), &v))
    mbrl_cli_usage_error(c->prog, "%s: '%s' is not a number; use a number in [%g, %g]", c->name,
                         c->value, lo, hi);
  if (v < lo || v > hi)
    mbrl_cli_usage_error(c->prog, "%s: '%s' is out of range; use a number in [%g, %g]", c->name,
                         c->value, lo, hi);
  return v;
}

int mbrl_cli_int_list(const mbrl_cli *c, long *out, int max_n, long lo, long hi) {
  int n = 0;
  const char *s = c->value;
  for (;;) {
    const char *comma = strchr(s, ',');
    size_t len = comma ? (size_t)(comma - s) : strlen(s);
    long v;
    if (n >= max_n)
      mbrl_cli_usage_error(c->prog, "%s: '%s' has more than %d values; use at most %d", c->name,
                           c->value, max_n, max_n);
    int ok = parse_long(s, len, &v);
    if (ok == 0)
      mbrl_cli_usage_error(c->prog,
                           "%s: '%s' is not a comma-separated list of integers; use integers "
                           "in [%ld, %ld] separated by commas",
                           c->name, c->value, lo, hi);
    if (ok < 0 || v < lo || v > hi)
      mbrl_cli_usage_error(c->prog, "%s: '%.*s' in '%s' is out of range; use integers in [%ld, %ld]",
                           c->name, (int)len, s, c->value, lo, hi);
    out[n++] = v;
    if (!comma) break;
    s = comma + 1;
  }
  return n;
}

int mbrl_cli_double_list(const mbrl_cli *c, double *out, int max_n, double lo, double hi) {
  int n = 0;
  const char *s = c->value;
  for (;;) {
    const char *comma = strchr(s, ',');
    size_t len = comma ? (size_t)(comma - s) : strlen(s);
    double v;
    if (n >= max_n)
      mbrl_cli_usage_error(c->prog, "%s: '%s' has more than %d values; use at most %d", c->name,
                           c->value, max_n, max_n);
    if (!parse_double(s, len, &v))
      mbrl_cli_usage_error(c->prog,
                           "%s: '%s' is not a comma-separated list of numbers; use numbers in "
                           "[%g, %g]",
                           c->name, c->value, lo, hi);
    if (v < lo || v > hi)
      mbrl_cli_usage_error(c->prog, "%s: %g in '%s' is out of range; use numbers in [%g, %g]",
                           c->name, v, c->value, lo, hi);
    out[n++] = v;
    if (!comma) break;
    s = comma + 1;
  }
  return n;
}

int mbrl_cli_choice(const mbrl_cli *c, const char *const *choices) {
  char list[512];
  size_t k = 0;
  list[0] = '\0';
  for (int i = 0; choices[i]; ++i) {
    if (strcmp(c->value, choices[i]) == 0) return i;
    if (k < sizeof list)
      k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", choices[i]);
  }
  mbrl_cli_usage_error(c->prog, "%s: '%s' is not allowed; use one of: %s", c->name, c->value,
                       list);
}

/* The JSON text of byte c inside a string literal (an escape, or c itself) into out[8]. */
static const char *json_char(unsigned char c, char *out) {
  switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    default:
      if (c < 0x20)
        snprintf(out, 8, "\\u%04x", c);
      else
        out[0] = (char)c, out[1] = '\0';
      return out;
  }
}

void mbrl_cli_json_string(FILE *f, const char *s) {
  char tmp[8];
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; ++p) fputs(json_char(*p, tmp), f);
  fputc('"', f);
}

int mbrl_cli_json_append(char *buf, size_t cap, const char *s) {
  const size_t n0 = strlen(buf);
  size_t n = n0;
  char tmp[8];
  if (n + 1 >= cap) return -1;
  buf[n++] = '"';
  for (const unsigned char *p = (const unsigned char *)s; *p; ++p) {
    const char *e = json_char(*p, tmp);
    const size_t k = strlen(e);
    if (n + k + 2 > cap) {
      buf[n0] = '\0';
      return -1;
    }
    memcpy(buf + n, e, k);
    n += k;
  }
  if (n + 2 > cap) {
    buf[n0] = '\0';
    return -1;
  }
  buf[n++] = '"';
  buf[n] = '\0';
  return 0;
}

const char *mbrl_cli_path(const mbrl_cli *c, const char *example) {
  if (!c->value[0])
    mbrl_cli_usage_error(c->prog, "%s: empty name; use e.g. %s %s", c->name, c->name, example);
  return c->value;
}

mbrl_backend mbrl_cli_device(const mbrl_cli *c) {
  mbrl_backend b;
  if (mbrl_backend_parse(c->value, &b) != MBRL_OK)
    mbrl_cli_usage_error(c->prog, "%s: '%s' is not allowed; use one of: auto, cpu, cuda", c->name,
                         c->value);
  return b;
}

mbrl_backend mbrl_cli_resolve_device(const char *prog, mbrl_backend requested) {
  mbrl_backend b;
  if (mbrl_backend_resolve(requested, &b) != MBRL_OK)
    mbrl_cli_fail(prog, "--device %s: %s", mbrl_backend_name(requested), mbrl_last_error());
  return b;
}

const char *mbrl_cli_cpu_kernels(const char *prog) {
  if (mbrl_cpu_check() != MBRL_OK) mbrl_cli_fail(prog, "%s", mbrl_last_error());
  const char *name = mbrl_cpu_path_name(mbrl_cpu_kernels());
  fprintf(stderr, "%s: CPU kernels %s (cpu: %s)\n", prog, name, mbrl_cpu_features());
  return name;
}

void mbrl_cli_default_out(const char *env_id, const char *suffix, char *out, size_t cap) {
  char name[64];
  size_t k = 0;
  for (const char *p = env_id; *p && k + 1 < sizeof name; ++p) {
    if (p[0] == '-' && p[1] == 'v') break;
    char ch = *p;
    if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))) ch = '_';
    name[k++] = ch;
  }
  name[k] = '\0';
  snprintf(out, cap, "data/%s%s", name, suffix);
}

void mbrl_cli_print_doubles(FILE *f, const double *v, int n, int digits) {
  fputc('[', f);
  for (int i = 0; i < n; ++i) fprintf(f, "%s%.*g", i ? ", " : "", digits, v[i]);
  fputc(']', f);
}

void mbrl_cli_print_floats(FILE *f, const float *v, int n, int digits) {
  fputc('[', f);
  for (int i = 0; i < n; ++i) fprintf(f, "%s%.*g", i ? ", " : "", digits, (double)v[i]);
  fputc(']', f);
}
