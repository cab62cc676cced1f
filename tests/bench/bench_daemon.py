#!/usr/bin/python3
"""bench_daemon: end-to-end throughput of the real daemon, as ratios against
ceilings measured in the same run. See README.md beside this file.

    COMPLAINTD_BUILD=build /usr/bin/python3 tests/bench/bench_daemon.py [N]

N complaint events (default 50,000: N/4 tickets, each received, contacted,
first_reply, resolved) are produced to a dev broker with 8 partitions before
complaintd starts, so the daemon works through a backlog, as after an outage.
The figure is the wall time from starting the daemon until all N rows are in
`ticket_events`. Two ceilings are measured on the same machine in the same run:

  kafka  a plain confluent_kafka consumer reading the same N messages from
         the beginning of every partition, doing nothing with them;
  pg     INSERTing the same N events as rows into a scratch copy of
         ticket_events from Python, 2,000 rows a transaction (execute_values):
         the per-row floor of the daemon's commit path.

It prints figures only and checks no time limit. It exits non-zero only when
something does not work (a process dies, rows stop arriving).
"""

from __future__ import annotations

import json
import random
import secrets
import shutil
import signal
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

import psycopg2  # noqa: E402
import psycopg2.extensions  # noqa: E402
from psycopg2.extras import execute_values  # noqa: E402
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition  # noqa: E402

import harness  # noqa: E402  (reads COMPLAINTD_BUILD)
from harness import COMPLAINTS, Broker, Daemon, Postgres, run_complaintd, write_ini  # noqa: E402

PARTITIONS = 8
# The dev broker keeps about 5 MiB a partition and silently drops older
# batches beyond that; stay well under it so every event is still there.
MAX_PAYLOAD = PARTITIONS * 5 * 1024 * 1024 // 2
PG_BATCH = 2000
POLL = 0.2
# Gives up when the row count has not moved for this long: something is
# broken. A liveness check, not a time limit on the figure.
STALL_SEC = 120

CST = timezone(timedelta(hours=8))
BASE = datetime(2026, 11, 23, 8, 0, tzinfo=CST)
DAYS = 30  # the tickets arrive over a month

CHANNELS = [("hotline", 40), ("app", 25), ("online", 12), ("wechat", 12), ("email", 4), ("walk_in", 3),
            ("regulator", 2), ("consumer_association", 1), ("supervisor_hotline", 1)]
CATEGORIES = [("delay", 40), ("damage", 15), ("loss", 10), ("attitude", 8), ("fee", 6), ("shortage", 5),
              ("false_signature", 4), ("misroute", 4), ("mismatch", 3), ("out_of_area", 2), ("other", 3)]
CITIES = ["SZ", "GZ", "DG", "FS", "SH", "HZ", "NJ", "SU", "BJ", "TJ", "CD", "CQ", "WH", "XA", "ZZ", "CS",
          "XM", "FZ", "NN", "KM", "URC", "LXA"]
DISTRICTS = ["BAOAN", "NANSHAN", "FUTIAN", "LONGGANG", "TIANHE", "BAIYUN", "HUB1", "HUB2"]
SITES = [f"{c}-{d}" for c in CITIES for d in DISTRICTS]
REGIONS = {"URC": "xinjiang", "LXA": "tibet"}


def pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


def iso(t: datetime) -> str:
    return t.isoformat()


def make_events(n_tickets: int, seed: int = 20261123) -> list[dict]:
    """Four events a ticket, mostly handled within the SLA targets, in
    occurred_at order across tickets as a real source emits them."""
    rng = random.Random(seed)
    events = []
    span = DAYS * 86400
    for i in range(n_tickets):
        tid = f"T{20261123000000 + i}"
        received = BASE + timedelta(seconds=rng.randrange(span))
        contacted = received + timedelta(minutes=rng.randint(5, 100))
        first_reply = contacted + timedelta(minutes=rng.randint(30, 20 * 60))
        resolved = first_reply + timedelta(minutes=rng.randint(60, 40 * 60))
        site = rng.choice(SITES)
        category = pick(rng, CATEGORIES)
        rec = {
            "schema": "complaint.v1", "event_id": f"{tid}-1", "ticket_id": tid, "type": "received",
            "occurred_at": iso(received), "channel": pick(rng, CHANNELS), "category": category,
            "waybill": f"SF{rng.randrange(10**12):012d}", "site": site,
            "customer_ref": f"c-{rng.getrandbits(48):012x}",
        }
        if site.split("-")[0] in REGIONS:
            rec["region"] = REGIONS[site.split("-")[0]]
        if category in ("loss", "damage", "shortage") and rng.random() < 0.5:
            rec["claim"] = True
        if rng.random() < 0.01:
            rec["major"] = True
        events.append(rec)
        for k, (typ, t) in enumerate([("contacted", contacted), ("first_reply", first_reply),
                                      ("resolved", resolved)], start=2):
            events.append({"schema": "complaint.v1", "event_id": f"{tid}-{k}", "ticket_id": tid, "type": typ,
                           "occurred_at": iso(t)})
    events.sort(key=lambda e: e["occurred_at"])  # ISO strings at one offset sort by time
    return events


