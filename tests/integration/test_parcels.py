"""Parcel scans through the real binary: stalled parcels, responsibility from
the scan chain, and the bulk issue key taken from scans (clock.mode = event)."""

import re
from datetime import timedelta

import pytest

from events import at, complaint, find, has, iso, keys, received, scan
from harness import ALERTS, COMPLAINTS, DLQ, SCANS, produce, query, read_topic, scalar, wait_for

pytestmark = pytest.mark.broker(partitions=1)

WEEK = 168


def stall_id(waybill: str, last) -> str:
    return f"parcel_stalled/{waybill}/{int(last.timestamp())}"


def test_stalled_parcels_per_rule_and_resolution(broker, daemon, db):
    daemon()
    t0 = at(0)
    chains = {
        "W1": [scan("W1", "pickup", "S1", "origin", t0)],
        "W2": [scan("W2", "pickup", "O1", "origin", at(minutes=-30)),
               scan("W2", "depart", "O1", "origin", t0, next_site="H1", next_site_role="hub")],
        "W3": [scan("W3", "depart", "H1", "hub", t0, next_site="H2", next_site_role="hub")],
        "W4": [scan("W4", "depart", "H2", "hub", t0, next_site="D1")],
        "W5": [scan("W5", "arrive", "H3", "hub", t0)],
        "W6": [scan("W6", "arrive", "D2", "delivery", t0)],
        "W7": [scan("W7", "deliver", "D3", "delivery", t0)],
        "W8": [scan("W8", "problem", "D4", "delivery", t0)],
        "W9": [scan("W9", "signed", "D5", "delivery", t0)],
        # a tie on occurred_at: arrive is a later row than depart
        "W10": [scan("W10", "arrive", "H4", "hub", t0),
                scan("W10", "depart", "H3", "hub", t0, next_site="H4", next_site_role="hub")],
        # out of order: the older pickup arrives last and changes nothing
        "W11": [scan("W11", "arrive", "D6", "delivery", t0),
                scan("W11", "pickup", "S2", "origin", at(hours=-20))],
    }
    evs = [e for chain in chains.values() for e in chain]
    evs.append(scan("W99", "pickup", "S9", "origin", at(hours=WEEK + 1)))     # moves the clock a week on
    produce(broker.bootstrap, SCANS, evs, key_field="waybill")
    want = {w: stall_id(w, t0) for w in chains if w != "W9"}
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(*[(a, "firing") for a in want.values()]))
    expect = {
        "W1": ("S1", "origin", "pickup_no_depart"),
        "W2": ("O1", "origin", "origin_depart_no_arrive"),
        "W3": ("H2", "hub", "hub_depart_no_arrive"),
        "W4": ("D1", None, "hub_depart_no_arrive"),
        "W5": ("H3", "hub", "hub_arrive_no_depart"),
        "W6": ("D2", "delivery", "delivery_arrive_no_deliver_scan"),
        "W7": ("D3", "delivery", "deliver_not_signed"),
        "W8": ("D4", "delivery", "problem_at_site"),
        "W10": ("H4", "hub", "hub_arrive_no_depart"),
        "W11": ("D6", "delivery", "delivery_arrive_no_deliver_scan"),
    }
    for w, (site, role, rule) in expect.items():
        a = find(alerts, want[w], "firing")
        assert a["type"] == "parcel_stalled" and a["waybill"] == w
        assert a["responsible"] == {"site": site, "role": role, "rule": rule}, w
        assert a["condition_at"] == iso(at(hours=WEEK))
    assert not [k for k in keys(alerts) if "/W9/" in k[0]]

    # the parcel moves again: its stall resolves, and a new one can follow a week later
    produce(broker.bootstrap, SCANS, [scan("W5", "depart", "H3", "hub", at(hours=WEEK + 2), next_site="D7"),
                                      scan("W99", "arrive", "H9", "hub", at(hours=2 * WEEK + 3))])
    later = stall_id("W5", at(hours=WEEK + 2))
    alerts = read_topic(broker.bootstrap, ALERTS, until=has((want["W5"], "resolved"), (later, "firing")))
    resolved = find(alerts, want["W5"], "resolved")
    assert resolved["resolved_at"] == iso(at(hours=WEEK + 2))
    # it names the scan it was about, as its firing did
    fired = find(alerts, want["W5"], "firing")
    for k in ("responsible", "site", "condition_at", "last_scan"):
        assert resolved.get(k) == fired.get(k), k
    assert resolved["responsible"] == {"site": "H3", "role": "hub", "rule": "hub_arrive_no_depart"}
    assert find(alerts, later, "firing")["responsible"] == {"site": "D7", "role": None,
                                                            "rule": "hub_depart_no_arrive"}
    assert scalar(db, "SELECT count(*) FROM parcel_scans") == len(evs) + 2


