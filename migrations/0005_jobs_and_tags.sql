-- Background jobs (bulk actions on leads) and tag definitions.
--
-- A job is claimed by one worker at a time through a lease (`lease_owner`, `lease_expires_at`):
-- workers claim with FOR UPDATE SKIP LOCKED, and a job whose lease expired (its instance died) is
-- claimed again and resumed. The set of leads a job acts on is resolved once, when it starts, into
-- `job_leads` (numbered from 0); `processed` counts the leads done, and moves in the same
-- transaction as the events written for them, so a resumed job continues right after the last
-- committed chunk and never counts a lead twice. A finished job's `job_leads` are deleted.
CREATE TABLE jobs
(
    id               uuid PRIMARY KEY,
    tenant_id        uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind             text        NOT NULL,
    action           jsonb       NOT NULL,
    target           jsonb       NOT NULL,
    status           text        NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    -- Leads the job acts on; NULL until the target is resolved.
    total            bigint,
    processed        bigint      NOT NULL DEFAULT 0,
    succeeded        bigint      NOT NULL DEFAULT 0,
    -- Leads the action did not change (already tagged, already in the status, ...).
    skipped          bigint      NOT NULL DEFAULT 0,
    failed           bigint      NOT NULL DEFAULT 0,
    -- Global position of the last event the job wrote.
    last_position    bigint,
    -- Why the job itself failed (per-lead failures are in job_failures).
    error            text,
    actor            text        NOT NULL,
    request_id       text        NOT NULL,
    created_at       timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz,
    lease_owner      uuid,
    lease_expires_at timestamptz,
    heartbeat_at     timestamptz
);

CREATE INDEX jobs_by_tenant ON jobs (tenant_id, created_at DESC);
CREATE INDEX jobs_unfinished ON jobs (created_at) WHERE status IN ('queued', 'running');

CREATE TABLE job_leads
(
    job_id  uuid   NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    ordinal bigint NOT NULL,
    lead_id uuid   NOT NULL,
    PRIMARY KEY (job_id, ordinal)
);

CREATE TABLE job_failures
(
    job_id  uuid   NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    ordinal bigint NOT NULL,
    lead_id uuid   NOT NULL,
    code    text   NOT NULL,
    message text   NOT NULL,
    PRIMARY KEY (job_id, ordinal)
);

-- A tenant's tag definitions: a colour for a tag name. Leads carry tags whether or not they are
-- defined; deleting a definition leaves the leads' tags alone.
CREATE TABLE tag_definitions
(
    tenant_id  uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       text        NOT NULL,
    colour     text        NOT NULL CHECK (colour ~ '^#[0-9a-f]{6}$'),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
