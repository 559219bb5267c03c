-- What each building resource offers, and when. An offering is available
-- either in opening hours (availability 1: weekly times without dates) or at
-- set sessions (availability 2: weekly times with a first and an optional
-- last date, and one-off sessions). Weekly times are Shanghai local time:
-- ISO weekdays (1 Monday to 7 Sunday) and seconds after local midnight, the
-- end at most 86400 (24:00). Dates are YYYY-MM-DD text, instants
-- microseconds since the Unix epoch. Both backends run this same SQL.

CREATE TABLE offerings (
    resource_id TEXT NOT NULL REFERENCES building_resources (id),
    id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    kind BIGINT NOT NULL,
    provider TEXT NOT NULL,
    description TEXT NOT NULL,
    availability BIGINT NOT NULL CHECK (availability IN (1, 2)),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (resource_id, id)
);

CREATE TABLE offering_weekly_times (
    resource_id TEXT NOT NULL,
    offering_id TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    day_of_week BIGINT NOT NULL CHECK (day_of_week BETWEEN 1 AND 7),
    start_second BIGINT NOT NULL CHECK (start_second >= 0),
    end_second BIGINT NOT NULL CHECK (end_second <= 86400),
    first_date TEXT,
    last_date TEXT,
    PRIMARY KEY (resource_id, offering_id, ordinal),
    FOREIGN KEY (resource_id, offering_id) REFERENCES offerings (resource_id, id),
    CHECK (start_second < end_second),
    CHECK (last_date IS NULL OR (first_date IS NOT NULL AND first_date <= last_date))
);

CREATE TABLE offering_one_off_sessions (
    resource_id TEXT NOT NULL,
    offering_id TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    start_at BIGINT NOT NULL,
    end_at BIGINT NOT NULL,
    PRIMARY KEY (resource_id, offering_id, ordinal),
    FOREIGN KEY (resource_id, offering_id) REFERENCES offerings (resource_id, id),
    CHECK (start_at < end_at)
);
