/* dlab.h — the public header of libdlab, the dlab kernel library.
 *
 * One include for everything another C program needs:
 *
 *     #include <dlab/dlab.h>      // cc prog.c $(pkg-config --cflags --libs dlab)
 *
 *     dl_matmul_args a = dl_matmul_dense(M, N, K, A, false, B, false, C, false);
 *     dl_status s = dl_matmul_run(dl_matmul_best(DL_DEVICE_CPU), &a);
 *     if (s != DL_OK) fprintf(stderr, "%s\n", dl_last_error());
 *
 * Layers: core (status, memory, rng, cpu, threads) → registry → op families → backends.
 */
#ifndef DLAB_DLAB_H
#define DLAB_DLAB_H

#define DLAB_VERSION "0.1.0"

#include "act.h"
#include "attention.h"
#include "backend.h"
#include "checkpoint.h"
#include "conv2d.h"
#include "convert.h"
#include "core.h"
#include "data.h"
#include "embedding.h"
#include "layernorm.h"
#include "linear.h"
#include "matmul.h"
#include "maxpool.h"
#include "optim.h"
#include "reduce.h"
#include "registry.h"
#include "residual.h"
#include "softmax.h"
#include "softmax_topk.h"
#include "quant.h"
#include "int8_gemm.h"
#include "qlinear.h"
#include "spmm.h"
#include "sparse.h"
#include "softmax_xent.h"
#include "status.h"

#endif
