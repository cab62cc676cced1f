#!/usr/bin/python3
"""bench_throughput: end-to-end throughput of the real daemon, as ratios
against ceilings measured in the same run. See README.md beside this file.

    COMPLAINTD_BUILD=build /usr/bin/python3 tests/bench/bench_throughput.py complaints [N]
    COMPLAINTD_BUILD=build /usr/bin/python3 tests/bench/bench_throughput.py scans [N]
    COMPLAINTD_BUILD=build /usr/bin/python3 tests/bench/bench_throughput.py mixed [N]

complaints (default N = 100,000): N `received` events over 16 partitions,
produced before complaintd starts (a backlog, as after an outage), spread
over 08:00-18:00 of one day so that each ticket raises exactly a contact
warning and a contact breach in event mode; one last event at 20:00 lets the
last tickets' contact deadlines (two business hours) pass. The figure is N / the wall time from
starting the daemon until the N-th contact breach is on the alerts topic
(a reader follows the topic from the start).

scans (default N = 200,000): N parcel scans of N/4 parcels over 16
partitions; the figure is N / the time until the daemon's committed offsets
cover every scan.

mixed (default N = 200,000): the scans of `scans` and N/10 complaints of
`complaints` together, a backlog of both topics as after an outage; the
figure is every message / the time until the committed offsets cover them
all, and each ceiling is the sum of the two topics' (consumer, COPY).

Both figures run from starting the daemon, so they include its start.
The second line also prints the rate from the daemon's first assignment
(its "kafka: assigned" log line) to the end: `after_assign_per_sec` and its
ratio to the lower ceiling. The two differed by the dev broker's group join
(about 3 s) while the daemon waited for its consumer group; it now assigns
itself its partitions at once, as the consumer ceiling does.

Two ceilings are measured on the same machine in the same run, after the
daemon has stopped:

  consumer  a plain librdkafka consumer (confluent_kafka, batches of 10,000)
            reading the same N messages from the beginning of every
            partition, doing nothing with them;
  copy      PostgreSQL COPY of the same N rows, as the daemon would store
            them (ticket_events with the JSONB body, or parcel_scans), into
            a fresh table with a primary key, 10,000 rows a COPY, each in
            its own transaction.

With PERF=FILE in the environment the daemon's run is recorded with
`perf record -g` into FILE (perf report -i FILE shows where the time went).
With PG_STATEMENTS=1 the server logs every statement's duration, and the
run ends with the server time per kind of statement (KEEP_PG_LOG=FILE keeps
that log). BATCH_MAX=N sets [daemon] batch_max. ROLE=parcels runs the
scans with [daemon] role = parcels (the scan path alone).

It also prints where the machine's CPU went while the daemon ran: the CPU
time of each kind of process from /proc (the daemon; the PostgreSQL
server's sessions of the daemon, its autovacuum, its WAL writer,
checkpointer and background writer; the dev broker; the rest, this script
included), as a share of all the CPU used and of the machine's.

It prints figures only and checks no time limit; it exits non-zero only
when something does not work (a process dies, progress stops).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import random
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

import psycopg2  # noqa: E402
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition  # noqa: E402

import harness  # noqa: E402  (reads COMPLAINTD_BUILD)
from harness import ALERTS, COMPLAINTS, SCANS, Broker, Daemon, Postgres, run_complaintd, write_ini  # noqa: E402

PARTITIONS = 16
COPY_ROWS = 10000
POLL = 0.1
STALL_SEC = 120  # a liveness check, not a limit on the figure
TICK = os.sysconf("SC_CLK_TCK")

CST = timezone(timedelta(hours=8))
BASE = datetime(2025, 11, 24, 8, 0, tzinfo=CST)
CATEGORIES = ["delay", "damage", "loss", "attitude", "fee", "shortage", "false_signature", "misroute", "other"]
SITES = [f"{c}-{d}" for c in ("SZ", "GZ", "SH", "BJ", "CD", "WH", "XA", "HZ") for d in range(40)]


def complaint_events(n: int, seed: int = 20261123) -> list[dict]:
    rng = random.Random(seed)
    span = 10 * 3600
    evs = []
    for i in range(n):
        t = BASE + timedelta(seconds=span * i // n)
        evs.append({
            "schema": "complaint.v1", "event_id": f"E{i:08d}", "ticket_id": f"T{i:08d}", "type": "received",
            "occurred_at": t.isoformat(), "channel": "hotline", "category": rng.choice(CATEGORIES),
            # 20,000 sites: no site gets bulk_threshold complaints in an hour
            "waybill": f"SF{rng.randrange(10**12):012d}", "site": f"S-{i % 20000:05d}",
            "customer_ref": f"c-{rng.getrandbits(48):012x}",
        })
    evs.append({"schema": "complaint.v1", "event_id": "E-last", "ticket_id": "T-last", "type": "received",
                "occurred_at": (BASE + timedelta(hours=12, seconds=1)).isoformat(), "channel": "hotline",
                "category": "other"})
    return evs


def scan_events(n: int, seed: int = 20261124) -> list[dict]:
    rng = random.Random(seed)
    parcels = max(n // 4, 1)
    chain = [("pickup", "origin"), ("depart", "origin"), ("arrive", "hub"), ("depart", "hub")]
    evs = []
    for i in range(n):
        p, step = i % parcels, i // parcels
        kind, role = chain[step % len(chain)]
        ev = {"schema": "scan.v1", "event_id": f"S{i:09d}", "waybill": f"SF{p:012d}", "scan_type": kind,
              "site": rng.choice(SITES), "site_role": role,
              "occurred_at": (BASE + timedelta(hours=step, seconds=p % 3600)).isoformat()}
        if kind == "depart":
            ev["next_site"] = rng.choice(SITES)
            ev["next_site_role"] = "hub"
        evs.append(ev)
    return evs


class TopicCounter:
    """Follows a topic from the beginning in a thread and counts the
    messages a predicate accepts."""

    def __init__(self, bootstrap: str, topic: str, accept) -> None:
        self.count = 0
        self.bootstrap, self.topic, self.accept = bootstrap, topic, accept
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "bench-" + secrets.token_hex(4),
                      "enable.auto.commit": False})
        c.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
        while not self.stop:
            for m in c.consume(num_messages=10000, timeout=0.2):
                if m.error() is None and self.accept(m.value()):
                    self.count += 1
        c.close()


def postgres_kind(d: Path) -> str:
    """A PostgreSQL process by its title: a session of complaintd (the
    write path), autovacuum, the WAL writer, checkpointer and background
    writer (pg_io), or another (pg_other)."""
    try:
        title = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "pg_other"
    if title.startswith("postgres: complaintd "):
        return "pg_sessions"
    if "autovacuum" in title:
        return "pg_autovacuum"
    if any(w in title for w in ("walwriter", "checkpointer", "background writer")):
        return "pg_io"
    return "pg_other"


def cpu_by_kind() -> dict[int, tuple[str, float]]:
    """pid -> (kind, CPU seconds so far) of every process we can read."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        cpu = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
        if comm == "complaintd":
            kind = "complaintd"
        elif comm.startswith("complaintd-devb"):
            kind = "broker"
        elif comm.startswith("postgres"):
            kind = postgres_kind(d)
        else:
            kind = "other"
        out[int(d.name)] = (kind, cpu)
    return out


