"""The status page at / on the metrics listener, looked at in headless
Chromium (a screenshot, and the rendered page's text checked against the
database); without Chromium the page is fetched directly and only the
screenshot is left out, unless COMPLAINTD_CHROMIUM=1 requires it."""

import os
import re
import shutil
import subprocess
import urllib.request
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest

from events import complaint, received
from harness import COMPLAINTS, free_port, produce, query, scalar, wait_for

pytestmark = pytest.mark.broker(partitions=1)

CST = timezone(timedelta(hours=8))
STAGES = {"received": "received", "contacted": "contacted", "first_reply": "first_reply", "resolved": "resolved"}


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("COMPLAINTD_CHROMIUM") == "1":
        pytest.fail("COMPLAINTD_CHROMIUM=1 but no chromium is installed")
    return None


def browse(url: str, workdir, screenshot: bool) -> str:
    """The page as the browser rendered it (its DOM), and a screenshot."""
    browser = chromium()
    if browser is None:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read().decode()
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--user-data-dir={workdir / 'chromium'}", "--window-size=1100,1400"]
    if screenshot:
        png = workdir / "status.png"
        subprocess.run(common + [f"--screenshot={png}", url], check=True, capture_output=True, timeout=120)
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, "no screenshot"
    res = subprocess.run(common + ["--dump-dom", url], check=True, capture_output=True, timeout=120, text=True)
    return res.stdout


class Tables(HTMLParser):
    """Each table's rows (cell texts), by the table's id; and the text of
    elements with an id."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.texts: dict[str, str] = {}
        self._table = None
        self._row = None
        self._cell = None
        self._text_id = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id")
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""
        elif tag == "p" and a.get("id"):
            self._text_id = a["id"]
            self.texts[self._text_id] = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "p":
            self._text_id = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._text_id:
            self.texts[self._text_id] += data


def test_status_page_matches_the_database(broker, daemon, db, tmp_path):
    listen = f"127.0.0.1:{free_port()}"
    # the wall clock, working every hour, so that deadlines fall due now
    daemon({"daemon": {"metrics_listen": listen}, "policy": {"business_hours": "00:00-24:00"}}, clock="wall")
    now = datetime.now(CST).replace(microsecond=0)
    produce(broker.bootstrap, COMPLAINTS, [
        received("S-1", now - timedelta(hours=3)),                       # contact breached an hour ago
        received("S-2", now - timedelta(minutes=10), channel="media"),   # urgent, escalated
        received("S-3", now - timedelta(hours=2), category="delay"),
        complaint("S-3", "contacted", now - timedelta(minutes=90)),
        received("S-4", now - timedelta(hours=1), category="delay"),
        complaint("S-4", "resolved", now - timedelta(minutes=30)),
        received("S-5", now - timedelta(minutes=50), category="fee"),
        complaint("S-5", "updated", now - timedelta(minutes=40), validity="invalid"),
    ])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events") == 8)
    wait_for(lambda: scalar(db, "SELECT count(*) FROM unsent_alerts") == 0
             and scalar(db, "SELECT count(*) FROM alerts WHERE type = 'sla_breach'") >= 1)
    url = f"http://{listen}/"

    def page_is_current():
        t = Tables()
        t.feed(urllib.request.urlopen(url, timeout=5).read().decode())
        firing = {r[0]: int(r[1]) for r in t.tables.get("firing", [])[1:]}
        return t if firing.get("sla_breach", 0) >= 1 and sum(int(r[1]) + int(r[2]) for r in
                                                               t.tables["open"][1:-1]) == 5 else None

    wait_for(page_is_current, timeout=30, what="the status page to show the stream")
    html = browse(url, tmp_path, screenshot=True)
    t = Tables()
    t.feed(html)

    # firing alerts by type
    want_firing = dict(query(db, """
        SELECT type, count(*) FROM alerts a WHERE status = 'firing'
           AND NOT EXISTS (SELECT 1 FROM alerts e WHERE e.alert_id = a.alert_id AND e.status <> 'firing')
         GROUP BY type"""))
    firing = {r[0]: int(r[1]) for r in t.tables["firing"][1:-1]}
    assert {k: v for k, v in firing.items() if v} == want_firing
    assert int(t.tables["firing"][-1][1]) == sum(want_firing.values())

    # open tickets by stage and priority
    want_open = {(s, p): n for s, p, n in query(db, """
        SELECT status, priority, count(*) FROM tickets WHERE status <> 'closed' GROUP BY 1, 2""")}
    got_open = {}
    for stage, normal, urgent in t.tables["open"][1:-1]:
        for prio, n in (("normal", normal), ("urgent", urgent)):
            if int(n):
                got_open[(stage, prio)] = int(n)
    assert got_open == want_open

    # today's indicators (the local day of the wall clock)
    today = datetime.now(CST).date()
    assert f"({today.isoformat()})" in html
    want_ind = {c: (r, i, res, ot) for c, r, i, res, ot in query(db, """
        SELECT category, received, invalid, resolved, resolved_on_time FROM indicators WHERE day = %s""", (today,))
        if r or i or res or ot}
    got_ind = {row[0]: tuple(int(x) for x in row[1:5]) for row in t.tables["indicators"][1:-1]}
    assert {c: v for c, v in got_ind.items() if any(v)} == want_ind

    # breaches in the last 24 hours
    want_breaches = scalar(db, """
        SELECT count(*) FROM alerts WHERE type = 'sla_breach' AND status = 'firing'
           AND condition_at > date_trunc('hour', now()) - interval '23 hours'""")
    assert re.match(rf"^{want_breaches} breaches in the 24 hours", t.texts["breaches-total"])
    assert html.count("<rect") == 24
    assert "http://" not in html.replace(url, "") and "https://" not in html, "an external asset"
    assert "PostgreSQL up" in " ".join(t.texts["clock"].split())
