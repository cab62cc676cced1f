-- complaintd schema, migration 003: cheaper batches.
--
-- 1. A ticket's state as a compact binary snapshot (lib/tkt's packed form:
--    strings, times, alert states, pauses and the ticket's event ids)
--    instead of a JSON document, and room on each page for the in-place
--    (HOT) updates a ticket gets as its deadlines fire. Rows written before
--    keep their JSON `state` (and no snapshot); the daemon reads either and
--    writes snapshots. A ticket whose deadlines fired, and nothing else,
--    gets only its snapshot written.
-- 2. The outbox's delivery is one watermark instead of a `sent_at` update
--    of every row: alerts and dead letters share one sequence (`seq`,
--    assigned by the daemon in commit order), and daemon_state
--    'outbox_acked' says that every row up to it is on the broker. A start
--    republishes the rows above it. The views unsent_alerts and
--    unsent_dead_letters list what is not known to be delivered.
-- 3. Rows that are only ever inserted (events, held events, scans, alerts,
--    dead letters) are copied straight into their tables; only when a batch
--    meets a row that is already there (a batch whose commit reply was lost,
--    a scan delivered twice) does the daemon roll it back and send it again
--    through the staging tables, whose move tolerates what exists
--    (complaintd_apply(..., staged => true)).
-- 4. The JSON documents kept for reading (alert payloads, event bodies) are
--    `json`, checked on the way in but not rebuilt into jsonb.

ALTER TABLE tickets ADD COLUMN snapshot bytea;
ALTER TABLE tickets ALTER COLUMN state DROP NOT NULL;
ALTER TABLE tickets SET (fillfactor = 60);

-- One sequence: dead letters move above the alerts.
UPDATE dead_letters SET seq = seq + (SELECT COALESCE(max(seq), 0) FROM alerts);
INSERT INTO daemon_state (key, value)
SELECT 'outbox_acked', to_jsonb(COALESCE(
    LEAST((SELECT min(seq) FROM alerts WHERE sent_at IS NULL),
          (SELECT min(seq) FROM dead_letters WHERE sent_at IS NULL)) - 1,
    GREATEST((SELECT max(seq) FROM alerts), (SELECT max(seq) FROM dead_letters)),
    0))
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
DROP INDEX alerts_unsent;
DROP INDEX dead_letters_unsent;
ALTER TABLE alerts DROP COLUMN sent_at;
ALTER TABLE dead_letters DROP COLUMN sent_at;

ALTER TABLE alerts ALTER COLUMN payload TYPE json USING payload::json;
ALTER TABLE ticket_events ALTER COLUMN body TYPE json USING body::json;

