#!/usr/bin/env bash
# Checks and unit-tests the Prometheus alert rules (deploy/prometheus) with
# promtool, installing Debian's `prometheus` package for it when missing
# (as root or with sudo) without starting its server.
#
#   bash deploy/check-rules.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

if ! command -v promtool >/dev/null 2>&1; then
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    # promtool comes with the server; a policy-rc.d keeps the package from
    # starting it on this machine.
    policy=/usr/sbin/policy-rc.d
    had_policy=0
    [[ -e $policy ]] && had_policy=1
    if [[ $had_policy -eq 0 ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
        "${sudo[@]}" chmod +x "$policy"
    fi
    set +e
    bash "$ROOT/deploy/install-deps.sh" --only prometheus
    rc=$?
    set -e
    [[ $had_policy -eq 1 ]] || "${sudo[@]}" rm -f "$policy"
    [[ $rc -eq 0 ]] || exit "$rc"
fi

cd "$ROOT/deploy/prometheus"
promtool check rules complaintd-rules.yml
promtool test rules complaintd-rules.test.yml
