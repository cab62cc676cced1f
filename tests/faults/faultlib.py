"""Helpers of the fault suite, on top of tests/integration/harness.py.

The harness does the real work (processes, topics, PostgreSQL); this module
adds what only fault tests need: a PostgreSQL that can be stopped and started
again on its port, a fixed-port TCP relay in front of the dev broker (which
cannot be restarted on a port of its choosing), a topic collector that keeps
reading across a broker restart, the metrics and the memory of a process,
clean reference runs, and the checks every case ends with.
"""

from __future__ import annotations

import re
import secrets
import select
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Callable

from confluent_kafka import Consumer, KafkaError, TopicPartition

import harness
from harness import (ALERTS, COMPLAINTS, DLQ, PG_LOCAL, SCANS, Postgres, Record, produce, query, read_records,
                     scalar, wait_for)

# --------------------------------------------------------------------------
# PostgreSQL that a test may stop


class RestartablePostgres(Postgres):
    """deploy/pg-local.sh's server, private to one test: stop() and restart()
    (on the same port, so the daemon's conninfo stays valid)."""

    def restart(self) -> None:
        res = subprocess.run(["bash", str(PG_LOCAL), "start", str(self.dir), str(self.port)],
                             capture_output=True, text=True, timeout=180, env=getattr(self, "env", None))
        assert res.returncode == 0, f"pg-local.sh start failed:\n{res.stdout}\n{res.stderr}"

    def running(self) -> bool:
        try:
            scalar(self.conninfo, "SELECT 1")
            return True
        except Exception:
            return False


# --------------------------------------------------------------------------
# The daemon's outside: metrics, memory, log


