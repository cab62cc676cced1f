"""Log lines as journald files them, and log_format = json."""

import json
import os
import re

import pytest

from events import at, received
from harness import COMPLAINTS, produce, scalar, wait_for

pytestmark = pytest.mark.broker(partitions=1)


def test_journal_priorities(broker, daemon, db, monkeypatch):
    # systemd names the stream it connected to stderr in JOURNAL_STREAM
    log = daemon.workdir / f"complaintd{len(daemon.daemons)}.log"
    log.touch()
    st = os.stat(log)
    monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
    d = daemon()
    produce(broker.bootstrap, COMPLAINTS, [received("L-1", at(0))])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM tickets") == 1)
    d.stop()
    lines = [x for x in d.log.splitlines() if not x.startswith("---- harness")]
    assert lines
    for x in lines:
        assert re.match(r"^<([3467])>(error|warning|info|debug): ", x), x
        prio, level = re.match(r"^<(\d)>(\w+)", x).groups()
        assert {"3": "error", "4": "warning", "6": "info", "7": "debug"}[prio] == level
    assert any(x.startswith("<6>info: ") for x in lines)
    assert any(x.startswith("<7>debug: ") for x in lines)


def test_json_lines(broker, daemon, db):
    d = daemon({"daemon": {"log_format": "json"}})
    produce(broker.bootstrap, COMPLAINTS, [received("L-2", at(0))])
    wait_for(lambda: scalar(db, "SELECT count(*) FROM tickets") == 1)
    d.stop()
    records = [json.loads(x) for x in d.log.splitlines() if not x.startswith("---- harness")]
    assert records
    for r in records:
        assert set(r) == {"time", "level", "priority", "message"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["time"])
        assert r["priority"] == {"error": 3, "warning": 4, "info": 6, "debug": 7}[r["level"]]
    assert any(r["message"].startswith("loaded ") for r in records)
