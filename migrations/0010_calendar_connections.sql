-- A tenant's Google Calendar connection (`calendar.google` in the tenant API).
--
-- google_calendar {"client_id", "calendar_id"} is plain jsonb; the OAuth client secret and the
-- refresh token are each a bytea sealed like the provider secrets of 0006 (AES-256-GCM under
-- BOOKERBOT_SECRETS_KEY, associated data = tenant id || "calendar.google.<field>").
--
-- The current access token is kept too, sealed the same way ("calendar.google.access_token"),
-- with its expiry: every instance shares one token, and a restart does not refresh needlessly.
-- Writes of the token and of a disconnection are conditional on google_refresh_token being the
-- blob they were made for (each sealing has a fresh nonce), so they never land on a grant the
-- tenant has replaced meanwhile.
--
-- A refused grant (invalid_grant) sets google_disconnected_at and _reason; only the update that
-- sets them notifies the tenant, so it is told once per disconnection. Any change to the
-- connection clears them and the access token.
ALTER TABLE tenants
    ADD COLUMN google_calendar                jsonb,
    ADD COLUMN google_client_secret           bytea,
    ADD COLUMN google_refresh_token           bytea,
    ADD COLUMN google_access_token            bytea,
    ADD COLUMN google_access_token_expires_at timestamptz,
    ADD COLUMN google_disconnected_at         timestamptz,
    ADD COLUMN google_disconnected_reason     text,
    ADD CONSTRAINT tenants_google_complete
        CHECK ((google_calendar IS NULL) = (google_client_secret IS NULL)
           AND (google_calendar IS NULL) = (google_refresh_token IS NULL)),
    ADD CONSTRAINT tenants_google_access_token
        CHECK ((google_access_token IS NULL) = (google_access_token_expires_at IS NULL)
           AND (google_calendar IS NOT NULL OR google_access_token IS NULL)),
    ADD CONSTRAINT tenants_google_disconnected
        CHECK ((google_disconnected_at IS NULL) = (google_disconnected_reason IS NULL)
           AND (google_calendar IS NOT NULL OR google_disconnected_at IS NULL));
