/* collective_ring.c — the ring allreduce (Baidu, Horovod; Patarasuk & Yuan 2009).
 *
 * Design note. The vector is split into p blocks (dl_block_offset: sizes differ by at most
 * one element). Rank r sends only to right = r+1 and receives only from left = r−1 (mod p).
 *
 *   Phase 1, reduce-scatter, steps s = 0 .. p−2: rank r sends block (r − s) and receives
 *   block (r − s − 1), which it adds into its own copy.
 *   Phase 2, allgather, steps s = 0 .. p−2: rank r sends block (r + 1 − s) and receives
 *   block (r − s), which it stores.
 *
 * Invariants:
 *   1. After step s of phase 1, block (r − s − 1) on rank r holds the sum over the s + 2
 *      ranks r − s − 1 .. r; so after p − 1 steps block (r + 1) holds the sum over all.
 *   2. Each element is summed once, in one fixed order around the ring; phase 2 only
 *      copies. Every rank ends bitwise identical.
 *   3. Every rank sends 2(p−1) blocks, 2(p−1)/p·n elements — the lower bound for allreduce,
 *      whatever p is: the ring is bandwidth-optimal; its cost is 2(p−1) latencies.
 *   4. Messages from left carry one tag per phase; MPI delivers same-source, same-tag
 *      messages in the order they were sent, so step s's pieces never meet step s+1's
 *      receives.
 *
 * Pipelining. A block larger than DL_RING_PIECE_ELEMENTS goes in pieces. All receives of a
 * step are posted at once; as piece k arrives it is added (phase 1) and at once forwarded
 * to the right (it is what the next step sends), while pieces k+1.. are still in flight.
 * So the reduction and the next hop overlap the transfer, and the ring's steps overlap too.
 *
 *   state change                                    where
 *   block received piece by piece (into scratch)    ring_phase: MPI_Irecv
 *   piece reduced into own copy                     ring_phase: dl_coll_add after MPI_Wait
 *   piece forwarded (next step's send)              ring_phase: MPI_Isend after the add
 *   previous step's sends retired                   ring_phase: MPI_Waitall at step end
 *
 * Leaves out: bidirectional rings, multiple rings, topology awareness (NCCL's business). */
#include <stdlib.h>

#include "collective_internal.h"

typedef struct ring_state {
    float *buf;      /* the vector being reduced, count elements */
    float *scratch;  /* one block, where phase 1 receives before adding */
    size_t count;
    int rank, ranks, left, right;
    MPI_Comm comm;
    MPI_Request *recv_req, *send_req[2]; /* one per piece of the largest block */
    int n_send[2];
} ring_state;

static int mod(int a, int p) { return ((a % p) + p) % p; }

static int pieces_of(size_t n) {
    return (int)((n + DL_RING_PIECE_ELEMENTS - 1) / DL_RING_PIECE_ELEMENTS);
}

/* Send the pieces of block b (from buf) that are ready: all of them. */
static dl_status send_block(ring_state *st, int b, int set, int tag) {
    const size_t off = dl_block_offset(st->count, st->ranks, b), n = dl_block_count(st->count, st->ranks, b);
    const int pieces = pieces_of(n);
    for (int k = 0; k < pieces; k++) {
        const size_t po = (size_t)k * DL_RING_PIECE_ELEMENTS;
        const size_t pn = n - po < DL_RING_PIECE_ELEMENTS ? n - po : DL_RING_PIECE_ELEMENTS;
        DL_MPI_TRY(MPI_Isend(st->buf + off + po, (int)pn, MPI_FLOAT, st->right, tag, st->comm,
                             &st->send_req[set][st->n_send[set]++]));
    }
    return DL_OK;
}

/* One phase: p−1 steps; `reduce` adds what arrives (phase 1) or stores it (phase 2).
 * first_send is the block rank r sends at step 0; at step s it receives block first_send−s−1. */
static dl_status ring_phase(ring_state *st, int first_send, int reduce, int tag) {
    const int p = st->ranks;
    int cur = 0;
    st->n_send[0] = st->n_send[1] = 0;
    DL_TRY(send_block(st, first_send, cur, tag));
    for (int s = 0; s <= p - 2; s++) {
        const int rb = mod(first_send - s - 1, p), next = 1 - cur;
        const size_t off = dl_block_offset(st->count, p, rb), n = dl_block_count(st->count, p, rb);
        float *land = reduce ? st->scratch : st->buf + off;
        const int pieces = pieces_of(n);
        for (int k = 0; k < pieces; k++) {
            const size_t po = (size_t)k * DL_RING_PIECE_ELEMENTS;
            const size_t pn = n - po < DL_RING_PIECE_ELEMENTS ? n - po : DL_RING_PIECE_ELEMENTS;
            DL_MPI_TRY(MPI_Irecv(land + po, (int)pn, MPI_FLOAT, st->left, tag, st->comm,
                                 &st->recv_req[k]));
        }
        for (int k = 0; k < pieces; k++) {
            const size_t po = (size_t)k * DL_RING_PIECE_ELEMENTS;
            const size_t pn = n - po < DL_RING_PIECE_ELEMENTS ? n - po : DL_RING_PIECE_ELEMENTS;
            DL_MPI_TRY(MPI_Wait(&st->recv_req[k], MPI_STATUS_IGNORE));
            if (reduce) dl_coll_add(st->buf + off + po, st->scratch + po, pn);
            if (s < p - 2) /* block rb is what the next step sends: forward this piece now */
                DL_MPI_TRY(MPI_Isend(st->buf + off + po, (int)pn, MPI_FLOAT, st->right, tag,
                                     st->comm, &st->send_req[next][st->n_send[next]++]));
        }
        DL_MPI_TRY(MPI_Waitall(st->n_send[cur], st->send_req[cur], MPI_STATUSES_IGNORE));
        st->n_send[cur] = 0;
        cur = next;
    }
    DL_MPI_TRY(MPI_Waitall(st->n_send[cur], st->send_req[cur], MPI_STATUSES_IGNORE));
    return DL_OK;
}

dl_status dl_allreduce_ring(const float *send, float *recv, size_t count, MPI_Comm comm) {
    ring_state st = {.buf = recv, .count = count, .comm = comm};
    DL_TRY(dl_coll_begin(send, recv, count, comm, &st.rank, &st.ranks));
    if (st.ranks == 1 || count == 0) return DL_OK;
    st.left = mod(st.rank - 1, st.ranks);
    st.right = mod(st.rank + 1, st.ranks);
    const size_t block_max = dl_block_count(count, st.ranks, 0);
    DL_TRY(dl_coll_scratch(block_max, &st.scratch));
    const int pieces = pieces_of(block_max) + 1;
    MPI_Request *req = malloc(3 * (size_t)pieces * sizeof *req);
    if (!req) return DL_FAIL(DL_ERR_ALLOC, "%d request handles", 3 * pieces);
    st.recv_req = req;
    st.send_req[0] = req + pieces;
    st.send_req[1] = req + 2 * pieces;
    dl_status s = ring_phase(&st, st.rank, 1, 61);               /* reduce-scatter */
    if (s == DL_OK) s = ring_phase(&st, mod(st.rank + 1, st.ranks), 0, 62); /* allgather */
    free(req);
    return s;
}
