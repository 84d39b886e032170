-- CSV imports of leads. An import is identified per tenant by the client's idempotency key or by
-- a digest of its content and options; its per-row outcomes are written in the same transaction
-- as each batch's events, so a crashed import resumes after its last committed batch and a
-- finished one is answered from here without writing anything.
CREATE TABLE lead_imports
(
    tenant_id   uuid        NOT NULL,
    import_id   text        NOT NULL,
    status      text        NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    -- SHA-256 of the file and of the normalised options: the same id must mean the same import.
    fingerprint text        NOT NULL,
    options     jsonb       NOT NULL,
    -- Rows processed (every row up to last_row has an outcome below).
    rows_total  integer     NOT NULL DEFAULT 0,
    last_row    integer     NOT NULL DEFAULT 1,
    created     integer     NOT NULL DEFAULT 0,
    merged      integer     NOT NULL DEFAULT 0,
    rejected    integer     NOT NULL DEFAULT 0,
    -- Global position of the last event written, for min_position.
    position    bigint,
    created_at  timestamptz NOT NULL,
    finished_at timestamptz,
    PRIMARY KEY (tenant_id, import_id)
);

CREATE TABLE lead_import_rows
(
    tenant_id   uuid    NOT NULL,
    import_id   text    NOT NULL,
    -- Spreadsheet row number: the header is row 1.
    row_num     integer NOT NULL,
    outcome     text    NOT NULL CHECK (outcome IN ('created', 'merged', 'rejected')),
    lead_id     uuid,
    column_name text,
    reason      text,
    -- No foreign key to lead_imports: a batch writes ~1000 rows, and checking each against the
    -- import it is written for (in the same transaction) would only slow the import down.
    PRIMARY KEY (tenant_id, import_id, row_num)
);

-- Rejected and merged rows by outcome (the report lists every rejected row); created rows,
-- the bulk, are found through the primary key.
CREATE INDEX lead_import_rows_by_outcome ON lead_import_rows (tenant_id, import_id, outcome, row_num)
    WHERE outcome <> 'created';
