"""Restarts, replays, the wall clock, configuration and reload, through the
real binary."""

import pytest

from events import at, complaint, has, keys, received, stable
from harness import ALERTS, COMPLAINTS, produce, query, read_topic, run_complaintd, scalar, wait_for

pytestmark = pytest.mark.broker(partitions=1)


def stream(prefix: str, n: int) -> list[dict]:
    """n tickets (n <= 12) received from 09:00 on, 5 minutes apart: each is
    contacted late (3 h; due 2 business hours later, before lunch), answered,
    and resolved after its resolve warning (24 h) but in time (48 h)."""
    evs = []
    for i in range(n):
        t = f"{prefix}-{i}"
        evs.append(received(t, at(minutes=5 * i)))
        evs.append(complaint(t, "contacted", at(minutes=5 * i, hours=3)))
        evs.append(complaint(t, "first_reply", at(minutes=5 * i, hours=4)))
        evs.append(complaint(t, "resolved", at(minutes=5 * i, hours=30)))
    evs.sort(key=lambda e: e["occurred_at"])
    return evs


def expected_pairs(prefix: str, n: int) -> set:
    want = set()
    for i in range(n):
        t = f"{prefix}-{i}"
        for st in ("firing", "resolved"):
            want |= {(f"sla_warning/{t}/1/contact", st), (f"sla_breach/{t}/1/contact", st),
                     (f"sla_warning/{t}/1/resolve", st)}
    return want


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_restart_in_the_middle_of_a_stream(broker, daemon, db, how):
    evs = stream("R", 12)
    half = len(evs) // 2
    d = daemon()
    produce(broker.bootstrap, COMPLAINTS, evs[:half])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events") == half, timeout=30)
    if how == "sigterm":
        assert d.stop() == 0
    else:
        d.kill()
    produce(broker.bootstrap, COMPLAINTS, evs[half:])
    d.restart()
    want = expected_pairs("R", 12)
    alerts = read_topic(broker.bootstrap, ALERTS, until=lambda m: want.issubset(set(keys(m))), timeout=60)
    assert want.issubset(set(keys(alerts)))
    # every event applied exactly once, every alert transition stored once
    assert scalar(db, "SELECT count(*) FROM ticket_events") == len(evs)
    assert scalar(db, "SELECT count(*) FROM alerts") == len(want)
    assert scalar(db, "SELECT next_offset FROM consumer_offsets") == len(evs)
    if how == "sigterm":
        # a clean stop publishes everything once
        assert len(keys(alerts)) == len(set(keys(alerts)))
    # firing always before resolved, per alert id
    ks = keys(alerts)
    for aid, st in ks:
        if st == "resolved":
            assert ks.index((aid, "firing")) < ks.index((aid, "resolved"))


@pytest.mark.broker(partitions=1, topics=["complaints.events", "parcels.scans", "complaints.alerts",
                                          "complaints.dlq", "replay.alerts", "replay.dlq"])
def test_event_clock_replay_gives_identical_alerts(broker, daemon, db, pg):
    # the last ticket moves the clock three days on: revisit targets fire too
    evs = stream("P", 8) + [received("P-last", at(days=3))]
    produce(broker.bootstrap, COMPLAINTS, evs)

    def run(conninfo: str, topic: str) -> list[dict]:
        wait_for(lambda: scalar(conninfo, "SELECT count(*) FROM ticket_events") == len(evs), timeout=60)
        wait_for(lambda: scalar(conninfo, "SELECT count(*) FILTER (WHERE sent_at IS NULL) FROM alerts") == 0)
        return read_topic(broker.bootstrap, topic)

    daemon()
    first = run(db, ALERTS)
    # a second deployment (own group, own database) replays the same topic
    daemon.db = pg.create_database()
    daemon.group_id = "replay"
    daemon({"kafka": {"alerts_topic": "replay.alerts", "dlq_topic": "replay.dlq"}})
    second = run(daemon.db, "replay.alerts")
    assert len(first) >= 3 * 16 + 8 * 2
    assert stable(second) == stable(first)


