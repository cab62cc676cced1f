-- complaintd schema, migration 004: the second wave of rules (contract §12).
--
-- 1. tickets.valid (§12.6) and tickets.acct_site, the site a valid complaint
--    counts against for site accountability (§12.8: the responsible site
--    where one is attributed, else the ticket's site). A start re-counts the
--    complaints of the accountability window from these columns. Rows of
--    before are valid; their site is taken from the same rule.
-- 2. Indicators (§12.9): counts per local day, category and site, added in
--    the batch transaction (table indicators), and their running totals by
--    category (indicator_totals, read at start for /metrics). The view
--    indicator_rates gives the three rates of 003. A batch's counts are
--    added once: complaintd_apply takes the batch's key (one per daemon
--    run) and number, and a batch sent again after a lost commit reply
--    finds its number already in daemon_state. Counts start with this
--    migration; tickets of before are not counted.
-- 3. The staging table of ticket rows gains the two columns (s_tickets_v4),
--    one more holds a batch's indicator counts, and complaintd_apply writes
--    them.

ALTER TABLE tickets ADD COLUMN valid boolean NOT NULL DEFAULT true;
ALTER TABLE tickets ADD COLUMN acct_site text;
UPDATE tickets SET acct_site = COALESCE(NULLIF(responsible->>'site', ''), site)
 WHERE COALESCE(NULLIF(responsible->>'site', ''), site) IS NOT NULL;
CREATE INDEX tickets_acct ON tickets (received_at) WHERE acct_site IS NOT NULL;

