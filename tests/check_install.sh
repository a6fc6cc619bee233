#!/usr/bin/env bash
# check_install.sh — another C program can build against an installed libdlab through
# pkg-config (dlab.pc) and get the right answer from the best matmul variant, and one that
# uses only the harness builds through dlbench.pc and times a loop.
set -eu
BUILD=${BUILD:-build}
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
make -s --no-print-directory BUILD="$BUILD" DLAB_NO_SETUP=1 install PREFIX="$prefix" >/dev/null
cat >"$prefix/prog.c" <<'C'
#include <dlab/dlab.h>
#include <stdio.h>
int main(void) {
    float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 0, 0, 1, 1, 1}, C[4];
    dl_matmul_args a = dl_matmul_dense(2, 2, 3, A, false, B, false, C, false);
    if (dl_matmul_run(dl_matmul_best(DL_DEVICE_CPU), &a) != DL_OK) {
        fprintf(stderr, "%s\n", dl_last_error());
        return 1;
    }
    printf("%g %g %g %g\n", C[0], C[1], C[2], C[3]);
    return 0;
}
C
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
# shellcheck disable=SC2046
cc -std=c11 "$prefix/prog.c" $(pkg-config --cflags --libs dlab) -o "$prefix/prog"
out=$("$prefix/prog")
echo "installed-library program printed: $out"
[ "$out" = "4 5 10 11" ]

# The harness alone, through dlbench.pc: time a loop and check the statistics are sane.
cat >"$prefix/bench.c" <<'C'
#include <dlbench.h>
#include <stdio.h>
static volatile double sink;
static void work(void *ctx) {
    (void)ctx;
    double s = 0;
    for (int i = 0; i < 1000; i++) s += i * 0.5;
    sink = s;
}
int main(void) {
    dlb_result r;
    if (dlb_measure(work, NULL, NULL, &r) != 0) {
        fprintf(stderr, "%s\n", dlb_error());
        return 1;
    }
    printf("%s\n", r.time.median > 0 && r.time.p10 <= r.time.median && r.time.median <= r.time.p90 ? "sane" : "insane");
    return 0;
}
C
# shellcheck disable=SC2046
cc -std=c11 "$prefix/bench.c" $(pkg-config --cflags --libs dlbench) -o "$prefix/bench"
out=$(DLB_QUICK=1 "$prefix/bench")
echo "installed-harness program printed: $out"
[ "$out" = "sane" ]
