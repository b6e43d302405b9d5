#!/usr/bin/env bash
# The main job: set up, build, and serve the embedded default target (one 1 GiB sparse
# LUN on 127.0.0.1:3260) until interrupted. Extra arguments go to `iscsilab serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
hil/setup.sh build
exec build/iscsilab serve "$@"