def test_a_late_scan_already_overdue_fires_before_the_next_input(broker, daemon, db):
    """Event mode: a late scan whose stall the clock has already passed
    stalls at once, before the next input is applied, as the wall clock
    would have it, whether the next input comes in the same fetch or
    seconds later: the alerts do not depend on how inputs are batched."""
    daemon()
    stall = 168 * 60  # minutes
    early = [scan("WQ-1", "arrive", "H1", "hub", at(0)),
             scan("WQ-9", "arrive", "H9", "hub", at(days=12))]            # the clock, 12 days on
    late = [scan(w, t, "O1", "origin", at(hours=h), **({"next_site": "H1", "next_site_role": "hub"} if t == "depart" else {}))
            for w in ("WQ-2", "WQ-3") for t, h in (("pickup", 10), ("depart", 11))]
    produce(broker.bootstrap, SCANS, early + late[:2], key_field="waybill")   # WQ-2's two: one fetch
    wait_for(lambda: scalar(db, "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets") == 4)
    produce(broker.bootstrap, SCANS, late[2:3], key_field="waybill")         # WQ-3's, apart
    wait_for(lambda: scalar(db, "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets") == 5)
    produce(broker.bootstrap, SCANS, late[3:] + [scan("WQ-9", "depart", "H9", "hub", at(days=30))],
            key_field="waybill")
    ts = {h: int(at(hours=h).timestamp()) for h in (10, 11)}
    want = set()
    for w in ("WQ-2", "WQ-3"):
        want |= {(f"parcel_stalled/{w}/{ts[10]}", "firing"), (f"parcel_stalled/{w}/{ts[10]}", "resolved"),
                 (f"parcel_stalled/{w}/{ts[11]}", "firing")}
    alerts = read_topic(broker.bootstrap, ALERTS, until=lambda m: want <= set(keys(m)), timeout=30)
    assert want <= set(keys(alerts))
    r = find(alerts, f"parcel_stalled/WQ-2/{ts[10]}", "resolved")
    assert r["condition_at"] == iso(at(hours=10, minutes=stall))


def test_loss_ticket_carries_responsibility(broker, daemon, db):
    daemon()
    produce(broker.bootstrap, SCANS, [
        scan("SF7", "pickup", "O7", "origin", at(hours=-30)),
        scan("SF7", "depart", "O7", "origin", at(hours=-29), next_site="H7", next_site_role="hub"),
        scan("SF7", "arrive", "H7", "hub", at(hours=-20)),
    ])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM parcel_scans") == 3)
    produce(broker.bootstrap, COMPLAINTS, [
        received("L-1", at(0), category="loss", waybill="SF7", channel="media"),
        received("L-2", at(0), category="loss", site="O8"),            # no waybill: no scans
        received("L-3", at(0), category="fee", waybill="SF7", channel="media"),
    ])
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(("ticket_escalated/L-1/1", "firing"),
                                                            ("ticket_escalated/L-3/1", "firing")))
    assert find(alerts, "ticket_escalated/L-1/1", "firing")["responsible"] == {
        "site": "H7", "role": "hub", "rule": "hub_arrive_no_depart"}
    assert "responsible" not in find(alerts, "ticket_escalated/L-3/1", "firing")
    rows = dict(query(db, "SELECT ticket_id, responsible FROM tickets"))
    assert rows["L-2"] == {"site": "O8", "role": "origin", "rule": "no_scan"}
    assert rows["L-3"] is None
    # a new scan of the open ticket's parcel moves the responsibility
    produce(broker.bootstrap, SCANS, [scan("SF7", "depart", "H7", "hub", at(hours=1), next_site="D7",
                                           next_site_role="delivery")])
    wait_for(lambda: dict(query(db, "SELECT ticket_id, responsible FROM tickets"))["L-1"] ==
             {"site": "D7", "role": "delivery", "rule": "hub_depart_no_arrive"})


