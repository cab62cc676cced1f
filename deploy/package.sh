#!/usr/bin/env bash
# Builds complaintd's Debian package and tests it on this machine:
#
#   1. installs what it needs (deploy/install-deps.sh, then lintian and
#      dpkg-dev) with apt-get, as root or with sudo;
#   2. builds build-deb/ with Debian's hardening flags (dpkg-buildflags) and
#      makes the package with `cpack -G DEB` (deploy/debian/package.cmake);
#   3. runs lintian on it: any error fails;
#   4. installs it with dpkg -i and checks what it installed: the files, the
#      conffile, the service user, the modes of /etc/complaintd, the unit
#      (systemd-analyze verify; not enabled, not started), and runs the
#      installed complaintd --check-config, as the unit does, as user
#      complaintd against the installed /etc/complaintd/complaintd.conf;
#   5. upgrades it in place (dpkg -i again): a changed conffile and an enabled
#      unit are kept;
#   6. removes it, then purges it, checking what each leaves behind;
#
# and ends with a summary line, "package: N passed, M failed".
#
#   bash deploy/package.sh
#
# Steps 4-6 really install into this system. They are safe on a CI machine
# and on a developer's: the package never starts the service, and the script
# refuses to run them (and fails, saying why) when this machine already has a
# complaintd of its own: the package installed, /etc/complaintd,
# /usr/bin/complaintd or a complaintd.service unit. The purge would delete
# that configuration and the removal would stop that service. Whatever it
# installed is purged again on every exit, Ctrl-C included, and the system
# user complaintd is deleted again when it did not exist before (the package
# itself keeps it on purge, as Debian packages do).
#
# Environment:
#   PACKAGE_INSTALL_TEST=0   stop after lintian (steps 1-3)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
BUILD=$ROOT/build-deb
JOBS=$(nproc 2>/dev/null || echo 2)
PKG=complaintd

sudo=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "package: run as root or install sudo" >&2; exit 1; }
    sudo=(sudo)
fi

PASSED=0
FAILED=0
INSTALLED=0
USER_EXISTED=1

log() { printf 'package: %s\n' "$*" >&2; }

# check NAME CMD...: runs CMD quietly; counts and prints the outcome, with
# CMD's output when it fails (or always, with SHOW=1 before check).
check() {
    local name=$1 out rc=0
    shift
    out=$("$@" 2>&1) || rc=$?
    if [[ $rc -eq 0 ]]; then
        PASSED=$((PASSED + 1))
        printf '  ok    %s\n' "$name"
        [[ ${SHOW:-0} == 0 || -z $out ]] || printf '%s\n' "$out" | sed 's/^/        /'
    else
        FAILED=$((FAILED + 1))
        printf '  FAIL  %s (exit %d)\n' "$name" "$rc"
        [[ -z $out ]] || printf '%s\n' "$out" | sed 's/^/        /'
    fi
}

# The checks that take more than one command.
conffile_registered() {
    dpkg-query -W -f='${Conffiles}\n' "$PKG" | grep -q '^ /etc/complaintd/complaintd.conf '
}
man_renders_cleanly() {
    local out
    out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$1" 2>&1 >/dev/null)
    [[ -z $out ]] || { printf '%s\n' "$out"; return 1; }
}
system_user_without_login() {
    local uid shell
    IFS=: read -r _ _ uid _ _ _ shell < <(getent passwd complaintd) || return 1
    ((uid < 1000)) && [[ $shell == /usr/sbin/nologin ]]
}
mode_is() {
    test "$("${sudo[@]}" stat -c '%a %U:%G' "$1")" = "$2"
}
not_installed() {
    local st
    st=$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null || true)
    [[ -z $st || $st == not-installed ]]
}
no_helper_state() {
    local left
    left=$(find /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked \
        -name 'complaintd*' 2>/dev/null)
    [[ -z $left ]] || { printf '%s\n' "$left"; return 1; }
}

summary() {
    printf 'package: %d passed, %d failed\n' "$PASSED" "$FAILED"
}