def cpu_delta(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds per kind between two samples; a process started between
    them counts whole."""
    total: dict[str, float] = {}
    for pid, (kind, cpu) in after.items():
        prev = before.get(pid)
        used = cpu - (prev[1] if prev and prev[0] == kind else 0.0)
        total[kind] = total.get(kind, 0.0) + max(used, 0.0)
    return total


def cpu_line(cpu: dict[str, float], wall: float) -> str:
    """The CPU of a run by kind: busy share of the machine, then each
    kind's share of the CPU used."""
    used = sum(cpu.values()) or 1.0
    return f"cpu_busy_of_machine={used / ((os.cpu_count() or 1) * wall):.2f} " + " ".join(
        f"{k}_share={v / used:.2f}" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1]))


def teardown(*steps) -> None:
    """Runs every step, whatever the ones before it raised: a report that
    cannot be printed (its pipe closed) must not leave a broker or a
    PostgreSQL server behind."""
    for step in steps:
        try:
            step()
        except Exception as e:  # noqa: BLE001  (the next steps run all the same)
            try:
                print(f"teardown: {e}", file=sys.stderr)
            except OSError:
                pass


def stop_daemon(d: Daemon, name: str, show_log: bool, keep: str | None = None) -> None:
    """Stops a daemon for good: its log's tail on stderr when the run
    failed, the whole log copied to `keep` when given; every step runs."""
    def report() -> None:
        if show_log:
            print(f"---- {name} log ----\n{harness.tail_text(d.log, 60)}", file=sys.stderr)
        if keep:
            shutil.copy(d.log_path, keep)

    teardown(lambda: d.terminate(30), report, d.close)


