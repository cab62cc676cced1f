"""complaintd end to end: complaint events in, ticket state and SLA alerts out.

Every test runs the real binary against the dev broker and a real PostgreSQL
and checks what lands on the alerts and dead-letter topics and in the tables.
Most run in clock.mode = event with one partition, so the stream's order is
the order of event time and the expected alerts are exact.
"""

import json
import time
from datetime import timedelta

import pytest

from events import at, complaint, find, has, iso, keys, received
from harness import ALERTS, COMPLAINTS, DLQ, produce, query, read_records, read_topic, scalar, wait_for

pytestmark = pytest.mark.broker(partitions=1)


def test_contact_breach_resolved_late_and_warning(broker, daemon, db):
    d = daemon()
    produce(broker.bootstrap, COMPLAINTS, [
        received("T-1", at(0), waybill="SF1", site="SZ01", customer_ref="c-1"),
        # contact is due 2 business hours later: 11:00; warning at 80 %: 10:36
        complaint("T-1", "contacted", at(hours=3)),            # 12:00, late by 1 h
        complaint("T-1", "first_reply", at(hours=4)),
    ], key_field="ticket_id")
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(
        ("sla_breach/T-1/1/contact", "resolved"), ("sla_warning/T-1/1/contact", "resolved")))
    assert keys(alerts) == [
        ("sla_warning/T-1/1/contact", "firing"),
        ("sla_breach/T-1/1/contact", "firing"),
        ("sla_warning/T-1/1/contact", "resolved"),
        ("sla_breach/T-1/1/contact", "resolved"),
    ]
    w = find(alerts, "sla_warning/T-1/1/contact", "firing")
    assert w["schema"] == "alert.v1" and w["type"] == "sla_warning"
    assert w["condition_at"] == iso(at(minutes=96))
    assert w["deadline"] == iso(at(hours=2))
    b = find(alerts, "sla_breach/T-1/1/contact", "firing")
    assert b["ticket_id"] == "T-1" and b["round"] == 1 and b["stage"] == "contact"
    assert b["priority"] == "normal" and b["reasons"] == []
    assert b["category"] == "damage" and b["waybill"] == "SF1" and b["site"] == "SZ01"
    assert b["condition_at"] == b["deadline"] == iso(at(hours=2))
    assert "c-1" not in str(alerts)  # personal data never in alerts
    r = find(alerts, "sla_breach/T-1/1/contact", "resolved")
    assert r["late_by_seconds"] == 3600

    row = query(db, "SELECT status, round, priority, contacted_at = %s::timestamptz, first_reply_at IS NOT NULL "
                    "FROM tickets WHERE ticket_id = 'T-1'", [iso(at(hours=3))])
    assert row == [("first_reply", 1, "normal", True, True)]
    assert scalar(db, "SELECT count(*) FROM ticket_events WHERE ticket_id = 'T-1'") == 3
    d.stop()
    assert scalar(db, "SELECT count(*) FROM unsent_alerts") == 0


def test_retracted_when_completion_arrives_late(broker, daemon):
    daemon()
    produce(broker.bootstrap, COMPLAINTS, [
        received("T-2", at(0)),
        received("T-3", at(hours=3)),                  # the clock passes T-2's contact deadline
        complaint("T-2", "contacted", at(hours=1)),    # done on time, reported late
    ])
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(("sla_breach/T-2/1/contact", "retracted")))
    assert ("sla_breach/T-2/1/contact", "firing") in keys(alerts)
    r = find(alerts, "sla_breach/T-2/1/contact", "retracted")
    assert "late_by_seconds" not in r
    assert keys(alerts).index(("sla_breach/T-2/1/contact", "firing")) < \
        keys(alerts).index(("sla_breach/T-2/1/contact", "retracted"))


def frac(t, digits: str = "500") -> str:
    """iso(t) with a fraction of a second."""
    s = iso(t)
    return s[:19] + "." + digits + s[19:]


