"""Volume through the real binary: a deadline storm with a producer queue
that overflows, batches bounded in effects, and the same alerts whatever
batch_max is."""

import re
import urllib.request

import pytest

from events import at, mixed_stream, received
from harness import ALERTS, COMPLAINTS, SCANS, free_port, produce, query, read_records, scalar, wait_for

pytestmark = pytest.mark.broker(partitions=2)


def batch_effects(log: str) -> list[int]:
    return [int(n) for n in re.findall(r"committing batch: .*; (\d+) effects;", log)]


def metric(listen: str, name: str) -> int:
    with urllib.request.urlopen(f"http://{listen}/metrics", timeout=5) as r:
        m = re.search(rf"^{name} (-?\d+)$", r.read().decode(), re.M)
    assert m, f"{name} not exported"
    return int(m[1])


def alert_keys(bootstrap: str, topic: str, want: int | None = None, timeout: float = 60) -> list[tuple[str, str]]:
    until = None if want is None else (lambda recs: len({(r.data.get("alert_id"), r.data.get("status"))
                                                         for r in recs}) >= want)
    recs = read_records(bootstrap, topic, until=until, timeout=timeout)
    return [(r.data["alert_id"], r.data["status"]) for r in recs if "alert_id" in r.data]


def test_deadline_storm_reaches_the_topic_without_a_restart(broker, daemon, db):
    """Many tickets, then one event 40 days later: every deadline of every
    ticket falls due at once. With a producer queue of 50 messages and an
    outbox bound of 300 the burst must wait in the outbox, go out as the
    broker acknowledges, and hold consumption back meanwhile."""
    n = 1500
    evs = [received(f"S-{i:05d}", at(minutes=i / 60)) for i in range(n)]
    evs.append(received("S-far", at(days=40)))
    produce(broker.bootstrap, COMPLAINTS, evs, key_field="ticket_id")
    listen = f"127.0.0.1:{free_port()}"
    d = daemon({
        "daemon": {"batch_max": "100", "outbox_max": "300", "metrics_listen": listen},
        "kafka": {"rdkafka.queue.buffering.max.messages": "50"},
    })
    # contact, first reply and resolve of every ticket: a warning and a breach each
    want = n * 3 * 2
    keys = alert_keys(broker.bootstrap, ALERTS, want, timeout=240)
    got = set(keys)
    assert len(got) == want, f"{len(got)} of {want} alert transitions on the topic"
    assert all(status == "firing" for _, status in got)
    assert d.running, "the daemon stopped"
    # the producer did refuse: the outbox held the overflow and retried it
    assert metric(listen, "complaintd_publish_refusals_total") > 0
    # no transaction held more than batch_max effects
    sizes = batch_effects(d.log)
    assert sizes and max(sizes) <= 100, f"largest batch: {max(sizes)} effects"
    assert metric(listen, "complaintd_batch_effects_max") <= 100
    # and every row is marked sent, without a restart
    wait_for(lambda: scalar(db, "SELECT count(*) FROM unsent_alerts") == 0, timeout=60,
             what="every alert row marked sent")
    assert scalar(db, "SELECT count(*) FROM alerts") == want
    assert metric(listen, "complaintd_publish_queue") == 0


def finished(conninfo: str, messages: int):
    """An `until` for a run: every message consumed and every alert sent."""
    def done() -> bool:
        consumed = scalar(conninfo, "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets")
        unsent = scalar(conninfo, "SELECT count(*) FROM unsent_alerts")
        return consumed == messages and unsent == 0
    return done


TICKET_COLUMNS = ("ticket_id, status, round, priority, reasons, category, claim, major, contact_deadline, "
                  "first_reply_deadline, resolve_deadline, revisit_deadline, closed_at, responsible")


def test_tiny_batch_max_gives_the_same_alerts(broker, daemon, db, pg):
    """The same stream through two daemons: default bounds, and a batch of at
    most one effect with an outbox of five. Alert transitions and ticket rows
    must be the same."""
    complaints, scans = mixed_stream(100)
    produce(broker.bootstrap, SCANS, scans, key_field="waybill")
    produce(broker.bootstrap, COMPLAINTS, complaints, key_field="ticket_id")
    total = len(complaints) + len(scans)
    # a long linger: both topics' first fetches are merged before anything applies
    big = daemon({"daemon": {"batch_linger_ms": "2000"}})
    wait_for(finished(db, total), timeout=120, what="the default run to finish")
    big.stop()

    db2 = pg.create_database()
    try:
        tiny = daemon({
            "postgres": {"conninfo": db2},
            "kafka": {"group_id": "tiny-" + daemon.group_id, "alerts_topic": "alerts.tiny",
                      "dlq_topic": "dlq.tiny", "rdkafka.queue.buffering.max.messages": "3"},
            "daemon": {"batch_max": "1", "outbox_max": "5", "batch_linger_ms": "2000"},
        })
        wait_for(finished(db2, total), timeout=300, what="the tiny-batch run to finish")
        tiny.stop()
        sizes = batch_effects(tiny.log)
        assert len(sizes) > total, "the tiny run should commit far more batches"

        want = set(alert_keys(broker.bootstrap, ALERTS))
        got = set(alert_keys(broker.bootstrap, "alerts.tiny"))
        assert len(want) > 300
        assert got == want, f"only default: {sorted(want - got)[:5]}, only tiny: {sorted(got - want)[:5]}"
        rows = f"SELECT {TICKET_COLUMNS} FROM tickets ORDER BY ticket_id"
        assert query(db2, rows) == query(db, rows)
        events = "SELECT event_id, effect FROM ticket_events ORDER BY event_id"
        assert query(db2, events) == query(db, events)
    finally:
        pg.drop_database(db2)


def test_killed_while_publishing_republishes_the_rest(broker, daemon, db):
    """kill -9 while the outbox holds committed alerts the broker has not
    acknowledged: the next start pages them in from PostgreSQL (above the
    stored watermark) and publishes them before anything new."""
    n = 800
    evs = [received(f"K-{i:05d}", at(minutes=i / 60)) for i in range(n)]
    evs.append(received("K-far", at(days=40)))
    produce(broker.bootstrap, COMPLAINTS, evs, key_field="ticket_id")
    listen = f"127.0.0.1:{free_port()}"
    extra = {
        "daemon": {"batch_max": "100", "outbox_max": "300", "metrics_listen": listen},
        "kafka": {"rdkafka.queue.buffering.max.messages": "20"},
    }
    d = daemon(extra)
    want = n * 3 * 2
    wait_for(lambda: scalar(db, "SELECT count(*) FROM alerts") >= want // 2, timeout=120,
             what="half the storm committed")
    d.kill()
    left = scalar(db, "SELECT count(*) FROM unsent_alerts")
    assert left > 0, "nothing was left to republish: kill earlier"
    d.start()
    keys = alert_keys(broker.bootstrap, ALERTS, want, timeout=180)
    assert len(set(keys)) == want
    wait_for(lambda: scalar(db, "SELECT count(*) FROM unsent_alerts") == 0, timeout=60)
    assert "republishing" in d.log
    # every transition went out firing first: nothing resolves in this storm,
    # and no alert id went out with another status
    assert {status for _, status in keys} == {"firing"}