def test_complaint_without_site_takes_the_scans_site_for_bulk(broker, daemon, db):
    daemon()
    produce(broker.bootstrap, SCANS, [scan(f"SFB{i}", "arrive", "HUB-7", "hub", at(hours=-5)) for i in range(10)])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM parcel_scans") == 10)
    produce(broker.bootstrap, COMPLAINTS,
            [received(f"K-{i}", at(minutes=3 * i), category="delay", waybill=f"SFB{i}") for i in range(10)])
    aid = f"bulk_complaint/delay/HUB-7/{int(at(0).timestamp())}"
    alerts = read_topic(broker.bootstrap, ALERTS, until=has((aid, "firing")))
    f = find(alerts, aid, "firing")
    assert f["site"] == "HUB-7" and f["count"] == 10
    assert f["ticket_ids"] == [f"K-{i}" for i in range(10)]


def test_bad_scans_are_dead_lettered(broker, daemon):
    daemon()
    produce(broker.bootstrap, SCANS, [
        {"schema": "scan.v1", "event_id": "s1", "waybill": "SF1", "scan_type": "teleport", "site": "A",
         "site_role": "hub", "occurred_at": iso(at(0))},
        {"schema": "scan.v1", "event_id": "s2", "waybill": "SF1", "scan_type": "depart", "site": "A",
         "site_role": "hub", "occurred_at": iso(at(0))},
        {"schema": "complaint.v1", "event_id": "s3"},
    ])
    dl = read_topic(broker.bootstrap, DLQ, until=lambda m: len(m) >= 3)
    assert [(x["reason"], x["detail"].split(":")[0]) for x in dl] == [
        ("invalid_field", "scan_type"), ("missing_field", "next_site"), ("unknown_schema", "schema")]
    assert all(x["source_topic"] == SCANS for x in dl)


