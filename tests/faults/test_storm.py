"""Case 4: a deadline storm with a small producer queue.

Many open tickets, then one event 40 days later: every deadline of every
ticket falls due at once (contact, first reply and resolve, a warning and a
breach each: 6 transitions a ticket). The producer's queue holds 100
messages, so almost the whole burst is refused by librdkafka at first and
must wait in the daemon's outbox. Checks:

  - every transition reaches the alerts topic, without a restart, and the
    alerts table holds each once;
  - no batch holds more than batch_max effects;
  - memory stays bounded: the daemon's peak RSS during the storm (VmHWM)
    grows by less than a fixed bound over its RSS with every ticket loaded,
    far less than holding the burst would take; the figures are printed.

CI: 20,000 tickets (120,000 transitions); --long: 5x.
"""

import time

import pytest

import faultlib as fl
from events import at, received
from harness import ALERTS, COMPLAINTS, free_port, produce, scalar, wait_for

# The dev broker keeps about 5 MB a partition: 16 partitions hold the CI
# storm's alerts; the topic is also read as it fills (a collector), which
# holds for any size.
pytestmark = pytest.mark.broker(partitions=16)

# What the burst may add to the daemon's peak RSS. Holding every transition
# of the CI-size storm (alert JSON of about 400 bytes, its outbox entry and
# its row) would take well over 100 MiB; bounded batches and a bounded
# outbox take a few MiB whatever the size.
GROWTH_BOUND_KIB = 48 * 1024


def test_deadline_storm_bounded(broker, daemon, db, scale):
    n = 20000 * scale
    listen = f"127.0.0.1:{free_port()}"
    d = daemon({
        "daemon": {"batch_max": "500", "outbox_max": "2000", "metrics_listen": listen},
        "kafka": {"rdkafka.queue.buffering.max.messages": "100"},
    })
    # a site of its own for each ticket: no bulk episode, only deadlines
    evs = [received(f"S-{i:06d}", at(minutes=i * 1440 / n), site=f"S{i:06d}", category="fee")
           for i in range(n)]
    collector = fl.TopicCollector(broker.bootstrap, ALERTS, broker.partitions).start()
    produce(broker.bootstrap, COMPLAINTS, evs, key_field="ticket_id")
    wait_for(lambda: fl.consumed(db) >= n, timeout=300, what="every ticket applied")
    # the alerts of the day itself (warnings and breaches already due) out first
    wait_for(lambda: scalar(db, "SELECT count(*) FROM unsent_alerts") == 0, timeout=300,
             what="the day's alerts sent")
    time.sleep(1)
    loaded = fl.proc_status(d.pid)
    before = scalar(db, "SELECT count(*) FROM alerts")

    t0 = time.monotonic()
    produce(broker.bootstrap, COMPLAINTS, [received("S-far", at(days=40), site="FAR")], key_field="ticket_id")
    want = n * 3 * 2
    peak_queue = 0
    while True:
        assert d.running, "the daemon stopped during the storm"
        peak_queue = max(peak_queue, fl.metric(listen, "complaintd_publish_queue"))
        if fl.finished(db, n + 1)() and scalar(db, "SELECT count(*) FROM alerts") >= want:
            break
        assert time.monotonic() - t0 < 600 * scale, "the storm did not drain"
        time.sleep(0.5)
    elapsed = time.monotonic() - t0
    end = fl.proc_status(d.pid)

    wait_for(lambda: len(set(collector.keys())) >= want, timeout=120, what="the collector to read every alert")
    time.sleep(1)
    collector.stop()
    keys = set(collector.keys())
    n_records = len(collector.keys())
    fl.assert_no_doubles(db)
    assert scalar(db, "SELECT count(*) FROM alerts") == want
    assert len(keys) == want, f"{len(keys)} of {want} transitions on the topic"
    assert {s for _, s in keys} == {"firing"}
    m = fl.metrics(listen)
    assert m["complaintd_publish_refusals_total"] > 0, "the producer's queue never filled: not a storm"
    assert m["complaintd_batch_effects_max"] <= 500
    assert m["complaintd_publish_queue"] == 0
    growth = end["VmHWM"] - loaded["VmRSS"]
    print(f"\ndeadline storm: {n} tickets, {want} transitions ({before} before the storm), drained in "
          f"{elapsed:.1f}s ({(want - before) / elapsed:.0f}/s); producer refusals "
          f"{m['complaintd_publish_refusals_total']}; outbox peak {peak_queue}; RSS with every ticket "
          f"{loaded['VmRSS'] / 1024:.1f} MiB, peak {end['VmHWM'] / 1024:.1f} MiB (+{growth / 1024:.1f} MiB), "
          f"end {end['VmRSS'] / 1024:.1f} MiB; {n_records} records on the topic")
    assert growth < GROWTH_BOUND_KIB, f"the storm grew the daemon by {growth / 1024:.0f} MiB"
    # the gate counts the messages of the batch being committed and of the one
    # being built, so only the step that closes it goes over: at most one
    # batch (docs/architecture.md)
    assert peak_queue < 2000 + 500, f"the outbox went past outbox_max + one batch: {peak_queue}"
