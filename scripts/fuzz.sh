#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) into build-fuzz/ and runs each
# for a given time, from its seed corpus:
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default: 30 s each, every target
#   scripts/fuzz.sh 600 frame rest            two targets, 10 minutes each
#   FUZZ_PARALLEL=2 scripts/fuzz.sh 600       two targets at a time
#   FUZZ_BUILD_DIR=DIR                        another build directory
#   FUZZ_BUILD_ONLY=1                         build the targets, run nothing
#
# Targets: frame sframe-header signalling token rest ws-frames. Each run starts with
# the reproducers of tests/fuzz/crashes/TARGET/ (they must pass), then fuzzes
# with tests/fuzz/corpus/TARGET/ read-only and build-fuzz/fuzz-corpus/TARGET/
# as the corpus it grows (kept between runs). A crash, leak, sanitizer
# report, timeout or out-of-memory lands in build-fuzz/fuzz-artifacts/TARGET/
# and makes the script exit non-zero. Prints, per target: executions,
# coverage (libFuzzer's cov: edges and ft: features), corpus size.
# Needs clang (scripts/setup.sh installs it). Runs under nice -n 10.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

all_targets=(frame sframe-header signalling token rest ws-frames srtp)
seconds=${1:-30}
if [[ ! $seconds =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "usage: $0 [SECONDS] [TARGET...]   targets: ${all_targets[*]}" >&2
  exit 2
fi
shift $(($# > 0 ? 1 : 0))
targets=("$@")
((${#targets[@]})) || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  if [[ " ${all_targets[*]} " != *" $t "* ]]; then
    echo "otc-fuzz: no target \"$t\" (targets: ${all_targets[*]})" >&2
    exit 2
  fi
done

# -max_len: what each parser meets in practice, with room (the frame seeds
# include the 9,000-byte frames of the test vectors; tokens are refused
# beyond 8,192 bytes; srtp: a few packets of up to 1,500 bytes).
declare -A max_len=([frame]=10240 [sframe-header]=64 [signalling]=16384
  [token]=9000 [rest]=8192 [ws-frames]=8192 [srtp]=8192)

build=${FUZZ_BUILD_DIR:-build-fuzz}
if ! command -v clang >/dev/null; then
  echo "otc-fuzz: clang is missing (scripts/setup.sh installs it)" >&2
  exit 1
fi
if [ ! -f $build/build.ninja ]; then
  # the whole directory gets coverage instrumentation (fuzzer-no-link);
  # sanitizer reports abort, so that libFuzzer sees them as crashes
  CC=clang meson setup $build -Dfuzzing=true \
    -Db_sanitize=address,undefined -Db_lundef=false \
    "-Dc_args=-fsanitize=fuzzer-no-link -fno-sanitize-recover=all" \
    >$build.setup.log 2>&1 || { cat $build.setup.log >&2; exit 1; }
  rm -f $build.setup.log
fi
nice -n 10 ninja -C $build "${targets[@]/#/tests/fuzz/fuzz-}" >/dev/null \
  || { ninja -C $build "${targets[@]/#/tests/fuzz/fuzz-}"; exit 1; }
[ -n "${FUZZ_BUILD_ONLY:-}" ] && exit 0

export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=64:detect_leaks=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1"
logs=$build/fuzz-logs
mkdir -p $logs

# Runs one target; its libFuzzer output goes to $logs/TARGET.log.
run_target() {
  local t=$1 bin=$build/tests/fuzz/fuzz-$1 log=$logs/$1.log
  local scratch=$build/fuzz-corpus/$t artifacts=$build/fuzz-artifacts/$t/
  local crashes=tests/fuzz/crashes/$t
  mkdir -p "$scratch" "$artifacts"
  : >"$log"
  if [ -d "$crashes" ] && [ -n "$(ls -A "$crashes")" ]; then
    echo "## reproducers: $crashes" >>"$log"
    nice -n 10 "$bin" -runs=1 "$crashes"/* >>"$log" 2>&1 || return 1
  fi
  echo "## fuzzing $seconds s" >>"$log"
  nice -n 10 "$bin" -max_total_time="$seconds" -max_len="${max_len[$t]}" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts" "$scratch" "tests/fuzz/corpus/$t" \
    >>"$log" 2>&1
}

# One line from a target's log: executions, cov, ft, corpus, status.
summary() {
  local t=$1 status=$2 log=$logs/$1.log
  local execs cov ft corp
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1 | cut -d' ' -f2)
  if [ "$status" = 0 ]; then
    status=ok
  else
    status="FAILED (exit $status; see $log, inputs in $build/fuzz-artifacts/$t/)"
  fi
  printf '  %-14s %5s s  %10s execs  cov %5s  ft %6s  corpus %-12s %s\n' \
    "$t" "$seconds" "${execs:-0}" "${cov:--}" "${ft:--}" "${corp:--}" "$status"
}

declare -A rc
parallel=${FUZZ_PARALLEL:-1}
echo "otc-fuzz: ${#targets[@]} target(s), $seconds s each (logs in $logs/)"
pending=("${targets[@]}")
while ((${#pending[@]})); do
  batch=("${pending[@]:0:$parallel}")
  pending=("${pending[@]:$parallel}")
  declare -A pids=()
  for t in "${batch[@]}"; do
    run_target "$t" &
    pids[$t]=$!
  done
  for t in "${batch[@]}"; do
    wait "${pids[$t]}"
    rc[$t]=$?
    summary "$t" "${rc[$t]}"
    if [ "${rc[$t]}" != 0 ]; then
      # the report: sanitizer or libFuzzer error and the top of the stack
      grep -m1 -A25 -E '^==[0-9]+==ERROR|^SUMMARY|check failed|CRITICAL|WARNING \*\*|^\*\*\*.*deadly|libFuzzer: (timeout|out-of-memory)' \
        "$logs/$t.log" | sed 's/^/      /'
    fi
  done
  unset pids
done

failed=0
for t in "${targets[@]}"; do
  [ "${rc[$t]}" = 0 ] || failed=$((failed + 1))
done
echo "otc-fuzz: $((${#targets[@]} - failed)) clean, $failed failed"
((failed == 0))
