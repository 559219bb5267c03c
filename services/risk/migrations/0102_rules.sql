-- The district's rules, by version (ActivateRules). The one with active = 1
-- is in force; with none, the rules the service ships with are. A version
-- is written once: its document never changes.
CREATE TABLE rules_versions (
    version TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    active BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    activated_at BIGINT
);
CREATE UNIQUE INDEX one_active_rules ON rules_versions (active) WHERE active = 1;
