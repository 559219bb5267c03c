-- What every Louyu service keeps beside its own tables: the event outbox,
-- the audit trail, idempotency keys and the cursors of the feeds it consumes.

-- One row holding the last sequence number handed out. Taking the next number
-- locks this row until the transaction ends, so numbers are gapless and
-- commit in order (see docs/architecture.md).
CREATE TABLE event_sequence (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    last_sequence BIGINT NOT NULL
);
INSERT INTO event_sequence (id, last_sequence) VALUES (1, 0);

CREATE TABLE outbox (
    sequence BIGINT PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    resource TEXT NOT NULL,
    payload BYTEA NOT NULL,
    traceparent TEXT NOT NULL,
    occurred_at BIGINT NOT NULL
);

CREATE TABLE audit_records (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    method TEXT NOT NULL,
    resource TEXT NOT NULL,
    request_id TEXT NOT NULL
);
CREATE INDEX audit_records_by_resource ON audit_records (resource);

CREATE TABLE idempotency_keys (
    method TEXT NOT NULL,
    request_id TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (method, request_id)
);

CREATE TABLE consumer_cursors (
    feed TEXT PRIMARY KEY,
    last_sequence BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
