//! The demo district, generated: pure data, no I/O. The same seed gives the
//! same district, so every first run loads the same buildings, enterprises,
//! staff and season; only the instants move with the day it is loaded (a
//! visit "40 days ago").
//!
//! Each enterprise is given a *profile*, what the season's visits observe
//! of it, chosen so that the risk service's default rules (docs/risk.md)
//! grade the district in all five colours: the colours themselves are the
//! risk service's, computed from what the visits and leases say.

use louyu_proto::common::v1::DemandCategory;
use louyu_proto::registry::v1::DepartmentKind;

/// The seed of the one demo district.
const SEED: u64 = 0x6c6f_7579_7564_656d;

/// SplitMix64: small, fast and fully determined by its seed, which is all
/// demo data needs (no cryptographic quality, no dependency).
pub struct Random(u64);

impl Random {
    pub fn new(seed: u64) -> Self {
        Random(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        mixed ^ (mixed >> 31)
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low + 1) as u64) as i64
    }

    /// True with `percent` per cent.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

pub struct SubDistrict {
    pub id: &'static str,
    pub display_name: &'static str,
    /// Its streets, for the buildings' addresses.
    pub streets: [&'static str; 3],
    /// The centre its buildings spread around, WGS-84.
    pub latitude: f64,
    pub longitude: f64,
}

/// Six of Jing'an's streets (街道), south to north, with their main roads.
pub const SUB_DISTRICTS: [SubDistrict; 6] = [
    SubDistrict {
        id: "nanjingxilu",
        display_name: "南京西路街道",
        streets: ["南京西路", "威海路", "石门一路"],
        latitude: 31.2290,
        longitude: 121.4560,
    },
    SubDistrict {
        id: "jingansi",
        display_name: "静安寺街道",
        streets: ["愚园路", "华山路", "常德路"],
        latitude: 31.2235,
        longitude: 121.4455,
    },
    SubDistrict {
        id: "jiangninglu",
        display_name: "江宁路街道",
        streets: ["江宁路", "昌平路", "武定路"],
        latitude: 31.2385,
        longitude: 121.4500,
    },
    SubDistrict {
        id: "shimenerlu",
        display_name: "石门二路街道",
        streets: ["新闸路", "石门二路", "北京西路"],
        latitude: 31.2345,
        longitude: 121.4625,
    },
    SubDistrict {
        id: "caojiadu",
        display_name: "曹家渡街道",
        streets: ["长寿路", "万航渡路", "康定路"],
        latitude: 31.2325,
        longitude: 121.4330,
    },
    SubDistrict {
        id: "tianmuxilu",
        display_name: "天目西路街道",
        streets: ["天目西路", "恒丰路", "共和路"],
        latitude: 31.2480,
        longitude: 121.4570,
    },
];

pub struct Building {
    pub id: String,
    pub display_name: String,
    pub address: String,
    pub latitude: f64,
    pub longitude: f64,
    pub floors_above_ground: i32,
    pub floors_below_ground: i32,
    /// An index into [`SUB_DISTRICTS`].
    pub sub_district: usize,
    pub property_manager: String,
    /// The field worker (`teacher-N`) assigned to it.
    pub field_worker: String,
}

pub struct Unit {
    /// An index into the district's buildings.
    pub building: usize,
    pub id: String,
    pub display_name: String,
    pub floor: i32,
    pub area_square_meters: f64,
}

/// What the season's visits observe of an enterprise: the risk service
/// turns it into a colour under the default rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Content, with a distant lease: green.
    Settled,
    /// A lease ending within a year, or a middling satisfaction: blue.
    Watch,
    /// Considering a move, or needing room the building lacks: yellow.
    Considering,
    /// Decided to move (a floor of orange), or considering while needing
    /// room: orange.
    Leaving,
    /// Decided to move, needing room, business and staff declining, unhappy:
    /// red.
    Critical,
}

