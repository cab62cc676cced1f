#!/usr/bin/python3
"""bench_restart: the daemon's memory per open ticket, and how long a start
with that many tickets takes.

    COMPLAINTD_BUILD=build /usr/bin/python3 tests/bench/bench_restart.py [N]
    COMPLAINTD_BUILD=build /usr/bin/python3 tests/bench/bench_restart.py parcels [N]
    COMPLAINTD_BUILD=build /usr/bin/python3 tests/bench/bench_restart.py history [N]

N (default 1,000,000) `received` events of N tickets, all inside one hour
so that no deadline falls due (event mode), no site (so no bulk windows)
and a waybill each, are produced over 64 partitions and applied by the
daemon. Then:

  rss_per_ticket   the daemon's resident size (VmRSS) with the N open
                   tickets in memory, divided by N; also the size of an
                   empty daemon, started first on an empty database, and
                   (rss - empty) / N, what the tickets themselves cost;
  restart_sec      the daemon is stopped (SIGTERM) and started again: the
                   seconds from the start to READY=1, when it has loaded
                   every ticket from PostgreSQL and joined Kafka;
  rss_after_restart the same resident size after that start.

The ceiling of the restart is a plain `COPY (SELECT snapshot FROM tickets)
TO STDOUT` of the same rows, measured in the same run. It prints figures
only and exits non-zero only when something does not work.

parcels (default N = 1,000,000): the start of a daemon with N parcels in
flight. `parcel_scans` is filled with `COPY` with the rows a run would have
left, three scans a parcel (pickup, depart, arrive at a hub, a day apart,
no stall due), then the daemon is started:

  restart_sec      from the start to READY=1, which loads each parcel's
                   latest scan and its pickup time;
  peak_rss_mib     the daemon's peak resident size (VmHWM) during that
                   start, and rss_mib (VmRSS) once it is ready, each per
                   parcel too.

Its ceiling is a `COPY (...) TO STDOUT` of the same query the daemon loads
with (each waybill's latest scan), measured in the same run.

history (default N = 5,000,000): the start of a daemon over a long history.
`alerts` is filled with `COPY` with N rows of tickets long closed (an
`sla_warning` and an `sla_breach` firing and resolved, a `bulk_complaint`
episode and a `parcel_stalled` one every 1,000 rows), 40 days old, and
`tickets` with their N/4 tickets, closed 240 days ago; nothing is open.
restart_sec is the start to READY=1; its ceilings are the same daemon's
start on the same database with `alerts` emptied, then `tickets` too, in
the same run: what each history costs a start is the difference.
"""

from __future__ import annotations

import io
import secrets
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

import psycopg2  # noqa: E402

import harness  # noqa: E402  (reads COMPLAINTD_BUILD)
from harness import COMPLAINTS, Broker, Daemon, Postgres, run_complaintd, write_ini  # noqa: E402

PARTITIONS = 64
CST = timezone(timedelta(hours=8))
BASE = datetime(2025, 11, 24, 8, 0, tzinfo=CST)
STALL_SEC = 180


