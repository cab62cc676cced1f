#!/usr/bin/python3
"""bench_latency: how soon alerts reach the topic in wall-clock mode.

    COMPLAINTD_BUILD=build /usr/bin/python3 tests/bench/bench_latency.py deadlines [RATE] [SECONDS]
    COMPLAINTD_BUILD=build /usr/bin/python3 tests/bench/bench_latency.py bulk [EPISODES]

deadlines (default 5,000 events/s for 20 s): `received` events are produced
at a steady rate with occurred_at = now; the policy makes contact due 20 s
after receipt (sla.contact.normal = 20s calendar, a warning at 16 s), so
that while new events keep arriving at that rate, every ticket's warning
and breach fall due on the wall clock. A reader follows the alerts topic;
for every breach, and apart from them every warning, the latency is the
time it was read minus its deadline (condition_at), the time being taken
once for each fetch, before its alerts are parsed. The figures are the
50th, 99th percentile and the largest. Reading happens after the broker
has acknowledged the message, so these are upper bounds of "deadline to
acknowledged". The daemon's own figure follows: its
complaintd_alert_ack_seconds histogram (deadline to the broker's
acknowledgement of every firing warning and breach, read from /metrics at
the end), p50 and p99 interpolated within a bucket as Prometheus's
histogram_quantile does; then its commit path: the batches committed,
their mean effects and commit time (complaintd_batch_commit_seconds), and
the seconds spent committing out of the run's, from the first event sent
to the last breach read.

bulk (default 20 episodes): ten complaints of one category and site,
0.1 s apart (occurred_at = now); the latency is from the moment the tenth
was acknowledged by the broker to the moment its bulk_complaint (firing)
is read from the alerts topic.

It prints figures only and exits non-zero only when something does not work.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from confluent_kafka import OFFSET_END, Consumer, Producer, TopicPartition  # noqa: E402

import harness  # noqa: E402  (reads COMPLAINTD_BUILD)
from harness import ALERTS, COMPLAINTS, Broker, Daemon, Postgres, free_port, run_complaintd, write_ini  # noqa: E402

PARTITIONS = 32


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def parse(ts: str) -> float:
    return datetime.fromisoformat(ts).timestamp()


class Reader:
    """Follows the alerts topic from its end; calls on_alert(alert, t_read)."""

    def __init__(self, bootstrap: str, on_alert) -> None:
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": "lat-" + secrets.token_hex(4),
                           "enable.auto.commit": False, "fetch.wait.max.ms": 10})
        self.c.assign([TopicPartition(ALERTS, p, OFFSET_END) for p in range(PARTITIONS)])
        self.on_alert = on_alert
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop:
            msgs = self.c.consume(num_messages=1000, timeout=0.05)
            # one time for the whole fetch, taken before any of it is parsed:
            # parsing 10,000 alerts in Python takes longer than their delivery
            t = time.time()
            for m in msgs:
                if m.error() is None:
                    self.on_alert(json.loads(m.value()), t)
        self.c.close()


def ack_quantiles(metrics_url: str, qs: tuple[float, ...]) -> tuple[list[float], int]:
    """Quantiles of the daemon's complaintd_alert_ack_seconds histogram
    (deadline to the broker's acknowledgement), interpolated within a
    bucket the way Prometheus's histogram_quantile does; and its count."""
    text = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
    buckets = []
    for line in text.splitlines():
        if line.startswith('complaintd_alert_ack_seconds_bucket{le="'):
            le, count = line[len('complaintd_alert_ack_seconds_bucket{le="'):].split('"} ')
            buckets.append((float(le), int(count)))
    total = buckets[-1][1]
    out = []
    for q in qs:
        rank, lo, below = q * total, 0.0, 0
        for le, cum in buckets:
            if cum >= rank:
                out.append(le if le == float("inf") or cum == below else lo + (le - lo) * (rank - below) / (cum - below))
                break
            lo, below = le, cum
    return out, total


def sum_count(metrics_url: str, name: str) -> tuple[float, int]:
    """A histogram's _sum and _count from /metrics."""
    text = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
    total, n = 0.0, 0
    for line in text.splitlines():
        if line.startswith(name + "_sum "):
            total = float(line.split()[1])
        elif line.startswith(name + "_count "):
            n = int(line.split()[1])
    return total, n


def pct(v: list[float], q: float) -> float:
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def start(work: Path, pg: Postgres, broker: Broker, policy: dict, metrics_listen: str) -> Daemon:
    conf = work / "complaintd.conf"
    write_ini(conf, {
        "kafka": {"brokers": broker.bootstrap, "group_id": f"lat-{secrets.token_hex(4)}", **harness.DEFAULT_TOPICS,
                  "rdkafka.fetch.wait.max.ms": "10"},
        "postgres": {"conninfo": pg.conninfo},
        "clock": {"mode": "wall"},
        "daemon": {"log_level": "info", "batch_max": os.environ.get("BATCH_MAX", "2000"),
                   "metrics_listen": metrics_listen},
        "policy": policy,
    })
    res = run_complaintd("-c", str(conf), "migrate", timeout=120)
    if res.returncode != 0:
        raise RuntimeError(f"migrate: {res.stdout}{res.stderr}")
    d = Daemon(conf, work / "complaintd.log", work / "notify.sock")
    d.start(wait_ready=True, timeout=120)
    time.sleep(4)  # the group join
    return d


def deadlines(bootstrap: str, rate: int, seconds: int, metrics_url: str) -> None:
    lat: list[float] = []
    warn: list[float] = []

    def on_alert(a: dict, t: float) -> None:
        if a.get("status") == "firing" and a.get("type") in ("sla_breach", "sla_warning"):
            (lat if a["type"] == "sla_breach" else warn).append(t - parse(a["condition_at"]))

    reader = Reader(bootstrap, on_alert)
    reader.thread.start()
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    n = rate * seconds
    t0 = time.monotonic()
    for i in range(n):
        due = t0 + i / rate
        while time.monotonic() < due:
            time.sleep(max(0.0, min(0.001, due - time.monotonic())))
        ev = {"schema": "complaint.v1", "event_id": f"L{i}", "ticket_id": f"L{i:08d}", "type": "received",
              "occurred_at": now_iso(), "channel": "hotline", "category": "damage"}
        while True:
            try:
                p.produce(COMPLAINTS, json.dumps(ev).encode(), key=ev["ticket_id"].encode())
                break
            except BufferError:
                p.poll(0.001)
        p.poll(0)
    p.flush(30)
    sent_rate = n / (time.monotonic() - t0)
    deadline = time.monotonic() + 60
    while len(lat) < n and time.monotonic() < deadline:
        time.sleep(0.2)
    run_s = time.monotonic() - t0
    reader.stop = True
    reader.thread.join(5)
    print(f"mode=deadlines rate={sent_rate:.0f}/s events={n} breaches_read={len(lat)} "
          f"p50_ms={pct(lat, 0.5) * 1000:.0f} p99_ms={pct(lat, 0.99) * 1000:.0f} max_ms={max(lat) * 1000:.0f}")
    print(f"warnings_read={len(warn)} p50_ms={pct(warn, 0.5) * 1000:.0f} p99_ms={pct(warn, 0.99) * 1000:.0f} "
          f"max_ms={max(warn, default=float('nan')) * 1000:.0f}")
    # the page is rendered about once a second: read it until it settles
    (a50, a99), acked = ack_quantiles(metrics_url, (0.5, 0.99))
    for _ in range(10):
        time.sleep(1.5)
        (a50, a99), again = ack_quantiles(metrics_url, (0.5, 0.99))
        if again == acked:
            break
        acked = again
    print(f"daemon: firing alerts acknowledged={acked} (warnings and breaches) "
          f"ack_p50_ms={a50 * 1000:.0f} ack_p99_ms={a99 * 1000:.0f} (its histogram, interpolated in a bucket)")
    secs, batches = sum_count(metrics_url, "complaintd_batch_commit_seconds")
    effects, _ = sum_count(metrics_url, "complaintd_batch_effects")
    print(f"daemon: batches={batches} effects_per_batch={effects / max(batches, 1):.0f} "
          f"commit_ms_mean={secs / max(batches, 1) * 1000:.1f} committing {secs:.1f} s of the run's {run_s:.1f} s")


def bulk(bootstrap: str, episodes: int) -> None:
    seen: dict[str, float] = {}
    reader = Reader(bootstrap, lambda a, t: seen.setdefault(a["site"], t)
                    if a.get("type") == "bulk_complaint" and a.get("status") == "firing" else None)
    reader.thread.start()
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    lat = []
    for e in range(-1, episodes):  # the first one warms up and is not counted
        site = f"BULK-{e + 1}"
        acked: list[float] = []
        for i in range(10):
            ev = {"schema": "complaint.v1", "event_id": f"B{e + 1}-{i}", "ticket_id": f"B{e + 1:03d}-{i}",
                  "type": "received", "occurred_at": now_iso(), "channel": "hotline", "category": "damage",
                  "site": site}
            p.produce(COMPLAINTS, json.dumps(ev).encode(), key=ev["ticket_id"].encode(),
                      on_delivery=lambda err, msg: acked.append(time.time()))
            p.flush(10)
            time.sleep(0.1)
        tenth = acked[-1]
        deadline = time.monotonic() + 10
        while site not in seen and time.monotonic() < deadline:
            time.sleep(0.001)
        if site not in seen:
            raise RuntimeError(f"no bulk_complaint for {site}")
        if e >= 0:
            lat.append(seen[site] - tenth)
    reader.stop = True
    reader.thread.join(5)
    print(f"mode=bulk episodes={episodes} p50_ms={pct(lat, 0.5) * 1000:.0f} p99_ms={pct(lat, 0.99) * 1000:.0f} "
          f"max_ms={max(lat) * 1000:.0f}")


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "deadlines"
    work = Path(tempfile.mkdtemp(prefix="cd-lat-"))
    pg = Postgres()
    broker = Broker(work / "broker", partitions=PARTITIONS)
    d = None
    listen = f"127.0.0.1:{free_port()}"
    try:
        pg.start()
        broker.start()
        if mode == "deadlines":
            rate = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
            seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 20
            d = start(work, pg, broker, {"sla.contact.normal": "20s calendar"}, listen)
            deadlines(broker.bootstrap, rate, seconds, f"http://{listen}/metrics")
        elif mode == "bulk":
            d = start(work, pg, broker, {}, listen)
            bulk(broker.bootstrap, int(sys.argv[2]) if len(sys.argv) > 2 else 20)
        else:
            print("usage: bench_latency.py deadlines [RATE] [SECONDS] | bulk [EPISODES]", file=sys.stderr)
            return 2
        if not d.running:
            raise RuntimeError("complaintd died")
        return 0
    finally:
        if d is not None:
            d.terminate(60)
            d.close()
        try:
            broker.stop()
        except AssertionError as e:
            print(e, file=sys.stderr)
        pg.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
