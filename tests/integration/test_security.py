"""Security: TLS to PostgreSQL, secrets kept out of every output, personal
data kept out of alerts, logs, metrics and tables, and the least-privilege
PostgreSQL roles of deploy/roles.sql (docs/security.md).

The module has its own PostgreSQL (deploy/pg-local.sh with PG_SSL_CERT and
PG_SSL_KEY): ssl = on with a certificate for `localhost` from a CA made here
with the openssl command, and two roles that log in with a password
(scram-sha-256; every other role keeps pg-local.sh's trust)."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import psycopg2
import psycopg2.errors
import pytest
from psycopg2 import sql

from events import at, complaint, has, received, scan
from harness import (ALERTS, COMPLAINTS, DLQ, REPO, SCANS, Postgres, free_port, produce, query, read_records,
                     read_topic, run_complaintd, scalar, wait_for, write_ini)

pytestmark = pytest.mark.broker(partitions=1)

PSQL = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")) / "psql"
ROLES_SQL = REPO / "deploy" / "roles.sql"

# Tables the daemon never reads or writes: roles.sql grants the run-time role
# nothing on them. Every other table of the schema must be granted to it.
NOT_THE_DAEMONS = {"dlq_replays"}  # complaintctl dlq replay's record

# Roles of deploy/roles.sql under names of this module; their passwords are
# distinctive so that a leak is found by a plain text search.
OWNER, APP = "cd_sec_owner", "cd_sec_app"
OWNER_PW = "ownerpw-" + secrets.token_hex(6)
APP_PW = "apppw-" + secrets.token_hex(6)


# --------------------------------------------------------------------------
# Fixtures: certificates, the TLS server, the two roles


def openssl(cwd: Path, *args: str) -> None:
    res = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, f"openssl {' '.join(args)} failed:\n{res.stderr}"


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> dict[str, Path]:
    """A CA, a server certificate it signed for DNS name localhost (only), and
    another CA that signed nothing here."""
    d = tmp_path_factory.mktemp("tls")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for name in ("ca", "other-ca"):
        openssl(d, "req", "-x509", *ec, "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2",
                "-subj", f"/CN=complaintd test {name}")
    openssl(d, "req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (d / "server.ext").write_text("subjectAltName = DNS:localhost\n")
    openssl(d, "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "2", "-extfile", "server.ext")
    return {"ca": d / "ca.crt", "other_ca": d / "other-ca.crt", "cert": d / "server.crt", "key": d / "server.key"}


@pytest.fixture(scope="module")
def pg(tls):
    """Overrides the session server for this module (the `db` fixture uses it)."""
    server = Postgres(env={"PG_SSL_CERT": str(tls["cert"]), "PG_SSL_KEY": str(tls["key"])})
    try:
        server.start()
        hba = server.dir / "data" / "pg_hba.conf"
        lines = "".join(f"host all {OWNER},{APP} {net} scram-sha-256\n" for net in ("127.0.0.1/32", "::1/128"))
        hba.write_text("# test_security.py: roles that need a password\n" + lines + hba.read_text())
        query(server.conninfo, "SELECT pg_reload_conf()")
        for role, pw in ((OWNER, OWNER_PW), (APP, APP_PW)):
            query(server.conninfo, sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(pw)))
        yield server
    finally:
        server.cleanup()


def dbname(conninfo: str) -> str:
    return dict(kv.split("=", 1) for kv in conninfo.split())["dbname"]


def run_roles_sql(conninfo: str) -> None:
    res = subprocess.run([str(PSQL), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"owner={OWNER}", "-v", f"app={APP}",
                          "-d", conninfo, "-f", str(ROLES_SQL)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, f"roles.sql failed:\n{res.stdout}{res.stderr}"


def least_privilege(pg: Postgres, db: str, workdir: Path) -> tuple[str, str]:
    """deploy/roles.sql, `complaintd migrate` as the owner, roles.sql again
    (as docs/security.md says); returns the owner's and the daemon's conninfo."""
    name = dbname(db)
    owner = f"host=127.0.0.1 port={pg.port} dbname={name} user={OWNER} password={OWNER_PW}"
    app = f"host=127.0.0.1 port={pg.port} dbname={name} user={APP} password={APP_PW}"
    run_roles_sql(db)
    conf = workdir / "migrate.conf"
    write_ini(conf, {"postgres": {"conninfo": owner}})
    res = run_complaintd("-c", str(conf), "migrate", timeout=120)
    out = res.stdout + res.stderr
    assert res.returncode == 0, f"migrate as {OWNER} failed:\n{out}"
    assert OWNER_PW not in out
    run_roles_sql(db)
    return owner, app


def get_metrics(listen: str, path: str = "/metrics") -> str:
    """The page at path on the metrics endpoint; "" when there is none (404)."""
    try:
        with urllib.request.urlopen(f"http://{listen}{path}", timeout=5) as r:
            return r.read().decode()
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return ""
        raise


# --------------------------------------------------------------------------
# TLS to PostgreSQL


def tls_conninfo(pg: Postgres, db: str, ca: Path, host: str = "localhost") -> str:
    return (f"host={host} port={pg.port} user=complaintd dbname={dbname(db)} "
            f"sslmode=verify-full sslrootcert={ca}")


def test_tls_verify_full(pg, db, broker, daemon, tls):
    ci = tls_conninfo(pg, db, tls["ca"])
    daemon({"postgres": {"conninfo": ci}})  # migrates over the same connection string first
    produce(broker.bootstrap, COMPLAINTS, [received("TLS-1", at(0), channel="regulator")], key_field="ticket_id")
    read_topic(broker.bootstrap, ALERTS, until=has(("ticket_escalated/TLS-1/1", "firing")), timeout=30)
    assert scalar(db, "SELECT status FROM tickets WHERE ticket_id = 'TLS-1'") == "received"
    # every session of the daemon is encrypted
    rows = query(db, "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                     "WHERE a.application_name = 'complaintd' AND a.datname = current_database()")
    assert rows and all(ssl for (ssl,) in rows), rows


@pytest.mark.parametrize("case", ["wrong_ca", "wrong_name"])
def test_tls_refuses_an_unverified_server(pg, db, broker, daemon, tls, case):
    if case == "wrong_ca":
        ci, why = tls_conninfo(pg, db, tls["other_ca"]), "certificate verify failed"
    else:  # the certificate names localhost only
        ci, why = tls_conninfo(pg, db, tls["ca"], host="127.0.0.1"), \
            'does not match host name "127.0.0.1"'
    path = daemon.write_config({"postgres": {"conninfo": ci}})
    res = run_complaintd("-c", str(path), "migrate", timeout=60)
    assert res.returncode == 1 and why in res.stderr, res.stderr
    d = daemon({"postgres": {"conninfo": ci}}, migrate=False, wait_ready=False)
    assert d.wait_exit(30) == 1
    assert re.search(r"complaintd error: postgres: .*" + re.escape(why), d.log), d.log
    assert scalar(db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0


# --------------------------------------------------------------------------
# Secrets


def test_secrets_stay_out_of_logs_check_config_and_metrics(pg, db, broker, daemon, tmp_path):
    _, app = least_privilege(pg, db, tmp_path)
    tag = secrets.token_hex(4)
    kafka = {
        # accepted by librdkafka with security.protocol plaintext, unused
        "rdkafka.sasl.password": f"saslpw-{tag}",
        "rdkafka.ssl.key.password": f"keypw-{tag}",
        "rdkafka.ssl.key.pem": f"keypem-{tag}",
        "rdkafka.ssl.keystore.password": f"storepw-{tag}",
        "rdkafka.sasl.oauthbearer.config": f"principal=complaintd extension_x=oauth-{tag}",
        # librdkafka logs its configuration at start
        "rdkafka.debug": "conf",
    }
    secret_values = [APP_PW, OWNER_PW, *(v.rsplit("=", 1)[-1] for k, v in kafka.items() if k != "rdkafka.debug")]
    listen = f"127.0.0.1:{free_port()}"
    extra = {"kafka": kafka, "postgres": {"conninfo": app}, "daemon": {"metrics_listen": listen}}

    path = daemon.write_config(extra)
    res = run_complaintd("-c", str(path), "--check-config")
    check = res.stdout + res.stderr
    assert res.returncode == 0, check
    for key in [k for k in kafka if k != "rdkafka.debug"]:
        assert f"kafka.{key} = ***" in check, check
    assert f"user={APP} password=***" in check, check

    d = daemon(extra, migrate=False)
    assert "kafka CONF" in d.log  # librdkafka's dump of its configuration was logged
    produce(broker.bootstrap, COMPLAINTS, [received("SEC-1", at(0), channel="regulator")], key_field="ticket_id")
    read_topic(broker.bootstrap, ALERTS, until=has(("ticket_escalated/SEC-1/1", "firing")), timeout=30)
    def alert_counted() -> str | None:
        m = get_metrics(listen)
        return m if re.search(r"^complaintd_alerts_total [1-9]", m, re.M) else None

    metrics = wait_for(alert_counted, what="the alert in /metrics") + get_metrics(listen, "/")

    # A reload with a changed secret names the key, never a value.
    new_pw = f"newsaslpw-{tag}"
    d.update_config({"kafka": {"rdkafka.sasl.password": new_pw}})
    d.reload()
    d.wait_log(r"reload: kafka\.rdkafka\.sasl\.password cannot change without a restart")
    secret_values.append(new_pw)

    for s in secret_values:
        assert s not in check, f"{s} in --check-config output"
        assert s not in d.log, f"{s} in the daemon log"
        assert s not in metrics, f"{s} in /metrics"


def test_a_broken_key_pem_is_not_echoed(pg, db, broker, daemon):
    pem = "keypem-" + secrets.token_hex(4)
    d = daemon({"kafka": {"rdkafka.security.protocol": "ssl", "rdkafka.ssl.key.pem": pem}}, wait_ready=False)
    assert d.wait_exit(30) == 1
    assert "ssl.key.pem" in d.log and pem not in d.log, d.log


@pytest.mark.parametrize("case", ["wrong_password", "uri_unparsable", "uri_bad_percent", "unquoted_blank"])
def test_connection_errors_hide_the_password(pg, db, tmp_path, case):
    name, port, pw = dbname(db), pg.port, "pgpw-" + secrets.token_hex(6)
    conninfo, why = {
        "wrong_password": (f"host=127.0.0.1 port={port} dbname={name} user={APP} password={pw}",
                           f'password authentication failed for user "{APP}"'),
        "uri_unparsable": (f"postgresql://{APP}:{pw}@[::1/{name}", "IPv6 host address"),
        "uri_bad_percent": (f"postgresql://{APP}:{pw}%zz@127.0.0.1:{port}/{name}", "invalid percent-encoded token"),
        "unquoted_blank": (f"host=127.0.0.1 port={port} dbname={name} user={APP} password=first {pw}",
                           'missing "=" after "***"'),
    }[case]
    conf = tmp_path / "c.conf"
    write_ini(conf, {"postgres": {"conninfo": conninfo}, "daemon": {"log_level": "debug"}})
    outputs = {}
    for what, args in (("--check-config", ["--check-config"]), ("migrate", ["migrate"]), ("daemon", [])):
        res = run_complaintd("-c", str(conf), *args, timeout=60)
        outputs[what] = res.stdout + res.stderr
        assert res.returncode == (0 if args == ["--check-config"] else 1), outputs[what]
    assert why in outputs["migrate"] and why in outputs["daemon"], outputs
    for what, out in outputs.items():
        assert pw not in out, f"the password in the output of {what}:\n{out}"


# --------------------------------------------------------------------------
# Personal data


def found_in(conninfo: str, needle: str, skip: tuple[str, ...] = ()) -> set[str]:
    """table.column of every column of the schema's tables holding needle."""
    cols = query(conninfo, "SELECT c.relname, a.attname, a.atttypid = 'bytea'::regtype FROM pg_class c "
                           "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid "
                           "WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped")
    places = set()
    for table, col, binary in cols:
        if table in skip:
            continue
        cond = ("position(convert_to({n}, 'UTF8') in {c}) > 0" if binary else "strpos({c}::text, {n}) > 0")
        q = sql.SQL("SELECT count(*) FROM {t} WHERE " + cond).format(
            t=sql.Identifier(table), c=sql.Identifier(col), n=sql.Literal(needle))
        if scalar(conninfo, q):
            places.add(f"{table}.{col}")
    return places


