#!/usr/bin/env bash
# check_regress.sh — scripts/regress on made-up summaries: each verdict, the exit status, and
# bad input (a missing summary, a metric the run lost, a value that is not a number, bad usage).
set -u
cd "$(dirname "$0")/.."
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
fail() { echo "check_regress: $*"; exit 1; }
mkdir -p "$t/b/lesson" "$t/r/lesson"
cat > "$t/b/rules.csv" <<'R'
pattern,rule,tolerance
*_params,exact,0
*_acc,band,0.01
*speedup*,higher,0.15
*err*,lower,9
*_ms,info,
R
printf 'metric,value,unit\nm_params,100,count\nm_acc,0.90,fraction\nx_speedup,2.0,x\nmax_err,1e-7,ratio\nstep_ms,5,ms\n' > "$t/b/lesson/summary.csv"

# 1. identical run: exit 0, every judged metric ok
cp "$t/b/lesson/summary.csv" "$t/r/lesson/summary.csv"
scripts/regress --baseline "$t/b" --results "$t/r" > "$t/out" || fail "an identical run failed: $(cat "$t/out")"
grep -q 'm_params .* ok$' "$t/out" || fail "exact metric not ok"
grep -q 'step_ms .* info$' "$t/out" || fail "info metric not info"

# 2. faster and within bands: improved, exit 0
printf 'metric,value,unit\nm_params,100,count\nm_acc,0.905,fraction\nx_speedup,3.0,x\nmax_err,5e-7,ratio\nstep_ms,9,ms\n' > "$t/r/lesson/summary.csv"
scripts/regress --baseline "$t/b" --results "$t/r" > "$t/out" || fail "an improvement failed"
grep -q 'x_speedup .* improved$' "$t/out" || fail "no 'improved' verdict"

# 3. each failure kind: exit 1 and its verdict
printf 'metric,value,unit\nm_params,101,count\nm_acc,0.80,fraction\nx_speedup,1.0,x\nmax_err,1e-5,ratio\nnew_one,1,x\n' > "$t/r/lesson/summary.csv"
if scripts/regress --baseline "$t/b" --results "$t/r" > "$t/out"; then fail "regressions passed"; fi
for want in 'm_params .* CHANGED' 'm_acc .* REGRESSION' 'x_speedup .* REGRESSION' 'max_err .* REGRESSION' 'step_ms .* MISSING' 'new_one .* new'; do
  grep -q "$want" "$t/out" || fail "expected /$want/ in: $(cat "$t/out")"
done

# 4. --deterministic judges only exact and band rules
printf 'metric,value,unit\nm_params,100,count\nm_acc,0.90,fraction\nx_speedup,1.0,x\nmax_err,1e-5,ratio\nstep_ms,5,ms\n' > "$t/r/lesson/summary.csv"
scripts/regress --deterministic --baseline "$t/b" --results "$t/r" > "$t/out" || fail "--deterministic judged a speedup: $(cat "$t/out")"

# 5. not a number, no summary, bad usage
printf 'metric,value,unit\nm_params,abc,count\nm_acc,0.9,fraction\nx_speedup,2,x\nmax_err,1e-7,ratio\nstep_ms,5,ms\n' > "$t/r/lesson/summary.csv"
if scripts/regress --baseline "$t/b" --results "$t/r" > "$t/out"; then fail "a non-number passed"; fi
grep -q 'm_params .* BAD' "$t/out" || fail "no BAD verdict for a non-number"
rm "$t/r/lesson/summary.csv"
if scripts/regress --baseline "$t/b" --results "$t/r" lesson > "$t/out"; then fail "a missing summary passed"; fi
grep -q 'MISSING (no run)' "$t/out" || fail "no MISSING verdict for a missing summary"
scripts/regress --bogus > /dev/null 2>&1; [ $? -eq 2 ] || fail "a bad option did not exit 2"
scripts/regress --baseline "$t/nowhere" > /dev/null 2>&1; [ $? -eq 2 ] || fail "a missing baseline folder did not exit 2"
echo "check_regress: ok"
