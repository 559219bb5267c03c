-- Retention cases: at most one open case per enterprise, held by the
-- partial unique index however often the risk feed's event arrives.
-- `colour` is the RiskColour number; `state` 1 open, 2 closed.
CREATE TABLE retention_cases (
    id TEXT PRIMARY KEY,
    uscc TEXT NOT NULL,
    building_id TEXT NOT NULL,
    colour BIGINT NOT NULL,
    state BIGINT NOT NULL,
    response TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    close_reason TEXT NOT NULL,
    rules_version TEXT NOT NULL,
    score BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    closed_at BIGINT
);
CREATE UNIQUE INDEX one_open_case_per_enterprise ON retention_cases (uscc) WHERE state = 1;
CREATE INDEX retention_cases_by_building ON retention_cases (building_id);

-- The departments that act on a case; position 0 leads.
CREATE TABLE retention_case_departments (
    case_id TEXT NOT NULL,
    department_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (case_id, department_id)
);
CREATE INDEX retention_case_departments_by_department ON retention_case_departments (department_id);

-- The colour the district acts on for each enterprise, from the risk feed:
-- deadlines may depend on it.
CREATE TABLE enterprise_colours (
    uscc TEXT PRIMARY KEY,
    colour BIGINT NOT NULL
);
