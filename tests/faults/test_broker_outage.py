"""Case 3: the broker goes away while alerts are being published.

freeze   the dev broker is stopped with SIGSTOP for 20 s (--long: 120 s,
         longer than librdkafka's 60 s socket timeout) while the daemon is
         applying a stream and publishing its alerts through a producer
         queue of 10 messages, then SIGCONT. Everything must come out as in
         a clean reference run.

restart  the dev broker is stopped for good (SIGTERM) while the outbox holds
         unacknowledged alerts, and a new one takes its place. The dev broker
         cannot be started on a given port (tools/devbroker.c: the mock
         cluster binds a port the kernel chooses; there is no --port), so
         the daemon talks to a fixed-port relay of this suite
         (faultlib.KafkaRelay) that rewrites the broker and coordinator
         ports in Metadata and FindCoordinator responses to its own: every
         connection of the daemon goes through it. Stopping the broker
         closes that port; the new broker gets it back. (A plain TCP relay
         is not enough: librdkafka 2.0.2 follows the new address of broker
         1 for producing, but its group coordinator keeps dialling the old
         one, and the consumer never gets its partitions back.) The new
         broker starts empty (the mock cluster keeps everything in memory),
         where Apache Kafka would keep its log on disk, so:
           - the old broker's alerts topic is read by a collector up to the
             moment it stops; to make that read complete, the daemon is
             frozen (SIGSTOP) for the second it takes to catch up and stop
             the broker, and resumed (SIGCONT) right after;
           - the whole stream so far is produced again to the new broker,
             at the same offsets (one partition), and then the rest: what
             a restarted Kafka broker serves from its log. The daemon goes on
             from the offset it stored in PostgreSQL;
           - checks: the outbox (unsent_alerts) drains to empty, every alert
             committed after the restart is on the new broker, and the old
             broker's alerts together with the new one's are exactly the
             reference run's set.

kill     the daemon is killed (kill -9) and started again while the broker
         is down, then the broker comes back: the restart reads at once,
         without waiting for the consumer group (the dead instance's
         member stays there for session.timeout.ms).

stop     the daemon is stopped (SIGTERM) while it cannot reach the broker
         and its outbox holds alerts: it gives up on publishing once the
         broker has acknowledged nothing for 5 s, not after the 45 s limit,
         exits 0, and the next start publishes what it left.
"""

import os
import signal
import time
from datetime import datetime, timezone

import pytest

import faultlib as fl
from events import has, keys, mixed_stream, received
from harness import ALERTS, COMPLAINTS, DLQ, free_port, produce, read_records, read_topic, scalar, wait_for

pytestmark = pytest.mark.broker(partitions=1)


def config(listen: str, brokers: str | None = None) -> dict:
    cfg = {
        "daemon": {"batch_max": "50", "outbox_max": "100", "metrics_listen": listen},
        "kafka": {"rdkafka.queue.buffering.max.messages": "10"},
    }
    if brokers:
        cfg["kafka"]["brokers"] = brokers
    return cfg


def wait_publishing(d, timeout: float = 60) -> bool:
    """Waits for a commit that carries alerts and returns right after it is
    committed: the outbox is handing those alerts to the producer."""
    off = fl.log_size(d)
    if fl.wait_log_from(d, off, r"committing batch: .*, [1-9]\d* alerts", timeout=timeout) is None:
        return False
    return fl.wait_log_from(d, off, r"committed in", timeout=timeout) is not None


