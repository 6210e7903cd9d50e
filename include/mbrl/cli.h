/* mbrl/cli.h - GNU long-option helpers shared by the apps (the programs in apps/).
 *
 * This is the app layer: unlike the rest of the library, these functions print to
 * stderr/stdout and exit. Bad usage prints
 *   prog: error: --flag: 'x' is not an integer; use an integer in [1, 1000000]
 *   Try 'prog --help' for more information.
 * and exits 2; mbrl_cli_fail prints `prog: error: ...` and exits 1.
 *
 * Usage:
 *   mbrl_cli c; mbrl_cli_init(&c, "mbrl_collect", argc, argv);
 *   while (mbrl_cli_next(&c)) {
 *     mbrl_cli_help_version(&c, usage);
 *     if (mbrl_cli_option(&c, "--episodes")) episodes = mbrl_cli_int(&c, 1, 1000000);
 *     else mbrl_cli_unknown(&c);
 *   }
 * Options take `--name value` or `--name=value`. */
#ifndef MBRL_CLI_H
#define MBRL_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "mbrl/common.h"
#include "mbrl/device.h"

MBRL_EXTERN_C_BEGIN

#if defined(__GNUC__)
#define MBRL_NORETURN __attribute__((noreturn))
#define MBRL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MBRL_NORETURN
#define MBRL_PRINTF(a, b)
#endif

typedef struct mbrl_cli {
  const char *prog; /* program name used in messages */
  int argc;
  char **argv;
  int i;            /* index of the current argument */
  const char *arg;  /* the current argument as written */
  const char *name; /* the option matched by mbrl_cli_option/flag ("--episodes") */
  const char *value;/* its value (after mbrl_cli_option) */
} mbrl_cli;

/* Start iterating argv[1..argc). */
void mbrl_cli_init(mbrl_cli *c, const char *prog, int argc, char **argv);

/* Advance to the next argument; 0 when there are none left. A bare word (not starting
 * with "--") is a usage error ("unexpected argument 'x'"). */
int mbrl_cli_next(mbrl_cli *c);

/* The switches every app has: --help calls usage() and exits 0, --version prints the
 * version (mbrl_cli_print_version) and exits 0; any other argument returns. Call it first
 * in the loop body. */
void mbrl_cli_help_version(mbrl_cli *c, void (*usage)(void));

/* 1 if the current argument is the switch `name` (e.g. "--force"); "--force=x" is a
 * usage error (the switch takes no value). */
int mbrl_cli_flag(mbrl_cli *c, const char *name);

/* 1 if the current argument is option `name` ("--out x" or "--out=x"); sets c->value.
 * A missing value (end of argv, or a next word starting with "--") is a usage error. */
int mbrl_cli_option(mbrl_cli *c, const char *name);

/* Usage error for the current argument: "unknown option '--x'". */
MBRL_NORETURN void mbrl_cli_unknown(const mbrl_cli *c);

/* Parse c->value as a decimal integer in [lo, hi]; usage error naming c->name otherwise. */
long mbrl_cli_int(const mbrl_cli *c, long lo, long hi);

/* Parse c->value as a non-negative decimal integer < 2^64 (e.g. a seed). */
uint64_t mbrl_cli_u64(const mbrl_cli *c);

/* Parse c->value as a finite number in [lo, hi]. */
double mbrl_cli_double(const mbrl_cli *c, double lo, double hi);

/* Parse c->value as a comma-separated list of 1..max_n integers, each in [lo, hi], into out;
 * returns how many. E.g. "--hidden 64,64". */
int mbrl_cli_int_list(const mbrl_cli *c, long *out, int max_n, long lo, long hi);

/* Parse c->value as a comma-separated list of 1..max_n finite numbers in [lo, hi]. */
int mbrl_cli_double_list(const mbrl_cli *c, double *out, int max_n, double lo, double hi);

/* c->value must be one of the NULL-terminated `choices`; returns its index. */
int mbrl_cli_choice(const mbrl_cli *c, const char *const *choices);

/* c->value must be non-empty (a file or directory name); else the usage error
 * "--NAME: empty name; use e.g. --NAME EXAMPLE". Returns c->value. */
const char *mbrl_cli_path(const mbrl_cli *c, const char *example);

/* Parse c->value (from --device) as auto|cpu|cuda; usage error naming the word otherwise. */
mbrl_backend mbrl_cli_device(const mbrl_cli *c);

/* Resolve a --device request (mbrl_backend_resolve); fail (exit 1) saying why when it cannot
 * be had, e.g. "--device cuda: ... no CUDA GPU is present ...". */
mbrl_backend mbrl_cli_resolve_device(const char *prog, mbrl_backend requested);

/* The CPU kernel path for an app (mbrl/cpu.h): fail (exit 1) with the library's message when
 * MBRL_CPU_KERNELS names a path this CPU lacks (naming the variable and the CPU's features) or
 * no path at all; else print "<prog>: CPU kernels <path> (cpu: <features>)" on stderr and
 * return the path's name. */
const char *mbrl_cli_cpu_kernels(const char *prog);

/* "data/<name><suffix>" for an env id: lowercase, up to the "-v" version suffix, other
 * characters as '_' ("Pendulum-v1", "_random.h5" -> "data/pendulum_random.h5"). */
void mbrl_cli_default_out(const char *env_id, const char *suffix, char *out, size_t cap);

/* Print "[a, b, c]": n values with `digits` significant digits (%.*g). */
void mbrl_cli_print_doubles(FILE *f, const double *v, int n, int digits);
void mbrl_cli_print_floats(FILE *f, const float *v, int n, int digits);

/* Print "prog: error: <fmt>" and "Try 'prog --help' ..." to stderr, exit 2. */
MBRL_NORETURN void mbrl_cli_usage_error(const char *prog, const char *fmt, ...) MBRL_PRINTF(2, 3);

/* Print "prog: error: <fmt>" to stderr, exit 1 (runtime failure). */
MBRL_NORETURN void mbrl_cli_fail(const char *prog, const char *fmt, ...) MBRL_PRINTF(2, 3);

/* Print "prog (mbrl) VERSION" to stdout. */
void mbrl_cli_print_version(const char *prog);

/* Write s to f as a JSON string literal (quotes and escapes included). */
void mbrl_cli_json_string(FILE *f, const char *s);

/* Append s as a JSON string literal to buf (NUL ended, cap bytes, holding a string of len
 * strlen(buf)). Returns 0, or -1 (buf unchanged) when it does not fit. */
int mbrl_cli_json_append(char *buf, size_t cap, const char *s);

MBRL_EXTERN_C_END

#endif
