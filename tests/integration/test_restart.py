"""Restarts, replays, the wall clock, configuration and reload, through the
real binary."""

import json
import re
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest

from events import at, complaint, find, has, keys, parse, received, scan, stable
from harness import (ALERTS, COMPLAINTS, DLQ, SCANS, binary, free_port, produce, query, read_topic, run_complaintd, sanitizer_errors, scalar,
                     sigterm_while_waiting_for_a_lock, table_locked, wait_for)

pytestmark = pytest.mark.broker(partitions=1)


def stream(prefix: str, n: int) -> list[dict]:
    """n tickets (n <= 12) received from 09:00 on, 5 minutes apart: each is
    contacted late (3 h; due 2 business hours later, before lunch), answered,
    and resolved after its resolve warning (24 h) but in time (48 h); no
    progress report in the 26 h between first_reply and resolved, so a
    progress update (24 h) is missed too."""
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
                     (f"sla_warning/{t}/1/resolve", st), (f"progress_due/{t}/1/1", st)}
    return want


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_restart_in_the_middle_of_a_stream(broker, daemon, db, how):
    evs = stream("R", 12)
    half = len(evs) // 2
    d = daemon()
    produce(broker.bootstrap, COMPLAINTS, evs[:half])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events") == half, timeout=30)
    d.halt(how)
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


@pytest.mark.broker(partitions=3)
def test_a_start_does_not_send_again_what_its_topics_have(broker, daemon, db):
    """Rows above the stored outbox watermark (what a kill -9 leaves when the
    broker acknowledged them after the last commit) are sent again only if
    the topics' tails do not have them: each (alert_id, status) and each
    dead letter is on its topic once, and a row that never reached it is
    sent."""
    d = daemon()
    evs = stream("W", 6) + [b"{oops", {"schema": "complaint.v1", "event_id": "w-x"}]
    produce(broker.bootstrap, COMPLAINTS, evs)
    want = expected_pairs("W", 6)
    read_topic(broker.bootstrap, ALERTS, until=lambda m: want.issubset(set(keys(m))), timeout=60)
    read_topic(broker.bootstrap, DLQ, until=lambda m: len(m) >= 2, timeout=30)
    last = scalar(db, "SELECT max(seq) FROM (SELECT seq FROM alerts UNION ALL SELECT seq FROM dead_letters) s")
    wait_for(lambda: scalar(db, "SELECT complaintd_outbox_acked()") == last)
    assert d.stop() == 0
    # as if the daemon had died before storing the watermark of the last
    # 20 messages, and with one alert committed but never sent
    query(db, "UPDATE daemon_state SET value = to_jsonb(%s) WHERE key = 'outbox_acked'", (last - 20,))
    query(db, "INSERT INTO alerts (seq, alert_id, status, type, ticket_id, emitted_at, payload) "
              "SELECT %s, 'sla_breach/W-9/1/contact', 'firing', type, 'W-9', emitted_at, "
              "json_build_object('schema', 'alert.v1', 'alert_id', 'sla_breach/W-9/1/contact', 'status', 'firing') "
              "FROM alerts WHERE seq = (SELECT max(seq) FROM alerts)", (last + 1,))
    d.restart()
    wait_for(lambda: scalar(db, "SELECT complaintd_outbox_acked()") == last + 1)
    # the broker has acknowledged all of it: read every partition to its end
    # (stopping at the new alert could leave another partition half read)
    alerts = read_topic(broker.bootstrap, ALERTS)
    assert sorted(keys(alerts)) == sorted(want | {("sla_breach/W-9/1/contact", "firing")})
    dead = read_topic(broker.bootstrap, DLQ)
    assert len(dead) == 2
    assert "republishing 1 alerts and dead letters left unsent; 20 more were on their topics already" in d.log


@pytest.mark.broker(partitions=1, topics=["complaints.events", "parcels.scans", "complaints.alerts",
                                          "complaints.dlq", "replay.alerts", "replay.dlq"])
def test_event_clock_replay_gives_identical_alerts(broker, daemon, db, pg):
    # the last ticket moves the clock three days on: revisit targets fire too
    evs = stream("P", 8) + [received("P-last", at(days=3))]
    produce(broker.bootstrap, COMPLAINTS, evs)

    def run(conninfo: str, topic: str) -> list[dict]:
        wait_for(lambda: scalar(conninfo, "SELECT count(*) FROM ticket_events") == len(evs), timeout=60)
        wait_for(lambda: scalar(conninfo, "SELECT count(*) FROM unsent_alerts") == 0)
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


