-- complaintd schema, migration 001: tickets, their events, held events,
-- the alert and dead-letter outboxes, consumer offsets and daemon state.
-- Applied by `complaintd -c FILE migrate` inside one transaction.

CREATE TABLE tickets (
    ticket_id            text PRIMARY KEY,
    status               text NOT NULL,          -- received contacted first_reply resolved reopened closed
    round                integer NOT NULL,
    priority             text NOT NULL,          -- normal | urgent
    reasons              text[] NOT NULL,
    channel              text NOT NULL,
    category             text NOT NULL,
    claim                boolean NOT NULL,
    major                boolean NOT NULL,
    waybill              text,
    site                 text,
    region               text,
    customer_ref         text,
    received_at          timestamptz NOT NULL,
    round_started_at     timestamptz NOT NULL,
    contacted_at         timestamptz,
    first_reply_at       timestamptz,
    resolved_at          timestamptz,
    revisit_at           timestamptz,
    contact_deadline     timestamptz,
    first_reply_deadline timestamptz,
    resolve_deadline     timestamptz,
    revisit_deadline     timestamptz,
    paused               boolean NOT NULL,
    closed_at            timestamptz,
    last_resolved_at     timestamptz,
    responsible          jsonb,
    state                jsonb NOT NULL,         -- the daemon's full state of the ticket
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tickets_open ON tickets (ticket_id) WHERE status <> 'closed';
CREATE INDEX tickets_waybill ON tickets (waybill, last_resolved_at) WHERE waybill IS NOT NULL;
CREATE INDEX tickets_customer ON tickets (customer_ref, category, last_resolved_at) WHERE customer_ref IS NOT NULL;

CREATE TABLE ticket_events (
    event_id         text PRIMARY KEY,
    ticket_id        text NOT NULL,
    type             text NOT NULL,
    occurred_at      timestamptz NOT NULL,
    effect           text NOT NULL,              -- applied | history
    source_topic     text NOT NULL,
    source_partition integer NOT NULL,
    source_offset    bigint NOT NULL,
    body             jsonb NOT NULL,             -- the validated fields (no free text)
    processed_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, occurred_at);

-- Events whose ticket has no `received` yet (contract §4).
CREATE TABLE held_events (
    event_id         text PRIMARY KEY,
    ticket_id        text NOT NULL,
    occurred_at      timestamptz NOT NULL,
    held_since       timestamptz NOT NULL,       -- processing time
    source_topic     text NOT NULL,
    source_partition integer NOT NULL,
    source_offset    bigint NOT NULL,
    payload          text NOT NULL               -- the original message (valid UTF-8 JSON)
);
CREATE INDEX held_events_ticket ON held_events (ticket_id);

-- Every alert transition; also the outbox for the alerts topic.
CREATE TABLE alerts (
    seq          bigserial UNIQUE,
    alert_id     text NOT NULL,
    status       text NOT NULL,
    type         text NOT NULL,
    ticket_id    text,
    condition_at timestamptz,
    emitted_at   timestamptz NOT NULL,
    payload      jsonb NOT NULL,
    sent_at      timestamptz,
    PRIMARY KEY (alert_id, status)
);
CREATE INDEX alerts_unsent ON alerts (seq) WHERE sent_at IS NULL;
CREATE INDEX alerts_ticket ON alerts (ticket_id);

-- Every dead letter; also the outbox for the dead-letter topic.
CREATE TABLE dead_letters (
    seq              bigserial UNIQUE,
    source_topic     text NOT NULL,
    source_partition integer NOT NULL,
    source_offset    bigint NOT NULL,
    reason           text NOT NULL,
    detail           text NOT NULL,
    payload          text NOT NULL,              -- the dlq.v1 record as sent
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    PRIMARY KEY (source_topic, source_partition, source_offset)
);
CREATE INDEX dead_letters_unsent ON dead_letters (seq) WHERE sent_at IS NULL;

-- Next offset to consume, written in the same transaction as its effects.
CREATE TABLE consumer_offsets (
    group_id    text NOT NULL,
    topic       text NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, partition)
);

