// The screen's words, Simplified Chinese first, English beside; the choice
// is kept in localStorage.
const WORDS = {
  title: ['楼宇经济 · 实时大屏', 'Louyu · live screen'],
  openDemands: ['待办诉求', 'Open demands'],
  pastDeadline: ['超期', 'Past deadline'],
  enterprises: ['企业', 'Enterprises'],
  buildings: ['楼宇', 'Buildings'],
  demandsByCategory: ['待办诉求（按类别）', 'Open demands by category'],
  colourDistribution: ['五色分布', 'Five colours'],
  map: ['楼宇分布（点击查看楼宇）', 'Buildings (click to open)'],
  bySubDistrict: ['各街道五色分布', 'Colours by sub-district'],
  byBuilding: ['各楼宇五色分布', 'Colours by building'],
  newDemands: ['今日新增诉求', 'New demands today'],
  changedToday: ['今日颜色变化企业', 'Colour changes today'],
  overdueByDepartment: ['超期转办（按部门）', 'Overdue referrals by department'],
  liveFeed: ['实时动态', 'Live feed'],
  close: ['关闭', 'Close'],
  council: ['楼宇议事会', 'Building council'],
  needs: ['需求清单', 'Needs'],
  resources: ['资源清单', 'Resources'],
  projects: ['项目清单', 'Projects'],
  buildingEnterprises: ['企业及颜色', 'Enterprises and colours'],
  open: ['待办', 'Open'],
  overdue: ['超期', 'Overdue'],
  live: ['实时', 'Live'],
  polling: ['轮询', 'Polling'],
  connecting: ['连接中', 'Connecting'],
  offline: ['已断开，重连中', 'Offline, reconnecting'],
  login: ['请登录', 'Please log in'],
  logIn: ['登录 Log in', 'Log in'],
  logOut: ['退出 Log out', 'Log out'],
  none: ['暂无', 'None'],
  omitted: ['无权查看或暂不可用', 'Not visible to you or unavailable'],
  newDemand: ['新诉求', 'New demand'],
  colourChange: ['颜色变化', 'Colour change'],
  referralResolved: ['转办办结', 'Referral resolved'],
  event: ['事件', 'Event'],
  otherLang: ['English', '中文'],
  error: ['读取失败', 'Could not load'],
  GREEN: ['绿', 'Green'],
  BLUE: ['蓝', 'Blue'],
  YELLOW: ['黄', 'Yellow'],
  ORANGE: ['橙', 'Orange'],
  RED: ['红', 'Red'],
  OFFICE_SPACE: ['办公空间', 'Office space'],
  REGISTRATION_LICENSING: ['登记许可', 'Registration'],
  TAX: ['税务', 'Tax'],
  FINANCING: ['融资', 'Financing'],
  TALENT_HOUSEHOLD: ['人才落户', 'Talent & hukou'],
  POLICY_CONSULTATION: ['政策咨询', 'Policy'],
  PROPERTY_FACILITIES: ['物业设施', 'Property'],
  SAFETY: ['安全', 'Safety'],
  LEGAL: ['法律', 'Legal'],
  OTHER: ['其他', 'Other'],
};

const KEY = 'louyu.screen.lang';

export function language() {
  return localStorage.getItem(KEY) === 'en' ? 'en' : 'zh';
}

export function setLanguage(lang) {
  localStorage.setItem(KEY, lang === 'en' ? 'en' : 'zh');
}

/** The word for `key` in the chosen language, or the key itself. */
export function t(key) {
  const pair = WORDS[key];
  if (!pair) return key;
  return language() === 'en' ? pair[1] : pair[0];
}

/** Sets the text of every `data-i18n` element. */
export function applyWords(root = document) {
  document.documentElement.lang = language() === 'en' ? 'en' : 'zh-CN';
  for (const element of root.querySelectorAll('[data-i18n]')) {
    element.textContent = t(element.dataset.i18n);
  }
}