def test_a_fraction_of_a_second_after_the_deadline_is_late(broker, daemon):
    daemon()
    produce(broker.bootstrap, COMPLAINTS, [
        received("F-1", at(0)),                                            # contact due 11:00:00
        received("F-2", at(0)),
        complaint("F-2", "contacted", at(hours=2), occurred_at=frac(at(hours=2), "000")),  # 11:00:00.000: met
        complaint("F-1", "contacted", at(hours=2), occurred_at=frac(at(hours=2))),       # 11:00:00.500
        received("F-3", at(hours=3)),
    ])
    # F-2's breach, were it wrongly fired, would have been sent with F-1's
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(("sla_breach/F-1/1/contact", "resolved")), to_end=True)
    r = find(alerts, "sla_breach/F-1/1/contact", "resolved")
    assert r["late_by_seconds"] == 1 and r["deadline"] == iso(at(hours=2))
    assert keys(alerts).index(("sla_breach/F-1/1/contact", "firing")) < \
        keys(alerts).index(("sla_breach/F-1/1/contact", "resolved"))
    assert not [k for k in keys(alerts) if k[0] == "sla_breach/F-2/1/contact"]


def test_every_event_of_a_deadline_second_comes_before_it(broker, daemon):
    """Event mode: a deadline fires once the clock has passed its second, so
    a completion dated the deadline itself meets it even when another
    ticket's event of that second came first (contract §6, §11)."""
    daemon()
    produce(broker.bootstrap, COMPLAINTS, [
        received("S-1", at(0)),                                  # contact due 11:00
        received("S-2", at(0)),
        received("S-3", at(hours=2)),                            # 11:00: the clock reaches the deadline
        complaint("S-1", "contacted", at(hours=2)),              # 11:00 as well: met
        received("S-4", at(hours=2), occurred_at=frac(at(hours=2))),  # 11:00:00.500: S-2's breach fires first
        complaint("S-2", "contacted", at(hours=2), occurred_at=frac(at(hours=2), "600")),
    ])
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(("sla_breach/S-2/1/contact", "resolved")))
    assert not [k for k in keys(alerts) if k[0] == "sla_breach/S-1/1/contact"]
    assert ("sla_warning/S-1/1/contact", "resolved") in keys(alerts)
    assert keys(alerts).index(("sla_breach/S-2/1/contact", "firing")) < \
        keys(alerts).index(("sla_breach/S-2/1/contact", "resolved"))
    assert find(alerts, "sla_breach/S-2/1/contact", "resolved")["late_by_seconds"] == 1


def test_implied_stages_revisit_reopen_and_escalation(broker, daemon, db):
    daemon()
    produce(broker.bootstrap, COMPLAINTS, [
        received("T-4", at(0), channel="regulator", category="loss"),
        complaint("T-4", "resolved", at(minutes=30)),          # implies contact and first reply
        complaint("T-4", "contacted", at(minutes=40)),         # history
        complaint("T-4", "revisit", at(hours=1), satisfied=False),
        complaint("T-4", "contacted", at(hours=1, minutes=30)),
        complaint("T-4", "first_reply", at(hours=2)),
        complaint("T-4", "resolved", at(hours=3)),
        complaint("T-4", "revisit", at(hours=4), satisfied=True),
    ])
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(
        ("ticket_escalated/T-4/1", "resolved"), ("ticket_escalated/T-4/2", "resolved")))
    assert keys(alerts) == [
        ("ticket_escalated/T-4/1", "firing"),
        ("ticket_escalated/T-4/2", "firing"),
        ("ticket_escalated/T-4/1", "resolved"),
        ("ticket_escalated/T-4/2", "resolved"),
    ]
    e1 = find(alerts, "ticket_escalated/T-4/1", "firing")
    assert e1["priority"] == "urgent" and e1["reasons"] == ["channel"] and e1["round"] == 1
    e2 = find(alerts, "ticket_escalated/T-4/2", "firing")
    assert e2["reasons"] == ["channel", "reopened"] and e2["round"] == 2
    assert e2["condition_at"] == iso(at(hours=1))
    rows = query(db, "SELECT status, round, priority, reasons FROM tickets WHERE ticket_id = 'T-4'")
    assert rows == [("closed", 2, "urgent", ["channel", "reopened"])]
    effects = dict(query(db, "SELECT effect, count(*) FROM ticket_events WHERE ticket_id = 'T-4' GROUP BY 1"))
    assert effects == {"applied": 7, "history": 1}


