#!/usr/bin/python3
"""bench_storm: the deadline storm of "Hold up under volume", measured.

    COMPLAINTD_BUILD=build /usr/bin/python3 tests/bench/bench_storm.py [N ...]

For each N (default 25,000 50,000 100,000): N `received` events, produced
before the daemon starts; once they are applied (the tickets are in
memory), one event 40 days later, so that every deadline of every ticket
falls due at once in event mode: 6 N alert transitions (a warning and a
breach for contact, first reply and resolve). The run ends when every
alert row is marked sent, that is when the broker has acknowledged every
alert, without a restart.

It reports the daemon's peak RSS (VmHWM in /proc) and the peak private
memory of the PostgreSQL backend serving it (RssAnon in /proc, sampled
every 0.2 s; the backend's VmHWM would count the shared buffers it touched,
which is the server's cache, not the backend growing), and how those peaks
grow with N: "flat" means the storm's memory does not grow with the number of
deadlines due at once. The memory held for the tickets themselves does
grow with N, so the daemon's resident size is also taken just before the
storm: `storm_mib` = peak - that, what the storm itself costs.

A fresh broker and database per N. It prints figures only and checks no
limit; it exits non-zero when something does not work.
"""

from __future__ import annotations

import secrets
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

import harness  # noqa: E402  (reads COMPLAINTD_BUILD)
from harness import COMPLAINTS, Broker, Daemon, Postgres, run_complaintd, write_ini  # noqa: E402

# The dev broker keeps ~5 MiB a partition: 600,000 alerts are ~350 MiB, so
# older alerts drop out of the topic (the broker still acknowledges them,
# which is what the run waits for). The input stays whole.
PARTITIONS = 32
STALL_SEC = 120
POLL = 0.2
CST = timezone(timedelta(hours=8))
BASE = datetime(2025, 11, 24, 8, 0, tzinfo=CST)


def events(n: int) -> list[dict]:
    evs: list[dict] = []
    for i in range(n):
        t = BASE + timedelta(seconds=i % 3600)
        evs.append({"schema": "complaint.v1", "event_id": f"S{i}", "ticket_id": f"S{i:07d}", "type": "received",
                    "occurred_at": t.isoformat(), "channel": "hotline", "category": "damage",
                    "waybill": f"SF{i:012d}", "site": f"SITE-{i % 500}"})
    return evs


FAR = {"schema": "complaint.v1", "event_id": "S-far", "ticket_id": "S-far", "type": "received",
       "occurred_at": (BASE + timedelta(days=40)).isoformat(), "channel": "hotline", "category": "damage"}


def status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def backend_pids(conninfo: str) -> list[int]:
    rows = harness.query(conninfo, "SELECT pid FROM pg_stat_activity WHERE application_name = 'complaintd'")
    return [r[0] for r in rows]


def run(n: int, work: Path, pg: Postgres) -> dict:
    broker = Broker(work / f"broker-{n}", partitions=PARTITIONS)
    db = pg.create_database()
    d = None
    try:
        broker.start()
        conf = work / f"complaintd-{n}.conf"
        write_ini(conf, {
            "kafka": {"brokers": broker.bootstrap, "group_id": f"bench-{secrets.token_hex(4)}",
                      **harness.DEFAULT_TOPICS},
            "postgres": {"conninfo": db},
            "clock": {"mode": "event"},
            "daemon": {"log_level": "info"},
        })
        res = run_complaintd("-c", str(conf), "migrate", timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"migrate: {res.stdout}{res.stderr}")
        harness.produce(broker.bootstrap, COMPLAINTS, events(n), key_field="ticket_id", timeout=300)
        want = 6 * n
        d = Daemon(conf, work / f"complaintd-{n}.log", work / f"notify-{n}.sock")
        d.start(wait_ready=True, timeout=120)
        harness.wait_for(lambda: harness.scalar(db, "SELECT count(*) FROM ticket_events") >= n, timeout=600,
                         interval=POLL, what="the received events to be applied")
        time.sleep(1)
        base_kb = status_kb(d.pid, "VmRSS")
        t0 = time.monotonic()
        harness.produce(broker.bootstrap, COMPLAINTS, [FAR], key_field="ticket_id")
        backend_hwm: dict[int, int] = {}
        daemon_hwm = 0
        last, last_change = -1, time.monotonic()
        while True:
            for pid in backend_pids(db):
                backend_hwm[pid] = max(backend_hwm.get(pid, 0), status_kb(pid, "RssAnon"))
            daemon_hwm = max(daemon_hwm, status_kb(d.pid, "VmHWM"))
            sent = harness.scalar(db, "SELECT count(*) FROM alerts WHERE seq <= complaintd_outbox_acked()")
            now = time.monotonic()
            if sent >= want:
                elapsed = now - t0
                break
            if not d.running:
                raise RuntimeError(f"complaintd exited with {d.proc.returncode} after {sent} of {want} alerts")
            if sent != last:
                last, last_change = sent, now
            elif now - last_change > STALL_SEC:
                raise RuntimeError(f"no progress for {STALL_SEC} s ({sent} of {want} alerts sent)")
            time.sleep(POLL)
        rc = d.stop(60)
        if rc != 0:
            raise RuntimeError(f"complaintd exited with {rc} on SIGTERM")
        return {
            "tickets": n, "alerts": want, "seconds": elapsed, "alerts_per_sec": want / elapsed,
            "daemon_peak_mib": daemon_hwm / 1024, "daemon_before_mib": base_kb / 1024,
            "storm_mib": (daemon_hwm - base_kb) / 1024,
            "backend_peak_mib": max(backend_hwm.values() or [0]) / 1024,
        }
    finally:
        if d is not None:
            d.terminate(30)
            d.close()
        try:
            broker.stop()
        except AssertionError as e:
            print(e, file=sys.stderr)
        pg.drop_database(db)


def main() -> int:
    sizes = [int(a) for a in sys.argv[1:]] or [25000, 50000, 100000]
    work = Path(tempfile.mkdtemp(prefix="cd-storm-"))
    pg = Postgres()
    try:
        pg.start()
        results = [run(n, work, pg) for n in sizes]
        for r in results:
            print(f"tickets={r['tickets']} alerts={r['alerts']} seconds={r['seconds']:.1f} "
                  f"alerts_per_sec={r['alerts_per_sec']:.0f} daemon_peak_mib={r['daemon_peak_mib']:.0f} "
                  f"daemon_before_storm_mib={r['daemon_before_mib']:.0f} storm_mib={r['storm_mib']:.0f} "
                  f"backend_peak_mib={r['backend_peak_mib']:.0f} "
                  f"daemon_bytes_per_ticket={r['daemon_before_mib'] * 2**20 / r['tickets']:.0f}")
        if len(results) > 1:
            a, b = results[0], results[-1]
            print(f"growth from {a['tickets']} to {b['tickets']} tickets ({b['tickets'] / a['tickets']:.0f}x): "
                  f"storm {b['storm_mib'] / max(a['storm_mib'], 1):.2f}x, "
                  f"backend {b['backend_peak_mib'] / max(a['backend_peak_mib'], 1):.2f}x, "
                  f"daemon peak {b['daemon_peak_mib'] / a['daemon_peak_mib']:.2f}x")
        return 0
    finally:
        pg.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
