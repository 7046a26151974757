#!/usr/bin/env bash
# The source coverage the fuzz corpora reach: each target's seeds
# (tests/fuzz/corpus/TARGET/) and what scripts/fuzz.sh has grown
# (build-fuzz/fuzz-corpus/TARGET/) are run once through a build with
# clang's source-based coverage (build-fuzz-cov/, no sanitizers), and
# llvm-cov reports lines, branches and functions covered in the files
# that target is for.
#
#   scripts/fuzz-coverage.sh [TARGET...]       default: every target
#
# Needs clang and llvm (scripts/setup.sh installs clang; llvm-cov and
# llvm-profdata come with it).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

all_targets=(frame sframe-header signalling token rest ws-frames)
targets=("$@")
((${#targets[@]})) || targets=("${all_targets[@]}")
declare -A files=(
  [frame]="ext/e2ee-format/frame.c ext/e2ee-format/frame-decryptor.c ext/e2ee-format/codec-policy.c ext/e2ee-format/replay-window.c ext/e2ee-format/key-cache.c"
  [sframe-header]="ext/e2ee-format/sframe-header.c"
  [signalling]="ext/signalling/otc-signalling.c"
  [token]="ext/router/otc-router-auth.c"
  [rest]="ext/router/otc-router-rest.c ext/router/otc-router-archive.c"
  [ws-frames]="ext/router/otc-router-ws-limit.c"
  [srtp]="ext/router/transport/otc-srtp-send.c"
)

profdata=$(command -v llvm-profdata || command -v llvm-profdata-14)
cov=$(command -v llvm-cov || command -v llvm-cov-14)
if [ -z "$profdata" ] || [ -z "$cov" ] || ! command -v clang >/dev/null; then
  echo "otc-fuzz-coverage: clang, llvm-profdata and llvm-cov are needed" >&2
  exit 1
fi

build=build-fuzz-cov
if [ ! -f $build/build.ninja ]; then
  CC=clang meson setup $build -Dfuzzing=true \
    "-Dc_args=-fprofile-instr-generate -fcoverage-mapping" \
    -Dc_link_args=-fprofile-instr-generate >$build.setup.log 2>&1 \
    || { cat $build.setup.log >&2; exit 1; }
  rm -f $build.setup.log
fi
ninja -C $build "${targets[@]/#/tests/fuzz/fuzz-}" >/dev/null \
  || { ninja -C $build "${targets[@]/#/tests/fuzz/fuzz-}"; exit 1; }

out=$build/coverage
mkdir -p $out
status=0
for t in "${targets[@]}"; do
  bin=$build/tests/fuzz/fuzz-$t
  rm -f $out/$t.*.profraw
  dirs=(tests/fuzz/corpus/$t)
  [ -d build-fuzz/fuzz-corpus/$t ] && dirs+=(build-fuzz/fuzz-corpus/$t)
  n=$(find "${dirs[@]}" -type f | wc -l)
  # -runs=0: every input once, no mutation
  LLVM_PROFILE_FILE=$out/$t.%p.profraw "$bin" -runs=0 "${dirs[@]}" \
    >$out/$t.log 2>&1 || { echo "  $t: the corpus did not run (see $out/$t.log)"; status=1; continue; }
  "$profdata" merge -sparse $out/$t.*.profraw -o $out/$t.profdata || { status=1; continue; }
  echo "== $t: $n inputs"
  # the frame format library is a shared library: its coverage mapping is
  # in it, not in the target
  lib=$build/ext/e2ee-format/libotc-e2ee-1.0.so
  # Filename, Regions, Missed, Cover, Functions, Missed, Executed, Lines,
  # Missed, Cover, Branches, Missed, Cover
  "$cov" report "$bin" -object "$lib" -instr-profile=$out/$t.profdata \
    | awk -v want=" ${files[$t]} " '{ f = $1; sub(/^.*\/ext\//, "ext/", f) }
        index(want, " " f " ") {
          printf "  %-34s lines %7s  branches %7s  functions %7s\n", f, $10, $13, $7 }'
done
exit $status
