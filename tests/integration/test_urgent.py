"""Urgent complaints through the real binary: bulk and repeat detection,
pauses, extensions and the statutory limit (clock.mode = event)."""

import time

import pytest

from events import at, complaint, find, has, iso, keys, received
from harness import ALERTS, COMPLAINTS, produce, query, read_topic, scalar, wait_for

pytestmark = pytest.mark.broker(partitions=1)


def bulk_stream(n: int, site: str = "SZ01", start: float = 0, prefix: str = "B") -> list[dict]:
    """n damage complaints about one site, 5 minutes apart."""
    return [received(f"{prefix}-{i}", at(minutes=start + 5 * i), category="damage", site=site) for i in range(n)]


def test_bulk_episode_fires_once_and_resolves(broker, daemon, db):
    daemon()
    evs = bulk_stream(11)                                             # 09:00 .. 09:50
    evs.insert(3, received("X-1", at(minutes=12), category="damage", site="SZ02"))  # another key
    evs.append(received("Z-1", at(hours=3), category="fee", site="SZ09"))        # moves the clock on
    produce(broker.bootstrap, COMPLAINTS, evs)
    aid = f"bulk_complaint/damage/SZ01/{int(at(0).timestamp())}"
    alerts = read_topic(broker.bootstrap, ALERTS, until=has((aid, "resolved")))
    bulk = [k for k in keys(alerts) if k[0].startswith("bulk_complaint/")]
    assert bulk == [(aid, "firing"), (aid, "resolved")]
    f = find(alerts, aid, "firing")
    assert f["count"] == 10 and f["category"] == "damage" and f["site"] == "SZ01"
    assert f["window_start"] == iso(at(0)) and f["window_end"] == iso(at(minutes=60))
    assert f["condition_at"] == iso(at(minutes=45))                   # the 10th complaint
    assert f["ticket_ids"] == [f"B-{i}" for i in range(10)]
    r = find(alerts, aid, "resolved")
    # the trailing 60-minute count falls below 10 when B-1 (09:05) leaves: 10:05
    assert r["condition_at"] == f["condition_at"] and r["resolved_at"] == iso(at(minutes=65))
    assert set(r["ticket_ids"]) == {f"B-{i}" for i in range(11)}
    rows = dict(query(db, "SELECT ticket_id, reasons FROM tickets"))
    assert all(rows[f"B-{i}"] == ["bulk"] for i in range(11))
    assert rows["X-1"] == [] and rows["Z-1"] == []
    # urgent budgets: first reply 24 h from received, never before the rise
    fr = dict(query(db, "SELECT ticket_id, first_reply_deadline FROM tickets"))
    assert fr["B-0"] == at(hours=24) and fr["B-10"] == at(minutes=50, hours=24)


def test_nine_complaints_are_not_bulk_and_late_ones_count(broker, daemon):
    daemon()
    evs = bulk_stream(9)
    # the tenth arrives late but belongs inside the window
    evs.append(received("B-late", at(minutes=2), category="damage", site="SZ01"))
    evs.append(received("Z-1", at(hours=3), category="fee", site="SZ09"))
    produce(broker.bootstrap, COMPLAINTS, evs[:9] + evs[10:])
    read_topic(broker.bootstrap, ALERTS, until=has(("sla_breach/B-8/1/contact", "firing")))
    alerts = read_topic(broker.bootstrap, ALERTS)
    assert not [k for k in keys(alerts) if k[0].startswith("bulk_complaint/")]
    produce(broker.bootstrap, COMPLAINTS, [evs[9]])
    aid = f"bulk_complaint/damage/SZ01/{int(at(0).timestamp())}"
    alerts = read_topic(broker.bootstrap, ALERTS, until=has((aid, "resolved")), timeout=20)
    assert find(alerts, aid, "firing")["count"] == 10
    assert "B-late" in find(alerts, aid, "firing")["ticket_ids"]
    # the burst is three hours behind the clock: its end is already due, and
    # it ends with the late complaint, not at the next event
    assert find(alerts, aid, "resolved")["resolved_at"] == iso(at(hours=3))