def test_a_scan_delivered_again_is_a_duplicate(broker, daemon, db):
    """The same scan again (a producer retry upstream): in one batch, and in
    two. A scan with the event_id of its parcel's latest scan is a duplicate
    (contract §3): no row, no effect. The ids of earlier scans are not kept:
    the pickup sent again after the depart is stored, and changes nothing."""
    d = daemon()
    first = scan("D1", "pickup", "S1", "origin", at(0))
    depart = scan("D1", "depart", "S1", "origin", at(hours=1), next_site="H1")
    produce(broker.bootstrap, SCANS, [first, dict(first), depart])
    wait_for(lambda: scalar(db, "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets") == 3)
    produce(broker.bootstrap, SCANS, [dict(depart, scan_type="arrive", site="H1", site_role="hub",
                                           occurred_at=iso(at(hours=5))),  # a new scan under the depart's id
                                      dict(first), scan("D9", "pickup", "S9", "origin", at(hours=WEEK + 2))])
    alerts = read_topic(broker.bootstrap, ALERTS, until=has((stall_id("D1", at(hours=1)), "firing")))
    assert find(alerts, stall_id("D1", at(hours=1)), "firing")["responsible"]["rule"] == "origin_depart_no_arrive"
    assert scalar(db, "SELECT count(*) FROM parcel_scans WHERE event_id = %s", (first["event_id"],)) == 2
    assert scalar(db, "SELECT count(*) FROM parcel_scans WHERE event_id = %s", (depart["event_id"],)) == 1
    assert d.running


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_scans_sharing_an_event_id_survive_a_restart(broker, daemon, db, how):
    """Two waybills' scans under one event_id are two scans (the id is
    looked up in its parcel); one waybill's signed under its pickup's id is
    a duplicate, and the parcel stalls. A restart, which rebuilds the
    parcels from parcel_scans, gives the same parcels."""
    d = daemon()
    t0 = at(0)
    produce(broker.bootstrap, SCANS, [
        scan("SA", "pickup", "S1", "origin", t0, event_id="shared-1"),
        scan("SB", "pickup", "S2", "origin", t0, event_id="shared-1"),
        scan("SC", "pickup", "S3", "origin", t0, event_id="shared-2"),
        scan("SC", "signed", "D3", "delivery", at(hours=1), event_id="shared-2"),
    ], key_field="waybill")
    wait_for(lambda: scalar(db, "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets") == 4)
    d.halt(how)
    d.restart()
    produce(broker.bootstrap, SCANS, [scan("SZ", "pickup", "S9", "origin", at(hours=WEEK + 2))])
    want = [(stall_id("SA", t0), "firing"), (stall_id("SB", t0), "firing"), (stall_id("SC", t0), "firing")]
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(*want))
    assert set(want) <= set(keys(alerts))
    assert scalar(db, "SELECT count(*) FROM parcel_scans WHERE event_id LIKE 'shared-%%'") == 3


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_a_start_rebuilds_each_parcels_pickup_latest_scan_and_stall(broker, daemon, db, how):
    """What a start loads of a parcel is what the run had: its pickup time,
    though later scans followed it (the 7 days of contract 12.7 count from
    it), its latest scan with the next site's role (responsibility, 8), and
    whether its stall already fired (not raised again)."""
    d = daemon()
    produce(broker.bootstrap, SCANS, [
        scan("RP", "pickup", "O1", "origin", at(days=-9)),
        scan("RP", "depart", "O1", "origin", at(days=-9, hours=2), next_site="H1", next_site_role="hub"),
        scan("RP", "arrive", "H1", "hub", at(days=-8)),
        scan("RP", "depart", "H1", "hub", at(days=-2), next_site="D1", next_site_role="delivery"),
        scan("RS", "pickup", "O2", "origin", at(days=-8)),                 # stalls 7 days on
    ], key_field="waybill")
    # after RS's stall second: a deadline fires once the clock has passed it
    produce(broker.bootstrap, COMPLAINTS, [received("Z0", at(days=-1, minutes=1))])
    stalled = stall_id("RS", at(days=-8))
    assert (stalled, "firing") in keys(read_topic(broker.bootstrap, ALERTS, until=has((stalled, "firing"))))
    wait_for(lambda: scalar(db, "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets") == 6)
    d.halt(how)
    d.restart()
    produce(broker.bootstrap, COMPLAINTS, [
        received("RP-1", at(0), category="delay", waybill="RP"),  # 9 days from pickup: suggest loss
        received("Z1", at(hours=1)),
    ])
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(("category_review/RP-1/1", "firing")))
    review = find(alerts, "category_review/RP-1/1", "firing")
    assert review["suggested_category"] == "loss"
    assert review["responsible"] == {"site": "D1", "role": "delivery", "rule": "hub_depart_no_arrive"}
    assert keys(alerts).count((stalled, "firing")) == 1


@pytest.mark.broker(partitions=4)
def test_a_tie_across_partitions_is_the_same_after_a_restart(broker, daemon, db):
    """Two arrives of one parcel in one second, on two partitions: the merge
    applies the lower partition's first, which stays the latest, and a
    restart rebuilds the same latest scan (its id, its site). So the latest
    scan sent again is a duplicate before and after the restart alike."""
    t = at(0)
    produce(broker.bootstrap, SCANS, [scan("WT0", "pickup", "O", "origin", t - timedelta(hours=1)),
                                      scan("WT", "arrive", "HA", "hub", t, event_id="tie-a")], partition=3)
    produce(broker.bootstrap, SCANS, [scan("WT", "arrive", "HB", "hub", t, event_id="tie-b")], partition=0)
    d = daemon()
    wait_for(lambda: scalar(db, "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets") == 3)
    again = scan("WT", "arrive", "HC", "hub", t + timedelta(hours=1), event_id="tie-b")
    produce(broker.bootstrap, SCANS, [again], partition=3)
    wait_for(lambda: scalar(db, "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets") == 4)
    d.kill()
    d.restart()
    produce(broker.bootstrap, SCANS, [again], partition=2)
    produce(broker.bootstrap, SCANS, [scan("WT9", "pickup", "O", "origin", at(hours=WEEK + 2))], partition=1)
    alerts = read_topic(broker.bootstrap, ALERTS, until=has((stall_id("WT", t), "firing")))
    assert find(alerts, stall_id("WT", t), "firing")["responsible"]["site"] == "HB"
    assert not [k for k in keys(alerts) if k[0].startswith("parcel_stalled/WT/") and k[0] != stall_id("WT", t)]
    assert scalar(db, "SELECT count(*) FROM parcel_scans WHERE waybill = 'WT'") == 2


