-- PostgreSQL only (docs/reporting.md): what every service's `reporting`
-- schema shares, here once since kit's migrations run in every service's
-- database before the service's own: the read-only group role
-- `louyu_reporting`, the schema, and the helper functions the services'
-- views use (times, masking, Chinese labels). Each service's own
-- `migrations/postgres/*_reporting.sql` then creates its views.

-- The role is cluster-wide and may already exist: made by another
-- service's migration on the same cluster, or by the DBA beforehand (then
-- the migrating role needs no CREATEROLE).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'louyu_reporting') THEN
        CREATE ROLE louyu_reporting NOLOGIN;
    END IF;
EXCEPTION
    -- Another database's migration created it at the same moment.
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

CREATE SCHEMA IF NOT EXISTS reporting;
COMMENT ON SCHEMA reporting IS '楼宇服务报表视图（只读，个人信息已脱敏） Louyu reporting views: read-only, personal data masked';
REVOKE ALL ON SCHEMA reporting FROM PUBLIC;
GRANT USAGE ON SCHEMA reporting TO louyu_reporting;
-- Views this role creates later in the schema are readable at once.
ALTER DEFAULT PRIVILEGES IN SCHEMA reporting GRANT SELECT ON TABLES TO louyu_reporting;

-- Microseconds since the Unix epoch (UTC) as a timestamptz, exactly (no
-- floating point); NULL stays NULL.
CREATE OR REPLACE FUNCTION reporting.instant(microseconds BIGINT) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT timestamptz 'epoch' + microseconds * interval '1 microsecond' $$;

-- A name as its first character and one * per further character: 张** for
-- 张三丰; a one-character name becomes 张*.
CREATE OR REPLACE FUNCTION reporting.mask_name(name TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT CASE WHEN name = '' THEN '' ELSE left(name, 1) || repeat('*', greatest(char_length(name) - 1, 1)) END $$;

-- A phone as its first three and last four digits: 138****1234. Shorter
-- numbers are all stars.
CREATE OR REPLACE FUNCTION reporting.mask_phone(phone TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT CASE WHEN char_length(phone) >= 8
                      THEN left(phone, 3) || repeat('*', char_length(phone) - 7) || right(phone, 4)
                      ELSE repeat('*', char_length(phone)) END $$;

-- A colour (RiskColour) in Chinese.
CREATE OR REPLACE FUNCTION reporting.colour_label(colour BIGINT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT CASE colour WHEN 1 THEN '绿' WHEN 2 THEN '蓝' WHEN 3 THEN '黄' WHEN 4 THEN '橙' WHEN 5 THEN '红' ELSE '未评估' END $$;

-- A demand category (DemandCategory) in Chinese.
CREATE OR REPLACE FUNCTION reporting.category_label(category BIGINT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT CASE category WHEN 1 THEN '办公空间' WHEN 2 THEN '登记许可' WHEN 3 THEN '税务'
                                WHEN 4 THEN '融资' WHEN 5 THEN '人才落户' WHEN 6 THEN '政策咨询' ELSE '未指定' END $$;

-- An urgency (Urgency) in Chinese.
CREATE OR REPLACE FUNCTION reporting.urgency_label(urgency BIGINT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT CASE urgency WHEN 1 THEN '低' WHEN 2 THEN '一般' WHEN 3 THEN '高' WHEN 4 THEN '紧急' ELSE '未指定' END $$;
