-- complaintd schema, migration 002: batches arrive through COPY.
--
-- Each daemon connection has its own temporary staging tables (created by
-- complaintd_stage(), emptied at every commit). A batch is one transaction:
-- COPY of its rows into the staging tables, then complaintd_apply_staged(),
-- which moves them into the real tables. Replaying a batch whose commit
-- outcome was lost is harmless: every insert tolerates what is already there.

DROP FUNCTION complaintd_apply_batch(jsonb);

-- Dead letters keep the original message's key (contract §1), also when
-- they are republished after a restart.
ALTER TABLE dead_letters ADD COLUMN key text;

CREATE FUNCTION complaintd_stage() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS s_tickets (
        ticket_id text, status text, round integer, priority text, reasons text[], channel text,
        category text, claim boolean, major boolean, waybill text, site text, region text,
        customer_ref text, received_at timestamptz, round_started_at timestamptz,
        contacted_at timestamptz, first_reply_at timestamptz, resolved_at timestamptz,
        revisit_at timestamptz, contact_deadline timestamptz, first_reply_deadline timestamptz,
        resolve_deadline timestamptz, revisit_deadline timestamptz, paused boolean,
        closed_at timestamptz, last_resolved_at timestamptz, responsible jsonb, state jsonb
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS s_events (
        event_id text, ticket_id text, type text, occurred_at timestamptz, effect text,
        source_topic text, source_partition integer, source_offset bigint, body jsonb
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
    CREATE TEMP TABLE IF NOT EXISTS s_alerts (
        ord integer, alert_id text, status text, type text, ticket_id text,
        condition_at timestamptz, emitted_at timestamptz, payload jsonb
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS s_dead (
        ord integer, source_topic text, source_partition integer, source_offset bigint,
        key text, reason text, detail text, payload text
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS s_sent_alerts (alert_id text, status text) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS s_sent_dead (
        source_topic text, source_partition integer, source_offset bigint
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS s_offsets (
        topic text, partition integer, next_offset bigint
    ) ON COMMIT DELETE ROWS;
END
$$;

CREATE FUNCTION complaintd_apply_staged(p_group text, p_event_clock bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tickets AS t (ticket_id, status, round, priority, reasons, channel, category, claim, major,
                              waybill, site, region, customer_ref, received_at, round_started_at, contacted_at,
                              first_reply_at, resolved_at, revisit_at, contact_deadline, first_reply_deadline,
                              resolve_deadline, revisit_deadline, paused, closed_at, last_resolved_at,
                              responsible, state, updated_at)
    SELECT ticket_id, status, round, priority, reasons, channel, category, claim, major, waybill, site, region,
           customer_ref, received_at, round_started_at, contacted_at, first_reply_at, resolved_at, revisit_at,
           contact_deadline, first_reply_deadline, resolve_deadline, revisit_deadline, paused, closed_at,
           last_resolved_at, responsible, state, now()
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
        state = EXCLUDED.state, updated_at = now();

    INSERT INTO ticket_events (event_id, ticket_id, type, occurred_at, effect, source_topic, source_partition,
                               source_offset, body)
    SELECT event_id, ticket_id, type, occurred_at, effect, source_topic, source_partition, source_offset, body
      FROM pg_temp.s_events
    ON CONFLICT (event_id) DO NOTHING;

    INSERT INTO parcel_scans (event_id, waybill, scan_type, site, site_role, next_site, next_site_role,
                              occurred_at, source_topic, source_partition, source_offset)
    SELECT event_id, waybill, scan_type, site, site_role, next_site, next_site_role, occurred_at,
           source_topic, source_partition, source_offset
      FROM pg_temp.s_scans
    ON CONFLICT (event_id) DO NOTHING;

    INSERT INTO held_events (event_id, ticket_id, occurred_at, held_since, source_topic, source_partition,
                             source_offset, payload)
    SELECT event_id, ticket_id, occurred_at, held_since, source_topic, source_partition, source_offset, payload
      FROM pg_temp.s_held
    ON CONFLICT (event_id) DO NOTHING;

    DELETE FROM held_events h USING pg_temp.s_released r WHERE h.event_id = r.event_id;

    INSERT INTO alerts (alert_id, status, type, ticket_id, condition_at, emitted_at, payload)
    SELECT alert_id, status, type, ticket_id, condition_at, emitted_at, payload
      FROM pg_temp.s_alerts ORDER BY ord
    ON CONFLICT (alert_id, status) DO NOTHING;

    INSERT INTO dead_letters (source_topic, source_partition, source_offset, key, reason, detail, payload)
    SELECT source_topic, source_partition, source_offset, key, reason, detail, payload
      FROM pg_temp.s_dead ORDER BY ord
    ON CONFLICT DO NOTHING;

    UPDATE alerts a SET sent_at = now()
      FROM pg_temp.s_sent_alerts s
     WHERE a.alert_id = s.alert_id AND a.status = s.status AND a.sent_at IS NULL;
    UPDATE dead_letters d SET sent_at = now()
      FROM pg_temp.s_sent_dead s
     WHERE d.source_topic = s.source_topic AND d.source_partition = s.source_partition
       AND d.source_offset = s.source_offset AND d.sent_at IS NULL;

    INSERT INTO consumer_offsets AS o (group_id, topic, partition, next_offset)
    SELECT p_group, topic, partition, next_offset FROM pg_temp.s_offsets
    ON CONFLICT (group_id, topic, partition) DO UPDATE
       SET next_offset = GREATEST(o.next_offset, EXCLUDED.next_offset), updated_at = now();

    INSERT INTO daemon_state (key, value) VALUES ('event_clock', to_jsonb(p_event_clock))
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
END
$$;
