#!/usr/bin/env bash
# A private PostgreSQL 15 server for development, the demo and the tests.
#
#   pg-local.sh start DIR PORT   initdb DIR/data if needed, start on 127.0.0.1:PORT
#                                (unix socket in DIR), create database complaintd,
#                                print the conninfo on stdout
#   pg-local.sh stop DIR         fast shutdown; a no-op when it is not running
#
# PostgreSQL refuses to run as root, so as root the server runs as the
# `postgres` system user of the Debian package and DIR is handed to it. DIR's
# parent directories must then be searchable by that user (mktemp -d under
# /tmp is fine).
#
# fsync is off: this server holds throw-away test data and fsync is the
# dominant cost of the many small transactions the tests make. Set
# PG_LOCAL_FSYNC=on to keep it. Everything else, including
# synchronous_commit, stays at PostgreSQL's defaults so the daemon sees
# normal commit semantics.
#
# TLS: with PG_SSL_CERT and PG_SSL_KEY naming a server certificate and its
# key (PEM files), `start` copies them into DIR and starts the server with
# ssl = on; it then takes both TLS and plain connections (pg_hba.conf's
# `host` lines match either). Without them nothing about TLS is set.
# They only matter when `start` starts the server, not when it is running.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER=complaintd
PG_DB=complaintd
RUN_USER=postgres

die() {
    echo "pg-local: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
}

# Runs a command as the user that owns the data directory.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u "$RUN_USER" -- "$@"
    else
        "$@"
    fi
}

cmd_start() {
    local dir=$1 port=$2
    if [[ ! $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
        die "invalid port '$port'"
    fi
    [[ -x $PG_BIN/initdb ]] || die "$PG_BIN/initdb not found (install postgresql-15)"

    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd -P)
    local data=$dir/data

    local ssl_opts=""
    if [[ -n ${PG_SSL_CERT:-} || -n ${PG_SSL_KEY:-} ]]; then
        [[ -r ${PG_SSL_CERT:-} && -r ${PG_SSL_KEY:-} ]] ||
            die "PG_SSL_CERT and PG_SSL_KEY must both name readable files"
        # PostgreSQL refuses a key that others can read.
        install -m 0644 "$PG_SSL_CERT" "$dir/server.crt"
        install -m 0600 "$PG_SSL_KEY" "$dir/server.key"
        ssl_opts=" -c ssl=on -c ssl_cert_file='$dir/server.crt' -c ssl_key_file='$dir/server.key'"
    fi

    if [[ $(id -u) -eq 0 ]]; then
        id "$RUN_USER" >/dev/null 2>&1 || die "user $RUN_USER does not exist (install postgresql-15)"
        chown -R "$RUN_USER:" "$dir"
        runuser -u "$RUN_USER" -- test -w "$dir" ||
            die "$dir is not reachable by user $RUN_USER; use a directory under /tmp"
    fi

    if [[ ! -f $data/PG_VERSION ]]; then
        as_owner "$PG_BIN/initdb" --pgdata="$data" --nosync --username="$PG_USER" \
            --auth=trust --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
            { cat "$dir/initdb.log" >&2; die "initdb failed"; }
        as_owner tee -a "$data/postgresql.conf" >/dev/null <<CONF

# --- pg-local.sh ---
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = ${PG_LOCAL_FSYNC:-off}
max_connections = 200
CONF
    fi

    if ! as_owner "$PG_BIN/pg_ctl" --pgdata="$data" status >/dev/null 2>&1; then
        as_owner "$PG_BIN/pg_ctl" --pgdata="$data" --log="$dir/postgres.log" \
            --wait --timeout=60 --silent -o "-p $port$ssl_opts" start ||
            { tail -n 30 "$dir/postgres.log" >&2 || true; die "server did not start"; }
    fi

    local psql=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$PG_USER")
    if [[ -z $("${psql[@]}" -d postgres -tA -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'") ]]; then
        "${psql[@]}" -d postgres -c "CREATE DATABASE $PG_DB" >/dev/null
    fi

    echo "host=127.0.0.1 port=$port user=$PG_USER dbname=$PG_DB"
}

cmd_stop() {
    local dir=$1
    [[ -d $dir ]] || return 0
    local data
    data=$(cd "$dir" && pwd -P)/data
    [[ -f $data/PG_VERSION ]] || return 0
    if as_owner "$PG_BIN/pg_ctl" --pgdata="$data" status >/dev/null 2>&1; then
        as_owner "$PG_BIN/pg_ctl" --pgdata="$data" --wait --timeout=60 --silent -m fast stop
    fi
}

case ${1:-} in
start) [[ $# -eq 3 ]] || usage; cmd_start "$2" "$3" ;;
stop) [[ $# -eq 2 ]] || usage; cmd_stop "$2" ;;
*) usage ;;
esac
