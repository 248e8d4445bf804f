"use strict";
// 指挥中心大屏. Live panels follow the SSE stream (stream.js); warehouse panels refresh from
// /v1/screen/summary every minute. Left on a wall for days: every structure is bounded, the
// charts are made once and updated in place, and the page rolls over at local midnight.
const NAMES = JSON.parse(document.getElementById("names").textContent);
const TZ = NAMES.timezone || "Asia/Shanghai";
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const pct = (x) => x === null || x === undefined ? "—" : (100 * x).toFixed(1) + "%";
const num = (x) => (x ?? 0).toLocaleString("zh-CN");
const KPI_LABELS = {venue_utilization: "场馆使用率", project_precision: "项目精准率",
  resident_participation: "居民参与率", service_satisfaction: "服务满意率"};
const SEVERITY = {high: "高", medium: "中", low: "低"};
const ALERT_KINDS = {over_capacity: "超出容量", kiosk_offline: "终端离线", low_satisfaction: "满意度下降",
  no_show_spike: "爽约激增", demand_surge: "需求激增"};
const localDate = (d = new Date()) => new Intl.DateTimeFormat("sv-SE", {timeZone: TZ}).format(d);
const localTime = (d = new Date()) => new Intl.DateTimeFormat("zh-CN", {timeZone: TZ, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false}).format(d);
const hhmm = (iso) => iso ? iso.slice(11, 16) : "";
// charts draw on a canvas, which knows no CSS: they name the page's webfont themselves, and
// draw again once it has loaded (a machine without CJK fonts would show boxes otherwise)
const FONT = '"Noto Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif';
const TEXT = {textStyle: {fontFamily: FONT}};

const live = {network: {}, venues: {}, activities: {}, alerts: {}, kiosks: {}, pipeline: {}, stations: {}};
let summary = null;
const titles = new Map();  // activity id -> {title, station} (bounded: cleared past 1,000)
let day = localDate();

// ---------- KPIs ----------
function light(kpi, value) {
  if (!summary || value === null || value === undefined) return "";
  const target = summary.targets[kpi];
  return value >= target ? "green" : value >= target * summary.yellow_from ? "yellow" : "red";
}
function renderKpis() {
  // today's from the live fold (each {value, provisional}); the warehouse's until it has them
  const liveKpis = live.network.kpis || null;
  const rows = Object.entries(KPI_LABELS).map(([k, label]) => {
    const fromLive = Boolean(liveKpis && liveKpis[k]);
    const today = fromLive ? liveKpis[k].value : summary?.kpis.today[k];
    const provisional = fromLive ? liveKpis[k].provisional : true;  // today is still open
    const week = summary?.kpis.last_7_days[k];
    const target = summary?.targets[k];
    const mark = provisional ? `<span class="provisional" title="当日尚在迟到宽限期内，数值可能变化">暂定</span>` : "";
    return `<div class="kpi ${light(k, today)}" data-kpi="${k}"><span class="name">${label}${mark}</span>`
      + `<span class="value">${pct(today)}</span>`
      + `<span class="sub">近7日 <b class="${light(k, week)}">${pct(week)}</b> · 目标 ${target === undefined ? "—" : pct(target)} · 今日：${fromLive ? "实时" : "数仓"}</span></div>`;
  });
  $("kpis").innerHTML = rows.join("");
}

// ---------- counters ----------
function inside() {
  return Object.values(live.venues.occupancy || {}).reduce((a, n) => a + n, 0);
}
function renderCounters() {
  const n = live.network, d = summary?.demands || {};
  const items = [
    ["签到人次", num(n.checkins)], ["当前在场", num(inside())], ["参与居民", num(n.residents)],
    ["活动报名", num(n.registrations)], ["服务评价", num(n.evaluations)], ["场馆预约", num(n.bookings_confirmed)],
    ["新增需求", num(n.demands)], ["未办结需求", num(d.open)], ["逾期派单", num(d.overdue), d.overdue > 0],
  ];
  $("counters").innerHTML = items.map(([label, value, alarm]) =>
    `<div class="counter${alarm ? " alarm" : ""}"><b>${value}</b><span>${label}</span></div>`).join("");
}