def events(n: int):
    for i in range(n):
        yield {"schema": "complaint.v1", "event_id": f"e{i}", "ticket_id": f"T{i:08d}", "type": "received",
               "occurred_at": (BASE + timedelta(seconds=i * 3600 // n)).isoformat(), "channel": "hotline",
               "category": "damage", "waybill": f"SF{i:010d}"}


class Bench:
    """A private PostgreSQL, the dev broker over PARTITIONS partitions, a
    migrated database and a configuration for `clock`; `d` is the daemon
    (not started). Everything is stopped and removed on the way out."""

    def __init__(self, clock: str) -> None:
        self.clock = clock
        self.work = Path(tempfile.mkdtemp(prefix="cd-restart-"))
        self.pg = Postgres()
        self.broker = Broker(self.work / "broker", partitions=PARTITIONS)
        self.d: Daemon | None = None

    def __enter__(self) -> "Bench":
        try:
            self.pg.start()
            self.broker.start()
            conf = self.work / "complaintd.conf"
            write_ini(conf, {
                "kafka": {"brokers": self.broker.bootstrap, "group_id": f"bench-{secrets.token_hex(4)}",
                          **harness.DEFAULT_TOPICS},
                "postgres": {"conninfo": self.pg.conninfo},
                "clock": {"mode": self.clock},
                "daemon": {"log_level": "info"},
            })
            res = run_complaintd("-c", str(conf), "migrate", timeout=120)
            if res.returncode != 0:
                raise RuntimeError(f"migrate: {res.stdout}{res.stderr}")
            self.d = Daemon(conf, self.work / "complaintd.log", self.work / "notify.sock")
            return self
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def __exit__(self, *exc) -> None:
        d = self.d
        if d is not None:
            d.terminate(60)
            d.close()
        try:
            self.broker.stop()
        except AssertionError as e:
            print(e, file=sys.stderr)
        self.pg.cleanup()
        shutil.rmtree(self.work, ignore_errors=True)


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


LATEST = ("SELECT DISTINCT ON (waybill) event_id, waybill, scan_type, site, site_role, occurred_at, "
          "min(occurred_at) FILTER (WHERE scan_type = 'pickup') OVER (PARTITION BY waybill) "
          "FROM parcel_scans ORDER BY waybill, occurred_at DESC")


def parcels(n: int) -> int:
    with Bench("event") as b:
        pg, d = b.pg, b.d
        conn = psycopg2.connect(pg.conninfo)
        t = int(BASE.timestamp())
        with conn, conn.cursor() as cur:
            for lo in range(0, n, 100000):
                buf = io.StringIO()
                for i in range(lo, min(n, lo + 100000)):
                    wb, o, h, part = f"SF{i:010d}", f"O{i % 500}", f"H{i % 40}", i % PARTITIONS
                    off = 3 * (i // PARTITIONS)
                    buf.write(f"p{i}\t{wb}\tpickup\t{o}\torigin\t\\N\t\\N\t{t}\t{part}\t{off}\n")
                    buf.write(f"d{i}\t{wb}\tdepart\t{o}\torigin\t{h}\thub\t{t + 86400}\t{part}\t{off + 1}\n")
                    buf.write(f"a{i}\t{wb}\tarrive\t{h}\thub\t\\N\t\\N\t{t + 2 * 86400}\t{part}\t{off + 2}\n")
                buf.seek(0)
                cur.execute("CREATE TEMP TABLE IF NOT EXISTS seed (event_id text, waybill text, scan_type text, "
                            "site text, site_role text, next_site text, next_site_role text, at bigint, "
                            "part integer, off bigint)")
                cur.copy_expert("COPY seed FROM STDIN", buf)
                cur.execute("INSERT INTO parcel_scans (event_id, waybill, scan_type, site, site_role, next_site, "
                            "next_site_role, occurred_at, source_topic, source_partition, source_offset) "
                            "SELECT event_id, waybill, scan_type, site, site_role, next_site, next_site_role, "
                            "to_timestamp(at), %s, part, off FROM seed", (harness.DEFAULT_TOPICS["scans_topic"],))
                cur.execute("TRUNCATE seed")
            cur.execute("ANALYZE parcel_scans")

        t1 = time.monotonic()
        d.start(wait_ready=True, timeout=600)
        restart = time.monotonic() - t1
        peak_kb = status_kb(d.pid, "VmHWM")
        time.sleep(2)
        rss_kb = status_kb(d.pid, "VmRSS")
        loaded = [ln for ln in d.log.splitlines() if "loaded " in ln][-1]
        d.stop(120)

        t2 = time.monotonic()
        with conn.cursor() as cur:
            cur.copy_expert(f"COPY ({LATEST}) TO STDOUT (FORMAT binary)", io.BytesIO())
        copy_sec = time.monotonic() - t2
        conn.close()
        print(f"parcels={n} scans={3 * n} restart_sec={restart:.2f} copy_out_sec={copy_sec:.2f} "
              f"ratio_vs_copy_out={copy_sec / restart:.3f}")
        print(f"peak_rss_mib={peak_kb / 1024:.0f} peak_bytes_per_parcel={peak_kb * 1024 / n:.0f} "
              f"rss_mib={rss_kb / 1024:.0f} rss_bytes_per_parcel={rss_kb * 1024 / n:.0f} "
              f"log: {loaded.split(': ', 1)[-1]}")
        return 0


def history(n: int) -> int:
    with Bench("wall") as b:
        pg, d = b.pg, b.d
        conn = psycopg2.connect(pg.conninfo)
        old = int(time.time()) - 40 * 86400
        with conn, conn.cursor() as cur:
            for lo in range(0, n, 200000):
                buf = io.StringIO()
                for i in range(lo, min(n, lo + 200000)):
                    k = i // 4
                    at = datetime.fromtimestamp(old + k, timezone.utc).isoformat()
                    if i % 1000 < 4:  # a pair, firing and resolved, of each
                        kind = "bulk_complaint" if i % 1000 < 2 else "parcel_stalled"
                        aid = f"{kind}/damage/S{k}/{old + k}" if kind == "bulk_complaint" else f"{kind}/W{k}/{old}"
                        body = (f'{{"category": "damage", "site": "S{k}", "window_start": "{at}", '
                                f'"resolved_at": "{at}", "ticket_ids": []}}')
                        tid = "\\N"
                    else:
                        kind = "sla_warning" if i % 4 < 2 else "sla_breach"
                        aid, tid = f"{kind}/H{k:09d}/1/contact", f"H{k:09d}"
                        body = f'{{"ticket_id": "{tid}", "stage": "contact", "round": 1, "condition_at": "{at}"}}'
                    status = "firing" if i % 2 == 0 else "resolved"
                    buf.write(f"{aid}\t{status}\t{kind}\t{tid}\t{at}\t{at}\t{body}\n")
                buf.seek(0)
                cur.copy_expert("COPY alerts (alert_id, status, type, ticket_id, condition_at, emitted_at, payload) "
                                "FROM STDIN", buf)
            cur.execute("INSERT INTO daemon_state (key, value) VALUES ('outbox_acked', "
                        "to_jsonb((SELECT max(seq) FROM alerts))) "
                        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value")
            # and the tickets of those alerts, closed long ago: a quarter as many rows
            closed = datetime.fromtimestamp(old - 200 * 86400, timezone.utc).isoformat()
            snap = "\\\\x" + "ab" * 150
            for lo in range(0, n // 4, 200000):
                buf = io.StringIO()
                for k in range(lo, min(n // 4, lo + 200000)):
                    buf.write(f"H{k:09d}\tclosed\t1\tnormal\t{{}}\thotline\tdamage\tf\tf\t{closed}\t{closed}\t"
                              f"f\t{closed}\t{closed}\t{snap}\n")
                buf.seek(0)
                cur.copy_expert("COPY tickets (ticket_id, status, round, priority, reasons, channel, category, claim, "
                                "major, received_at, round_started_at, paused, closed_at, last_resolved_at, snapshot) "
                                "FROM STDIN", buf)
            cur.execute("ANALYZE alerts")
            cur.execute("ANALYZE tickets")
        size = harness.scalar(pg.conninfo, "SELECT pg_size_pretty(pg_total_relation_size('alerts'))")
        tsize = harness.scalar(pg.conninfo, "SELECT pg_size_pretty(pg_total_relation_size('tickets'))")

        def start() -> float:
            t1 = time.monotonic()
            d.start(wait_ready=True, timeout=900)
            took = time.monotonic() - t1
            if d.stop(120) != 0:
                raise RuntimeError("complaintd did not stop cleanly")
            return took

        start()  # the server's cache as warm for each
        with_history = start()
        with conn, conn.cursor() as cur:
            cur.execute("TRUNCATE alerts")
        no_alerts = start()
        with conn, conn.cursor() as cur:
            cur.execute("TRUNCATE tickets")
        without = start()
        conn.close()
        print(f"alerts={n} ({size}) closed_tickets={n // 4} ({tsize}) restart_sec={with_history:.2f} "
              f"restart_without_the_alerts_sec={no_alerts:.2f} restart_without_either_sec={without:.2f} "
              f"ratio={without / with_history:.3f}")
        return 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "history":
        return history(int(sys.argv[2]) if len(sys.argv) > 2 else 5000000)
    if len(sys.argv) > 1 and sys.argv[1] == "parcels":
        return parcels(int(sys.argv[2]) if len(sys.argv) > 2 else 1000000)
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    with Bench("event") as b:
        pg, d = b.pg, b.d
        d.start(wait_ready=True, timeout=120)
        time.sleep(2)
        empty_kb = status_kb(d.pid, "VmRSS")

        t0 = time.monotonic()
        harness.produce(b.broker.bootstrap, COMPLAINTS, events(n), key_field="ticket_id", timeout=900)
        produced = time.monotonic() - t0
        last, last_change = -1, time.monotonic()
        while True:
            c = harness.scalar(pg.conninfo, "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets")
            if c >= n:
                break
            if not d.running:
                raise RuntimeError(f"complaintd exited with {d.proc.returncode}")
            if c != last:
                last, last_change = c, time.monotonic()
            elif time.monotonic() - last_change > STALL_SEC:
                raise RuntimeError(f"no progress for {STALL_SEC} s ({c} of {n})")
            time.sleep(0.5)
        applied = time.monotonic() - t0
        time.sleep(2)
        full_kb = status_kb(d.pid, "VmRSS")
        if d.stop(120) != 0:
            raise RuntimeError("complaintd did not stop cleanly")

        t1 = time.monotonic()
        d.start(wait_ready=True, timeout=600)
        restart = time.monotonic() - t1
        time.sleep(2)
        again_kb = status_kb(d.pid, "VmRSS")
        loaded = [ln for ln in d.log.splitlines() if "loaded " in ln][-1]
        d.stop(120)

        # the ceiling: the same rows out of PostgreSQL, doing nothing with them
        conn = psycopg2.connect(pg.conninfo)
        t2 = time.monotonic()
        with conn.cursor() as cur:
            buf = io.BytesIO()
            cur.copy_expert("COPY (SELECT snapshot FROM tickets) TO STDOUT (FORMAT binary)", buf)
        copy_sec = time.monotonic() - t2
        conn.close()

        print(f"tickets={n} rss_mib={full_kb / 1024:.0f} rss_bytes_per_ticket={full_kb * 1024 / n:.0f} "
              f"empty_daemon_mib={empty_kb / 1024:.0f} tickets_bytes_per_ticket={(full_kb - empty_kb) * 1024 / n:.0f}")
        print(f"restart_sec={restart:.2f} copy_out_sec={copy_sec:.2f} ratio_vs_copy_out={copy_sec / restart:.3f} "
              f"rss_after_restart_mib={again_kb / 1024:.0f} rss_after_restart_bytes_per_ticket={again_kb * 1024 / n:.0f}")
        print(f"apply_sec={applied:.1f} produce_sec={produced:.1f} log: {loaded.split(': ', 1)[-1]}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
