#!/usr/bin/env bash
# The element tests (otcencrypt, otcdecrypt: tests/check/elements) under
# valgrind memcheck, from the normal build (build/). Fails on any memcheck
# error (invalid read or write, use of uninitialised memory, bad free...)
# and on any definitely lost block; possibly lost and still reachable
# memory is not an error (GLib and GStreamer keep type data and caches
# until exit). Suppressions: tests/valgrind/otc.supp (one-time allocations
# of GLib and the dynamic loader, each explained there) and GLib's own
# glib.supp.
#
# Left out: the test cases that wait for a key derivation of their own
# against a wall-clock deadline (10-20 s; listed below, per program).
# Under memcheck one PBKDF2 derivation (600,000 iterations) takes 12-15 s
# of CPU, more on a busy machine, so they cannot pass reliably there; they
# run in the normal and the sanitizer suites. (Test cases that derive the
# key first with otc_secret_key_derive_shared, as the hostile-input ones
# do, run here.) The pipeline test (pipelines_e2ee) takes about 10 minutes
# under memcheck: name it in OTC_VALGRIND_TESTS to run it too.
#
#   OTC_VALGRIND_BUILD      the build directory (default build)
#   OTC_VALGRIND_TESTS      the meson tests (default: the two element tests)
#   OTC_VALGRIND_TIMEOUT_X  meson timeout multiplier (default 10)
#   OTC_VALGRIND_JOBS       test programs run at once (default: nproc)
#   OTC_VALGRIND_IGNORE     test cases left out, instead of the lists below
# Arguments go to each `meson test`. The logs are
# $OTC_VALGRIND_BUILD/meson-logs/memcheck-TEST-valgrind.sh.{txt,json}.
# Needs what scripts/setup.sh installs, and the build (run it first).
set -uo pipefail
self=$(readlink -f "$0")
root=$(dirname "$(dirname "$self")")

if [ "${1:-}" = --wrap ]; then
  # meson test's wrapper: valgrind around one test program
  shift
  case $(basename "$1") in
    elements_otcencrypt)
      ignore=test_missing_secret,test_secret_change_while_playing ;;
    elements_otcdecrypt)
      ignore=test_wrong_then_right_secret,test_keyframe_request_repeats,test_held_frames_recover,test_replay_flood,test_suppressed_mismatch_reported_later ;;
    *) ignore= ;;
  esac
  export GST_CHECKS_IGNORE=${OTC_VALGRIND_IGNORE-$ignore}
  [ -n "$GST_CHECKS_IGNORE" ] && echo "valgrind.sh: not run: $GST_CHECKS_IGNORE"
  supp=(--suppressions="$root/tests/valgrind/otc.supp")
  glib_supp=/usr/share/glib-2.0/valgrind/glib.supp
  [ -f "$glib_supp" ] && supp+=(--suppressions="$glib_supp")
  # -s: the suppressions used, with their counts, at the end of the log
  exec valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
    --show-leak-kinds=definite --errors-for-leak-kinds=definite -s \
    --num-callers=30 "${supp[@]}" "$@"
fi

cd "$root" || exit 1
dir=${OTC_VALGRIND_BUILD:-build}
mult=${OTC_VALGRIND_TIMEOUT_X:-10}
jobs_max=${OTC_VALGRIND_JOBS:-$(nproc)}
read -r -a tests <<< "${OTC_VALGRIND_TESTS:-elements_otcencrypt elements_otcdecrypt}"

command -v valgrind > /dev/null || { echo "otc: valgrind is missing" >&2; exit 1; }
ninja -C "$dir" || exit 1

# One process per test program: check would fork one per test case, and
# memcheck would only see the parent. GLib's slice allocator would hide
# leaks in its caches; gc-friendly clears pointers in freed memory.
export CK_FORK=no G_SLICE=always-malloc G_DEBUG=gc-friendly

# memcheck runs a program on one core: the test programs run side by side,
# each in a `meson test` of its own (the tests are marked not parallel)
logs=$dir/meson-logs
rm -f "$logs"/memcheck-*
run_one () {
  meson test -C "$dir" --no-rebuild --print-errorlogs --logbase "memcheck-$1" \
    --timeout-multiplier "$mult" --wrapper "$self --wrap" "$1" "${@:2}" \
    > "$logs/memcheck-$1.out" 2>&1
}
status=0
running=0
for t in "${tests[@]}"; do
  if ((running >= jobs_max)); then
    wait -n || status=1
    running=$((running - 1))
  fi
  run_one "$t" "$@" &
  running=$((running + 1))
done
while ((running > 0)); do
  wait -n || status=1
  running=$((running - 1))
done
for t in "${tests[@]}"; do
  grep -E '^ *[0-9]+/[0-9]+ ' "$logs/memcheck-$t.out" | head -1
done
((status)) && for t in "${tests[@]}"; do
  echo "--- $t (full log: $logs/memcheck-$t-valgrind.sh.txt)"
  sed -n '/^Summary of Failures/q;p' "$logs/memcheck-$t.out" | tail -n +2
done
exit $status