# Purges what this run installed, and the user it made; on every exit.
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if [[ $INSTALLED -eq 1 ]]; then
        log "purging the test installation"
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive dpkg --purge "$PKG" >/dev/null </dev/null
    fi
    if [[ $USER_EXISTED -eq 0 ]] && getent passwd complaintd >/dev/null; then
        "${sudo[@]}" userdel complaintd
    fi
    if [[ $USER_EXISTED -eq 0 ]] && getent group complaintd >/dev/null; then
        "${sudo[@]}" groupdel complaintd
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. what the build and the checks need -----------------------------------

bash "$ROOT/deploy/install-deps.sh"
bash "$ROOT/deploy/install-deps.sh" --only lintian dpkg-dev

# --- 2. build ----------------------------------------------------------------

# Debian's flags: fortified libc calls, stack protector, full RELRO and
# immediate binding (lintian's hardening checks).
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cflags="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
ldflags=$(dpkg-buildflags --get LDFLAGS)
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="$cflags" -DCMAKE_EXE_LINKER_FLAGS="$ldflags" >/dev/null
cmake --build "$BUILD" --parallel "$JOBS"
rm -f "$BUILD/${PKG}"_*.deb
(cd "$BUILD" && cpack -G DEB)
debs=("$BUILD/${PKG}"_*.deb)
[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || { log "cpack made no single package: ${debs[*]}"; exit 1; }
DEB=${debs[0]}
VERSION=$(dpkg-deb -f "$DEB" Version)
log "built $DEB"
dpkg-deb --info "$DEB" | sed -n '/Package:/,$p'
dpkg-deb --contents "$DEB" | awk '{print "  " $1, $6}'

# --- 3. lintian --------------------------------------------------------------

printf '\nlintian:\n'
# Every tag down to the informational ones; only an error fails. (As root
# lintian says so on stderr; nothing else differs.)
rc=0
out=$(lintian --fail-on error --display-info "$DEB" 2>/dev/null) || rc=$?
[[ -z $out ]] || printf '%s\n' "$out" | sed 's/^/        /'
if [[ $rc -eq 0 ]]; then
    check "lintian: no errors ($(grep -c '^E:' <<<"$out" || true) errors, $(grep -c '^W:' <<<"$out" || true) warnings, $(grep -c '^I:' <<<"$out" || true) infos)" true
else
    check "lintian: no errors" false
fi

if [[ ${PACKAGE_INSTALL_TEST:-1} == 0 ]]; then
    log "PACKAGE_INSTALL_TEST=0: not installing"
    summary
    [[ $FAILED -eq 0 ]]
    exit
fi

# --- 4. install --------------------------------------------------------------

printf '\ninstall (dpkg -i):\n'
refuse=()
status=$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null || true)
[[ -z $status || $status == not-installed ]] || refuse+=("package $PKG is $status")
for f in /etc/complaintd /usr/bin/complaintd /etc/systemd/system/complaintd.service \
    /lib/systemd/system/complaintd.service /usr/lib/systemd/system/complaintd.service; do
    [[ ! -e $f ]] || refuse+=("$f exists")