def test_personal_data_stays_out_of_alerts_logs_metrics_and_tables(pg, db, broker, daemon):
    tag = secrets.token_hex(4)
    cref, cref2 = f"cref-{tag}-a", f"cref-{tag}-b"
    reason = f"reason-{tag}"
    free_text = f"{reason} 客户称快递员态度恶劣, phone 138-0000-0000"
    listen = f"127.0.0.1:{free_port()}"
    d = daemon({"daemon": {"log_level": "debug", "metrics_listen": listen}})
    held = complaint("PD-3", "paused", at(hours=8), reason=free_text)
    produce(broker.bootstrap, COMPLAINTS, [
        received("PD-1", at(0), category="fee", waybill="SFPD1", site="S1", customer_ref=cref),
        complaint("PD-1", "contacted", at(hours=1)),
        complaint("PD-1", "first_reply", at(hours=2)),
        complaint("PD-1", "resolved", at(hours=3)),
        # the same customer and category again: a repeat complaint
        received("PD-2", at(hours=4), category="fee", site="S1", customer_ref=cref),
        complaint("PD-2", "paused", at(hours=5), reason=free_text),
        complaint("PD-2", "resumed", at(hours=6)),
        complaint("PD-2", "closed", at(hours=7), reason=free_text),
        held,  # before its ticket's received: held, with its payload
        received("PD-3", at(hours=7), category="delay", customer_ref=cref2),
        # a dead letter that carries both
        f'{{"schema":"complaint.v1","customer_ref":"{cref}","reason":"{free_text}",'.encode(),
        # a value the decoder refuses: the detail names the field, not the value
        received("PD-4", at(hours=8), customer_ref=cref + "x" * 200),
        received("PD-9", at(days=3)),  # deadlines of the first day fire
    ], key_field="ticket_id")
    wait_for(lambda: scalar(db, "SELECT count(*) FROM tickets WHERE ticket_id = 'PD-9'") == 1,
             what="PD-9 committed")
    wait_for(lambda: scalar(db, "SELECT count(*) FROM held_events") == 0, what="the held event released")
    n_alerts = scalar(db, "SELECT count(*) FROM alerts")
    alerts = read_records(broker.bootstrap, ALERTS, until=lambda rs: len(rs) >= n_alerts, timeout=30)
    dead = read_records(broker.bootstrap, DLQ, until=lambda rs: len(rs) >= 2, timeout=30)
    # everything the endpoint serves: the metrics, and a status page if any
    metrics = get_metrics(listen) + get_metrics(listen, "/")

    # what happened is what the test means
    ids = {r.data.get("alert_id") for r in alerts}
    assert "repeat_complaint/PD-2" in ids, ids
    assert sorted(r.data["reason"] for r in dead) == ["invalid_field", "malformed_json"]
    assert scalar(db, "SELECT status FROM tickets WHERE ticket_id = 'PD-2'") == "closed"
    assert scalar(db, "SELECT status FROM tickets WHERE ticket_id = 'PD-3'") == "received"
    assert scalar(db, "SELECT paused FROM tickets WHERE ticket_id = 'PD-3'") is True

    # The dead-letter topic carries the original payloads...
    assert all(cref.encode() in r.value for r in dead)
    assert any(reason.encode() in r.value for r in dead)
    # ...and nothing else that goes out does.
    for needle in (cref, cref2, reason, "138-0000-0000"):
        for r in alerts:
            assert needle.encode() not in (r.value or b"") + (r.key or b""), f"{needle} in alert {r}"
        assert needle not in d.log, f"{needle} in the daemon log (log_level debug)"
        assert needle not in metrics, f"{needle} in /metrics"
    # The decoder's refusal names the field.
    assert re.search(r"dead letter .*: invalid_field: customer_ref: must be", d.log), d.log

    # PostgreSQL: customer_ref where the repeat rule needs it and in the
    # record of the event; the free text nowhere but with the original
    # payloads (dead letters; held events while they wait).
    payload_tables = ("dead_letters", "held_events")
    assert found_in(db, cref, skip=payload_tables) == {"tickets.customer_ref", "tickets.snapshot",
                                                      "ticket_events.body"}
    assert found_in(db, cref2, skip=payload_tables) == {"tickets.customer_ref", "tickets.snapshot",
                                                       "ticket_events.body"}
    assert found_in(db, reason, skip=payload_tables) == set()
    assert found_in(db, "138-0000-0000", skip=payload_tables) == set()
    assert found_in(db, reason) == {"dead_letters.payload"}


