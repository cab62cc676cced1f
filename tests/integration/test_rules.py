"""The second wave of rules (contract §12) through the real binary, on the
event clock: agreed pause dates, progress updates and the response schedule,
major complaints from facts, invalid complaints, delay or loss at 7 days
from pickup, site accountability and implausible times."""

from datetime import datetime, timedelta, timezone

import pytest

from events import at, complaint, find, has, iso, keys, received, scan
from harness import ALERTS, COMPLAINTS, DLQ, SCANS, produce, query, read_topic, scalar, wait_for

pytestmark = pytest.mark.broker(partitions=1)


def test_agreed_pause_progress_and_response_schedule(broker, daemon):
    daemon({"policy": {"response_schedule": "2h,24h,48h,5d"}})
    produce(broker.bootstrap, COMPLAINTS, [
        received("P-1", at(0)),
        complaint("P-1", "contacted", at(minutes=30)),        # response 1 of 4, due 2 h
        complaint("P-1", "first_reply", at(hours=1)),         # response 2, due 24 h
        complaint("P-1", "paused", at(hours=2), until=iso(at(hours=5))),
        received("P-2", at(hours=3)),
        complaint("P-2", "paused", at(hours=4)),              # no date: pause_max (72 h)
        received("P-3", at(hours=3)),
        complaint("P-3", "paused", at(hours=4), until=iso(at(hours=5))),
        complaint("P-3", "paused", at(hours=5), until=iso(at(hours=7))),  # at the agreed date: a new pause
        complaint("P-1", "resumed", at(hours=6)),             # an hour after the agreed date
        # no customer-facing event 24 h after first_reply: progress is due;
        # response 3 is due at received + 48 h
        complaint("P-1", "progress", at(hours=50)),
        received("Z", at(days=4)),                            # moves the clock on
    ])
    want = [("pause_overdue/P-1/1/1", "firing"), ("pause_overdue/P-1/1/1", "resolved"),
            ("progress_due/P-1/1/1", "firing"), ("progress_due/P-1/1/1", "resolved"),
            ("response_due/P-1/3", "firing"), ("response_due/P-1/3", "resolved"),
            ("pause_overdue/P-2/1/1", "firing"), ("pause_overdue/P-3/1/2", "firing")]
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(*want))
    ks = keys(alerts)
    assert set(want) <= set(ks)
    assert not [k for k in ks if k[0] == "pause_overdue/P-3/1/1"]
    assert find(alerts, "pause_overdue/P-3/1/2", "firing")["condition_at"] == iso(at(hours=7))
    assert find(alerts, "pause_overdue/P-1/1/1", "firing")["condition_at"] == iso(at(hours=5))
    assert find(alerts, "pause_overdue/P-1/1/1", "resolved")["resolved_at"] == iso(at(hours=6))
    assert find(alerts, "pause_overdue/P-2/1/1", "firing")["condition_at"] == iso(at(hours=76))
    # 24 h after first_reply, not counting the 3 h paused (as every SLA clock)
    assert find(alerts, "progress_due/P-1/1/1", "firing")["condition_at"] == iso(at(hours=28))
    assert find(alerts, "response_due/P-1/3", "firing")["condition_at"] == iso(at(hours=48))
    # the first two responses came in time; each alert fired once
    assert not [k for k in ks if k[0] in ("response_due/P-1/1", "response_due/P-1/2")]
    assert len(ks) == len(set(ks))
    assert find(alerts, "pause_overdue/P-1/1/1", "firing")["type"] == "pause_overdue"


