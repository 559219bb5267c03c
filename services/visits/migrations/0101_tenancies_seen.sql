-- The tenancies the registry's feed has announced and not yet ended, so a
-- plan ends when its enterprise's last tenancy ends and otherwise follows the
-- enterprise to the building of its latest one. Kept from events alone: no
-- call to the registry is needed to apply them.
CREATE TABLE tenancies_seen (
    tenancy_id TEXT PRIMARY KEY,
    uscc TEXT NOT NULL,
    building_id TEXT NOT NULL,
    started_at BIGINT NOT NULL
);
CREATE INDEX tenancies_seen_by_enterprise ON tenancies_seen (uscc);
