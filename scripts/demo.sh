#!/usr/bin/env bash
# The main job: set-up, build, then the end-to-end encryption demo
# (test video and audio over RTP/UDP on 127.0.0.1, a right and a wrong
# secret, a rotation). Ends by itself in about ten seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
export GST_PLUGIN_PATH="$PWD/build/ext/e2ee-transform${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
exec build/examples/otc-e2ee-demo
