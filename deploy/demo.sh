#!/usr/bin/env bash
# The demo: builds complaintd, starts a private PostgreSQL and the dev broker,
# runs the daemon on the bundled sample streams and shows the alerts and dead
# letters it emits as they arrive. Everything it starts is stopped again and
# its temporary files are removed, also on Ctrl-C.
#
#   bash deploy/demo.sh
#
# Environment:
#   DEMO_IDLE=8   seconds without a new alert before the demo winds down
#   DEMO_KEEP=1   keep the work directory (config, logs) instead of removing it
#   DEMO_BUILD=D  run the binaries of the build directory D as they are,
#                 without installing or building (the tests run the demo so)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
BUILD=${DEMO_BUILD:-$ROOT/build}
PYTHON=/usr/bin/python3
IDLE=${DEMO_IDLE:-8}
COMPLAINTS_FILE=$ROOT/docs/examples/complaints.jsonl
SCANS_FILE=$ROOT/docs/examples/scans.jsonl

WORK=""
PGDIR=""
BROKER_PID=""
DAEMON_PID=""
TAIL_PID=""
DAEMON_RC=""
STOP_RC=""

log() { printf 'demo: %s\n' "$*" >&2; }

# Sends SIGTERM and waits up to $2 seconds, then SIGKILL; the exit code goes
# to STOP_RC (not printed: `wait` only works outside a command substitution).
stop_pid() {
    local pid=$1 timeout=$2 i rc=0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "process $pid did not stop within ${timeout}s, killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || rc=$?
    STOP_RC=$rc
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    [[ -n $TAIL_PID ]] && stop_pid "$TAIL_PID" 5
    if [[ -n $DAEMON_PID ]]; then
        stop_pid "$DAEMON_PID" 30
        [[ $STOP_RC == 0 ]] || log "complaintd exited with $STOP_RC"
    fi
    [[ -n $BROKER_PID ]] && stop_pid "$BROKER_PID" 10
    if [[ -n $PGDIR ]]; then
        bash "$ROOT/deploy/pg-local.sh" stop "$PGDIR" >/dev/null 2>&1
        rm -rf "$PGDIR"
    fi
    if [[ -n $WORK ]]; then
        if [[ $rc -ne 0 && -f $WORK/complaintd.log ]]; then
            log "last lines of the daemon log:"
            tail -n 40 "$WORK/complaintd.log" >&2
        fi
        if [[ ${DEMO_KEEP:-0} == 1 ]]; then
            log "work directory kept: $WORK"
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Produces a JSON-lines file to a topic, keyed by a field of each line. Lines
# that are not JSON (a sample may hold some on purpose, for the dead-letter
# topic) go out as they are, without a key.
produce_file() {
    local file=$1 topic=$2 field=$3
    jq -R -r --arg f "$field" '
        select(length > 0)
        | . as $line
        | ((try (fromjson | .[$f] // "" | tostring) catch "") | gsub("\t"; " ")) as $key
        | "\($key)\t\($line)"' "$file" |
        kcat -b "$BOOTSTRAP" -P -t "$topic" -K $'\t' -X enable.idempotence=true
}

count_topic() {
    kcat -b "$BOOTSTRAP" -C -t "$1" -o beginning -e -q -f 'x\n' 2>/dev/null | wc -l
}

# --- build -----------------------------------------------------------------

if [[ -z ${DEMO_BUILD:-} ]]; then
    bash "$ROOT/deploy/install-deps.sh"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$BUILD" --parallel "$(nproc 2>/dev/null || echo 2)"
fi

# --- infrastructure ----------------------------------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/complaintd-demo.XXXXXX")
# Separate from WORK: as root the server runs as `postgres`, which must own it.
PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/complaintd-demo-pg.XXXXXX")

log "starting PostgreSQL"
CONNINFO=$(bash "$ROOT/deploy/pg-local.sh" start "$PGDIR" "$(free_port)")

log "starting the dev broker"
# setsid: a Ctrl-C on the terminal reaches only this script, whose trap then
# stops each process once, in order (a second SIGINT would make complaintd
# skip its graceful drain).
# One partition: the sample stream is replayed in the order it is written.
setsid "$BUILD/complaintd-devbroker" --partitions 1 --bootstrap-file "$WORK/bootstrap" >/dev/null 2>"$WORK/devbroker.log" &
BROKER_PID=$!
for ((i = 0; i < 200; i++)); do
    [[ -s $WORK/bootstrap ]] && break
    kill -0 "$BROKER_PID" 2>/dev/null || { cat "$WORK/devbroker.log" >&2; log "dev broker failed"; exit 1; }
    sleep 0.1
done
[[ -s $WORK/bootstrap ]] || { log "dev broker did not come up"; exit 1; }
BOOTSTRAP=$(<"$WORK/bootstrap")

# --- the daemon --------------------------------------------------------------

CONFIG=$WORK/complaintd.conf
cat >"$CONFIG" <<EOF
[kafka]
brokers = $BOOTSTRAP
group_id = complaintd-demo
complaints_topic = complaints.events
scans_topic = parcels.scans
alerts_topic = complaints.alerts
dlq_topic = complaints.dlq

[postgres]
conninfo = $CONNINFO

[clock]
# The sample streams are from the past: let their own times drive the clocks.
mode = event

[daemon]
log_level = info

[policy]
# The first two steps of the 2485 rule (contract §12.4): the 1st response
# within 2 h of receipt, the 2nd within 24 h.
response_schedule = 2h,24h
EOF

log "migrating the database"
"$BUILD/complaintd" -c "$CONFIG" migrate >"$WORK/migrate.log" 2>&1 ||
    { cat "$WORK/migrate.log" >&2; log "complaintd migrate failed"; exit 1; }

log "starting complaintd (log: $WORK/complaintd.log)"
setsid "$BUILD/complaintd" -c "$CONFIG" >"$WORK/complaintd.log" 2>&1 &
DAEMON_PID=$!

log "alerts and dead letters (the demo ends after ${IDLE}s without a new one):"
"$BUILD/complaintd-tail" -b "$BOOTSTRAP" -t complaints.alerts -t complaints.dlq \
    --from-beginning --idle-exit "$IDLE" &
TAIL_PID=$!

# --- the sample streams ------------------------------------------------------

# Scans first, so the parcels' histories are there when the complaints
# about them arrive (as on a real desk).
n_scans=0
if [[ -f $SCANS_FILE ]]; then
    produce_file "$SCANS_FILE" parcels.scans waybill
    n_scans=$(grep -c . "$SCANS_FILE" || true)
    # In event mode the clock is the largest occurred_at seen on either topic:
    # let the daemon take the scans before the complaints are sent.
    for ((i = 0; i < 300; i++)); do
        n_seen=$(psql "$CONNINFO" -Atc 'SELECT count(*) FROM parcel_scans' 2>/dev/null || echo 0)
        [[ $n_seen -ge $n_scans ]] && break
        sleep 0.1
    done
fi
produce_file "$COMPLAINTS_FILE" complaints.events ticket_id
n_events=$(grep -c . "$COMPLAINTS_FILE" || true)
log "produced $n_events complaint events and $n_scans scans"

wait "$TAIL_PID" || true
TAIL_PID=""

if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
    wait "$DAEMON_PID" || DAEMON_RC=$?
    DAEMON_PID=""
    log "complaintd died during the demo (exit ${DAEMON_RC:-0})"
    exit 1
fi

n_alerts=$(count_topic complaints.alerts)
n_dlq=$(count_topic complaints.dlq)
stop_pid "$DAEMON_PID" 30
DAEMON_RC=$STOP_RC
DAEMON_PID=""
[[ $DAEMON_RC == 0 ]] || { log "complaintd exited with $DAEMON_RC on SIGTERM"; exit 1; }

printf 'demo: %s complaint events + %s scans in -> %s alerts, %s dead letters out; complaintd stopped cleanly\n' \
    "$n_events" "$n_scans" "$n_alerts" "$n_dlq"
