#!/usr/bin/env bash
# check_handout.sh — the course tooling end to end on lesson 2: the handout has its solution
# blocks replaced by stubs and no hidden tests, it compiles, its tests fail, and grading it
# gives no speed points; grading this tree (the reference solution) gives full correctness
# marks and the speed points of code that is as fast as itself (>= 24 of 30: the timing is
# interleaved, and a loaded machine may push one ratio a little past 1.2).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
fail() { echo "check_handout: $*"; exit 1; }
num() { grep -oE "\"$1\": [0-9.]+" "$2" | head -n 1 | grep -oE "[0-9.]+$"; }

scripts/handout --out "$t/handout" > "$t/handout.log" 2>&1 || fail "scripts/handout failed: $(tail -n 5 "$t/handout.log")"
grep -q 'EXERCISE: your code here' "$t/handout/kernels/ops/softmax/softmax_simd.h" || fail "no stub in the handout"
grep -rqE '/\* (BEGIN SOLUTION|END SOLUTION \*/)' "$t/handout/kernels" "$t/handout/lessons" && fail "a solution marker survived in the handout"
[ -e "$t/handout/grading/hidden" ] && fail "the hidden tests were shipped"

GRADE_REF_BUILD=$BUILD GRADE_JSON=$t/handout.json scripts/grade 2 "$t/handout" > "$t/grade-handout.log" 2>&1 \
  || fail "grading the handout did not run: $(tail -n 5 "$t/grade-handout.log")"
grep -q '"compiled": true' "$t/handout.json" || fail "the handout does not compile: $(head -n 20 "$t/grade-handout.log")"
[ "$(num failed "$t/handout.json")" -gt 0 ] || fail "the handout's tests passed with the stubs in"
[ "$(num speed_points "$t/handout.json")" = "0" ] || fail "the handout got speed points"

GRADE_REF_BUILD=$BUILD GRADE_JSON=$t/ref.json scripts/grade 2 > "$t/grade-ref.log" 2>&1 \
  || fail "grading the reference did not run: $(tail -n 5 "$t/grade-ref.log")"
[ "$(num correctness_points "$t/ref.json")" = "70.00" ] || fail "the reference lost correctness points: $(tail -n 12 "$t/grade-ref.log")"
awk -v s="$(num speed_points "$t/ref.json")" 'BEGIN { exit !(s >= 24) }' || fail "the reference is slow against itself: $(tail -n 6 "$t/grade-ref.log")"
echo "check_handout: handout $(num score "$t/handout.json")/100, reference $(num score "$t/ref.json")/100"
