/* mlp_writer.c - test helper: `mbrl_mlp_writer SEED PATH` writes an mbrl.mlp file (widths
 * 4-32-32-3, BatchNorm, ReLU, initialized from SEED) with mbrl_mlp_save, the call behind the
 * Python package's MLP.save. tests/test_file_faults.cpp runs it under a full disk and SIGKILL
 * like the programs' saves. Exit 0 written, 1 the save failed (message on stderr), 2 usage. */
#include <stdio.h>
#include <stdlib.h>

#include "mbrl/mlp.h"

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: mbrl_mlp_writer SEED PATH\n");
    return 2;
  }
  const int sizes[4] = {4, 32, 32, 3};
  mbrl_mlp_config c;
  mbrl_mlp_config_init(&c, 3, sizes);
  c.batchnorm = 1;
  c.activation = MBRL_ACT_RELU;
  c.seed = strtoull(argv[1], NULL, 10);
  mbrl_mlp *m = NULL;
  mbrl_status st = mbrl_mlp_create(&m, &c, MBRL_BACKEND_CPU, 4);
  if (!st) st = mbrl_mlp_save(m, argv[2]);
  if (st) fprintf(stderr, "mbrl_mlp_writer: error: %s\n", mbrl_last_error());
  mbrl_mlp_free(m);
  return st ? 1 : 0;
}