pub struct Enterprise {
    pub uscc: String,
    pub display_name: String,
    pub industry: &'static str,
    pub headcount: i64,
    pub party_members: i64,
    /// An index into the district's units: its one tenancy.
    pub unit: usize,
    pub lease_start: (i32, u8, u8),
    /// Days from the day of loading to the last day of the lease.
    pub lease_days_left: i64,
    pub profile: Profile,
}

pub struct Staff {
    pub id: String,
    pub display_name: String,
    /// An index into [`SUB_DISTRICTS`]; none for district staff.
    pub sub_district: Option<usize>,
}

pub struct Department {
    pub id: String,
    pub display_name: String,
    pub kind: DepartmentKind,
    pub categories: Vec<DemandCategory>,
    /// An index into [`SUB_DISTRICTS`]; none for the whole district.
    pub sub_district: Option<usize>,
}

/// Where a referral of the season has got to by the day of loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Dispatched, never accepted.
    Requested,
    Accepted,
    Started,
    /// Done by the department, the enterprise not yet asked.
    Completed,
    /// The enterprise confirmed it solved.
    Confirmed,
}

pub struct DemandPlan {
    pub enterprise: usize,
    pub category: DemandCategory,
    pub description: &'static str,
    pub urgency: louyu_proto::visits::v1::Urgency,
    pub progress: Progress,
}

pub struct VisitPlan {
    pub building: usize,
    /// Days before the day of loading.
    pub days_ago: i64,
    /// Minutes after 09:00 Shanghai time.
    pub minute_of_day: i64,
    /// Indexes into the district's enterprises, each a tenant of the
    /// building.
    pub observed: Vec<usize>,
    pub demands: Vec<DemandPlan>,
}

pub struct District {
    pub buildings: Vec<Building>,
    pub units: Vec<Unit>,
    pub enterprises: Vec<Enterprise>,
    pub field_workers: Vec<Staff>,
    pub sub_district_admins: Vec<Staff>,
    pub district_staff: Vec<Staff>,
    pub departments: Vec<Department>,
    pub visits: Vec<VisitPlan>,
}

const BUILDING_COUNT: usize = 50;
const FLOORS_WITH_UNITS: i32 = 13;
const UNITS_PER_FLOOR: i32 = 4;
const ENTERPRISE_COUNT: usize = 2_000;
/// Visits each building had over the season.
const VISITS_PER_BUILDING: usize = 6;
/// The season: visits from this many days ago up to yesterday.
pub const SEASON_DAYS: i64 = 84;
const FIELD_WORKERS_PER_SUB_DISTRICT: usize = 2;

const BUILDING_STEMS: [&str; 25] = [
    "恒隆",
    "嘉里",
    "中信泰富",
    "越洋",
    "会德丰",
    "兴业太古",
    "晶品",
    "久光",
    "芮欧",
    "梅龙镇",
    "中欣",
    "华东",
    "锦沧",
    "海森",
    "达安",
    "金鹰",
    "协和",
    "东方",
    "宝华",
    "新理想",
    "荣宏",
    "长峰",
    "凯迪",
    "同乐",
    "静安",
];
const BUILDING_SUFFIXES: [&str; 4] = ["广场", "大厦", "中心", "国际大厦"];
const PROPERTY_MANAGERS: [&str; 5] = [
    "仲量联行物业管理（上海）有限公司",
    "世邦魏理仕物业管理服务（上海）有限公司",
    "上海陆家嘴物业管理有限公司",
    "上海静安置业物业管理有限公司",
    "第一太平戴维斯物业顾问（上海）有限公司",
];
const NAME_WORDS: [&str; 40] = [
    "瑞丰", "鼎信", "华创", "汇智", "星河", "博远", "启明", "德睿", "君安", "弘毅", "泰和", "嘉禾",
    "恒通", "卓越", "锦程", "云帆", "海纳", "正元", "安泰", "宏图", "晨曦", "睿思", "合众", "新航",
    "天成", "明德", "优联", "志远", "铭泰", "盛世", "金桥", "凯胜", "领航", "智汇", "融信", "东升",
    "永盛", "景华", "同创", "朗润",
];
/// Industries, each with the words its companies' names end in.
const INDUSTRIES: [(&str, &[&str]); 8] = [
    (
        "信息技术",
        &["信息科技", "网络科技", "软件技术", "数据科技"],
    ),
    ("金融业", &["投资管理", "资产管理", "融资租赁", "商业保理"]),
    (
        "商务服务业",
        &["企业管理咨询", "商务咨询", "人力资源", "品牌管理"],
    ),
    ("文化传媒", &["文化传播", "广告", "影视文化", "数字传媒"]),
    ("批发零售", &["贸易", "国际贸易", "供应链管理", "商贸"]),
    (
        "专业技术服务",
        &["建筑设计", "工程咨询", "检测技术", "知识产权代理"],
    ),
    (
        "医药健康",
        &["医药科技", "生物科技", "医疗器械", "健康管理"],
    ),
    (
        "教育培训",
        &["教育科技", "培训", "职业技能培训", "教育信息咨询"],
    ),
];
const SURNAMES: [&str; 20] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "高",
];
const GIVEN_NAMES: [&str; 20] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明",
    "超", "秀英", "华", "慧",
];

