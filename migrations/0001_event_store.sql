-- The event store: postgres-es 0.5's `events` table, plus the global feed.
--
-- transaction_id + global_position give a total order that a reader can follow without ever
-- skipping an event committed late by a concurrent writer: it reads only below the oldest
-- transaction still in flight (pg_snapshot_xmin), in (transaction_id, global_position) order.
CREATE TABLE events
(
    aggregate_type  text                         NOT NULL,
    aggregate_id    text                         NOT NULL,
    sequence        bigint CHECK (sequence >= 0) NOT NULL,
    event_type      text                         NOT NULL,
    event_version   text                         NOT NULL,
    payload         json                         NOT NULL,
    metadata        json                         NOT NULL,
    transaction_id  xid8                         NOT NULL DEFAULT pg_current_xact_id(),
    global_position bigint GENERATED ALWAYS AS IDENTITY,
    recorded_at     timestamptz                  NOT NULL DEFAULT now(),
    tenant_id       uuid GENERATED ALWAYS AS ((metadata ->> 'tenant_id')::uuid) STORED NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

CREATE UNIQUE INDEX events_global_position ON events (global_position);
CREATE INDEX events_feed_order ON events (transaction_id, global_position);
CREATE INDEX events_tenant_stream ON events (tenant_id, global_position);

-- Wake feed readers right after a commit; polling is only the fallback.
CREATE FUNCTION notify_events_appended() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM pg_notify('bookerbot_events', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_appended
    AFTER INSERT
    ON events
    FOR EACH STATEMENT
EXECUTE FUNCTION notify_events_appended();

-- Where each projection target has read the feed up to. Updated in the same transaction as the
-- read-model writes of the batch, so effects are exactly-once.
CREATE TABLE projection_checkpoints
(
    target          text PRIMARY KEY,
    projection      text        NOT NULL,
    transaction_id  xid8        NOT NULL DEFAULT '0',
    global_position bigint      NOT NULL DEFAULT 0,
    events_applied  bigint      NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