def metrics(listen: str) -> dict[str, int]:
    """Every sample of /metrics as name -> value."""
    with urllib.request.urlopen(f"http://{listen}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {m[1]: int(m[2]) for m in re.finditer(r"^([a-z_]+) (-?\d+)$", text, re.M)}


def metric(listen: str, name: str) -> int:
    m = metrics(listen)
    assert name in m, f"{name} not exported"
    return m[name]


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM... of /proc/<pid>/status, in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            m = re.match(r"^(Vm\w+):\s+(\d+) kB", line)
            if m:
                out[m[1]] = int(m[2])
    return out


def log_size(d: harness.Daemon) -> int:
    return d.log_path.stat().st_size if d.log_path.exists() else 0


def log_from(d: harness.Daemon, offset: int) -> str:
    with open(d.log_path, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def wait_log_from(d: harness.Daemon, offset: int, pattern: str, timeout: float = 30, count: int = 1,
                  interval: float = 0.005):
    """Waits until pattern has matched `count` lines that the log got after
    offset; returns the last match, or None on timeout or when the daemon
    exits. Polls fast, so a test can act (kill) within milliseconds of the
    line."""
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    pos = offset
    rest = b""
    seen = 0
    with open(d.log_path, "rb") as f:
        while True:
            f.seek(pos)
            chunk = f.read()
            if chunk:
                pos += len(chunk)
                lines = (rest + chunk).split(b"\n")
                rest = lines.pop()  # an unfinished line waits for its end
                for line in lines:
                    m = rx.search(line.decode(errors="replace"))
                    if m:
                        seen += 1
                        if seen >= count:
                            return m
            if time.monotonic() >= deadline or not d.running:
                return None
            time.sleep(interval)


def log_times(text: str, pattern: str) -> list[float]:
    """Unix times of the log lines matching pattern (lines start with an
    RFC 3339 UTC time)."""
    from datetime import datetime
    out = []
    rx = re.compile(pattern)
    for line in text.splitlines():
        if rx.search(line):
            m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z", line)
            if m:
                out.append(datetime.fromisoformat(m[1] + "+00:00").timestamp())
    return out


# --------------------------------------------------------------------------
# Kafka


class TopicCollector:
    """Reads a topic from the beginning in a thread, for as long as the test
    runs, and keeps every record it saw. Unlike harness.read_records it
    survives the broker going away and coming back (through a relay), so
    what the old broker had is kept when the new one starts empty."""

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.partitions = partitions
        self.records: list[tuple[int, int, dict]] = []  # (generation, partition, data)
        self.generation = 0
        self._lock = threading.Lock()
        self._stop = False
        self._reset = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "TopicCollector":
        self._thread.start()
        return self

    def new_generation(self) -> None:
        """The broker was replaced by an empty one: read again from offset 0."""
        with self._lock:
            self.generation += 1
        self._reset.set()

    def _consumer(self) -> Consumer:
        c = Consumer({
            "bootstrap.servers": self.bootstrap,
            "group.id": "faults-collector-" + secrets.token_hex(4),
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "reconnect.backoff.max.ms": 500,
            "topic.metadata.refresh.interval.ms": 1000,
        })
        c.assign([TopicPartition(self.topic, p, -2) for p in range(self.partitions)])
        return c

    def _run(self) -> None:
        c = self._consumer()
        try:
            while not self._stop:
                if self._reset.is_set():
                    self._reset.clear()
                    c.close()
                    c = self._consumer()
                msg = c.poll(0.2)
                if msg is None or msg.error():
                    continue
                with self._lock:
                    self.records.append((self.generation, msg.partition(), Record(msg).data))
        finally:
            c.close()

    def keys(self, generation: int | None = None) -> list[tuple[str, str]]:
        with self._lock:
            return [(d["alert_id"], d["status"]) for g, _, d in self.records
                    if "alert_id" in d and (generation is None or g == generation)]

    def stop(self) -> None:
        self._stop = True
        self._thread.join(10)


class KafkaRelay:
    """A broker on a fixed loopback port, relayed to a dev broker that can be
    replaced: what a broker restarted on its own port looks like to a client.

    The dev broker cannot be told its port (tools/devbroker.c: the mock
    cluster listens on a port the kernel chooses), and it advertises that
    port in its metadata, so a plain TCP relay would only carry the bootstrap
    connection. This relay also rewrites the port of every broker in
    Metadata responses and of the coordinator in FindCoordinator responses
    to its own (the host, 127.0.0.1, stays), so every connection of the
    client goes through it. retarget() points new connections at another
    broker and cuts the open ones; retarget(None) closes the port meanwhile,
    as a stopped broker's is."""

    METADATA, FIND_COORDINATOR = 3, 10

    def __init__(self, target: str) -> None:
        self.port = 0
        self.rewritten = 0
        self._closed = False
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self.sock: socket.socket | None = None
        self.retarget(target)
        self.address = f"127.0.0.1:{self.port}"

    def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        self.port = sock.getsockname()[1]
        self.sock = sock
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def retarget(self, target: str | None) -> None:
        """New connections go to target; the open ones are cut. None: the
        port is closed (connections are refused) until the next retarget."""
        self.target = target
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        if target is None and self.sock is not None:
            self.sock.close()
            self.sock = None
        elif target is not None and self.sock is None:
            self._listen()

    def close(self) -> None:
        self._closed = True
        self.retarget(None)

    def _accept(self, sock: socket.socket) -> None:
        while not self._closed:
            try:
                client, _ = sock.accept()
            except OSError:
                return
            target = self.target
            try:
                if target is None:
                    raise OSError("no broker")
                host, port = target.rsplit(":", 1)
                upstream = socket.create_connection((host, int(port)), timeout=2)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._run, args=(client, upstream), daemon=True).start()

    def _run(self, client: socket.socket, upstream: socket.socket) -> None:
        pending: dict[int, tuple[int, int]] = {}  # correlation id -> (api key, version)
        bufs = {client: b"", upstream: b""}
        try:
            while True:
                r, _, _ = select.select([client, upstream], [], [], 1.0)
                for s in r:
                    data = s.recv(1 << 16)
                    if not data:
                        return
                    buf = bufs[s] + data
                    out = bytearray()
                    while len(buf) >= 4:
                        n = int.from_bytes(buf[:4], "big", signed=True)
                        if len(buf) < 4 + n:
                            break
                        frame = bytearray(buf[:4 + n])
                        buf = buf[4 + n:]
                        if s is client:
                            api, ver, corr = (int.from_bytes(frame[4:6], "big"), int.from_bytes(frame[6:8], "big"),
                                              int.from_bytes(frame[8:12], "big", signed=True))
                            pending[corr] = (api, ver)
                        else:
                            corr = int.from_bytes(frame[4:8], "big", signed=True)
                            api, ver = pending.pop(corr, (-1, 0))
                            if api in (self.METADATA, self.FIND_COORDINATOR):
                                self._rewrite(frame, api, ver)
                        out += frame
                    bufs[s] = buf
                    if out:
                        (upstream if s is client else client).sendall(out)
        except (OSError, ValueError):
            return
        finally:
            for s in (client, upstream):
                try:
                    s.close()
                except OSError:
                    pass

    def _rewrite(self, f: bytearray, api: int, ver: int) -> None:
        """Sets the port of every broker address in the response to ours."""
        flexible = (api == self.METADATA and ver >= 9) or (api == self.FIND_COORDINATOR and ver >= 3)
        pos = 8  # after the size and the correlation id

        def i16() -> int:
            nonlocal pos
            pos += 2
            return int.from_bytes(f[pos - 2:pos], "big", signed=True)

        def i32() -> int:
            nonlocal pos
            pos += 4
            return int.from_bytes(f[pos - 4:pos], "big", signed=True)

        def uvarint() -> int:
            nonlocal pos
            v = shift = 0
            while True:
                b = f[pos]
                pos += 1
                v |= (b & 0x7F) << shift
                if not b & 0x80:
                    return v
                shift += 7

        def string() -> None:  # a string or a nullable string
            nonlocal pos
            n = uvarint() - 1 if flexible else i16()
            pos += max(n, 0)

        def tags() -> None:
            nonlocal pos
            if flexible:
                for _ in range(uvarint()):
                    uvarint()
                    pos += uvarint()

        def port() -> None:
            f[pos:pos + 4] = self.port.to_bytes(4, "big")
            self.rewritten += 1

        def count() -> int:
            return uvarint() - 1 if flexible else i32()

        tags()  # response header v1
        if api == self.METADATA:
            if ver >= 3:
                i32()  # throttle_time_ms
            for _ in range(count()):
                i32()  # node_id
                string()  # host
                port()
                i32()
                if ver >= 1:
                    string()  # rack
                tags()
        else:
            if ver >= 1:
                i32()  # throttle_time_ms
            if ver >= 4:
                for _ in range(count()):
                    string()  # key
                    i32()  # node_id
                    string()  # host
                    port()
                    i32()
                    i16()  # error_code
                    string()  # error_message
                    tags()
                return
            i16()  # error_code
            if ver >= 1:
                string()  # error_message
            i32()  # node_id
            string()  # host
            port()


def high_watermarks(bootstrap: str, topic: str) -> int:
    """How many records the topic holds (the sum of its partitions' ends)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "faults-hw-" + secrets.token_hex(4)})
    try:
        md = c.list_topics(topic, timeout=10)
        total = 0
        for p in md.topics[topic].partitions:
            low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            total += high
        return total
    finally:
        c.close()


def alert_set(bootstrap: str, topic: str = ALERTS, want: set | None = None, timeout: float = 60) -> tuple[set, int]:
    """(the set of (alert_id, status) on the topic, how many alert records it holds).
    With `want`, reads until every pair of it has arrived (or the timeout)."""
    until = None
    if want is not None:
        until = lambda recs: want <= {(r.data.get("alert_id"), r.data.get("status")) for r in recs}  # noqa: E731
    # read on to the end: a transition that is not wanted must be seen too
    recs = read_records(bootstrap, topic, until=until, timeout=timeout, to_end=True)
    ks = [(r.data["alert_id"], r.data["status"]) for r in recs if "alert_id" in r.data]
    return set(ks), len(ks)


# --------------------------------------------------------------------------
# What a run leaves in PostgreSQL

TICKET_COLUMNS = (
    "ticket_id, status, round, priority, reasons, channel, category, claim, major, waybill, site, region, "
    "customer_ref, received_at, round_started_at, contacted_at, first_reply_at, resolved_at, revisit_at, "
    "contact_deadline, first_reply_deadline, resolve_deadline, revisit_deadline, paused, closed_at, "
    "last_resolved_at, responsible::text, valid, acct_site")


class Outcome:
    """Everything a run's effects are compared by."""

    def __init__(self, conninfo: str) -> None:
        self.tickets = query(conninfo, f"SELECT {TICKET_COLUMNS} FROM tickets ORDER BY ticket_id")
        self.events = query(conninfo, "SELECT event_id, ticket_id, type, effect FROM ticket_events ORDER BY event_id")
        self.alerts = set(query(conninfo, "SELECT alert_id, status FROM alerts"))
        # every transition's whole body but its processing time: a restart
        # must not change what an alert says (a bulk episode's ticket_ids)
        self.bodies = dict(((r[0], r[1]), r[2]) for r in query(
            conninfo, "SELECT alert_id, status, (payload::jsonb - 'emitted_at')::text FROM alerts"))
        self.n_alert_rows = scalar(conninfo, "SELECT count(*) FROM alerts")
        self.dead = query(conninfo, "SELECT source_topic, reason, detail FROM dead_letters ORDER BY 1, 2, 3")
        self.scans = scalar(conninfo, "SELECT count(*) FROM parcel_scans")
        self.held = scalar(conninfo, "SELECT count(*) FROM held_events")
        # the newest snapshot: the last appended and not yet folded, else the row's
        self.snapshots = dict(query(conninfo, """
            SELECT t.ticket_id, md5(COALESCE(l.snapshot, t.snapshot)) FROM tickets t
              LEFT JOIN (SELECT DISTINCT ON (ticket_id) ticket_id, snapshot FROM ticket_snapshots
                          ORDER BY ticket_id, gen DESC) l USING (ticket_id)"""))


def consumed(conninfo: str) -> int:
    return scalar(conninfo, "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets") or 0


def finished(conninfo: str, messages: int) -> Callable[[], bool]:
    """An `until`: every message consumed and the outbox empty."""
    def done() -> bool:
        try:
            return (consumed(conninfo) >= messages and scalar(conninfo, "SELECT count(*) FROM unsent_alerts") == 0
                    and scalar(conninfo, "SELECT count(*) FROM unsent_dead_letters") == 0)
        except Exception:
            return False
    return done


def reference_run(pg: Postgres, broker_factory, workdir: Path, sockdir: Path, complaints: list[dict],
                  scans: list[dict], extra_config: dict | None = None, clock: str = "event",
                  timeout: float = 180, partitions: int = 1) -> tuple[Outcome, set]:
    """The clean run every case compares with: the same stream through a
    daemon of its own (own broker, database and group), with no fault.
    Returns its outcome in PostgreSQL and the set of (alert_id, status) on
    its alerts topic."""
    from integration_conftest import DaemonFactory
    rb = broker_factory(partitions=partitions)
    conninfo = pg.create_database()
    workdir.mkdir(parents=True, exist_ok=True)
    sockdir = sockdir / "ref"
    sockdir.mkdir(parents=True, exist_ok=True)
    f = DaemonFactory(rb, conninfo, workdir, sockdir, "reference")
    try:
        if scans:
            produce(rb.bootstrap, SCANS, scans, key_field="waybill")
        produce(rb.bootstrap, COMPLAINTS, complaints, key_field="ticket_id")
        d = f.start(extra_config, clock=clock)
        wait_for(finished(conninfo, len(complaints) + len(scans)), timeout=timeout,
                 what="the reference run to finish")
        assert d.stop() == 0
        out = Outcome(conninfo)
        topic, _ = alert_set(rb.bootstrap)
        assert topic == out.alerts, "the reference run's topic and table differ"
        return out, topic
    finally:
        problems = f.teardown(False)
        try:
            pg.drop_database(conninfo)
        except Exception:
            pass
        assert not problems, problems


def stop_gives_up(d: harness.Daemon, why: str) -> float:
    """SIGTERM to a daemon whose work left waits on a broker or PostgreSQL
    that is down: it must exit 0 after the 5 s it gives them, long before
    the 45 s limit, and say `why`. Returns how long the stop took."""
    started = time.monotonic()
    assert d.stop() == 0
    took = time.monotonic() - started
    assert why in d.log
    assert took < 15, f"the stop took {took:.1f} s: it waited for the 45 s limit"
    return took


def assert_no_doubles(conninfo: str) -> None:
    """Nothing doubled in PostgreSQL: one alerts row per (alert_id, status),
    one ticket_events row per event, one dead letter per source message."""
    assert scalar(conninfo, "SELECT count(*) - count(DISTINCT (alert_id, status)) FROM alerts") == 0
    assert scalar(conninfo, "SELECT count(*) - count(DISTINCT event_id) FROM ticket_events") == 0
    assert scalar(conninfo, "SELECT count(*) - count(DISTINCT (source_topic, source_partition, source_offset)) "
                            "FROM dead_letters") == 0
    assert scalar(conninfo, "SELECT count(*) - count(DISTINCT seq) FROM alerts") == 0


def diff(a: list | set, b: list | set, n: int = 5) -> str:
    """What differs between two collections of rows (rows may hold lists)."""
    sa, sb = {repr(x) for x in a}, {repr(x) for x in b}
    return f"only in run: {sorted(sa - sb)[:n]}; only in reference: {sorted(sb - sa)[:n]}"


def assert_same_as_reference(conninfo: str, topic_keys: set, ref: Outcome, ref_topic: set,
                             compare_snapshots: bool = False, compare_bodies: bool = True) -> Outcome:
    """The closing checks of a case: every effect present, nothing doubled."""
    out = Outcome(conninfo)
    assert_no_doubles(conninfo)
    assert out.events == ref.events, "ticket_events differ: " + diff(out.events, ref.events)
    assert out.tickets == ref.tickets, "ticket rows differ: " + diff(out.tickets, ref.tickets, 3)
    assert out.alerts == ref.alerts, "alerts table differs: " + diff(out.alerts, ref.alerts)
    assert out.n_alert_rows == len(ref.alerts)
    if compare_bodies:
        changed = sorted(k for k in ref.bodies if out.bodies.get(k) != ref.bodies[k])
        assert not changed, "alert bodies differ: " + "; ".join(
            f"{k}: run {out.bodies.get(k)} reference {ref.bodies[k]}" for k in changed[:3])
    assert topic_keys == ref_topic, "alerts topic differs: " + diff(topic_keys, ref_topic)
    assert out.dead == ref.dead, "dead letters differ: " + diff(out.dead, ref.dead)
    assert out.scans == ref.scans and out.held == ref.held
    if compare_snapshots:
        assert out.snapshots == ref.snapshots
    return out




__all__ = [
    "ALERTS", "COMPLAINTS", "DLQ", "SCANS", "KafkaError", "diff", "high_watermarks", "query", "Outcome", "RestartablePostgres", "KafkaRelay",
    "TopicCollector", "alert_set", "assert_no_doubles", "assert_same_as_reference", "consumed", "finished",
    "log_from", "log_size", "log_times", "metric", "metrics", "proc_status", "reference_run",
    "stop_gives_up", "wait_log_from",
]
