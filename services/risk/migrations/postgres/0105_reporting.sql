-- PostgreSQL only (docs/reporting.md): this service's views in the
-- `reporting` schema, in native types for district BI tools. The role
-- `louyu_reporting`, the schema and the helper functions (reporting.instant,
-- mask_name, mask_phone and the labels) come from kit's
-- migrations/postgres/0004_reporting.sql, applied first. The views read the
-- service's tables with the rights of their owner (the migrating role), so
-- the reporting role needs no right on the tables. A later migration that
-- changes a table a view reads recreates the view with CREATE OR REPLACE
-- VIEW (or DROP VIEW first when a column goes or changes type) in a new file
-- of this folder, numbered before the shared migration that changes the
-- table.

-- The risk service's views.

CREATE VIEW reporting.assessments AS
SELECT uscc,
       building_id,
       colour,
       reporting.colour_label(colour) AS colour_label,
       effective_colour,
       reporting.colour_label(effective_colour) AS effective_colour_label,
       override_colour IS NOT NULL AS overridden,
       score,
       rules_version,
       explanation::jsonb AS explanation,
       reporting.instant(assessed_at) AS assessed_at,
       reporting.instant(next_change_at) AS next_change_at
FROM public.assessments;
COMMENT ON VIEW reporting.assessments IS '企业风险评估（每家企业一条） Risk assessments, one per enterprise';
COMMENT ON COLUMN reporting.assessments.uscc IS '企业统一社会信用代码 enterprise USCC';
COMMENT ON COLUMN reporting.assessments.building_id IS '楼宇编号 building id';
COMMENT ON COLUMN reporting.assessments.colour IS '计算颜色代码（RiskColour，0 未评估） computed colour code';
COMMENT ON COLUMN reporting.assessments.colour_label IS '计算颜色 computed colour, in Chinese';
COMMENT ON COLUMN reporting.assessments.effective_colour IS '生效颜色代码（人工调整期内为调整值） colour in force code: the override while it lasts';
COMMENT ON COLUMN reporting.assessments.effective_colour_label IS '生效颜色 colour in force, in Chinese';
COMMENT ON COLUMN reporting.assessments.overridden IS '是否有人工调整 whether a colour override is set';
COMMENT ON COLUMN reporting.assessments.score IS '风险分值 score';
COMMENT ON COLUMN reporting.assessments.rules_version IS '规则版本 rules version';
COMMENT ON COLUMN reporting.assessments.explanation IS '评估说明（因素、底线、改变条件） explanation: factors, floor, what would change it';
COMMENT ON COLUMN reporting.assessments.assessed_at IS '评估时间 assessed at';
COMMENT ON COLUMN reporting.assessments.next_change_at IS '下次随时间变化的时间 when time alone changes it next';

CREATE VIEW reporting.assessment_factors AS
SELECT assessments.uscc,
       factor.position,
       factor.value ->> 'signal' AS signal,
       factor.value ->> 'kind' AS kind,
       (factor.value ->> 'points')::integer AS points,
       factor.value -> 'reason' ->> 'zh' AS reason_zh,
       factor.value -> 'reason' ->> 'en' AS reason_en
FROM public.assessments
CROSS JOIN LATERAL jsonb_array_elements(assessments.explanation::jsonb -> 'factors')
    WITH ORDINALITY AS factor (value, position);
COMMENT ON VIEW reporting.assessment_factors IS '评估因素（每个因素一行） Assessment factors, one row each';
COMMENT ON COLUMN reporting.assessment_factors.uscc IS '企业统一社会信用代码 enterprise USCC';
COMMENT ON COLUMN reporting.assessment_factors.position IS '因素顺序 order of the factor';
COMMENT ON COLUMN reporting.assessment_factors.signal IS '信号编号 signal id';
COMMENT ON COLUMN reporting.assessment_factors.kind IS '信号类型 signal kind';
COMMENT ON COLUMN reporting.assessment_factors.points IS '分值 points';
COMMENT ON COLUMN reporting.assessment_factors.reason_zh IS '原因（中文） reason in Chinese';
COMMENT ON COLUMN reporting.assessment_factors.reason_en IS '原因（英文） reason in English';