def run_complaintctl(*args: str) -> subprocess.CompletedProcess:
    res = subprocess.run([str(binary("complaintctl")), *args], capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL)
    assert not sanitizer_errors(res.stderr), res.stderr
    return res


def test_fired_state_is_appended_then_folded(broker, daemon, db):
    """A ticket whose deadlines fire appends its snapshot, and a batch its
    indicator counts (migration 006); killed before they are folded, the
    next start folds them first, and nothing fires twice."""
    from test_metrics import get, samples
    listen = f"127.0.0.1:{free_port()}"
    d = daemon({"daemon": {"metrics_listen": listen}})

    def waiting() -> int:
        return samples(get(f"http://{listen}/metrics")[2])["complaintd_fold_waiting_rows"]

    produce(broker.bootstrap, COMPLAINTS, [received("F-1", at())])
    # F-1's row of counts waits (the gauge is refreshed every second, the
    # idle fold comes a second after the commit at the earliest)
    wait_for(lambda: waiting() >= 1, timeout=30, what="a row waiting to be folded")
    wait_for(lambda: scalar(db, "SELECT count(*) FROM tickets") == 1, timeout=30)
    # F-2, three hours on, moves the event clock past F-1's contact deadline
    produce(broker.bootstrap, COMPLAINTS, [received("F-2", at(hours=3))])
    newest = """SELECT md5(snapshot) FROM ticket_snapshots WHERE ticket_id = 'F-1' ORDER BY gen DESC LIMIT 1"""
    wait_for(lambda: scalar(db, newest) is not None, timeout=30, what="F-1's fired snapshot appended")
    # the fold waits for a second without a commit: kill well inside it
    d.kill()
    fired = scalar(db, newest)
    assert fired != scalar(db, "SELECT md5(snapshot) FROM tickets WHERE ticket_id = 'F-1'")
    assert scalar(db, "SELECT count(*) FROM alerts WHERE ticket_id = 'F-1'") == 2
    # the counts are in the view before they are folded
    assert scalar(db, "SELECT sum(received) FROM indicators") == 2
    assert scalar(db, "SELECT count(*) FROM indicator_deltas") >= 1  # F-2's, at least
    # complaintctl shows the newest snapshot, the one waiting to be folded
    res = run_complaintctl("-c", str(d.config_path), "ticket", "show", "F-1", "--json")
    assert res.returncode == 0, res.stderr
    contact = json.loads(res.stdout)["stages"][0]
    assert (contact["warning"], contact["breach"]) == ("firing", "firing")

    d.restart()
    assert scalar(db, "SELECT count(*) FROM ticket_snapshots") == 0
    assert scalar(db, "SELECT count(*) FROM indicator_deltas") == 0
    assert scalar(db, "SELECT md5(snapshot) FROM tickets WHERE ticket_id = 'F-1'") == fired
    assert scalar(db, "SELECT sum(received) FROM indicators") == 2
    assert scalar(db, "SELECT sum(received) FROM indicator_counts") == 2
    # F-1 knows its warning and breach fired: contacted ends them, and
    # neither was raised again (a second firing row would have been refused)
    produce(broker.bootstrap, COMPLAINTS, [complaint("F-1", "contacted", at(hours=4))])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM alerts WHERE ticket_id = 'F-1' AND status = 'resolved'") == 2,
             timeout=30, what="F-1's warning and breach resolved")
    assert scalar(db, "SELECT count(*) FROM alerts WHERE ticket_id = 'F-1'") == 4
    assert "already stored" not in d.log
    # idle, the daemon folds by itself
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_snapshots") == 0, timeout=10, what="the idle fold")
    assert scalar(db, "SELECT count(*) FROM indicator_deltas") == 0
    wait_for(lambda: waiting() == 0, timeout=10, what="nothing waiting")