done
if [[ ${#refuse[@]} -gt 0 ]]; then
    log "not testing the installation: this machine has a complaintd of its own (${refuse[*]})."
    log "the purge would delete its configuration; PACKAGE_INSTALL_TEST=0 skips these steps."
    FAILED=$((FAILED + 1))
    summary
    exit 1
fi
getent passwd complaintd >/dev/null || USER_EXISTED=0

INSTALLED=1
SHOW=1 check "dpkg -i $(basename "$DEB")" "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive dpkg -i "$DEB" </dev/null
check "status: install ok installed" \
    test "$(dpkg-query -W -f='${Status}' "$PKG")" = "install ok installed"

files=(/usr/bin/complaintd /lib/systemd/system/complaintd.service /usr/lib/sysusers.d/complaintd.conf
    /usr/lib/tmpfiles.d/complaintd.conf /etc/complaintd/complaintd.conf /usr/share/man/man8/complaintd.8.gz
    /usr/share/doc/complaintd/copyright /usr/share/doc/complaintd/changelog.gz)
# complaintctl is in the package once its target exists.
if dpkg -L "$PKG" | grep -qx /usr/bin/complaintctl; then
    files+=(/usr/bin/complaintctl /usr/share/man/man1/complaintctl.1.gz)
    check "complaintctl --help runs" /usr/bin/complaintctl --help
fi
for f in "${files[@]}"; do
    check "installed $f" "${sudo[@]}" test -f "$f"
done
check "conffile registered: /etc/complaintd/complaintd.conf" conffile_registered
check "complaintd --version is $VERSION" test "$(/usr/bin/complaintd --version)" = "complaintd $VERSION"
for m in /usr/share/man/man8/complaintd.8.gz /usr/share/man/man1/complaintctl.1.gz; do
    [[ ! -e $m ]] || check "man $(basename "$m" .gz) renders without warnings" man_renders_cleanly "$m"
done

# The user and the modes sysusers.d and tmpfiles.d give.
check "system user complaintd, no login shell" system_user_without_login
check "/etc/complaintd is 750 root:complaintd" mode_is /etc/complaintd "750 root:complaintd"
check "complaintd.conf is 640 root:complaintd" mode_is /etc/complaintd/complaintd.conf "640 root:complaintd"

# What the unit runs before every start, run the same way: the installed
# binary, the installed configuration, as the unit's user.
unit=/lib/systemd/system/complaintd.service
pre=$(sed -n 's/^ExecStartPre=//p' "$unit")
unit_user=$(sed -n 's/^User=//p' "$unit")
check "unit's ExecStartPre is the installed --check-config" \
    test "$pre" = "/usr/bin/complaintd -c /etc/complaintd/complaintd.conf --check-config"
read -r -a pre_argv <<<"$pre"
SHOW=1 check "complaintd --check-config as user $unit_user" "${sudo[@]}" runuser -u "$unit_user" -- "${pre_argv[@]}"
check "complaintd --check-config (default path) as user $unit_user" \
    "${sudo[@]}" runuser -u "$unit_user" -- /usr/bin/complaintd --check-config
check "systemd-analyze verify the unit" systemd-analyze verify "$unit"
check "the unit is not enabled" test ! -e /etc/systemd/system/multi-user.target.wants/complaintd.service
if [[ -d /run/systemd/system ]]; then
    check "the service is not running" bash -c '! systemctl --quiet is-active complaintd.service'
fi

# --- 5. upgrade in place -----------------------------------------------------

printf '\nupgrade (dpkg -i again, conffile changed, unit enabled):\n'
marker="# changed by deploy/package.sh $$"
"${sudo[@]}" sh -c "echo '$marker' >> /etc/complaintd/complaintd.conf"
# As the operator would; only the symlink, nothing is started.
"${sudo[@]}" systemctl enable complaintd.service >/dev/null 2>&1
SHOW=1 check "dpkg -i over itself" "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive dpkg -i --force-confold "$DEB" </dev/null
check "changed conffile kept" "${sudo[@]}" grep -qxF "$marker" /etc/complaintd/complaintd.conf
check "complaintd.conf still 640 root:complaintd" mode_is /etc/complaintd/complaintd.conf "640 root:complaintd"
check "enabled unit still enabled" test -L /etc/systemd/system/multi-user.target.wants/complaintd.service
check "changed configuration still valid" \
    "${sudo[@]}" runuser -u "$unit_user" -- "${pre_argv[@]}"

# --- 6. remove, purge --------------------------------------------------------

printf '\nremove (dpkg -r):\n'
check "dpkg -r" "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive dpkg -r "$PKG" </dev/null
check "status: config-files" test "$(dpkg-query -W -f='${db:Status-Status}' "$PKG")" = config-files
check "binary removed" test ! -e /usr/bin/complaintd
check "unit removed" test ! -e "$unit"
check "configuration kept" "${sudo[@]}" test -f /etc/complaintd/complaintd.conf
check "system user kept" getent passwd complaintd

printf '\npurge (dpkg -P):\n'
check "dpkg -P" "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive dpkg -P "$PKG" </dev/null
INSTALLED=0
check "status: not installed" not_installed
check "/etc/complaintd removed" test ! -e /etc/complaintd
check "enable symlink removed" test ! -e /etc/systemd/system/multi-user.target.wants/complaintd.service
check "deb-systemd-helper state removed" no_helper_state
check "system user kept (Debian does not delete system users)" getent passwd complaintd

printf '\n'
summary
[[ $FAILED -eq 0 ]]
