"""The README's first command: deploy/demo.sh, the daemon on the bundled
sample streams.

The demo is run as a newcomer runs it, but on the binaries under test
(DEMO_BUILD: nothing installed or built) and with a shorter idle wait. It
starts its own PostgreSQL and dev broker, so it needs none of the fixtures.
It must stop cleanly and show what the samples are written to show: every
kind of alert they raise, each dead letter with its reason, and a closing
count that agrees with the lines it printed.
"""

import os
import re
import subprocess

from harness import BUILD, REPO

SAMPLES = REPO / "docs" / "examples"

# What the samples raise (docs/examples: a ticket or a parcel for each rule).
KINDS = {"bulk_complaint", "category_review", "parcel_stalled", "pause_overdue", "progress_due", "repeat_complaint",
         "response_due", "site_accountability", "sla_breach", "sla_warning", "ticket_escalated"}
# The lines they hold on purpose for the dead-letter topic, by reason.
DEAD = {"invalid_field": 2, "invalid_transition": 1, "malformed_json": 1, "unknown_schema": 1}


def lines_of(name: str) -> int:
    return sum(1 for line in (SAMPLES / name).read_text().splitlines() if line.strip())


def test_the_demo_shows_what_the_samples_raise():
    env = {**os.environ, "DEMO_BUILD": str(BUILD), "DEMO_IDLE": "5"}
    res = subprocess.run(["bash", str(REPO / "deploy" / "demo.sh")], capture_output=True, text=True, timeout=300,
                         env=env, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, f"demo.sh exited with {res.returncode}:\n{res.stderr[-4000:]}"
    out = res.stdout.splitlines()
    alerts = [line.split() for line in out if re.match(r"(firing|resolved|retracted) ", line)]
    dead = [line.split()[1] for line in out if line.startswith("DLQ ")]
    closing = re.fullmatch(r"demo: (\d+) complaint events \+ (\d+) scans in -> (\d+) alerts, (\d+) dead letters out; "
                           r"complaintd stopped cleanly", out[-1] if out else "")
    assert closing, f"no closing line: {out[-3:]}"
    assert (int(closing[1]), int(closing[2])) == (lines_of("complaints.jsonl"), lines_of("scans.jsonl"))
    # every record on the topics was printed, once
    assert (int(closing[3]), int(closing[4])) == (len(alerts), len(dead))
    assert {a[1] for a in alerts if a[0] == "firing"} == KINDS
    assert {r: dead.count(r) for r in set(dead)} == DEAD
    # each alert printed once per status: nothing doubled on the topic
    ids = [(a[0], a[-1]) for a in alerts]
    assert len(ids) == len(set(ids)), "an alert transition was printed twice"
