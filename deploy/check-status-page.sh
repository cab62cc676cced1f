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

bash "$ROOT/deploy/install-deps.sh" --only chromium

export PYTHONDONTWRITEBYTECODE=1
COMPLAINTD_CHROMIUM=1 COMPLAINTD_BUILD="$ROOT/$BUILD" /usr/bin/python3 -m pytest -q -p no:cacheprovider \
    "$ROOT/tests/integration/test_status.py"
