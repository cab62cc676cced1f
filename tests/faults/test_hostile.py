"""Case 5: hostile input mixed into a valid stream.

A corpus of messages that must each become exactly one dead letter (wrong
types, truncated JSON, invalid UTF-8, lone surrogates, NUL bytes, nesting
20,000 deep, 1 MB fields, a message over max_event_bytes, impossible dates,
negative hours, unknown enums, a wrong schema, a missing field, JSON that is
not an object, duplicated keys), on the complaints topic and on the scans
topic, interleaved with a valid mixed stream. Checks:

  - each hostile message is on the dead-letter topic exactly once, at its
    own source offset, with a reason of the contract (§10) and a detail;
  - no valid message is dead-lettered;
  - the valid stream's effects (ticket rows, ticket events, the alerts table
    and the set of (alert_id, status) on the topic, the scans) equal those
    of a clean run of the valid stream alone;
  - the daemon still runs.
"""

import json
import random

import pytest
from confluent_kafka import Producer

import faultlib as fl
from events import at, complaint, mixed_stream, received, scan
from harness import ALERTS, COMPLAINTS, DLQ, SCANS, read_records, scalar, wait_for

pytestmark = pytest.mark.broker(partitions=1)

MALFORMED = {"malformed_json"}
INVALID = {"invalid_field"}


def dumps(d: dict) -> bytes:
    return json.dumps(d, ensure_ascii=False).encode()


def complaint_corpus() -> list[tuple[str, bytes, set[str]]]:
    """(what, message, the reasons it may be dead-lettered with)."""
    ok = received("HX-1", at(hours=2), category="delay", site="SZ01")
    base = dumps(ok)
    raw = base.decode()
    out = [
        ("event_id a number", dumps({**ok, "event_id": 123}), INVALID),
        ("ticket_id a list", dumps({**ok, "ticket_id": ["HX-1"]}), INVALID),
        ("occurred_at a number", dumps({**ok, "occurred_at": 1764000000}), INVALID),
        ("claim a string", dumps({**ok, "claim": "yes"}), INVALID),
        ("major a number", dumps({**ok, "major": 1}), INVALID),
        ("truncated JSON", base[:-7], MALFORMED),
        ("truncated to one byte", b"{", MALFORMED),
        ("empty message", b"", MALFORMED),
        ("invalid UTF-8 in a string", base.replace(b"HX-1", b"H\xff\xfe-1", 1), MALFORMED),
        ("overlong UTF-8", base.replace(b"HX-1", b"HX-\xc0\xaf", 1), MALFORMED),
        ("lone surrogate, escaped", raw.replace('"HX-1"', '"HX-\\ud800"').encode(), MALFORMED | INVALID),
        ("lone surrogate, raw CESU-8 bytes", base.replace(b"HX-1", b"HX-\xed\xa0\x80", 1), MALFORMED),
        ("NUL byte, raw", base.replace(b"HX-1", b"HX-\x001", 1), MALFORMED),
        ("NUL byte, escaped", raw.replace('"HX-1"', '"HX-\\u00001"').encode(), MALFORMED | INVALID),
        ("NUL after the object", base + b"\x00", MALFORMED),
        ("nesting 20,000 deep", b'{"a":' * 20000 + b"1" + b"}" * 20000, MALFORMED),
        ("an unknown field nested 20,000 deep", base[:-1] + b', "x": ' + b"[" * 20000 + b"]" * 20000 + b"}",
         MALFORMED),
        ("a 1 MB ticket_id", dumps({**ok, "ticket_id": "T" * 1_000_000}), INVALID),
        ("a 1 MB site", dumps({**ok, "site": "S" * 1_000_000}), INVALID),
        ("over max_event_bytes", dumps({**ok, "x": "y" * 1_100_000}), {"too_large"}),
        ("month 13", dumps({**ok, "occurred_at": "2025-13-01T09:00:00+08:00"}), INVALID),
        ("30 February", dumps({**ok, "occurred_at": "2025-02-30T09:00:00+08:00"}), INVALID),
        ("hour 25", dumps({**ok, "occurred_at": "2025-11-24T25:00:00+08:00"}), INVALID),
        ("no offset", dumps({**ok, "occurred_at": "2025-11-24T09:00:00"}), INVALID),
        ("offset +25:00", dumps({**ok, "occurred_at": "2025-11-24T09:00:00+25:00"}), INVALID),
        ("negative hours", dumps(complaint("HV-1", "extended", at(hours=3), stage="resolve", hours=-5,
                                           approved_by="S1")), INVALID),
        ("zero hours", dumps(complaint("HV-1", "extended", at(hours=3), stage="resolve", hours=0,
                                       approved_by="S1")), INVALID),
        ("a billion hours", dumps(complaint("HV-1", "extended", at(hours=3), stage="resolve", hours=10**9,
                                            approved_by="S1")), INVALID),
        ("fractional hours", dumps(complaint("HV-1", "extended", at(hours=3), stage="resolve", hours=2.5,
                                             approved_by="S1")), INVALID),
        ("unknown type", dumps({**ok, "type": "teleported"}), INVALID),
        ("unknown category", dumps({**ok, "category": "weather"}), INVALID),
        ("unknown channel", dumps({**ok, "channel": "pigeon"}), INVALID),
        ("unknown stage", dumps(complaint("HV-1", "extended", at(hours=3), stage="lunch", hours=2,
                                          approved_by="S1")), INVALID),
        ("negative claim_amount", dumps({**ok, "claim_amount": -1}), INVALID),
        ("unknown schema", dumps({**ok, "schema": "complaint.v9"}), {"unknown_schema"}),
        ("a scan on the complaints topic", dumps(scan("W1", "arrive", "SZ01", "hub", at(0))), {"unknown_schema"}),
        ("no event_id", dumps({k: v for k, v in ok.items() if k != "event_id"}), {"missing_field"}),
        ("ticket_id null", dumps({**ok, "ticket_id": None}), {"missing_field"}),
        ("an array", b"[1,2,3]", MALFORMED),
        ("null", b"null", MALFORMED),
        ("a number", b"42", MALFORMED),
        ("a duplicated key", raw.replace('"type": "received"', '"type": "received", "type": "resolved"').encode(),
         MALFORMED),
    ]
    return out


