"""Helpers for the integration tests: they run the real binaries.

Everything here talks to real processes: a private PostgreSQL started with
deploy/pg-local.sh, the dev broker (complaintd-devbroker, librdkafka's mock
cluster) and complaintd itself. conftest.py wraps these in fixtures.

COMPLAINTD_BUILD selects the build directory (default <repo>/build). Sanitizer
settings (ASAN_OPTIONS, UBSAN_OPTIONS) are inherited by every process started
here; sanitizer_errors() finds their reports in the logs.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable

import psycopg2
import psycopg2.extensions
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("COMPLAINTD_BUILD", REPO / "build")).resolve()
PG_LOCAL = REPO / "deploy" / "pg-local.sh"

DEFAULT_TOPICS = {
    "complaints_topic": "complaints.events",
    "scans_topic": "parcels.scans",
    "alerts_topic": "complaints.alerts",
    "dlq_topic": "complaints.dlq",
}
COMPLAINTS = DEFAULT_TOPICS["complaints_topic"]
SCANS = DEFAULT_TOPICS["scans_topic"]
ALERTS = DEFAULT_TOPICS["alerts_topic"]
DLQ = DEFAULT_TOPICS["dlq_topic"]

# Lines that mean a sanitizer caught something; any of them fails the test.
SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
# With COMPLAINTD_VALGRIND=1 the daemon runs under valgrind's memcheck, whose
# report goes to the daemon's log: invalid accesses, uses of uninitialised
# values and definite leaks fail the test (possible leaks are librdkafka's
# threads at exit, and reachable memory is not a leak).
VALGRIND = os.environ.get("COMPLAINTD_VALGRIND") == "1"
VALGRIND_ARGS = ["valgrind", "--tool=memcheck", "--leak-check=full", "--show-leak-kinds=definite",
                 "--errors-for-leak-kinds=definite", "--track-origins=yes", "--num-callers=30"]
VALGRIND_ERRORS = re.compile(r"==\d+== (Invalid (read|write|free)|Conditional jump|Use of uninitialised|"
                             r"Syscall param|Mismatched free|.*definitely lost: [1-9])")
# Everything is about 20 times slower under valgrind.
SLOWDOWN = 20 if VALGRIND else 1


def binary(name: str) -> Path:
    """Path of a built program; a clear failure when it was not built."""
    path = BUILD / name
    if not os.access(path, os.X_OK):
        raise AssertionError(
            f"{path} not found or not executable: build first "
            f"(cmake -S . -B build && cmake --build build) or set COMPLAINTD_BUILD"
        )
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(fn: Callable[[], Any], timeout: float = 30, interval: float = 0.1, what: str | None = None) -> Any:
    """Calls fn until it returns something truthy and returns that; fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or getattr(fn, '__name__', 'condition')}")
        time.sleep(interval)


def sanitizer_errors(text: str) -> list[str]:
    return [line for line in text.splitlines()
            if any(p in line for p in SANITIZER_PATTERNS) or VALGRIND_ERRORS.search(line)]


def tail_text(text: str, lines: int = 2000) -> str:
    parts = text.splitlines()
    if len(parts) <= lines:
        return text
    return f"[... {len(parts) - lines} earlier lines cut ...]\n" + "\n".join(parts[-lines:])


