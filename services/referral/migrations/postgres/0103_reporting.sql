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

-- A referral state (ReferralState) in Chinese.
CREATE OR REPLACE FUNCTION reporting.referral_state_label(state BIGINT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT CASE state WHEN 1 THEN '待分拨' WHEN 2 THEN '已派单' WHEN 3 THEN '已受理' WHEN 4 THEN '已退回'
                            WHEN 5 THEN '办理中' WHEN 6 THEN '已挂起' WHEN 7 THEN '已办结' WHEN 8 THEN '未能解决'
                            WHEN 9 THEN '已确认' WHEN 10 THEN '重新办理' WHEN 11 THEN '已撤销' ELSE '无' END $$;

-- The referral service's views.

CREATE VIEW reporting.referrals AS
SELECT id,
       demand_id,
       NULLIF(part_of, '') AS part_of,
       split <> 0 AS split,
       uscc,
       building_id,
       sub_district_id,
       category,
       reporting.category_label(category) AS category_label,
       urgency,
       reporting.urgency_label(urgency) AS urgency_label,
       description,
       state,
       reporting.referral_state_label(state) AS state_label,
       round,
       lead_department AS lead_department_id,
       reporting.instant(dispatched_at) AS dispatched_at,
       reporting.instant(accept_due) AS accept_due,
       reporting.instant(first_contact_due) AS first_contact_due,
       reporting.instant(complete_due) AS complete_due,
       complete_days,
       reporting.instant(accepted_at) AS accepted_at,
       reporting.instant(first_contact_at) AS first_contact_at,
       reporting.instant(completed_at) AS completed_at,
       to_jsonb(string_to_array(NULLIF(breached, ''), ' ')) AS breached_clocks,
       breached <> '' AS breached,
       escalation_level,
       outcome,
       failure_reason,
       rejection::jsonb AS rejection,
       rejection_count,
       confirmation::jsonb AS confirmation,
       warned <> 0 AS warned,
       suspension::jsonb AS suspension,
       exclusion::jsonb AS exclusion,
       rules_version,
       offered_units::jsonb AS offered_units,
       reporting.instant(created_at) AS created_at,
       reporting.instant(updated_at) AS updated_at
FROM public.referrals;
COMMENT ON VIEW reporting.referrals IS '转办单（整单与拆分的子单） Referrals, wholes and their parts';
COMMENT ON COLUMN reporting.referrals.id IS '转办单编号 referral id';
COMMENT ON COLUMN reporting.referrals.demand_id IS '诉求编号 demand id';
COMMENT ON COLUMN reporting.referrals.part_of IS '所属整单编号（整单为空） the whole it is a part of, NULL for a whole';
COMMENT ON COLUMN reporting.referrals.split IS '是否已拆分 whether split into parts';
COMMENT ON COLUMN reporting.referrals.uscc IS '企业统一社会信用代码 enterprise USCC';
COMMENT ON COLUMN reporting.referrals.building_id IS '楼宇编号 building id';
COMMENT ON COLUMN reporting.referrals.sub_district_id IS '街道/镇编号 sub-district id';
COMMENT ON COLUMN reporting.referrals.category IS '诉求类别代码（DemandCategory） category code';
COMMENT ON COLUMN reporting.referrals.category_label IS '诉求类别 category, in Chinese';
COMMENT ON COLUMN reporting.referrals.urgency IS '紧急程度代码（Urgency） urgency code';
COMMENT ON COLUMN reporting.referrals.urgency_label IS '紧急程度 urgency, in Chinese';
COMMENT ON COLUMN reporting.referrals.description IS '诉求内容 description';
COMMENT ON COLUMN reporting.referrals.state IS '状态代码（ReferralState） state code';
COMMENT ON COLUMN reporting.referrals.state_label IS '状态 state, in Chinese';
COMMENT ON COLUMN reporting.referrals.round IS '办理轮次 round';
COMMENT ON COLUMN reporting.referrals.lead_department_id IS '牵头部门编号 lead department id';
COMMENT ON COLUMN reporting.referrals.dispatched_at IS '派单时间 dispatched at';
COMMENT ON COLUMN reporting.referrals.accept_due IS '受理时限 accept due';
COMMENT ON COLUMN reporting.referrals.first_contact_due IS '首次联系时限 first contact due';
COMMENT ON COLUMN reporting.referrals.complete_due IS '办结时限 completion due';
COMMENT ON COLUMN reporting.referrals.complete_days IS '办结时限（工作日） completion working days';
COMMENT ON COLUMN reporting.referrals.accepted_at IS '受理时间 accepted at';
COMMENT ON COLUMN reporting.referrals.first_contact_at IS '首次联系时间 first contact at';
COMMENT ON COLUMN reporting.referrals.completed_at IS '办结时间 completed at';
COMMENT ON COLUMN reporting.referrals.breached_clocks IS '已超时的时限（JSON 数组） clocks breached (JSON array)';
COMMENT ON COLUMN reporting.referrals.breached IS '是否超时 whether any clock was breached';
COMMENT ON COLUMN reporting.referrals.escalation_level IS '督办级别 escalation level';
COMMENT ON COLUMN reporting.referrals.outcome IS '办理结果 outcome';
COMMENT ON COLUMN reporting.referrals.failure_reason IS '未能解决原因 failure reason';
COMMENT ON COLUMN reporting.referrals.rejection IS '最近一次退回 last rejection';
COMMENT ON COLUMN reporting.referrals.rejection_count IS '退回次数 rejections';
COMMENT ON COLUMN reporting.referrals.confirmation IS '企业确认 the enterprise''s confirmation';
COMMENT ON COLUMN reporting.referrals.warned IS '是否已预警 whether a deadline warning went out';
COMMENT ON COLUMN reporting.referrals.suspension IS '挂起 suspension';
COMMENT ON COLUMN reporting.referrals.exclusion IS '排除统计 exclusion from the scorecard';
COMMENT ON COLUMN reporting.referrals.rules_version IS '分拨规则版本 routing rules version';
COMMENT ON COLUMN reporting.referrals.offered_units IS '推荐房源 offered units';
COMMENT ON COLUMN reporting.referrals.created_at IS '创建时间 created at';
COMMENT ON COLUMN reporting.referrals.updated_at IS '更新时间 updated at';

CREATE VIEW reporting.referral_parts AS
SELECT part_of AS whole_id,
       id AS part_id,
       lead_department AS lead_department_id,
       state,
       reporting.referral_state_label(state) AS state_label,
       reporting.instant(created_at) AS created_at,
       reporting.instant(completed_at) AS completed_at
FROM public.referrals
WHERE part_of <> '';
COMMENT ON VIEW reporting.referral_parts IS '拆分子单 The parts of split referrals';
COMMENT ON COLUMN reporting.referral_parts.whole_id IS '整单编号 id of the whole';
COMMENT ON COLUMN reporting.referral_parts.part_id IS '子单编号 id of the part';
COMMENT ON COLUMN reporting.referral_parts.lead_department_id IS '牵头部门编号 lead department id';
COMMENT ON COLUMN reporting.referral_parts.state IS '状态代码（ReferralState） state code';
COMMENT ON COLUMN reporting.referral_parts.state_label IS '状态 state, in Chinese';
COMMENT ON COLUMN reporting.referral_parts.created_at IS '创建时间 created at';
COMMENT ON COLUMN reporting.referral_parts.completed_at IS '办结时间 completed at';

CREATE VIEW reporting.referral_departments AS
SELECT referral_id,
       department_id,
       position,
       position = 0 AS lead
FROM public.referral_departments;
COMMENT ON VIEW reporting.referral_departments IS '转办单承办部门 Departments a referral is addressed to';
COMMENT ON COLUMN reporting.referral_departments.referral_id IS '转办单编号 referral id';
COMMENT ON COLUMN reporting.referral_departments.department_id IS '部门编号 department id';
COMMENT ON COLUMN reporting.referral_departments.position IS '顺序（0 为牵头） order, 0 leads';
COMMENT ON COLUMN reporting.referral_departments.lead IS '是否牵头 whether it leads';

CREATE VIEW reporting.referral_history AS
SELECT referral_id,
       position,
       from_state,
       reporting.referral_state_label(from_state) AS from_state_label,
       to_state,
       reporting.referral_state_label(to_state) AS to_state_label,
       action,
       actor,
       NULLIF(department_id, '') AS department_id,
       note,
       reporting.instant(at) AS at
FROM public.referral_transitions;
COMMENT ON VIEW reporting.referral_history IS '转办单流转记录 Every move of a referral, in order';
COMMENT ON COLUMN reporting.referral_history.referral_id IS '转办单编号 referral id';
COMMENT ON COLUMN reporting.referral_history.position IS '顺序 order';
COMMENT ON COLUMN reporting.referral_history.from_state IS '原状态代码 state before';
COMMENT ON COLUMN reporting.referral_history.from_state_label IS '原状态 state before, in Chinese';
COMMENT ON COLUMN reporting.referral_history.to_state IS '新状态代码 state after';
COMMENT ON COLUMN reporting.referral_history.to_state_label IS '新状态 state after, in Chinese';
COMMENT ON COLUMN reporting.referral_history.action IS '操作 action';
COMMENT ON COLUMN reporting.referral_history.actor IS '操作人编号 who acted (principal id)';
COMMENT ON COLUMN reporting.referral_history.department_id IS '部门编号 department id';
COMMENT ON COLUMN reporting.referral_history.note IS '说明 note';
COMMENT ON COLUMN reporting.referral_history.at IS '时间 when';

CREATE VIEW reporting.retention_cases AS
SELECT id,
       uscc,
       building_id,
       colour,
       reporting.colour_label(colour) AS colour_label,
       state,
       CASE state WHEN 1 THEN '处理中' WHEN 2 THEN '已关闭' ELSE '未指定' END AS state_label,
       state = 1 AS open,
       response,
       reporting.instant(due_at) AS due_at,
       close_reason,
       rules_version,
       score,
       (SELECT coalesce(jsonb_agg(department_id ORDER BY position), '[]'::jsonb)
        FROM public.retention_case_departments WHERE case_id = retention_cases.id) AS department_ids,
       reporting.instant(created_at) AS created_at,
       reporting.instant(updated_at) AS updated_at,
       reporting.instant(closed_at) AS closed_at
FROM public.retention_cases;
COMMENT ON VIEW reporting.retention_cases IS '企业挽留工单 Retention cases';
COMMENT ON COLUMN reporting.retention_cases.id IS '工单编号 case id';
COMMENT ON COLUMN reporting.retention_cases.uscc IS '企业统一社会信用代码 enterprise USCC';
COMMENT ON COLUMN reporting.retention_cases.building_id IS '楼宇编号 building id';
COMMENT ON COLUMN reporting.retention_cases.colour IS '风险颜色代码（RiskColour） colour code';
COMMENT ON COLUMN reporting.retention_cases.colour_label IS '风险颜色 colour, in Chinese';
COMMENT ON COLUMN reporting.retention_cases.state IS '状态代码（1 处理中，2 已关闭） state code';
COMMENT ON COLUMN reporting.retention_cases.state_label IS '状态 state, in Chinese';
COMMENT ON COLUMN reporting.retention_cases.open IS '是否处理中 whether open';
COMMENT ON COLUMN reporting.retention_cases.response IS '响应要求 response';
COMMENT ON COLUMN reporting.retention_cases.due_at IS '响应时限 due at';
COMMENT ON COLUMN reporting.retention_cases.close_reason IS '关闭原因 close reason';
COMMENT ON COLUMN reporting.retention_cases.rules_version IS '规则版本 rules version';
COMMENT ON COLUMN reporting.retention_cases.score IS '风险分值 score';
COMMENT ON COLUMN reporting.retention_cases.department_ids IS '承办部门编号（首个牵头） department ids, the first leads';
COMMENT ON COLUMN reporting.retention_cases.created_at IS '创建时间 created at';
COMMENT ON COLUMN reporting.retention_cases.updated_at IS '更新时间 updated at';
COMMENT ON COLUMN reporting.retention_cases.closed_at IS '关闭时间 closed at';

CREATE VIEW reporting.notifications AS
SELECT id,
       kind,
       subject,
       state,
       CASE state WHEN 1 THEN '待发送' WHEN 2 THEN '已送达' WHEN 3 THEN '已放弃' ELSE '未指定' END AS state_label,
       attempts,
       reporting.instant(next_attempt_at) AS next_attempt_at,
       reporting.instant(created_at) AS created_at,
       reporting.instant(delivered_at) AS delivered_at,
       reporting.instant(updated_at) AS updated_at
FROM public.notifications;
COMMENT ON VIEW reporting.notifications IS '通知投递状态（不含通知正文与错误详情） Notification delivery status; body and error text omitted';
COMMENT ON COLUMN reporting.notifications.id IS '投递编号 delivery id';
COMMENT ON COLUMN reporting.notifications.kind IS '通知类型 kind';
COMMENT ON COLUMN reporting.notifications.subject IS '相关对象 subject (resource name)';
COMMENT ON COLUMN reporting.notifications.state IS '状态代码（NotificationState） state code';
COMMENT ON COLUMN reporting.notifications.state_label IS '状态 state, in Chinese';
COMMENT ON COLUMN reporting.notifications.attempts IS '尝试次数 attempts';
COMMENT ON COLUMN reporting.notifications.next_attempt_at IS '下次尝试时间 next attempt at';
COMMENT ON COLUMN reporting.notifications.created_at IS '创建时间 created at';
COMMENT ON COLUMN reporting.notifications.delivered_at IS '送达时间 delivered at';
COMMENT ON COLUMN reporting.notifications.updated_at IS '更新时间 updated at';

CREATE VIEW reporting.routing_rules_versions AS
SELECT version,
       active = 1 AS active,
       created_by,
       reporting.instant(created_at) AS created_at,
       document
FROM public.routing_rules_versions;
COMMENT ON VIEW reporting.routing_rules_versions IS '分拨规则版本 Routing rules, by version';
COMMENT ON COLUMN reporting.routing_rules_versions.version IS '版本 version';
COMMENT ON COLUMN reporting.routing_rules_versions.active IS '是否生效 whether in force';
COMMENT ON COLUMN reporting.routing_rules_versions.created_by IS '创建人编号 who created it (principal id)';
COMMENT ON COLUMN reporting.routing_rules_versions.created_at IS '创建时间 created at';
COMMENT ON COLUMN reporting.routing_rules_versions.document IS '规则文本（TOML） rules document (TOML)';

GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO louyu_reporting;
