"""Case 7: PostgreSQL turns read-only under the daemon.

What a full disk or a failover onto a standby looks like from a client:
every write is refused while reads still work. The test's own server gets
`default_transaction_read_only = on` (ALTER SYSTEM and a reload, so the
daemon's open session is affected without reconnecting) in the middle of a
stream, for 15 s, while more of the stream is produced. Meanwhile:

  - the daemon keeps running and reports the failure: the batch commit
    fails with PostgreSQL's message in the log, and
    complaintd_commit_failures_total counts it;
  - it holds its position: the offsets stored in PostgreSQL do not move,
    and nothing is applied twice later;
  - nothing is dead-lettered (the failure is not the message's fault).

Then the setting is reset; the daemon's retries get through by themselves
and the outcome equals a clean run of the same stream.
"""

import time

import psycopg2
import pytest

import faultlib as fl
from events import mixed_stream
from harness import ALERTS, COMPLAINTS, DLQ, free_port, produce, read_records, wait_for

pytestmark = pytest.mark.broker(partitions=1)


@pytest.fixture
def db(private_pg):
    """This test's database lives on a server of its own, which it makes read-only."""
    return private_pg.create_database()


def set_read_only(server, on: bool) -> None:
    conn = psycopg2.connect(server.conninfo)
    try:
        conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        with conn.cursor() as cur:
            cur.execute("SET default_transaction_read_only = off")  # this session may still write
            cur.execute("ALTER SYSTEM SET default_transaction_read_only = " + ("on" if on else "off"))
            cur.execute("SELECT pg_reload_conf()")
    finally:
        conn.close()


def config(listen: str) -> dict:
    return {"daemon": {"batch_max": "100", "metrics_listen": listen}}


def test_read_only_postgres(broker, broker_factory, daemon, db, pg, private_pg, tmp_path, short_tmp):
    complaints, _ = mixed_stream(600, seed=31, prefix="RO")
    first = len(complaints) // 3
    ref, ref_topic = fl.reference_run(pg, broker_factory, tmp_path / "ref", short_tmp, complaints, [],
                                      config(f"127.0.0.1:{free_port()}"))
    listen = f"127.0.0.1:{free_port()}"
    d = daemon(config(listen))
    produce(broker.bootstrap, COMPLAINTS, complaints[:first], key_field="ticket_id")
    wait_for(lambda: fl.consumed(db) >= first, timeout=60, what="the first part applied")
    wait_for(lambda: fl.finished(db, first)(), timeout=60, what="the first part's alerts sent")
    log_off = fl.log_size(d)
    failures_before = fl.metric(listen, "complaintd_commit_failures_total")

    set_read_only(private_pg, True)
    try:
        t0 = time.monotonic()
        produce(broker.bootstrap, COMPLAINTS, complaints[first:], key_field="ticket_id")
        held = fl.consumed(db)
        while time.monotonic() - t0 < 15:
            assert d.running, "complaintd exited when PostgreSQL turned read-only"
            assert fl.consumed(db) == held, "offsets moved while PostgreSQL was read-only"
            time.sleep(0.5)
        m = fl.metrics(listen)
        log = fl.log_from(d, log_off)
    finally:
        set_read_only(private_pg, False)
    t_back = time.monotonic()
    assert m["complaintd_commit_failures_total"] > failures_before, "the failed commits were not counted"
    assert m["complaintd_dead_letters_total"] == 0
    assert "read-only transaction" in log, "the log does not say why the commit failed"
    assert held == first

    wait_for(fl.finished(db, len(complaints)), timeout=120, what="the stream to land once writable again")
    recovered = time.monotonic() - t_back
    topic_keys, n_records = fl.alert_set(broker.bootstrap, ALERTS)
    fl.assert_same_as_reference(db, topic_keys, ref, ref_topic)
    assert not read_records(broker.bootstrap, DLQ, timeout=10), "a refused write made a dead letter"
    assert d.running
    print(f"\nread-only postgres: 15s read-only with {len(complaints) - first} messages waiting, "
          f"{m['complaintd_commit_failures_total'] - failures_before} failed commits counted, position held at "
          f"{held}; all landed {recovered:.1f}s after writes were allowed again; {len(ref_topic)} alert "
          f"transitions as in the clean run")