def scan_corpus() -> list[tuple[str, bytes, set[str]]]:
    ok = scan("WBH00001", "arrive", "SZ01", "hub", at(hours=1))
    base = dumps(ok)
    return [
        ("scan: truncated", base[:-3], MALFORMED),
        ("scan: invalid UTF-8", base.replace(b"SZ01", b"SZ\xff1", 1), MALFORMED),
        ("scan: unknown scan_type", dumps({**ok, "scan_type": "beam"}), INVALID),
        ("scan: unknown site_role", dumps({**ok, "site_role": "moon"}), INVALID),
        ("scan: waybill a number", dumps({**ok, "waybill": 7}), INVALID),
        ("scan: 30 February", dumps({**ok, "occurred_at": "2025-02-30T09:00:00+08:00"}), INVALID),
        ("scan: a 1 MB waybill", dumps({**ok, "waybill": "W" * 1_000_000}), INVALID),
        ("scan: nesting 20,000 deep", b"[" * 20000 + b"]" * 20000, MALFORMED),
        ("scan: complaint schema", dumps(received("HS-1", at(0))), {"unknown_schema"}),
        ("scan: no site", dumps({k: v for k, v in ok.items() if k != "site"}), {"missing_field"}),
    ]


def produce_raw(bootstrap: str, topic: str, messages: list[bytes]) -> None:
    """In order, unkeyed, with room for the messages over 1 MB."""
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                  "message.max.bytes": 4_000_000})
    errors = []
    for m in messages:
        p.produce(topic, value=m, on_delivery=lambda err, _m: err and errors.append(str(err)))
        p.poll(0)
    assert p.flush(60) == 0 and not errors, errors


def interleave(valid: list[dict], hostile: list[tuple[str, bytes, set[str]]], seed: int):
    """The valid messages in their order with the hostile ones spread among
    them: [(message bytes, None | (what, reasons))]."""
    rnd = random.Random(seed)
    slots = sorted(rnd.randrange(len(valid) + 1) for _ in hostile)
    out, h = [], 0
    for i, v in enumerate(valid + [None]):
        while h < len(hostile) and slots[h] == i:
            what, msg, reasons = hostile[h]
            out.append((msg, (what, reasons)))
            h += 1
        if v is not None:
            out.append((dumps(v), None))
    return out


def test_hostile_input(broker, broker_factory, daemon, db, pg, tmp_path, short_tmp):
    complaints, scans = mixed_stream(300, seed=17, prefix="H")
    ref, ref_topic = fl.reference_run(pg, broker_factory, tmp_path / "ref", short_tmp, complaints, scans)

    streams = {COMPLAINTS: interleave(complaints, complaint_corpus(), 1),
               SCANS: interleave(scans, scan_corpus(), 2)}
    for topic, items in streams.items():
        produce_raw(broker.bootstrap, topic, [m for m, _ in items])
    total = sum(len(v) for v in streams.values())
    n_hostile = sum(1 for v in streams.values() for _, h in v if h)
    d = daemon()
    wait_for(fl.finished(db, total), timeout=300, what="the stream to finish")

    dlq = read_records(broker.bootstrap, DLQ, until=lambda rs: len(rs) >= n_hostile + len(ref.dead), timeout=60)
    by_source = {}
    for r in dlq:
        key = (r.data["source_topic"], r.data["partition"], r.data["offset"])
        assert key not in by_source, f"dead-lettered twice: {key}"
        by_source[key] = r.data
    wrong = []
    for topic, items in streams.items():
        for offset, (_, h) in enumerate(items):
            dl = by_source.pop((topic, 0, offset), None)
            if h is None:
                continue  # a valid message: checked against the reference below
            what, reasons = h
            if dl is None:
                wrong.append(f"{topic}:{offset} {what}: not dead-lettered")
            elif dl["reason"] not in reasons or not dl.get("detail"):
                wrong.append(f"{topic}:{offset} {what}: {dl['reason']} ({dl.get('detail')}), expected {reasons}")
    assert not wrong, "\n".join(wrong)
    assert len(by_source) == 0, f"dead letters of no message: {list(by_source)[:5]}"
    assert scalar(db, "SELECT count(*) FROM dead_letters") == n_hostile + len(ref.dead)

    out = fl.Outcome(db)
    fl.assert_no_doubles(db)
    topic_keys, _ = fl.alert_set(broker.bootstrap, ALERTS)
    assert out.tickets == ref.tickets, "ticket rows differ: " + fl.diff(out.tickets, ref.tickets, 3)
    assert out.events == ref.events, "ticket_events differ: " + fl.diff(out.events, ref.events)
    assert out.alerts == ref.alerts and topic_keys == ref_topic, fl.diff(topic_keys, ref_topic)
    assert out.scans == ref.scans
    assert d.running
    reasons = {}
    for dl in dlq:
        reasons[dl.data["reason"]] = reasons.get(dl.data["reason"], 0) + 1
    print(f"\nhostile input: {n_hostile} hostile among {total} messages, each dead-lettered once: {reasons}; "
          f"{len(ref.tickets)} tickets and {len(ref_topic)} alert transitions as in the clean run")
