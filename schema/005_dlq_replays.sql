-- complaintd schema, migration 005: dead letters put back on their source
-- topic by `complaintctl dlq replay` (docs/complaintctl.md).
--
-- One row per dead letter replayed, keyed like dead_letters by the source
-- coordinates of the original message, so a dead letter is replayed at most
-- once: complaintctl inserts the row in the transaction that checks for it,
-- produces the message, waits for the broker's acknowledgement, records
-- where the copy landed and only then commits. A copy acknowledged by the
-- broker whose transaction then fails (complaintctl killed, the connection
-- lost at COMMIT) is not recorded: at least once, never at most once; the
-- daemon's per-ticket event ids make a second copy of an event a duplicate.
-- The daemon itself never reads this table.
--
-- No foreign key to dead_letters: pruning old dead letters must not
-- forget that they were replayed.

CREATE TABLE dlq_replays (
    source_topic     text NOT NULL,
    source_partition integer NOT NULL,
    source_offset    bigint NOT NULL,
    reason           text NOT NULL,             -- the dead letter's reason
    replayed_at      timestamptz NOT NULL DEFAULT now(),
    replayed_by      text NOT NULL,             -- user@host that ran complaintctl
    target_topic     text NOT NULL,
    target_partition integer,                   -- where the broker put the copy
    target_offset    bigint,
    PRIMARY KEY (source_topic, source_partition, source_offset)
);
