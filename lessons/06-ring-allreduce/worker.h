/* worker.h — the worker's options and helpers shared by worker.c and dp.c (MPI side only;
 * the driver does not include this). */
#ifndef AR_WORKER_H
#define AR_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <mpi.h>

#include "dlab/collective.h"

typedef struct ar_worker {
    const char *task, *out, *variants, *label_mpi, *kill_stamp, *algo;
    bool quick;
    long max_bytes, kill_rank, kill_after_ms, steps, batch, bucket_kib, repeat;
    uint64_t seed;
} ar_worker;

int ar_worker_args(int argc, char **argv, ar_worker *w);
bool ar_worker_wants(const ar_worker *w, const char *name);
const char *ar_worker_label(const ar_worker *w, const dl_allreduce_variant *v);
/* Print the last dlab error with the rank and end the whole job (MPI_Abort). */
void ar_worker_fail(const char *what);
/* Do all ranks hold bitwise the same n floats? (hash, MPI_MIN == MPI_MAX) */
bool ar_identical_across_ranks(const float *x, size_t n, MPI_Comm comm);

int ar_task_dp(const ar_worker *w, int rank, int ranks);

#endif