def test_a_pause_goes_on_into_a_reopened_round_by_event_time(broker, daemon):
    # P-1 and P-2 have the same history; P-2's revisit and resumed arrive
    # after the clock passed the pause's agreed date (20:00). Round 2 starts
    # at the revisit (12:00) paused until the resumed (15:00), so its contact
    # (2 business hours) is due 17:00 for both.
    daemon()
    def history(t):
        return [received(t, at(0)), complaint(t, "resolved", at(hours=1)),
                complaint(t, "paused", at(hours=2), until=iso(at(hours=11)))]
    in_time = [complaint(t, ty, at(hours=h), **kw) for t, ty, h, kw in (
        ("P-1", "revisit", 3, {"satisfied": False}), ("P-1", "resumed", 6, {}))]
    produce(broker.bootstrap, COMPLAINTS, history("P-1") + history("P-2") + in_time + [
        received("P-X", at(hours=12)),                             # the clock passes 20:00
        complaint("P-2", "revisit", at(hours=3), satisfied=False),
        complaint("P-2", "resumed", at(hours=6)),
        received("P-Y", at(days=1, hours=3)),                      # round 2's deadlines fall due
    ])
    ids = [f"sla_breach/{t}/2/contact" for t in ("P-1", "P-2")]
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(*[(i, "firing") for i in ids]))
    for i in ids:
        assert find(alerts, i, "firing")["deadline"] == iso(at(hours=8)), i


def test_claim_and_major_budgets(broker, daemon, db):
    daemon()
    produce(broker.bootstrap, COMPLAINTS, [
        received("T-5", at(0), claim=True),                                  # resolve 120 h, warn 96 h
        received("T-6", at(0), major=True, claim=True),                      # urgent: resolve 72 h
        complaint("T-5", "contacted", at(minutes=10)),
        complaint("T-6", "contacted", at(minutes=10)),
        complaint("T-5", "first_reply", at(hours=1)),
        complaint("T-6", "first_reply", at(hours=1)),
        received("T-7", at(days=4, hours=1)),                                # moves the clock 97 h on
    ])
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(
        ("sla_warning/T-5/1/resolve", "firing"), ("sla_breach/T-6/1/resolve", "firing")))
    assert find(alerts, "sla_warning/T-5/1/resolve", "firing")["deadline"] == iso(at(hours=120))
    assert find(alerts, "sla_warning/T-5/1/resolve", "firing")["condition_at"] == iso(at(hours=96))
    b6 = find(alerts, "sla_breach/T-6/1/resolve", "firing")
    assert b6["deadline"] == iso(at(hours=72)) and b6["priority"] == "urgent" and b6["reasons"] == ["major"]
    assert ("ticket_escalated/T-6/1", "firing") in keys(alerts)
    assert ("sla_breach/T-5/1/resolve", "firing") not in keys(alerts)
    deadlines = dict(query(db, "SELECT ticket_id, resolve_deadline FROM tickets WHERE ticket_id IN ('T-5','T-6')"))
    assert deadlines["T-5"] == at(hours=120) and deadlines["T-6"] == at(hours=72)


def test_updated_recomputes_and_closed_resolves(broker, daemon, db):
    daemon()
    produce(broker.bootstrap, COMPLAINTS, [
        received("T-8", at(0)),
        complaint("T-8", "contacted", at(minutes=5)),
        complaint("T-8", "first_reply", at(minutes=10)),
        received("T-9", at(hours=30)),                    # T-8's resolve warning (24 h) fires
        complaint("T-8", "updated", at(hours=31), claim=True, major=True),
        received("T-10", at(hours=80)),                   # past the urgent claim deadline (72 h)
        complaint("T-8", "closed", at(hours=81), reason="withdrawn by the customer"),
    ])
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(
        ("sla_breach/T-8/1/resolve", "resolved"), ("ticket_escalated/T-8/1", "resolved")))
    ks = keys(alerts)
    t8 = [k for k in ks if "/T-8/" in k[0]]
    assert t8 == [
        ("sla_warning/T-8/1/resolve", "firing"),
        ("progress_due/T-8/1/1", "firing"),              # 24 h after first_reply, no progress (§12.4)
        ("ticket_escalated/T-8/1", "firing"),
        # the claim moved the deadline past now: the warning ends, and fires
        # again under /2 at the new warn point (§12.1)
        ("sla_warning/T-8/1/resolve", "resolved"),
        ("sla_warning/T-8/1/resolve/2", "firing"),
        ("sla_breach/T-8/1/resolve", "firing"),
        ("sla_warning/T-8/1/resolve/2", "resolved"),
        ("sla_breach/T-8/1/resolve", "resolved"),
        ("progress_due/T-8/1/1", "resolved"),
        ("ticket_escalated/T-8/1", "resolved"),
    ]
    assert find(alerts, "sla_breach/T-8/1/resolve", "firing")["deadline"] == iso(at(hours=72))
    assert "late_by_seconds" not in find(alerts, "sla_breach/T-8/1/resolve", "resolved")
    assert query(db, "SELECT status, claim, major FROM tickets WHERE ticket_id = 'T-8'") == [("closed", True, True)]


