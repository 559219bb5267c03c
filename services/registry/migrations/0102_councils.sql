-- Building councils, their members and terms, the building chief chosen by
-- "one nomination, three public notices", council meetings, and the
-- buildings' projects. Dates are `YYYY-MM-DD` text; instants microseconds.
-- The buildings table keeps a copy of its council (`council_members`) and
-- chief (`building_chief`), written in the same transaction as a change
-- here, so a building reads in one query.

CREATE TABLE council_members (
    id TEXT PRIMARY KEY,
    building_id TEXT NOT NULL,
    contact TEXT NOT NULL,
    title TEXT NOT NULL,
    council_role BIGINT NOT NULL,
    organisation_kind BIGINT NOT NULL,
    organisation_enterprise TEXT NOT NULL,
    organisation_name TEXT NOT NULL,
    term_start TEXT NOT NULL,
    term_end TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX council_members_by_building ON council_members (building_id);

-- A nomination and, once appointed, the chief's term. At most one chief in
-- office (state 4) per building, held by the index also under concurrent
-- appointments.
CREATE TABLE chief_appointments (
    id TEXT PRIMARY KEY,
    building_id TEXT NOT NULL,
    council_member_id TEXT NOT NULL,
    staff_id TEXT NOT NULL,
    state BIGINT NOT NULL,
    notices TEXT NOT NULL,
    objections TEXT NOT NULL,
    note TEXT NOT NULL,
    contact TEXT NOT NULL,
    nominated_at BIGINT NOT NULL,
    appointed_at BIGINT,
    ended_at BIGINT,
    end_reason TEXT NOT NULL
);
CREATE INDEX chief_appointments_by_building ON chief_appointments (building_id);
CREATE UNIQUE INDEX one_chief_per_building ON chief_appointments (building_id) WHERE state = 4;

CREATE TABLE council_meetings (
    id TEXT PRIMARY KEY,
    building_id TEXT NOT NULL,
    meeting_date TEXT NOT NULL,
    attendees TEXT NOT NULL,
    agenda TEXT NOT NULL,
    decisions TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX council_meetings_by_building ON council_meetings (building_id, meeting_date);

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    building_id TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    proposer TEXT NOT NULL,
    participants TEXT NOT NULL,
    state BIGINT NOT NULL,
    drop_reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX projects_by_building ON projects (building_id);

-- The needs (visits' demands, by id) and resources a project links.
CREATE TABLE project_demands (
    project_id TEXT NOT NULL,
    demand_id TEXT NOT NULL,
    PRIMARY KEY (project_id, demand_id)
);
CREATE INDEX project_demands_by_demand ON project_demands (demand_id);
CREATE TABLE project_resources (
    project_id TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    PRIMARY KEY (project_id, resource_id)
);
CREATE INDEX project_resources_by_resource ON project_resources (resource_id);

CREATE TABLE project_changes (
    project_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    from_state BIGINT NOT NULL,
    to_state BIGINT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (project_id, position)
);
