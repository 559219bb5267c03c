-- Data scope (issue 8): what visits needs to put a caller's reach in its
-- queries, kept from feeds alone so that no call asks the registry who
-- covers what. Both backends run this same SQL.

-- The registry's assignments that have started and not ended
-- (AssignmentStarted, AssignmentEnded): a member of staff covers a whole
-- building (uscc NULL) or one enterprise of it. Assignments of every role
-- count: each is the registry's word that the person covers the place.
CREATE TABLE scope_assignments (
    id TEXT PRIMARY KEY,
    staff_id TEXT NOT NULL,
    building_id TEXT NOT NULL,
    uscc TEXT
);
CREATE INDEX scope_assignments_by_staff ON scope_assignments (staff_id);

-- The sub-district that manages each building (BuildingChanged, on create
-- and on every change): a sub-district admin's reach over visits and plans.
CREATE TABLE scope_buildings (
    building_id TEXT PRIMARY KEY,
    sub_district_id TEXT NOT NULL
);
CREATE INDEX scope_buildings_by_sub_district ON scope_buildings (sub_district_id);

-- The departments a demand is addressed to: a department officer's reach.
-- Filled by the referral service's feed (a later issue); until it exists
-- the table stays empty and department officers see no demand.
CREATE TABLE demand_departments (
    demand_id TEXT NOT NULL,
    department_id TEXT NOT NULL,
    PRIMARY KEY (demand_id, department_id)
);
CREATE INDEX demand_departments_by_department ON demand_departments (department_id);