def test_a_failing_statement_logs_no_row_data(pg, db, broker, daemon):
    """An error's DETAIL ("Failing row contains (...)") quotes the row; the
    daemon logs the error's first line only."""
    cref = f"cref-{secrets.token_hex(4)}"
    d = daemon()
    query(db, "ALTER TABLE tickets ADD CONSTRAINT test_refuse CHECK (ticket_id <> 'ROW-1')")
    produce(broker.bootstrap, COMPLAINTS, [received("ROW-1", at(0), customer_ref=cref, site="S1")],
            key_field="ticket_id")
    d.wait_log(r'postgres: batch commit failed: ERROR:  new row for relation "tickets" violates check constraint '
               r'"test_refuse"')
    query(db, "ALTER TABLE tickets DROP CONSTRAINT test_refuse")
    wait_for(lambda: scalar(db, "SELECT count(*) FROM tickets WHERE ticket_id = 'ROW-1'") == 1,
             what="the batch committed once the constraint is gone")
    assert cref not in d.log
    assert "Failing row" not in d.log and "DETAIL" not in d.log and "CONTEXT" not in d.log
    # one line a record
    assert re.search(r'violates check constraint "test_refuse"; retrying in', d.log), d.log


# --------------------------------------------------------------------------
# Least privilege


def ungranted_tables(db: str) -> set[str]:
    """Tables of the schema the run-time role cannot read, but for the ones
    that are not the daemon's (which it must not be able to read at all)."""
    rows = query(db, "SELECT c.relname, has_table_privilege(%s, c.oid, 'SELECT') FROM pg_class c "
                     "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'",
                 (APP,))
    for name, granted in rows:
        if name in NOT_THE_DAEMONS:
            assert not granted, f"roles.sql grants {name} to the run-time role"
    return {name for name, granted in rows if not granted and name not in NOT_THE_DAEMONS}


