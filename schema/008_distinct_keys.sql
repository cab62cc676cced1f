-- complaintd schema, migration 008: held events and scans keyed by what
-- makes each of them one.
--
-- 1. held_events was keyed by event_id alone. Duplicates are told per
--    ticket (docs/events.md): the same event_id on two tickets is two
--    events, and both may wait for their ticket's received. Only the row
--    stored first was kept, so after a restart the other was gone (neither
--    applied nor dead-lettered), and releasing either deleted both rows.
--    The key is now (ticket_id, event_id), which also serves the lookups by
--    ticket that held_events_ticket did, and a release deletes its own row
--    only (s_released carries the ticket).
-- 2. parcel_scans was keyed by event_id too, so a scan whose event_id an
--    earlier scan had used (another waybill, or other facts) was applied
--    when it came but left no row, and a restart, which rebuilds the
--    parcels from this table, forgot it. The daemon applies every scan
--    message it reads, once (its offset is committed with its row), so the
--    table now keeps one row per message: the key is its topic, partition
--    and offset. A batch committed again after a lost reply still meets its
--    own rows and goes through the staging tables, as before.
--
-- The binary before this migration cannot run on it (it stages one column
-- into s_released, which now has two): upgrade the package, then migrate.

ALTER TABLE held_events DROP CONSTRAINT held_events_pkey;
ALTER TABLE held_events ADD PRIMARY KEY (ticket_id, event_id);
DROP INDEX held_events_ticket;

ALTER TABLE parcel_scans DROP CONSTRAINT parcel_scans_pkey;
ALTER TABLE parcel_scans ADD PRIMARY KEY (source_topic, source_partition, source_offset);

-- The staging tables of 007; s_released has the ticket too.
-- complaintd_unstage() of 007 empties them as before.
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
    CREATE TEMP TABLE IF NOT EXISTS s_released (ticket_id text, event_id text) ON COMMIT PRESERVE ROWS;
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

-- The batch of 006; a release deletes the held row of its own ticket.
CREATE OR REPLACE FUNCTION complaintd_apply(p_group text, p_event_clock bigint, p_outbox_acked bigint, p_staged boolean,
                                 p_batch_key text, p_batch bigint, p_fold_upto bigint)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    first_time integer;
BEGIN
    INSERT INTO tickets AS t (ticket_id, status, round, priority, reasons, channel, category, claim, major,
                              waybill, site, region, customer_ref, received_at, round_started_at, contacted_at,
                              first_reply_at, resolved_at, revisit_at, contact_deadline, first_reply_deadline,
                              resolve_deadline, revisit_deadline, paused, closed_at, last_resolved_at,
                              responsible, valid, acct_site, snapshot, state, updated_at)
    SELECT ticket_id, status, round, priority, reasons, channel, category, claim, major, waybill, site, region,
           customer_ref, received_at, round_started_at, contacted_at, first_reply_at, resolved_at, revisit_at,
           contact_deadline, first_reply_deadline, resolve_deadline, revisit_deadline, paused, closed_at,
           last_resolved_at, responsible, valid, acct_site, snapshot, NULL, now()
      FROM pg_temp.s_tickets_v4
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
        valid = EXCLUDED.valid, acct_site = EXCLUDED.acct_site, snapshot = EXCLUDED.snapshot, state = NULL, updated_at = now();

    -- The staging tables have no statistics: without these the planner may
    -- scan all of held_events for a few rows.
    SET LOCAL enable_hashjoin = off;
    SET LOCAL enable_mergejoin = off;
    DELETE FROM held_events h USING pg_temp.s_released r
     WHERE h.ticket_id = r.ticket_id AND h.event_id = r.event_id;

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
        DELETE FROM held_events h USING pg_temp.s_released r
         WHERE h.ticket_id = r.ticket_id AND h.event_id = r.event_id;
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
    -- Indicator counts, once per batch.
    INSERT INTO daemon_state AS d (key, value) VALUES (p_batch_key, to_jsonb(p_batch))
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value WHERE (d.value #>> '{}')::bigint < p_batch;
    GET DIAGNOSTICS first_time = ROW_COUNT;
    IF first_time > 0 THEN
        INSERT INTO indicator_deltas SELECT *, p_batch FROM pg_temp.s_indicators;
        INSERT INTO indicator_totals AS t (category, received, invalid, resolved, resolved_on_time, revisits, satisfied, repeats, reopened, breaches_contact, breaches_first_reply, breaches_resolve, breaches_revisit)
        SELECT category, sum(received), sum(invalid), sum(resolved), sum(resolved_on_time), sum(revisits), sum(satisfied), sum(repeats), sum(reopened), sum(breaches_contact), sum(breaches_first_reply), sum(breaches_resolve), sum(breaches_revisit) FROM pg_temp.s_indicators GROUP BY category
        ON CONFLICT (category) DO UPDATE SET received = t.received + EXCLUDED.received, invalid = t.invalid + EXCLUDED.invalid, resolved = t.resolved + EXCLUDED.resolved, resolved_on_time = t.resolved_on_time + EXCLUDED.resolved_on_time, revisits = t.revisits + EXCLUDED.revisits, satisfied = t.satisfied + EXCLUDED.satisfied, repeats = t.repeats + EXCLUDED.repeats, reopened = t.reopened + EXCLUDED.reopened, breaches_contact = t.breaches_contact + EXCLUDED.breaches_contact, breaches_first_reply = t.breaches_first_reply + EXCLUDED.breaches_first_reply, breaches_resolve = t.breaches_resolve + EXCLUDED.breaches_resolve, breaches_revisit = t.breaches_revisit + EXCLUDED.breaches_revisit;
    END IF;

    IF p_outbox_acked IS NOT NULL THEN
        UPDATE daemon_state SET value = to_jsonb(GREATEST((value #>> '{}')::bigint, p_outbox_acked))
         WHERE key = 'outbox_acked';
    END IF;

    -- Folding keeps the nested loops: what it moves is a small part of tickets.
    IF p_fold_upto IS NOT NULL THEN
        PERFORM complaintd_fold(p_fold_upto);
    END IF;
END
$$;