def test_wall_clock_deadlines_fire_from_timers(broker, daemon, db):
    from datetime import datetime, timezone
    d = daemon({"policy": {"sla.contact.normal": "6s calendar"}}, clock="wall")
    d.wait_log("assigned")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    produce(broker.bootstrap, COMPLAINTS, [received("W-1", now), received("W-2", now),
                                           complaint("W-2", "contacted", now)])
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(("sla_breach/W-1/1/contact", "firing")), timeout=30)
    ks = keys(alerts)
    assert ks.index(("sla_warning/W-1/1/contact", "firing")) < ks.index(("sla_breach/W-1/1/contact", "firing"))
    assert not [k for k in ks if "W-2" in k[0]]
    produce(broker.bootstrap, COMPLAINTS, [complaint("W-1", "contacted", now)])
    read_topic(broker.bootstrap, ALERTS, until=has(("sla_breach/W-1/1/contact", "retracted")), timeout=30)


def test_bad_config_is_refused_with_file_and_line(tmp_path, daemon):
    path = daemon.write_config()
    text = path.read_text()
    bad = tmp_path / "bad.conf"
    bad.write_text(text + "\n[clock]\nmode = sometimes\n")
    line = len((text + "\n[clock]\n").splitlines()) + 1
    res = run_complaintd("-c", str(bad), "--check-config")
    assert res.returncode == 2
    assert f"{bad}:{line}:" in res.stderr
    res = run_complaintd("-c", str(bad))
    assert res.returncode == 2 and f"{bad}:{line}:" in res.stderr
    res = run_complaintd("-c", str(path), "--check-config")
    assert res.returncode == 0, res.stderr


def test_schema_behind_is_refused(daemon):
    path = daemon.write_config()
    res = run_complaintd("-c", str(path), timeout=30)
    assert res.returncode != 0
    assert "schema is behind" in res.stderr and "migrate" in res.stderr
    daemon.migrate(path)
    daemon.migrate(path)  # idempotent


def test_sighup_reload_keeps_old_policy_on_error(broker, daemon, db):
    d = daemon()
    produce(broker.bootstrap, COMPLAINTS, [received("H-1", at(0))])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM tickets") == 1)
    d.update_config({"policy": {"sla.contact.normal": "bogus"}})
    d.reload()
    d.wait_log("keeping the old configuration")
    assert d.running
    d.update_config({"policy": {"sla.contact.normal": "30m calendar"}})
    d.reload()
    d.wait_log("policy applied")
    wait_for(lambda: scalar(db, "SELECT contact_deadline FROM tickets WHERE ticket_id = 'H-1'") == at(minutes=30))


def test_batch_max_bounds_each_transaction(broker, daemon, db):
    import re
    evs = stream("M", 12)
    produce(broker.bootstrap, COMPLAINTS, evs)
    d = daemon({"daemon": {"batch_max": "5"}})
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events") == len(evs), timeout=60)
    sizes = [int(n) for n in re.findall(r"committing batch: (\d+) events", d.log)]
    assert sum(sizes) == len(evs)
    # the drain stops at the limit; one more message may ride along after a commit
    assert max(sizes) <= 6 and len([s for s in sizes if s > 0]) >= len(evs) // 6


def test_closed_tickets_leave_memory_after_the_look_back(broker, daemon, db):
    d = daemon({"policy": {"repeat_lookback": "30d"}})
    produce(broker.bootstrap, COMPLAINTS, [
        received("E-1", at(0)),
        complaint("E-1", "closed", at(hours=1)),
        received("E-2", at(days=40)),
    ])
    d.wait_log("evicted 1 tickets closed more than the look-back ago")
    # it stays in PostgreSQL; the daemon goes on
    assert scalar(db, "SELECT status FROM tickets WHERE ticket_id = 'E-1'") == "closed"
    produce(broker.bootstrap, COMPLAINTS, [received("E-3", at(days=41))])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM tickets") == 3)
