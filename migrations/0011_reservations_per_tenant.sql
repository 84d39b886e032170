-- No double booking across a change of calendar: a tenant's appointments keep their time
-- whichever calendar holds them. Reserving per (tenant, calendar) let a tenant that connected
-- Google Calendar (or disconnected it) book over its own earlier appointments, held under the
-- other calendar. A tenant has one calendar at a time, so the business's time is the tenant's:
-- the exclusion is now on (tenant, time). `calendar` stays as the calendar each appointment is in.
DO $$
DECLARE
    old_constraint text;
BEGIN
    SELECT conname INTO old_constraint
    FROM pg_constraint
    WHERE conrelid = 'appointment_reservations'::regclass AND contype = 'x';
    IF old_constraint IS NOT NULL THEN
        EXECUTE format('ALTER TABLE appointment_reservations DROP CONSTRAINT %I', old_constraint);
    END IF;
END $$;

ALTER TABLE appointment_reservations
    ADD CONSTRAINT appointment_reservations_no_overlap
        EXCLUDE USING gist (tenant_id WITH =, during WITH &&);