def test_held_events_and_duplicates(broker, daemon, db):
    daemon()
    first = complaint("T-11", "contacted", at(minutes=20))
    produce(broker.bootstrap, COMPLAINTS, [
        first,                                            # before its received: held
        received("T-11", at(0)),
        first,                                            # duplicate event_id: no effect
        complaint("T-11", "first_reply", at(hours=1)),
        received("T-12", at(hours=5)),
        received("T-13", at(hours=8)),                    # T-12's contact deadline passes
    ])
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(("sla_breach/T-12/1/contact", "firing")), timeout=20)
    assert not [k for k in keys(alerts) if "/T-11/" in k[0] and "contact" in k[0]]
    assert scalar(db, "SELECT count(*) FROM ticket_events WHERE ticket_id = 'T-11'") == 3
    assert scalar(db, "SELECT count(*) FROM held_events") == 0
    assert scalar(db, "SELECT contacted_at FROM tickets WHERE ticket_id = 'T-11'") == at(minutes=20)


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_one_event_id_on_two_tickets_is_one_event(broker, daemon, db, how):
    """Contract §2: an event_id is globally unique, the idempotency key. A
    copy under another ticket is a duplicate, whether the first is held
    for its ticket or recorded by it, and before and after a restart."""
    d = daemon()
    a = complaint("T-16", "contacted", at(minutes=20))
    b = dict(complaint("T-17", "contacted", at(minutes=30)), event_id=a["event_id"])
    r17 = received("T-17", at(0))
    produce(broker.bootstrap, COMPLAINTS, [a, b, r17, dict(received("T-18", at(0)), event_id=r17["event_id"])])
    wait_for(lambda: scalar(db, "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets") == 4)
    assert query(db, "SELECT ticket_id FROM held_events") == [("T-16",)]
    assert query(db, "SELECT ticket_id, contacted_at FROM tickets ORDER BY 1") == [("T-17", None)]
    d.halt(how)
    d.restart()
    produce(broker.bootstrap, COMPLAINTS, [
        dict(complaint("T-17", "first_reply", at(minutes=40)), event_id=a["event_id"]),
        dict(received("T-19", at(0)), event_id=r17["event_id"]),
        received("T-16", at(hours=-1)),
    ])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM held_events") == 0)
    wait_for(lambda: scalar(db, "SELECT contacted_at FROM tickets WHERE ticket_id = 'T-16'") == at(minutes=20))
    assert query(db, "SELECT ticket_id, contacted_at, first_reply_at FROM tickets ORDER BY 1") == [
        ("T-16", at(minutes=20), None), ("T-17", None, None)]
    assert query(db, "SELECT ticket_id, type FROM ticket_events ORDER BY 1, 2") == [
        ("T-16", "contacted"), ("T-16", "received"), ("T-17", "received")]
    assert scalar(db, "SELECT count(*) FROM dead_letters") == 0


