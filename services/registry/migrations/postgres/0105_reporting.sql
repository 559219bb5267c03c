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

-- The registry's views. The deployment serves one district, so there is no
-- districts table: every row belongs to the district the service serves.

CREATE VIEW reporting.sub_districts AS
SELECT id,
       display_name,
       kind,
       CASE kind WHEN 1 THEN '街道' WHEN 2 THEN '镇' ELSE '未指定' END AS kind_label,
       reporting.instant(created_at) AS created_at,
       reporting.instant(updated_at) AS updated_at
FROM public.sub_districts;
COMMENT ON VIEW reporting.sub_districts IS '街道/镇 Sub-districts (streets and towns)';
COMMENT ON COLUMN reporting.sub_districts.id IS '街道/镇编号 sub-district id';
COMMENT ON COLUMN reporting.sub_districts.display_name IS '名称 name';
COMMENT ON COLUMN reporting.sub_districts.kind IS '类型代码（1 街道，2 镇） kind code (SubDistrictKind)';
COMMENT ON COLUMN reporting.sub_districts.kind_label IS '类型 kind, in Chinese';
COMMENT ON COLUMN reporting.sub_districts.created_at IS '创建时间 created at';
COMMENT ON COLUMN reporting.sub_districts.updated_at IS '更新时间 updated at';

CREATE VIEW reporting.buildings AS
SELECT id,
       display_name,
       address,
       latitude,
       longitude,
       floors_above_ground,
       floors_below_ground,
       managing_sub_district AS sub_district_id,
       property_manager,
       reporting.instant(created_at) AS created_at,
       reporting.instant(updated_at) AS updated_at
FROM public.buildings;
COMMENT ON VIEW reporting.buildings IS '楼宇 Buildings';
COMMENT ON COLUMN reporting.buildings.id IS '楼宇编号 building id';
COMMENT ON COLUMN reporting.buildings.display_name IS '楼宇名称 name';
COMMENT ON COLUMN reporting.buildings.address IS '地址 address';
COMMENT ON COLUMN reporting.buildings.latitude IS '纬度（GCJ-02） latitude';
COMMENT ON COLUMN reporting.buildings.longitude IS '经度（GCJ-02） longitude';
COMMENT ON COLUMN reporting.buildings.floors_above_ground IS '地上层数 floors above ground';
COMMENT ON COLUMN reporting.buildings.floors_below_ground IS '地下层数 floors below ground';
COMMENT ON COLUMN reporting.buildings.sub_district_id IS '管理街道/镇编号 managing sub-district id';
COMMENT ON COLUMN reporting.buildings.property_manager IS '物业公司 property management company';
COMMENT ON COLUMN reporting.buildings.created_at IS '创建时间 created at';
COMMENT ON COLUMN reporting.buildings.updated_at IS '更新时间 updated at';

CREATE VIEW reporting.units AS
SELECT building_id,
       id AS unit_id,
       display_name,
       floor,
       area AS area_square_meters,
       reporting.instant(created_at) AS created_at,
       reporting.instant(updated_at) AS updated_at
FROM public.units;
COMMENT ON VIEW reporting.units IS '楼宇单元 Units of buildings';
COMMENT ON COLUMN reporting.units.building_id IS '楼宇编号 building id';
COMMENT ON COLUMN reporting.units.unit_id IS '单元编号 unit id, unique within its building';
COMMENT ON COLUMN reporting.units.display_name IS '单元名称 name';
COMMENT ON COLUMN reporting.units.floor IS '楼层 floor';
COMMENT ON COLUMN reporting.units.area_square_meters IS '面积（平方米） area in m²';
COMMENT ON COLUMN reporting.units.created_at IS '创建时间 created at';
COMMENT ON COLUMN reporting.units.updated_at IS '更新时间 updated at';

CREATE VIEW reporting.enterprises AS
SELECT uscc,
       display_name,
       industry,
       headcount,
       party_members,
       (SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'person_name', reporting.mask_name(contact ->> 'person_name'),
                   'title', coalesce(contact ->> 'title', ''),
                   'phone', reporting.mask_phone(coalesce(contact ->> 'phone', ''))) ORDER BY position), '[]'::jsonb)
        FROM jsonb_array_elements(contacts::jsonb) WITH ORDINALITY AS listed (contact, position)) AS contacts,
       jsonb_array_length(contacts::jsonb) AS contact_count,
       status,
       CASE status WHEN 1 THEN '在册' WHEN 2 THEN '已迁出' WHEN 3 THEN '已注销' ELSE '未指定' END AS status_label,
       registered_address,
       reporting.instant(created_at) AS created_at,
       reporting.instant(updated_at) AS updated_at