def test_broker_frozen(broker, broker_factory, daemon, db, pg, tmp_path, short_tmp, long_mode):
    freeze = 120 if long_mode else 20
    complaints, _ = mixed_stream(800, seed=3, prefix="F")
    ref, ref_topic = fl.reference_run(pg, broker_factory, tmp_path / "ref", short_tmp, complaints, [],
                                      config(f"127.0.0.1:{free_port()}"))
    produce(broker.bootstrap, COMPLAINTS, complaints, key_field="ticket_id")
    listen = f"127.0.0.1:{free_port()}"
    d = daemon(config(listen))
    wait_for(lambda: fl.consumed(db) >= len(complaints) // 3, timeout=60, interval=0.02,
             what="a third of the stream applied")
    assert wait_publishing(d)
    os.kill(broker.proc.pid, signal.SIGSTOP)
    t0 = time.monotonic()
    queue = []
    try:
        while time.monotonic() - t0 < freeze:
            assert d.running, "complaintd exited while the broker was frozen"
            queue.append(fl.metric(listen, "complaintd_publish_queue"))
            time.sleep(1)
        unsent = scalar(db, "SELECT count(*) FROM unsent_alerts")
    finally:
        os.kill(broker.proc.pid, signal.SIGCONT)
    t_back = time.monotonic()
    assert max(queue) > 0, "the outbox was empty during the whole freeze"
    assert unsent > 0
    wait_for(fl.finished(db, len(complaints)), timeout=180, what="the stream to finish after the freeze")
    recovered = time.monotonic() - t_back
    topic_keys, n_records = fl.alert_set(broker.bootstrap, ALERTS)
    fl.assert_same_as_reference(db, topic_keys, ref, ref_topic)
    assert not read_records(broker.bootstrap, DLQ, timeout=10)
    assert d.running
    print(f"\nbroker frozen {freeze}s: {len(complaints)} events, {len(ref_topic)} alert transitions "
          f"({n_records} records); outbox during the freeze up to {max(queue)} messages, {unsent} rows above "
          f"the stored watermark; finished {recovered:.1f}s after SIGCONT")


def test_broker_restarted(broker, broker_factory, daemon, db, pg, tmp_path, short_tmp):
    complaints, _ = mixed_stream(600, seed=4, prefix="R")
    cut = len(complaints) * 4 // 5
    before, after = complaints[:cut], complaints[cut:]
    ref, ref_topic = fl.reference_run(pg, broker_factory, tmp_path / "ref", short_tmp, complaints, [],
                                      config(f"127.0.0.1:{free_port()}"))

    relay = fl.KafkaRelay(broker.bootstrap)
    old = fl.TopicCollector(broker.bootstrap, ALERTS, broker.partitions).start()
    try:
        produce(broker.bootstrap, COMPLAINTS, before, key_field="ticket_id")
        listen = f"127.0.0.1:{free_port()}"
        d = daemon(config(listen, brokers=relay.address))
        wait_for(lambda: fl.consumed(db) >= len(before) // 2, timeout=60, interval=0.02,
                 what="half of the first part applied")
        assert wait_publishing(d)
        # freeze the daemon, read the old broker to its end, stop it, resume the daemon
        os.kill(d.pid, signal.SIGSTOP)
        try:
            high = fl.high_watermarks(broker.bootstrap, ALERTS)
            wait_for(lambda: len(old.records) >= high, timeout=20, what="the collector to catch up")
            old.stop()
            assert broker.stop() == 0
            relay.retarget(None)  # the port refuses, as a stopped broker's does
            t_stop = time.monotonic()
        finally:
            os.kill(d.pid, signal.SIGCONT)
        queue = []
        while time.monotonic() - t_stop < 10:
            assert d.running, "complaintd exited while the broker was down"
            queue.append(fl.metric(listen, "complaintd_publish_queue"))
            time.sleep(1)
        assert max(queue) > 0, "the outbox held nothing while the broker was down"
        unsent_down = scalar(db, "SELECT count(*) FROM unsent_alerts")

        new = broker_factory(partitions=broker.partitions)
        relay.retarget(new.bootstrap)
        t_new = time.monotonic()
        seq_at_restart = scalar(db, "SELECT COALESCE(max(seq), 0) FROM alerts")
        # the restarted broker's log, then what arrives after the restart
        produce(new.bootstrap, COMPLAINTS, before + after, key_field="ticket_id")
        n_events = len(ref.events)
        wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events") == n_events
                 and scalar(db, "SELECT count(*) FROM unsent_alerts") == 0, timeout=180,
                 what="every event applied and the outbox drained on the new broker")
        drained = time.monotonic() - t_new
        new_keys, n_new = fl.alert_set(new.bootstrap, ALERTS)
        later = set(fl.query(db, "SELECT alert_id, status FROM alerts WHERE seq > %s", (seq_at_restart,)))
        assert later, "no alert was committed after the restart"
        assert later <= new_keys, "alerts committed after the restart missing on the new broker: " + \
            fl.diff(later - new_keys, set())
        old_keys = set(old.keys())
        fl.assert_same_as_reference(db, old_keys | new_keys, ref, ref_topic)
        assert not read_records(new.bootstrap, DLQ, timeout=10)
        assert scalar(db, "SELECT count(*) FROM dead_letters") == 0
        assert d.running
        assert relay.rewritten > 0
        print(f"\nbroker restarted: {len(complaints)} events, {len(ref_topic)} alert transitions; old broker had "
              f"{len(old_keys)} of them; down {t_new - t_stop:.0f}s with up to {max(queue)} messages in the outbox "
              f"({unsent_down} rows above the stored watermark); new broker: {len(new_keys)} transitions "
              f"({n_new} records, {len(later)} committed after the restart), drained {drained:.1f}s after it "
              f"started")
    finally:
        old.stop()
        relay.close()


