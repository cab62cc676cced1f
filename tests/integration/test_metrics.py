"""The plain-text metrics endpoint ([daemon] metrics_listen), through the real binary."""

import re
import time
import urllib.error
import urllib.request

import psycopg2
import pytest
from confluent_kafka import Consumer, TopicPartition

from events import at, complaint, received
from harness import COMPLAINTS, SCANS, free_port, produce, query, scalar, wait_for

pytestmark = pytest.mark.broker(partitions=1)

COUNTERS = [
    "complaintd_events_applied_total", "complaintd_events_history_total", "complaintd_events_held_total",
    "complaintd_events_duplicate_total", "complaintd_dead_letters_total", "complaintd_alerts_total",
    "complaintd_scans_total", "complaintd_batches_committed_total", "complaintd_commit_failures_total",
    "complaintd_publish_retries_total", "complaintd_publish_refusals_total", "complaintd_merge_waits_total",
    "complaintd_merge_waits_expired_total", "complaintd_events_off_partition_total",
]
GAUGES = [
    "complaintd_tickets", "complaintd_held_events", "complaintd_pending_deadlines", "complaintd_parcels",
    "complaintd_bulk_keys", "complaintd_event_clock_seconds", "complaintd_publish_queue",
    "complaintd_fetched_messages", "complaintd_batch_in_flight", "complaintd_batch_effects_max",
    "complaintd_fold_waiting_rows",
    "complaintd_consumer_paused", "complaintd_postgres_up", "complaintd_up", "complaintd_kafka_up",
    "complaintd_group_shared", "complaintd_standby", "complaintd_catching_up",
    "complaintd_event_clock_lag_seconds",
]
HISTOGRAMS = ["complaintd_batch_commit_seconds", "complaintd_batch_effects", "complaintd_alert_ack_seconds"]
LABELLED = {  # family: its type and label names
    "complaintd_kafka_brokers_up": ("gauge", {"client"}),
    "complaintd_consumer_lag": ("gauge", {"topic", "partition"}),
    "complaintd_alert_transitions_total": ("counter", {"type", "status"}),
    "complaintd_dead_letters_by_reason_total": ("counter", {"reason"}),
    "complaintd_indicator": ("gauge", {"category", "indicator"}),
}


def labelled(text: str, name: str) -> dict[frozenset, float]:
    """Samples of a labelled family: {frozenset of (label, value): value}."""
    out = {}
    for m in re.finditer(rf"^{name}{{([^}}]*)}} (\S+)$", text, re.M):
        labels = frozenset(tuple(kv.split("=", 1)) for kv in m[1].split(","))
        out[frozenset((k, v.strip('"')) for k, v in labels)] = float(m[2])
    return out


def get(url: str, method: str = "GET") -> tuple[int, str, str]:
    """(status, content type, body); HTTP errors are returned, not raised."""
    req = urllib.request.Request(url, method=method, data=b"x" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def samples(text: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"^([a-z_]+) (-?\d+)$", text, re.M)}


def test_metrics_endpoint(broker, daemon):
    port = free_port()
    listen = f"127.0.0.1:{port}"
    daemon({"daemon": {"metrics_listen": listen}})
    base = f"http://{listen}"

    produce(broker.bootstrap, COMPLAINTS, [
        received("M-1", at(0)),
        complaint("M-1", "contacted", at(hours=1)),
    ], key_field="ticket_id")

    def applied_two():
        status, _, body = get(base + "/metrics")
        return body if status == 200 and re.search(r"^complaintd_events_applied_total 2$", body, re.M) else None

    body = wait_for(applied_two, timeout=30, what="complaintd_events_applied_total 2")
    status, ctype, _ = get(base + "/metrics")
    assert status == 200
    assert ctype.startswith("text/plain; version=0.0.4")

    for name in COUNTERS:
        assert f"# TYPE {name} counter" in body
        assert re.search(rf"^# HELP {name} \S", body, re.M)
    for name in GAUGES:
        assert f"# TYPE {name} gauge" in body
        assert re.search(rf"^# HELP {name} \S", body, re.M)
    for name in HISTOGRAMS:
        assert f"# TYPE {name} histogram" in body
        assert re.search(rf'^{name}_bucket{{le="\+Inf"}} \d+$', body, re.M)
    for name, (kind, labels) in LABELLED.items():
        assert f"# TYPE {name} {kind}" in body
        for key in labelled(body, name):
            assert {k for k, _ in key} == labels, (name, key)
    s = samples(body)
    assert set(s) == set(COUNTERS) | set(GAUGES) | {f"{h}_count" for h in HISTOGRAMS}
    assert s["complaintd_batch_commit_seconds_count"] == s["complaintd_batches_committed_total"]
    assert labelled(body, "complaintd_dead_letters_by_reason_total")[frozenset({("reason", "other")})] == 0
    escalated = labelled(body, "complaintd_alert_transitions_total")
    assert len(escalated) == 11 * 3 and sum(escalated.values()) == s["complaintd_alerts_total"]
    assert s["complaintd_up"] == 1
    assert s["complaintd_tickets"] == 1
    # librdkafka's statistics (every 5 s): both clients connected, and the
    # consumer's lag on the complaints topic drained to 0
    def kafka_stats():
        b = get(base + "/metrics")[2]
        lag = labelled(b, "complaintd_consumer_lag").get(frozenset({("topic", COMPLAINTS), ("partition", "0")}))
        return b if samples(b).get("complaintd_kafka_up") == 1 and lag == 0 else None
    body = wait_for(kafka_stats, timeout=30, what="kafka up and lag 0")
    assert labelled(body, "complaintd_kafka_brokers_up")[frozenset({("client", "producer")})] >= 1
    assert s["complaintd_dead_letters_total"] == 0
    assert s["complaintd_event_clock_seconds"] == int(at(hours=1).timestamp())

    assert get(base + "/other")[0] == 404
    assert get(base + "/")[0] == 200  # the status page (test_status.py)
    assert get(base + "/metrics", method="POST")[0] == 405

    # A second instance on the same address refuses to start and says why.
    second = daemon({"daemon": {"metrics_listen": listen}}, wait_ready=False)
    assert second.wait_exit(30) != 0
    assert listen in second.log
    assert not second.notify.seen(r"^READY=1$")
    # ...and the first one still answers.
    assert get(base + "/metrics")[0] == 200