FROM public.enterprises;
COMMENT ON VIEW reporting.enterprises IS '企业（联系人已脱敏） Enterprises, contacts masked';
COMMENT ON COLUMN reporting.enterprises.uscc IS '统一社会信用代码 unified social credit code';
COMMENT ON COLUMN reporting.enterprises.display_name IS '企业名称 name';
COMMENT ON COLUMN reporting.enterprises.industry IS '行业 industry';
COMMENT ON COLUMN reporting.enterprises.headcount IS '从业人数 headcount';
COMMENT ON COLUMN reporting.enterprises.party_members IS '党员人数 party members';
COMMENT ON COLUMN reporting.enterprises.contacts IS '联系人（姓名、电话已脱敏，不含邮箱） contacts: name and phone masked, e-mail omitted';
COMMENT ON COLUMN reporting.enterprises.contact_count IS '联系人数量 number of contacts';
COMMENT ON COLUMN reporting.enterprises.status IS '状态代码（1 在册，2 已迁出，3 已注销） status code (EnterpriseStatus)';
COMMENT ON COLUMN reporting.enterprises.status_label IS '状态 status, in Chinese';
COMMENT ON COLUMN reporting.enterprises.registered_address IS '注册地址 registered address';
COMMENT ON COLUMN reporting.enterprises.created_at IS '创建时间 created at';
COMMENT ON COLUMN reporting.enterprises.updated_at IS '更新时间 updated at';

CREATE VIEW reporting.tenancies AS
SELECT id,
       uscc,
       building_id,
       unit_id,
       area AS area_square_meters,
       lease_start::date AS lease_start,
       lease_end::date AS lease_end,
       active = 1 AS active,
       NULLIF(end_date, '')::date AS end_date,
       end_reason,
       reporting.instant(created_at) AS created_at,
       reporting.instant(updated_at) AS updated_at
FROM public.tenancies;
COMMENT ON VIEW reporting.tenancies IS '租赁（入驻） Tenancies (leases); a move ends one and starts another';
COMMENT ON COLUMN reporting.tenancies.id IS '租赁编号 tenancy id';
COMMENT ON COLUMN reporting.tenancies.uscc IS '企业统一社会信用代码 enterprise USCC';
COMMENT ON COLUMN reporting.tenancies.building_id IS '楼宇编号 building id';
COMMENT ON COLUMN reporting.tenancies.unit_id IS '单元编号 unit id';
COMMENT ON COLUMN reporting.tenancies.area_square_meters IS '租赁面积（平方米） leased area in m²';
COMMENT ON COLUMN reporting.tenancies.lease_start IS '租期开始日期 lease start date';
COMMENT ON COLUMN reporting.tenancies.lease_end IS '租期结束日期 lease end date';
COMMENT ON COLUMN reporting.tenancies.active IS '是否在租 whether the tenancy is current';
COMMENT ON COLUMN reporting.tenancies.end_date IS '实际结束日期 date the tenancy ended';
COMMENT ON COLUMN reporting.tenancies.end_reason IS '结束原因 why it ended';
COMMENT ON COLUMN reporting.tenancies.created_at IS '创建时间 created at';
COMMENT ON COLUMN reporting.tenancies.updated_at IS '更新时间 updated at';

CREATE VIEW reporting.staff AS
SELECT id,
       reporting.mask_name(display_name) AS display_name,
       reporting.mask_phone(phone) AS phone,
       sub_district AS sub_district_id,
       active = 1 AS active,
       reporting.instant(created_at) AS created_at,
       reporting.instant(updated_at) AS updated_at
FROM public.staff;
COMMENT ON VIEW reporting.staff IS '工作人员（姓名、电话已脱敏） Staff, name and phone masked';
COMMENT ON COLUMN reporting.staff.id IS '人员编号 staff id';
COMMENT ON COLUMN reporting.staff.display_name IS '姓名（脱敏，如 张*） name, masked';
COMMENT ON COLUMN reporting.staff.phone IS '电话（脱敏，如 138****1234） phone, masked';
COMMENT ON COLUMN reporting.staff.sub_district_id IS '所属街道/镇编号 sub-district id';
COMMENT ON COLUMN reporting.staff.active IS '是否在岗 whether active';
COMMENT ON COLUMN reporting.staff.created_at IS '创建时间 created at';
COMMENT ON COLUMN reporting.staff.updated_at IS '更新时间 updated at';