/// What enterprises ask for, by category, as a field worker writes it down.
const DEMANDS: [(DemandCategory, &[&str]); 10] = [
    (
        DemandCategory::OfficeSpace,
        &[
            "业务扩张，需要增加约300平方米办公面积",
            "希望在本区内找到租金更合适的办公楼层",
        ],
    ),
    (
        DemandCategory::RegistrationLicensing,
        &[
            "新设分公司，咨询营业执照办理流程",
            "经营范围变更登记需要指导",
        ],
    ),
    (
        DemandCategory::Tax,
        &["咨询研发费用加计扣除政策", "跨区迁入后的税务登记衔接问题"],
    ),
    (
        DemandCategory::Financing,
        &["希望对接区内科技金融贷款产品", "寻求政策性融资担保支持"],
    ),
    (
        DemandCategory::TalentHousehold,
        &["引进人才落户申请材料咨询", "员工子女入学政策咨询"],
    ),
    (
        DemandCategory::PolicyConsultation,
        &["咨询总部企业认定及扶持政策", "了解区级产业扶持资金申报条件"],
    ),
    (
        DemandCategory::PropertyFacilities,
        &["楼宇空调夜间加班供冷申请", "地下车库车位不足，希望协调"],
    ),
    (
        DemandCategory::Safety,
        &["消防通道被占用，请求协调处理", "希望组织员工消防安全培训"],
    ),
    (
        DemandCategory::Legal,
        &["劳动合同纠纷，需要法律咨询", "商业合同审查需要公共法律服务"],
    ),
    (
        DemandCategory::Other,
        &["希望楼宇增设共享会议室", "咨询楼宇党群服务站活动安排"],
    ),
];

/// The demo district. Calling it twice gives the same district.
pub fn generate() -> District {
    let mut random = Random::new(SEED);
    let buildings = buildings(&mut random);
    let units = units(&mut random, &buildings);
    let enterprises = enterprises(&mut random, &units);
    let field_workers = (0..SUB_DISTRICTS.len() * FIELD_WORKERS_PER_SUB_DISTRICT)
        .map(|index| Staff {
            id: format!("teacher-{}", index + 1),
            display_name: person_name(&mut random),
            sub_district: Some(index / FIELD_WORKERS_PER_SUB_DISTRICT),
        })
        .collect();
    let sub_district_admins = (0..SUB_DISTRICTS.len())
        .map(|index| Staff {
            id: format!("street-admin-{}", index + 1),
            display_name: person_name(&mut random),
            sub_district: Some(index),
        })
        .collect();
    let district_staff = ["district-admin-1", "auditor-1"]
        .into_iter()
        .map(|id| Staff {
            id: id.to_owned(),
            display_name: person_name(&mut random),
            sub_district: None,
        })
        .collect();
    let visits = season(&mut random, &buildings, &units, &enterprises);
    District {
        buildings,
        units,
        enterprises,
        field_workers,
        sub_district_admins,
        district_staff,
        departments: departments(),
        visits,
    }
}