def test_late_complaints_far_from_or_inside_a_reported_burst(broker, daemon, db):
    d = daemon()
    aid = f"bulk_complaint/damage/SZ01/{int(at(0).timestamp())}"
    produce(broker.bootstrap, COMPLAINTS, bulk_stream(10))                     # 09:00 .. 09:45
    read_topic(broker.bootstrap, ALERTS, until=has((aid, "firing")))
    # dated two hours before the burst, sent while it runs: in no window of
    # ten, so it does not join it (§7: "every open ticket in the window")
    produce(broker.bootstrap, COMPLAINTS, [received("L-far", at(minutes=-120), category="damage", site="SZ01"),
                                           received("Z-1", at(hours=2), category="fee", site="SZ09")])
    alerts = read_topic(broker.bootstrap, ALERTS, until=has((aid, "resolved")))
    r = find(alerts, aid, "resolved")
    assert r["resolved_at"] == iso(at(minutes=60)) and "L-far" not in r["ticket_ids"]
    # dated inside the burst, after it was reported and ended: [09:05, 10:05)
    # now holds ten, but that is the same burst, not a new one
    produce(broker.bootstrap, COMPLAINTS, [received("L-in", at(minutes=7), category="damage", site="SZ01"),
                                           received("Z-2", at(hours=3), category="fee", site="SZ09")])
    offsets = "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets"
    wait_for(lambda: scalar(db, offsets) == 14)
    wait_for(lambda: scalar(db, "SELECT count(*) FROM unsent_alerts") == 0)
    # ...also after a restart, which reads when the episode ended back
    assert d.stop() == 0
    produce(broker.bootstrap, COMPLAINTS, [received("L-in2", at(minutes=8), category="damage", site="SZ01"),
                                           received("Z-3", at(hours=4), category="fee", site="SZ09")])
    d.restart()
    wait_for(lambda: scalar(db, offsets) == 16)
    wait_for(lambda: scalar(db, "SELECT count(*) FROM unsent_alerts") == 0)
    alerts = read_topic(broker.bootstrap, ALERTS)  # to its end: all was sent
    assert [k for k in keys(alerts) if k[0].startswith("bulk_complaint/")] == [(aid, "firing"), (aid, "resolved")]
    rows = dict(query(db, "SELECT ticket_id, reasons FROM tickets"))
    assert rows["B-0"] == ["bulk"] and rows["L-far"] == [] and rows["L-in"] == [] and rows["L-in2"] == []


def test_complaints_a_day_behind_the_clock_count_alike_live_and_replayed(broker, daemon, db):
    """A complaint more than 24 h behind the event clock when it is applied
    counts toward no bulk window: the same stream gives the same alerts
    whether it is read at once or with pauses in which the daemon's
    wall-clock housekeeping runs (contract §11). 23 h behind, it counts."""
    daemon()
    clock = [received("C-1", at(days=3), category="fee", site="SZ09")]        # the clock moves 3 days on
    late = bulk_stream(10, site="SZ01", prefix="L")                            # 3 days behind: never bulk
    produce(broker.bootstrap, COMPLAINTS, clock + late)
    wait_for(lambda: scalar(db, "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets") == 11)
    paused = bulk_stream(10, site="SZ02", prefix="P")
    produce(broker.bootstrap, COMPLAINTS, paused[:5])
    wait_for(lambda: scalar(db, "SELECT COALESCE(sum(next_offset), 0) FROM consumer_offsets") == 16)
    time.sleep(2.5)  # the housekeeping timer ticks every second
    produce(broker.bootstrap, COMPLAINTS, paused[5:])
    # 23 h behind the clock (3 days): still in its windows
    recent = bulk_stream(10, site="SZ03", start=(3 * 24 - 23) * 60, prefix="R")
    produce(broker.bootstrap, COMPLAINTS, recent)
    aid = f"bulk_complaint/damage/SZ03/{int(at(hours=49).timestamp())}"
    alerts = read_topic(broker.bootstrap, ALERTS, until=has((aid, "firing")))
    assert [k for k in keys(alerts) if k[0].startswith("bulk_complaint/")] == [(aid, "firing")]
    rows = dict(query(db, "SELECT ticket_id, reasons FROM tickets"))
    assert all(rows[f"{p}-{i}"] == [] for p in "LP" for i in range(10))


