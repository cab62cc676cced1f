"""The test infrastructure itself: private PostgreSQL and dev broker, no daemon."""

import re

from harness import ALERTS, produce, query, read_topic, scalar


def test_broker_and_postgres_work(pg, db, broker):
    # The broker announces itself on stdout and in the bootstrap file.
    assert re.fullmatch(r"127\.0\.0\.1:\d+", broker.bootstrap), broker.bootstrap
    assert broker.printed_bootstrap == broker.bootstrap

    # A keyed JSON message and a raw one come back from the alerts topic.
    alert = {"schema": "alert.v1", "alert_id": "sla_warning/T-1/1/contact", "type": "sla_warning",
             "status": "firing", "ticket_id": "T-1", "round": 1, "stage": "contact"}
    assert produce(broker.bootstrap, ALERTS, [alert, b"\xffnot json"], key_field="alert_id") == 2
    got = read_topic(broker.bootstrap, ALERTS, until=lambda msgs: len(msgs) >= 2, timeout=20)
    assert alert in got
    assert {"_raw": b"\xffnot json"} in got
    assert len(got) == 2

    # The session server answers, and the per-test database is a fresh one.
    assert scalar(pg.conninfo, "SELECT current_user") == "complaintd"
    assert query(db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]
    assert scalar(db, "SELECT current_database()").startswith("t_")