// ---------- map ----------
echarts.registerMap("wusong", NAMES.outline);
const map = echarts.init($("map"), null, {renderer: "canvas"});
const stationHeat = () => Object.fromEntries((live.activities.station_heat || []).map((s) => [s.station, s.heat]));
function stationCapacity(id) {
  return Object.values(NAMES.venues).filter((v) => v.station === id).reduce((a, v) => a + v.capacity, 0);
}
function occupancyColour(share) {
  return share >= 1 ? "#ff5a5f" : share >= 0.7 ? "#f5b83d" : share > 0 ? "#2ecc71" : "#3fa7ff";
}
function renderMap() {
  const heat = stationHeat();
  const occupied = live.venues.stations || {};
  const maxHeat = Math.max(1, ...Object.values(heat));
  const data = Object.entries(NAMES.coordinates).map(([id, [lon, lat]]) => {
    const cap = stationCapacity(id), here = occupied[id] || 0;
    const share = cap ? here / cap : 0;
    return {name: id, value: [lon, lat, heat[id] || 0], here, cap,
      symbolSize: 10 + 34 * Math.sqrt((heat[id] || 0) / maxHeat) + (NAMES.kinds[id] === "center" ? 8 : 0),
      itemStyle: {color: occupancyColour(share), borderColor: "#fff", borderWidth: NAMES.kinds[id] === "center" ? 2 : 0.5}};
  });
  map.setOption({
    ...TEXT, animation: false,
    tooltip: {trigger: "item", textStyle: {fontFamily: FONT}, formatter: (p) => p.data ? `${esc(NAMES.stations[p.name] || p.name)}<br>热度 ${p.data.value[2].toFixed(1)}<br>在场 ${p.data.here} / 容量 ${p.data.cap}` : esc(p.name)},
    geo: {map: "wusong", roam: false, silent: true, layoutSize: "96%",
      itemStyle: {areaColor: "#0f2744", borderColor: "#3fa7ff", borderWidth: 1.5},
      label: {show: false}},
    series: [{type: "scatter", coordinateSystem: "geo", data,
      label: {show: true, formatter: (p) => NAMES.kinds[p.name] === "residential" ? "" : (NAMES.stations[p.name] || p.name).replace(/（.*）/, "").slice(-6),
        position: "right", color: "#cfe3ff", fontSize: 11},
      emphasis: {scale: 1.3}}],
  }, {lazyUpdate: true});
}
map.on("click", (p) => { if (p.seriesType === "scatter") drillStation(p.name); });