def wait_progress(d: Daemon, what: str, value, target: int) -> float:
    """Polls value() until it reaches target; returns the monotonic time."""
    last, last_change = -1, time.monotonic()
    while True:
        v = value()
        now = time.monotonic()
        if v >= target:
            return now
        if not d.running:
            raise RuntimeError(f"complaintd exited with {d.proc.returncode} at {v} of {target} {what}")
        if v != last:
            last, last_change = v, now
        elif now - last_change > STALL_SEC:
            raise RuntimeError(f"no progress for {STALL_SEC} s: {v} of {target} {what}")
        time.sleep(POLL)


def consumer_ceiling(bootstrap: str, topic: str | list[str], n: int, partitions: int = PARTITIONS) -> float:
    """Seconds for one plain consumer to read n messages of the topic (or
    of the topics together), from the beginning of each partition."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-" + secrets.token_hex(4),
                  "enable.auto.commit": False})
    t0 = time.monotonic()
    try:
        topics = [topic] if isinstance(topic, str) else topic
        c.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t in topics for p in range(partitions)])
        got, last = 0, time.monotonic()
        while got < n:
            msgs = c.consume(num_messages=10000, timeout=0.5)
            got += sum(1 for m in msgs if m.error() is None)
            if msgs:
                last = time.monotonic()
            elif time.monotonic() - last > STALL_SEC:
                raise RuntimeError(f"consumer ceiling: {got} of {n}")
        return time.monotonic() - t0
    finally:
        c.close()


def copy_text(v) -> str:
    if v is None:
        return "\\N"
    return str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_ceiling(conninfo: str, ddl: str, table: str, rows: list[tuple]) -> float:
    """Seconds to COPY the rows into a fresh `table` (ddl), COPY_ROWS a
    transaction; the text is built before the clock starts."""
    chunks = []
    for i in range(0, len(rows), COPY_ROWS):
        chunks.append("".join("\t".join(copy_text(v) for v in r) + "\n" for r in rows[i:i + COPY_ROWS]))
    conn = psycopg2.connect(conninfo)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
            cur.execute(ddl)
        conn.commit()
        t0 = time.monotonic()
        with conn.cursor() as cur:
            for chunk in chunks:
                cur.copy_expert(f"COPY {table} FROM STDIN", io.StringIO(chunk))
                conn.commit()
        elapsed = time.monotonic() - t0
        with conn.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {table}")
            count = cur.fetchone()[0]
            cur.execute(f"DROP TABLE {table}")
        conn.commit()
        if count != len(rows):
            raise RuntimeError(f"copy ceiling: {count} of {len(rows)} rows")
        return elapsed
    finally:
        conn.close()


EVENTS_DDL = """CREATE TABLE bench_events (event_id text PRIMARY KEY, ticket_id text NOT NULL, type text NOT NULL,
    occurred_at timestamptz NOT NULL, effect text NOT NULL, source_topic text NOT NULL,
    source_partition integer NOT NULL, source_offset bigint NOT NULL, body jsonb NOT NULL)"""
# keyed as parcel_scans is (schema/008_distinct_keys.sql): by the message
SCANS_DDL = """CREATE TABLE bench_scans (event_id text NOT NULL, waybill text NOT NULL, scan_type text NOT NULL,
    site text NOT NULL, site_role text NOT NULL, next_site text, next_site_role text,
    occurred_at timestamptz NOT NULL, source_topic text NOT NULL, source_partition integer NOT NULL,
    source_offset bigint NOT NULL, PRIMARY KEY (source_topic, source_partition, source_offset))"""


def event_rows(evs: list[dict]) -> list[tuple]:
    rows = []
    for i, ev in enumerate(evs):
        body = {k: v for k, v in ev.items() if k not in ("schema", "event_id", "ticket_id")}
        rows.append((ev["event_id"], ev["ticket_id"], ev["type"], ev["occurred_at"], "applied", COMPLAINTS,
                     i % PARTITIONS, i // PARTITIONS, json.dumps(body)))
    return rows


def scan_rows(evs: list[dict]) -> list[tuple]:
    return [(e["event_id"], e["waybill"], e["scan_type"], e["site"], e["site_role"], e.get("next_site"),
             e.get("next_site_role"), e["occurred_at"], SCANS, i % PARTITIONS, i // PARTITIONS)
            for i, e in enumerate(evs)]


def statement_times(log: Path) -> None:
    """Sums the server's logged durations of the daemon's statements by kind."""
    import re
    totals: dict[str, list[float]] = {}
    text = log.read_text(errors="replace")
    pat = r"duration: ([0-9.]+) ms  (?:statement: |plan:\s*Query Text: )\s*(\S+(?: \S+)?(?: \S+)?)"
    for m in re.finditer(pat, text):
        kind = m[2].split("(")[0]
        if "bench_" in kind:
            continue
        totals.setdefault(kind, []).append(float(m[1]))
    for kind, v in sorted(totals.items(), key=lambda kv: -sum(kv[1]))[:15]:
        print(f"pg_statement={kind!r} count={len(v)} total_sec={sum(v) / 1000:.2f}")


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "complaints"
    if mode not in ("complaints", "scans", "mixed"):
        print("usage: bench_throughput.py complaints|scans|mixed [N]", file=sys.stderr)
        return 2
    n = int(sys.argv[2]) if len(sys.argv) > 2 else (100000 if mode == "complaints" else 200000)
    # (topic, key, events) of each input, built for this mode only
    inputs = []
    if mode != "complaints":
        inputs.append((SCANS, "waybill", scan_events(n)))
    if mode != "scans":
        inputs.append((COMPLAINTS, "ticket_id", complaint_events(n if mode == "complaints" else n // 10)))

    work = Path(tempfile.mkdtemp(prefix="cd-bench-"))
    pg = Postgres()
    broker = Broker(work / "broker", partitions=PARTITIONS)
    d: Daemon | None = None
    reader: TopicCounter | None = None
    ok = False
    try:
        pg.start()
        if os.environ.get("PG_STATEMENTS"):
            # every statement, and those inside complaintd_apply_staged() too
            with open(pg.dir / "data" / "postgresql.conf", "a") as f:
                f.write("log_min_duration_statement = 0\nsession_preload_libraries = 'auto_explain'\n"
                        "auto_explain.log_min_duration = 0\nauto_explain.log_nested_statements = on\n"
                        "log_line_prefix = '%m [%p] '\n")
            harness.query(pg.conninfo, "SELECT pg_reload_conf()")
        broker.start()
        conf = work / "complaintd.conf"
        write_ini(conf, {
            "kafka": {"brokers": broker.bootstrap, "group_id": f"bench-{secrets.token_hex(4)}",
                      **harness.DEFAULT_TOPICS},
            "postgres": {"conninfo": pg.conninfo},
            "clock": {"mode": "event"},
            "daemon": {"log_level": os.environ.get("LOG_LEVEL", "info"), "role": os.environ.get("ROLE"),
                       "batch_max": os.environ.get("BATCH_MAX")},
        })
        res = run_complaintd("-c", str(conf), "migrate", timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"migrate: {res.stdout}{res.stderr}")
        for topic, key, evs in inputs:
            harness.produce(broker.bootstrap, topic, evs, key_field=key, timeout=600)
        total = sum(len(evs) for _, _, evs in inputs)

        if mode == "complaints":
            reader = TopicCounter(broker.bootstrap, ALERTS, lambda v: b'"sla_breach' in v and b'"firing"' in v)
            reader.thread.start()
        d = Daemon(conf, work / "complaintd.log", work / "notify.sock")
        cpu0 = cpu_by_kind()
        t0, t0_wall = time.monotonic(), time.time()
        d.start(wait_ready=True, timeout=120)
        ready = time.monotonic() - t0
        perf = None
        if os.environ.get("PERF"):
            perf = subprocess.Popen(["perf", "record", "--call-graph", os.environ.get("PERF_CALLGRAPH", "fp"), "-o",
                                     os.environ["PERF"], "-p", str(d.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if mode == "complaints":
            t1 = wait_progress(d, "breaches on the topic", lambda: reader.count, n)
        else:
            t1 = wait_progress(d, "messages committed", lambda: harness.scalar(
                pg.conninfo, "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets"), total)
        daemon_sec = t1 - t0
        cpu = cpu_delta(cpu0, cpu_by_kind())
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait(60)
        hwm_kb = int([ln for ln in Path(f"/proc/{d.pid}/status").read_text().splitlines()
                      if ln.startswith("VmHWM:")][0].split()[1])
        rc = d.stop(60)
        if rc != 0:
            raise RuntimeError(f"complaintd exited with {rc} on SIGTERM")
        if reader:
            reader.stop = True
            reader.thread.join(5)
        alerts = harness.scalar(pg.conninfo, "SELECT count(*) FROM alerts")
        by_type = harness.query(pg.conninfo, "SELECT type || '/' || status, count(*) FROM alerts GROUP BY 1 ORDER BY 1")

        consumer_sec = copy_sec = 0.0
        for topic, _, evs in inputs:
            consumer_sec += consumer_ceiling(broker.bootstrap, topic, len(evs))
            if topic == COMPLAINTS:
                copy_sec += copy_ceiling(pg.conninfo, EVENTS_DDL, "bench_events", event_rows(evs))
            else:
                copy_sec += copy_ceiling(pg.conninfo, SCANS_DDL, "bench_scans", scan_rows(evs))

        assigned = [ln for ln in d.log.splitlines() if "kafka: assigned" in ln]
        assign_sec = (datetime.fromisoformat(assigned[0].split()[0].rstrip("Z") + "+00:00").timestamp()
                      - t0_wall) if assigned else 0.0
        # complaints: the figure counts the events, not the last one that
        # moves the clock; mixed: every message of both topics
        counted = total if mode == "mixed" else n
        rate, crate, prate = counted / daemon_sec, total / consumer_sec, total / copy_sec
        arate = counted / (daemon_sec - assign_sec)
        print(f"mode={mode} n={n} daemon_per_sec={rate:.0f} consumer_ceiling_per_sec={crate:.0f} "
              f"copy_ceiling_per_sec={prate:.0f} ratio_vs_copy={rate / prate:.3f} "
              f"ratio_vs_consumer={rate / crate:.3f} ratio_vs_lower={rate / min(crate, prate):.3f}")
        print(f"daemon_sec={daemon_sec:.2f} ready_sec={ready:.2f} assigned_sec={assign_sec:.2f} "
              f"after_assign_per_sec={arate:.0f} after_assign_ratio_vs_lower={arate / min(crate, prate):.3f} "
              f"alerts={alerts} peak_rss_kib={hwm_kb}")
        print(cpu_line(cpu, daemon_sec))
        if by_type:
            print("alerts_by_type " + " ".join(f"{k}={v}" for k, v in by_type))
        if os.environ.get("PG_STATEMENTS"):
            statement_times(pg.dir / "postgres.log")
            if os.environ.get("KEEP_PG_LOG"):
                shutil.copy(pg.dir / "postgres.log", os.environ["KEEP_PG_LOG"])
        ok = True
        return 0
    finally:
        if reader:
            reader.stop = True
        if d is not None:
            stop_daemon(d, "complaintd", show_log=not ok, keep=os.environ.get("KEEP_LOG"))
        teardown(broker.stop, pg.cleanup, lambda: shutil.rmtree(work, ignore_errors=True))


if __name__ == "__main__":
    sys.exit(main())