CREATE VIEW reporting.assignments AS
SELECT id,
       staff_id,
       building_id,
       uscc,
       role,
       CASE role WHEN 1 THEN '楼宇服务专员' WHEN 2 THEN '党建指导员' WHEN 3 THEN '经济服务专员'
                 WHEN 4 THEN '安全专员' WHEN 5 THEN '市场监管专员' ELSE '未指定' END AS role_label,
       reporting.instant(created_at) AS created_at
FROM public.assignments;
COMMENT ON VIEW reporting.assignments IS '服务分工 Assignments of staff to buildings and enterprises';
COMMENT ON COLUMN reporting.assignments.id IS '分工编号 assignment id';
COMMENT ON COLUMN reporting.assignments.staff_id IS '人员编号 staff id';
COMMENT ON COLUMN reporting.assignments.building_id IS '楼宇编号 building id';
COMMENT ON COLUMN reporting.assignments.uscc IS '企业统一社会信用代码（空为整栋楼宇） enterprise USCC, NULL for the whole building';
COMMENT ON COLUMN reporting.assignments.role IS '角色代码（AssignmentRole） role code';
COMMENT ON COLUMN reporting.assignments.role_label IS '角色 role, in Chinese';
COMMENT ON COLUMN reporting.assignments.created_at IS '创建时间 created at';

CREATE VIEW reporting.departments AS
SELECT id,
       display_name,
       kind,
       CASE kind WHEN 1 THEN '街道办事处' WHEN 2 THEN '区投资促进办' WHEN 3 THEN '税务'
                 WHEN 4 THEN '市场监管' WHEN 5 THEN '人力资源' WHEN 6 THEN '物业' ELSE '未指定' END AS kind_label,
       office_phone,
       (SELECT coalesce(jsonb_agg(category ORDER BY category), '[]'::jsonb)
        FROM public.department_categories WHERE department_id = departments.id) AS categories,
       (SELECT coalesce(jsonb_agg(sub_district_id ORDER BY sub_district_id), '[]'::jsonb)
        FROM public.department_jurisdictions WHERE department_id = departments.id) AS jurisdiction,
       reporting.instant(created_at) AS created_at,
       reporting.instant(updated_at) AS updated_at
FROM public.departments;
COMMENT ON VIEW reporting.departments IS '职能部门 Departments that referrals go to';
COMMENT ON COLUMN reporting.departments.id IS '部门编号 department id';
COMMENT ON COLUMN reporting.departments.display_name IS '部门名称 name';
COMMENT ON COLUMN reporting.departments.kind IS '类型代码（DepartmentKind） kind code';
COMMENT ON COLUMN reporting.departments.kind_label IS '类型 kind, in Chinese';
COMMENT ON COLUMN reporting.departments.office_phone IS '办公电话（单位电话，非个人） office phone, not personal';
COMMENT ON COLUMN reporting.departments.categories IS '受理诉求类别代码 demand category codes it handles (JSON array)';
COMMENT ON COLUMN reporting.departments.jurisdiction IS '管辖街道/镇编号（空为全区） sub-districts served, empty for the whole district';
COMMENT ON COLUMN reporting.departments.created_at IS '创建时间 created at';
COMMENT ON COLUMN reporting.departments.updated_at IS '更新时间 updated at';

CREATE VIEW reporting.council_members AS
SELECT id,
       building_id,
       reporting.mask_name(contact::jsonb ->> 'person_name') AS person_name,
       title,
       council_role,
       CASE council_role WHEN 1 THEN '联合党组织书记' WHEN 2 THEN '物业负责人' WHEN 3 THEN '服务站站长'
                         WHEN 4 THEN '企业党组织书记' WHEN 5 THEN '企业行政负责人' WHEN 6 THEN '职工代表'
                         ELSE '未指定' END AS council_role_label,
       organisation_kind,
       CASE organisation_kind WHEN 1 THEN '企业' WHEN 2 THEN '物业公司' WHEN 3 THEN '服务站' ELSE '未指定' END
           AS organisation_kind_label,
       NULLIF(organisation_enterprise, '') AS organisation_uscc,
       organisation_name,
       term_start::date AS term_start,
       NULLIF(term_end, '')::date AS term_end,
       reporting.instant(created_at) AS created_at,
       reporting.instant(updated_at) AS updated_at
