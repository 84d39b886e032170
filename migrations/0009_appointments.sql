-- No double booking: every live appointment holds its time in its calendar here, written in the
-- same transaction as the AppointmentBooked event and deleted with AppointmentCancelled. The
-- exclusion constraint refuses a second row of the same tenant and calendar whose time overlaps
-- (SQLSTATE 23P01), so two concurrent bookings of one slot, on any number of instances, cannot
-- both commit: the second waits for the first transaction and then fails, or succeeds if the
-- first rolled back. Ranges are half-open `[start, end)`, so back-to-back appointments fit.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE appointment_reservations
(
    appointment_id uuid PRIMARY KEY,
    tenant_id      uuid      NOT NULL,
    calendar       text      NOT NULL,
    lead_id        uuid      NOT NULL,
    during         tstzrange NOT NULL,
    EXCLUDE USING gist (tenant_id WITH =, calendar WITH =, during WITH &&)
);

-- The exclusion constraint's GiST index already answers "what overlaps [from, to) in this
-- calendar" (availability); this one answers "does the lead hold another live appointment"
-- (cancelling decides whether the lead goes back to `qualified`).
CREATE INDEX appointment_reservations_by_lead ON appointment_reservations (tenant_id, lead_id);
