// The live screen: reads the district over the gateway's REST routes as the
// viewer (cookie session, or a bearer token given as `#token=…`), draws it
// with ECharts, and follows the event stream, refreshing the counts from
// the services rather than adding to them, so no event is counted twice.
import { t, applyWords, language, setLanguage } from './i18n.js';
import { LiveStream } from './live.js';

const COLOURS = ['GREEN', 'BLUE', 'YELLOW', 'ORANGE', 'RED'];
const COLOUR_HEX = { GREEN: '#2e9d5b', BLUE: '#2f6fd6', YELLOW: '#e3b32a', ORANGE: '#e8772e', RED: '#d33b3b' };
const CATEGORIES = ['OFFICE_SPACE', 'REGISTRATION_LICENSING', 'TAX', 'FINANCING', 'TALENT_HOUSEHOLD',
  'POLICY_CONSULTATION', 'PROPERTY_FACILITIES', 'SAFETY', 'LEGAL', 'OTHER'];
const OPEN_DEMANDS = 'status != RESOLVED AND status != CONFIRMED AND status != WITHDRAWN';
const POLL_MS = 5000;
const SLOW_POLL_MS = 60000;
const FEED_LIMIT = 50;

const state = {
  token: '',
  csrfToken: '',
  district: '',
  buildings: new Map(),
  subDistricts: new Map(),
  departments: new Map(),
  enterpriseNames: new Map(),
  feed: [],
  streamState: 'connecting',
  data: null,
  charts: {},
};

// ---- access ---------------------------------------------------------------