def test_a_stop_does_not_expire_held_events(broker, daemon, db):
    # A contact held for its received; the daemon is stopped, the received
    # is produced, and the hold_timeout passes before the start: the
    # backlog is read before any hold expires, so the received releases it.
    d = daemon({"policy": {"hold_timeout": "4s"}})
    produce(broker.bootstrap, COMPLAINTS, [complaint("T-14", "contacted", at(minutes=20))])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM held_events") == 1)
    assert d.stop() == 0
    produce(broker.bootstrap, COMPLAINTS, [received("T-14", at(0)), received("T-15", at(hours=5))])
    time.sleep(5)
    d.restart()
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events WHERE ticket_id = 'T-14'") == 2)
    assert scalar(db, "SELECT contacted_at FROM tickets WHERE ticket_id = 'T-14'") == at(minutes=20)
    assert scalar(db, "SELECT count(*) FROM held_events") == 0
    assert scalar(db, "SELECT count(*) FROM dead_letters") == 0


def test_held_events_are_bounded_by_hold_max(broker, daemon, db):
    """More held events than hold_max: the oldest are dead-lettered at once
    (unknown_ticket, naming hold_max), long before hold_timeout; the rest
    stay held, and a received still applies them. A lower hold_max after a
    restart trims what the start loaded."""
    d = daemon({"policy": {"hold_max": "3"}})
    early = [complaint(f"T-3{i}", "contacted", at(minutes=20 + i)) for i in range(3)]
    produce(broker.bootstrap, COMPLAINTS, early)
    wait_for(lambda: scalar(db, "SELECT count(*) FROM held_events") == 3)
    time.sleep(1.1)  # the next two are held a second later
    late = [complaint(f"T-3{i}", "contacted", at(minutes=20 + i)) for i in range(3, 5)]
    produce(broker.bootstrap, COMPLAINTS, late)
    early_or_late = early + late
    dl = read_topic(broker.bootstrap, DLQ, until=lambda m: len(m) >= 2, timeout=30)
    assert [x["reason"] for x in dl] == ["unknown_ticket", "unknown_ticket"]
    assert all("hold_max = 3" in x["detail"] for x in dl)
    gone = {json.loads(x["payload"])["ticket_id"] for x in dl}
    assert gone < {"T-30", "T-31", "T-32"}
    wait_for(lambda: scalar(db, "SELECT count(*) FROM held_events") == 3)
    assert d.stop() == 0
    text = d.config_path.read_text()
    assert "hold_max = 3" in text
    d.config_path.write_text(text.replace("hold_max = 3", "hold_max = 1"))
    d.restart()
    dl = read_topic(broker.bootstrap, DLQ, until=lambda m: len(m) >= 4, timeout=30)
    assert len(dl) == 4 and all("hold_max = 1" in x["detail"] for x in dl[2:])
    # the ones a start loaded keep where they came from, and their bytes
    assert sorted(x["offset"] for x in dl) == sorted({x["offset"] for x in dl}) and \
        all(x["source_topic"] == COMPLAINTS and x["partition"] == 0 and 0 <= x["offset"] < 5 for x in dl)
    assert all(json.loads(x["payload"]) == early_or_late[x["offset"]] for x in dl)
    gone |= {json.loads(x["payload"])["ticket_id"] for x in dl[2:]}
    kept = {f"T-3{i}" for i in range(5)} - gone
    assert len(kept) == 1 and kept <= {"T-33", "T-34"}
    produce(broker.bootstrap, COMPLAINTS, [received(f"T-3{i}", at(0)) for i in range(5)])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM tickets") == 5)
    wait_for(lambda: scalar(db, "SELECT count(*) FROM held_events") == 0)
    assert query(db, "SELECT ticket_id FROM tickets WHERE contacted_at IS NOT NULL") == [(k,) for k in kept]
    assert scalar(db, "SELECT count(*) FROM dead_letters") == 4
    assert d.running


