#!/usr/bin/env bash
# The whole test suite built with AddressSanitizer and UndefinedBehaviorSanitizer
# (gcc): configures build-asan/ (once), builds it, runs every test there.
# Any ASan error (out-of-bounds access, use after free, double free...) or
# UBSan finding aborts the process it happens in, and so fails its test,
# in the test programs and in every otc process they start (otc-router,
# gst-launch-1.0 with the otc plugins).
#
# Leaks are not checked in this run (valgrind.sh checks the element
# tests): GLib and GStreamer are built without frame pointers, so the fast
# unwinder records two frames per allocation and no suppression can tell a
# leak of otc's from GLib's own one-time blocks; full stacks make the suite
# 10-15 times slower. OTC_ASAN_LEAKS=1 runs it with LeakSanitizer and full
# stacks (tests/sanitizers/lsan.supp), for a leak hunt: slow, not in CI.
#
# Arguments go to `meson test` (e.g. a test name).
#   OTC_ASAN_BUILD       the build directory (default build-asan)
#   OTC_ASAN_TIMEOUT_X   timeout multiplier (default 3)
#   OTC_ASAN_LEAKS       1: LeakSanitizer on (see above)
#   OTC_ASAN_OPTIONS     more ASAN_OPTIONS (appended)
# Needs what scripts/setup.sh installs (run it first).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$PWD
dir=${OTC_ASAN_BUILD:-build-asan}
mult=${OTC_ASAN_TIMEOUT_X:-3}
leaks=${OTC_ASAN_LEAKS:-0}

if [ ! -f "$dir/build.ninja" ]; then
  # b_lundef=false: the plugins are shared modules whose sanitizer symbols
  # come from the executable that loads them. Frame pointers: better
  # allocation stacks in reports.
  CC=gcc meson setup "$dir" -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args=-fno-omit-frame-pointer || exit 1
fi
ninja -C "$dir" || exit 1

# Not forking GStreamer's registry scanner: gst-plugin-scanner is not
# instrumented and cannot load instrumented plugins (tests/check/meson.build
# sets this for its tests; this covers otc-router and the other tests too).
export GST_REGISTRY_FORK=no
# GLib's slice allocator would hand out objects (buffers, events, lists)
# from its own slabs, where ASan cannot see a use after free or an overflow
# between them; gc-friendly clears freed pointers.
export G_SLICE=always-malloc G_DEBUG=gc-friendly
if [ "$leaks" = 1 ]; then
  reports=$root/$dir/meson-logs/lsan
  rm -rf "$reports" && mkdir -p "$reports"
  # every process's reports in a file of its own (otc-router's stderr is
  # not always kept by the tests)
  export ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0:malloc_context_size=30:log_path=$reports/report:log_exe_name=1:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=0
  export LSAN_OPTIONS=suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0
  mult=$((mult * 10))
else
  export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1:print_summary=1:detect_stack_use_after_return=0
fi
# libc's strstr runs unchecked: the hygiene tests search megabytes of debug
# log for hundreds of strings, and the checking wrapper re-reads the whole
# haystack at every call (the secret-hygiene test: 204 s -> 7 s)
ASAN_OPTIONS+=:intercept_strstr=0
ASAN_OPTIONS+=${OTC_ASAN_OPTIONS:+:$OTC_ASAN_OPTIONS}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:print_summary=1
# check's own per-test timeouts (fork mode) scale like meson's
export CK_TIMEOUT_MULTIPLIER=$mult

# Each test keeps its own GStreamer registry. Building one means loading
# every system plugin in process (no scanner, see above), and some of them
# leak or start threads at load time (OpenNI2 and udev monitors, fontconfig
# through pango). None of that is otc's, and none of it is what the tests
# exercise, so the registries are built first, with each test's own
# environment, by gst-inspect-1.0 with the sanitizer runtimes preloaded and
# leak detection off; the tests then find them up to date and load only
# the plugins they use.
preload="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
meson introspect --tests "$dir" | OTC_PRELOAD=$preload python3 -c '
import json, os, subprocess, sys
seen = set()
for t in json.load(sys.stdin):
    env = dict(os.environ, **t["env"])
    reg = env.get("GST_REGISTRY")
    if not reg or reg in seen:
        continue
    seen.add(reg)
    env.update(LD_PRELOAD=os.environ["OTC_PRELOAD"],
               ASAN_OPTIONS="detect_leaks=0", GST_REGISTRY_FORK="no")
    r = subprocess.run(["gst-inspect-1.0", "coreelements"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if r.returncode != 0:
        sys.exit("otc: building %s failed:\n%s" % (reg, r.stderr.decode()))
' || exit 1

meson test -C "$dir" --print-errorlogs --num-processes 1 \
  --timeout-multiplier "$mult" "$@"
status=$?

if [ "$leaks" = 1 ]; then
  n=$(grep -l "LeakSanitizer" "$reports"/report.* 2>/dev/null | wc -l)
  echo "otc: LeakSanitizer reports from $n processes in $reports"
  ((n)) && status=1
fi
exit $status