def daemon_config(bootstrap: str, conninfo: str) -> dict:
    """harness.DaemonFactory.base_config, except the log level: info, as in
    production (debug logs every held event)."""
    return {
        "kafka": {
            "brokers": bootstrap,
            "group_id": f"complaintd-bench-{secrets.token_hex(4)}",
            **harness.DEFAULT_TOPICS,
            "rdkafka.topic.metadata.refresh.interval.ms": "1000",
            "rdkafka.session.timeout.ms": "6000",
        },
        "postgres": {"conninfo": conninfo},
        "clock": {"mode": "event"},
        "daemon": {"log_level": "info"},
    }


def vm_hwm_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/<pid>/status")


def run_daemon(d: Daemon, conninfo: str, n: int) -> tuple[float, float, float, int]:
    """Starts the daemon; returns the seconds from its start to READY=1, to
    the first row and to all n rows, and its peak RSS in KiB."""
    conn = psycopg2.connect(conninfo)
    conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
    try:
        t0 = time.monotonic()
        d.start(wait_ready=True, timeout=60)
        ready = time.monotonic() - t0
        first = None
        last, last_change = -1, time.monotonic()
        with conn.cursor() as cur:
            while True:
                cur.execute("SELECT count(*) FROM ticket_events")
                count = cur.fetchone()[0]
                now = time.monotonic()
                if count and first is None:
                    first = now - t0
                if count >= n:
                    elapsed = now - t0
                    break
                if not d.running:
                    raise RuntimeError(f"complaintd exited with {d.proc.returncode} after {count} of {n} rows")
                if count != last:
                    last, last_change = count, now
                elif now - last_change > STALL_SEC:
                    raise RuntimeError(f"no new rows for {STALL_SEC} s ({count} of {n})")
                time.sleep(POLL)
        return ready, first, elapsed, vm_hwm_kb(d.pid)
    finally:
        conn.close()


