#!/usr/bin/env bash
# Installs everything needed to build, run and test complaintd on Debian 12.
# Idempotent: when every package is already there it does not touch apt at all,
# so deploy/test.sh can call it on every run.
#
#   bash deploy/install-deps.sh                # the project's packages
#   bash deploy/install-deps.sh --only PKG...  # these packages instead (the
#                                              # fuzzer, lintian, chromium...)
set -euo pipefail

packages=(
    build-essential cmake pkg-config
    librdkafka-dev libev-dev libjansson-dev check libsubunit-dev libinih-dev
    libsystemd-dev libpq-dev libmicrohttpd-dev
    postgresql-15 postgresql-client-15
    kcat jq openssl
    python3 python3-pytest python3-confluent-kafka python3-psycopg2 python3-yaml
    valgrind gdb
)
if [[ ${1:-} == --only ]]; then
    shift
    packages=("$@")
fi

missing=()
for pkg in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    if [[ "$status" != "installed" ]]; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all ${#packages[@]} packages already installed"
    exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
    if ! command -v sudo >/dev/null; then
        echo "install-deps: missing packages (${missing[*]}) and not root; install sudo or run as root" >&2
        exit 1
    fi
    sudo=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