def test_migrate_as_a_member_of_the_owner_role(pg, db, tmp_path):
    """docs/security.md: the owner role need not log in; a member of it (here
    the superuser) runs migrate with the option `-c role=<owner>`."""
    run_roles_sql(db)
    conf = tmp_path / "migrate.conf"
    write_ini(conf, {"postgres": {"conninfo": f"{db} options='-c role={OWNER}'"}})
    res = run_complaintd("-c", str(conf), "migrate", timeout=120)
    assert res.returncode == 0, res.stderr
    run_roles_sql(db)
    assert query(db, "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'") == [(OWNER,)]
    assert query(db, "SELECT DISTINCT proowner::regrole::text FROM pg_proc "
                     "WHERE pronamespace = 'public'::regnamespace") == [(OWNER,)]
    assert ungranted_tables(db) == set()


def test_runtime_role_runs_the_daemon_and_cannot_change_the_schema(pg, db, broker, daemon, tmp_path):
    owner, app = least_privilege(pg, db, tmp_path)
    d = daemon({"postgres": {"conninfo": app}}, migrate=False)
    first = complaint("LP-1", "contacted", at(minutes=20))
    sc = scan("WLP1", "pickup", "S1", "origin", at(0))
    produce(broker.bootstrap, COMPLAINTS, [
        first,                                          # held, then released: DELETE on held_events
        received("LP-1", at(0), channel="regulator"),   # ticket_escalated fires
        received("LP-2", at(hours=1), customer_ref="c-lp"),
        b"{not json",                                   # a dead letter
        received("LP-3", at(hours=6)),                  # LP-2's contact deadline passes
    ], key_field="ticket_id")
    produce(broker.bootstrap, SCANS, [sc], key_field="waybill")
    read_topic(broker.bootstrap, ALERTS, until=has(("ticket_escalated/LP-1/1", "firing"),
                                                    ("sla_breach/LP-2/1/contact", "firing")), timeout=30)
    wait_for(lambda: scalar(db, "SELECT count(*) FROM parcel_scans") == 1, what="the scan committed")
    # A row of ticket_events already stored for an event the daemon has not
    # seen (as after a lost commit reply, or an id used again after its
    # ticket left memory): the batch goes again through the staging tables
    # (complaintd_apply(..., staged => true)).
    again = complaint("LP-3", "updated", at(hours=6, minutes=5), category="fee")
    with psycopg2.connect(db) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO ticket_events (event_id, ticket_id, type, occurred_at, effect, source_topic, "
                    "source_partition, source_offset, body) SELECT %s, ticket_id, type, occurred_at, effect, "
                    "source_topic, source_partition, source_offset, body FROM ticket_events WHERE event_id = %s",
                    (again["event_id"], first["event_id"]))
    produce(broker.bootstrap, COMPLAINTS, [again], key_field="ticket_id")
    d.wait_log(r"a row of the batch is already stored; committing it again through the staging tables")
    # A restart loads the state as the run-time role; more work lands.
    d.restart()
    produce(broker.bootstrap, COMPLAINTS, [complaint("LP-2", "contacted", at(hours=7)),
                                           received("LP-4", at(hours=9))], key_field="ticket_id")
    read_topic(broker.bootstrap, ALERTS, until=has(("sla_breach/LP-2/1/contact", "resolved")), timeout=30)
    assert scalar(db, "SELECT count(*) FROM held_events") == 0
    assert scalar(db, "SELECT count(*) FROM dead_letters") == 1
    assert "permission denied" not in d.log and not re.search(r"postgres: .* failed", d.log), d.log

    # Every table of the schema is granted to the run-time role by roles.sql:
    # a migration that adds one without it fails here, not in production.
    assert ungranted_tables(db) == set(), "tables roles.sql does not grant to the run-time role"
    owners = query(db, "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
    assert owners == [(OWNER,)]

    # No DDL and no rewriting of history as the run-time role.
    denied = [
        "CREATE TABLE public.intruder (x int)",
        "CREATE SCHEMA intruder",
        "CREATE FUNCTION public.intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "DROP TABLE tickets",
        "ALTER TABLE tickets ADD COLUMN intruder int",
        "TRUNCATE alerts",
        "UPDATE alerts SET status = 'retracted'",
        "DELETE FROM ticket_events",
        "DELETE FROM tickets",
        "UPDATE schema_migrations SET name = 'x'",
        "SELECT nextval('alerts_seq_seq')",
    ]
    conn = psycopg2.connect(app)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            for stmt in denied:
                with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                    cur.execute(stmt)
            # what the daemon needs: its staging tables are temporary tables
            cur.execute("CREATE TEMP TABLE t_ok (x int)")
    finally:
        conn.close()
    # and `migrate` is not the run-time role's business
    conf = tmp_path / "app-migrate.conf"
    write_ini(conf, {"postgres": {"conninfo": app}})
    res = run_complaintd("-c", str(conf), "migrate")
    assert res.returncode == 1 and "permission denied" in res.stderr, res.stderr
    assert APP_PW not in res.stderr