fn person_name(random: &mut Random) -> String {
    format!("{}{}", random.pick(&SURNAMES), random.pick(&GIVEN_NAMES))
}

fn buildings(random: &mut Random) -> Vec<Building> {
    (0..BUILDING_COUNT)
        .map(|index| {
            let sub_district = index % SUB_DISTRICTS.len();
            let home = &SUB_DISTRICTS[sub_district];
            let stem = BUILDING_STEMS[index % BUILDING_STEMS.len()];
            let suffix = BUILDING_SUFFIXES[(index + index / BUILDING_STEMS.len()) % 4];
            // Within about 400 m of the sub-district's centre.
            let latitude = home.latitude + (random.between(-40, 40) as f64) / 10_000.0;
            let longitude = home.longitude + (random.between(-45, 45) as f64) / 10_000.0;
            // The buildings of a sub-district take turns between its field
            // workers.
            let worker_in_sub_district =
                (index / SUB_DISTRICTS.len()) % FIELD_WORKERS_PER_SUB_DISTRICT;
            Building {
                id: format!("b-{:02}", index + 1),
                display_name: format!("{stem}{suffix}"),
                address: format!(
                    "上海市静安区{}{}号",
                    random.pick(&home.streets),
                    random.between(10, 1800)
                ),
                latitude,
                longitude,
                floors_above_ground: random.between(FLOORS_WITH_UNITS as i64 + 4, 66) as i32,
                floors_below_ground: random.between(1, 4) as i32,
                sub_district,
                property_manager: random.pick(&PROPERTY_MANAGERS).to_string(),
                field_worker: format!(
                    "teacher-{}",
                    sub_district * FIELD_WORKERS_PER_SUB_DISTRICT + worker_in_sub_district + 1
                ),
            }
        })
        .collect()
}

fn units(random: &mut Random, buildings: &[Building]) -> Vec<Unit> {
    let mut units = Vec::new();
    for building in 0..buildings.len() {
        for floor in 5..5 + FLOORS_WITH_UNITS {
            for number in 1..=UNITS_PER_FLOOR {
                units.push(Unit {
                    building,
                    id: format!("{floor:02}{number:02}"),
                    display_name: format!("{floor}F-{number:02}"),
                    floor,
                    area_square_meters: random.between(8, 60) as f64 * 10.0,
                });
            }
        }
    }
    units
}

/// The valid code of the `index`-th demo enterprise: registered in Jing'an
/// (310106), a new-style organisation code, unique per index.
pub fn uscc(index: u64) -> String {
    const CHARACTERS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    // Spread the indexes over the codes, the same for every run.
    let mut value = index * 7_919 + 104_729;
    let mut code = String::new();
    for _ in 0..6 {
        code.insert(0, CHARACTERS[(value % 31) as usize] as char);
        value /= 31;
    }
    louyu_kit::uscc::with_check_character(&format!("91310106MA1{code}"))
}