def test_a_backlog_over_both_topics_is_merged_by_event_time(broker, daemon, db):
    """Complaints and scans are on the broker before the daemon starts, more
    than one fetch of each. Each parcel departs its origin 5 minutes after
    its loss complaint and the ticket closes 5 minutes later, which fixes its
    responsibility: only a merge by event time across the two topics (the
    merge waits for a topic whose next fetch has not arrived) gives every
    ticket the departure."""
    n = 3000
    scans, complaints = [], []
    for i in range(n):
        t, w = at(minutes=i), f"WM{i:05d}"
        scans.append(scan(w, "pickup", "OM", "origin", t - timedelta(hours=1)))
        scans.append(scan(w, "depart", "OM", "origin", t + timedelta(minutes=5), next_site="HM",
                          next_site_role="hub"))
        complaints.append(received(f"M-{i:05d}", t, category="loss", waybill=w, site="SZM"))
        complaints.append(complaint(f"M-{i:05d}", "closed", t + timedelta(minutes=10)))
    # the order in which each topic's events occurred, as Kafka keeps it
    scans.sort(key=lambda e: e["occurred_at"])
    complaints.sort(key=lambda e: e["occurred_at"])
    produce(broker.bootstrap, SCANS, scans)
    produce(broker.bootstrap, COMPLAINTS, complaints)
    daemon()
    wait_for(lambda: scalar(db, "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets") == 4 * n,
             timeout=120, what="the backlog applied")
    rules = dict(query(db, "SELECT responsible->>'rule', count(*) FROM tickets GROUP BY 1"))
    assert rules == {"origin_depart_no_arrive": n}, rules


@pytest.mark.parametrize("bulk", ["scans", "complaints"])
def test_a_topic_that_runs_dry_while_paused_is_fetched_again(broker, daemon, db, bulk):
    """One topic holds several times the messages of the other over the same
    hours, so the merge buffer fills with it and its partition is paused
    while the merge applies it faster than the other. When its buffered
    messages run out while the other topic still fills the buffer, the
    paused partition must be fetched again and waited for. Each ticket's
    responsibility shows the order: half the parcels depart 5 minutes before
    their ticket closes, half 5 minutes after."""
    n = 2000
    scans, complaints = [], []
    for i in range(n):
        t, w = at(minutes=i), f"WP{i:05d}"
        depart = t + timedelta(minutes=5 if i % 2 else 15)
        scans.append(scan(w, "pickup", "OP", "origin", t - timedelta(hours=1)))
        scans.append(scan(w, "depart", "OP", "origin", depart, next_site="HP", next_site_role="hub"))
        complaints.append(received(f"P-{i:05d}", t, category="loss", waybill=w, site="SZP"))
        complaints.append(complaint(f"P-{i:05d}", "closed", t + timedelta(minutes=10)))
        # the bulk: other parcels signed, or other tickets opened and withdrawn, over the same hours
        for k in range(8):
            if bulk == "scans":
                scans.append(scan(f"WF{i:05d}{k}", "signed", "DP", "delivery", t + timedelta(seconds=7 * k)))
            else:
                complaints.append(received(f"F-{i:05d}{k}", t + timedelta(seconds=7 * k)))
    scans.sort(key=lambda e: e["occurred_at"])
    complaints.sort(key=lambda e: e["occurred_at"])
    produce(broker.bootstrap, SCANS, scans)
    produce(broker.bootstrap, COMPLAINTS, complaints)
    d = daemon()
    total = len(scans) + len(complaints)
    wait_for(lambda: scalar(db, "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets") == total,
             timeout=180, what="the backlog applied")
    rules = dict(query(db, "SELECT responsible->>'rule', count(*) FROM tickets WHERE waybill LIKE 'WP%' GROUP BY 1"))
    assert rules == {"origin_depart_no_arrive": n // 2, "pickup_no_depart": n // 2}, rules
    # pausing and resuming fetched nothing twice: every message was applied once
    assert d.stop() == 0
    stopped = re.search(r"stopped: .* duplicates=(\d+) .* scans=(\d+) ", d.log)
    assert stopped and stopped.groups() == ("0", str(len(scans))), stopped and stopped.group(0)
    assert "already stored" not in d.log