def kafka_ceiling(bootstrap: str, n: int) -> float:
    """Seconds for a plain consumer, from its creation, to read n messages."""
    t0 = time.monotonic()
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "bench-reader-" + secrets.token_hex(4),  # assign() only: nothing joined or committed
        "enable.auto.commit": False,
    })
    try:
        c.assign([TopicPartition(COMPLAINTS, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
        got, last_change = 0, time.monotonic()
        while got < n:
            msgs = c.consume(num_messages=10000, timeout=0.5)
            got += sum(1 for m in msgs if m.error() is None)
            if msgs:
                last_change = time.monotonic()
            elif time.monotonic() - last_change > STALL_SEC:
                raise RuntimeError(f"kafka ceiling: only {got} of {n} messages")
        return time.monotonic() - t0
    finally:
        c.close()


def pg_ceiling(conninfo: str, events: list[dict]) -> float:
    """Seconds to INSERT the events as ticket_events-shaped rows, PG_BATCH
    rows a transaction. The scratch table copies ticket_events' columns,
    defaults, primary key and index."""
    rows = []
    for i, ev in enumerate(events):
        body = {k: v for k, v in ev.items() if k not in ("schema", "event_id", "ticket_id")}
        rows.append((ev["event_id"], ev["ticket_id"], ev["type"], ev["occurred_at"], "applied", COMPLAINTS,
                     i % PARTITIONS, i // PARTITIONS, json.dumps(body)))
    conn = psycopg2.connect(conninfo)
    try:
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS bench_ticket_events")
            cur.execute("CREATE TABLE bench_ticket_events (LIKE ticket_events INCLUDING ALL)")
        conn.commit()
        t0 = time.monotonic()
        with conn.cursor() as cur:
            for i in range(0, len(rows), PG_BATCH):
                execute_values(cur, "INSERT INTO bench_ticket_events (event_id, ticket_id, type, occurred_at, effect,"
                               " source_topic, source_partition, source_offset, body) VALUES %s",
                               rows[i:i + PG_BATCH], template="(%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)",
                               page_size=PG_BATCH)
                conn.commit()
        elapsed = time.monotonic() - t0
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM bench_ticket_events")
            count = cur.fetchone()[0]
            cur.execute("DROP TABLE bench_ticket_events")
        conn.commit()
        if count != len(rows):
            raise RuntimeError(f"pg ceiling: {count} of {len(rows)} rows")
        return elapsed
    finally:
        conn.close()


def main() -> int:
    n_arg = int(sys.argv[1]) if len(sys.argv) > 1 else 50000
    if n_arg < 4:
        print("usage: bench_daemon.py [events (>= 4; rounded down to a multiple of 4)]", file=sys.stderr)
        return 2
    tickets = n_arg // 4
    events = make_events(tickets)
    n = len(events)
    payload = sum(len(json.dumps(e).encode()) for e in events)
    if payload > MAX_PAYLOAD:
        print(f"{n} events are {payload / 2**20:.1f} MiB; the dev broker keeps ~5 MiB a partition, so stay "
              f"under {MAX_PAYLOAD / 2**20:.0f} MiB (about {n * MAX_PAYLOAD // payload // 4 * 4} events)",
              file=sys.stderr)
        return 2

    # Short: the daemon's NOTIFY_SOCKET lives here (unix paths < 108 bytes).
    work = Path(tempfile.mkdtemp(prefix="cd-bench-"))
    pg = Postgres()
    broker = Broker(work / "broker", partitions=PARTITIONS)
    d: Daemon | None = None
    ok = False
    try:
        pg.start()
        broker.start()
        conf = work / "complaintd.conf"
        write_ini(conf, daemon_config(broker.bootstrap, pg.conninfo))
        res = run_complaintd("-c", str(conf), "migrate", timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"complaintd migrate exited with {res.returncode}:\n{res.stdout}{res.stderr}")

        harness.produce(broker.bootstrap, COMPLAINTS, events, key_field="ticket_id", timeout=120)

        # The daemon first, on a quiet machine; the ceilings after it stops.
        d = Daemon(conf, work / "complaintd.log", work / "notify.sock")
        ready_sec, first_sec, daemon_sec, hwm_kb = run_daemon(d, pg.conninfo, n)
        rc = d.stop(60)
        if rc != 0:
            raise RuntimeError(f"complaintd exited with {rc} on SIGTERM")
        alerts = harness.scalar(pg.conninfo, "SELECT count(*) FROM alerts")

        kafka_sec = kafka_ceiling(broker.bootstrap, n)
        pg_sec = pg_ceiling(pg.conninfo, events)

        daemon_rate, kafka_rate, pg_rate = n / daemon_sec, n / kafka_sec, n / pg_sec
        print(f"events={n} daemon_events_per_sec={daemon_rate:.0f} kafka_ceiling_per_sec={kafka_rate:.0f} "
              f"pg_ceiling_per_sec={pg_rate:.0f} ratio_vs_kafka={daemon_rate / kafka_rate:.3f} "
              f"ratio_vs_pg={daemon_rate / pg_rate:.3f}")
        print(f"tickets={tickets} payload_mib={payload / 2**20:.1f} daemon_sec={daemon_sec:.2f} "
              f"ready_sec={ready_sec:.2f} first_row_sec={first_sec:.2f} alerts={alerts} peak_rss_kib={hwm_kb} "
              f"peak_rss_bytes_per_ticket={hwm_kb * 1024 / tickets:.0f}")
        ok = True
        return 0
    finally:
        if d is not None:
            if d.running:
                d.proc.send_signal(signal.SIGTERM)
                try:
                    d.proc.wait(30)
                except Exception:
                    d.proc.kill()
                    d.proc.wait()
            if not ok:
                print(f"---- complaintd log ----\n{harness.tail_text(d.log, 60)}", file=sys.stderr)
            d.close()
        try:
            broker.stop()
        except AssertionError as e:
            print(e, file=sys.stderr)
        pg.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