CREATE TABLE indicators (
    day                    date NOT NULL,          -- local date (the calendar's utc_offset)
    category               text NOT NULL,
    site                   text NOT NULL,          -- '' for tickets without a site
    received               integer NOT NULL DEFAULT 0,
    invalid                integer NOT NULL DEFAULT 0,
    resolved               integer NOT NULL DEFAULT 0,
    resolved_on_time       integer NOT NULL DEFAULT 0,
    revisits               integer NOT NULL DEFAULT 0,
    satisfied              integer NOT NULL DEFAULT 0,
    repeats                integer NOT NULL DEFAULT 0,
    reopened               integer NOT NULL DEFAULT 0,
    breaches_contact       integer NOT NULL DEFAULT 0,
    breaches_first_reply   integer NOT NULL DEFAULT 0,
    breaches_resolve       integer NOT NULL DEFAULT 0,
    breaches_revisit       integer NOT NULL DEFAULT 0,
    PRIMARY KEY (day, category, site)
);
-- For a range of days across every category and site.
CREATE INDEX indicators_day ON indicators (day);

CREATE TABLE indicator_totals (
    category               text PRIMARY KEY,
    received               bigint NOT NULL DEFAULT 0,
    invalid                bigint NOT NULL DEFAULT 0,
    resolved               bigint NOT NULL DEFAULT 0,
    resolved_on_time       bigint NOT NULL DEFAULT 0,
    revisits               bigint NOT NULL DEFAULT 0,
    satisfied              bigint NOT NULL DEFAULT 0,
    repeats                bigint NOT NULL DEFAULT 0,
    reopened               bigint NOT NULL DEFAULT 0,
    breaches_contact       bigint NOT NULL DEFAULT 0,
    breaches_first_reply   bigint NOT NULL DEFAULT 0,
    breaches_resolve       bigint NOT NULL DEFAULT 0,
    breaches_revisit       bigint NOT NULL DEFAULT 0
);

CREATE VIEW indicator_rates AS
SELECT day, category, site, received, invalid, received - invalid AS valid_received, resolved, resolved_on_time,
       revisits, satisfied, repeats, reopened,
       breaches_contact, breaches_first_reply, breaches_resolve, breaches_revisit,
       resolved_on_time::numeric / NULLIF(resolved, 0) AS on_time_rate,
       satisfied::numeric / NULLIF(revisits, 0) AS satisfaction,
       repeats::numeric / NULLIF(received - invalid, 0) AS repeat_rate
  FROM indicators;

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
    CREATE TEMP TABLE IF NOT EXISTS s_indicators (
        day date, category text, site text, received integer, invalid integer, resolved integer, resolved_on_time integer, revisits integer, satisfied integer, repeats integer, reopened integer, breaches_contact integer, breaches_first_reply integer, breaches_resolve integer, breaches_revisit integer
    ) ON COMMIT DELETE ROWS;
END
$$;

-- The rest of a batch, as in 003, with the two new columns of tickets.
DROP FUNCTION complaintd_apply(text, bigint, bigint, boolean);
CREATE FUNCTION complaintd_apply(p_group text, p_event_clock bigint, p_outbox_acked bigint, p_staged boolean,
                                 p_batch_key text, p_batch bigint)
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
    -- Indicator counts, once per batch.
    INSERT INTO daemon_state AS d (key, value) VALUES (p_batch_key, to_jsonb(p_batch))
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value WHERE (d.value #>> '{}')::bigint < p_batch;
    GET DIAGNOSTICS first_time = ROW_COUNT;
    IF first_time > 0 THEN
        INSERT INTO indicators AS i (day, category, site, received, invalid, resolved, resolved_on_time, revisits, satisfied, repeats, reopened, breaches_contact, breaches_first_reply, breaches_resolve, breaches_revisit)
        SELECT day, category, site, received, invalid, resolved, resolved_on_time, revisits, satisfied, repeats, reopened, breaches_contact, breaches_first_reply, breaches_resolve, breaches_revisit FROM pg_temp.s_indicators
        ON CONFLICT (day, category, site) DO UPDATE SET received = i.received + EXCLUDED.received, invalid = i.invalid + EXCLUDED.invalid, resolved = i.resolved + EXCLUDED.resolved, resolved_on_time = i.resolved_on_time + EXCLUDED.resolved_on_time, revisits = i.revisits + EXCLUDED.revisits, satisfied = i.satisfied + EXCLUDED.satisfied, repeats = i.repeats + EXCLUDED.repeats, reopened = i.reopened + EXCLUDED.reopened, breaches_contact = i.breaches_contact + EXCLUDED.breaches_contact, breaches_first_reply = i.breaches_first_reply + EXCLUDED.breaches_first_reply, breaches_resolve = i.breaches_resolve + EXCLUDED.breaches_resolve, breaches_revisit = i.breaches_revisit + EXCLUDED.breaches_revisit;
        INSERT INTO indicator_totals AS t (category, received, invalid, resolved, resolved_on_time, revisits, satisfied, repeats, reopened, breaches_contact, breaches_first_reply, breaches_resolve, breaches_revisit)
        SELECT category, sum(received), sum(invalid), sum(resolved), sum(resolved_on_time), sum(revisits), sum(satisfied), sum(repeats), sum(reopened), sum(breaches_contact), sum(breaches_first_reply), sum(breaches_resolve), sum(breaches_revisit) FROM pg_temp.s_indicators GROUP BY category
        ON CONFLICT (category) DO UPDATE SET received = t.received + EXCLUDED.received, invalid = t.invalid + EXCLUDED.invalid, resolved = t.resolved + EXCLUDED.resolved, resolved_on_time = t.resolved_on_time + EXCLUDED.resolved_on_time, revisits = t.revisits + EXCLUDED.revisits, satisfied = t.satisfied + EXCLUDED.satisfied, repeats = t.repeats + EXCLUDED.repeats, reopened = t.reopened + EXCLUDED.reopened, breaches_contact = t.breaches_contact + EXCLUDED.breaches_contact, breaches_first_reply = t.breaches_first_reply + EXCLUDED.breaches_first_reply, breaches_resolve = t.breaches_resolve + EXCLUDED.breaches_resolve, breaches_revisit = t.breaches_revisit + EXCLUDED.breaches_revisit;
    END IF;

    IF p_outbox_acked IS NOT NULL THEN
        UPDATE daemon_state SET value = to_jsonb(GREATEST((value #>> '{}')::bigint, p_outbox_acked))
         WHERE key = 'outbox_acked';
    END IF;
END
$$;
