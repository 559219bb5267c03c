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

-- The visits service's views.

CREATE VIEW reporting.visits AS
SELECT id,
       building_id,
       reporting.instant(visit_time) AS visit_time,
       (reporting.instant(visit_time) AT TIME ZONE 'Asia/Shanghai')::date AS visit_date,
       kind,
       CASE kind WHEN 1 THEN '日常走访' WHEN 2 THEN '回访' WHEN 3 THEN '联合走访' WHEN 4 THEN '应约走访'
                 ELSE '未指定' END AS kind_label,
       (SELECT coalesce(jsonb_agg(staff_id ORDER BY position), '[]'::jsonb)
        FROM public.visit_staff WHERE visit_id = visits.id) AS staff_ids,
       notes,
       reporting.instant(created_at) AS created_at
FROM public.visits;
COMMENT ON VIEW reporting.visits IS '走访记录 Visits';
COMMENT ON COLUMN reporting.visits.id IS '走访编号 visit id';
COMMENT ON COLUMN reporting.visits.building_id IS '楼宇编号 building id';
COMMENT ON COLUMN reporting.visits.visit_time IS '走访时间 visit time';
COMMENT ON COLUMN reporting.visits.visit_date IS '走访日期（上海时间） visit date in Shanghai';
COMMENT ON COLUMN reporting.visits.kind IS '走访类型代码（VisitKind） kind code';
COMMENT ON COLUMN reporting.visits.kind_label IS '走访类型 kind, in Chinese';
COMMENT ON COLUMN reporting.visits.staff_ids IS '走访人员编号（JSON 数组） staff ids of the visitors (JSON array)';
COMMENT ON COLUMN reporting.visits.notes IS '走访备注 notes';
COMMENT ON COLUMN reporting.visits.created_at IS '录入时间 recorded at';

CREATE VIEW reporting.observations AS
SELECT visit_id,
       uscc,
       position,
       lease_months_left,
       lease_renewed = 1 AS lease_renewed,
       relocation_intent,
       CASE relocation_intent WHEN 1 THEN '无迁出意向' WHEN 2 THEN '考虑迁出' WHEN 3 THEN '已决定迁出'
                              ELSE '未知' END AS relocation_intent_label,
       relocation_destination,
       expansion_need = 1 AS expansion_need,
       expansion_fit,
       CASE expansion_fit WHEN 1 THEN '本楼可满足' WHEN 2 THEN '本楼无法满足' ELSE '未知' END AS expansion_fit_label,
       headcount_trend,
       CASE headcount_trend WHEN 1 THEN '增长' WHEN 2 THEN '持平' WHEN 3 THEN '下降' ELSE '未知' END
           AS headcount_trend_label,
       business_trend,
       CASE business_trend WHEN 1 THEN '增长' WHEN 2 THEN '持平' WHEN 3 THEN '下降' ELSE '未知' END
           AS business_trend_label,
       satisfaction,
       notes
FROM public.observations;
COMMENT ON VIEW reporting.observations IS '走访中对企业的观察 What a visit observed of each enterprise it met';
COMMENT ON COLUMN reporting.observations.visit_id IS '走访编号 visit id';
COMMENT ON COLUMN reporting.observations.uscc IS '企业统一社会信用代码 enterprise USCC';
COMMENT ON COLUMN reporting.observations.position IS '在本次走访中的顺序 order within the visit';
COMMENT ON COLUMN reporting.observations.lease_months_left IS '剩余租期（月） lease months left';
COMMENT ON COLUMN reporting.observations.lease_renewed IS '是否已续租 whether the lease was renewed';
COMMENT ON COLUMN reporting.observations.relocation_intent IS '迁出意向代码（RelocationIntent） relocation intent code';
COMMENT ON COLUMN reporting.observations.relocation_intent_label IS '迁出意向 relocation intent, in Chinese';
COMMENT ON COLUMN reporting.observations.relocation_destination IS '拟迁往地 relocation destination';
COMMENT ON COLUMN reporting.observations.expansion_need IS '是否有扩租需求 whether it needs more space';
COMMENT ON COLUMN reporting.observations.expansion_fit IS '扩租可满足代码（ExpansionFit） expansion fit code';
COMMENT ON COLUMN reporting.observations.expansion_fit_label IS '本楼能否满足扩租 whether the building can meet it, in Chinese';
COMMENT ON COLUMN reporting.observations.headcount_trend IS '人员趋势代码（Trend） headcount trend code';
COMMENT ON COLUMN reporting.observations.headcount_trend_label IS '人员趋势 headcount trend, in Chinese';
COMMENT ON COLUMN reporting.observations.business_trend IS '经营趋势代码（Trend） business trend code';
COMMENT ON COLUMN reporting.observations.business_trend_label IS '经营趋势 business trend, in Chinese';
COMMENT ON COLUMN reporting.observations.satisfaction IS '满意度（1-5，0 未填） satisfaction 1-5, 0 not given';
COMMENT ON COLUMN reporting.observations.notes IS '备注 notes';

