// src/kernels/mlp_internal.cuh - private: what dynamics_train.cu needs from mlp.cu beyond
// src/host/mlp_cuda.h. C++ linkage, .cu files only.
#pragma once

#include "mbrl/mlp.h"
#include "mbrl/status.h"

// Bind the mlp's cuBLAS handle to m->stream (and the mlp's own cuBLAS workspace). Called by
// every CUDA mlp function; call it before capturing mlp work into a CUDA graph so that the
// capture makes no cuBLAS configuration call.
mbrl_status mbrl_mlp_cuda_bind(mbrl_mlp *m, const char *fn);
