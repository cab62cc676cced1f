-- complaintd schema, migration 006: the two writes of a batch that were an
-- update of an existing row for every effect are appended instead, and
-- folded into their rows later (docs/architecture.md, "Appended, then
-- folded").
--
-- 1. A ticket whose deadlines fired changes only its snapshot. The batch
--    appended that snapshot to ticket_snapshots instead of updating the
--    ticket's row (an index lookup and a new row version for every
--    warning and breach). A ticket that has a snapshot there not yet
--    folded appends every later snapshot too, its full writes included, so
--    the latest row of a ticket here, by gen (the number of the batch in
--    the daemon's run), is always its newest snapshot.
-- 2. A batch's indicator counts are appended to indicator_deltas (once per
--    batch, as before) instead of added into their day's row. The table of
--    004 is renamed indicator_counts and keeps the folded counts; the view
--    indicators adds both, so readers see every committed count at once.
--    indicator_totals is still added to in the batch (one row a category).
-- 3. complaintd_fold(upto) moves what the batches up to `upto` appended
--    into the rows: the latest snapshot of each ticket into tickets, the
--    counts into indicator_counts. Batches fold a bounded slice of the
--    oldest rows once enough wait, the daemon folds by itself when idle
--    and at a graceful stop, and folds everything before it loads its
--    state at start (so a run's batch numbers start again from 1). A
--    ticket whose snapshot is not folded never leaves the daemon's memory.

CREATE TABLE ticket_snapshots (
    ticket_id text   NOT NULL,
    gen       bigint NOT NULL,  -- the batch's number in the daemon's run
    snapshot  bytea  NOT NULL
);
CREATE INDEX ticket_snapshots_gen ON ticket_snapshots (gen);

ALTER TABLE indicators RENAME TO indicator_counts;
ALTER INDEX indicators_pkey RENAME TO indicator_counts_pkey;
ALTER INDEX indicators_day RENAME TO indicator_counts_day;
CREATE TABLE indicator_deltas (
    day                    date NOT NULL,
    category               text NOT NULL,
    site                   text NOT NULL,
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
    gen                    bigint NOT NULL
);
CREATE INDEX indicator_deltas_gen ON indicator_deltas (gen);

DROP VIEW indicator_rates;
CREATE VIEW indicators AS
SELECT day, category, site,
       sum(received)::integer AS received, sum(invalid)::integer AS invalid,
       sum(resolved)::integer AS resolved, sum(resolved_on_time)::integer AS resolved_on_time,
       sum(revisits)::integer AS revisits, sum(satisfied)::integer AS satisfied,
       sum(repeats)::integer AS repeats, sum(reopened)::integer AS reopened,
       sum(breaches_contact)::integer AS breaches_contact, sum(breaches_first_reply)::integer AS breaches_first_reply,
       sum(breaches_resolve)::integer AS breaches_resolve, sum(breaches_revisit)::integer AS breaches_revisit
  FROM (SELECT day, category, site, received, invalid, resolved, resolved_on_time, revisits, satisfied, repeats,
               reopened, breaches_contact, breaches_first_reply, breaches_resolve, breaches_revisit
          FROM indicator_counts
        UNION ALL
        SELECT day, category, site, received, invalid, resolved, resolved_on_time, revisits, satisfied, repeats,
               reopened, breaches_contact, breaches_first_reply, breaches_resolve, breaches_revisit
          FROM indicator_deltas) c
 GROUP BY day, category, site;

CREATE VIEW indicator_rates AS
SELECT day, category, site, received, invalid, received - invalid AS valid_received, resolved, resolved_on_time,
       revisits, satisfied, repeats, reopened,
       breaches_contact, breaches_first_reply, breaches_resolve, breaches_revisit,
       resolved_on_time::numeric / NULLIF(resolved, 0) AS on_time_rate,
       satisfied::numeric / NULLIF(revisits, 0) AS satisfaction,
       repeats::numeric / NULLIF(received - invalid, 0) AS repeat_rate
  FROM indicators;

-- Moves what batches up to p_upto appended (NULL: everything) into its
-- rows. Safe to run at any time and more than once: in the batch
-- transaction that asks for it, or on its own. A ticket with a newer row
-- left in ticket_snapshots keeps it there: that one is still its newest.
CREATE FUNCTION complaintd_fold(p_upto bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    WITH moved AS (DELETE FROM ticket_snapshots WHERE gen <= COALESCE(p_upto, 9223372036854775807)
                   RETURNING ticket_id, gen, snapshot),
         latest AS (SELECT DISTINCT ON (ticket_id) ticket_id, snapshot FROM moved ORDER BY ticket_id, gen DESC)
    UPDATE tickets t SET snapshot = l.snapshot, state = NULL, updated_at = now()
      FROM latest l WHERE t.ticket_id = l.ticket_id;

    WITH moved AS (DELETE FROM indicator_deltas WHERE gen <= COALESCE(p_upto, 9223372036854775807) RETURNING *)
    INSERT INTO indicator_counts AS i (day, category, site, received, invalid, resolved, resolved_on_time, revisits, satisfied, repeats, reopened, breaches_contact, breaches_first_reply, breaches_resolve, breaches_revisit)
    SELECT day, category, site, sum(received), sum(invalid), sum(resolved), sum(resolved_on_time), sum(revisits), sum(satisfied), sum(repeats), sum(reopened), sum(breaches_contact), sum(breaches_first_reply), sum(breaches_resolve), sum(breaches_revisit)
      FROM moved GROUP BY day, category, site
    ON CONFLICT (day, category, site) DO UPDATE SET received = i.received + EXCLUDED.received, invalid = i.invalid + EXCLUDED.invalid, resolved = i.resolved + EXCLUDED.resolved, resolved_on_time = i.resolved_on_time + EXCLUDED.resolved_on_time, revisits = i.revisits + EXCLUDED.revisits, satisfied = i.satisfied + EXCLUDED.satisfied, repeats = i.repeats + EXCLUDED.repeats, reopened = i.reopened + EXCLUDED.reopened, breaches_contact = i.breaches_contact + EXCLUDED.breaches_contact, breaches_first_reply = i.breaches_first_reply + EXCLUDED.breaches_first_reply, breaches_resolve = i.breaches_resolve + EXCLUDED.breaches_resolve, breaches_revisit = i.breaches_revisit + EXCLUDED.breaches_revisit;
END
$$;

-- The batch, as in 004, with the snapshots of fired tickets appended by the
-- batch itself (a straight COPY into ticket_snapshots: a batch committed
-- again after a lost reply appends the same snapshots again, which folds
-- to the same result), the indicator counts appended, and the fold of what
-- batches up to p_fold_upto appended (NULL: none).
DROP FUNCTION complaintd_apply(text, bigint, bigint, boolean, text, bigint);
CREATE FUNCTION complaintd_apply(p_group text, p_event_clock bigint, p_outbox_acked bigint, p_staged boolean,
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
