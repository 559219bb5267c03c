-- The referral service's tables. Instants are microseconds since the Unix
-- epoch; states, categories and urgencies are their proto numbers. Both
-- backends run this same SQL.

-- Demands as the visits feed published them: what a referral opened by
-- hand is made from, and the status a withdrawal is seen by.
CREATE TABLE demands_seen (
    demand_id TEXT PRIMARY KEY,
    uscc TEXT NOT NULL,
    building_id TEXT NOT NULL,
    sub_district_id TEXT NOT NULL,
    category BIGINT NOT NULL,
    urgency BIGINT NOT NULL,
    description TEXT NOT NULL,
    status BIGINT NOT NULL
);

-- One referral per demand, held by the unique index however often the
-- demand's event arrives or however many calls race; a referral split by
-- hand keeps it, and its parts name it in `part_of` (empty for a whole). Rejection,
-- confirmation, suspension and offered units are JSON documents of the
-- service's own types; due and done times are the three clocks.
-- `inbox_key` orders a department's inbox: the soonest unmet due time,
-- zero-padded, then the id. `watch_at` is when the deadline scanner should
-- next look at it (a clock runs out, a breach goes up); NULL when only a
-- move can change anything. It is in the database, so deadlines survive
-- restarts.
CREATE TABLE referrals (
    id TEXT PRIMARY KEY,
    demand_id TEXT NOT NULL,
    part_of TEXT NOT NULL,
    split BIGINT NOT NULL,
    uscc TEXT NOT NULL,
    building_id TEXT NOT NULL,
    sub_district_id TEXT NOT NULL,
    category BIGINT NOT NULL,
    urgency BIGINT NOT NULL,
    description TEXT NOT NULL,
    state BIGINT NOT NULL,
    round BIGINT NOT NULL,
    lead_department TEXT NOT NULL,
    dispatched_at BIGINT,
    accept_due BIGINT,
    first_contact_due BIGINT,
    complete_due BIGINT,
    complete_days BIGINT NOT NULL,
    accepted_at BIGINT,
    first_contact_at BIGINT,
    completed_at BIGINT,
    breached TEXT NOT NULL,
    escalation_level BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    failure_reason TEXT NOT NULL,
    rejection TEXT,
    rejection_count BIGINT NOT NULL,
    confirmation TEXT,
    warned BIGINT NOT NULL,
    suspension TEXT,
    exclusion TEXT,
    rules_version TEXT NOT NULL,
    offered_units TEXT NOT NULL,
    inbox_key TEXT NOT NULL,
    watch_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX one_referral_per_demand ON referrals (demand_id) WHERE part_of = '';
CREATE INDEX referrals_by_whole ON referrals (part_of);
CREATE INDEX referrals_by_state ON referrals (state);
CREATE INDEX referrals_by_enterprise ON referrals (uscc);
CREATE INDEX referrals_by_building ON referrals (building_id);
CREATE INDEX referrals_by_inbox_key ON referrals (inbox_key);
CREATE INDEX referrals_by_watch_at ON referrals (watch_at);

-- The departments a referral is addressed to; position 0 leads.
CREATE TABLE referral_departments (
    referral_id TEXT NOT NULL,
    department_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (referral_id, department_id)
);
CREATE INDEX referral_departments_by_department ON referral_departments (department_id, referral_id);

-- Every move of a referral, in order.
CREATE TABLE referral_transitions (
    referral_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    from_state BIGINT NOT NULL,
    to_state BIGINT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    department_id TEXT NOT NULL,
    note TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (referral_id, position)
);

-- The district's rules, by version. The one with active = 1 is in force;
-- with none, the rules the service ships with are. A version is written
-- once.
CREATE TABLE routing_rules_versions (
    version TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    active BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX one_active_routing_rules ON routing_rules_versions (active) WHERE active = 1;

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