def test_bulk_survives_a_restart_mid_episode(broker, daemon, db):
    d = daemon()
    evs = bulk_stream(12)
    produce(broker.bootstrap, COMPLAINTS, evs[:11])
    aid = f"bulk_complaint/damage/SZ01/{int(at(0).timestamp())}"
    read_topic(broker.bootstrap, ALERTS, until=has((aid, "firing")))
    # B-10 (09:50) joins the running episode before the stop
    wait_for(lambda: scalar(db, "SELECT reasons FROM tickets WHERE ticket_id = 'B-10'") == ["bulk"])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM unsent_alerts") == 0)
    assert d.stop() == 0
    produce(broker.bootstrap, COMPLAINTS, evs[11:] + [received("Z-1", at(hours=4), category="fee", site="S9")])
    d.restart()
    alerts = read_topic(broker.bootstrap, ALERTS, until=has((aid, "resolved")))
    assert [k for k in keys(alerts) if k[0].startswith("bulk_complaint/")] == [(aid, "firing"), (aid, "resolved")]
    r = find(alerts, aid, "resolved")
    # B-11 (09:55) joined after the restart; the count ends when B-2 (09:10) leaves
    assert r["resolved_at"] == iso(at(minutes=70))
    assert scalar(db, "SELECT reasons FROM tickets WHERE ticket_id = 'B-11'") == ["bulk"]
    # the episode still lists B-10, which joined it before the restart
    # (the firing alert, read back at start, does not name it)
    assert r["ticket_ids"] == [f"B-{i}" for i in range(12)]


def test_repeat_complaint_by_waybill_and_by_customer(broker, daemon, db):
    daemon()
    produce(broker.bootstrap, COMPLAINTS, [
        received("R-1", at(0), waybill="SF9", category="delay"),
        complaint("R-1", "resolved", at(hours=1)),
        received("R-2", at(0), customer_ref="c-5", category="fee"),
        complaint("R-2", "resolved", at(hours=1)),
        received("R-3", at(days=10), waybill="SF9", category="loss"),          # repeat of R-1
        received("R-4", at(days=11), customer_ref="c-5", category="fee"),       # repeat of R-2
        received("R-5", at(days=11), customer_ref="c-5", category="attitude"),  # other category
        received("R-6", at(days=95), waybill="SF9", category="loss"),           # outside 90 days of R-1
        complaint("R-3", "closed", at(days=95, hours=1)),
    ])
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(("repeat_complaint/R-3", "resolved")))
    r3 = find(alerts, "repeat_complaint/R-3", "firing")
    assert r3["previous_ticket_id"] == "R-1" and r3["priority"] == "urgent" and "repeat" in r3["reasons"]
    assert find(alerts, "repeat_complaint/R-4", "firing")["previous_ticket_id"] == "R-2"
    ids = {k[0] for k in keys(alerts)}
    assert "repeat_complaint/R-5" not in ids and "repeat_complaint/R-6" not in ids
    rows = dict(query(db, "SELECT ticket_id, priority FROM tickets"))
    assert rows["R-3"] == rows["R-4"] == "urgent" and rows["R-5"] == "normal"