CREATE VIEW reporting.colour_overrides AS
SELECT uscc,
       override_colour AS colour,
       reporting.colour_label(override_colour) AS colour_label,
       override_reason AS reason,
       override_actor AS actor,
       reporting.instant(override_set_at) AS set_at,
       reporting.instant(override_expires_at) AS expires_at
FROM public.assessments
WHERE override_colour IS NOT NULL;
COMMENT ON VIEW reporting.colour_overrides IS '人工调整的颜色 Colours set by hand';
COMMENT ON COLUMN reporting.colour_overrides.uscc IS '企业统一社会信用代码 enterprise USCC';
COMMENT ON COLUMN reporting.colour_overrides.colour IS '调整颜色代码（RiskColour） override colour code';
COMMENT ON COLUMN reporting.colour_overrides.colour_label IS '调整颜色 override colour, in Chinese';
COMMENT ON COLUMN reporting.colour_overrides.reason IS '调整原因 reason';
COMMENT ON COLUMN reporting.colour_overrides.actor IS '操作人编号 who set it (principal id)';
COMMENT ON COLUMN reporting.colour_overrides.set_at IS '设置时间 set at';
COMMENT ON COLUMN reporting.colour_overrides.expires_at IS '到期时间 expires at';

CREATE VIEW reporting.assessment_changes AS
SELECT id,
       uscc,
       previous_colour,
       reporting.colour_label(previous_colour) AS previous_colour_label,
       colour,
       reporting.colour_label(colour) AS colour_label,
       score,
       cause_zh,
       cause_en,
       reporting.instant(changed_at) AS changed_at
FROM public.assessment_changes;
COMMENT ON VIEW reporting.assessment_changes IS '颜色变化记录 Every change of colour, with its cause';
COMMENT ON COLUMN reporting.assessment_changes.id IS '变化编号 change id';
COMMENT ON COLUMN reporting.assessment_changes.uscc IS '企业统一社会信用代码 enterprise USCC';
COMMENT ON COLUMN reporting.assessment_changes.previous_colour IS '原颜色代码 previous colour code';
COMMENT ON COLUMN reporting.assessment_changes.previous_colour_label IS '原颜色 previous colour, in Chinese';
COMMENT ON COLUMN reporting.assessment_changes.colour IS '新颜色代码 new colour code';
COMMENT ON COLUMN reporting.assessment_changes.colour_label IS '新颜色 new colour, in Chinese';
COMMENT ON COLUMN reporting.assessment_changes.score IS '风险分值 score';
COMMENT ON COLUMN reporting.assessment_changes.cause_zh IS '原因（中文） cause in Chinese';
COMMENT ON COLUMN reporting.assessment_changes.cause_en IS '原因（英文） cause in English';
COMMENT ON COLUMN reporting.assessment_changes.changed_at IS '变化时间 changed at';

CREATE VIEW reporting.rules_versions AS
SELECT version,
       active = 1 AS active,
       created_by,
       reporting.instant(created_at) AS created_at,
       reporting.instant(activated_at) AS activated_at,
       document
FROM public.rules_versions;
COMMENT ON VIEW reporting.rules_versions IS '风险规则版本 Risk rules, by version';
COMMENT ON COLUMN reporting.rules_versions.version IS '版本 version';
COMMENT ON COLUMN reporting.rules_versions.active IS '是否生效 whether in force';
COMMENT ON COLUMN reporting.rules_versions.created_by IS '创建人编号 who created it (principal id)';
COMMENT ON COLUMN reporting.rules_versions.created_at IS '创建时间 created at';
COMMENT ON COLUMN reporting.rules_versions.activated_at IS '生效时间 activated at';
COMMENT ON COLUMN reporting.rules_versions.document IS '规则文本（TOML） rules document (TOML)';

GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO louyu_reporting;
