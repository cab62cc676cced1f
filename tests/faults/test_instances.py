"""Case: several complaintd instances of one group on one database.

The desk of a group is held by one instance at a time (a PostgreSQL session
advisory lock, docs/architecture.md "Scaling"); the others wait as
standbys. Over a long mixed stream on 12 partitions, with three instances
started together, the active one is killed with SIGKILL mid-stream, a
fourth is added, and the next active one is stopped gracefully. The
outcome must be that of one instance given the same input: ticket rows,
ticket_events, the alerts table and the set of (alert_id, status) on the
alerts topic, compared with a clean reference run (own broker, database
and group, also 12 partitions).
"""

import re
import time

import pytest

import faultlib as fl
from events import mixed_stream
from harness import ALERTS, COMPLAINTS, SCANS, free_port, produce, wait_for

PARTITIONS = 12
pytestmark = pytest.mark.broker(partitions=PARTITIONS)

STANDBY = r"waiting as a standby"
TAKEOVER = r"the desk of group \S+ is free: this instance takes it over"


def config() -> dict:
    # small batches: many commits, a stream that lasts long enough to stop in
    return {"daemon": {"batch_max": "10", "batch_linger_ms": "1000", "metrics_listen": f"127.0.0.1:{free_port()}"}}


def test_instances_of_one_group_give_the_outcome_of_one(broker, broker_factory, daemon, db, pg, tmp_path,
                                                       short_tmp, scale):
    complaints, scans = mixed_stream(600 * min(scale, 2), seed=23, prefix="N")
    total = len(complaints) + len(scans)
    ref, ref_topic = fl.reference_run(pg, broker_factory, tmp_path / "ref", short_tmp, complaints, scans,
                                      config(), partitions=PARTITIONS)
    assert len(ref_topic) > 500, "the stream should raise many alerts"

    produce(broker.bootstrap, SCANS, scans, key_field="waybill")
    produce(broker.bootstrap, COMPLAINTS, complaints, key_field="ticket_id")
    t0 = time.monotonic()
    first = daemon(config())
    standbys = [daemon(config(), wait_ready=False) for _ in range(2)]
    for s in standbys:
        s.wait_log(STANDBY, timeout=30)

    def taken_over(candidates):
        return next((s for s in candidates if re.search(TAKEOVER, s.log)), None)

    # kill -9 the active instance a quarter of the way in
    wait_for(lambda: fl.consumed(db) >= total // 4, timeout=120, what="a quarter of the stream")
    at_kill = fl.consumed(db)
    first.kill()
    wait_for(lambda: taken_over(standbys) is not None, timeout=60, what="a standby to take over after kill -9")
    active = taken_over(standbys)
    waiting = [s for s in standbys if s is not active]
    assert len(waiting) == 1 and not re.search(TAKEOVER, waiting[0].log), "two instances took the desk"

    # a fourth instance joins as a standby; then a graceful stop of the active one
    fourth = daemon(config(), wait_ready=False)
    fourth.wait_log(STANDBY, timeout=30)
    wait_for(lambda: fl.consumed(db) >= max(total // 2, at_kill + 1), timeout=120, what="half of the stream")
    at_stop = fl.consumed(db)
    assert active.stop() == 0
    candidates = [waiting[0], fourth]
    wait_for(lambda: taken_over(candidates) is not None, timeout=60, what="a standby to take over after a stop")

    wait_for(fl.finished(db, total), timeout=300, what="the stream to finish")
    elapsed = time.monotonic() - t0
    topic_keys, n_records = fl.alert_set(broker.bootstrap, ALERTS)
    fl.assert_same_as_reference(db, topic_keys, ref, ref_topic)
    print(f"\ninstances: {total} messages on {PARTITIONS} partitions in {elapsed:.0f}s; killed at {at_kill}, "
          f"stopped at {at_stop}; {len(ref.tickets)} tickets, {len(ref_topic)} alert transitions; topic records "
          f"{n_records} ({n_records - len(topic_keys)} repeated)")
