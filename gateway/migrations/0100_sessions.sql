-- The gateway's login: the sessions of people logged in through the
-- district's OpenID Connect provider, and the logins under way. Only
-- SHA-256 hashes of the session ids and login states are kept: a copy of
-- the table lets no one in. Instants are microseconds since the Unix
-- epoch; an absent sub-district or department is ''. Both backends run
-- this same SQL.

CREATE TABLE gateway_sessions (
    id_hash TEXT PRIMARY KEY,
    staff_id TEXT NOT NULL,
    roles TEXT NOT NULL,
    sub_district TEXT NOT NULL,
    department TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX gateway_sessions_by_expiry ON gateway_sessions (expires_at);

-- A login between the redirect to the provider and its callback: the
-- browser that started it (the hash of its login cookie), the PKCE
-- verifier and the nonce. Taken once, by the callback.
CREATE TABLE gateway_logins (
    state_hash TEXT PRIMARY KEY,
    browser_hash TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    nonce TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
