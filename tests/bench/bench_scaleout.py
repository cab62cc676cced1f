#!/usr/bin/python3
"""bench_scaleout: what N `role = parcels` daemons give together on one
machine, next to one, measured in the same run. See README.md beside this file.

    COMPLAINTD_BUILD=build /usr/bin/python3 tests/bench/bench_scaleout.py [N_LIST] [SCANS]

N_LIST (default 1,2,4): the instance counts, run in that order, each on a
fresh dev broker and PostgreSQL server. SCANS (default 800,000): the scans
of every round, the same ones (bench_throughput.py's `scans` events: four
scans a parcel), over 64 partitions in all.

A desk's state cannot yet be spread over the members of one consumer group
(docs/architecture.md, "Scaling"): every instance here is a desk of its
own, with its own scans topic (64 / N partitions), consumer group and
database on the one server, and the parcels are split between them by
waybill, as a producer keying by waybill would split them over partitions.
Nothing is shared but the broker and the PostgreSQL server, so the figure
is what N instances of a partition-owned desk could reach on this machine
at best: the cost of sharing one group and one database is not in it.

The figure is SCANS / the time from starting the instances until their
committed offsets cover every scan. The same run measures the ceilings of
bench_throughput.py (a plain librdkafka consumer of the same scans, which
reads the N topics together, and a `COPY` of the same rows), and where the
machine's CPU went during the daemons' run: the CPU time of each kind of
process (the daemons, the PostgreSQL server's sessions of the daemons, its
autovacuum, its WAL writer, checkpointer and background writer, the dev
broker) from /proc, as a share of all the CPU the run used and of the
machine's (cores x wall time).

It prints figures only and checks no time limit.
"""

from __future__ import annotations

import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

import bench_throughput as bt  # noqa: E402
import harness  # noqa: E402  (reads COMPLAINTD_BUILD)
from harness import Broker, Daemon, Postgres, run_complaintd, write_ini  # noqa: E402

# the dev broker keeps about 5 MB a partition: 64 partitions hold a
# million scans
PARTITIONS = 64


def one_round(n: int, events: list[dict]) -> dict:
    work = Path(tempfile.mkdtemp(prefix="cd-scale-"))
    topics = [f"scans.{k}" for k in range(n)]
    pg = Postgres()
    broker = Broker(work / "broker", partitions=PARTITIONS // n,
                    topics=[*topics, harness.COMPLAINTS, harness.ALERTS, harness.DLQ])
    daemons: list[Daemon] = []
    dbs: list[str] = []
    ok = False
    try:
        pg.start()
        broker.start()
        shares = [[] for _ in range(n)]
        for e in events:
            shares[int(e["waybill"][2:]) % n].append(e)
        confs = []
        for k in range(n):
            db = pg.create_database()
            dbs.append(db)
            conf = work / f"complaintd-{k}.conf"
            write_ini(conf, {
                "kafka": {"brokers": broker.bootstrap, "group_id": f"scale-{k}-{secrets.token_hex(3)}",
                          **harness.DEFAULT_TOPICS, "scans_topic": topics[k]},
                "postgres": {"conninfo": db},
                "clock": {"mode": "event"},
                "daemon": {"log_level": "info", "role": "parcels"},
            })
            res = run_complaintd("-c", str(conf), "migrate", timeout=120)
            if res.returncode != 0:
                raise RuntimeError(f"migrate: {res.stdout}{res.stderr}")
            harness.produce(broker.bootstrap, topics[k], shares[k], key_field="waybill", timeout=600)
            confs.append(conf)

        def committed() -> int:
            return sum(harness.scalar(db, "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets")
                       for db in dbs)

        before = bt.cpu_by_kind()
        t0 = time.monotonic()
        for k, conf in enumerate(confs):
            d = Daemon(conf, work / f"complaintd-{k}.log", work / f"notify-{k}.sock")
            daemons.append(d)
            d.start(wait_ready=False)
        t1 = bt.wait_progress(daemons[0], "scans committed", committed, len(events))
        after = bt.cpu_by_kind()
        for d in daemons:
            if not d.running:
                raise RuntimeError(f"a complaintd exited with {d.proc.returncode}")
        wall = t1 - t0
        for d in daemons:
            rc = d.stop(60)
            if rc != 0:
                raise RuntimeError(f"complaintd exited with {rc} on SIGTERM")
        alerts = sum(harness.scalar(db, "SELECT count(*) FROM alerts") for db in dbs)
        consumer_sec = bt.consumer_ceiling(broker.bootstrap, topics, len(events), PARTITIONS // n)
        copy_sec = bt.copy_ceiling(pg.conninfo, bt.SCANS_DDL, "bench_scans", bt.scan_rows(events))
        ok = True
        return {"wall": wall, "cpu": bt.cpu_delta(before, after), "alerts": alerts,
                "consumer": len(events) / consumer_sec, "copy": len(events) / copy_sec}
    finally:
        for k, d in enumerate(daemons):
            bt.stop_daemon(d, f"complaintd {k}", show_log=not ok)
        bt.teardown(broker.stop, pg.cleanup, lambda: shutil.rmtree(work, ignore_errors=True))


def main() -> int:
    counts = [int(x) for x in (sys.argv[1] if len(sys.argv) > 1 else "1,2,4").split(",")]
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 800000
    if any(c < 1 or PARTITIONS % c for c in counts):
        print(f"usage: bench_scaleout.py [N,N,...] [SCANS]; each N divides {PARTITIONS}", file=sys.stderr)
        return 2
    events = bt.scan_events(total)
    base = None
    for n in counts:
        r = one_round(n, events)
        rate = total / r["wall"]
        base = base or rate
        lower = min(r["consumer"], r["copy"])
        print(f"instances={n} scans={total} scans_per_sec={rate:.0f} vs_first_round={rate / base:.2f} "
              f"consumer_ceiling_per_sec={r['consumer']:.0f} copy_ceiling_per_sec={r['copy']:.0f} "
              f"ratio_vs_lower={rate / lower:.3f} alerts={r['alerts']} wall_sec={r['wall']:.2f}")
        print(f"instances={n} " + bt.cpu_line(r["cpu"], r["wall"]))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