function takeTokenFromFragment() {
  const match = /(?:^|&)token=([^&]+)/.exec(location.hash.slice(1));
  if (match) {
    sessionStorage.setItem('louyu.screen.token', decodeURIComponent(match[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  state.token = sessionStorage.getItem('louyu.screen.token') || '';
}

function authHeaders() {
  return state.token ? { Authorization: `Bearer ${state.token}` } : {};
}

class Unauthenticated extends Error {}

async function api(path) {
  const response = await fetch(path, { headers: authHeaders(), credentials: 'same-origin', cache: 'no-store' });
  if (response.status === 401) throw new Unauthenticated(path);
  if (!response.ok) {
    let message = `${response.status}`;
    try { message = (await response.json()).error.message; } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return response.json();
}

/** Every item of a list, page after page, up to `limit`. */
async function listAll(path, field, filter = '', limit = 5000) {
  const items = [];
  let token = '';
  do {
    const query = new URLSearchParams({ pageSize: '1000' });
    if (filter) query.set('filter', filter);
    if (token) query.set('pageToken', token);
    const page = await api(`${path}?${query}`);
    items.push(...(page[field] || []));
    token = page.nextPageToken || '';
  } while (token && items.length < limit);
  return items;
}

function claimsOfToken() {
  try {
    return JSON.parse(atob(state.token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
  } catch (_) {
    return {};
  }
}

/** Who is looking, and at which district: the token (a system's, or a
 * kiosk's `#token=`), else the session cookie. Without either the page
 * offers the gateway's login and reads nothing. */
async function whoIsLooking() {
  const asked = new URLSearchParams(location.search).get('district');
  let session = null;
  if (!state.token) {
    const response = await fetch('/session', { credentials: 'same-origin', cache: 'no-store' });
    if (response.ok) {
      session = await response.json();
      state.csrfToken = session.csrfToken || '';
    } else if (response.status === 401) {
      document.getElementById('login').hidden = false;
      throw new Unauthenticated('/session');
    }
  }
  const claims = claimsOfToken();
  // A session names its person `districts/{district}/staff/{id}`.
  const person = session ? session.name : claims.sub;
  const district = asked || claims.district
    || (typeof person === 'string' && /^districts\/([^/]+)/.exec(person)?.[1]) || 'jingan';
  state.district = district.replace(/^districts\//, '');
  const roles = session ? (session.roles || []) : (claims.role || claims.roles || '');
  const scope = session ? (session.subDistrict || session.department || '') : '';
  document.getElementById('viewer').textContent = [[roles].flat().join(', '), scope].filter(Boolean).join(' · ');
  document.getElementById('logout').hidden = !session;
}

/** Ends the session (`POST /logout` with its CSRF token) and shows the
 * page again, which then offers the login. */
async function logOut() {
  await fetch('/logout', {
    method: 'POST',
    headers: { 'x-csrf-token': state.csrfToken },
    credentials: 'same-origin',
  }).catch(() => null);
  sessionStorage.removeItem('louyu.screen.lastEventId');
  location.reload();
}

// ---- labels -----------------------------------------------------------------

const short = (value, prefix) => (value || '').replace(prefix, '');
const colourOf = (value) => short(value, 'RISK_COLOUR_');
const categoryOf = (value) => short(value, 'DEMAND_CATEGORY_');
const lastSegment = (name) => (name || '').split('/').pop();
const buildingLabel = (name) => state.buildings.get(name)?.displayName || lastSegment(name);
const subDistrictLabel = (name) => state.subDistricts.get(name) || lastSegment(name) || t('none');
const departmentLabel = (name) => state.departments.get(name) || lastSegment(name) || t('none');
const enterpriseLabel = (name) => state.enterpriseNames.get(name) || lastSegment(name);
const time = (value) => (value ? new Date(value).toLocaleTimeString(language() === 'en' ? 'en-GB' : 'zh-CN') : '');

function localMidnight() {
  const now = new Date();
  return new Date(now.getFullYear(), now.getMonth(), now.getDate()).toISOString();
}

// ---- reading ----------------------------------------------------------------

async function loadDirectory() {
  const parent = `/v1/districts/${state.district}`;
  const [buildings, subDistricts, departments] = await Promise.all([
    listAll(`${parent}/buildings`, 'buildings').catch(() => []),
    listAll(`${parent}/subDistricts`, 'subDistricts').catch(() => []),
    listAll(`${parent}/departments`, 'departments').catch(() => []),
  ]);
  for (const building of buildings) state.buildings.set(building.name, building);
  for (const sub of subDistricts) state.subDistricts.set(sub.name, sub.displayName);
  for (const department of departments) state.departments.set(department.name, department.displayName);
}

async function loadEnterpriseNames(names) {
  const missing = [...new Set(names)].filter((name) => name && !state.enterpriseNames.has(name)).slice(0, 30);
  await Promise.all(missing.map(async (name) => {
    try {
      const enterprise = await api(`/v1/${name}`);
      state.enterpriseNames.set(name, enterprise.displayName || lastSegment(name));
    } catch (_) {
      state.enterpriseNames.set(name, lastSegment(name));
    }
  }));
}

async function readAll() {
  const parent = `/v1/districts/${state.district}`;
  // A panel the viewer may not read stays empty; but with the gateway out
  // of reach (fetch's TypeError) the refresh fails whole, and the screen
  // keeps what it showed until the connection is back.
  const optional = (promise, fallback) => promise.catch((error) => {
    if (error instanceof Unauthenticated || error instanceof TypeError) throw error;
    return fallback;
  });
  const [demandCounts, overdue, district, bySubDistrict, byBuilding, todayDemands] = await Promise.all([
    optional(api(`${parent}/demands:count?filter=${encodeURIComponent(OPEN_DEMANDS)}`), { counts: [], total: '0' }),
    optional(listAll(`${parent}/referrals`, 'referrals', 'overdue = true'), []),
    optional(api(`${parent}/assessments:summarize?worsenedWithinDays=1`), { counts: [], total: '0', worsened: [] }),
    optional(api(`${parent}/assessments:summarize?groupBy=sub_district`), { counts: [] }),
    optional(api(`${parent}/assessments:summarize?groupBy=building`), { counts: [] }),
    optional(listAll(`${parent}/demands`, 'demands', `create_time >= "${localMidnight()}"`), []),
  ]);
  const worsened = district.worsened || [];
  await loadEnterpriseNames([...worsened.map((change) => change.enterprise),
    ...todayDemands.slice(-20).map((demand) => demand.enterprise)]);
  return { demandCounts, overdue, district, bySubDistrict, byBuilding, todayDemands, worsened };
}

// ---- drawing ----------------------------------------------------------------

function chart(id) {
  if (!state.charts[id]) {
    state.charts[id] = echarts.init(document.getElementById(id), 'dark', { renderer: 'canvas' });
  }
  return state.charts[id];
}

const TEXT = { color: '#cfd8e3' };

function drawDemands({ demandCounts, overdue }) {
  const open = new Map();
  for (const count of demandCounts.counts || []) {
    const category = categoryOf(count.category);
    open.set(category, (open.get(category) || 0) + Number(count.count || 0));
  }
  const late = new Map();
  for (const referral of overdue) {
    const category = categoryOf(referral.category);
    late.set(category, (late.get(category) || 0) + 1);
  }
  document.getElementById('kpi-open').textContent = String(Number(demandCounts.total || 0));
  document.getElementById('kpi-overdue').textContent = String(overdue.length);
  const categories = CATEGORIES.filter((category) => open.get(category) || late.get(category));
  chart('chart-demands').setOption({
    backgroundColor: 'transparent',
    tooltip: { trigger: 'axis' },
    legend: { top: 0, data: [t('open'), t('overdue')], textStyle: TEXT },
    grid: { left: 8, right: 16, bottom: 8, top: 32, containLabel: true },
    xAxis: { type: 'value' },
    yAxis: { type: 'category', data: categories.map(t), inverse: true },
    series: [
      { name: t('open'), type: 'bar', data: categories.map((c) => open.get(c) || 0), itemStyle: { color: '#4b8bf5' } },
      { name: t('overdue'), type: 'bar', data: categories.map((c) => late.get(c) || 0), itemStyle: { color: COLOUR_HEX.RED } },
    ],
  }, true);
}

/** `{group: {COLOUR: count}}` of a summary's counts. */
function byGroup(summary) {
  const groups = new Map();
  for (const count of summary.counts || []) {
    const group = count.group || '';
    if (!groups.has(group)) groups.set(group, {});
    groups.get(group)[colourOf(count.colour)] = Number(count.count || 0);
  }
  return groups;
}

function stackedColours(id, groups, label, limit) {
  const rows = [...groups.entries()]
    .map(([group, counts]) => ({ group, counts, total: COLOURS.reduce((sum, c) => sum + (counts[c] || 0), 0) }))
    .sort((a, b) => b.total - a.total)
    .slice(0, limit);
  chart(id).setOption({
    backgroundColor: 'transparent',
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    grid: { left: 8, right: 16, bottom: 8, top: 8, containLabel: true },
    xAxis: { type: 'value' },
    yAxis: { type: 'category', data: rows.map((row) => label(row.group)), inverse: true },
    series: COLOURS.map((colour) => ({
      name: t(colour), type: 'bar', stack: 'colours',
      itemStyle: { color: COLOUR_HEX[colour] },
      data: rows.map((row) => ({ value: row.counts[colour] || 0, group: row.group })),
    })),
  }, true);
}

function drawColours({ district, bySubDistrict, byBuilding }) {
  const overall = byGroup(district).get('') || {};
  document.getElementById('kpi-enterprises').textContent = String(Number(district.total || 0));
  chart('chart-colours').setOption({
    backgroundColor: 'transparent',
    tooltip: { trigger: 'item', formatter: '{b}: {c} ({d}%)' },
    legend: { bottom: 0, textStyle: TEXT },
    series: [{
      type: 'pie', radius: ['40%', '70%'], label: { formatter: '{b}\n{c}', color: '#e6edf5' },
      data: COLOURS.filter((colour) => overall[colour])
        .map((colour) => ({ name: t(colour), value: overall[colour], itemStyle: { color: COLOUR_HEX[colour] } })),
    }],
  }, true);
  stackedColours('chart-subdistricts', byGroup(bySubDistrict), subDistrictLabel, 20);
  const buildings = byGroup(byBuilding);
  stackedColours('chart-buildings', buildings, buildingLabel, 15);
  drawMap(buildings);
}

function worstColour(counts) {
  for (const colour of [...COLOURS].reverse()) if (counts[colour]) return colour;
  return 'GREEN';
}

function drawMap(buildingColours) {
  document.getElementById('kpi-buildings').textContent = String(state.buildings.size);
  const points = [];
  for (const building of state.buildings.values()) {
    const location = building.location || {};
    if (location.latitude === undefined || location.longitude === undefined) continue;
    const counts = buildingColours.get(building.name) || {};
    const total = COLOURS.reduce((sum, c) => sum + (counts[c] || 0), 0);
    const colour = worstColour(counts);
    points.push({
      name: building.displayName,
      building: building.name,
      counts,
      value: [location.longitude, location.latitude, total],
      itemStyle: { color: COLOUR_HEX[colour] },
    });
  }
  const map = chart('chart-map');
  map.setOption({
    backgroundColor: 'transparent',
    tooltip: {
      formatter: (item) => {
        const counts = item.data.counts || {};
        const line = COLOURS.filter((c) => counts[c]).map((c) => `${t(c)} ${counts[c]}`).join(' · ');
        return `${item.data.name}<br>${line || t('none')}`;
      },
    },
    grid: { left: 8, right: 16, bottom: 8, top: 8, containLabel: true },
    xAxis: { type: 'value', scale: true, name: 'E', min: (v) => v.min - 0.002, max: (v) => v.max + 0.002, axisLabel: { formatter: (v) => v.toFixed(3) }, splitLine: { lineStyle: { color: '#223' } } },
    yAxis: { type: 'value', scale: true, name: 'N', min: (v) => v.min - 0.001, max: (v) => v.max + 0.001, axisLabel: { formatter: (v) => v.toFixed(3) }, splitLine: { lineStyle: { color: '#223' } } },
    series: [{
      type: 'scatter',
      data: points,
      symbolSize: (value) => Math.max(10, Math.min(40, 8 + Math.sqrt(value[2] || 0) * 3)),
      label: { show: points.length <= 60, formatter: '{b}', position: 'right', color: '#cfd8e3', fontSize: 11 },
    }],
  }, true);
  map.off('click');
  map.on('click', (item) => item.data?.building && openBuilding(item.data.building));
}

function listItems(id, items, render) {
  const list = document.getElementById(id);
  list.replaceChildren();
  if (items.length === 0) {
    const empty = document.createElement('li');
    empty.className = 'muted';
    empty.textContent = t('none');
    list.append(empty);
    return;
  }
  for (const item of items) {
    const li = document.createElement('li');
    render(li, item);
    list.append(li);
  }
}

function chip(colour) {
  const span = document.createElement('span');
  span.className = `chip colour-${colour.toLowerCase()}`;
  span.textContent = t(colour);
  return span;
}

function text(value, className) {
  const span = document.createElement('span');
  if (className) span.className = className;
  span.textContent = value;
  return span;
}

function drawLists({ todayDemands, worsened }) {
  const newest = [...todayDemands].reverse().slice(0, 20);
  listItems('list-demands', newest, (li, demand) => {
    li.dataset.name = demand.name;
    li.dataset.enterprise = demand.enterprise;
    li.append(text(time(demand.createTime), 'muted'), text(t(categoryOf(demand.category)), 'tag'),
      text(enterpriseLabel(demand.enterprise)), text(buildingLabel(demand.building), 'muted'));
  });
  // The latest change of each enterprise (the summary lists every change).
  const latest = new Map();
  for (const change of worsened) {
    const seen = latest.get(change.enterprise);
    if (!seen || (change.changeTime || '') > (seen.changeTime || '')) latest.set(change.enterprise, change);
  }
  listItems('list-changed', [...latest.values()].slice(0, 20), (li, change) => {
    li.dataset.enterprise = change.enterprise;
    const to = colourOf(change.colour || change.newColour || change.toColour);
    const from = colourOf(change.previousColour || change.oldColour || change.fromColour);
    li.append(text(enterpriseLabel(change.enterprise)));
    if (from) li.append(chip(from), text('→', 'muted'));
    if (to) li.append(chip(to));
    li.dataset.colour = to;
    const cause = language() === 'en' ? change.cause?.en : change.cause?.zh;
    if (cause) li.append(text(cause, 'muted explain'));
  });
}

function drawOverdue({ overdue }) {
  const byDepartment = new Map();
  for (const referral of overdue) {
    const department = referral.leadDepartment || referral.departments?.[0]?.department || '';
    byDepartment.set(department, (byDepartment.get(department) || 0) + 1);
  }
  const rows = [...byDepartment.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15);
  chart('chart-overdue').setOption({
    backgroundColor: 'transparent',
    tooltip: { trigger: 'axis' },
    grid: { left: 8, right: 16, bottom: 8, top: 8, containLabel: true },
    xAxis: { type: 'value', minInterval: 1 },
    yAxis: { type: 'category', data: rows.map(([name]) => departmentLabel(name)), inverse: true },
    series: [{ type: 'bar', data: rows.map(([, count]) => count), itemStyle: { color: COLOUR_HEX.ORANGE } }],
  }, true);
}

function drawFeed() {
  listItems('feed', state.feed, (li, entry) => {
    li.dataset.eventId = entry.id;
    li.dataset.eventKey = entry.key;
    li.dataset.resourceName = entry.resourceName;
    li.append(text(time(entry.time), 'muted'), text(t(entry.kind), `tag kind-${entry.kind}`), text(entry.label));
    if (entry.colour) li.append(chip(entry.colour));
  });
}

function drawAll() {
  if (!state.data) return;
  applyWords();
  document.getElementById('lang').textContent = t('otherLang');
  document.getElementById('district').textContent = `districts/${state.district}`;
  drawDemands(state.data);
  drawColours(state.data);
  drawLists(state.data);
  drawOverdue(state.data);
  drawFeed();
  drawConnection();
}

function drawConnection() {
  const badge = document.getElementById('connection');
  const words = { live: 'live', unsupported: 'polling', connecting: 'connecting', offline: 'offline', unauthenticated: 'login' };
  badge.dataset.state = state.streamState;
  badge.textContent = t(words[state.streamState] || 'connecting');
}

function notice(message) {
  const element = document.getElementById('notice');
  element.hidden = !message;
  element.textContent = message || '';
}

// ---- a building -------------------------------------------------------------

async function openBuilding(name) {
  const drawer = document.getElementById('building');
  drawer.hidden = false;
  drawer.dataset.building = name;
  document.getElementById('building-title').textContent = buildingLabel(name);
  let page;
  try {
    page = await api(`/v1/${name}/page`);
  } catch (error) {
    document.getElementById('building-address').textContent = `${t('error')}: ${error.message}`;
    return;
  }
  document.getElementById('building-title').textContent = page.building.displayName || buildingLabel(name);
  document.getElementById('building-address').textContent = page.building.address || '';
  listItems('building-council', page.councilMembers || [], (li, member) => {
    li.append(text(member.name && member.name.includes('/') ? (member.contact?.name || lastSegment(member.name)) : (member.name || '')),
      text(short(member.councilRole, 'COUNCIL_ROLE_'), 'muted'),
      text(member.organisation?.displayName || member.organisation?.name || '', 'muted'));
  });
  listItems('building-needs', page.demands || [], (li, demand) => {
    li.append(text(t(categoryOf(demand.category)), 'tag'), text(demand.description || ''), text(short(demand.status, 'DEMAND_STATUS_'), 'muted'));
  });
  listItems('building-resources', page.resources || [], (li, resource) => {
    li.append(text(resource.displayName || ''), text(short(resource.kind, 'RESOURCE_KIND_'), 'muted'), text(resource.openingHours || '', 'muted'));
  });
  listItems('building-projects', page.projects || [], (li, project) => {
    li.append(text(project.title || ''), text(short(project.state, 'PROJECT_STATE_'), 'muted'));
  });
  const assessments = page.assessments || [];
  await loadEnterpriseNames(assessments.map((assessment) => assessment.enterprise));
  listItems('building-enterprises', assessments, (li, assessment) => {
    li.className = 'enterprise';
    li.append(text(enterpriseLabel(assessment.enterprise)), chip(colourOf(assessment.effectiveColour || assessment.colour)));
    const reasons = (assessment.factors || []).map((factor) =>
      (language() === 'en' ? factor.reason?.en : factor.reason?.zh) || factor.kind).filter(Boolean);
    if (assessment.floorReason) reasons.push(language() === 'en' ? assessment.floorReason.en : assessment.floorReason.zh);
    if (reasons.length) li.append(text(reasons.join('；'), 'muted explain'));
  });
  const missing = [...(page.omitted || []), ...(page.unavailable || [])].map((part) => part.part);
  document.getElementById('building-omitted').textContent = missing.length ? `${t('omitted')}: ${missing.join(', ')}` : '';
}

// ---- exports ----------------------------------------------------------------

function drawExportLinks() {
  for (const holder of document.querySelectorAll('.exports')) {
    holder.replaceChildren();
    for (const format of ['csv', 'xlsx']) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'export';
      button.textContent = `${holder.dataset.export === 'scorecard' ? (language() === 'en' ? 'Scorecard ' : '考核 ') : ''}${format.toUpperCase()}`;
      button.addEventListener('click', () => download(holder.dataset.export, format, holder.dataset.filter));
      holder.append(button);
    }
  }
}

async function download(kind, format, filterName) {
  const query = new URLSearchParams({ parent: `districts/${state.district}`, lang: language() });
  if (filterName === 'open') query.set('filter', OPEN_DEMANDS);
  if (filterName === 'today') query.set('filter', `create_time >= "${localMidnight()}"`);
  const response = await fetch(`/v1/exports/${kind}.${format}?${query}`, { headers: authHeaders(), credentials: 'same-origin' });
  if (!response.ok) {
    let message = `${response.status}`;
    try { message = (await response.json()).error.message; } catch (_) { /* not JSON */ }
    notice(`${t('error')}: ${message}`);
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = `${kind}.${format}`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// ---- live -------------------------------------------------------------------

/** What an event of the stream (`{service, eventType, resourceName,
 * occurTime, resource}`) is on the feed, or '' when the feed leaves it out. */
function kindOfEvent(event) {
  const type = String(event.eventType || event.event_type || '');
  const resource = event.resource || {};
  if (type.endsWith('.DemandRaised')) return 'newDemand';
  if (type.endsWith('.AssessmentChanged')) return 'colourChange';
  if (type.endsWith('.ReferralChanged') && /_(COMPLETED|CONFIRMED)$/.test(resource.state || '')) {
    return 'referralResolved';
  }
  return '';
}

/** What identifies an event whatever frame carried it: the stream seals a
 * fresh id into every frame, so a replayed event would come with a new id. */
function keyOfEvent(event) {
  return [event.service, event.eventType || event.event_type, event.resourceName || event.resource_name,
    event.occurTime || event.occur_time].map((part) => String(part || '')).join('|');
}

function onEvent(id, event) {
  const kind = kindOfEvent(event);
  const key = keyOfEvent(event);
  if (kind && !state.feed.some((entry) => entry.key === key)) {
    const resource = event.resource || {};
    const enterprise = resource.enterprise || '';
    const resourceName = event.resourceName || event.resource_name || '';
    state.feed.unshift({
      id,
      key,
      resourceName,
      kind,
      time: event.occurTime || event.occur_time || new Date().toISOString(),
      label: enterprise ? enterpriseLabel(enterprise) : lastSegment(resourceName),
      colour: kind === 'colourChange' ? colourOf(resource.effectiveColour || resource.colour || '') : '',
    });
    state.feed.length = Math.min(state.feed.length, FEED_LIMIT);
    drawFeed();
    if (enterprise && !state.enterpriseNames.has(enterprise)) {
      loadEnterpriseNames([enterprise]).then(drawFeed);
    }
  }
  // The counts are read again from the services (never added to here), so
  // an event seen twice could not count twice even past the id check.
  scheduleRefresh(800);
}

let refreshTimer = null;
function scheduleRefresh(delay) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, delay);
}

async function refresh() {
  clearTimeout(refreshTimer);
  try {
    state.data = await readAll();
    notice('');
    drawAll();
  } catch (error) {
    if (error instanceof Unauthenticated) {
      notice(t('login'));
    } else {
      notice(`${t('error')}: ${error.message}`);
    }
  }
  // Counts come from the services on every refresh; while the stream is
  // live a slow refresh catches what the stream does not carry.
  scheduleRefresh(state.streamState === 'live' ? SLOW_POLL_MS : POLL_MS);
}

// ---- start ------------------------------------------------------------------

function tick() {
  document.getElementById('clock').textContent = new Date().toLocaleString(language() === 'en' ? 'en-GB' : 'zh-CN');
}

async function start() {
  takeTokenFromFragment();
  applyWords();
  document.getElementById('lang').addEventListener('click', () => {
    setLanguage(language() === 'en' ? 'zh' : 'en');
    drawExportLinks();
    drawAll();
    tick();
  });
  document.getElementById('logout').addEventListener('click', logOut);
  document.getElementById('building-close').addEventListener('click', () => {
    document.getElementById('building').hidden = true;
  });
  // Opens a building by name, as a click on the map does (the browser test
  // and other pages use it).
  document.addEventListener('louyu:open-building', (event) => openBuilding(event.detail));
  window.addEventListener('resize', () => Object.values(state.charts).forEach((c) => c.resize()));
  setInterval(tick, 1000);
  tick();
  drawExportLinks();
  try {
    await whoIsLooking();
    await loadDirectory();
  } catch (error) {
    if (error instanceof Unauthenticated) {
      state.streamState = 'unauthenticated';
      drawConnection();
    }
    notice(error instanceof Unauthenticated ? t('login') : `${t('error')}: ${error.message}`);
    return;
  }
  await refresh();
  new LiveStream({
    url: '/v1/streams/events',
    headers: authHeaders,
    onEvent,
    onState: (streamState) => {
      state.streamState = streamState;
      drawConnection();
      if (streamState === 'unsupported') scheduleRefresh(POLL_MS);
    },
  }).start();
}

start();
