"""Builders for complaint.v1 and scan.v1 events and small alert helpers."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

CST = timezone(timedelta(hours=8))
# A Monday; the default business calendar counts every day anyway.
BASE = datetime(2026, 11, 23, 9, 0, tzinfo=CST)

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
