-- The registry's tables. The deployment serves one district, so rows hold
-- resource ids and names are composed when read. Instants are microseconds
-- since the Unix epoch; dates are YYYY-MM-DD text; flags are 0/1; enums are
-- their proto numbers. Both backends run this same SQL.

CREATE TABLE sub_districts (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    kind BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One column for the managing sub-district: a building split between two
-- streets still has exactly one manager, by construction.
CREATE TABLE buildings (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    address TEXT NOT NULL,
    latitude DOUBLE PRECISION,
    longitude DOUBLE PRECISION,
    floors_above_ground BIGINT NOT NULL,
    floors_below_ground BIGINT NOT NULL,
    managing_sub_district TEXT NOT NULL REFERENCES sub_districts (id),
    property_manager TEXT NOT NULL,
    council_members TEXT NOT NULL,
    building_chief TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX buildings_by_sub_district ON buildings (managing_sub_district);

CREATE TABLE units (
    building_id TEXT NOT NULL REFERENCES buildings (id),
    id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    floor BIGINT NOT NULL,
    area DOUBLE PRECISION NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (building_id, id)
);

CREATE TABLE enterprises (
    uscc TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    industry TEXT NOT NULL,
    headcount BIGINT NOT NULL,
    party_members BIGINT NOT NULL,
    contacts TEXT NOT NULL,
    status BIGINT NOT NULL,
    registered_address TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX enterprises_by_status ON enterprises (status);

-- A move ends one tenancy and starts another: rows are never overwritten.
CREATE TABLE tenancies (
    id TEXT PRIMARY KEY,
    uscc TEXT NOT NULL REFERENCES enterprises (uscc),
    building_id TEXT NOT NULL,
    unit_id TEXT NOT NULL,
    area DOUBLE PRECISION NOT NULL,
    lease_start TEXT NOT NULL,
    lease_end TEXT NOT NULL,
    active BIGINT NOT NULL,
    end_date TEXT,
    end_reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    FOREIGN KEY (building_id, unit_id) REFERENCES units (building_id, id)
);
CREATE UNIQUE INDEX one_active_tenancy_per_unit ON tenancies (building_id, unit_id) WHERE active = 1;
CREATE INDEX tenancies_by_enterprise ON tenancies (uscc);

CREATE TABLE staff (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    phone TEXT NOT NULL,
    sub_district TEXT REFERENCES sub_districts (id),
    active BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Role 1 is the field worker, of whom a building may have many; each of the
-- four officer roles has at most one holder per building.
CREATE TABLE assignments (
    id TEXT PRIMARY KEY,
    staff_id TEXT NOT NULL REFERENCES staff (id),
    building_id TEXT NOT NULL REFERENCES buildings (id),
    uscc TEXT REFERENCES enterprises (uscc),
    role BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX one_officer_per_role_per_building ON assignments (building_id, role) WHERE role <> 1;
CREATE UNIQUE INDEX no_repeated_assignment ON assignments (staff_id, building_id, COALESCE(uscc, ''), role);
CREATE INDEX assignments_by_building ON assignments (building_id);

CREATE TABLE departments (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    kind BIGINT NOT NULL,
    office_phone TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE department_categories (
    department_id TEXT NOT NULL REFERENCES departments (id),
    category BIGINT NOT NULL,
    PRIMARY KEY (department_id, category)
);

-- No rows for a department means it serves the whole district.
CREATE TABLE department_jurisdictions (
    department_id TEXT NOT NULL REFERENCES departments (id),
    sub_district_id TEXT NOT NULL REFERENCES sub_districts (id),
    PRIMARY KEY (department_id, sub_district_id)
);

CREATE TABLE building_resources (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    kind BIGINT NOT NULL,
    building_id TEXT REFERENCES buildings (id),
    latitude DOUBLE PRECISION NOT NULL,
    longitude DOUBLE PRECISION NOT NULL,
    address TEXT NOT NULL,
    opening_hours TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX building_resources_by_latitude ON building_resources (latitude);