def test_major_from_facts_and_reopened(broker, daemon, db):
    daemon()
    produce(broker.bootstrap, COMPLAINTS, [
        received("M-1", at(0), claim_amount=50000),
        received("M-2", at(minutes=1), complainants=4, vip=True, injury=False),
        received("M-3", at(minutes=2), claim_amount=49999.5, complainants=4),
        received("M-4", at(minutes=3)),
        complaint("M-4", "resolved", at(hours=1)),
        complaint("M-4", "revisit", at(hours=2), satisfied=False),
        received("M-5", at(minutes=4), major=True, executive=True),
        received("Z", at(hours=3)),
    ])
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(
        ("ticket_escalated/M-1/1", "firing"), ("ticket_escalated/M-2/1", "firing"),
        ("ticket_escalated/M-4/2", "firing"), ("ticket_escalated/M-5/1", "firing"),
        ("sla_warning/M-3/1/contact", "firing")))
    assert find(alerts, "ticket_escalated/M-1/1", "firing")["major_because"] == ["claim_amount"]
    assert find(alerts, "ticket_escalated/M-2/1", "firing")["major_because"] == ["vip"]
    assert find(alerts, "ticket_escalated/M-4/2", "firing")["major_because"] == ["reopened"]
    assert find(alerts, "ticket_escalated/M-5/1", "firing")["major_because"] == ["flag", "executive"]
    assert not [k for k in keys(alerts) if k[0].startswith("ticket_escalated/M-3/")]
    assert query(db, "SELECT ticket_id, major FROM tickets WHERE ticket_id LIKE 'M-%' ORDER BY 1") == [
        ("M-1", True), ("M-2", True), ("M-3", False), ("M-4", True), ("M-5", True)]


def test_invalid_complaint_target_and_bulk(broker, daemon, db):
    daemon()
    evs = [received(f"B-{i}", at(minutes=i), site="SZ-BK") for i in range(10)]
    evs += [
        complaint("B-3", "updated", at(minutes=20), validity="invalid"),
        received("V-1", at(minutes=40)),
        complaint("V-1", "updated", at(hours=1), validity="invalid"),
        received("Z", at(hours=2)),                            # moves the clock on
    ]
    produce(broker.bootstrap, COMPLAINTS, evs)
    bulk = f"bulk_complaint/damage/SZ-BK/{int(at(0).timestamp())}"
    alerts = read_topic(broker.bootstrap, ALERTS, until=has((bulk, "firing"), (bulk, "resolved")))
    gone = find(alerts, bulk, "resolved")
    assert gone["count"] == 9 and "B-3" not in gone["ticket_ids"]
    assert gone["resolved_at"] == iso(at(minutes=20))
    # 1 working day (10 business hours: to 12:00, 14:00-20:00, 08:00 on) from
    # the update, sooner than 48 h; B-3 keeps the sooner target of a bulk member
    wait_for(lambda: scalar(db, "SELECT resolve_deadline FROM tickets WHERE ticket_id = 'V-1'")
             == at(days=1, hours=1))
    assert scalar(db, "SELECT resolve_deadline FROM tickets WHERE ticket_id = 'B-3'") == at(days=1, minutes=3)


def test_bulk_resolves_with_the_update_that_takes_its_count_below(broker, daemon, db):
    """§12.6: a bulk count that falls below the threshold resolves the
    episode. The update that makes a member invalid resolves it itself: in
    event mode it does not wait for a later event, and it is the last one
    of this stream."""
    daemon()
    evs = [received(f"BL-{i}", at(minutes=i), site="SZ-BL") for i in range(10)]
    evs.append(complaint("BL-4", "updated", at(minutes=15), validity="invalid"))
    produce(broker.bootstrap, COMPLAINTS, evs)
    bulk = f"bulk_complaint/damage/SZ-BL/{int(at(0).timestamp())}"
    alerts = read_topic(broker.bootstrap, ALERTS, until=has((bulk, "firing"), (bulk, "resolved")), timeout=30)
    gone = find(alerts, bulk, "resolved")
    assert gone["count"] == 9 and "BL-4" not in gone["ticket_ids"]
    assert gone["resolved_at"] == iso(at(minutes=15))