FROM public.council_members;
COMMENT ON VIEW reporting.council_members IS '楼事会成员（姓名已脱敏，不含电话） Building council members: name masked, phone and e-mail omitted';
COMMENT ON COLUMN reporting.council_members.id IS '成员编号 member id';
COMMENT ON COLUMN reporting.council_members.building_id IS '楼宇编号 building id';
COMMENT ON COLUMN reporting.council_members.person_name IS '姓名（脱敏） name, masked';
COMMENT ON COLUMN reporting.council_members.title IS '职务 title';
COMMENT ON COLUMN reporting.council_members.council_role IS '楼事会角色代码（CouncilRole） council role code';
COMMENT ON COLUMN reporting.council_members.council_role_label IS '楼事会角色 council role, in Chinese';
COMMENT ON COLUMN reporting.council_members.organisation_kind IS '所在单位类型代码（OrganisationKind） organisation kind code';
COMMENT ON COLUMN reporting.council_members.organisation_kind_label IS '所在单位类型 organisation kind, in Chinese';
COMMENT ON COLUMN reporting.council_members.organisation_uscc IS '所在企业统一社会信用代码 USCC of the enterprise, when one';
COMMENT ON COLUMN reporting.council_members.organisation_name IS '所在单位名称 organisation name';
COMMENT ON COLUMN reporting.council_members.term_start IS '任期开始 term start';
COMMENT ON COLUMN reporting.council_members.term_end IS '任期结束 term end';
COMMENT ON COLUMN reporting.council_members.created_at IS '创建时间 created at';
COMMENT ON COLUMN reporting.council_members.updated_at IS '更新时间 updated at';

CREATE VIEW reporting.chief_appointments AS
SELECT id,
       building_id,
       council_member_id,
       staff_id,
       state,
       CASE state WHEN 1 THEN '已提名' WHEN 2 THEN '公示中' WHEN 3 THEN '有异议' WHEN 4 THEN '在任'
                  WHEN 5 THEN '已卸任' WHEN 6 THEN '已撤回' ELSE '未指定' END AS state_label,
       reporting.instant(nominated_at) AS nominated_at,
       reporting.instant(appointed_at) AS appointed_at,
       reporting.instant(ended_at) AS ended_at,
       end_reason
FROM public.chief_appointments;
COMMENT ON VIEW reporting.chief_appointments IS '楼长提名与任期（不含联系方式、公示与异议明细） Building chief nominations and terms; contact, notices and objections omitted';
COMMENT ON COLUMN reporting.chief_appointments.id IS '任命编号 appointment id';
COMMENT ON COLUMN reporting.chief_appointments.building_id IS '楼宇编号 building id';
COMMENT ON COLUMN reporting.chief_appointments.council_member_id IS '楼事会成员编号 council member id';
COMMENT ON COLUMN reporting.chief_appointments.staff_id IS '相关人员编号 staff id of the appointment';
COMMENT ON COLUMN reporting.chief_appointments.state IS '状态代码（ChiefAppointmentState） state code';
COMMENT ON COLUMN reporting.chief_appointments.state_label IS '状态 state, in Chinese';
COMMENT ON COLUMN reporting.chief_appointments.nominated_at IS '提名时间 nominated at';
COMMENT ON COLUMN reporting.chief_appointments.appointed_at IS '任命时间 appointed at';
COMMENT ON COLUMN reporting.chief_appointments.ended_at IS '结束时间 ended at';
COMMENT ON COLUMN reporting.chief_appointments.end_reason IS '结束原因 why it ended';

CREATE VIEW reporting.projects AS
SELECT id,
       building_id,
       title,
       description,
       state,
       CASE state WHEN 1 THEN '已提出' WHEN 2 THEN '已讨论' WHEN 3 THEN '已通过' WHEN 4 THEN '实施中'
                  WHEN 5 THEN '已完成' WHEN 6 THEN '已放弃' ELSE '未指定' END AS state_label,
       drop_reason,
       reporting.instant(created_at) AS created_at,
       reporting.instant(updated_at) AS updated_at
FROM public.projects;
COMMENT ON VIEW reporting.projects IS '楼宇项目（不含提出人与参与人） Building projects; proposer and participants omitted';
COMMENT ON COLUMN reporting.projects.id IS '项目编号 project id';
COMMENT ON COLUMN reporting.projects.building_id IS '楼宇编号 building id';
COMMENT ON COLUMN reporting.projects.title IS '项目名称 title';
COMMENT ON COLUMN reporting.projects.description IS '项目说明 description';
COMMENT ON COLUMN reporting.projects.state IS '状态代码（ProjectState） state code';
COMMENT ON COLUMN reporting.projects.state_label IS '状态 state, in Chinese';
COMMENT ON COLUMN reporting.projects.drop_reason IS '放弃原因 why it was dropped';
COMMENT ON COLUMN reporting.projects.created_at IS '创建时间 created at';
COMMENT ON COLUMN reporting.projects.updated_at IS '更新时间 updated at';

GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO louyu_reporting;