fn enterprises(random: &mut Random, units: &[Unit]) -> Vec<Enterprise> {
    // Every fifth unit stays vacant, for office-space referrals to offer.
    let leased: Vec<usize> = (0..units.len()).filter(|unit| unit % 5 != 4).collect();
    let count = ENTERPRISE_COUNT.min(leased.len());
    // Spread over every building: the `index`-th enterprise takes the
    // leased unit as far along as it is along the enterprises (an
    // injective map, as there are at least as many units), so the last
    // buildings are not left empty.
    let spread = |index: usize| leased[index * leased.len() / count];
    (0..count)
        .map(|index| {
            let (industry, endings) = *random.pick(&INDUSTRIES);
            let prefix = *random.pick(&["上海", "上海", "上海静安", "上海"]);
            let first = random.pick(&NAME_WORDS);
            let display_name = if random.chance(30) {
                format!(
                    "{prefix}{first}{}{}有限公司",
                    random.pick(&NAME_WORDS),
                    random.pick(endings)
                )
            } else {
                format!("{prefix}{first}{}有限公司", random.pick(endings))
            };
            let roll = random.below(100);
            let profile = match roll {
                0..=3 => Profile::Critical,
                4..=10 => Profile::Leaving,
                11..=23 => Profile::Considering,
                24..=43 => Profile::Watch,
                _ => Profile::Settled,
            };
            // Leases that end soon go with the unsettled profiles.
            let lease_days_left = match profile {
                Profile::Critical => random.between(20, 80),
                Profile::Watch if random.chance(50) => random.between(200, 330),
                _ => random.between(420, 1_500),
            };
            let headcount = random.between(5, 480);
            Enterprise {
                uscc: uscc(index as u64),
                display_name,
                industry,
                headcount,
                party_members: headcount / random.between(8, 30),
                unit: spread(index),
                lease_start: (
                    random.between(2020, 2025) as i32,
                    random.between(1, 12) as u8,
                    1,
                ),
                lease_days_left,
                profile,
            }
        })
        .collect()
}

fn departments() -> Vec<Department> {
    use DemandCategory::*;
    let mut departments: Vec<Department> = SUB_DISTRICTS
        .iter()
        .enumerate()
        .map(|(index, sub_district)| Department {
            id: format!("office-{}", sub_district.id),
            display_name: format!("{}办事处", sub_district.display_name),
            kind: DepartmentKind::SubDistrictOffice,
            categories: vec![
                OfficeSpace,
                PolicyConsultation,
                PropertyFacilities,
                Safety,
                Legal,
                Other,
            ],
            sub_district: Some(index),
        })
        .collect();
    let district = |id: &str, display_name: &str, kind, categories| Department {
        id: id.to_owned(),
        display_name: display_name.to_owned(),
        kind,
        categories,
        sub_district: None,
    };
    departments.extend([
        district(
            "investment",
            "区投资促进办公室",
            DepartmentKind::DistrictInvestmentOffice,
            vec![OfficeSpace, Financing],
        ),
        // `tax` is the department of the printed department officer's token.
        district("tax", "区税务局", DepartmentKind::Tax, vec![Tax]),
        district(
            "market",
            "区市场监督管理局",
            DepartmentKind::MarketRegulation,
            vec![RegistrationLicensing],
        ),
        district(
            "hr",
            "区人力资源和社会保障局",
            DepartmentKind::HumanResources,
            vec![TalentHousehold],
        ),
        district(
            "property",
            "区房屋管理局物业科",
            DepartmentKind::PropertyManager,
            vec![PropertyFacilities],
        ),
    ]);
    departments
}