def test_delay_or_loss_at_seven_days_from_pickup(broker, daemon, db):
    daemon()
    produce(broker.bootstrap, SCANS, [
        scan("W-R1", "pickup", "O1", "origin", at(days=-8)),
        scan("W-R2", "pickup", "O2", "origin", at(days=-2)),
        scan("W-R3", "pickup", "O3", "origin", at(days=-6)),
        scan("W-R4", "pickup", "O4", "origin", at(days=-6)),
        scan("W-R6", "pickup", "O6", "origin", at(days=-8)),
    ], key_field="waybill")
    wait_for(lambda: scalar(db, "SELECT count(*) FROM parcel_scans") == 5)
    produce(broker.bootstrap, COMPLAINTS, [
        received("CR-1", at(0), category="delay", waybill="W-R1"),   # 8 days: suggest loss
        received("CR-2", at(0), category="loss", waybill="W-R2"),    # 2 days: suggest delay
        received("CR-3", at(0), category="delay", waybill="W-R3"),   # 7 days on day 1
        complaint("CR-2", "updated", at(hours=1), category="delay"),
        received("CR-4", at(0), category="delay", waybill="W-R4"),   # 7 days on day 1...
        complaint("CR-4", "updated", at(hours=1), category="delay"), # ...though the desk set it before
        received("CR-5", at(0), category="loss", waybill="W-R5", site="X5"),  # no scan yet
        received("CR-6", at(0), category="damage", waybill="W-R6"),  # 8 days, but not a delay...
        complaint("CR-6", "updated", at(hours=2), category="delay"), # ...until the desk says so
    ])
    produce(broker.bootstrap, SCANS, [scan("W-R5", "pickup", "O5", "origin", at(hours=3)),
                                      scan("W-R3", "signed", "D3", "delivery", at(days=1, hours=2))],
            key_field="waybill")
    produce(broker.bootstrap, COMPLAINTS, [received("Z", at(days=2))])
    want = [("category_review/CR-1/1", "firing"), ("category_review/CR-2/1", "firing"),
            ("category_review/CR-2/1", "resolved"), ("category_review/CR-3/1", "firing"),
            ("category_review/CR-3/1", "resolved"), ("category_review/CR-4/1", "firing"),
            ("category_review/CR-5/1", "firing"), ("category_review/CR-6/1", "firing")]
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(*want))
    assert find(alerts, "category_review/CR-1/1", "firing")["suggested_category"] == "loss"
    assert find(alerts, "category_review/CR-2/1", "firing")["suggested_category"] == "delay"
    cr3 = find(alerts, "category_review/CR-3/1", "firing")
    assert cr3["suggested_category"] == "loss" and cr3["condition_at"] == iso(at(days=1))
    assert find(alerts, "category_review/CR-3/1", "resolved")["resolved_at"] == iso(at(days=1, hours=2))
    assert ("category_review/CR-1/1", "resolved") not in keys(alerts)
    assert find(alerts, "category_review/CR-4/1", "firing")["condition_at"] == iso(at(days=1))
    # the condition holds from the update that made it a delay ticket (§9)
    cr6 = find(alerts, "category_review/CR-6/1", "firing")
    assert cr6["suggested_category"] == "loss" and cr6["condition_at"] == iso(at(hours=2))
    # raised by the pickup scan: it carries the responsibility that scan gives
    cr5 = find(alerts, "category_review/CR-5/1", "firing")
    assert cr5["suggested_category"] == "delay"
    assert cr5["responsible"] == {"site": "O5", "role": "origin", "rule": "pickup_no_depart"}


def test_implausible_times_and_new_fields_are_dead_lettered(broker, daemon, db):
    daemon()
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    bad = [
        received("D-1", future),
        received("D-2", datetime(1999, 12, 31, 23, 0, tzinfo=timezone.utc)),
        received("D-3", at(0), claim_amount=-1),
        received("D-4", at(0), complainants=0),
        received("D-5", at(0), vip="yes"),
        received("D-6", at(0)),
        complaint("D-6", "paused", at(hours=1), until=iso(at(minutes=30))),
        complaint("D-6", "updated", at(hours=2), validity="maybe"),
    ]
    produce(broker.bootstrap, COMPLAINTS, bad)
    produce(broker.bootstrap, SCANS, [scan("W-F", "pickup", "O1", "origin", future)], key_field="waybill")
    dl = read_topic(broker.bootstrap, DLQ, until=lambda m: len(m) >= 8, timeout=30)
    got = sorted((x["reason"], x["detail"].split(":")[0], x["source_topic"]) for x in dl)
    assert got == sorted([
        ("invalid_field", "occurred_at", COMPLAINTS),
        ("invalid_field", "occurred_at", COMPLAINTS),
        ("invalid_field", "claim_amount", COMPLAINTS),
        ("invalid_field", "complainants", COMPLAINTS),
        ("invalid_field", "vip", COMPLAINTS),
        ("invalid_field", "until", COMPLAINTS),
        ("invalid_field", "validity", COMPLAINTS),
        ("invalid_field", "occurred_at", SCANS),
    ])
    # the future event did not move the event clock: nothing fired for D-6
    produce(broker.bootstrap, COMPLAINTS, [received("D-7", at(minutes=1))])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM tickets") == 2)
    assert scalar(db, "SELECT count(*) FROM alerts") == 0
    assert scalar(db, "SELECT count(*) FROM parcel_scans") == 0