def test_wall_clock_deadlines_fire_from_timers(broker, daemon, db):
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


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_wall_clock_start_reads_the_backlog_before_firing(broker, daemon, db, how):
    """Deadlines that fell due while the daemon was stopped are judged on the
    events that waited in Kafka meanwhile: a ticket contacted in time and a
    parcel scanned again raise nothing, as if it had never stopped. After a
    kill -9 the group keeps the dead instance's member for
    session.timeout.ms (30 s here) while a start at once reads."""
    # the first deadline (D-1's warning) at t0 + 24 s leaves time for a slow
    # machine to stop the daemon before it
    d = daemon({"policy": {"sla.contact.normal": "30s calendar", "stall_after": "30s"},
                "kafka": {"rdkafka.session.timeout.ms": "30000"}}, clock="wall")
    d.wait_log("assigned")
    t0 = datetime.now(timezone.utc).replace(microsecond=0)
    produce(broker.bootstrap, COMPLAINTS, [received("D-1", t0), received("D-2", t0)])
    produce(broker.bootstrap, SCANS, [scan("DP-1", "arrive", "S1", "hub", t0)])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM tickets") == 2 and
             scalar(db, "SELECT count(*) FROM parcel_scans") == 1, what="the tickets and the scan")
    d.halt(how)
    assert datetime.now(timezone.utc) < t0 + timedelta(seconds=20), "too slow to test a stopped daemon's deadlines"
    # while it is stopped: D-1 is contacted and DP-1 scanned again, in time;
    # ahead of the contact, a producer whose clock runs a minute fast
    # received D-9 (within max_future_skew), which must not end the catch-up
    ahead = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=1)
    produce(broker.bootstrap, COMPLAINTS, [received("D-9", ahead), complaint("D-1", "contacted", t0 + timedelta(seconds=2))])
    produce(broker.bootstrap, SCANS, [scan("DP-1", "arrive", "S2", "hub", t0 + timedelta(seconds=5))])
    if how == "sigterm":
        time.sleep(max(0.0, (t0 + timedelta(seconds=33) - datetime.now(timezone.utc)).total_seconds()))
    d.start()
    later = f"parcel_stalled/DP-1/{int(t0.timestamp()) + 5}"
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(("sla_breach/D-2/1/contact", "firing"), (later, "firing")),
                        timeout=60, to_end=True)
    ks = keys(alerts)
    assert ("sla_warning/D-2/1/contact", "firing") in ks
    # nothing for D-1, nor for the stall the second scan ended before it was due
    assert not [k for k in ks if "D-1" in k[0] or k[0] == f"parcel_stalled/DP-1/{int(t0.timestamp())}"], ks
    assert "wall clock: read the backlog (3 message(s) applied since the start)" in d.log
    assert scalar(db, "SELECT count(*) FROM tickets WHERE ticket_id = 'D-9'") == 1


def test_a_restart_after_kill_reads_at_once(broker, daemon, db):
    """The daemon assigns itself every partition (its offsets are in
    PostgreSQL, and the desk it holds there is the whole group's), so a
    restart after a kill -9 reads at once. In the consumer group the dead
    instance's member stays until session.timeout.ms (60 s here): reading
    through the group, the restart waited that long for its partitions."""
    d = daemon({"kafka": {"rdkafka.session.timeout.ms": "60000"}})
    produce(broker.bootstrap, COMPLAINTS, [received("K-1", at(0))])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM tickets") == 1, what="the first ticket")
    # the group knows the member before it dies. A member that has to join
    # a second time (CI's sanitizer run once saw its first join end without
    # an assignment) waits there for the session timeout less 1 s: the dev
    # broker's delay for any join but a group's first
    d.wait_log(r"gave its member \d+ partitions", timeout=90)
    d.halt("sigkill")
    started = time.monotonic()
    d.start()
    produce(broker.bootstrap, COMPLAINTS, [received("K-2", at(1))])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM tickets") == 2, timeout=60, what="the second ticket")
    assert time.monotonic() - started < 30, "the restart waited for the dead member's session"
    assert scalar(db, "SELECT count(*) FROM ticket_events") == 2


@pytest.mark.broker(partitions=1, topics=["complaints.events", "complaints.alerts", "complaints.dlq"])
def test_a_topic_that_appears_after_the_start_is_read(broker, daemon, db):
    """The daemon assigns itself the partitions its topics have when it
    starts. A topic that appears later (here the scans topic, which the dev
    broker creates with 4 partitions when the consumer group asks for it)
    is read once the group sees it: each assignment of the group's member
    makes the daemon look the topics up again."""
    d = daemon()
    produce(broker.bootstrap, COMPLAINTS, [received("T-1", at(0))])
    produce(broker.bootstrap, SCANS, [scan("TW-1", "pickup", "S1", "origin", at(1))], key_field="waybill")
    wait_for(lambda: scalar(db, "SELECT count(*) FROM parcel_scans") == 1, timeout=60, what="the scan applied")
    assert scalar(db, "SELECT count(*) FROM tickets") == 1
    assert re.search(r"kafka: assigned 1 partitions\n(.*\n)*.*kafka: assigned 4 partitions", d.log), d.log[-3000:]


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
    # the command line: each mistake named, exit 2
    for args, said in ((["frobnicate"], "unknown command 'frobnicate'"),
                       (["migrate", "extra"], "unexpected argument 'extra' after 'migrate'"),
                       (["--check-config", "migrate"], "--check-config and 'migrate' do not go together")):
        res = run_complaintd("-c", str(path), *args)
        assert res.returncode == 2 and said in res.stderr, res.stderr


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
    # an event for it reads its row back, and it is written as a stored
    # ticket (not as a new one, which would collide with its row)
    produce(broker.bootstrap, COMPLAINTS, [complaint("E-1", "updated", at(days=42))])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events WHERE ticket_id = 'E-1'") == 3)
    assert "ticket E-1 is not in memory: reading it back" in d.log
    assert "already stored" not in d.log


