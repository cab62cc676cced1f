"""Fixtures for the integration tests (see harness.py for the helpers).

    pg       session: one private PostgreSQL (deploy/pg-local.sh)
    db       a fresh database per test; its conninfo
    broker   a dev broker per test (.bootstrap); partitions and topics via
             @pytest.mark.broker(partitions=1, topics=[...])
    broker_factory   start more brokers: broker_factory(partitions=2)
    daemon   factory: daemon(extra_config={...}, clock='event') -> Daemon
             (also daemon.start(...)); migrates the test database first and
             waits for READY=1 on a NOTIFY_SOCKET. For a daemon that must
             refuse to start: daemon(..., wait_ready=False).wait_exit()

At teardown every daemon still running is stopped, logs are checked for
sanitizer reports (a report fails the test), and the daemon logs of a
failed test are printed.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

import harness
from harness import Broker, Daemon, Postgres, merge_config, run_complaintd, write_ini


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "broker(partitions=4, topics=None): options of the dev broker fixture")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    # Lets fixtures see at teardown whether the test itself failed.
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _test_failed(request: pytest.FixtureRequest) -> bool:
    node = request.node
    return any(getattr(node, "rep_" + w, None) is not None and getattr(node, "rep_" + w).failed
               for w in ("setup", "call"))


@pytest.fixture(scope="session")
def pg():
    server = Postgres()
    try:
        yield server.start()
    finally:
        server.cleanup()


@pytest.fixture
def db(pg: Postgres):
    conninfo = pg.create_database()
    yield conninfo
    try:
        pg.drop_database(conninfo)
    except Exception as e:  # a leftover database only costs disk space
        print(f"dropping test database failed: {e}")


@pytest.fixture
def short_tmp():
    """A short private directory: unix socket paths must stay under 108 bytes."""
    d = Path(tempfile.mkdtemp(prefix="cd-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _check_sanitizers(name: str, text: str) -> None:
    errors = harness.sanitizer_errors(text)
    if errors:
        print(f"==== {name} (sanitizer report) ====\n{harness.tail_text(text, 400)}")
        pytest.fail(f"sanitizer report in {name}: {errors[0]}", pytrace=False)


@pytest.fixture
def broker_factory(request: pytest.FixtureRequest, tmp_path: Path):
    started: list[Broker] = []

    def start(partitions: int = 4, topics: list[str] | None = None) -> Broker:
        b = Broker(tmp_path / f"broker{len(started)}", partitions=partitions, topics=topics)
        started.append(b)
        return b.start()

    yield start

    problems = []
    for b in started:
        try:
            rc = b.stop()
            if rc not in (0, None):
                problems.append(f"devbroker exited with {rc}")
        except AssertionError as e:
            problems.append(str(e))
    for i, b in enumerate(started):
        if _test_failed(request) or problems:
            print(f"==== devbroker {i} log ====\n{harness.tail_text(b.log, 200)}")
        _check_sanitizers(f"devbroker {i} log", b.log)
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


@pytest.fixture
def broker(request: pytest.FixtureRequest, broker_factory) -> Broker:
    marker = request.node.get_closest_marker("broker")
    opts = dict(marker.kwargs) if marker else {}
    return broker_factory(**opts)


class DaemonFactory:
    """Starts complaintd against the test's broker and database."""

    def __init__(self, broker: Broker, db: str, workdir: Path, sockdir: Path, test_name: str) -> None:
        self.broker = broker
        self.db = db
        self.workdir = workdir
        self.sockdir = sockdir
        # One group per test, shared by all daemons of the test (several
        # instances of one deployment), never by two tests.
        self.group_id = f"complaintd-{secrets.token_hex(4)}"
        self.daemons: list[Daemon] = []
        self.other_logs: list[tuple[str, str]] = []
        self.test_name = test_name

    def base_config(self, clock: str = "event") -> dict[str, dict[str, Any]]:
        return {
            "kafka": {
                "brokers": self.broker.bootstrap,
                "group_id": self.group_id,
                **harness.DEFAULT_TOPICS,
                # The mock broker's topics exist from the start; a short
                # refresh only matters for topics created later.
                "rdkafka.topic.metadata.refresh.interval.ms": "1000",
                # A killed instance's partitions move on after 6 s, not 45 s.
                "rdkafka.session.timeout.ms": "6000",
            },
            "postgres": {"conninfo": self.db},
            "clock": {"mode": clock},
            "daemon": {"log_level": "debug"},
        }

    def write_config(self, extra_config: dict[str, dict[str, Any]] | None = None, clock: str = "event") -> Path:
        n = len(self.daemons)
        path = self.workdir / f"complaintd{n}.conf"
        write_ini(path, merge_config(self.base_config(clock), extra_config))
        return path

    def migrate(self, config_path: Path) -> None:
        res = run_complaintd("-c", str(config_path), "migrate", timeout=120)
        output = res.stdout + res.stderr
        self.other_logs.append((f"complaintd migrate ({config_path.name})", output))
        assert res.returncode == 0, f"complaintd migrate exited with {res.returncode}:\n{output}"

    def start(self, extra_config: dict[str, dict[str, Any]] | None = None, clock: str = "event",
              migrate: bool = True, wait_ready: bool = True, timeout: float = 30 * harness.SLOWDOWN) -> Daemon:
        path = self.write_config(extra_config, clock)
        if migrate:
            self.migrate(path)
        n = len(self.daemons)
        d = Daemon(path, self.workdir / f"complaintd{n}.log", self.sockdir / f"notify{n}.sock")
        self.daemons.append(d)
        return d.start(wait_ready=wait_ready, timeout=timeout)

    __call__ = start

    def teardown(self, failed: bool) -> list[str]:
        problems = []
        for i, d in enumerate(self.daemons):
            if d.proc is not None and not d.running and not d.exit_expected:
                problems.append(f"daemon {i} died during the test with exit code {d.proc.returncode}")
            if d.running:
                try:
                    rc = d.stop(30)
                    if rc != 0:
                        problems.append(f"daemon {i} exited with {rc} on SIGTERM at teardown")
                except AssertionError as e:
                    problems.append(f"daemon {i}: {e}")
            d.close()
        for i, d in enumerate(self.daemons):
            if failed or problems:
                print(f"==== complaintd {i} log ({d.log_path}) ====\n{harness.tail_text(d.log)}")
        return problems


@pytest.fixture
def daemon(request: pytest.FixtureRequest, broker: Broker, db: str, tmp_path: Path, short_tmp: Path):
    factory = DaemonFactory(broker, db, tmp_path, short_tmp, request.node.name)
    yield factory
    problems = factory.teardown(_test_failed(request))
    for i, d in enumerate(factory.daemons):
        _check_sanitizers(f"complaintd {i} log", d.log)
    for name, text in factory.other_logs:
        _check_sanitizers(name, text)
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)
