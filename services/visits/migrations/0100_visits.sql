-- The visits service's tables. Instants are microseconds since the Unix
-- epoch (UTC); flags are 0/1; enums are their proto numbers. Registry ids
-- (buildings, enterprises' USCC, staff) are references by value: the
-- registry's tables live in the registry's database. Both backends run
-- this same SQL.

CREATE TABLE visits (
    id TEXT PRIMARY KEY,
    building_id TEXT NOT NULL,
    visit_time BIGINT NOT NULL,
    kind BIGINT NOT NULL,
    notes TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX visits_by_building ON visits (building_id);
CREATE INDEX visits_by_time ON visits (visit_time);

CREATE TABLE visit_staff (
    visit_id TEXT NOT NULL REFERENCES visits (id),
    staff_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (visit_id, staff_id)
);
CREATE INDEX visit_staff_by_staff ON visit_staff (staff_id);

CREATE TABLE observations (
    visit_id TEXT NOT NULL REFERENCES visits (id),
    uscc TEXT NOT NULL,
    position BIGINT NOT NULL,
    lease_months_left BIGINT,
    lease_renewed BIGINT NOT NULL,
    relocation_intent BIGINT NOT NULL,
    relocation_destination TEXT NOT NULL,
    expansion_need BIGINT NOT NULL,
    expansion_fit BIGINT NOT NULL,
    headcount_trend BIGINT NOT NULL,
    business_trend BIGINT NOT NULL,
    satisfaction BIGINT NOT NULL,
    notes TEXT NOT NULL,
    PRIMARY KEY (visit_id, uscc)
);
CREATE INDEX observations_by_enterprise ON observations (uscc);

-- Status 1 open, 2 referred, 3 in progress and 7 reopened are "open": at
-- most one open demand per enterprise and category, so a second report is
-- linked, never counted twice, even under concurrent submissions.
CREATE TABLE demands (
    id TEXT PRIMARY KEY,
    uscc TEXT NOT NULL,
    building_id TEXT NOT NULL,
    sub_district_id TEXT NOT NULL,
    category BIGINT NOT NULL,
    description TEXT NOT NULL,
    urgency BIGINT NOT NULL,
    status BIGINT NOT NULL,
    visit_id TEXT,
    merged_into TEXT,
    flag TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX one_open_demand_per_enterprise_and_category
    ON demands (uscc, category) WHERE status IN (1, 2, 3, 7);
CREATE INDEX demands_by_status ON demands (status);

-- Each time a demand was raised: the first report and every linked one.
CREATE TABLE demand_reports (
    id TEXT PRIMARY KEY,
    demand_id TEXT NOT NULL REFERENCES demands (id),
    visit_id TEXT,
    description TEXT NOT NULL,
    actor TEXT NOT NULL,
    reported_at BIGINT NOT NULL
);
CREATE INDEX demand_reports_by_demand ON demand_reports (demand_id);
CREATE INDEX demand_reports_by_visit ON demand_reports (visit_id);

CREATE TABLE demand_status_changes (
    id TEXT PRIMARY KEY,
    demand_id TEXT NOT NULL REFERENCES demands (id),
    from_status BIGINT NOT NULL,
    to_status BIGINT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    changed_at BIGINT NOT NULL
);
CREATE INDEX demand_status_changes_by_demand ON demand_status_changes (demand_id);

-- One plan per enterprise in the district, started when its first tenancy
-- starts (registry feed) or when it is first visited.
CREATE TABLE visit_plans (
    uscc TEXT PRIMARY KEY,
    building_id TEXT NOT NULL,
    colour BIGINT NOT NULL,
    plan_start BIGINT NOT NULL,
    last_visit_time BIGINT,
    active BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX visit_plans_by_building ON visit_plans (building_id);

CREATE TABLE cadence_policy (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    red_days BIGINT NOT NULL,
    orange_days BIGINT NOT NULL,
    yellow_days BIGINT NOT NULL,
    blue_days BIGINT NOT NULL,
    green_days BIGINT NOT NULL,
    default_days BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
INSERT INTO cadence_policy (id, red_days, orange_days, yellow_days, blue_days, green_days, default_days, updated_at)
VALUES (1, 1, 3, 14, 30, 90, 30, 0);