def test_a_start_loads_the_tickets_closed_within_the_look_back_only(broker, daemon, db):
    """A start loads the open tickets and those resolved or closed within
    repeat_lookback (a repeat complaint still finds them); the ids of the
    others are known without their rows, and an event reads its row back."""
    d = daemon({"policy": {"repeat_lookback": "30d"}})
    produce(broker.bootstrap, COMPLAINTS, [
        received("K-1", at(0)),
        complaint("K-1", "closed", at(hours=1)),                 # 44 days before the clock: stays stored
        received("K-2", at(days=20), waybill="WK2"),
        complaint("K-2", "contacted", at(days=20, hours=1)),
        complaint("K-2", "first_reply", at(days=20, hours=2)),
        complaint("K-2", "resolved", at(days=20, hours=3)),      # 24 days before: loaded
        complaint("K-2", "closed", at(days=21)),
        received("K-3", at(days=44)),                            # open: loaded
    ])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events") == 8)
    assert d.stop() == 0
    d.restart()
    assert re.findall(r"loaded (\d+) tickets", d.log)[-1] == "2"
    produce(broker.bootstrap, COMPLAINTS, [
        received("K-4", at(days=45), waybill="WK2"),
        complaint("K-1", "updated", at(days=45)),
    ])
    alerts = read_topic(broker.bootstrap, ALERTS, until=has(("repeat_complaint/K-4", "firing")))
    assert find(alerts, "repeat_complaint/K-4", "firing")["previous_ticket_id"] == "K-2"
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events WHERE ticket_id = 'K-1'") == 3)
    assert "ticket K-1 is not in memory: reading it back" in d.log
    assert "already stored" not in d.log


