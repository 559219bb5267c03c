-- The risk service's tables. Instants are microseconds since the Unix
-- epoch; colours are their proto numbers (1 green … 5 red, 0 never
-- assessed). Both backends run this same SQL.

-- The current signals: one per enterprise and topic (a later observation of
-- relocation intent replaces the earlier one; a tenancy's lease signal goes
-- when the tenancy ends). `id` is the event or request it came from, so
-- the same signal delivered twice is one row.
CREATE TABLE signals (
    uscc TEXT NOT NULL,
    topic TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    observed_at BIGINT NOT NULL,
    value DOUBLE PRECISION,
    expires_at BIGINT,
    due_at BIGINT,
    subject TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (uscc, topic)
);
CREATE UNIQUE INDEX signals_by_id ON signals (uscc, id);

-- Each enterprise's assessment. A row is written before the first
-- assessment (colour 0) so that concurrent re-assessments of one
-- enterprise queue on its lock. `next_change_at` is when time alone will
-- change it: the scheduler re-assesses then, also after a restart.
CREATE TABLE assessments (
    uscc TEXT PRIMARY KEY,
    colour BIGINT NOT NULL,
    score BIGINT NOT NULL,
    rules_version TEXT NOT NULL,
    explanation TEXT NOT NULL,
    building_id TEXT,
    assessed_at BIGINT NOT NULL,
    next_change_at BIGINT
);
CREATE INDEX assessments_by_next_change ON assessments (next_change_at);
CREATE INDEX assessments_by_colour ON assessments (colour);
CREATE INDEX assessments_by_building ON assessments (building_id);

-- Every change of colour, with its cause.
CREATE TABLE assessment_changes (
    id TEXT PRIMARY KEY,
    uscc TEXT NOT NULL,
    previous_colour BIGINT NOT NULL,
    colour BIGINT NOT NULL,
    score BIGINT NOT NULL,
    cause_zh TEXT NOT NULL,
    cause_en TEXT NOT NULL,
    changed_at BIGINT NOT NULL
);
CREATE INDEX assessment_changes_by_enterprise ON assessment_changes (uscc, changed_at);

-- What the registry's feed said about each enterprise that signals need:
-- its registered headcount (a fall is a signal) and its tenancies (the
-- building it is in).
CREATE TABLE enterprises_seen (
    uscc TEXT PRIMARY KEY,
    headcount BIGINT NOT NULL
);

CREATE TABLE tenancies_seen (
    tenancy_id TEXT PRIMARY KEY,
    uscc TEXT NOT NULL,
    building_id TEXT NOT NULL,
    active BIGINT NOT NULL,
    started_at BIGINT NOT NULL
);
CREATE INDEX tenancies_seen_by_enterprise ON tenancies_seen (uscc);

-- Data scope, kept from the registry's feed (louyu_kit::scope::kept).
CREATE TABLE scope_assignments (
    id TEXT PRIMARY KEY,
    staff_id TEXT NOT NULL,
    building_id TEXT NOT NULL,
    uscc TEXT
);
CREATE INDEX scope_assignments_by_staff ON scope_assignments (staff_id);

CREATE TABLE scope_buildings (
    building_id TEXT PRIMARY KEY,
    sub_district_id TEXT NOT NULL
);
CREATE INDEX scope_buildings_by_sub_district ON scope_buildings (sub_district_id);
