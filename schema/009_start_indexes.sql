-- complaintd schema, migration 009: a start reads what it needs of the
-- alerts and tickets tables without reading all of them.
--
-- A start loads the episodes that may still be firing (bulk complaints,
-- stalled parcels, site accountability), the last bulk episode of each
-- issue key, and the sla_breach firings of the last 24 hours for the status
-- page. Each was a sequential scan of `alerts`, which grows without bound:
-- with 2 M rows (723 MB) a start took 1.9 s against 0.1 s with none, and
-- it grows with the table (tests/bench/bench_restart.py history).
--
-- Two partial indexes answer them. The first holds the rare kinds only, so
-- the sla_* rows, nearly all of the table, do not enter it. The second
-- holds the breaches' firings, in condition_at order, which grows at the
-- end as time goes on.

CREATE INDEX alerts_episodes ON alerts (type, status)
    WHERE type IN ('bulk_complaint', 'parcel_stalled', 'site_accountability');
CREATE INDEX alerts_breaches ON alerts (condition_at)
    WHERE type = 'sla_breach' AND status = 'firing';

-- A start also loads the open tickets and those closed within the repeat
-- look-back, and the ids of the others (which an event reads back): a
-- sequential scan of `tickets`, all the tickets ever closed included. The
-- open ones have tickets_open. Of those closed, tickets_recent orders them
-- by the time the look-back counts from, so the recent ones are a range of
-- it; tickets_closed holds the ids beside the two times, so the ids of the
-- others are read from it alone, never from the table. Both hold closed
-- tickets only, and a ticket enters them once, when it closes.

CREATE INDEX tickets_recent ON tickets ((COALESCE(last_resolved_at, closed_at))) WHERE status = 'closed';
CREATE INDEX tickets_closed ON tickets (last_resolved_at, closed_at) INCLUDE (ticket_id) WHERE status = 'closed';