def test_dead_letters_keep_the_daemon_running(broker, daemon, db):
    d = daemon({"daemon": {"max_event_bytes": "2048"}, "policy": {"hold_timeout": "2s"}})
    bad = [
        b"{not json",
        {"schema": "complaint.v9", "event_id": "x1", "ticket_id": "T-20", "type": "received",
         "occurred_at": iso(at(0))},
        {"schema": "complaint.v1", "ticket_id": "T-20", "type": "received", "occurred_at": iso(at(0))},
        received("T-20", at(0), category="teleportation"),
        received("T-20", at(0), occurred_at="yesterday"),
        received("T-20", at(0), site="x" * 3000),
        received("T-21", at(0)),
        complaint("T-21", "revisit", at(minutes=5), satisfied=True),   # before resolved
        complaint("T-22", "contacted", at(minutes=6)),                   # never received
    ]
    produce(broker.bootstrap, COMPLAINTS, bad, key_field="ticket_id")
    dl = read_topic(broker.bootstrap, DLQ, until=lambda m: len(m) >= 8, timeout=30)
    got = [(x["reason"], x["detail"].split(":")[0]) for x in dl]
    assert got[:7] == [
        ("malformed_json", got[0][1]),
        ("unknown_schema", "schema"),
        ("missing_field", "event_id"),
        ("invalid_field", "category"),
        ("invalid_field", "occurred_at"),
        ("too_large", got[5][1]),
        ("invalid_transition", got[6][1]),
    ]
    assert got[7] == ("unknown_ticket", "ticket_id")
    for x in dl:
        assert x["schema"] == "dlq.v1" and x["source_topic"] == COMPLAINTS and x["partition"] == 0
        assert isinstance(x["offset"], int) and isinstance(x["payload"], str)
    assert dl[0]["payload"] == "{not json" and dl[0]["offset"] == 0
    assert dl[7]["offset"] == 8
    assert d.running
    # the daemon still works after all that; a ticket closed before it was
    # ever resolved still takes no revisit (§4)
    produce(broker.bootstrap, COMPLAINTS, [
        received("T-23", at(hours=1)),
        received("T-25", at(hours=1)),
        complaint("T-25", "closed", at(hours=1, minutes=5)),
        complaint("T-25", "revisit", at(hours=1, minutes=10), satisfied=False),
        received("T-24", at(hours=9)),
    ])
    read_topic(broker.bootstrap, ALERTS, until=has(("sla_breach/T-23/1/contact", "firing")))
    dl = read_topic(broker.bootstrap, DLQ, until=lambda m: len(m) >= 9, timeout=30)
    assert dl[8]["reason"] == "invalid_transition" and '"T-25"' in dl[8]["payload"]
    assert scalar(db, "SELECT count(*) FROM dead_letters") == 9
    assert scalar(db, "SELECT round FROM tickets WHERE ticket_id = 'T-25'") == 1


def test_dead_letters_keep_any_key(broker, daemon, db):
    # Keys are bytes: one that is not UTF-8 (PostgreSQL's text would refuse
    # it), one with a NUL, one longer than 255 bytes. Each dead letter goes
    # out with its original key, and the batch behind it still commits.
    from confluent_kafka import Producer
    d = daemon()
    odd_keys = [b"\xff", b"k\x00z", b"K" * 300, b"a\\b"]
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for k in odd_keys:
        p.produce(COMPLAINTS, value=b"garbage", key=k, partition=0)
    p.produce(COMPLAINTS, value=json.dumps(received("T-26", at(0))).encode(), key=b"\xfe", partition=0)
    p.produce(COMPLAINTS, value=json.dumps(received("T-27", at(hours=9))).encode(), key=b"T-27", partition=0)
    assert p.flush(30) == 0
    dl = read_records(broker.bootstrap, DLQ, until=lambda m: len(m) >= 4, timeout=30)
    assert [r.key for r in dl] == odd_keys
    read_topic(broker.bootstrap, ALERTS, until=has(("sla_breach/T-26/1/contact", "firing")))
    assert scalar(db, "SELECT key FROM dead_letters WHERE source_offset = 0") == "\\xff"
    assert scalar(db, "SELECT count(*) FROM dead_letters") == 4
    assert d.running


@pytest.mark.broker(partitions=4)
def test_partitions_fetched_together_are_merged_by_event_time(broker, daemon):
    # Produced before the daemon starts: its first fetch brings every
    # partition. Applied partition by partition, T-31's 15:00 would move the
    # event clock past T-30's contact deadline before T-30's contact is seen.
    evs = [received("T-30", at(0)), complaint("T-30", "contacted", at(minutes=30))]
    evs += [received(f"T-3{i}", at(hours=6)) for i in range(1, 8)]
    evs += [received("T-39", at(hours=9))]
    produce(broker.bootstrap, COMPLAINTS, evs, key_field="ticket_id")
    # The partitions' first fetches need not land in one drain (a slow,
    # sanitized build starts them apart): linger long enough to take them all.
    daemon({"daemon": {"batch_linger_ms": "1000"}})
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(("sla_breach/T-31/1/contact", "firing")))
    assert not [k for k in keys(alerts) if "/T-30/" in k[0]]


