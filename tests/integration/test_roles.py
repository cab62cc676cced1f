"""[daemon] role = parcels: a daemon of the scan path alone, through the real
binary (docs/architecture.md, "Roles"). It reads the scans topic only, keeps
the parcels, writes their scans and raises parcel_stalled, the same ones a
daemon of the whole desk raises from the same scans; and a database serves
one role."""

import pytest

from events import at, complaint, keys, received, scan
from harness import ALERTS, COMPLAINTS, DLQ, SCANS, produce, query, read_topic, scalar, wait_for

pytestmark = pytest.mark.broker(partitions=2)

WEEK = 168
PARCELS = {"daemon": {"role": "parcels"}}


def stall_id(waybill: str, last) -> str:
    return f"parcel_stalled/{waybill}/{int(last.timestamp())}"


def mixed_stream():
    """Scans of three parcels and complaints about two of them, then a scan
    that moves the clock a week on: W1 and W3 stall, W2 is signed."""
    t0 = at(0)
    scans = [
        scan("W1", "pickup", "S1", "origin", at(hours=-2)),
        scan("W1", "depart", "S1", "origin", t0, next_site="H1", next_site_role="hub"),
        scan("W2", "pickup", "S2", "origin", at(hours=-1)),
        scan("W2", "signed", "D2", "delivery", t0),
        scan("W3", "arrive", "H3", "hub", t0),
        b'{"schema": "scan.v1", "event_id": ',                                   # malformed
    ]
    complaints = [
        received("R-1", at(hours=1), category="loss", waybill="W1", channel="media"),
        received("R-2", at(hours=1), category="delay", waybill="W3"),
        complaint("R-1", "contacted", at(hours=2)),
        b"not json",                                                              # malformed
    ]
    clock = [scan("W9", "pickup", "S9", "origin", at(hours=WEEK + 5))]
    return scans, complaints, clock


def feed(bootstrap: str) -> None:
    scans, complaints, clock = mixed_stream()
    produce(bootstrap, SCANS, scans, key_field="waybill")
    produce(bootstrap, COMPLAINTS, complaints, key_field="ticket_id")
    produce(bootstrap, SCANS, clock, key_field="waybill")


def stalls(alerts: list[dict]) -> set[tuple[str, str]]:
    return {k for k in keys(alerts) if k[0].startswith("parcel_stalled/")}


def test_a_parcels_daemon_raises_the_stalls_of_a_whole_desk_and_nothing_else(broker, broker_factory, daemon, db, pg):
    want = {(stall_id("W1", at(0)), "firing"), (stall_id("W3", at(0)), "firing")}

    # the reference: a daemon of the whole desk, on its own broker and database
    whole_broker = broker_factory(partitions=2)
    whole_db = pg.create_database()
    try:
        whole = daemon({"kafka": {"brokers": whole_broker.bootstrap}, "postgres": {"conninfo": whole_db}})
        feed(whole_broker.bootstrap)
        reference = read_topic(whole_broker.bootstrap, ALERTS, until=lambda m: want <= stalls(m))
        wait_for(lambda: scalar(whole_db, "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets") == 11)
        assert stalls(reference) == want
        assert len(keys(reference)) > len(want)   # the tickets' alerts too
        whole.stop()
    finally:
        pg.drop_database(whole_db)

    d = daemon(PARCELS)
    feed(broker.bootstrap)
    # every scan applied and committed (7, the malformed one dead-lettered)
    wait_for(lambda: scalar(db, "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets") == 7)
    alerts = read_topic(broker.bootstrap, ALERTS, until=lambda m: want <= stalls(m))
    assert set(keys(alerts)) == want
    assert "role parcels" in d.log
    # the complaints topic is not read: no offsets, no tickets, no dead letters of it
    assert {r[0] for r in query(db, "SELECT DISTINCT topic FROM consumer_offsets")} == {SCANS}
    assert scalar(db, "SELECT count(*) FROM tickets") == 0
    assert scalar(db, "SELECT count(*) FROM ticket_events") == 0
    assert scalar(db, "SELECT count(*) FROM parcel_scans") == 6
    dead = read_topic(broker.bootstrap, DLQ, until=lambda m: len(m) >= 1)
    assert [(m["source_topic"], m["reason"]) for m in dead] == [(SCANS, "malformed_json")]
    assert scalar(db, "SELECT value #>> '{}' FROM daemon_state WHERE key = 'role'") == "parcels"

    # its parcels are kept across a restart: a new scan resolves a stall once
    assert d.stop() == 0
    d = daemon(PARCELS, migrate=False)
    produce(broker.bootstrap, SCANS, [scan("W3", "depart", "H3", "hub", at(hours=WEEK + 6), next_site="D3")],
            key_field="waybill")
    alerts = read_topic(broker.bootstrap, ALERTS, until=lambda m: (stall_id("W3", at(0)), "resolved") in keys(m))
    assert keys(alerts).count((stall_id("W3", at(0)), "resolved")) == 1
    assert set(keys(alerts)) == want | {(stall_id("W3", at(0)), "resolved")}
    assert "loaded 0 tickets, 0 held events, 4 parcels" in d.log


def test_a_database_serves_one_role(broker, daemon, db, pg):
    # a database where a daemon of the whole desk kept tickets
    whole = daemon()
    produce(broker.bootstrap, COMPLAINTS, [received("R-9", at(0))], key_field="ticket_id")
    wait_for(lambda: scalar(db, "SELECT count(*) FROM tickets") == 1)
    whole.stop()
    refused = daemon(PARCELS, migrate=False, wait_ready=False)
    assert refused.wait_exit() == 1
    assert ("this database is the desk of a complaintd with [daemon] role = all, and it holds tickets; one with "
            "role = parcels needs a database of its own") in refused.log
    # ... and one where a parcels daemon started first, before any ticket
    other = pg.create_database()
    try:
        first = daemon({**PARCELS, "postgres": {"conninfo": other}})
        first.stop()
        refused = daemon({"postgres": {"conninfo": other}}, migrate=False, wait_ready=False)
        assert refused.wait_exit() == 1
        assert ("this database is the desk of a complaintd with [daemon] role = parcels; one with role = all "
                "needs a database of its own") in refused.log
        assert scalar(other, "SELECT count(*) FROM tickets") == 0
    finally:
        pg.drop_database(other)
