/* collective_halving.c — recursive doubling and Rabenseifner's allreduce (Thakur,
 * Rabenseifner & Gropp 2005), both on a power-of-two set of ranks after the fold
 * (collective.c) has folded the extra ranks of a non-power-of-two count into partners.
 *
 *   recursive doubling   lg p rounds; in each, partners (new rank ^ mask) swap their whole
 *                        vectors and both add: lg p·α + n·lg p·(β + γ). Short vectors.
 *   Rabenseifner         reduce-scatter by recursive halving (each round keeps half of the
 *                        window and sends the other half) and allgather by recursive
 *                        doubling: 2 lg p·α + 2n(p−1)/p·β + n(p−1)/p·γ. Long vectors.
 *
 * Leaves out: pipelining inside a round (each round is one Sendrecv). */
#include "collective_internal.h"

dl_status dl_allreduce_rdoubling(const float *send, float *recv, size_t count, MPI_Comm comm) {
    int rank, ranks;
    DL_TRY(dl_coll_begin(send, recv, count, comm, &rank, &ranks));
    if (ranks == 1 || count == 0) return DL_OK;
    dl_coll_fold f;
    DL_TRY(dl_coll_fold_in(recv, count, comm, rank, ranks, &f));
    if (f.new_rank >= 0) {
        float *tmp;
        DL_TRY(dl_coll_scratch(count, &tmp));
        for (int mask = 1; mask < f.pof2; mask <<= 1) {
            const int partner = dl_coll_fold_real(&f, f.new_rank ^ mask);
            DL_MPI_TRY(MPI_Sendrecv(recv, (int)count, MPI_FLOAT, partner, 41, tmp, (int)count,
                                    MPI_FLOAT, partner, 41, comm, MPI_STATUS_IGNORE));
            /* Both partners compute the same sum (a + b == b + a in IEEE arithmetic), so all
             * ranks stay bitwise identical. */
            dl_coll_add(recv, tmp, count);
        }
    }
    return dl_coll_fold_out(recv, count, comm, &f);
}

dl_status dl_allreduce_rabenseifner(const float *send, float *recv, size_t count, MPI_Comm comm) {
    int rank, ranks;
    DL_TRY(dl_coll_begin(send, recv, count, comm, &rank, &ranks));
    if (ranks == 1 || count == 0) return DL_OK;
    dl_coll_fold f;
    DL_TRY(dl_coll_fold_in(recv, count, comm, rank, ranks, &f));
    if (f.new_rank >= 0) {
        const int p = f.pof2, me = f.new_rank;
        float *tmp;
        DL_TRY(dl_coll_scratch(count / 2 + (size_t)p, &tmp));
        /* Reduce-scatter. The window [lo, hi) of blocks this rank is responsible for halves
         * each round; keeping the upper half when the round's bit of the new rank is set
         * leaves rank `me` with block `me`, fully reduced. */
        int lo = 0, hi = p;
        for (int mask = p / 2; mask > 0; mask >>= 1) {
            const int partner = dl_coll_fold_real(&f, me ^ mask), mid = lo + (hi - lo) / 2;
            const int keep_lo = (me & mask) ? mid : lo, keep_hi = (me & mask) ? hi : mid;
            const int give_lo = (me & mask) ? lo : mid, give_hi = (me & mask) ? mid : hi;
            const size_t keep_off = dl_block_offset(count, p, keep_lo);
            const size_t keep_n = dl_block_offset(count, p, keep_hi) - keep_off;
            const size_t give_off = dl_block_offset(count, p, give_lo);
            const size_t give_n = dl_block_offset(count, p, give_hi) - give_off;
            DL_MPI_TRY(MPI_Sendrecv(recv + give_off, (int)give_n, MPI_FLOAT, partner, 51, tmp,
                                    (int)keep_n, MPI_FLOAT, partner, 51, comm, MPI_STATUS_IGNORE));
            dl_coll_add(recv + keep_off, tmp, keep_n);
            lo = keep_lo;
            hi = keep_hi;
        }
        /* Allgather: the aligned group of `mask` blocks this rank holds doubles each round. */
        for (int mask = 1; mask < p; mask <<= 1) {
            const int partner = dl_coll_fold_real(&f, me ^ mask);
            const int mine = me & ~(mask - 1), theirs = (me ^ mask) & ~(mask - 1);
            const size_t my_off = dl_block_offset(count, p, mine);
            const size_t my_n = dl_block_offset(count, p, mine + mask) - my_off;
            const size_t their_off = dl_block_offset(count, p, theirs);
            const size_t their_n = dl_block_offset(count, p, theirs + mask) - their_off;
            DL_MPI_TRY(MPI_Sendrecv(recv + my_off, (int)my_n, MPI_FLOAT, partner, 52,
                                    recv + their_off, (int)their_n, MPI_FLOAT, partner, 52, comm,
                                    MPI_STATUS_IGNORE));
        }
    }
    return dl_coll_fold_out(recv, count, comm, &f);
}