def test_site_accountability_month_total_and_restart(broker, daemon, db):
    d = daemon()
    produce(broker.bootstrap, SCANS, [scan("W-A1", "arrive", "H-9", "hub", at(hours=-5))], key_field="waybill")
    wait_for(lambda: scalar(db, "SELECT count(*) FROM parcel_scans") == 1)
    produce(broker.bootstrap, COMPLAINTS, [
        received("A-1", at(0), site="GZ-A"),
        received("A-2", at(minutes=1), site="GZ-A"),
        received("B-1", at(minutes=2), site="GZ-B"),
        received("B-2", at(minutes=3), site="GZ-B"),
        complaint("B-2", "updated", at(minutes=4), validity="invalid"),
        received("B-3", at(minutes=5), site="GZ-B"),               # only 2 valid at GZ-B
        received("A-3", at(minutes=6), site="GZ-A"),               # the 3rd of November
        # delay tickets count against the responsible site of their parcel
        received("C-1", at(minutes=7), category="delay", waybill="W-A1", site="GZ-C"),
        received("C-2", at(minutes=8), category="delay", waybill="W-A1", site="GZ-C"),
        received("C-3", at(minutes=9), category="delay", waybill="W-A1", site="GZ-C"),
        # two of one second: listed by id, whatever the order they came or are loaded in
        received("D-2", at(minutes=10), site="GZ-D"),
        received("D-1", at(minutes=10), site="GZ-D"),
        received("D-3", at(minutes=11), site="GZ-D"),
        complaint("D-2", "contacted", at(minutes=12)),             # D-2's row written again
    ])
    month, dmonth = "site_accountability/GZ-A/2025-11", "site_accountability/GZ-D/2025-11"
    alerts = read_topic(broker.bootstrap, ALERTS, until=has((month, "firing"), (dmonth, "firing"),
                                                             ("site_accountability/H-9/2025-11", "firing")))
    assert find(alerts, dmonth, "firing")["ticket_ids"] == ["D-1", "D-2", "D-3"]
    a = find(alerts, month, "firing")
    assert (a["type"], a["site"], a["reason"], a["month"], a["count"]) == (
        "site_accountability", "GZ-A", "month", "2025-11", 3)
    assert a["ticket_ids"] == ["A-1", "A-2", "A-3"] and a["condition_at"] == iso(at(minutes=6))
    assert not [k for k in keys(alerts) if "/GZ-B/" in k[0] or "/GZ-C/" in k[0]]
    wait_for(lambda: scalar(db, "SELECT count(*) FROM alerts") == len(alerts))
    assert query(db, "SELECT ticket_id, valid, acct_site FROM tickets WHERE ticket_id IN ('B-2', 'C-1') "
                     "ORDER BY 1") == [("B-2", False, None), ("C-1", True, "H-9")]

    # a restart keeps what was counted and what fired
    assert d.stop() == 0
    d.restart()
    produce(broker.bootstrap, COMPLAINTS, [
        received("A-6", at(hours=2), site="GZ-A"),                 # November's 4th: no second firing
        received("A-4", at(days=10), site="GZ-A"),                 # December: 5th within the window
        received("A-5", at(days=10, minutes=1), site="GZ-A"),      # the 6th: total
        received("Z", at(days=11)),
    ])
    total = "site_accountability/GZ-A/2025-12/total"
    alerts = read_topic(broker.bootstrap, ALERTS, until=has((month, "resolved"), (total, "firing"),
                                                             (dmonth, "resolved")))
    assert find(alerts, dmonth, "resolved")["ticket_ids"] == ["D-1", "D-2", "D-3"]
    ks = keys(alerts)
    assert ks.count((month, "firing")) == 1                         # not fired again after the restart
    gone = find(alerts, month, "resolved")
    assert gone["resolved_at"] == "2025-12-01T00:00:00+08:00"
    assert gone["ticket_ids"] == ["A-1", "A-2", "A-3", "A-6"]      # the counts came back too
    t = find(alerts, total, "firing")
    assert (t["reason"], t["month"], t["count"]) == ("total", "2025-12", 5)
    assert t["ticket_ids"] == ["A-1", "A-2", "A-3", "A-6", "A-4"]
    assert t["condition_at"] == iso(at(days=10))
    assert ("site_accountability/GZ-A/2025-12", "firing") not in ks


