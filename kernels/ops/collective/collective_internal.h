/* collective_internal.h — what the allreduce variants share inside kernels/ops/collective:
 * checked MPI calls, the scratch buffer, the element-wise sum and the fold that reduces a
 * non-power-of-two rank count to a power of two. Not installed, not for callers. */
#ifndef DLAB_COLLECTIVE_INTERNAL_H
#define DLAB_COLLECTIVE_INTERNAL_H

#include "dlab/collective.h"

/* Turn an MPI return code into a dl_status with MPI's message ("MPI_Sendrecv: ..."). */
dl_status dl_coll_mpi_status(int rc, const char *where);
#define DL_MPI_TRY(call)                                                                    \
    do {                                                                                    \
        int dl_mpi_rc_ = (call);                                                            \
        if (dl_mpi_rc_ != MPI_SUCCESS) return dl_coll_mpi_status(dl_mpi_rc_, #call);        \
    } while (0)

/* A scratch buffer of at least n floats, kept between calls (first touch of a fresh buffer
 * costs page faults that would otherwise be timed). */
dl_status dl_coll_scratch(size_t n, float **out);

/* Arguments every variant checks; copies send to recv when out of place. */
dl_status dl_coll_begin(const float *send, float *recv, size_t count, MPI_Comm comm, int *rank,
                        int *ranks);

/* y[i] = x[i] + y[i] (x is the lower-ranked operand; the sum is the same either way, the
 * order is written down so a reader can follow one element). */
void dl_coll_add(float *y, const float *x, size_t n);

/* The non-power-of-two fold: with p ranks, pof2 the largest power of two <= p and
 * rem = p - pof2, ranks 0 .. 2·rem-1 pair up (even sends its vector to odd, which adds it)
 * and the even ones sit out; the pof2 ranks left get new ranks 0 .. pof2-1.
 * fold_in returns the new rank, or -1 for a rank that sits out. fold_out sends the result
 * back to the ranks that sat out. */
typedef struct dl_coll_fold {
    int rank, ranks, pof2, rem, new_rank;
} dl_coll_fold;
dl_status dl_coll_fold_in(float *buf, size_t count, MPI_Comm comm, int rank, int ranks,
                          dl_coll_fold *f);
dl_status dl_coll_fold_out(float *buf, size_t count, MPI_Comm comm, const dl_coll_fold *f);
/* The real rank of a new rank. */
int dl_coll_fold_real(const dl_coll_fold *f, int new_rank);

/* Variants defined in the other files of this directory. */
dl_status dl_allreduce_rdoubling(const float *send, float *recv, size_t count, MPI_Comm comm);
dl_status dl_allreduce_rabenseifner(const float *send, float *recv, size_t count, MPI_Comm comm);
dl_status dl_allreduce_ring(const float *send, float *recv, size_t count, MPI_Comm comm);

#endif
