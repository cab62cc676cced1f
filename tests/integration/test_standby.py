"""One desk, one daemon: a second complaintd of the same consumer group on the
same database waits as a standby, without joining the group, and takes the
desk over when the first stops or dies (docs/architecture.md, "Scaling")."""

import os

import pytest

from events import at, complaint, keys, received
from harness import (ALERTS, COMPLAINTS, HalfOpenProxy, free_port, produce, query, read_topic, scalar,
                     sigterm_while_waiting_for_a_lock, table_locked, wait_for)
from test_metrics import get, samples

pytestmark = pytest.mark.broker(partitions=2)

STANDBY = r"another complaintd holds the desk of group \S+ in this database; waiting as a standby"


def tickets(prefix: str, n: int, day: int) -> list[dict]:
    """n tickets received on `day`, each contacted 3 hours later: past its
    contact warning and breach, which fire and then resolve."""
    evs = []
    for i in range(n):
        t = f"{prefix}-{i}"
        evs.append(received(t, at(days=day, minutes=5 * i)))
        evs.append(complaint(t, "contacted", at(days=day, minutes=5 * i, hours=3)))
    return sorted(evs, key=lambda e: e["occurred_at"])


def pairs(prefix: str, n: int) -> set:
    return {(f"{kind}/{prefix}-{i}/1/contact", st) for i in range(n) for kind in ("sla_warning", "sla_breach")
            for st in ("firing", "resolved")}


def test_a_second_instance_waits_as_a_standby_and_takes_over(broker, daemon, db):
    first = daemon()
    listen = f"127.0.0.1:{free_port()}"
    second = daemon({"daemon": {"metrics_listen": listen}}, wait_ready=False)
    second.wait_log(STANDBY, timeout=30)
    assert second.notify.seen(r"^STATUS=standby: another complaintd holds the desk of group ", 0)
    # its endpoint answers, and says it is a standby
    wait_for(lambda: samples(get(f"http://{listen}/metrics")[2]).get("complaintd_standby") == 1, timeout=10,
             what="complaintd_standby 1")
    status, _, page = get(f"http://{listen}/")
    assert status == 200 and "Standby: another complaintd holds the desk of group" in page

    a = tickets("A", 6, 0)
    produce(broker.bootstrap, COMPLAINTS, a, key_field="ticket_id")
    want = pairs("A", 6)
    read_topic(broker.bootstrap, ALERTS, until=lambda m: want <= set(keys(m)), timeout=60)
    # the standby neither started nor joined the group: the first kept every partition
    assert not second.notify.seen(r"^READY=1$", 0)
    assert "kafka: assigned" not in second.log
    assert "shares the group" not in first.log

    # A graceful stop hands the desk over.
    assert first.stop() == 0
    second.wait_ready(timeout=60)
    second.wait_log(r"the desk of group \S+ is free: this instance takes it over")
    wait_for(lambda: samples(get(f"http://{listen}/metrics")[2]).get("complaintd_standby") == 0, timeout=10,
             what="complaintd_standby 0 once it holds the desk")
    b = tickets("B", 6, 1)
    produce(broker.bootstrap, COMPLAINTS, b, key_field="ticket_id")
    want |= pairs("B", 6)
    read_topic(broker.bootstrap, ALERTS, until=lambda m: want <= set(keys(m)), timeout=60)

    # A crash hands it over too, once PostgreSQL has ended the dead session.
    third = daemon(wait_ready=False)
    third.wait_log(STANDBY, timeout=30)
    second.kill()
    third.wait_ready(timeout=60)
    c = tickets("C", 6, 2)
    produce(broker.bootstrap, COMPLAINTS, c, key_field="ticket_id")
    want |= pairs("C", 6)
    read_topic(broker.bootstrap, ALERTS, until=lambda m: want <= set(keys(m)), timeout=90)

    # Every event applied once, across the three, and the topic holds what
    # the alerts table holds (the later days also pass the A and B tickets'
    # resolve deadlines).
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events") == len(a) + len(b) + len(c), timeout=30,
             what="every event stored")
    stored = set(query(db, "SELECT alert_id, status FROM alerts"))
    assert want <= stored
    alerts = read_topic(broker.bootstrap, ALERTS, until=lambda m: stored <= set(keys(m)), timeout=60)
    assert set(keys(alerts)) == stored

    # A standby stops at once on SIGTERM, with success.
    fourth = daemon(wait_ready=False)
    fourth.wait_log(STANDBY, timeout=30)
    assert fourth.stop() == 0
    assert "stopped while waiting as a standby" in fourth.log