def test_indicators_per_day_category_site_and_metrics(broker, daemon, db):
    import re
    import urllib.request

    from harness import free_port

    listen = f"127.0.0.1:{free_port()}"
    d = daemon({"daemon": {"metrics_listen": listen}})
    produce(broker.bootstrap, COMPLAINTS, [
        received("I-1", at(0), category="delay", site="SZ-I", waybill="W-I1"),
        complaint("I-1", "contacted", at(minutes=30)),
        complaint("I-1", "first_reply", at(hours=1)),
        complaint("I-1", "resolved", at(hours=5)),               # in time
        complaint("I-1", "revisit", at(hours=6), satisfied=True),
        received("I-2", at(minutes=10), category="delay", site="SZ-I"),
        received("I-5", at(minutes=20), category="fee", site="SZ-R"),   # contacted in time, reported late
        received("I-6", at(minutes=20), category="fee", site="SZ-E"),
        received("I-3", at(hours=7), category="delay", site="SZ-I", waybill="W-I1"),   # a repeat of I-1
        # another, found invalid: it leaves `repeats` with the valid count (repeat rate <= 1)
        received("I-7", at(hours=7, minutes=30), category="delay", site="SZ-I", waybill="W-I1"),
        complaint("I-7", "updated", at(hours=7, minutes=40), validity="invalid"),
        received("I-4", at(hours=8), category="delay", site="SZ-I"),
        # found invalid and reclassified at once: counted in the row of its receipt
        complaint("I-4", "updated", at(hours=9), validity="invalid", category="loss", site="GZ-I"),
        complaint("I-2", "resolved", at(days=3)),                # late: resolve was due in 48 h
        complaint("I-2", "revisit", at(days=3, hours=1), satisfied=False),
        complaint("I-4", "resolved", at(days=3, hours=2)),       # invalid: not counted
        # first_reply missed (due 2 days on), extended past the clock, missed again: one breach
        complaint("I-6", "extended", at(days=3, hours=3), stage="first_reply", hours=30),
        received("Z", at(days=4), category="fee"),
        complaint("I-5", "contacted", at(minutes=40)),           # its contact breach is retracted
    ])

    def rows():
        return query(db, "SELECT day::text, received, invalid, resolved, resolved_on_time, revisits, satisfied, "
                         "repeats, reopened FROM indicators WHERE category = 'delay' AND site = 'SZ-I' "
                         "AND received + resolved + revisits > 0 ORDER BY day")  # not the days of breaches only

    want = [("2025-11-24", 5, 2, 1, 1, 1, 1, 1, 0),
            ("2025-11-27", 0, 0, 1, 0, 1, 0, 0, 1)]
    wait_for(lambda: rows() == want, timeout=30, what=f"indicators {want}")
    assert scalar(db, "SELECT sum(breaches_contact) FROM indicators WHERE category = 'delay'") >= 1
    # a breach that turned out met is no breach
    read_topic(broker.bootstrap, ALERTS, until=has(("sla_breach/I-5/1/contact", "retracted")))
    wait_for(lambda: scalar(db, "SELECT sum(breaches_contact) FROM indicators WHERE site = 'SZ-R'") == 0,
             timeout=10, what="the retracted breach taken back")
    # nor one whose deadline an extension moved past the clock (§12.1); its /2 counts
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(("sla_breach/I-6/1/first_reply/2", "firing")))
    assert ("sla_breach/I-6/1/first_reply", "resolved") in keys(alerts)
    wait_for(lambda: scalar(db, "SELECT sum(breaches_first_reply) FROM indicators WHERE site = 'SZ-E'") == 1,
             timeout=10, what="the stage missed twice counted once")
    rate = query(db, "SELECT on_time_rate, satisfaction, repeat_rate FROM indicator_rates "
                     "WHERE day = '2025-11-24' AND category = 'delay' AND site = 'SZ-I'")[0]
    assert [float(x) for x in rate] == [1.0, 1.0, 1 / 3]
    assert scalar(db, "SELECT count(*) FROM indicator_rates WHERE valid_received < 0 OR invalid < 0") == 0
    totals = query(db, "SELECT received, invalid, resolved, resolved_on_time FROM indicator_totals "
                       "WHERE category = 'delay'")
    assert totals == [(5, 2, 2, 1)]

    def metric(name: str) -> int | None:
        with urllib.request.urlopen(f"http://{listen}/metrics", timeout=5) as r:
            body = r.read().decode()
        m = re.search(rf'^complaintd_indicator{{category="delay",indicator="{name}"}} (\d+)$', body, re.M)
        return int(m[1]) if m else None

    assert wait_for(lambda: metric("resolved") == 2, timeout=10)
    # the totals come back after a restart, and nothing is counted twice
    assert d.stop() == 0
    d.restart()
    assert wait_for(lambda: metric("received") == 5, timeout=30)
    assert metric("resolved_on_time") == 1 and metric("invalid") == 2 and metric("repeats") == 1
    assert rows() == want