-- Every valid parcel scan (contract §3), whatever order it arrived in.
CREATE TABLE parcel_scans (
    event_id         text PRIMARY KEY,
    waybill          text NOT NULL,
    scan_type        text NOT NULL,
    site             text NOT NULL,
    site_role        text NOT NULL,
    next_site        text,
    next_site_role   text,
    occurred_at      timestamptz NOT NULL,
    source_topic     text NOT NULL,
    source_partition integer NOT NULL,
    source_offset    bigint NOT NULL,
    processed_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX parcel_scans_waybill ON parcel_scans (waybill, occurred_at);

CREATE TABLE daemon_state (
    key   text PRIMARY KEY,
    value jsonb NOT NULL
);

-- One batch of effects in one statement: the daemon sends a JSON document and
-- this function applies it atomically. Replaying the same document is harmless.
CREATE FUNCTION complaintd_apply_batch(b jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tickets AS t
    SELECT r.ticket_id, r.status, r.round, r.priority, r.reasons, r.channel, r.category, r.claim, r.major,
           r.waybill, r.site, r.region, r.customer_ref, r.received_at, r.round_started_at, r.contacted_at,
           r.first_reply_at, r.resolved_at, r.revisit_at, r.contact_deadline, r.first_reply_deadline,
           r.resolve_deadline, r.revisit_deadline, r.paused, r.closed_at, r.last_resolved_at, r.responsible,
           r.state, now()
      FROM jsonb_populate_recordset(NULL::tickets, b->'tickets') r
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
    SELECT r.event_id, r.ticket_id, r.type, r.occurred_at, r.effect, r.source_topic, r.source_partition,
           r.source_offset, r.body
      FROM jsonb_populate_recordset(NULL::ticket_events, b->'events') r
    ON CONFLICT (event_id) DO NOTHING;

    INSERT INTO parcel_scans (event_id, waybill, scan_type, site, site_role, next_site, next_site_role,
                              occurred_at, source_topic, source_partition, source_offset)
    SELECT r.event_id, r.waybill, r.scan_type, r.site, r.site_role, r.next_site, r.next_site_role,
           r.occurred_at, r.source_topic, r.source_partition, r.source_offset
      FROM jsonb_populate_recordset(NULL::parcel_scans, b->'scans') r
    ON CONFLICT (event_id) DO NOTHING;

    INSERT INTO held_events
    SELECT r.event_id, r.ticket_id, r.occurred_at, r.held_since, r.source_topic, r.source_partition,
           r.source_offset, r.payload
      FROM jsonb_populate_recordset(NULL::held_events, b->'held') r
    ON CONFLICT (event_id) DO NOTHING;

    DELETE FROM held_events WHERE event_id IN (SELECT jsonb_array_elements_text(b->'released'));

    INSERT INTO alerts (alert_id, status, type, ticket_id, condition_at, emitted_at, payload)
    SELECT x->>'alert_id', x->>'status', x->>'type', x->>'ticket_id', (x->>'condition_at')::timestamptz,
           (x->>'emitted_at')::timestamptz, x
      FROM jsonb_array_elements(b->'alerts') WITH ORDINALITY AS a(x, n)
     ORDER BY n
    ON CONFLICT (alert_id, status) DO NOTHING;

    INSERT INTO dead_letters (source_topic, source_partition, source_offset, reason, detail, payload)
    SELECT x->>'source_topic', (x->>'partition')::integer, (x->>'offset')::bigint, x->>'reason', x->>'detail',
           x->>'record'
      FROM jsonb_array_elements(b->'dead_letters') WITH ORDINALITY AS a(x, n)
     ORDER BY n
    ON CONFLICT DO NOTHING;

    UPDATE alerts SET sent_at = now()
     WHERE sent_at IS NULL
       AND (alert_id, status) IN (SELECT x->>0, x->>1 FROM jsonb_array_elements(b->'sent_alerts') x);
    UPDATE dead_letters SET sent_at = now()
     WHERE sent_at IS NULL
       AND (source_topic, source_partition, source_offset) IN
           (SELECT x->>0, (x->>1)::integer, (x->>2)::bigint FROM jsonb_array_elements(b->'sent_dead_letters') x);

    INSERT INTO consumer_offsets AS o (group_id, topic, partition, next_offset)
    SELECT b->>'group_id', x->>'topic', (x->>'partition')::integer, (x->>'next_offset')::bigint
      FROM jsonb_array_elements(b->'offsets') x
    ON CONFLICT (group_id, topic, partition) DO UPDATE
       SET next_offset = GREATEST(o.next_offset, EXCLUDED.next_offset), updated_at = now();

    INSERT INTO daemon_state (key, value)
    SELECT e.key, e.value FROM jsonb_each(COALESCE(b->'state', '{}'::jsonb)) e
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
END
$$;
