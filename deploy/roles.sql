-- PostgreSQL roles for complaintd: an owner role for the schema and a
-- run-time role for the daemon (docs/security.md, "Least privilege").
--
--   sudo -u postgres psql -X -v ON_ERROR_STOP=1 -d complaintd < deploy/roles.sql
--   psql ... -v owner=complaintd_owner -v app=complaintd < deploy/roles.sql
--
-- Run it as a superuser (or a role with CREATEROLE that can grant on the
-- database), connected to complaintd's database, before the first
-- `complaintd migrate` and again after every one: it only grants on the
-- tables that exist, and it is safe to run any number of times.
--
--   owner  (default complaintd_owner) owns the schema's tables, views and
--          functions; `complaintd migrate` runs as it. Created NOLOGIN: run
--          migrate as a member of it (a superuser is one) with the option
--          `-c role=complaintd_owner` (PGOPTIONS, or options='...' in its
--          conninfo), or give it LOGIN and a password yourself.
--   app    (default complaintd) the daemon at run time: rows of its tables,
--          its functions, temporary tables; no DDL. Created LOGIN without a
--          password (peer authentication over the unix socket maps the
--          complaintd system user of the systemd unit to it).
--
-- Roles that exist already are used as they are. When the run-time role
-- owns the schema's tables or the database (a deployment from before this
-- file, where one role did everything), the script stops and says what to
-- run first: REASSIGN OWNED BY <app> TO <owner>.

\if :{?owner}
\else
\set owner complaintd_owner
\endif
\if :{?app}
\else
\set app complaintd
\endif

SELECT format('CREATE ROLE %I NOLOGIN', :'owner')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner')
\gexec
SELECT format('CREATE ROLE %I LOGIN', :'app')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app')
\gexec

-- The run-time role must not own anything DDL can touch.
SELECT format('DO $x$ BEGIN RAISE EXCEPTION USING MESSAGE = %L; END $x$',
              format('role %s owns the database or objects of its schema; first run, connected to this database: '
                     'REASSIGN OWNED BY %I TO %I', :'app', :'app', :'owner'))
 WHERE EXISTS (SELECT 1 FROM pg_database WHERE datname = current_database() AND datdba = (SELECT oid FROM pg_roles WHERE rolname = :'app'))
    OR EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = :'app'))
    OR EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = 'public' AND p.proowner = (SELECT oid FROM pg_roles WHERE rolname = :'app'))
\gexec
-- Nor inherit the owner's rights.
SELECT format('REVOKE %I FROM %I', :'owner', :'app')
 WHERE pg_has_role(:'app', :'owner', 'MEMBER')
\gexec

-- The database: only these two connect; the daemon's staging tables are
-- temporary tables (complaintd_stage()).
REVOKE CONNECT, TEMPORARY ON DATABASE :"DBNAME" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"DBNAME" TO :"owner";
GRANT CONNECT, TEMPORARY ON DATABASE :"DBNAME" TO :"app";

-- The schema: the owner creates in it, nobody else does (a database created
-- before PostgreSQL 15 lets PUBLIC create in public).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO :"owner";
GRANT USAGE ON SCHEMA public TO :"app";

-- The tables, each with what the daemon's statements need (daemon/store.c
-- and the functions of schema/*.sql): rows it only ever appends cannot be
-- changed or deleted. Nothing is granted on the views (unsent_alerts,
-- unsent_dead_letters, indicator_rates), which are for people, but for
-- indicators, which the daemon reads at start, nor on the
-- sequences behind alerts.seq and dead_letters.seq: the daemon numbers its
-- rows itself, nor on tables the daemon never touches (dlq_replays, written
-- by `complaintctl dlq replay`). A table a later migration adds is granted
-- here, in the same release, or named here as not the daemon's.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM :"app";
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM :"app";
SELECT format('GRANT %s ON TABLE public.%I TO %I', g.privileges, g.name, :'app')
  FROM (VALUES
        ('schema_migrations', 'SELECT'),              -- the schema check at start
        ('tickets',           'SELECT, INSERT, UPDATE'),
        ('ticket_events',     'SELECT, INSERT'),
        ('held_events',       'SELECT, INSERT, DELETE'), -- deleted when released
        ('parcel_scans',      'SELECT, INSERT'),
        ('alerts',            'SELECT, INSERT'),
        ('dead_letters',      'SELECT, INSERT'),
        ('consumer_offsets',  'SELECT, INSERT, UPDATE'),
        ('daemon_state',      'SELECT, INSERT, UPDATE'),
        ('ticket_snapshots',  'SELECT, INSERT, DELETE'), -- appended, deleted when folded
        ('indicators',        'SELECT'),                 -- a view since migration 006
        ('indicator_counts',  'SELECT, INSERT, UPDATE'),
        ('indicator_deltas',  'SELECT, INSERT, DELETE'), -- appended, deleted when folded
        ('indicator_totals',  'SELECT, INSERT, UPDATE')
       ) AS g(name, privileges)
 WHERE to_regclass(format('public.%I', g.name)) IS NOT NULL
\gexec

-- The functions (complaintd_stage, complaintd_apply, complaintd_outbox_acked)
-- run with the caller's rights; only the daemon calls them.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO :"app";