def test_a_restart_after_kill_with_the_broker_down_reads_once_it_is_back(broker, daemon, db):
    """The daemon assigns itself its partitions once the broker answers with
    the topics, and asks again every second while it has none: a restart
    after a kill -9, during a broker outage, reads as soon as the broker is
    back. The consumer group would wait for the dead instance's member
    (session.timeout.ms, 30 s here) and, without one, for a group to form."""
    relay = fl.KafkaRelay(broker.bootstrap)
    try:
        d = daemon({"kafka": {"brokers": relay.address, "rdkafka.session.timeout.ms": "30000"}})
        # a member that has to join twice waits the session timeout less
        # 1 s there (the dev broker), as in test_restart.py
        d.wait_log(r"gave its member \d+ partitions", timeout=90)
        d.kill()
        evs, _ = mixed_stream(5, prefix="RB")
        produce(broker.bootstrap, COMPLAINTS, evs)
        relay.retarget(None)
        d.start()
        time.sleep(3)
        relay.retarget(broker.bootstrap)
        back = time.monotonic()
        wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events") == len(evs), timeout=90,
                 what="the events applied")
        took = time.monotonic() - back
        assert took < 15, f"read {took:.1f} s after the broker came back: it waited for the group"
    finally:
        relay.close()


def test_a_stop_with_the_broker_unreachable_leaves_the_alerts_to_the_next_start(broker, daemon, db):
    # wall mode: the deadlines fall due while the broker cannot be reached,
    # so the alerts are committed but never acknowledged
    policy = {"policy": {"sla.contact.normal": "12s calendar"}}
    relay = fl.KafkaRelay(broker.bootstrap)
    try:
        d = daemon({**policy, "kafka": {"brokers": relay.address}}, clock="wall")
        d.wait_log(r"gave its member \d+ partitions", timeout=60)
        t0 = datetime.now(timezone.utc).replace(microsecond=0)
        produce(broker.bootstrap, COMPLAINTS, [received("UN-1", t0), received("UN-2", t0)])
        wait_for(lambda: scalar(db, "SELECT count(*) FROM tickets") == 2, what="the tickets")
        relay.retarget(None)
        wait_for(lambda: scalar(db, "SELECT count(*) FROM alerts WHERE alert_id LIKE 'sla_breach/%'") == 2,
                 timeout=60, what="the breaches committed")
        assert scalar(db, "SELECT count(*) FROM unsent_alerts") == 4
        took = fl.stop_gives_up(d, "stopping with work left: the broker acknowledged nothing for 5 s")
    finally:
        relay.close()

    d = daemon(policy, clock="wall")
    want = [(f"sla_{kind}/UN-{n}/1/contact", "firing") for kind in ("warning", "breach") for n in (1, 2)]
    got = keys(read_topic(broker.bootstrap, ALERTS, until=has(*want), timeout=60))
    assert sorted(got) == sorted(want)
    wait_for(lambda: scalar(db, "SELECT count(*) FROM unsent_alerts") == 0, what="the outbox drained")
    print(f"\nstop with the broker unreachable: 4 alerts unpublished, the stop took {took:.1f} s; "
          f"the next start published them")