CREATE FUNCTION complaintd_outbox_acked() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT COALESCE((SELECT (value #>> '{}')::bigint FROM daemon_state WHERE key = 'outbox_acked'), 0)
$$;
CREATE VIEW unsent_alerts AS SELECT * FROM alerts WHERE seq > complaintd_outbox_acked();
CREATE VIEW unsent_dead_letters AS SELECT * FROM dead_letters WHERE seq > complaintd_outbox_acked();

DROP FUNCTION complaintd_apply_staged(text, bigint);

CREATE OR REPLACE FUNCTION complaintd_stage() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- a connection of the version before had the JSON state column
    IF to_regclass('pg_temp.s_tickets') IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('pg_temp.s_tickets') AND attname = 'snapshot') THEN
        DROP TABLE pg_temp.s_tickets;
    END IF;
    CREATE TEMP TABLE IF NOT EXISTS s_tickets (
        ticket_id text, status text, round integer, priority text, reasons text[], channel text,
        category text, claim boolean, major boolean, waybill text, site text, region text,
        customer_ref text, received_at timestamptz, round_started_at timestamptz,
        contacted_at timestamptz, first_reply_at timestamptz, resolved_at timestamptz,
        revisit_at timestamptz, contact_deadline timestamptz, first_reply_deadline timestamptz,
        resolve_deadline timestamptz, revisit_deadline timestamptz, paused boolean,
        closed_at timestamptz, last_resolved_at timestamptz, responsible jsonb, snapshot bytea
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS s_snapshots (ticket_id text, snapshot bytea) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS s_events_v3 (
        event_id text, ticket_id text, type text, occurred_at timestamptz, effect text,
        source_topic text, source_partition integer, source_offset bigint, body json
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS s_held (
        event_id text, ticket_id text, occurred_at timestamptz, held_since timestamptz,
        source_topic text, source_partition integer, source_offset bigint, payload text
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS s_released (event_id text) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS s_scans (
        event_id text, waybill text, scan_type text, site text, site_role text, next_site text,
        next_site_role text, occurred_at timestamptz, source_topic text, source_partition integer,
        source_offset bigint
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS s_alerts_v3 (
        seq bigint, alert_id text, status text, type text, ticket_id text,
        condition_at timestamptz, emitted_at timestamptz, payload json
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS s_dead_v3 (
        seq bigint, source_topic text, source_partition integer, source_offset bigint,
        key text, reason text, detail text, payload text
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS s_offsets (
        topic text, partition integer, next_offset bigint
    ) ON COMMIT DELETE ROWS;
END
$$;

-- The rest of a batch, in its transaction: the ticket rows, released held
-- events, offsets, the event clock and the outbox watermark; with p_staged
-- also the insert-only rows, from the staging tables.
CREATE FUNCTION complaintd_apply(p_group text, p_event_clock bigint, p_outbox_acked bigint, p_staged boolean)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tickets AS t (ticket_id, status, round, priority, reasons, channel, category, claim, major,
                              waybill, site, region, customer_ref, received_at, round_started_at, contacted_at,
                              first_reply_at, resolved_at, revisit_at, contact_deadline, first_reply_deadline,
                              resolve_deadline, revisit_deadline, paused, closed_at, last_resolved_at,
                              responsible, snapshot, state, updated_at)
    SELECT ticket_id, status, round, priority, reasons, channel, category, claim, major, waybill, site, region,
           customer_ref, received_at, round_started_at, contacted_at, first_reply_at, resolved_at, revisit_at,
           contact_deadline, first_reply_deadline, resolve_deadline, revisit_deadline, paused, closed_at,
           last_resolved_at, responsible, snapshot, NULL, now()
      FROM pg_temp.s_tickets
    ON CONFLICT (ticket_id) DO UPDATE SET
        status = EXCLUDED.status, round = EXCLUDED.round, priority = EXCLUDED.priority,
        reasons = EXCLUDED.reasons, channel = EXCLUDED.channel, category = EXCLUDED.category,
        claim = EXCLUDED.claim, major = EXCLUDED.major, waybill = EXCLUDED.waybill, site = EXCLUDED.site,
        region = EXCLUDED.region, customer_ref = EXCLUDED.customer_ref, received_at = EXCLUDED.received_at,
        round_started_at = EXCLUDED.round_started_at, contacted_at = EXCLUDED.contacted_at,
        first_reply_at = EXCLUDED.first_reply_at, resolved_at = EXCLUDED.resolved_at,
        revisit_at = EXCLUDED.revisit_at, contact_deadline = EXCLUDED.contact_deadline,
        first_reply_deadline = EXCLUDED.first_reply_deadline, resolve_deadline = EXCLUDED.resolve_deadline,
        revisit_deadline = EXCLUDED.revisit_deadline, paused = EXCLUDED.paused, closed_at = EXCLUDED.closed_at,
        last_resolved_at = EXCLUDED.last_resolved_at, responsible = EXCLUDED.responsible,
        snapshot = EXCLUDED.snapshot, state = NULL, updated_at = now();

    -- Tickets whose deadlines fired: only their alert states changed. The
    -- staging tables have no statistics: without these the planner may scan
    -- all of tickets (and held_events) for a few hundred rows.
    SET LOCAL enable_hashjoin = off;
    SET LOCAL enable_mergejoin = off;
    UPDATE tickets t SET snapshot = s.snapshot, state = NULL, updated_at = now()
      FROM pg_temp.s_snapshots s WHERE t.ticket_id = s.ticket_id;

    DELETE FROM held_events h USING pg_temp.s_released r WHERE h.event_id = r.event_id;

    IF p_staged THEN
        INSERT INTO ticket_events (event_id, ticket_id, type, occurred_at, effect, source_topic, source_partition,
                                   source_offset, body)
        SELECT * FROM pg_temp.s_events_v3 ON CONFLICT DO NOTHING;
        INSERT INTO parcel_scans (event_id, waybill, scan_type, site, site_role, next_site, next_site_role,
                                  occurred_at, source_topic, source_partition, source_offset)
        SELECT * FROM pg_temp.s_scans ON CONFLICT DO NOTHING;
        INSERT INTO held_events (event_id, ticket_id, occurred_at, held_since, source_topic, source_partition,
                                 source_offset, payload)
        SELECT * FROM pg_temp.s_held ON CONFLICT DO NOTHING;
        -- released in the same batch as they were held
        DELETE FROM held_events h USING pg_temp.s_released r WHERE h.event_id = r.event_id;
        INSERT INTO alerts (seq, alert_id, status, type, ticket_id, condition_at, emitted_at, payload)
        SELECT * FROM pg_temp.s_alerts_v3 ON CONFLICT DO NOTHING;
        INSERT INTO dead_letters (seq, source_topic, source_partition, source_offset, key, reason, detail, payload)
        SELECT * FROM pg_temp.s_dead_v3 ON CONFLICT DO NOTHING;
    END IF;

    INSERT INTO consumer_offsets AS o (group_id, topic, partition, next_offset)
    SELECT p_group, topic, partition, next_offset FROM pg_temp.s_offsets
    ON CONFLICT (group_id, topic, partition) DO UPDATE
       SET next_offset = GREATEST(o.next_offset, EXCLUDED.next_offset), updated_at = now();

    INSERT INTO daemon_state (key, value) VALUES ('event_clock', to_jsonb(p_event_clock))
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
    IF p_outbox_acked IS NOT NULL THEN
        UPDATE daemon_state SET value = to_jsonb(GREATEST((value #>> '{}')::bigint, p_outbox_acked))
         WHERE key = 'outbox_acked';
    END IF;
END
$$;
