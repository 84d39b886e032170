-- Outbox state shared by every instance: the send rate limit and the markers that keep a send
-- whose outcome is unknown from going out twice.

-- A per-tenant, per-channel send rate (GCRA, `infrastructure::messaging::rate_limit`): the
-- theoretical time at which the next send would be exactly on schedule. A send is allowed while
-- it is at most a burst (`tolerance`) ahead of the clock, and moves it one emission interval
-- (1/rate) on. Workers do not claim the sends of a tenant and channel whose next slot is not free
-- yet (`next_free_at - tolerance` still ahead).
CREATE TABLE send_rate_limits
(
    tenant_id    uuid        NOT NULL,
    channel      text        NOT NULL,
    next_free_at timestamptz NOT NULL,
    tolerance    interval    NOT NULL,
    PRIMARY KEY (tenant_id, channel)
);

-- One row per attempt to hand a message to its provider, committed just before the call. `try`
-- names the attempt (`requeues * 1000 + failed_attempts` of the message), so finding the row
-- already there means an earlier attempt with the same name never recorded its outcome: it may
-- have reached the provider, and the message is failed (`outcome_unknown`) rather than sent
-- twice. Rows are never deleted for now: one small row per attempt.
CREATE TABLE send_attempts
(
    message_id uuid        NOT NULL,
    try        int4        NOT NULL,
    started_at timestamptz NOT NULL,
    PRIMARY KEY (message_id, try)
);
