"""Builders for complaint.v1 and scan.v1 events and small alert helpers."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

CST = timezone(timedelta(hours=8))
# A Monday; the default business calendar counts every day anyway.
BASE = datetime(2025, 11, 24, 9, 0, tzinfo=CST)

_ids = itertools.count(1)


def at(minutes: float = 0, hours: float = 0, days: float = 0, base: datetime = BASE) -> datetime:
    return base + timedelta(minutes=minutes, hours=hours, days=days)


def iso(t: datetime) -> str:
    return t.isoformat()


def complaint(ticket: str, type_: str, when: datetime, event_id: str | None = None, **fields) -> dict:
    ev = {
        "schema": "complaint.v1",
        "event_id": event_id or f"ev-{next(_ids)}",
        "ticket_id": ticket,
        "type": type_,
        "occurred_at": iso(when),
    }
    ev.update(fields)
    return ev


def received(ticket: str, when: datetime, channel: str = "hotline", category: str = "damage", **fields) -> dict:
    return complaint(ticket, "received", when, channel=channel, category=category, **fields)


def scan(waybill: str, scan_type: str, site: str, role: str, when: datetime, **fields) -> dict:
    ev = {
        "schema": "scan.v1",
        "event_id": f"scan-{next(_ids)}",
        "waybill": waybill,
        "scan_type": scan_type,
        "site": site,
        "site_role": role,
        "occurred_at": iso(when),
    }
    ev.update(fields)
    return ev


def keys(alerts: list[dict]) -> list[tuple[str, str]]:
    """(alert_id, status) of each alert, in order."""
    return [(a["alert_id"], a["status"]) for a in alerts if "alert_id" in a]


def has(*pairs: tuple[str, str]):
    """An `until` predicate: every (alert_id, status) pair has arrived."""
    want = set(pairs)
    return lambda msgs: want.issubset(set(keys(msgs)))


def find(alerts: list[dict], alert_id: str, status: str) -> dict:
    for a in alerts:
        if a.get("alert_id") == alert_id and a.get("status") == status:
            return a
    raise AssertionError(f"no {alert_id} {status} among {keys(alerts)}")


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts)


def stable(alerts: list[dict]) -> list[dict]:
    """Alerts without their processing time, for run-to-run comparison."""
    return [{k: v for k, v in a.items() if k != "emitted_at"} for a in alerts]


def mixed_stream(n: int, seed: int = 7, prefix: str = "X") -> tuple[list[dict], list[dict]]:
    """A deterministic mixed day of a desk: (complaint events, scans).

    n tickets over about a day, each taken some way along its life (contact,
    first reply, resolution, revisit, pauses, extensions, reclassification,
    closing), a bulk episode, repeat complaints by waybill, parcels with
    scans (some of them stalling), and one last complaint 40 days later that
    lets every remaining deadline fire. Times only move forward within a
    ticket; across tickets they interleave."""
    import random

    rnd = random.Random(seed)
    complaints: list[dict] = []
    scans: list[dict] = []
    sites = [f"SZ{i:02d}" for i in range(6)]
    cats = ["delay", "loss", "damage", "fee", "attitude"]
    for i in range(n):
        t = f"{prefix}-{i:04d}"
        start = at(minutes=i * 1440 / max(n, 1))
        wb = f"WB{prefix}{i % (n // 2 + 1):05d}"
        fields = {"waybill": wb, "site": rnd.choice(sites)}
        if rnd.random() < 0.1:
            fields["claim"] = True
        channel = "regulator" if rnd.random() < 0.05 else "hotline"
        complaints.append(received(t, start, channel=channel, category=rnd.choice(cats), **fields))
        step = start
        for typ in ("contacted", "first_reply", "resolved"):
            step += timedelta(minutes=rnd.choice([20, 60, 150, 600, 3000]))
            if rnd.random() < 0.15:
                complaints.append(complaint(t, "paused", step, reason="docs"))
                step += timedelta(hours=rnd.choice([2, 30]))
                complaints.append(complaint(t, "resumed", step))
            if rnd.random() < 0.1:
                complaints.append(complaint(t, "extended", step, stage="resolve", hours=24, approved_by="S1"))
            if rnd.random() < 0.05:
                complaints.append(complaint(t, "updated", step, category="loss"))
            if rnd.random() < 0.3:
                break
            complaints.append(complaint(t, typ, step))
        else:
            step += timedelta(hours=rnd.choice([1, 12, 40]))
            complaints.append(complaint(t, "revisit", step, satisfied=rnd.random() < 0.8))
        if rnd.random() < 0.05:
            complaints.append(complaint(t, "closed", step + timedelta(hours=1), reason="withdrawn"))
        # the parcel's scans: some arrive, some stall
        s0 = start - timedelta(days=2)
        scans.append(scan(wb, "pickup", "SZ00", "origin", s0))
        if i % 3:
            scans.append(scan(wb, "depart", "SZ00", "origin", s0 + timedelta(hours=3), next_site="HUB1",
                              next_site_role="hub"))
        if i % 5 == 0:
            scans.append(scan(wb, "signed", "DL9", "delivery", s0 + timedelta(days=1)))
    # a bulk episode: 12 of the same category and site inside half an hour
    for j in range(12):
        complaints.append(received(f"{prefix}-B{j:02d}", at(hours=5, minutes=j * 2), category="misroute", site="BULK1"))
    complaints.sort(key=lambda e: e["occurred_at"])
    complaints.append(received(f"{prefix}-END", at(days=40)))
    scans.sort(key=lambda e: e["occurred_at"])
    return complaints, scans
