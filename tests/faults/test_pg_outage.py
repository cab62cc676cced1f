"""Case 2: PostgreSQL goes away in the middle of a stream.

The test has a PostgreSQL server of its own (the `db` fixture is overridden
here with the private_pg server), so stopping it touches no other test. A
stream of complaints is cut in parts by time: the first is applied, then the
server is stopped and the next part is produced while it is down. While it
is down:

  - /metrics says complaintd_postgres_up 0;
  - the systemd STATUS= line says postgres=down;
  - nothing is applied or committed (complaintd_batches_committed_total and
    complaintd_events_applied_total stand still), the fetched messages stop
    growing at the merge buffer's bound (4096) and the consumer is paused;
  - no dead letter is made: a connection error is not the message's fault.

Then the server starts again on the same port; the daemon reconnects by
itself (commit retries back off 0.5 s doubling to 10 s) and the outcome must
equal a clean reference run. CI: one outage of 20 s. --long: a second outage
of 120 s.

The stream is complaints only, on one partition: the merge then applies it in
one order whatever the fetches and pauses were, so the reference run is
comparable message for message (with two topics a pause could let one topic
run ahead of the other).

A second case stops the daemon (SIGTERM) while the server is down and a
commit is waiting for it: the stop gives up after 5 s without the server
instead of the 45 s limit, exits 0, and the next start, with the server
back, applies what was left; the outcome equals the reference run's.
"""

import contextlib
import re
import time

import psycopg2
import pytest

import faultlib as fl
from events import mixed_stream
from harness import ALERTS, COMPLAINTS, DLQ, free_port, produce, read_records, scalar, wait_for

pytestmark = pytest.mark.broker(partitions=1)


@pytest.fixture
def db(private_pg):
    """This test's database lives on a server of its own, which it stops."""
    return private_pg.create_database()


def config(listen: str) -> dict:
    return {"daemon": {"batch_max": "100", "metrics_listen": listen}}


def test_postgres_outage(broker, broker_factory, daemon, db, pg, private_pg, tmp_path, short_tmp, long_mode):
    outages = [20, 120] if long_mode else [20]
    complaints, _ = mixed_stream(1500, seed=5, prefix="P")
    # parts by position in time order: the first 20 %, then equal parts
    first = len(complaints) // 5
    step = (len(complaints) - first) // len(outages)
    cuts = [0, first] + [first + step * (i + 1) for i in range(len(outages) - 1)] + [len(complaints)]
    parts = [complaints[cuts[i]:cuts[i + 1]] for i in range(len(cuts) - 1)]
    assert all(len(p) > 4096 for p in parts[1:]), [len(p) for p in parts]

    ref, ref_topic = fl.reference_run(pg, broker_factory, tmp_path / "ref", short_tmp, complaints, [],
                                      config(f"127.0.0.1:{free_port()}"))
    listen = f"127.0.0.1:{free_port()}"
    d = daemon(config(listen))
    produce(broker.bootstrap, COMPLAINTS, parts[0], key_field="ticket_id")

    figures = []
    try:
        outage_cycles(d, db, broker, private_pg, listen, outages, parts, figures)
    finally:
        if not private_pg.running():
            private_pg.restart()  # a failed check must not leave the daemon without its server

    topic_keys, n_records = fl.alert_set(broker.bootstrap, ALERTS)
    fl.assert_same_as_reference(db, topic_keys, ref, ref_topic)
    assert not read_records(broker.bootstrap, DLQ, timeout=10), "a connection error made a dead letter"
    assert d.running
    print(f"\npostgres outage: {len(complaints)} events, {len(ref_topic)} alert transitions, "
          f"{n_records} alert records; " + "; ".join(figures))