// ---------- drill-down: station -> venue -> activity ----------
let trail = [];  // [{kind, id, label}]
let stationDetail = null;
function showDrill() {
  $("drill").hidden = trail.length === 0;
  $("crumbs").innerHTML = trail.map((t, i) => i === trail.length - 1
    ? `<span class="here">${esc(t.label)}</span>` : `<button type="button" data-depth="${i}">${esc(t.label)}</button> › `).join("")
    + `<button type="button" class="close" data-depth="-1">关闭 ✕</button>`;
  const here = trail[trail.length - 1];
  if (!here) return;
  if (here.kind === "station") $("drill-body").innerHTML = stationBody(here.id);
  else if (here.kind === "venue") $("drill-body").innerHTML = venueBody(here.id);
  else $("drill-body").innerHTML = activityBody(here.id);
}
$("crumbs").addEventListener("click", (e) => {
  const b = e.target.closest("button[data-depth]");
  if (!b) return;
  const depth = Number(b.dataset.depth);
  trail = depth < 0 ? [] : trail.slice(0, depth + 1);
  showDrill();
});
$("drill-body").addEventListener("click", (e) => {
  const b = e.target.closest("button[data-kind]");
  if (!b) return;
  const label = b.dataset.kind === "venue" ? (NAMES.venues[b.dataset.id] || {}).name : titleOf(b.dataset.id);
  trail.push({kind: b.dataset.kind, id: b.dataset.id, label: label || b.dataset.id});
  showDrill();
});
async function drillStation(id) {
  trail = [{kind: "station", id, label: NAMES.stations[id] || id}];
  stationDetail = null;
  showDrill();
  const r = await fetch(`/v1/screen/stations/${encodeURIComponent(id)}`, {credentials: "same-origin"});
  if (r.ok) {
    stationDetail = await r.json();
    for (const a of stationDetail.activities) remember(a.activity_id, a.title, id);
  }
  showDrill();
}
function stationBody(id) {
  const s = live.stations[id] || {};
  const venues = Object.entries(NAMES.venues).filter(([, v]) => v.station === id);
  const occ = live.venues.occupancy || {};
  const d = summary?.demands.by_station[id] || {open: 0, overdue: 0};
  return `<dl><dt>今日签到</dt><dd>${num(s.checkins)}</dd><dt>参与居民</dt><dd>${num(s.residents)}</dd>`
    + `<dt>未办结需求</dt><dd>${num(d.open)}（逾期 ${num(d.overdue)}）</dd></dl>`
    + `<table><tr><th>场馆</th><th class="n">在场/容量</th></tr>${venues.map(([vid, v]) =>
      `<tr><td><button type="button" class="pick" data-kind="venue" data-id="${esc(vid)}">${esc(v.name)}</button></td><td class="n">${occ[vid] || 0}/${v.capacity}</td></tr>`).join("")}</table>`
    + `<h2>今日活动</h2>${activityTable((stationDetail?.activities) || [])}`;
}
function activityTable(rows) {
  if (!stationDetail) return `<p class="empty">读取中…</p>`;
  return rows.length ? `<table><tr><th>时间</th><th>活动</th><th class="n">报名/签到/容量</th></tr>${rows.map((a) =>
    `<tr><td>${hhmm(a.starts)}</td><td><button type="button" class="pick" data-kind="activity" data-id="${esc(a.activity_id)}">${esc(a.title)}${a.cancelled ? "（已取消）" : ""}</button></td><td class="n">${a.registered}/${a.checked_in}/${a.capacity}</td></tr>`).join("")}</table>`
    : `<p class="empty">今日无活动</p>`;
}
function venueBody(vid) {
  const v = NAMES.venues[vid] || {name: vid, capacity: 0};
  const here = (live.venues.occupancy || {})[vid] || 0;
  const rows = ((stationDetail?.activities) || []).filter((a) => a.venue_id === vid);
  return `<dl><dt>在场</dt><dd>${here} / ${v.capacity}</dd></dl><h2>今日活动</h2>${activityTable(rows)}`;
}
function activityBody(aid) {
  const a = ((stationDetail?.activities) || []).find((x) => x.activity_id === aid);
  const heat = (live.activities.hottest || []).find((h) => h.activity_id === aid);
  if (!a) return `<p class="empty">无此活动的今日数据</p>`;
  return `<dl><dt>活动</dt><dd>${esc(a.title)}</dd><dt>场馆</dt><dd>${esc((NAMES.venues[a.venue_id] || {}).name || a.venue_id)}</dd>`
    + `<dt>时间</dt><dd>${hhmm(a.starts)}–${hhmm(a.ends)}</dd><dt>容量</dt><dd>${a.capacity}</dd>`
    + `<dt>报名</dt><dd>${a.registered}</dd><dt>已签到</dt><dd>${a.checked_in}</dd>`
    + `<dt>热度</dt><dd>${heat ? heat.heat.toFixed(1) : "—"}</dd><dt>状态</dt><dd>${a.cancelled ? "已取消" : "正常"}</dd></dl>`;
}

