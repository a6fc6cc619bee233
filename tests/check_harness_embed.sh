#!/usr/bin/env bash
# check_harness_embed.sh — the embedding example in harness/README.md is a real program:
# extract its ```c block, compile it against dlbench.h and libdlbench.a alone (nothing from
# kernels/), run it with --quick, and check its table and results directory.
# Run from the repository root; BUILD names the build directory (default: build).
set -eu
BUILD=${BUILD:-build}
lib="$BUILD/lib/libdlbench.a"
if [ ! -f "$lib" ]; then
  make -s --no-print-directory BUILD="$BUILD" DLAB_NO_SETUP=1 "$lib" >/dev/null
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The first ```c ... ``` block of the README.
awk '/^```c$/ {inside = 1; next} inside && /^```$/ {exit} inside {print}' harness/README.md >"$tmp/example.c"
[ -s "$tmp/example.c" ] || { echo "no \`\`\`c block in harness/README.md"; exit 1; }

# A library built with nvcc holds the CUDA timer and needs the CUDA runtime.
cuda_libs=()
if ar t "$lib" | grep -q '\.cu\.o$'; then
  nvcc_path=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
  cuda_lib_dir=$(dirname "$(dirname "$nvcc_path")")/lib64
  [ -d "$cuda_lib_dir" ] || cuda_lib_dir=/usr/local/cuda/lib64
  cuda_libs=(-L"$cuda_lib_dir" -Wl,-rpath,"$cuda_lib_dir" -lcudart -lstdc++)
fi
# A library built with SANITIZE=1 needs the sanitizer runtimes at link time too.
san_flags=()
if nm "$lib" 2>/dev/null | grep -q '__asan_'; then
  san_flags=(-fsanitize=address,undefined -fno-omit-frame-pointer)
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
fi
cc -std=c11 -Wall -Wextra -Werror -O2 -fopenmp "${san_flags[@]}" "$tmp/example.c" -Iharness/include \
   "$lib" "${cuda_libs[@]}" -lm -lpthread -o "$tmp/example"

fail() { echo "FAIL: $*"; exit 1; }
out="$tmp/results"
"$tmp/example" --quick --out "$out" >"$tmp/stdout" 2>"$tmp/stderr" || { cat "$tmp/stderr"; fail "example exited $?"; }
cat "$tmp/stdout"
grep -qE '^ *n +time_us +mad_pct +gbps' "$tmp/stdout" || fail "no table header on stdout"
[ "$(grep -cE '^ *1048576 ' "$tmp/stdout")" -eq 1 ] || fail "expected 1 table row"
[ "$(head -n 1 "$out/summary.csv")" = "metric,value,unit" ] || fail "summary.csv header"
grep -qE '^sum_gbps_1m,[0-9.e+-]+,gbps$' "$out/summary.csv" || fail "summary.csv has no sum_gbps_1m row"
grep -q '"complete": true' "$out/run.json" || fail "run.json is not complete"
grep -q '"name": "sum/1048576"' "$out/benchmarks.json" || fail "benchmarks.json lacks sum/1048576"
grep -q '"run_type": "iteration"' "$out/benchmarks.json" || fail "benchmarks.json lacks run_type"
[ "$(wc -l <"$out/sum.csv")" -eq 2 ] || fail "sum.csv should have a header and 1 row"
ls "$out"/*.tmp >/dev/null 2>&1 && fail "temporary files left behind"

# The CLI contract: --help exits 0, a bad option exits 2 with one line and the usage.
"$tmp/example" --help >/dev/null || fail "--help did not exit 0"
rc=0; "$tmp/example" --threads 0 >/dev/null 2>"$tmp/err" || rc=$?
[ "$rc" -eq 2 ] || fail "--threads 0 exited $rc, want 2"
grep -q "^example: --threads must be an integer" "$tmp/err" || fail "--threads 0 message: $(head -n 1 "$tmp/err")"
rc=0; "$tmp/example" --quick --out /proc/dlb-cannot-write >/dev/null 2>"$tmp/err" || rc=$?
[ "$rc" -ne 0 ] && [ -s "$tmp/err" ] || fail "an unwritable --out did not fail with a message"
echo "embedding example: compiled, ran, wrote a complete run"
