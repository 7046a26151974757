#!/usr/bin/env bash
# The whole test suite: set-up, build, then every test (meson test), with a
# closing "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
scripts/setup.sh || exit 1

meson test -C build --print-errorlogs --num-processes 1 "$@"
status=$?

# Each gst-check suite's own count, then the total.
python3 - <<'PY' || true
import json, re
passed = failed = 0
try:
    for line in open("build/meson-logs/testlog.json"):
        t = json.loads(line)
        m = None
        for l in t.get("stdout", "").splitlines():
            m = re.search(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)", l) or m
        if m:
            n, f, e = map(int, m.groups())
            passed += n - f - e
            failed += f + e
            if t["result"] != "OK" and f + e == 0:
                failed += 1   # crashed or timed out after its checks
            print(f"  {t['name']:28} {t['result']:8} {n} checks, {f + e} failed")
        else:
            ok = t["result"] in ("OK", "EXPECTEDFAIL", "SKIP")
            passed += ok
            failed += not ok
            print(f"  {t['name']:28} {t['result']}")
except FileNotFoundError:
    failed += 1
print(f"otc: {passed} passed, {failed} failed")
PY
exit $status