// ---------- hottest activities, occupancy, alerts, kiosks, pipeline ----------
function remember(id, title, station) {
  if (titles.size > 1000) titles.clear();
  titles.set(id, {title, station});
}
const titleOf = (id) => (titles.get(id) || {}).title || id;
const stationOf = (id) => (titles.get(id) || {}).station || "";
function renderHot() {
  const hot = (live.activities.hottest || []).slice(0, 10);
  $("hot").innerHTML = hot.length ? `<table><tr><th>活动</th><th>站点</th><th class="n">热度</th></tr>${hot.map((a) => {
    const station = stationOf(a.activity_id);
    return `<tr><td>${esc(titleOf(a.activity_id))}</td><td>${esc((NAMES.stations[station] || "").replace(/（.*）/, "").slice(0, 10))}</td><td class="n">${a.heat.toFixed(1)}</td></tr>`;
  }).join("")}</table>` : `<p class="empty">暂无</p>`;
  if (hot.some((a) => !titles.has(a.activity_id))) refreshSoon();
}
const occupancyChart = echarts.init($("occupancy"), null, {renderer: "canvas"});
function renderOccupancy() {
  const occ = live.venues.occupancy || {};
  const rows = Object.entries(occ).filter(([v, n]) => n > 0 && NAMES.venues[v])
    .map(([v, n]) => [NAMES.venues[v].name, n, NAMES.venues[v].capacity])
    .sort((a, b) => b[1] / (b[2] || 1) - a[1] / (a[2] || 1)).slice(0, 8).reverse();
  occupancyChart.setOption({
    // the names get a fixed band on the left, as wide as they may be (truncated): with
    // containLabel the band was measured before the webfont drew them wider, and cut them
    ...TEXT, animation: false, grid: {left: 120, right: 40, top: 4, bottom: 4},
    xAxis: {type: "value", show: false, max: (v) => Math.max(v.max, 1)},
    yAxis: {type: "category", data: rows.map((r) => r[0]), axisLabel: {color: "#cfe3ff", width: 110, overflow: "truncate"}},
    series: [
      {type: "bar", data: rows.map((r) => r[2]), barGap: "-100%", itemStyle: {color: "#1d3350"}, silent: true},
      {type: "bar", data: rows.map((r) => ({value: r[1], itemStyle: {color: r[1] > r[2] ? "#ff5a5f" : "#3fa7ff"}})),
        label: {show: true, position: "right", color: "#e6f0ff", formatter: (p) => `${p.value}/${rows[p.dataIndex][2]}`}},
    ],
  }, {notMerge: true});
}
let knownAlerts = new Set(), soundOn = false, audio = null;
function beep() {
  if (!soundOn) return;
  audio = audio || new AudioContext();
  const osc = audio.createOscillator(), gain = audio.createGain();
  osc.frequency.value = 880; gain.gain.value = 0.15;
  osc.connect(gain).connect(audio.destination);
  osc.start(); osc.stop(audio.currentTime + 0.35);
}
$("sound").addEventListener("click", () => {
  soundOn = !soundOn;
  $("sound").setAttribute("aria-pressed", String(soundOn));
  $("sound").textContent = "告警提示音：" + (soundOn ? "开" : "关");
  if (soundOn) beep();
});
const scopeName = (scope) => {
  const [kind, id] = String(scope).split(/:(.*)/s);
  if (kind === "station") return NAMES.stations[id] || id;
  if (kind === "venue") return (NAMES.venues[id] || {}).name || id;
  if (kind === "category") return NAMES.categories[id] || id;
  if (kind === "kiosk") return "终端 " + id;
  return scope;
};
function renderAlerts() {
  const open = (live.alerts.open || []).slice().sort((a, b) => (a.severity === "high" ? 0 : 1) - (b.severity === "high" ? 0 : 1));
  const ids = new Set(open.map((a) => a.key + "@" + a.started_at));
  const fresh = [...ids].some((id) => !knownAlerts.has(id));
  if (fresh && knownAlerts.size + ids.size > 0 && live.alertsSeen) {
    $("alert-panel").classList.remove("flash"); void $("alert-panel").offsetWidth; $("alert-panel").classList.add("flash");
    beep();
  }
  live.alertsSeen = true;
  knownAlerts = ids;
  $("alert-count").textContent = String(open.length);
  $("alert-count").className = open.length ? "badge on" : "badge";
  $("alerts").innerHTML = open.length ? `<table><tr><th>级别</th><th>类型</th><th>范围</th><th>说明</th></tr>${open.slice(0, 12).map((a) =>
    `<tr><td class="${esc(a.severity)}">${SEVERITY[a.severity] || esc(a.severity)}</td><td>${ALERT_KINDS[a.kind] || esc(a.kind)}</td><td>${esc(scopeName(a.scope))}</td><td>${esc(a.display || a.reason)}</td></tr>`).join("")}</table>`
    : `<p class="empty">无告警</p>`;
}
function renderKiosks() {
  const off = live.kiosks.offline || [];
  $("kiosks").innerHTML = `<p>终端 ${num(live.kiosks.known)} 台，离线 <b class="${off.length ? "high" : ""}">${off.length}</b> 台</p>`
    + (off.length ? `<p class="dim">${off.slice(0, 12).map(esc).join("、")}${off.length > 12 ? "…" : ""}</p>` : "");
}
function renderHealth() {
  const p = live.pipeline, n = live.network;
  const conflicts = Object.values(n.conflicts || {}).reduce((a, x) => a + x, 0);
  $("health").innerHTML = `<p>已处理事件 <b>${num(p.applied)}</b></p><p>迟到事件 <b>${num(n.late_events)}</b>，超宽限 <b class="${p.too_late ? "bad" : ""}">${num(p.too_late)}</b></p>`
    + `<p>事实冲突 <b class="${conflicts ? "bad" : ""}">${num(conflicts)}</b></p><p>水位 <b>${p.watermark ? localTime(new Date(p.watermark)) : "—"}</b></p>`;
}

