-- The feed's epoch: an id made when the outbox is created (the service
-- inserts it after migrating) and made anew when its database is restored
-- from a backup. A consumer's cursor belongs to one epoch; a consumer that
-- finds the feed in another epoch stops instead of reading on, because a
-- restored outbox hands out sequence numbers that its cursor already passed.
CREATE TABLE feed_epoch (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    epoch TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- What a consumer knows of the feed it follows: the epoch its cursor belongs
-- to, the id of the last event it applied (to check that the producer still
-- has that event at that position), and why it stopped, if it did.
ALTER TABLE consumer_cursors ADD COLUMN epoch TEXT NOT NULL DEFAULT '';
ALTER TABLE consumer_cursors ADD COLUMN last_event_id TEXT NOT NULL DEFAULT '';
ALTER TABLE consumer_cursors ADD COLUMN halted TEXT NOT NULL DEFAULT '';