def test_an_instance_whose_session_ended_stops_once_a_standby_has_the_desk(broker, daemon, db):
    """The desk is held by the store's session. When that session ends (a
    network fault, an administrator) a standby takes the desk; the first
    instance reconnects, finds the desk taken before its next commit and
    stops instead of committing over the new owner."""
    first = daemon()
    second = daemon(wait_ready=False)
    second.wait_log(STANDBY, timeout=30)
    first.exit_expected = True
    ended = query(db, "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted")
    assert ended == [(True,)]
    second.wait_ready(timeout=60)
    evs = tickets("D", 6, 0)
    produce(broker.bootstrap, COMPLAINTS, evs, key_field="ticket_id")
    first.proc.wait(60)
    assert first.proc.returncode == 1
    assert "another complaintd took the desk of group" in first.log
    want = pairs("D", 6)
    read_topic(broker.bootstrap, ALERTS, until=lambda m: want <= set(keys(m)), timeout=90)
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events") == len(evs), timeout=30,
             what="every event stored once")


def test_a_reconnect_ends_its_own_stale_session_and_keeps_the_desk(broker, daemon, db, pg):
    """The connection to PostgreSQL breaks on the daemon's side only (a NAT
    or firewall between them forgot it): the server's end of it lives on,
    holding the desk. The reconnected daemon ends that session, its own,
    takes the desk again and goes on, instead of exiting to wait as a
    standby behind itself until TCP gives up on the old session."""
    proxy = HalfOpenProxy(pg.port)
    try:
        conninfo = db.replace(f"port={pg.port}", f"port={proxy.port}")
        d = daemon({"postgres": {"conninfo": conninfo}})
        a = tickets("H", 3, 0)
        produce(broker.bootstrap, COMPLAINTS, a, key_field="ticket_id")
        # 60 s: the dev broker's group join, about 3 s, takes far longer on a loaded machine
        wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events") == len(a), timeout=60,
                 what="the first events stored")
        holder = "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
        old = query(db, holder)
        assert len(old) == 1

        proxy.cut()
        b = tickets("J", 3, 1)
        produce(broker.bootstrap, COMPLAINTS, b, key_field="ticket_id")
        d.wait_log(r"previous session \(server process \d+\) still held the desk of group \S+ after its connection "
                   r"broke; ended it and took the desk again", timeout=60)
        wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events") == len(a) + len(b), timeout=30,
                 what="the events after the break stored once")
        assert d.running
        new = query(db, holder)
        assert len(new) == 1 and new != old, "the desk is held by the new session"
        assert scalar(db, "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", old[0]) == 0
        want = pairs("H", 3) | pairs("J", 3)
        alerts = read_topic(broker.bootstrap, ALERTS, until=lambda m: want <= set(keys(m)), timeout=60)
        assert sorted(keys(alerts)) == sorted(set(keys(alerts))), "an alert published twice"
        assert d.stop() == 0
        assert "another complaintd took the desk" not in d.log
    finally:
        proxy.close()


def keepalive_timers(port: int, client_port: int) -> list[tuple[int, int]]:
    """(timer kind, clock ticks to expiry) of the server's end of one local
    TCP connection, from /proc/net/tcp (kind 2: the keepalive timer)."""
    out = []
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        f = line.split()
        local, remote, timer = f[1], f[2], f[5]
        if int(local.split(":")[1], 16) == port and int(remote.split(":")[1], 16) == client_port:
            kind, when = timer.split(":")
            out.append((int(kind, 16), int(when, 16)))
    return out


def test_the_desk_session_ends_soon_after_its_machine_dies(broker, daemon, db, pg):
    """The desk is held by a PostgreSQL session. When the active instance's
    machine or network dies, the server ends that session only when TCP
    notices; its defaults are the kernel's, two hours of idle before the
    first keepalive. The daemon sets its session to 15 s, then 3 probes 5 s
    apart (and 30 s for unacknowledged data), so a standby takes over in
    about half a minute. Seen here as the keepalive timer of the server's
    end of the daemon's connection."""
    d = daemon()
    client_port = scalar(db, "SELECT client_port FROM pg_stat_activity WHERE application_name = 'complaintd' "
                             "AND datname = current_database()")
    assert client_port, "the daemon's session is not in pg_stat_activity"

    def armed():
        t = [when for kind, when in keepalive_timers(pg.port, client_port) if kind == 2]
        return t or None

    ticks = wait_for(armed, timeout=30, what="the keepalive timer of the daemon's session")
    hz = os.sysconf("SC_CLK_TCK")
    assert max(ticks) <= 15 * hz, f"keepalive due in {max(ticks) / hz:.0f} s, not within 15 s"
    assert d.running


def test_a_stop_before_the_standby_wait_is_not_lost(broker, daemon, db):
    """SIGTERM that comes while a second instance is still checking the
    schema, before it finds the desk taken, ends the wait that follows at
    once (exit 0) instead of being forgotten by it."""
    daemon()
    with table_locked(db, "schema_migrations"):
        second = daemon(migrate=False, wait_ready=False)  # migrated by the first
        sigterm_while_waiting_for_a_lock(second, db, "the second instance waits for the schema_migrations table")
    second.proc.wait(30)
    assert second.stop() == 0, second.log[-2000:]
    assert "stopped while waiting as a standby" in second.log