// ---------- check-ins per hour ----------
const hourly = echarts.init($("hourly"), null, {renderer: "canvas"});
function renderHourly() {
  const h = summary?.checkins_by_hour || {today: [], last_week: []};
  const nowHour = Number(localTime().slice(0, 2));
  hourly.setOption({
    ...TEXT, animation: false, grid: {left: 40, right: 12, top: 24, bottom: 22},
    legend: {data: ["今日", "上周同日"], textStyle: {color: "#cfe3ff"}, top: 0, right: 0},
    tooltip: {trigger: "axis", textStyle: {fontFamily: FONT}},
    xAxis: {type: "category", data: [...Array(24).keys()].map((i) => i + "时"), axisLabel: {color: "#7f97b5"}},
    yAxis: {type: "value", axisLabel: {color: "#7f97b5"}, splitLine: {lineStyle: {color: "#1d3350"}}},
    series: [
      {name: "今日", type: "bar", data: h.today.map((v, i) => i <= nowHour ? v : null), itemStyle: {color: "#3fa7ff"}},
      {name: "上周同日", type: "line", data: h.last_week, smooth: true, symbol: "none", lineStyle: {color: "#f5b83d", type: "dashed"}},
    ],
  });
}

// ---------- warehouse summary ----------
let refreshTimer = null;
async function refresh() {
  const ids = (live.activities.hottest || []).slice(0, 20).map((a) => a.activity_id);
  const r = await fetch(`/v1/screen/summary?ids=${encodeURIComponent(ids.join(","))}`, {credentials: "same-origin"});
  if (r.status === 401) { location.href = "/login?next=/screen"; return; }
  if (!r.ok) return;
  summary = await r.json();
  for (const [id, a] of Object.entries(summary.activities)) remember(id, a.title, a.station_id);
  renderKpis(); renderCounters(); renderHourly(); renderHot();
}
function refreshSoon() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => { refreshTimer = null; refresh(); }, 3000);
}
setInterval(refresh, 60000);

// ---------- clock, midnight rollover, resize ----------
function tick() {
  const now = new Date();
  $("clock").textContent = localTime(now);
  $("date").textContent = new Intl.DateTimeFormat("zh-CN", {timeZone: TZ, year: "numeric", month: "long", day: "numeric", weekday: "long"}).format(now);
  const today = localDate(now);
  if (today !== day) {  // local midnight: a new day begins on the screen
    day = today;
    summary = null; stationDetail = null; trail = []; showDrill();
    renderKpis(); renderHourly(); refresh();
  }
}
setInterval(tick, 1000);
tick();
window.addEventListener("resize", () => { map.resize(); hourly.resize(); occupancyChart.resize(); });

// ---------- live stream ----------
const RENDER = {
  network: () => { renderKpis(); renderCounters(); renderHealth(); },
  venues: () => { renderMap(); renderOccupancy(); renderCounters(); },
  activities: () => { renderHot(); renderMap(); },
  alerts: renderAlerts, kiosks: renderKiosks, pipeline: renderHealth,
};
const STATUS = {live: ["● 实时", "live"], reconnecting: ["连接中断，正在重连…", "down"], down: ["连接中断，正在重连…", "down"]};
followLive((view, doc) => {
  if (view.startsWith("station:")) {
    live.stations[view.slice(8)] = doc;
    if (trail[0] && trail[0].id === view.slice(8) && trail.length === 1) showDrill();
    return;
  }
  live[view] = doc;
  RENDER[view]();
  if (doc.as_of) $("asof").textContent = "数据时间 " + localTime(new Date(doc.as_of));
}, (state) => {
  const [text, cls] = STATUS[state];
  $("status").textContent = text;
  $("status").className = cls;
}, {views: Object.keys(RENDER), prefixes: {"station:": Object.keys(NAMES.stations)}});
renderKpis(); renderCounters(); renderMap(); renderHourly(); renderHealth();
refresh();
document.fonts.load(`12px ${FONT}`, "今日上周同日签到时").then(() => { renderMap(); renderHourly(); renderOccupancy(); });