def backtraces(pid: int) -> str:
    """Every thread's stack of a live process, from gdb when it is
    installed: where a process that did not end when asked is stuck."""
    gdb = shutil.which("gdb")
    if gdb is None:
        return "(gdb is not installed: no backtrace)"
    try:
        res = subprocess.run([gdb, "-p", str(pid), "-batch", "-nx", "-ex", "thread apply all bt"],
                             capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return "(gdb did not answer within 60 s)"
    return res.stdout + res.stderr


def end_process(proc: subprocess.Popen, timeout: float) -> bool:
    """SIGTERM, then SIGKILL after `timeout` seconds; whether it ended
    within them (or had already ended). A process that did not end gets
    its threads' backtraces printed before the SIGKILL."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            print(f"==== {proc.args[0]} (pid {proc.pid}) still running {timeout} s after SIGTERM; its threads "
                  f"====\n{backtraces(proc.pid)}", file=sys.stderr)
            proc.kill()
            proc.wait()
            return False
    return True


# --------------------------------------------------------------------------
# PostgreSQL


class Postgres:
    """A private server from deploy/pg-local.sh; conninfo is its `complaintd` database.
    env: more environment for pg-local.sh (PG_SSL_CERT, PG_SSL_KEY)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        # Not under pytest's tmp_path: as root the server runs as `postgres`,
        # which must be able to reach the directory.
        self.dir = Path(tempfile.mkdtemp(prefix="complaintd-pg-"))
        self.port = 0
        self.conninfo = ""
        self.env = {**os.environ, **(env or {})}

    def start(self) -> "Postgres":
        last = None
        for _ in range(5):  # another process may grab the free port first
            self.port = free_port()
            res = subprocess.run(
                ["bash", str(PG_LOCAL), "start", str(self.dir), str(self.port)],
                capture_output=True,
                text=True,
                timeout=180,
                env=self.env,
            )
            if res.returncode == 0:
                self.conninfo = res.stdout.strip().splitlines()[-1]
                return self
            last = res
            if (self.dir / "data" / "PG_VERSION").exists():
                # initdb worked, the start did not: retry on another port
                # with a fresh cluster so the port in postgresql.conf is right.
                self.stop()
                shutil.rmtree(self.dir / "data", ignore_errors=True)
        raise AssertionError(f"pg-local.sh start failed:\n{last.stdout}\n{last.stderr}")

    def stop(self) -> None:
        subprocess.run(["bash", str(PG_LOCAL), "stop", str(self.dir)], capture_output=True, timeout=120)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def conninfo_for(self, dbname: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=complaintd dbname={dbname}"

    def create_database(self) -> str:
        """A fresh empty database; returns its conninfo."""
        name = "t_" + secrets.token_hex(6)
        query(self.conninfo, f"CREATE DATABASE {name}")
        return self.conninfo_for(name)

    def drop_database(self, conninfo: str) -> None:
        name = dict(kv.split("=", 1) for kv in conninfo.split())["dbname"]
        query(self.conninfo, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def query(conninfo: str, sql: str, params: Iterable[Any] | dict | None = None) -> list[tuple]:
    """Runs one statement in autocommit mode; returns its rows ([] when it has none)."""
    conn = psycopg2.connect(conninfo)
    try:
        conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description is not None else []
    finally:
        conn.close()


def scalar(conninfo: str, sql: str, params: Iterable[Any] | dict | None = None) -> Any:
    """The first column of the first row, or None."""
    rows = query(conninfo, sql, params)
    return rows[0][0] if rows else None


@contextlib.contextmanager
def table_locked(conninfo: str, table: str):
    """Holds an ACCESS EXCLUSIVE lock on `table` for the block: whoever reads
    it waits."""
    conn = psycopg2.connect(conninfo)
    try:
        with conn.cursor() as cur:
            cur.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        conn.rollback()
        conn.close()


def sigterm_while_waiting_for_a_lock(d: "Daemon", conninfo: str, what: str) -> None:
    """Once the daemon's session waits for a lock (table_locked), sends it
    SIGTERM and checks that it stays up: the stop is kept for later."""
    wait_for(lambda: scalar(conninfo, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'complaintd' "
                                      "AND wait_event_type = 'Lock' AND datname = current_database()") == 1,
             timeout=30, what=what)
    d.exit_expected = True
    d.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert d.running, f"SIGTERM killed the daemon while {what}"


class HalfOpenProxy:
    """A TCP relay to 127.0.0.1:`port` on a port of its own. cut() closes
    the client's side of every relayed connection and keeps the server's
    side open: the client sees its connection broken while the server's
    end lives on, as when a NAT or firewall between them forgets the
    connection. Later connections are relayed as usual."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.kept: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass

    def cut(self) -> None:
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for client, server in pairs:
            self.kept.append(server)
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()

    def close(self) -> None:
        self.listener.close()
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for sock in [s for pair in pairs for s in pair] + self.kept:
            sock.close()


# --------------------------------------------------------------------------
# Kafka: the dev broker and small producer/consumer helpers


class Broker:
    """complaintd-devbroker on loopback; .bootstrap is its address."""

    def __init__(self, workdir: Path, partitions: int = 4, topics: list[str] | None = None) -> None:
        self.workdir = Path(workdir)
        self.partitions = partitions
        self.topics = topics
        self.bootstrap_file = self.workdir / "bootstrap"
        self.stdout_path = self.workdir / "devbroker.out"
        self.log_path = self.workdir / "devbroker.log"
        self.proc: subprocess.Popen | None = None
        self.bootstrap = ""

    def start(self, timeout: float = 20) -> "Broker":
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [str(binary("complaintd-devbroker")), "--partitions", str(self.partitions),
                "--bootstrap-file", str(self.bootstrap_file)]
        for t in self.topics or []:
            args += ["--topic", t]
        with open(self.stdout_path, "wb") as out, open(self.log_path, "ab") as err:
            self.proc = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL)

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"devbroker exited with {self.proc.returncode}:\n{self.log}")
            return self.bootstrap_file.exists()

        wait_for(ready, timeout, what="the dev broker's bootstrap file")
        self.bootstrap = self.bootstrap_file.read_text().strip()
        return self

    @property
    def printed_bootstrap(self) -> str:
        """What the broker printed on stdout (the same address, one line)."""
        return self.stdout_path.read_text().strip()

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 20) -> int | None:
        if self.proc is None:
            return None
        if not end_process(self.proc, timeout):
            raise AssertionError("devbroker did not exit on SIGTERM")
        return self.proc.returncode


def produce(bootstrap: str, topic: str, events: Iterable[dict | bytes | str], key_field: str | None = None,
            timeout: float = 30, partition: int | None = None) -> int:
    """Produces events in order (dicts as JSON, bytes/str raw), keyed by
    event[key_field] when present, to `partition` when given (else the
    partitioner's choice). Waits for every delivery; returns the count."""
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                  "linger.ms": 5})
    errors: list[str] = []
    delivered = 0

    def on_delivery(err, _msg) -> None:
        nonlocal delivered
        if err is not None:
            errors.append(str(err))
        else:
            delivered += 1

    n = 0
    for ev in events:
        key = None
        if isinstance(ev, dict):
            value = json.dumps(ev).encode()
            if key_field is not None and ev.get(key_field) is not None:
                key = str(ev[key_field]).encode()
        elif isinstance(ev, str):
            value = ev.encode()
        else:
            value = bytes(ev)
        while True:
            try:
                if partition is None:
                    p.produce(topic, value=value, key=key, on_delivery=on_delivery)
                else:
                    p.produce(topic, value=value, key=key, partition=partition, on_delivery=on_delivery)
                break
            except BufferError:  # local queue full: let deliveries drain
                p.poll(0.1)
        n += 1
        p.poll(0)
    remaining = p.flush(timeout)
    assert remaining == 0, f"{remaining} messages to {topic} not delivered within {timeout}s"
    assert not errors, f"delivery to {topic} failed: {errors[:5]}"
    assert delivered == n, f"delivered {delivered} of {n} messages to {topic}"
    return n


class Record:
    """One consumed message with its coordinates."""

    __slots__ = ("topic", "partition", "offset", "key", "value", "data")

    def __init__(self, msg) -> None:
        self.topic = msg.topic()
        self.partition = msg.partition()
        self.offset = msg.offset()
        self.key = msg.key()
        self.value = msg.value()
        self.data = decode(self.value)

    def __repr__(self) -> str:
        return f"Record({self.topic}[{self.partition}]@{self.offset} {self.data!r})"


def decode(value: bytes | None) -> dict:
    try:
        doc = json.loads(value) if value is not None else None
    except (ValueError, UnicodeDecodeError):
        doc = None
    return doc if isinstance(doc, dict) else {"_raw": value}


def read_records(bootstrap: str, topic: str, until: Callable[[list[Record]], bool] | None = None,
                 timeout: float = 30, to_end: bool = False) -> list[Record]:
    """Reads topic from the beginning of every partition (no consumer group).

    With `until`, polls until until(records) is true or the timeout passes,
    and with to_end as well then on to every partition's current end (what
    was sent before the awaited record, on any partition, is then read too);
    without it, until every partition has been read to its current end.
    Returns what it has either way: the test asserts."""
    c = Consumer({
        "bootstrap.servers": bootstrap,
        # librdkafka wants a group.id even for assign(); nothing is joined or committed.
        "group.id": "harness-reader-" + secrets.token_hex(4),
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
    })
    records: list[Record] = []
    try:
        deadline = time.monotonic() + timeout
        md = c.list_topics(topic, timeout=min(timeout, 10))
        t = md.topics.get(topic)
        assert t is not None and t.error is None and t.partitions, f"topic {topic} unknown: {t and t.error}"
        parts = sorted(t.partitions)
        c.assign([TopicPartition(topic, p, -2) for p in parts])  # -2: OFFSET_BEGINNING
        at_end: set[int] = set()
        met = until is None
        while time.monotonic() < deadline:
            if not met and until(records):
                if not to_end:
                    break
                met = True
            if met and at_end.issuperset(parts):
                break
            msg = c.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition())
                continue
            at_end.discard(msg.partition())
            records.append(Record(msg))
    finally:
        c.close()
    if until is not None and not until(records):
        # a wait that ran out: either the test fails on what it got, or it
        # waited its whole timeout for nothing (shown with a failure's output)
        caller = next(f for f in reversed(traceback.extract_stack()) if not f.filename.endswith("harness.py"))
        print(f"read_records: {topic}: `until` not met in {timeout} s "
              f"({caller.filename}:{caller.lineno})", file=sys.stderr)
    return records


def read_topic(bootstrap: str, topic: str, until: Callable[[list[dict]], bool] | None = None,
               timeout: float = 30, to_end: bool = False) -> list[dict]:
    """Like read_records but returns the decoded JSON objects ({'_raw': bytes}
    for anything that is not a JSON object); `until` sees those dicts."""
    wrapped = None if until is None else (lambda recs: until([r.data for r in recs]))
    return [r.data for r in read_records(bootstrap, topic, wrapped, timeout, to_end)]


# --------------------------------------------------------------------------
# The daemon


def write_ini(path: Path, sections: dict[str, dict[str, Any]]) -> None:
    lines = []
    for section, keys in sections.items():
        lines.append(f"[{section}]")
        for k, v in keys.items():
            if v is None:
                continue
            if isinstance(v, bool):
                v = "true" if v else "false"
            lines.append(f"{k} = {v}")
        lines.append("")
    Path(path).write_text("\n".join(lines))


def merge_config(base: dict[str, dict[str, Any]], extra: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    out = {s: dict(kv) for s, kv in base.items()}
    for s, kv in (extra or {}).items():
        out.setdefault(s, {}).update(kv)
    return out


def run_complaintd(*args: str, timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
    """Runs complaintd to completion (migrate, --check-config, --version...)."""
    return subprocess.run([str(binary("complaintd")), *args], capture_output=True, text=True,
                          timeout=timeout, env=env, stdin=subprocess.DEVNULL)


class NotifyListener:
    """A NOTIFY_SOCKET for the daemon: collects its sd_notify messages
    (READY=1, STATUS=..., RELOADING=1, STOPPING=1, WATCHDOG=1)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            with self._lock:
                self.messages.extend(line for line in data.decode(errors="replace").splitlines() if line)

    def seen(self, pattern: str, since: int = 0) -> bool:
        with self._lock:
            return any(re.search(pattern, m) for m in self.messages[since:])

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def close(self) -> None:
        self._closed = True
        self._thread.join(2)
        self.sock.close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


class Daemon:
    """A running `complaintd -c config_path`; stdout and stderr go to log_path."""

    def __init__(self, config_path: Path, log_path: Path, notify_path: Path, env: dict | None = None) -> None:
        self.config_path = Path(config_path)
        self.log_path = Path(log_path)
        self.notify_path = Path(notify_path)
        self.env = dict(os.environ if env is None else env)
        self.proc: subprocess.Popen | None = None
        self.notify: NotifyListener | None = None
        self.exit_codes: list[int] = []
        # False while the current process may only end by a crash: set by
        # stop(), kill() and wait_exit(), which the test calls on purpose.
        self.exit_expected = False

    # -- lifecycle

    def start(self, wait_ready: bool = True, timeout: float = 30 * SLOWDOWN) -> "Daemon":
        assert not self.running, "daemon already running"
        if self.notify is None:
            self.notify = NotifyListener(self.notify_path)
        since = self.notify.count()
        self.exit_expected = False
        env = dict(self.env, NOTIFY_SOCKET=str(self.notify_path))
        with open(self.log_path, "ab") as log:
            log.write(f"---- harness: starting complaintd -c {self.config_path}\n".encode())
            log.flush()
            wrapper = VALGRIND_ARGS if VALGRIND else []
            self.proc = subprocess.Popen([*wrapper, str(binary("complaintd")), "-c", str(self.config_path)],
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env)
        if wait_ready:
            self.wait_ready(timeout, since)
        return self

    def wait_ready(self, timeout: float = 30, since: int = 0) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"complaintd exited with {self.proc.returncode} before READY=1\n"
                                     f"{tail_text(self.log, 200)}")
            return self.notify.seen(r"^READY=1$", since)

        wait_for(ready, timeout, what="complaintd to send READY=1")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self, timeout: float = 30 * SLOWDOWN) -> int:
        """SIGTERM (graceful drain); returns the exit code. Fails if it does not exit."""
        assert self.proc is not None, "daemon never started"
        self.exit_expected = True
        exited = end_process(self.proc, timeout)
        self.exit_codes.append(self.proc.returncode)
        if not exited:
            raise AssertionError(f"complaintd did not exit within {timeout}s of SIGTERM")
        return self.proc.returncode

    def terminate(self, timeout: float = 60) -> None:
        """On the way out, whatever happened before: SIGTERM, then SIGKILL
        after `timeout` seconds. The exit code is not looked at."""
        if self.running:
            self.exit_expected = True
            end_process(self.proc, timeout)

    def halt(self, how: str) -> None:
        """Ends the daemon the way a parametrised test names: "sigterm" (a
        graceful stop, which must exit 0) or "sigkill" (a crash)."""
        assert how in ("sigterm", "sigkill"), how
        if how == "sigterm":
            assert self.stop() == 0
        else:
            self.kill()

    def kill(self) -> int:
        """SIGKILL: a crash. Returns the (negative) exit code."""
        assert self.proc is not None, "daemon never started"
        self.exit_expected = True
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.exit_codes.append(self.proc.returncode)
        return self.proc.returncode

    def restart(self, timeout: float = 30, wait_ready: bool = True) -> "Daemon":
        if self.running:
            rc = self.stop(timeout)
            assert rc == 0, f"complaintd exited with {rc} on SIGTERM"
        return self.start(wait_ready=wait_ready)

    def reload(self) -> None:
        """SIGHUP: re-read the configuration."""
        assert self.running, "daemon not running"
        self.proc.send_signal(signal.SIGHUP)

    def wait_exit(self, timeout: float = 30) -> int:
        assert self.proc is not None
        self.exit_expected = True
        return self.proc.wait(timeout)

    # -- configuration and output

    def update_config(self, extra: dict[str, dict[str, Any]]) -> None:
        """Merges extra into the config file (use before reload()/restart())."""
        cp = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=None)
        cp.optionxform = str
        cp.read(self.config_path)
        current = {s: dict(cp[s]) for s in cp.sections()}
        write_ini(self.config_path, merge_config(current, extra))

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_log(self, pattern: str, timeout: float = 30) -> re.Match:
        rx = re.compile(pattern, re.M)
        return wait_for(lambda: rx.search(self.log), timeout, what=f"/{pattern}/ in the daemon log")

    def close(self) -> None:
        if self.notify is not None:
            self.notify.close()
            self.notify = None
