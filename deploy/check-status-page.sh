#!/usr/bin/env bash
# Looks at the status page in headless Chromium: installs Debian's chromium
# when missing (as root or with sudo), then runs the status page test with
# the browser required (a screenshot, and the rendered text checked against
# the database).
#
#   bash deploy/check-status-page.sh [BUILD_DIR]     (default: build)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
BUILD=${1:-build}

if ! command -v chromium >/dev/null 2>&1; then
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
fi

export PYTHONDONTWRITEBYTECODE=1
COMPLAINTD_CHROMIUM=1 COMPLAINTD_BUILD="$ROOT/$BUILD" /usr/bin/python3 -m pytest -q -p no:cacheprovider \
    "$ROOT/tests/integration/test_status.py"
