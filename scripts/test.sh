#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run): set-up, then four stages,
# each with its own build directory, and a closing "N passed, N failed".
#
#   suite     build/: every test (meson test)
#   asan      build-asan/: every test again, built with AddressSanitizer and
#             UndefinedBehaviorSanitizer (scripts/sanitize.sh)
#   valgrind  build/: the element tests under valgrind memcheck, no definite
#             leak allowed (scripts/valgrind.sh)
#   fuzz      build-fuzz/: every libFuzzer target for OTC_FUZZ_SECONDS
#             (default 20) from its seed corpus, after its crash
#             reproducers (scripts/fuzz.sh); runs beside valgrind (both use
#             one core per process and no wall-clock deadline)
#
#   scripts/test.sh                     all four stages (about 15 minutes
#                                       on 2 cores, figures in
#                                       docs/reliability.md)
#   OTC_TEST_STAGES="suite fuzz" scripts/test.sh      some of them
#   scripts/test.sh router_signalling -v   arguments: the suite stage only,
#                                          arguments to meson test
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
scripts/setup.sh || exit 1

stages=${OTC_TEST_STAGES:-suite asan valgrind fuzz}
(($#)) && stages=suite
fuzz_seconds=${OTC_FUZZ_SECONDS:-20}
declare -A result
t_start=$SECONDS

# "  NAME  RESULT  N checks, N failed" per test of a meson test log, and the
# totals as "passed failed" on the last line.
count_log () {
  python3 - "$1" <<'PY' || echo "0 1"
import json, re, sys
passed = failed = 0

# what a failed test said: its failed checks and GLib warnings (so that
# the end of a CI log says what failed, not only where)
def why(t):
    out = (t.get("stdout") or "") + "\n" + (t.get("stderr") or "")
    lines = [l for l in out.splitlines()
             if re.search(r":[FE]:|WARNING \*\*|CRITICAL \*\*|ERROR:|"
                          r"^\w*Error\b|^Error:|requires Node", l)]
    for l in lines[:6]:
        print(f"      {l[:300]}")
try:
    for line in open(sys.argv[1]):
        t = json.loads(line)
        m = None
        for l in (t.get("stdout") or "").splitlines():
            m = re.search(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)", l) or m
        if m:
            n, f, e = map(int, m.groups())
            passed += n - f - e
            failed += f + e
            if t["result"] != "OK" and f + e == 0:
                failed += 1   # crashed or timed out after its checks
            print(f"  {t['name']:28} {t['result']:8} {n} checks, {f + e} failed")
            if f + e or t["result"] != "OK":
                why(t)
        else:
            ok = t["result"] in ("OK", "EXPECTEDFAIL", "SKIP")
            passed += ok
            failed += not ok
            print(f"  {t['name']:28} {t['result']}")
            if not ok:
                why(t)
except FileNotFoundError:
    failed += 1
print(passed, failed)
PY
}

passed=0
failed=0
# Adds a stage's meson log to the totals, printing its lines.
tally () {
  local out last
  out=$(count_log "$1")
  last=$(tail -n 1 <<< "$out")
  head -n -1 <<< "$out"
  passed=$((passed + ${last% *}))
  failed=$((failed + ${last#* }))
}

stage_header () {
  echo
  echo "=== otc: $1 ($(((SECONDS - t_start) / 60)) min $(((SECONDS - t_start) % 60)) s in)"
}

if [[ " $stages " == *" suite "* ]]; then
  stage_header "suite: every test"
  meson test -C build --print-errorlogs --num-processes 1 "$@"
  result[suite]=$?
fi

if [[ " $stages " == *" asan "* ]]; then
  stage_header "asan: every test under AddressSanitizer + UBSan"
  scripts/sanitize.sh
  result[asan]=$?
fi

if [[ " $stages " == *" valgrind "* || " $stages " == *" fuzz "* ]]; then
  stage_header "valgrind and fuzz"
  if [[ " $stages " == *" fuzz "* ]]; then
    # the fuzz build first, alone: compiling beside memcheck would only
    # slow both
    FUZZ_BUILD_ONLY=1 scripts/fuzz.sh "$fuzz_seconds" || result[fuzz]=1
  fi
  pids=()
  if [[ " $stages " == *" valgrind "* ]]; then
    scripts/valgrind.sh &
    pids+=("valgrind:$!")
  fi
  if [[ " $stages " == *" fuzz "* && -z ${result[fuzz]:-} ]]; then
    scripts/fuzz.sh "$fuzz_seconds" &
    pids+=("fuzz:$!")
  fi
  for p in "${pids[@]}"; do
    wait "${p#*:}"
    result[${p%%:*}]=$?
  done
fi

echo
echo "=== otc: summary ($(((SECONDS - t_start) / 60)) min $(((SECONDS - t_start) % 60)) s)"
status=0
[ -n "${result[suite]:-}" ] && { echo "suite (build/):"; tally build/meson-logs/testlog.json; }
[ -n "${result[asan]:-}" ] && { echo "asan (build-asan/):"; tally build-asan/meson-logs/testlog.json; }
if [ -n "${result[valgrind]:-}" ]; then
  echo "valgrind (build/, memcheck):"
  for f in build/meson-logs/memcheck-*-valgrind.sh.json; do
    [ -f "$f" ] && tally "$f"
  done
fi
if [ -n "${result[fuzz]:-}" ]; then
  echo "fuzz ($fuzz_seconds s per target): exit ${result[fuzz]}"
  if [ "${result[fuzz]}" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
fi
for s in "${!result[@]}"; do
  [ "${result[$s]}" = 0 ] || { echo "stage $s failed (exit ${result[$s]})"; status=1; }
done
echo "otc: $passed passed, $failed failed"
exit $status
