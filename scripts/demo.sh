#!/usr/bin/env bash
# The main job: set-up, build, then the session demo
# (examples/otc-session-demo.c): otc-router on 127.0.0.1, an end-to-end
# encrypted session, alice publishing test video + audio with otcsink, bob
# recording it to WebM with otcsrc, carol with a wrong secret until she is
# given the right one. Ends by itself in about ten seconds; exit status 0
# when everything happened as it should.
#
# The demo runs in a network namespace of its own where only loopback
# exists (tests/netns-run.sh) when this machine allows one, so that nothing
# can leave it; otherwise directly (it uses 127.0.0.1 only either way).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
export GST_PLUGIN_PATH="$PWD/build/ext${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export OTC_ROUTER="$PWD/build/ext/router/otc-router"
demo=build/examples/otc-session-demo
if unshare -n true 2>/dev/null; then
  echo "(in a loopback-only network namespace)"
  exec tests/netns-run.sh "$demo" "$@"
fi
echo "(no network namespace permitted here: running directly, on 127.0.0.1)"
exec "$demo" "$@"