@pytest.mark.broker(partitions=2)
def test_merge_orders_one_second_by_fraction_then_received_last(broker, daemon):
    # The events that must go second are on partition 0, which wins a tie
    # of queues: the merge must order them by the fraction of the second,
    # and at one instant put a received after the rest.
    ms = lambda n: timedelta(milliseconds=n)  # noqa: E731
    first = [received("M-A", at(0)), complaint("M-A", "contacted", at(hours=2)),       # due 11:00: met
             received("M-X1", at(hours=3), waybill="W77"), complaint("M-X1", "resolved", at(hours=4) + ms(300)),
             received("M-Y1", at(hours=5), waybill="W78"), complaint("M-Y1", "resolved", at(hours=6))]
    second = [received("M-B", at(hours=2) + ms(500)),                                    # 11:00:00.5
              received("M-X2", at(hours=4) + ms(600), waybill="W77"),                    # after X1's resolution
              received("M-Y2", at(hours=6), waybill="W78"),                              # the same instant
              received("M-Z", at(hours=9))]
    produce(broker.bootstrap, COMPLAINTS, first, partition=1)
    produce(broker.bootstrap, COMPLAINTS, second, partition=0)
    daemon({"daemon": {"batch_linger_ms": "1000"}})
    # M-A's breach, were it wrongly fired, would have been sent at 11:00,
    # long before: every partition read to its end has it
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(("repeat_complaint/M-X2", "firing"),
                                                            ("repeat_complaint/M-Y2", "firing")), to_end=True)
    assert not [k for k in keys(alerts) if k[0].startswith("sla_breach/M-A/")]
    assert find(alerts, "repeat_complaint/M-X2", "firing")["previous_ticket_id"] == "M-X1"
    assert find(alerts, "repeat_complaint/M-Y2", "firing")["previous_ticket_id"] == "M-Y1"


def test_fields_with_the_bytes_copy_escapes_are_stored_as_sent(broker, daemon, db):
    # Rows go to PostgreSQL in COPY's text format, where a backslash, a tab,
    # a newline and a carriage return must be escaped. The fields that may
    # hold a backslash, and a held event's original bytes (a pretty-printed
    # message: tabs, newlines and carriage returns between its tokens), come
    # back from the tables byte for byte, and the ticket runs on.
    odd = "\\" + "a" * 40 + "\\\\" + "é" * 20 + "b\\"
    tid = "T-esc"
    held = json.dumps(complaint(tid, "contacted", at(hours=3)), indent="\t").replace("\n", "\r\n")
    d = daemon()
    produce(broker.bootstrap, COMPLAINTS, [held.encode()])
    assert wait_for(lambda: scalar(db, "SELECT payload FROM held_events WHERE ticket_id = %s", [tid]),
                    what="the held event") == held
    produce(broker.bootstrap, COMPLAINTS, [received(tid, at(0), site="S\\Z" * 20, customer_ref=odd)])
    breach = f"sla_breach/{tid}/1/contact"
    alerts = read_topic(broker.bootstrap, ALERTS, until=has((breach, "resolved")))
    assert find(alerts, breach, "firing")["site"] == "S\\Z" * 20
    assert query(db, "SELECT site, customer_ref, status FROM tickets WHERE ticket_id = %s", [tid]) == [
        ("S\\Z" * 20, odd, "contacted")]
    assert scalar(db, "SELECT body->>'site' FROM ticket_events WHERE ticket_id = %s AND type = 'received'",
                  [tid]) == "S\\Z" * 20
    d.stop()
    # a start reads them back the same: the next event finds the ticket
    d = daemon()
    produce(broker.bootstrap, COMPLAINTS, [complaint(tid, "first_reply", at(hours=4))])
    wait_for(lambda: scalar(db, "SELECT status FROM tickets WHERE ticket_id = %s", [tid]) == "first_reply",
             what="the ticket read back after a start")
    assert scalar(db, "SELECT customer_ref FROM tickets WHERE ticket_id = %s", [tid]) == odd
    d.stop()