def test_a_late_repeat_finds_its_ticket_after_a_sweep_and_a_restart(broker, daemon, db):
    """§7 counts the look-back back from the new complaint's `received`. A
    complaint that comes late still finds a ticket resolved within the
    look-back before it, after the hourly sweep of closed tickets ran on an
    event clock already past that ticket's look-back, and after a restart
    (audit P5: both lost it)."""
    d = daemon({"policy": {"repeat_lookback": "2h"}})
    produce(broker.bootstrap, COMPLAINTS, [
        received("L-1", at(0), customer_ref="c-2", category="damage"),
        complaint("L-1", "resolved", at(hours=1, minutes=23)),
        complaint("L-1", "closed", at(hours=2, minutes=19)),
        received("L-X", at(hours=4, minutes=32), category="fee"),  # the clock: past L-1's 2 h
    ])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM tickets") == 2)
    time.sleep(2.5)  # the housekeeping timer ticks every second
    # received 1 h 15 min behind the clock, 1 h 54 min after L-1's resolution
    produce(broker.bootstrap, COMPLAINTS, [received("L-2", at(hours=3, minutes=17), customer_ref="c-2",
                                                    category="damage")])
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(("repeat_complaint/L-2", "firing")), timeout=20)
    assert find(alerts, "repeat_complaint/L-2", "firing")["previous_ticket_id"] == "L-1"
    d.restart()
    produce(broker.bootstrap, COMPLAINTS, [received("L-3", at(hours=3, minutes=20), customer_ref="c-2",
                                                    category="damage")])
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(("repeat_complaint/L-3", "firing")), timeout=20)
    assert find(alerts, "repeat_complaint/L-3", "firing")["previous_ticket_id"] == "L-1"


def test_pause_and_extension_move_deadlines(broker, daemon, db):
    daemon()
    produce(broker.bootstrap, COMPLAINTS, [
        received("P-1", at(0)),                                            # contact due 11:00 (business)
        complaint("P-1", "paused", at(minutes=30), reason="waiting for photos"),
        received("Q-1", at(hours=5)),                                      # clock passes 11:00: no breach
        complaint("P-1", "resumed", at(hours=5)),                          # 14:00: 1.5 h of contact left
        received("Q-2", at(hours=7)),                                      # 16:00: past 15:30, breach
        complaint("P-1", "contacted", at(hours=7, minutes=30)),
        complaint("P-1", "first_reply", at(hours=8)),
        complaint("P-1", "extended", at(hours=9), stage="resolve", hours=24, approved_by="s-1"),
        received("Q-3", at(hours=60)),
    ])
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(("sla_breach/P-1/1/contact", "resolved"),
                                                            ("sla_warning/P-1/1/resolve", "firing")))
    b = find(alerts, "sla_breach/P-1/1/contact", "firing")
    # paused 09:30-14:00: 30 min used before, 90 min after → 15:30
    assert b["deadline"] == iso(at(hours=6, minutes=30))
    assert find(alerts, "sla_breach/P-1/1/contact", "resolved")["late_by_seconds"] == 3600
    w = find(alerts, "sla_warning/P-1/1/resolve", "firing")
    # 48 h + 4.5 h paused + 24 h extension; the warning keeps its 24 h lead
    assert w["deadline"] == iso(at(hours=76, minutes=30))
    assert w["condition_at"] == iso(at(hours=52, minutes=30))
    assert scalar(db, "SELECT resolve_deadline FROM tickets WHERE ticket_id = 'P-1'") == at(hours=76, minutes=30)


def test_statutory_limit_caps_a_long_pause(broker, daemon, db):
    daemon()
    produce(broker.bootstrap, COMPLAINTS, [
        received("S-1", at(0)),
        complaint("S-1", "contacted", at(minutes=10)),
        complaint("S-1", "first_reply", at(minutes=20)),
        complaint("S-1", "paused", at(hours=1), until=iso(at(days=30))),  # agreed: still paused on day 8
        complaint("S-1", "extended", at(hours=2), stage="resolve", hours=720, approved_by="s-2"),
        received("Q-9", at(days=8)),
    ])
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(("sla_breach/S-1/1/resolve", "firing")))
    assert find(alerts, "sla_breach/S-1/1/resolve", "firing")["deadline"] == iso(at(days=7))
    assert scalar(db, "SELECT paused FROM tickets WHERE ticket_id = 'S-1'") is True
