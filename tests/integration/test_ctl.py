"""complaintctl against the real daemon: the daemon applies events from the
dev broker on the event clock (events dated in 2025), then complaintctl runs
with the same configuration and its output is checked against PostgreSQL
and the topics."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from events import CST, at, complaint, iso, received
from harness import (COMPLAINTS, binary, produce, query, read_records, sanitizer_errors, scalar, wait_for,
                     write_ini)

pytestmark = pytest.mark.broker(partitions=1)

# A Friday night: 22:30 is after the last window of Xinjiang's shifted day
# (16:00-22:00), so its business clock starts on Saturday at 10:00.
FRI = datetime(2025, 11, 28, 22, 30, tzinfo=CST)


def ctl(config: Path | str, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    res = subprocess.run([str(binary("complaintctl")), "-c", str(config), *args], capture_output=True, text=True,
                         timeout=timeout, stdin=subprocess.DEVNULL)
    errors = sanitizer_errors(res.stderr)
    assert not errors, f"sanitizer report from complaintctl {' '.join(args)}:\n{res.stderr}"
    return res


def ctl_json(config: Path | str, *args: str):
    res = ctl(config, *args, "--json")
    assert res.returncode == 0, f"complaintctl {' '.join(args)} exited {res.returncode}:\n{res.stderr}"
    return json.loads(res.stdout)


def local(ts) -> str:
    """A timestamptz from psycopg2 as the RFC 3339 text of alerts (+08:00)."""
    return ts.astimezone(CST).isoformat() if ts is not None else None


def test_help_usage_and_errors(tmp_path):
    exe = str(binary("complaintctl"))

    def run(*args):
        res = subprocess.run([exe, *args], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert not sanitizer_errors(res.stderr), res.stderr
        return res

    res = run("--help")
    assert res.returncode == 0
    for cmd in ("ticket show ID", "alerts", "report", "dlq list", "dlq replay", "offsets", "Exit status"):
        assert cmd in res.stdout
    assert run("--version").stdout.startswith("complaintctl ")
    for args, head in ((["ticket", "show", "--help"], "Usage: complaintctl ticket show ID"),
                       (["ticket", "--help"], "Usage: complaintctl ticket show ID"),
                       (["alerts", "--help"], "Usage: complaintctl alerts"),
                       (["report", "--help"], "Usage: complaintctl report --from DATE --to DATE"),
                       (["dlq", "--help"], "Usage: complaintctl dlq list"),
                       (["dlq", "list", "--help"], "Usage: complaintctl dlq list"),
                       (["dlq", "replay", "--help"], "Usage: complaintctl dlq replay --offset"),
                       (["offsets", "--help"], "Usage: complaintctl offsets"),
                       (["help", "report"], "Usage: complaintctl report"),
                       (["help", "dlq", "replay"], "Usage: complaintctl dlq replay")):
        res = run(*args)
        assert res.returncode == 0 and res.stdout.startswith(head), (args, res.stdout, res.stderr)

    # bad usage: 2, a message on stderr, nothing on stdout
    for args, msg in (([], "Usage:"),
                      (["frobnicate"], "unknown command 'frobnicate'"),
                      (["ticket"], "ticket show ID"),
                      (["ticket", "show"], "which ticket"),
                      (["ticket", "show", "A", "B"], "one ticket at a time"),
                      (["alerts", "--type", "sla_breakfast"], "not an alert type"),
                      (["alerts", "--limit", "-1"], "not a count"),
                      (["alerts", "--since", "yesterday"], "not a time"),
                      (["alerts", "--bogus"], "unknown option '--bogus'"),
                      (["report", "--from", "2025-11-01"], "--from DATE and --to DATE"),
                      (["report", "--from", "2025-11-31", "--to", "2025-12-01"], "not a date"),
                      (["report", "--from", "2025-11-02", "--to", "2025-11-01"], "before"),
                      (["report", "--from", "2025-11-01", "--to", "2025-11-02", "--by", "week"], "category, site or day"),
                      (["dlq", "replay"], "--offset TOPIC:PARTITION:OFFSET or --reason"),
                      (["dlq", "replay", "--offset", "complaints.events:x:1"], "partition must be a number"),
                      (["dlq", "replay", "--reason", "sunspots"], "not a dead-letter reason"),
                      (["dlq", "purge"], "unknown subcommand 'purge'")):
        res = run("-c", str(tmp_path / "none.conf"), *args)
        assert res.returncode == 2, (args, res.returncode, res.stderr)
        assert msg in res.stderr, (args, res.stderr)
        assert res.stdout == ""

    # errors: 1 and a clear message
    res = run("-c", str(tmp_path / "none.conf"), "alerts")
    assert res.returncode == 1
    assert res.stderr.startswith("complaintctl: ") and "none.conf: No such file or directory" in res.stderr
    bad = tmp_path / "bad.conf"
    bad.write_text("[kafka]\nbrokerz = x\n")
    res = run("-c", str(bad), "offsets")
    assert res.returncode == 1 and f"{bad}:2: unknown key 'brokerz' in [kafka]" in res.stderr
    down = tmp_path / "down.conf"
    write_ini(down, {"postgres": {"conninfo": "host=127.0.0.1 port=1 dbname=x password=hunter2 connect_timeout=2"}})
    res = run("-c", str(down), "alerts", "--firing")
    assert res.returncode == 1 and "cannot connect to PostgreSQL" in res.stderr
    assert "hunter2" not in res.stderr


def test_ticket_show_xinjiang_friday_night(broker, daemon, db):
    d = daemon()
    produce(broker.bootstrap, COMPLAINTS, [
        received("X-1", FRI, category="delay", site="SZ-X", waybill="WX1", region="65"),
        received("N-1", FRI + timedelta(minutes=5), category="fee", site="SZ-N"),
        complaint("X-1", "contacted", FRI + timedelta(hours=14)),                 # Sat 12:30: 30 min late
        complaint("X-1", "paused", FRI + timedelta(hours=14, minutes=30), reason="documents"),
        complaint("X-1", "extended", FRI + timedelta(hours=15, minutes=30), stage="resolve", hours=24,
                  approved_by="S-7"),
        complaint("X-1", "resumed", FRI + timedelta(hours=17, minutes=30)),      # Sat 16:00: paused 3 h
        complaint("X-1", "first_reply", FRI + timedelta(hours=35, minutes=30)),  # Sun 10:00
        complaint("X-1", "contacted", FRI + timedelta(hours=36)),                # history: done already
        received("Z", FRI + timedelta(days=2, hours=13, minutes=30)),            # Mon 12:00: the clock moves on
    ], key_field="ticket_id")
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events") == 9, what="9 events applied")
    wait_for(lambda: scalar(db, "SELECT count(*) FROM alerts WHERE alert_id = 'sla_warning/X-1/1/resolve'") == 1,
             what="the resolve warning")

    res = ctl(d.config_path, "ticket", "show", "X-1")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    print(out)
    assert "Ticket X-1: first_reply, round 1" in out
    assert "region       65 (Xinjiang): shifted region, business windows 2h later (10:00-14:00,16:00-22:00)" in out
    # the calendar arithmetic of the contact target, and its outcome
    assert ("how      received Fri 22:30 → business clock starts Sat 10:00 → 2 business hours → due Sat 12:00"
            in out)
    assert "counted  Sat 10:00-12:00 (2h)" in out
    assert "due Sat 2025-11-29 12:00 — completed Sat 2025-11-29 12:30, 30m late" in out
    assert "region 65 (Xinjiang) is a shifted region, its windows are 2h later" in out
    # first_reply: 48 calendar hours, the 3 h pause not counted
    assert ("received Fri 22:30 → 14h30m of calendar time → paused Sat 13:00–Sat 16:00 (3h) → 33h30m of "
            "calendar time → due Mon 01:30") in out
    assert "met (15h30m to spare)" in out
    # resolve: 48 h + 24 h extension + 3 h pause, the statutory 7 days later
    assert "sla.resolve.normal = 48h calendar warn 24h (priority normal), + 24h of approved extensions" in out
    assert "due Tue 2025-12-02 01:30 — open, warned (sla_warning firing)" in out
    assert "limit    statutory_limit: received + 7d = Fri 12-05 22:30 (later: not reached)" in out
    assert "revisit      not started" in out
    assert "1. Sat 2025-11-29 13:00 – Sat 2025-11-29 16:00 (3h), resumed" in out
    assert "resolve +24h" in out and "approved_by=S-7" in out
    assert "Timeline (7 events)" in out
    assert "sla_breach/X-1/1/contact" in out and "late by 30m" in out

    doc = ctl_json(d.config_path, "ticket", "show", "X-1")
    row = query(db, "SELECT status, round, priority, category, site, region, contact_deadline, "
                    "first_reply_deadline, resolve_deadline, contacted_at, first_reply_at FROM tickets "
                    "WHERE ticket_id = 'X-1'")[0]
    assert (doc["status"], doc["round"], doc["priority"], doc["category"], doc["site"]) == row[:5]
    assert doc["region"] == {"code": "65", "name": "Xinjiang", "shifted": True, "shift_seconds": 7200,
                             "business_hours": "10:00-14:00,16:00-22:00"}
    assert doc["reasons"] == [] and doc["responsible"]["rule"] == "no_scan"
    stages = {s["stage"]: s for s in doc["stages"]}
    contact = stages["contact"]
    assert contact["state"] == "done" and contact["met"] is False and contact["late_by_seconds"] == 1800
    assert contact["deadline"] == "2025-11-29T12:00:00+08:00"
    assert contact["completed_at"] == local(row[9])
    assert contact["rule"]["key"] == "sla.contact.normal" and contact["rule"]["value"] == "2h business"
    assert [(s["kind"], s["from"], s["to"]) for s in contact["plan"]["steps"]] == [
        ("wait", "2025-11-28T22:30:00+08:00", "2025-11-29T10:00:00+08:00"),
        ("count", "2025-11-29T10:00:00+08:00", "2025-11-29T12:00:00+08:00")]
    assert contact["plan"]["shift_seconds"] == 7200
    assert contact["explanation"].endswith("→ due Sat 12:00")
    assert stages["first_reply"]["completed_at"] == local(row[10])
    assert stages["first_reply"]["deadline"] == "2025-12-01T01:30:00+08:00"
    resolve = stages["resolve"]
    # an open stage: the explanation arrives where the daemon's deadline is
    assert resolve["state"] == "open" and resolve["deadline"] == local(row[8]) == resolve["stored_deadline"]
    assert resolve["deadline"] == "2025-12-02T01:30:00+08:00" and resolve["warning"] == "firing"
    assert resolve["rule"]["extension_seconds"] == 86400
    assert [a["kind"] for a in resolve["adjustments"]] == ["statutory_limit"]
    assert resolve["adjustments"][0] == {"kind": "statutory_limit", "cap": "2025-12-05T22:30:00+08:00",
                                         "applied": False}
    assert stages["revisit"]["state"] == "not_started"
    assert doc["pauses"] == [{"number": 1, "start": "2025-11-29T13:00:00+08:00", "end": "2025-11-29T16:00:00+08:00",
                              "ended": "resumed", "overdue": "none"}]
    assert doc["extensions"] == {"first_reply_seconds": 0, "resolve_seconds": 86400}
    # every event of the ticket, applied or history, in time order
    events = query(db, "SELECT event_id, type, effect FROM ticket_events WHERE ticket_id = 'X-1' "
                       "ORDER BY occurred_at, processed_at")
    assert [(e["event_id"], e["type"], e["effect"]) for e in doc["timeline"]] == events
    assert ("contacted", "history") in [(e["type"], e["effect"]) for e in doc["timeline"]]
    assert doc["timeline"][0]["body"]["region"] == "65"
    # every alert of the ticket
    alerts = query(db, "SELECT alert_id, status FROM alerts WHERE ticket_id = 'X-1' ORDER BY seq")
    assert [(a["alert_id"], a["status"]) for a in doc["alerts"]] == alerts
    assert ("sla_breach/X-1/1/contact", "resolved") in alerts
    assert doc["clock"] == {"mode": "event", "now": "2025-12-01T12:00:00+08:00"}

    # the unshifted ticket next to it: its clock starts at 08:00
    doc = ctl_json(d.config_path, "ticket", "show", "N-1")
    assert doc["region"] is None
    contact = doc["stages"][0]
    assert contact["explanation"] == ("received Fri 22:35 → business clock starts Sat 08:00 → 2 business hours "
                                      "→ due Sat 10:00")
    assert contact["deadline"] == local(scalar(db, "SELECT contact_deadline FROM tickets WHERE ticket_id = 'N-1'"))

    res = ctl(d.config_path, "ticket", "show", "NOPE")
    assert res.returncode == 1 and "no ticket 'NOPE'" in res.stderr and res.stdout == ""


def test_alerts_listing(broker, daemon, db):
    d = daemon()
    produce(broker.bootstrap, COMPLAINTS, [
        received("A-1", at(0), site="SZ-A"),
        received("A-2", at(minutes=5), site="SZ-A", channel="regulator"),       # escalated at once
        received("B-1", at(minutes=10), site="SZ-B"),
        complaint("A-1", "contacted", at(hours=1)),                               # in time
        complaint("B-1", "closed", at(hours=5), reason="withdrawn"),             # its breaches resolve
        received("Z", at(days=1, hours=3)),                                      # everything else fires
    ], key_field="ticket_id")
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events") == 6, what="6 events applied")
    wait_for(lambda: scalar(db, "SELECT count(*) FROM alerts WHERE alert_id = 'sla_breach/A-2/1/resolve'") == 1,
             what="A-2's resolve breach (urgent: 24 h)")
    rows = query(db, "SELECT alert_id, status, type, payload::text FROM alerts ORDER BY seq")

    everything = ctl_json(d.config_path, "alerts")
    assert [(a["alert_id"], a["status"]) for a in everything] == [(r[0], r[1]) for r in rows]
    assert everything == [json.loads(r[3]) for r in rows]

    firing = ctl_json(d.config_path, "alerts", "--firing")
    want = query(db, "SELECT alert_id FROM alerts a WHERE status = 'firing' AND NOT EXISTS "
                     "(SELECT 1 FROM alerts e WHERE e.alert_id = a.alert_id AND e.status <> 'firing') ORDER BY seq")
    assert [a["alert_id"] for a in firing] == [w[0] for w in want]
    assert all(a["status"] == "firing" for a in firing)
    assert not [a for a in firing if a["ticket_id"] == "B-1"]               # closed: all ended
    assert "ticket_escalated/A-2/1" in [a["alert_id"] for a in firing]

    breaches = ctl_json(d.config_path, "alerts", "--type", "sla_breach")
    assert breaches and {a["type"] for a in breaches} == {"sla_breach"}
    assert len(breaches) == sum(1 for r in rows if r[2] == "sla_breach")

    at_a = ctl_json(d.config_path, "alerts", "--site", "SZ-A")
    assert at_a and {a.get("site") for a in at_a} == {"SZ-A"}
    assert len(at_a) == sum(1 for r in rows if json.loads(r[3]).get("site") == "SZ-A")

    # --since: by event time (resolved_at of an ended alert, condition_at of a firing)
    since = at(days=1)
    later = ctl_json(d.config_path, "alerts", "--since", iso(since))
    want = [(r[0], r[1]) for r in rows
            if datetime.fromisoformat(json.loads(r[3]).get("resolved_at") or json.loads(r[3])["condition_at"]) >= since]
    assert [(a["alert_id"], a["status"]) for a in later] == want and 0 < len(want) < len(rows)
    assert ctl_json(d.config_path, "alerts", "--since", "2025-11-26") == []
    assert len(ctl_json(d.config_path, "alerts", "--since", "2025-11-24")) == len(rows)

    res = ctl(d.config_path, "alerts", "--firing", "--ticket", "A-2")
    assert res.returncode == 0
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["SEQ", "WHEN", "STATUS", "TYPE", "ALERT", "ID", "SITE", "TICKET", "DETAIL"]
    assert lines[-1] == f"{len(lines) - 2} firing alerts"
    assert all(" A-2 " in line for line in lines[1:-1]) and "ticket_escalated/A-2/1" in res.stdout

    res = ctl(d.config_path, "alerts", "--limit", "2", "--json")
    assert res.returncode == 0 and "only the last 2 are shown" in res.stderr
    assert [(a["alert_id"], a["status"]) for a in json.loads(res.stdout)] == [(r[0], r[1]) for r in rows[-2:]]


def test_report_matches_the_indicators(broker, daemon, db):
    d = daemon()
    produce(broker.bootstrap, COMPLAINTS, [
        received("I-1", at(0), category="delay", site="SZ-I", waybill="W-I1"),
        complaint("I-1", "contacted", at(minutes=30)),
        complaint("I-1", "first_reply", at(hours=1)),
        complaint("I-1", "resolved", at(hours=5)),                # in time
        complaint("I-1", "revisit", at(hours=6), satisfied=True),
        received("I-2", at(minutes=10), category="delay", site="SZ-I"),
        received("I-3", at(hours=7), category="delay", site="SZ-J", waybill="W-I1"),   # a repeat of I-1
        received("I-4", at(hours=8), category="delay", site="SZ-I"),
        complaint("I-4", "updated", at(hours=9), validity="invalid"),
        complaint("I-2", "resolved", at(days=3)),                 # late: due in 48 h
        complaint("I-2", "revisit", at(days=3, hours=1), satisfied=False),
        received("F-1", at(days=1), category="fee", site="SZ-I"),
        complaint("F-1", "resolved", at(days=1, hours=2)),
        received("Z", at(days=4), category="fee"),
    ], key_field="ticket_id")
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events") == 14, what="14 events applied")
    wait_for(lambda: scalar(db, "SELECT sum(reopened) FROM indicators") == 1, what="the indicators")
    cols = ["received", "invalid", "resolved", "resolved_on_time", "revisits", "satisfied", "repeats", "reopened",
            "breaches_contact", "breaches_first_reply", "breaches_resolve", "breaches_revisit"]
    sums = ", ".join(f"sum({c})::int" for c in cols)

    doc = ctl_json(d.config_path, "report", "--from", "2025-11-24", "--to", "2025-11-30", "--by", "category")
    assert doc["from"] == "2025-11-24" and doc["by"] == "category"
    want = query(db, f"SELECT category, {sums} FROM indicators WHERE day BETWEEN '2025-11-24' AND '2025-11-30' "
                     "GROUP BY 1 ORDER BY 1")
    assert [[r["category"]] + [r[c] for c in cols] for r in doc["rows"]] == [list(w) for w in want]
    delay = next(r for r in doc["rows"] if r["category"] == "delay")
    assert (delay["received"], delay["invalid"], delay["valid_received"]) == (4, 1, 3)
    assert (delay["resolved"], delay["resolved_on_time"], delay["on_time_rate"]) == (2, 1, 0.5)
    assert (delay["revisits"], delay["satisfied"], delay["satisfaction"]) == (2, 1, 0.5)
    assert delay["repeats"] == 1 and delay["repeat_rate"] == pytest.approx(1 / 3)
    assert delay["reopened"] == 1 and delay["breaches_resolve"] >= 1         # I-2's at least
    total = doc["total"]
    assert [total[c] for c in cols] == [sum(w[i + 1] for w in want) for i in range(len(cols))]
    assert total["on_time_rate"] == pytest.approx(total["resolved_on_time"] / total["resolved"])

    # by site, as CSV: one line a site, the rates as fractions
    res = ctl(d.config_path, "report", "--from", "2025-11-24", "--to", "2025-11-30", "--by", "site", "--csv")
    assert res.returncode == 0, res.stderr
    got = list(csv.DictReader(io.StringIO(res.stdout)))
    want = query(db, f"SELECT site, {sums} FROM indicators WHERE day BETWEEN '2025-11-24' AND '2025-11-30' "
                     "GROUP BY 1 ORDER BY 1")
    assert [[g["site"]] + [int(g[c]) for c in cols] for g in got] == [list(w) for w in want]
    sz_i = next(g for g in got if g["site"] == "SZ-I")
    assert sz_i["on_time_rate"] == f"{int(sz_i['resolved_on_time']) / int(sz_i['resolved']):.4f}"
    sz_j = next(g for g in got if g["site"] == "SZ-J")
    assert sz_j["on_time_rate"] == "" and sz_j["repeat_rate"] == "1.0000"

    # by day: the day of each count
    doc = ctl_json(d.config_path, "report", "--from", "2025-11-24", "--to", "2025-11-30", "--by", "day")
    days = {r["day"]: r for r in doc["rows"]}
    assert days["2025-11-24"]["received"] == 4 and days["2025-11-27"]["reopened"] == 1
    assert days["2025-11-25"]["resolved"] == 1 and days["2025-11-25"]["on_time_rate"] == 1.0

    # the text: one line for the range, rates in per cent
    res = ctl(d.config_path, "report", "--from", "2025-11-24", "--to", "2025-11-24")
    assert res.returncode == 0
    lines = res.stdout.splitlines()
    assert lines[0].startswith("Indicators 2025-11-24 to 2025-11-24")
    assert "on-time rate" in lines[1] and "repeat rate" in lines[1]
    assert lines[2].split()[:8] == ["2025-11-24..2025-11-24", "4", "1", "3", "1", "1", "100.0%", "1"]

    # no data in range: zeros, no rates
    doc = ctl_json(d.config_path, "report", "--from", "2024-01-01", "--to", "2024-01-31")
    assert doc["rows"] == [] and doc["total"]["received"] == 0 and doc["total"]["on_time_rate"] is None


@pytest.mark.broker(partitions=1)
def test_dlq_list_and_replay_once(broker, daemon, db):
    d = daemon({"policy": {"hold_timeout": "2s"}, "daemon": {"max_event_bytes": "1024"}})
    lost = complaint("R-1", "contacted", at(hours=1), event_id="ev-R-1-contacted")
    produce(broker.bootstrap, COMPLAINTS, [
        received("R-0", at(0)),
        lost,                                                        # R-1 not received yet: held, then dead
        complaint("R-2", "progress", at(hours=2), note="x" * 70000),  # too large, and cut at 64 KiB
        received("R-3", at(hours=3), note="y" * 2000),                # too large, whole
    ], key_field="ticket_id")
    produce(broker.bootstrap, COMPLAINTS, ["{not json"])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM dead_letters") == 4, timeout=30, what="4 dead letters")
    letters = {r[0]: r[1:] for r in query(db, "SELECT reason, source_topic, source_partition, source_offset, key "
                                              "FROM dead_letters WHERE reason <> 'too_large'")}
    coord = {reason: f"{t}:{p}:{o}" for reason, (t, p, o, _) in letters.items()}
    big = query(db, "SELECT source_offset, key FROM dead_letters WHERE reason = 'too_large' ORDER BY source_offset")
    assert [k for _, k in big] == ["R-2", "R-3"]

    listed = ctl_json(d.config_path, "dlq", "list")
    assert [(x["reason"], x["offset"], x["payload_truncated"]) for x in listed] == query(
        db, "SELECT reason, source_offset, payload::json->>'payload_truncated' IS NOT NULL FROM dead_letters "
            "ORDER BY seq")
    unknown = next(x for x in listed if x["reason"] == "unknown_ticket")
    assert unknown["key"] == "R-1" and json.loads(unknown["payload"])["event_id"] == "ev-R-1-contacted"
    assert unknown["replayed"] is None
    res = ctl(d.config_path, "dlq", "list", "--reason", "unknown_ticket")
    assert res.returncode == 0 and coord["unknown_ticket"] in res.stdout and res.stdout.endswith("1 dead letter\n")
    assert "[cut at 64 KiB]" in ctl(d.config_path, "dlq", "list", "--reason", "too_large").stdout

    # the fix upstream: R-1's received arrives; then its contact is replayed, once
    produce(broker.bootstrap, COMPLAINTS, [received("R-1", at(minutes=30))], key_field="ticket_id")
    wait_for(lambda: scalar(db, "SELECT count(*) FROM tickets WHERE ticket_id = 'R-1'") == 1, what="R-1 received")
    dry = ctl_json(d.config_path, "dlq", "replay", "--offset", coord["unknown_ticket"], "--dry-run")
    assert dry["dry_run"] is True and [x["source"] for x in dry["replayed"]] == [coord["unknown_ticket"]]
    assert scalar(db, "SELECT count(*) FROM dlq_replays") == 0

    done = ctl_json(d.config_path, "dlq", "replay", "--offset", coord["unknown_ticket"])
    assert [x["source"] for x in done["replayed"]] == [coord["unknown_ticket"]] and done["refused"] == []
    target = done["replayed"][0]["target"]
    wait_for(lambda: scalar(db, "SELECT effect FROM ticket_events WHERE event_id = 'ev-R-1-contacted'") == "applied",
             what="the replayed contact applied to R-1")
    assert scalar(db, "SELECT contacted_at FROM tickets WHERE ticket_id = 'R-1'") == at(hours=1)
    rec = query(db, "SELECT source_topic, source_partition, source_offset, reason, target_topic, target_partition, "
                    "target_offset, replayed_by FROM dlq_replays")
    assert len(rec) == 1 and rec[0][:4] == (letters["unknown_ticket"][0], letters["unknown_ticket"][1],
                                            letters["unknown_ticket"][2], "unknown_ticket")
    assert f"{rec[0][4]}:{rec[0][5]}:{rec[0][6]}" == target and "@" in rec[0][7]

    # refused the second time, and the topic holds one copy besides the original
    res = ctl(d.config_path, "dlq", "replay", "--offset", coord["unknown_ticket"])
    assert res.returncode == 1 and "already replayed" in res.stderr and "a dead letter is replayed once" in res.stderr
    copies = [r for r in read_records(broker.bootstrap, COMPLAINTS) if r.data.get("event_id") == "ev-R-1-contacted"]
    assert len(copies) == 2
    assert copies[1].key == b"R-1" and copies[1].value == copies[0].value
    assert f"{copies[1].topic}:{copies[1].partition}:{copies[1].offset}" == target
    assert scalar(db, "SELECT count(*) FROM dlq_replays") == 1
    listed = ctl_json(d.config_path, "dlq", "list", "--reason", "unknown_ticket")
    assert listed[0]["replayed"]["offset"] == copies[1].offset

    # a payload cut at 64 KiB cannot be replayed; a whole one can
    cut = f"{COMPLAINTS}:0:{big[0][0]}"
    res = ctl(d.config_path, "dlq", "replay", "--offset", cut)
    assert res.returncode == 1 and "payload_truncated" in res.stderr and cut in res.stderr
    res = ctl(d.config_path, "dlq", "replay", "--offset", f"{COMPLAINTS}:0:{big[1][0]}")
    assert res.returncode == 0, res.stderr
    assert scalar(db, "SELECT count(*) FROM dlq_replays") == 2
    # too large again: dead-lettered again, under its new offset
    wait_for(lambda: scalar(db, "SELECT count(*) FROM dead_letters WHERE reason = 'too_large'") == 3,
             what="the replayed large message dead-lettered again")

    # by reason: the malformed message goes back as it was, bytes and all
    res = ctl(d.config_path, "dlq", "replay", "--reason", "malformed_json")
    assert res.returncode == 0 and res.stdout.strip().endswith("1 replayed, 0 refused or failed"), res.stdout
    raw = [r for r in read_records(broker.bootstrap, COMPLAINTS) if r.value == b"{not json"]
    assert len(raw) == 2 and raw[1].key is None

    res = ctl(d.config_path, "dlq", "replay", "--offset", f"{COMPLAINTS}:0:9999")
    assert res.returncode == 1 and "no dead letter" in res.stderr


@pytest.mark.broker(partitions=2)
def test_offsets_and_lag(broker, daemon, db):
    d = daemon()
    first = [received(f"O-{i}", at(minutes=i)) for i in range(6)]
    produce(broker.bootstrap, COMPLAINTS, first, key_field="ticket_id")
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events") == 6, what="6 events applied")
    wait_for(lambda: scalar(db, "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets "
                                "WHERE topic = %s", (COMPLAINTS,)) == 6, what="the offsets stored")

    doc = ctl_json(d.config_path, "offsets")
    group = scalar(db, "SELECT DISTINCT group_id FROM consumer_offsets")
    assert doc["group"] == group and doc["total_lag"] == 0
    parts = {(p["topic"], p["partition"]): p for p in doc["partitions"]}
    assert set(parts) == {(COMPLAINTS, 0), (COMPLAINTS, 1), ("parcels.scans", 0), ("parcels.scans", 1)}
    stored = dict(((t, p), o) for t, p, o in query(db, "SELECT topic, partition, next_offset FROM consumer_offsets"))
    for (t, p), o in stored.items():
        assert parts[(t, p)]["stored"] == o == parts[(t, p)]["high"]
    assert parts[("parcels.scans", 0)]["stored"] is None and parts[("parcels.scans", 0)]["lag"] == 0

    # the daemon stops; what arrives meanwhile is lag
    assert d.stop() == 0
    produce(broker.bootstrap, COMPLAINTS, [received(f"P-{i}", at(hours=1, minutes=i)) for i in range(3)],
            key_field="ticket_id")
    per_part: dict[int, int] = {}
    for r in read_records(broker.bootstrap, COMPLAINTS):
        per_part[r.partition] = per_part.get(r.partition, 0) + 1
    doc = ctl_json(d.config_path, "offsets")
    assert doc["total_lag"] == 3
    for p in doc["partitions"]:
        if p["topic"] == COMPLAINTS:
            assert p["high"] == per_part.get(p["partition"], 0)
            assert p["lag"] == p["high"] - (p["stored"] or 0)
    res = ctl(d.config_path, "offsets")
    assert res.returncode == 0 and "total lag: 3 messages" in res.stdout
    assert res.stdout.splitlines()[1].split() == ["TOPIC", "PARTITION", "STORED", "LOW", "HIGH", "LAG", "STORED",
                                                  "AT"]
