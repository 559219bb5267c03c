-- The notification outbox: what the referral service tells the district's
-- own systems (WeCom for government, an SMS gateway, e-mail) through a
-- signed webhook. A notification is written in the transaction of what it
-- announces, so it exists exactly when that committed, and the delivery job
-- sends it afterwards (docs/referral-notifications.md). Instants are
-- microseconds since the Unix epoch. Both backends run this same SQL.
--
-- `id` is the delivery id (`X-Louyu-Delivery`), the same on every attempt.
-- `body` holds the exact JSON bytes sent and signed, fixed when written.
-- `state`: the proto numbers of NotificationState: 1 pending, 2 delivered,
-- 3 dead (given up after the most attempts; an admin replays it).
-- A replica sends a notification only while it holds its lease: it takes
-- the lease with a conditional UPDATE (`lease_until` passed), so two
-- replicas never send one at once, and one that stopped mid-send leaves the
-- lease to run out and the notification to be sent again, with the same id.
-- `lease_until` is 0 when nobody holds it.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    state BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_holder TEXT NOT NULL,
    lease_until BIGINT NOT NULL,
    last_error TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX notifications_due ON notifications (state, next_attempt_at);
CREATE INDEX notifications_by_subject ON notifications (subject);
