-- Long-running operations (google.longrunning.Operations, AIP-151) a
-- service started, kept with the service's data so that they survive a
-- restart and are resumed by it. Ids sort in the order operations were
-- started. `request` is what the operation was asked to do, which a
-- resumption reads; `metadata` its progress; `response` or `error_*`
-- how it ended. A replica runs an operation under a lease it renews as it
-- saves progress; another replica takes it over only once the lease ran
-- out (the first stopped), so no operation runs twice at once.
CREATE TABLE operations (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    done BIGINT NOT NULL,
    request BLOB NOT NULL,
    metadata_type TEXT NOT NULL,
    metadata BLOB NOT NULL,
    response_type TEXT,
    response BLOB,
    error_code BIGINT,
    error_message TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    lease_holder TEXT,
    lease_until BIGINT
);
CREATE INDEX operations_unfinished ON operations (kind, done);