fn season(
    random: &mut Random,
    buildings: &[Building],
    units: &[Unit],
    enterprises: &[Enterprise],
) -> Vec<VisitPlan> {
    let mut tenants: Vec<Vec<usize>> = vec![Vec::new(); buildings.len()];
    for (index, enterprise) in enterprises.iter().enumerate() {
        tenants[units[enterprise.unit].building].push(index);
    }
    let mut visits = Vec::new();
    for (building, tenants) in tenants.iter().enumerate() {
        for round in 0..VISITS_PER_BUILDING {
            // Rounds two weeks apart, the buildings staggered over the
            // fortnight, the last round within the last fortnight.
            let spacing = SEASON_DAYS / VISITS_PER_BUILDING as i64;
            let days_ago = SEASON_DAYS - round as i64 * spacing - (building as i64 % spacing);
            let observed: Vec<usize> = tenants
                .iter()
                .enumerate()
                .filter(|(position, _)| position % VISITS_PER_BUILDING == round)
                .map(|(_, enterprise)| *enterprise)
                .collect();
            let mut demands = Vec::new();
            let mut categories_used = Vec::new();
            for enterprise in &observed {
                if !random.chance(22) {
                    continue;
                }
                let (category, descriptions) = DEMANDS[random.below(DEMANDS.len() as u64) as usize];
                // One open demand per enterprise and category: a second
                // would be linked to the first instead of raised.
                if categories_used.contains(&(*enterprise, category)) {
                    continue;
                }
                categories_used.push((*enterprise, category));
                let urgency = match random.below(10) {
                    0..=1 => louyu_proto::visits::v1::Urgency::Low,
                    2..=6 => louyu_proto::visits::v1::Urgency::Normal,
                    7..=8 => louyu_proto::visits::v1::Urgency::High,
                    _ => louyu_proto::visits::v1::Urgency::Critical,
                };
                // Older demands have got further.
                let progress = match (days_ago > 10, random.below(100)) {
                    (true, 0..=44) => Progress::Confirmed,
                    (true, 45..=59) => Progress::Completed,
                    (true, 60..=74) => Progress::Started,
                    (true, 75..=84) => Progress::Accepted,
                    (true, _) => Progress::Requested,
                    (false, 0..=29) => Progress::Accepted,
                    (false, 30..=49) => Progress::Started,
                    (false, _) => Progress::Requested,
                };
                let description: &'static str = random.pick::<&'static str>(descriptions);
                demands.push(DemandPlan {
                    enterprise: *enterprise,
                    category,
                    description,
                    urgency,
                    progress,
                });
            }
            visits.push(VisitPlan {
                building,
                days_ago: days_ago.max(1),
                minute_of_day: random.between(30, 7 * 60),
                observed,
                demands,
            });
        }
    }
    visits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_district_is_the_same_every_time() {
        let first = generate();
        let second = generate();
        assert_eq!(first.enterprises.len(), second.enterprises.len());
        for (one, other) in first.enterprises.iter().zip(&second.enterprises) {
            assert_eq!(one.uscc, other.uscc);
            assert_eq!(one.display_name, other.display_name);
            assert_eq!(one.profile, other.profile);
        }
        assert_eq!(first.visits.len(), second.visits.len());
    }

    #[test]
    fn every_enterprise_has_a_valid_and_unique_code() {
        let district = generate();
        assert_eq!(district.enterprises.len(), ENTERPRISE_COUNT);
        let mut codes = std::collections::HashSet::new();
        for enterprise in &district.enterprises {
            louyu_kit::uscc::Uscc::parse("uscc", &enterprise.uscc).expect("a valid code");
            assert!(
                codes.insert(enterprise.uscc.clone()),
                "{} twice",
                enterprise.uscc
            );
        }
    }

    #[test]
    fn the_first_enterprise_is_the_one_the_up_tests_name_in_building_b_01() {
        let district = generate();
        assert_eq!(district.enterprises[0].uscc, "91310106MA1003FYBW");
        let unit = &district.units[district.enterprises[0].unit];
        assert_eq!(district.buildings[unit.building].id, "b-01");
        assert_eq!(district.buildings[unit.building].field_worker, "teacher-1");
    }

    #[test]
    fn every_building_has_tenants() {
        let district = generate();
        for (index, building) in district.buildings.iter().enumerate() {
            let tenants = district
                .enterprises
                .iter()
                .filter(|enterprise| district.units[enterprise.unit].building == index)
                .count();
            assert!(tenants >= 30, "{} has {tenants} tenants", building.id);
        }
    }

    #[test]
    fn every_unit_has_at_most_one_tenant_and_every_profile_occurs() {
        let district = generate();
        let mut units = std::collections::HashSet::new();
        for enterprise in &district.enterprises {
            assert!(units.insert(enterprise.unit));
        }
        for profile in [
            Profile::Settled,
            Profile::Watch,
            Profile::Considering,
            Profile::Leaving,
            Profile::Critical,
        ] {
            assert!(
                district
                    .enterprises
                    .iter()
                    .any(|enterprise| enterprise.profile == profile)
            );
        }
    }
}
