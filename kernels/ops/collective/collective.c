/* collective.c — the allreduce registry, the shared pieces (checked MPI calls, scratch,
 * block split, the non-power-of-two fold) and the two simplest variants: naive (reduce to
 * rank 0, then send to all) and the binomial tree; plus MPI_Allreduce as the yardstick.
 * Recursive doubling and Rabenseifner are in collective_halving.c, the ring in
 * collective_ring.c. Leaves out: types other than float, reductions other than sum. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collective_internal.h"

/* ------------------------------------------------------------------ shared pieces */

dl_status dl_coll_mpi_status(int rc, const char *where) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "code %d", rc);
    return dl_fail_at(DL_ERR_DEVICE, "allreduce", "%s failed: %s", where, text);
}

static float *scratch;
static size_t scratch_cap;

dl_status dl_coll_scratch(size_t n, float **out) {
    if (n > scratch_cap) {
        free(scratch);
        scratch_cap = 0;
        scratch = malloc((n ? n : 1) * sizeof(float));
        if (!scratch) return DL_FAIL(DL_ERR_ALLOC, "%zu floats of scratch", n);
        memset(scratch, 0, n * sizeof(float)); /* fault the pages in now, not while timed */
        scratch_cap = n;
    }
    *out = scratch;
    return DL_OK;
}

dl_status dl_coll_begin(const float *send, float *recv, size_t count, MPI_Comm comm, int *rank,
                        int *ranks) {
    if (count > 0 && (!send || !recv)) return DL_FAIL(DL_ERR_ARG, "NULL buffer for %zu elements", count);
    if (count > (size_t)INT_MAX) return DL_FAIL(DL_ERR_ARG, "count %zu exceeds MPI's int counts", count);
    DL_MPI_TRY(MPI_Comm_rank(comm, rank));
    DL_MPI_TRY(MPI_Comm_size(comm, ranks));
    if (send != recv && count > 0) memcpy(recv, send, count * sizeof(float));
    return DL_OK;
}

void dl_coll_add(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] + y[i];
}

size_t dl_block_offset(size_t count, int parts, int i) {
    const size_t base = count / (size_t)parts, extra = count % (size_t)parts;
    return (size_t)i * base + ((size_t)i < extra ? (size_t)i : extra);
}

size_t dl_block_count(size_t count, int parts, int i) {
    return count / (size_t)parts + ((size_t)i < count % (size_t)parts ? 1 : 0);
}

dl_status dl_coll_fold_in(float *buf, size_t count, MPI_Comm comm, int rank, int ranks,
                          dl_coll_fold *f) {
    f->rank = rank;
    f->ranks = ranks;
    f->pof2 = 1;
    while (f->pof2 * 2 <= ranks) f->pof2 *= 2;
    f->rem = ranks - f->pof2;
    if (rank < 2 * f->rem) {
        if (rank % 2 == 0) {
            DL_MPI_TRY(MPI_Send(buf, (int)count, MPI_FLOAT, rank + 1, 11, comm));
            f->new_rank = -1;
        } else {
            float *tmp;
            DL_TRY(dl_coll_scratch(count, &tmp));
            DL_MPI_TRY(MPI_Recv(tmp, (int)count, MPI_FLOAT, rank - 1, 11, comm, MPI_STATUS_IGNORE));
            dl_coll_add(buf, tmp, count);
            f->new_rank = rank / 2;
        }
    } else {
        f->new_rank = rank - f->rem;
    }
    return DL_OK;
}

dl_status dl_coll_fold_out(float *buf, size_t count, MPI_Comm comm, const dl_coll_fold *f) {
    if (f->rank >= 2 * f->rem) return DL_OK;
    if (f->rank % 2 == 1)
        DL_MPI_TRY(MPI_Send(buf, (int)count, MPI_FLOAT, f->rank - 1, 12, comm));
    else
        DL_MPI_TRY(MPI_Recv(buf, (int)count, MPI_FLOAT, f->rank + 1, 12, comm, MPI_STATUS_IGNORE));
    return DL_OK;
}

int dl_coll_fold_real(const dl_coll_fold *f, int new_rank) {
    return new_rank < f->rem ? 2 * new_rank + 1 : new_rank + f->rem;
}

/* ------------------------------------------------------------------ naive */

/* Rank 0 receives every other rank's vector in rank order and adds it; then it sends the sum
 * to each rank in turn. 2(p-1) messages of the whole vector through one rank: rank 0's link
 * carries everything, which is what the better algorithms avoid. */
static dl_status allreduce_naive(const float *send, float *recv, size_t count, MPI_Comm comm) {
    int rank, ranks;
    DL_TRY(dl_coll_begin(send, recv, count, comm, &rank, &ranks));
    if (ranks == 1 || count == 0) return DL_OK;
    if (rank == 0) {
        float *tmp;
        DL_TRY(dl_coll_scratch(count, &tmp));
        for (int r = 1; r < ranks; r++) {
            DL_MPI_TRY(MPI_Recv(tmp, (int)count, MPI_FLOAT, r, 21, comm, MPI_STATUS_IGNORE));
            for (size_t i = 0; i < count; i++) recv[i] += tmp[i]; /* (..(x0 + x1) + x2) + .. */
        }
        for (int r = 1; r < ranks; r++) DL_MPI_TRY(MPI_Send(recv, (int)count, MPI_FLOAT, r, 22, comm));
    } else {
        DL_MPI_TRY(MPI_Send(recv, (int)count, MPI_FLOAT, 0, 21, comm));
        DL_MPI_TRY(MPI_Recv(recv, (int)count, MPI_FLOAT, 0, 22, comm, MPI_STATUS_IGNORE));
    }
    return DL_OK;
}