def test_upgrade_reads_tickets_of_the_json_state(broker, daemon, db):
    """A database of migrations 001 and 002, with a ticket whose state is the
    JSON of those days: `migrate` adds the later ones, and the daemon carries on with
    that ticket (its event ids too) and writes a snapshot for it."""
    from pathlib import Path
    schema = Path(__file__).resolve().parents[2] / "schema"
    query(db, "CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
    for name in ("001_init.sql", "002_staged_batches.sql"):
        query(db, (schema / name).read_text())
        query(db, "INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
    received_at = at(0)
    state = {
        "id": "U-1", "channel": "hotline", "category": "damage", "claim": False, "major": False,
        "waybill": "", "site": "", "region": "", "customer_ref": "", "round": 1,
        "received_at": int(received_at.timestamp()), "round_start": int(received_at.timestamp()),
        "targets": [{"deadline": int(at(hours=2).timestamp()), "warn_at": int(at(minutes=96).timestamp()),
                     "done": False, "done_at": 0}] + [{"deadline": None, "warn_at": None, "done": False,
                                                     "done_at": 0}] * 3,
        "urgent": False, "reasons": 0, "urgent_at": 0, "closed": False, "closed_at": 0, "last_resolved_at": 0,
        "pauses": [], "ext": [0, 0, 0, 0], "escalated_rounds": 0, "escalated_at": [0] * 8,
        "repeat_firing": False, "repeat_at": 0, "previous_ticket_id": "", "issue_site": "",
    }
    import json
    query(db, "INSERT INTO tickets (ticket_id, status, round, priority, reasons, channel, category, claim, major, "
              "received_at, round_started_at, paused, state) VALUES ('U-1', 'received', 1, 'normal', '{}', "
              "'hotline', 'damage', false, false, %s, %s, false, %s)", (received_at, received_at, json.dumps(state)))
    query(db, "INSERT INTO ticket_events (event_id, ticket_id, type, occurred_at, effect, source_topic, "
              "source_partition, source_offset, body) VALUES ('old-1', 'U-1', 'received', %s, 'applied', "
              "'complaints.events', 0, 0, '{}')", (received_at,))
    import re
    import urllib.request
    from harness import free_port
    listen = f"127.0.0.1:{free_port()}"
    daemon({"daemon": {"metrics_listen": listen}})  # migrates (003 on) and starts
    assert scalar(db, "SELECT count(*) FROM schema_migrations") == len(list(schema.glob("*.sql")))
    assert scalar(db, "SELECT valid AND acct_site IS NULL FROM tickets WHERE ticket_id = 'U-1'")
    produce(broker.bootstrap, COMPLAINTS, [
        complaint("U-1", "contacted", at(hours=1)),
        # a copy of the old received: a duplicate, not a second ticket
        complaint("U-1", "received", at(0), event_id="old-1", channel="hotline", category="damage"),
    ])
    wait_for(lambda: scalar(db, "SELECT contacted_at FROM tickets WHERE ticket_id = 'U-1'") == at(hours=1))
    wait_for(lambda: scalar(db, "SELECT snapshot IS NOT NULL AND state IS NULL FROM tickets "
                                "WHERE ticket_id = 'U-1'"))
    assert scalar(db, "SELECT count(*) FROM ticket_events WHERE ticket_id = 'U-1'") == 2
    assert scalar(db, "SELECT count(*) FROM held_events") == 0

    def duplicates() -> int:
        with urllib.request.urlopen(f"http://{listen}/metrics", timeout=5) as r:
            return int(re.search(r"^complaintd_events_duplicate_total (\d+)$", r.read().decode(), re.M)[1])
    wait_for(lambda: duplicates() == 1, what="the copy of old-1 counted as a duplicate")


def test_a_stop_while_starting_drains_and_exits_0(broker, daemon, db):
    """SIGTERM while the daemon loads its state (here held up by a lock on
    the tickets table, after it took the desk) is kept until its loop runs,
    then stops it like any stop: drained, exit 0. systemd sends it when a
    unit is stopped during its start; it used to kill the process outright."""
    first = daemon()
    produce(broker.bootstrap, COMPLAINTS, [received("S-1", at(0))], key_field="ticket_id")
    wait_for(lambda: scalar(db, "SELECT count(*) FROM tickets") == 1, timeout=30, what="the ticket stored")
    assert first.stop() == 0

    with table_locked(db, "tickets"):
        d = daemon(wait_ready=False)
        sigterm_while_waiting_for_a_lock(d, db, "the start waits for the tickets table")
    d.proc.wait(30)
    assert d.stop() == 0, d.log[-2000:]
    assert "signal 15: draining" in d.log
    assert "loaded 1 tickets" in d.log


@pytest.mark.parametrize("strategy", ["range,roundrobin", "cooperative-sticky"])
def test_a_stop_while_the_group_forms_does_not_hang(daemon, strategy):
    """A SIGTERM just before the group gives its member its partitions: the
    member's close serves that assignment after the group has left, and the
    rebalance callback asked librdkafka for the group's protocol and
    assignment there, which waits for the group's thread for good. The stop
    hung (2 of 40 stops 3.30-3.57 s after the start with the sanitizers). The
    race is narrow, so each run samples it: 12 starts, each in a new group,
    stopped at moments from 60 ms before the assignment to 5 ms after. With
    an operator's cooperative-sticky strategy, which the member followed,
    such a stop aborted in librdkafka 2.0.2 at every run (its sticky
    assignor has no state before the first assignment); the member is now
    eager whatever the strategy says. A stop while the group forms takes a
    few seconds all the same: the member's close waits for the group's join
    in flight, then leaves."""
    d = daemon({"kafka": {"rdkafka.partition.assignment.strategy": strategy}})
    line = d.wait_log(r"^\S+ complaintd info: kafka: group \S+ gave its member").group(0)
    running = re.search(r"^\S+ complaintd info: complaintd \S+ running", d.log, re.M).group(0)
    join = (parse(line.split()[0]) - parse(running.split()[0])).total_seconds()
    assert d.stop() == 0
    for i in range(12):
        d.update_config({"kafka": {"group_id": f"{d.config_path.stem}-{time.monotonic_ns()}-{i}"}})
        starts = d.log.count(" running: brokers")
        d.start(wait_ready=False)
        wait_for(lambda: d.log.count(" running: brokers") > starts, interval=0.005, what="the start")
        time.sleep(max(0.0, join - 0.06 + 0.005 * i))
        began = time.monotonic()
        assert d.stop(timeout=20) == 0
        assert time.monotonic() - began < 10, f"stop {i} took {time.monotonic() - began:.1f}s"
