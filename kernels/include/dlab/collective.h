/* collective.h — allreduce (float32 sum) over MPI point-to-point: the algorithms lesson 6
 * compares, each a named variant with the same signature.
 *
 *   naive          reduce to rank 0 (adding in rank order), then send the sum to every rank
 *   tree           binomial-tree reduce to rank 0, then binomial-tree broadcast
 *   rdoubling      recursive doubling (every rank exchanges the whole vector lg p times)
 *   rabenseifner   reduce-scatter by recursive halving, allgather by recursive doubling
 *   ring           reduce-scatter then allgather around a ring, in pieces, with non-blocking
 *                  sends and receives so the reduction of one piece overlaps the transfer
 *                  of the next (Baidu / Horovod; Patarasuk & Yuan 2009)
 *   mpi            MPI_Allreduce: whatever the MPI library chooses (the yardstick)
 *
 * Every variant works for any rank count (non-powers of two fold the extra ranks into a
 * partner first, the standard fix) and any count (blocks differ by at most one element),
 * including 0. In place when send == recv. Every rank ends with bitwise the same vector
 * (each element is summed once, in one order, then copied), which data-parallel training
 * relies on to keep replicas identical.
 *
 * Lives in libdlab_mpi (built only when mpicc exists), so libdlab itself never needs MPI;
 * not in the kernels/ops/ops.c registry for the same reason. Not thread-safe: the variants
 * share one scratch buffer (MPI is used from one thread here). Leaves out: other types and
 * reductions, NCCL (a GPU build would add it beside these), fault tolerance (a dead rank
 * ends the job: that is mpirun's policy and the lesson measures how fast).
 */
#ifndef DLAB_COLLECTIVE_H
#define DLAB_COLLECTIVE_H

#include <stddef.h>

#include <mpi.h>

#include "dlab/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* recv[i] = Σ over ranks of send[i], for i < count, on every rank of comm. send == recv is
 * in place. A failed MPI call or allocation returns a status with the MPI error text. */
typedef dl_status (*dl_allreduce_fn)(const float *send, float *recv, size_t count, MPI_Comm comm);

typedef struct dl_allreduce_variant {
    const char *name;        /* "ring" */
    const char *description; /* one line */
    /* The order in which an element's p terms are added, for the error bound of random
     * floats: the number of additions on the longest chain that produces one sum
     * (p - 1 for a linear order, ceil(lg p) (+1 with the non-power-of-two fold) for a tree). */
    int (*depth)(int ranks);
    dl_allreduce_fn run;
} dl_allreduce_variant;

/* All variants, in the order above; *n gets their number. */
const dl_allreduce_variant *dl_allreduce_variants(int *n);
/* The variant named `name`, or NULL. */
const dl_allreduce_variant *dl_allreduce_find(const char *name);

/* The split of `count` elements into `parts` blocks as the variants use it: block i starts
 * at dl_block_offset(count, parts, i) and has dl_block_count(count, parts, i) elements; the
 * first count % parts blocks have one element more. */
size_t dl_block_offset(size_t count, int parts, int i);
size_t dl_block_count(size_t count, int parts, int i);

/* Elements per piece of the ring's pipeline (a block larger than this is sent in pieces, so
 * the reduction of one piece overlaps the arrival of the next). */
#define DL_RING_PIECE_ELEMENTS ((size_t)1 << 16) /* 256 KiB of float */

#ifdef __cplusplus
}
#endif
#endif
