-- A tenant's provider accounts, conversation model and handoff contacts.
--
-- Non-secret settings are plain jsonb, one column per provider:
--   twilio         {"account_sid", "from_number", "whatsapp_from"}   (numbers E.164 or null)
--   whatsapp_cloud {"phone_number_id"}
--   ai             {"base_url", "model"}                              (OpenAI-compatible)
-- Each secret is its own bytea column, sealed by the server with AES-256-GCM under
-- BOOKERBOT_SECRETS_KEY: version byte || 12-byte random nonce || ciphertext || 16-byte tag. The
-- associated data is the tenant's id (16 bytes) followed by the setting's path (for example
-- "channels.twilio.auth_token"), so a value copied to another tenant or column does not open.
-- One column per secret lets a change touch only what it gives (a new sender number needs no
-- key) and shows which secrets are set without opening any.
-- A provider is configured exactly when its jsonb column is set, and then all its secrets are.
ALTER TABLE tenants
    ADD COLUMN twilio                jsonb,
    ADD COLUMN twilio_auth_token     bytea,
    ADD COLUMN whatsapp_cloud        jsonb,
    ADD COLUMN whatsapp_access_token bytea,
    ADD COLUMN whatsapp_app_secret   bytea,
    ADD COLUMN whatsapp_verify_token bytea,
    ADD COLUMN ai                    jsonb,
    ADD COLUMN ai_api_key            bytea,
    -- Handoff notifications and HELP replies: email, E.164 phone, http(s) URL.
    ADD COLUMN admin_email           text,
    ADD COLUMN admin_phone           text,
    ADD COLUMN webhook_url           text,
    ADD CONSTRAINT tenants_twilio_complete
        CHECK ((twilio IS NULL) = (twilio_auth_token IS NULL)),
    ADD CONSTRAINT tenants_whatsapp_cloud_complete
        CHECK ((whatsapp_cloud IS NULL) = (whatsapp_access_token IS NULL)
           AND (whatsapp_cloud IS NULL) = (whatsapp_app_secret IS NULL)
           AND (whatsapp_cloud IS NULL) = (whatsapp_verify_token IS NULL)),
    ADD CONSTRAINT tenants_ai_key_has_model
        CHECK (ai IS NOT NULL OR ai_api_key IS NULL);
