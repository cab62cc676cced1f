-- complaintd schema, migration 007: the staging tables keep their rows
-- across commits, and each batch empties them itself.
--
-- The staging tables of complaintd_stage() were ON COMMIT DELETE ROWS.
-- PostgreSQL then truncates every such table of the session at each commit
-- that touched any temporary table, which every batch does: ten tables,
-- each with its TOAST table and that table's index rebuilt, 3 to 8 ms a
-- commit whatever the batch held (a batch of 32 events took 9 ms, most of
-- it its COMMIT). They are now ON COMMIT PRESERVE ROWS, and
-- complaintd_unstage(), called by the batch after complaintd_apply() and
-- before its COMMIT, deletes their rows: a few microseconds for an empty
-- table. Deleted rows stay in a table's pages until it is truncated (no
-- autovacuum for temporary tables), so a table that has grown past 1 MB is
-- truncated instead. A batch that fails rolls its staged rows back with
-- it, as before.
--
-- s_snapshots, unused since migration 006, is no longer created.

CREATE OR REPLACE FUNCTION complaintd_stage() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS s_tickets_v4 (
        ticket_id text, status text, round integer, priority text, reasons text[], channel text,
        category text, claim boolean, major boolean, waybill text, site text, region text,
        customer_ref text, received_at timestamptz, round_started_at timestamptz,
        contacted_at timestamptz, first_reply_at timestamptz, resolved_at timestamptz,
        revisit_at timestamptz, contact_deadline timestamptz, first_reply_deadline timestamptz,
        resolve_deadline timestamptz, revisit_deadline timestamptz, paused boolean,
        closed_at timestamptz, last_resolved_at timestamptz, responsible jsonb, valid boolean,
        acct_site text, snapshot bytea
    ) ON COMMIT PRESERVE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS s_events_v3 (
        event_id text, ticket_id text, type text, occurred_at timestamptz, effect text,
        source_topic text, source_partition integer, source_offset bigint, body json
    ) ON COMMIT PRESERVE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS s_held (
        event_id text, ticket_id text, occurred_at timestamptz, held_since timestamptz,
        source_topic text, source_partition integer, source_offset bigint, payload text
    ) ON COMMIT PRESERVE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS s_released (event_id text) ON COMMIT PRESERVE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS s_scans (
        event_id text, waybill text, scan_type text, site text, site_role text, next_site text,
        next_site_role text, occurred_at timestamptz, source_topic text, source_partition integer,
        source_offset bigint
    ) ON COMMIT PRESERVE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS s_alerts_v3 (
        seq bigint, alert_id text, status text, type text, ticket_id text,
        condition_at timestamptz, emitted_at timestamptz, payload json
    ) ON COMMIT PRESERVE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS s_dead_v3 (
        seq bigint, source_topic text, source_partition integer, source_offset bigint,
        key text, reason text, detail text, payload text
    ) ON COMMIT PRESERVE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS s_offsets (
        topic text, partition integer, next_offset bigint
    ) ON COMMIT PRESERVE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS s_indicators (
        day date, category text, site text, received integer, invalid integer, resolved integer, resolved_on_time integer, revisits integer, satisfied integer, repeats integer, reopened integer, breaches_contact integer, breaches_first_reply integer, breaches_resolve integer, breaches_revisit integer
    ) ON COMMIT PRESERVE ROWS;
END
$$;

-- Empties the staging tables at the end of a batch; one that has grown
-- past 1 MB of pages (with its TOAST table) is truncated.
CREATE FUNCTION complaintd_unstage() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_total_relation_size('pg_temp.s_tickets_v4') > 1048576 THEN
        TRUNCATE pg_temp.s_tickets_v4;
    ELSE
        DELETE FROM pg_temp.s_tickets_v4;
    END IF;
    IF pg_total_relation_size('pg_temp.s_events_v3') > 1048576 THEN
        TRUNCATE pg_temp.s_events_v3;
    ELSE
        DELETE FROM pg_temp.s_events_v3;
    END IF;
    IF pg_total_relation_size('pg_temp.s_held') > 1048576 THEN
        TRUNCATE pg_temp.s_held;
    ELSE
        DELETE FROM pg_temp.s_held;
    END IF;
    IF pg_total_relation_size('pg_temp.s_released') > 1048576 THEN
        TRUNCATE pg_temp.s_released;
    ELSE
        DELETE FROM pg_temp.s_released;
    END IF;
    IF pg_total_relation_size('pg_temp.s_scans') > 1048576 THEN
        TRUNCATE pg_temp.s_scans;
    ELSE
        DELETE FROM pg_temp.s_scans;
    END IF;
    IF pg_total_relation_size('pg_temp.s_alerts_v3') > 1048576 THEN
        TRUNCATE pg_temp.s_alerts_v3;
    ELSE
        DELETE FROM pg_temp.s_alerts_v3;
    END IF;
    IF pg_total_relation_size('pg_temp.s_dead_v3') > 1048576 THEN
        TRUNCATE pg_temp.s_dead_v3;
    ELSE
        DELETE FROM pg_temp.s_dead_v3;
    END IF;
    IF pg_total_relation_size('pg_temp.s_offsets') > 1048576 THEN
        TRUNCATE pg_temp.s_offsets;
    ELSE
        DELETE FROM pg_temp.s_offsets;
    END IF;
    IF pg_total_relation_size('pg_temp.s_indicators') > 1048576 THEN
        TRUNCATE pg_temp.s_indicators;
    ELSE
        DELETE FROM pg_temp.s_indicators;
    END IF;
END
$$;
