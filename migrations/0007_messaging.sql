-- Messaging state that is not a read model.

-- Which worker holds a task of the tasks projection (outbox sends, AI replies) and until when.
-- Kept apart from the projection's own table so that a rebuild of the projection equals the live
-- one: leases are the workers' business, not a fold of events. A lease holds the revision of the
-- task it claimed (the position of the event that last put it): when the task changes (a newer
-- inbound message, a retry time, a requeue) the new revision is claimable at once, while the
-- finished one stays held until the projection removes it.
CREATE TABLE task_leases
(
    task_key         text PRIMARY KEY,
    holder           text        NOT NULL,
    lease_until      timestamptz NOT NULL,
    claimed_revision bigint      NOT NULL
);

-- A provider's message id -> our conversation and message, written in the transaction that
-- records the send, so status callbacks (which name only the provider's id) find their message.
CREATE TABLE provider_messages
(
    provider            text NOT NULL,
    provider_message_id text NOT NULL,
    tenant_id           uuid NOT NULL,
    conversation_id     text NOT NULL,
    message_id          uuid NOT NULL,
    PRIMARY KEY (provider, provider_message_id)
);

-- What the sandbox channel "sent": the lead's phone screen in the demo. Keyed by our message id,
-- which is the idempotency key: sending the same message twice records it once.
CREATE TABLE sandbox_messages
(
    message_id uuid PRIMARY KEY,
    tenant_id  uuid        NOT NULL,
    channel    text        NOT NULL,
    to_phone   text        NOT NULL,
    content    jsonb       NOT NULL,
    sent_at    timestamptz NOT NULL
);

CREATE INDEX sandbox_messages_by_tenant ON sandbox_messages (tenant_id, to_phone, sent_at);
