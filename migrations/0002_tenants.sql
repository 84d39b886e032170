-- Tenants are configuration, not event-sourced aggregates: plain tables, audited by updated_at.
CREATE TABLE tenants
(
    id              uuid PRIMARY KEY,
    name            text        NOT NULL,
    brand_name      text        NOT NULL,
    timezone        text        NOT NULL,
    default_country text        NOT NULL,
    business_hours  jsonb       NOT NULL,
    quiet_hours     jsonb       NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

-- API keys are long random secrets: only their SHA-256 is stored, looked up by hash.
CREATE TABLE api_keys
(
    id         uuid PRIMARY KEY,
    tenant_id  uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key_hash   bytea       NOT NULL UNIQUE,
    prefix     text        NOT NULL,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at);

-- One lead per phone per tenant. Written in the same transaction as the LeadCaptured event (or
-- the phone change), so two concurrent captures of one number can never make two leads.
CREATE TABLE lead_phones
(
    tenant_id uuid NOT NULL,
    phone     text NOT NULL,
    lead_id   uuid NOT NULL,
    PRIMARY KEY (tenant_id, phone)
);

CREATE INDEX lead_phones_by_lead ON lead_phones (lead_id);