CREATE VIEW reporting.demands AS
SELECT id,
       uscc,
       building_id,
       sub_district_id,
       category,
       reporting.category_label(category) AS category_label,
       description,
       urgency,
       reporting.urgency_label(urgency) AS urgency_label,
       status,
       CASE status WHEN 1 THEN '待处理' WHEN 2 THEN '已转办' WHEN 3 THEN '办理中' WHEN 4 THEN '已解决'
                   WHEN 5 THEN '已确认' WHEN 6 THEN '已撤回' WHEN 7 THEN '重新办理' ELSE '未指定' END AS status_label,
       status IN (1, 2, 3, 7) AS open,
       visit_id,
       merged_into,
       flag,
       referral_id,
       reporting.instant(created_at) AS created_at,
       reporting.instant(updated_at) AS updated_at
FROM public.demands;
COMMENT ON VIEW reporting.demands IS '企业诉求 Demands raised by enterprises';
COMMENT ON COLUMN reporting.demands.id IS '诉求编号 demand id';
COMMENT ON COLUMN reporting.demands.uscc IS '企业统一社会信用代码 enterprise USCC';
COMMENT ON COLUMN reporting.demands.building_id IS '楼宇编号 building id';
COMMENT ON COLUMN reporting.demands.sub_district_id IS '街道/镇编号 sub-district id';
COMMENT ON COLUMN reporting.demands.category IS '类别代码（DemandCategory） category code';
COMMENT ON COLUMN reporting.demands.category_label IS '类别 category, in Chinese';
COMMENT ON COLUMN reporting.demands.description IS '诉求内容 description';
COMMENT ON COLUMN reporting.demands.urgency IS '紧急程度代码（Urgency） urgency code';
COMMENT ON COLUMN reporting.demands.urgency_label IS '紧急程度 urgency, in Chinese';
COMMENT ON COLUMN reporting.demands.status IS '状态代码（DemandStatus） status code';
COMMENT ON COLUMN reporting.demands.status_label IS '状态 status, in Chinese';
COMMENT ON COLUMN reporting.demands.open IS '是否未结 whether still open';
COMMENT ON COLUMN reporting.demands.visit_id IS '来源走访编号 visit it was raised in';
COMMENT ON COLUMN reporting.demands.merged_into IS '合并到的诉求编号 demand it was merged into';
COMMENT ON COLUMN reporting.demands.flag IS '标记 flag';
COMMENT ON COLUMN reporting.demands.referral_id IS '转办单编号 referral id';
COMMENT ON COLUMN reporting.demands.created_at IS '提出时间 raised at';
COMMENT ON COLUMN reporting.demands.updated_at IS '更新时间 updated at';

CREATE VIEW reporting.visit_plans AS
SELECT uscc,
       building_id,
       colour,
       reporting.colour_label(colour) AS colour_label,
       reporting.instant(plan_start) AS plan_start,
       reporting.instant(last_visit_time) AS last_visit_time,
       active = 1 AS active,
       reporting.instant(updated_at) AS updated_at
FROM public.visit_plans;
COMMENT ON VIEW reporting.visit_plans IS '走访计划（每家企业一条） Visit plans, one per enterprise';
COMMENT ON COLUMN reporting.visit_plans.uscc IS '企业统一社会信用代码 enterprise USCC';
COMMENT ON COLUMN reporting.visit_plans.building_id IS '楼宇编号 building id';
COMMENT ON COLUMN reporting.visit_plans.colour IS '风险颜色代码（RiskColour） colour code';
COMMENT ON COLUMN reporting.visit_plans.colour_label IS '风险颜色 colour, in Chinese';
COMMENT ON COLUMN reporting.visit_plans.plan_start IS '计划开始时间 plan start';
COMMENT ON COLUMN reporting.visit_plans.last_visit_time IS '最近走访时间 last visit time';
COMMENT ON COLUMN reporting.visit_plans.active IS '是否有效 whether active';
COMMENT ON COLUMN reporting.visit_plans.updated_at IS '更新时间 updated at';

GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO louyu_reporting;
