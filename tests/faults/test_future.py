"""Case 6: times from the future (contract §12.10).

An event dated 2099 used to move the event clock decades ahead: every open
deadline fired at once and every later event arrived late. Such events, and
events dated before 2000, are dead-lettered (`invalid_field`, detail
starting `occurred_at`) in both clock modes, on the complaints and on the
scans topic.

event mode  a mixed stream of 50 tickets with scans, with far-future and
            pre-2000 complaints (a new ticket, and a `resolved` of an open
            one) and scans (a new parcel, and one of the stream's) in the
            middle of it. The outcome equals a clean run of the stream
            without them: the clock did not jump, nothing fired early,
            nothing later arrived late.
wall mode   tickets received in the last half hour, events an hour, a day
            and decades ahead, and one 2 minutes ahead (inside
            max_future_skew, so applied). Only the first three kinds are
            dead-lettered; no breach fires.
"""

from datetime import datetime, timedelta, timezone

import pytest

import faultlib as fl
from events import complaint, mixed_stream, received, scan
from harness import ALERTS, COMPLAINTS, DLQ, SCANS, free_port, produce, read_records, scalar, wait_for

pytestmark = pytest.mark.broker(partitions=1)

FAR = datetime(2099, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))
OLD = datetime(1999, 12, 31, 23, 0, tzinfo=timezone.utc)


def check_dead_letters(bootstrap: str, want: list[tuple[str, str]]) -> list:
    """Every (source_topic, event_id) of want dead-lettered once as invalid_field
    on occurred_at, and nothing else."""
    dl = read_records(bootstrap, DLQ, until=lambda rs: len(rs) >= len(want), timeout=60)
    got = sorted((r.data["source_topic"], fl_event_id(r.data["payload"])) for r in dl)
    assert got == sorted(want), f"dead letters {got}, expected {sorted(want)}"
    for r in dl:
        assert r.data["reason"] == "invalid_field" and r.data["detail"].startswith("occurred_at"), r.data
    return dl


def fl_event_id(payload: str) -> str:
    import json
    return json.loads(payload)["event_id"]


def test_future_and_ancient_events_in_event_mode(broker, broker_factory, daemon, db, pg, tmp_path, short_tmp):
    complaints, scans = mixed_stream(50, seed=23, prefix="FU")
    ref, ref_topic = fl.reference_run(pg, broker_factory, tmp_path / "ref", short_tmp, complaints, scans)
    open_ticket = complaints[len(complaints) // 2]["ticket_id"]
    bad_c = [received("FU-2099", FAR, category="delay", site="SZ01"),
             complaint(open_ticket, "resolved", FAR),
             received("FU-1999", OLD)]
    bad_s = [scan("WB-FAR", "pickup", "O1", "origin", FAR),
             scan(scans[len(scans) // 2]["waybill"], "deliver", "D1", "delivery", FAR),
             scan("WB-OLD", "pickup", "O1", "origin", OLD)]
    mid_c, mid_s = len(complaints) // 3, len(scans) // 3
    stream_c = complaints[:mid_c] + bad_c + complaints[mid_c:]
    stream_s = scans[:mid_s] + bad_s + scans[mid_s:]
    produce(broker.bootstrap, SCANS, stream_s, key_field="waybill")
    produce(broker.bootstrap, COMPLAINTS, stream_c, key_field="ticket_id")
    listen = f"127.0.0.1:{free_port()}"
    d = daemon({"daemon": {"metrics_listen": listen}})
    wait_for(fl.finished(db, len(stream_c) + len(stream_s)), timeout=180, what="the stream to finish")

    check_dead_letters(broker.bootstrap, [(COMPLAINTS, e["event_id"]) for e in bad_c]
                       + [(SCANS, e["event_id"]) for e in bad_s])
    topic_keys, _ = fl.alert_set(broker.bootstrap, ALERTS)
    out = fl.Outcome(db)
    fl.assert_no_doubles(db)
    assert out.tickets == ref.tickets, "ticket rows differ: " + fl.diff(out.tickets, ref.tickets, 3)
    assert out.events == ref.events
    assert out.alerts == ref.alerts and topic_keys == ref_topic, fl.diff(topic_keys, ref_topic)
    assert out.scans == ref.scans
    # the event clock never went past the stream's own last event
    last = max(datetime.fromisoformat(e["occurred_at"]) for e in complaints + scans)
    assert fl.metric(listen, "complaintd_event_clock_seconds") <= last.timestamp()
    assert d.running
    print(f"\nfuture (event mode): {len(bad_c) + len(bad_s)} events dated 2099 or 1999 dead-lettered among "
          f"{len(stream_c) + len(stream_s)}; {len(ref_topic)} alert transitions as in the clean run")


def test_future_events_in_wall_mode(broker, daemon, db):
    now = datetime.now(timezone.utc)
    good = [received(f"FW-{i:02d}", now - timedelta(minutes=30) + timedelta(seconds=30 * i), site=f"W{i}")
            for i in range(50)]
    soon = received("FW-soon", now + timedelta(minutes=2))
    bad_c = [received("FW-hour", now + timedelta(hours=1)),
             complaint("FW-07", "resolved", now + timedelta(days=1)),
             received("FW-2099", FAR)]
    bad_s = [scan("WF-1", "pickup", "O1", "origin", FAR), scan("WF-2", "pickup", "O1", "origin", now + timedelta(hours=1))]
    good_s = [scan("WF-3", "pickup", "O1", "origin", now - timedelta(minutes=5))]
    produce(broker.bootstrap, COMPLAINTS, good[:25] + bad_c + [soon] + good[25:], key_field="ticket_id")
    produce(broker.bootstrap, SCANS, bad_s + good_s, key_field="waybill")
    d = daemon(clock="wall")
    total = len(good) + len(bad_c) + 1 + len(bad_s) + len(good_s)
    wait_for(fl.finished(db, total), timeout=120, what="the stream to be consumed")
    check_dead_letters(broker.bootstrap, [(COMPLAINTS, e["event_id"]) for e in bad_c]
                       + [(SCANS, e["event_id"]) for e in bad_s])
    tickets = dict(fl.query(db, "SELECT ticket_id, status FROM tickets"))
    assert set(tickets) == {e["ticket_id"] for e in good} | {"FW-soon"}
    assert tickets["FW-07"] == "received"
    assert scalar(db, "SELECT count(*) FROM parcel_scans") == 1
    assert scalar(db, "SELECT count(*) FROM alerts WHERE alert_id LIKE 'sla_breach/%'") == 0
    assert d.running