/* ------------------------------------------------------------------ binomial tree */

/* Reduce: in round k (mask = 2^k) a rank whose bit k is set sends its partial sum to
 * rank - mask and drops out; the others receive from rank + mask. lg p rounds, rank 0 ends
 * with the sum. Broadcast: the same tree backwards. Each round moves the whole vector, so
 * the time grows with lg p · n — good for short vectors, poor for long ones. */
static dl_status allreduce_tree(const float *send, float *recv, size_t count, MPI_Comm comm) {
    int rank, ranks;
    DL_TRY(dl_coll_begin(send, recv, count, comm, &rank, &ranks));
    if (ranks == 1 || count == 0) return DL_OK;
    float *tmp;
    DL_TRY(dl_coll_scratch(count, &tmp));
    for (int mask = 1; mask < ranks; mask <<= 1) {
        if (rank & mask) {
            DL_MPI_TRY(MPI_Send(recv, (int)count, MPI_FLOAT, rank - mask, 31, comm));
            break;
        }
        if (rank + mask < ranks) {
            DL_MPI_TRY(MPI_Recv(tmp, (int)count, MPI_FLOAT, rank + mask, 31, comm, MPI_STATUS_IGNORE));
            for (size_t i = 0; i < count; i++) recv[i] += tmp[i];
        }
    }
    int top = 1;
    while (top < ranks) top <<= 1;
    if (rank != 0) {
        const int low_bit = rank & -rank;
        DL_MPI_TRY(MPI_Recv(recv, (int)count, MPI_FLOAT, rank - low_bit, 32, comm, MPI_STATUS_IGNORE));
        top = low_bit;
    }
    for (int mask = top >> 1; mask > 0; mask >>= 1)
        if (rank + mask < ranks) DL_MPI_TRY(MPI_Send(recv, (int)count, MPI_FLOAT, rank + mask, 32, comm));
    return DL_OK;
}

/* ------------------------------------------------------------------ MPI_Allreduce */

static dl_status allreduce_mpi(const float *send, float *recv, size_t count, MPI_Comm comm) {
    if (count > (size_t)INT_MAX) return DL_FAIL(DL_ERR_ARG, "count %zu exceeds MPI's int counts", count);
    if (count > 0 && (!send || !recv)) return DL_FAIL(DL_ERR_ARG, "NULL buffer for %zu elements", count);
    DL_MPI_TRY(MPI_Allreduce(send == recv ? MPI_IN_PLACE : send, recv, (int)count, MPI_FLOAT,
                             MPI_SUM, comm));
    return DL_OK;
}

/* ------------------------------------------------------------------ registry */

static int ceil_log2(int p) {
    int k = 0;
    while ((1 << k) < p) k++;
    return k;
}
static int depth_linear(int p) { return p - 1; }
static int depth_tree(int p) { return ceil_log2(p); }
/* lg pof2 rounds of pairwise sums, plus one for the fold of the extra ranks. */
static int depth_folded(int p) {
    int pof2 = 1;
    while (pof2 * 2 <= p) pof2 *= 2;
    return ceil_log2(pof2) + (p > pof2 ? 1 : 0);
}

static const dl_allreduce_variant variants[] = {
    {"naive", "reduce to rank 0 in rank order, then send the sum to every rank", depth_linear,
     allreduce_naive},
    {"tree", "binomial-tree reduce to rank 0, then binomial-tree broadcast", depth_tree,
     allreduce_tree},
    {"rdoubling", "recursive doubling: lg p exchanges of the whole vector", depth_folded,
     dl_allreduce_rdoubling},
    {"rabenseifner", "reduce-scatter by recursive halving, allgather by recursive doubling",
     depth_folded, dl_allreduce_rabenseifner},
    {"ring", "ring reduce-scatter then allgather, pipelined in pieces, non-blocking",
     depth_linear, dl_allreduce_ring},
    /* Open MPI's order is its own; bound it as if linear, the worst case. */
    {"mpi", "MPI_Allreduce (the library's own choice of algorithm)", depth_linear, allreduce_mpi},
};

const dl_allreduce_variant *dl_allreduce_variants(int *n) {
    *n = (int)(sizeof variants / sizeof variants[0]);
    return variants;
}

const dl_allreduce_variant *dl_allreduce_find(const char *name) {
    int n;
    const dl_allreduce_variant *v = dl_allreduce_variants(&n);
    for (int i = 0; i < n; i++)
        if (name && strcmp(v[i].name, name) == 0) return &v[i];
    return NULL;
}