def test_no_ticket_is_forgotten(broker, daemon, db):
    import time

    d = daemon({"policy": {"hold_timeout": "2s"}})
    produce(broker.bootstrap, COMPLAINTS, [
        received("F-1", at(0)),
        complaint("F-1", "resolved", at(hours=1)),
        complaint("F-1", "revisit", at(hours=2), satisfied=True),
        received("F-2", at(days=100)),                            # the event clock moves on 100 days
    ])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events") == 4)
    # F-1 closed before the repeat look-back (90 d): a start leaves it in PostgreSQL only
    assert d.stop() == 0
    d.restart()
    assert "loaded 1 tickets" in d.log
    produce(broker.bootstrap, COMPLAINTS, [
        complaint("F-1", "updated", at(hours=4), category="loss"),
        received("F-1", at(hours=5), channel="media"),           # a second received: history, no new ticket
        complaint("F-1", "contacted", at(hours=6)),
    ])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events WHERE ticket_id = 'F-1'") == 6)
    time.sleep(3)                                                  # longer than hold_timeout
    assert query(db, "SELECT type, effect FROM ticket_events WHERE ticket_id = 'F-1' ORDER BY occurred_at") == [
        ("received", "applied"), ("resolved", "applied"), ("revisit", "applied"),
        ("updated", "history"), ("received", "history"), ("contacted", "history")]
    assert scalar(db, "SELECT count(*) FROM dead_letters") == 0
    assert scalar(db, "SELECT count(*) FROM held_events") == 0
    assert query(db, "SELECT status, category, channel FROM tickets WHERE ticket_id = 'F-1'") == [
        ("closed", "damage", "hotline")]
    # an event for a ticket never received is still held and dead-lettered
    produce(broker.bootstrap, COMPLAINTS, [complaint("F-9", "contacted", at(hours=7))])
    dl = read_topic(broker.bootstrap, DLQ, until=lambda m: len(m) >= 1, timeout=30)
    assert [x["reason"] for x in dl] == ["unknown_ticket"]