def test_dashboard_and_rules_name_exported_metrics(broker, daemon):
    """Every metric the Grafana dashboard and the Prometheus rules use is one
    the daemon exports (histograms as _bucket, _sum and _count)."""
    import json
    from pathlib import Path

    import yaml

    listen = f"127.0.0.1:{free_port()}"
    daemon({"daemon": {"metrics_listen": listen}})
    body = get(f"http://{listen}/metrics")[2]
    exported = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", body, re.M):
        exported |= {name} if kind != "histogram" else {f"{name}_bucket", f"{name}_sum", f"{name}_count"}

    deploy = Path(__file__).resolve().parents[2] / "deploy"
    dashboard = json.loads((deploy / "grafana" / "complaintd.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = yaml.safe_load((deploy / "prometheus" / "complaintd-rules.yml").read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    assert len(exprs) > 20
    used = {m for e in exprs for m in re.findall(r"\bcomplaintd_[a-z_]+\b", e)}
    assert used, "no complaintd metric in the dashboard or the rules"
    assert used <= exported, f"not exported: {sorted(used - exported)}"
    # and each panel queries at least one of them
    for p in dashboard["panels"]:
        assert any("complaintd_" in t["expr"] for t in p["targets"]), p["title"]


@pytest.mark.broker(partitions=2)
@pytest.mark.parametrize("strategy", ["range,roundrobin", "cooperative-sticky"])
def test_a_second_member_of_the_group_is_reported(broker, daemon, pg, strategy):
    """complaintd keeps the state of every ticket it loaded, not of its
    partitions only, so a second instance in its consumer group doubles the
    alerts. On the same database the second waits as a standby
    (test_standby.py); on another one (a copy of the configuration pointed at
    the wrong database) nothing stops it. Each instance then sees that the
    group gave it part of a topic's partitions: it says so in its log and
    sets complaintd_group_shared, which goes back to 0 once the other has
    left. An operator's assignment strategy does not change that: the
    daemon reads by its own assignment, and its member is always eager
    (librdkafka 2.0.2 aborts when a cooperative-sticky consumer is closed
    before its first assignment)."""
    listens = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    kafka = {"rdkafka.partition.assignment.strategy": strategy}

    def shared(i: int):
        return samples(get(f"http://{listens[i]}/metrics")[2]).get("complaintd_group_shared")

    first = daemon({"daemon": {"metrics_listen": listens[0]}, "kafka": kafka})
    first.wait_log(r"kafka: assigned 4 partitions", timeout=30)
    time.sleep(2.5)  # the check runs a second after the assignment
    assert shared(0) == 0
    assert "another member shares the group" not in first.log

    other_db = pg.create_database()
    second = daemon({"daemon": {"metrics_listen": listens[1]}, "postgres": {"conninfo": other_db}, "kafka": kafka})
    wait_for(lambda: shared(0) == 1 and shared(1) == 1, timeout=60, what="both instances report the shared group")
    # range gives each member one partition of each topic
    for d in (first, second):
        assert re.search(r"group \S+ assigned 1 of the 2 partitions of \S+ to this instance: another member "
                         r"shares the group", d.log), d.log[-2000:]
        ignored = "rdkafka.partition.assignment.strategy is not used" in d.log
        assert ignored == (strategy != "range,roundrobin"), d.log[-2000:]

    assert second.stop() == 0
    wait_for(lambda: shared(0) == 0, timeout=60, what="the gauge back at 0 once the second instance left")
    pg.drop_database(other_db)


@pytest.mark.broker(partitions=2)
def test_events_off_their_tickets_partition_are_counted(broker, daemon):
    """Contract §1: keys only spread load, so an event of a ticket that comes
    on another partition than the ticket's `received` is applied as usual.
    It is counted and logged, because a desk spread over several instances
    would need every event of a ticket on one partition (docs/events.md)."""
    listen = f"127.0.0.1:{free_port()}"
    d = daemon({"daemon": {"metrics_listen": listen}})
    produce(broker.bootstrap, COMPLAINTS, [received("K-1", at(0)), received("K-2", at(0))], partition=0)
    produce(broker.bootstrap, COMPLAINTS, [complaint("K-1", "contacted", at(minutes=10))], partition=0)
    produce(broker.bootstrap, COMPLAINTS, [complaint("K-2", "contacted", at(minutes=10)),
                                           complaint("K-2", "first_reply", at(minutes=20))], partition=1)

    def applied():
        s = samples(get(f"http://{listen}/metrics")[2])
        return s if s.get("complaintd_events_applied_total") == 5 else None

    s = wait_for(applied, timeout=30, what="five events applied")
    assert s["complaintd_events_off_partition_total"] == 2
    assert s["complaintd_dead_letters_total"] == 0
    d.wait_log(r"complaint event\(s\) came on another partition than their ticket's received", timeout=10)


def group_offsets(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The consumer group's committed offsets (an OffsetFetch: nothing joins)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        return {tp.partition: tp.offset for tp in c.committed([TopicPartition(topic, p) for p in range(partitions)],
                                                              timeout=10)}
    finally:
        c.close()


def stored_offsets(db: str, topic: str) -> dict[int, int]:
    return {p: o for p, o in query(db, "SELECT partition, next_offset FROM consumer_offsets WHERE topic = %s",
                                   (topic,))}


@pytest.mark.broker(partitions=2)
def test_the_groups_offsets_follow_the_stored_ones(broker, daemon, db):
    """The offsets that count are in PostgreSQL; the group's member commits
    them to the consumer group too, for Kafka's own lag tools. A backlog read
    before the group formed (its member had nothing to commit with yet)
    reaches the group once it has formed, and what the last batches before a
    SIGTERM applied reaches it before the daemon leaves."""
    # keyed: both partitions get events (a partition never written to has a
    # stored offset of 0 and none in the group)
    produce(broker.bootstrap, COMPLAINTS, [received(f"G-{i}", at(minutes=i)) for i in range(40)], key_field="ticket_id")
    d = daemon()

    wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events") == 40, what="the backlog applied")
    wait_for(lambda: group_offsets(broker.bootstrap, daemon.group_id, COMPLAINTS, 2) == stored_offsets(db, COMPLAINTS),
             timeout=30, what="the group's offsets at the stored ones")
    produce(broker.bootstrap, COMPLAINTS, [received(f"H-{i}", at(hours=1, minutes=i)) for i in range(200)],
            key_field="ticket_id")
    # stopped as soon as they are applied: the member sends the group its
    # offsets at most every half second, and the last ones on its way out
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events") == 240, what="the second part applied")
    assert d.stop() == 0
    stored = stored_offsets(db, COMPLAINTS)
    assert sum(stored.values()) == 240
    assert group_offsets(broker.bootstrap, daemon.group_id, COMPLAINTS, 2) == stored


@pytest.mark.broker(partitions=2)
def test_the_lag_counts_what_is_not_applied(broker, daemon, db):
    """complaintd_consumer_lag: messages between what the daemon applied and
    the end of each partition, every partition it reads included, from its
    start. A backlog fetched into the daemon's buffer but held back (its
    commit waits for a lock) is lag; once applied it is 0."""
    listen = f"127.0.0.1:{free_port()}"

    def lag() -> dict:
        return {(dict(k)["topic"], int(dict(k)["partition"])): v
                for k, v in labelled(get(f"http://{listen}/metrics")[2], "complaintd_consumer_lag").items()}

    every = {(t, p) for t in (COMPLAINTS, SCANS) for p in range(2)}
    # at most two batches are applied while one waits to commit
    d = daemon({"daemon": {"metrics_listen": listen, "batch_max": "100"}})
    wait_for(lambda: set(lag()) == every and all(v == 0 for v in lag().values()), timeout=30,
             what="a lag of 0 on every partition")
    assert d.stop() == 0
    produce(broker.bootstrap, COMPLAINTS, [received(f"L-{i}", at(minutes=i)) for i in range(3000)])
    # the start reads the stored offsets; its first batch waits to write them
    conn = psycopg2.connect(db)
    try:
        conn.cursor().execute("LOCK TABLE consumer_offsets IN SHARE MODE")
        d.start()
        wait_for(lambda: sum(v for (t, _), v in lag().items() if t == COMPLAINTS) >= 3000 - 2 * 100, timeout=30,
                 what="the held-back backlog counted as lag")
        assert scalar(db, "SELECT count(*) FROM ticket_events") == 0
    finally:
        conn.rollback()
        conn.close()
    wait_for(lambda: scalar(db, "SELECT count(*) FROM ticket_events") == 3000, timeout=60, what="the backlog applied")
    wait_for(lambda: set(lag()) == every and all(v == 0 for v in lag().values()), timeout=30,
             what="the lag back at 0")