def outage_cycles(d, db, broker, private_pg, listen, outages, parts, figures):
    done = 0
    for outage, applying, part in zip(outages, parts, parts[1:]):
        # stop the server halfway through the part being applied, while a
        # commit is in flight: held up by a lock on the events' table, so
        # that it has not finished by the time the server stops
        wait_for(lambda: fl.consumed(db) >= done + len(applying) // 2, timeout=60, interval=0.02,
                 what="half of the part applied")
        log_off = fl.log_size(d)
        lock = psycopg2.connect(db)
        lock.cursor().execute("LOCK TABLE ticket_events IN ACCESS EXCLUSIVE MODE")
        wait_for(lambda: scalar(db, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'complaintd' "
                                    "AND wait_event_type = 'Lock' AND datname = current_database()") == 1,
                 timeout=30, what="a commit waiting for the lock")
        t_down = time.monotonic()
        private_pg.stop()
        with contextlib.suppress(psycopg2.Error):
            lock.close()
        done += len(applying)
        since = d.notify.count()
        produce(broker.bootstrap, COMPLAINTS, part, key_field="ticket_id")
        seen_down = seen_paused = False
        max_fetched = 0
        samples = []
        committed_when_down = None
        while time.monotonic() - t_down < outage:
            assert d.running, "complaintd exited while PostgreSQL was down"
            m = fl.metrics(listen)
            samples.append(m)
            if m["complaintd_postgres_up"] == 0 and committed_when_down is None:
                committed_when_down = m["complaintd_batches_committed_total"]
            seen_down |= m["complaintd_postgres_up"] == 0
            seen_paused |= m["complaintd_consumer_paused"] == 1
            max_fetched = max(max_fetched, m["complaintd_fetched_messages"])
            # nothing is committed, nothing is dead-lettered
            if committed_when_down is not None:
                assert m["complaintd_batches_committed_total"] == committed_when_down
            assert m["complaintd_dead_letters_total"] == 0
            time.sleep(0.5)
        t_check = time.monotonic() - t_down
        # what the daemon showed while the server was down
        assert seen_down, "complaintd_postgres_up never went to 0"
        assert samples[-1]["complaintd_postgres_up"] == 0
        assert d.notify.seen(r"^STATUS=.*postgres=down", since), "no STATUS= line with postgres=down"
        # applying stopped: the applied counter stood still once the failed batch was counted
        late = [s["complaintd_events_applied_total"] for s in samples[len(samples) // 2:]]
        assert len(set(late)) == 1, f"events were still being applied: {late}"
        # the merge buffer stopped at its bound and the consumer was paused
        assert seen_paused, "the consumer was never paused"
        # (the open batch takes up to batch_max effects out of it)
        assert 4096 - 200 <= max_fetched <= 4096 + 1024, max_fetched
        assert samples[-1]["complaintd_fetched_messages"] == samples[len(samples) // 2]["complaintd_fetched_messages"]

        since_up = d.notify.count()
        private_pg.restart()
        t_up = time.monotonic()
        wait_for(fl.finished(db, done + len(part)), timeout=120,
                 what=f"the stream to land after an outage of {outage}s")
        recovered = time.monotonic() - t_up
        log = fl.log_from(d, log_off)
        # the batch in flight failed, was counted, and its retries backed off
        backoffs = [float(x) for x in re.findall(r"batch commit failed: .*; retrying in (\d+\.\d)s", log)]
        assert backoffs, "the batch in flight did not fail"
        after = fl.metrics(listen)
        assert after["complaintd_commit_failures_total"] >= 1
        # reconnection attempts are spaced out (no busy loop), and it did reconnect
        attempts = fl.log_times(log, r"postgres: connection (?:failed|lost); reconnecting")
        gaps = [b - a for a, b in zip(attempts, attempts[1:])]
        assert attempts and min(gaps, default=1.0) >= 0.9, f"reconnect attempts too close: {gaps[:10]}"
        assert "postgres: connected" in log
        assert after["complaintd_postgres_up"] == 1
        wait_for(lambda: d.notify.seen(r"^STATUS=.*postgres=up", since_up), timeout=15,
                 what="STATUS= saying postgres=up again")
        figures.append(f"outage {outage}s (checked {t_check:.0f}s): {len(part)} messages produced while down, "
                       f"fetched up to {max_fetched}, {after['complaintd_commit_failures_total']} failed "
                       f"statements (commit backoffs {backoffs}), {len(attempts)} reconnect attempts "
                       f"{min(gaps, default=0):.1f}..{max(gaps, default=0):.1f}s apart, all landed {recovered:.1f}s "
                       f"after the server was back")


def test_a_stop_with_postgres_down_leaves_the_batch_to_the_next_start(broker, broker_factory, daemon, db, pg,
                                                                       private_pg, tmp_path, short_tmp):
    complaints, _ = mixed_stream(400, seed=6, prefix="Q")
    first = complaints[:len(complaints) // 2]
    ref, ref_topic = fl.reference_run(pg, broker_factory, tmp_path / "ref", short_tmp, complaints, [],
                                      config(f"127.0.0.1:{free_port()}"))
    d = daemon(config(f"127.0.0.1:{free_port()}"))
    produce(broker.bootstrap, COMPLAINTS, first, key_field="ticket_id")
    wait_for(fl.finished(db, len(first)), timeout=60, what="the first half applied")
    # the next batch's commit waits for a lock, and the server goes away under it
    lock = psycopg2.connect(db)
    lock.cursor().execute("LOCK TABLE ticket_events IN ACCESS EXCLUSIVE MODE")
    produce(broker.bootstrap, COMPLAINTS, complaints[len(first):], key_field="ticket_id")
    wait_for(lambda: scalar(db, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'complaintd' "
                                "AND wait_event_type = 'Lock' AND datname = current_database()") == 1,
             timeout=30, what="a commit waiting for the lock")
    private_pg.stop()
    with contextlib.suppress(psycopg2.Error):
        lock.close()
    try:
        d.wait_log(r"postgres: connection (?:failed|lost); reconnecting", timeout=30)
        took = fl.stop_gives_up(d, "stopping with work left: PostgreSQL was down with a commit to make")
    finally:
        private_pg.restart()
    d.start()
    wait_for(fl.finished(db, len(complaints)), timeout=120, what="the rest applied by the next start")
    topic_keys, _ = fl.alert_set(broker.bootstrap, ALERTS)
    fl.assert_same_as_reference(db, topic_keys, ref, ref_topic)
    print(f"\nstop with postgres down: {len(complaints)} events, the stop took {took:.1f} s; the next start "
          f"applied the rest")
