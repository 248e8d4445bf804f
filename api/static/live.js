"use strict";
const NAMES = JSON.parse(document.getElementById("names").textContent);
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const pct = (x) => x === null || x === undefined ? "—" : (100 * x).toFixed(1) + "%";
const COUNTERS = [["checkins", "签到人次"], ["residents", "参与居民"], ["registrations", "活动报名"],
  ["bookings_confirmed", "场馆预约"], ["no_shows", "爽约"], ["demands", "需求"],
  ["evaluations", "评价"], ["satisfaction", "满意率"], ["late_events", "迟到事件"],
  ["conflicts", "事实冲突"]];
// a counter's text: satisfaction as a share, conflicts summed over their kinds
const counterText = (d, k) => k === "satisfaction" ? pct(d[k])
  : k === "conflicts" ? Object.values(d.conflicts || {}).reduce((a, n) => a + n, 0).toLocaleString()
  : (d[k] ?? 0).toLocaleString();
const SEVERITY = {high: "高", medium: "中", low: "低"};
const KINDS = {over_capacity: "超容", kiosk_offline: "终端离线", low_satisfaction: "满意度下降",
  no_show_spike: "爽约激增", demand_surge: "需求激增"};

// "station:WS-R03" / "venue:…" / "kiosk:…" / "category:…" as a name people know
const scopeName = (scope) => {
  const [kind, id] = String(scope).split(/:(.*)/s);
  if (kind === "station") return NAMES.stations[id] || id;
  if (kind === "venue") return (NAMES.venues[id] || {}).name || id;
  if (kind === "category") return NAMES.categories[id] || id;
  if (kind === "kiosk") return "终端 " + id;
  return scope;
};

const render = {
  network(d) {
    $("network").innerHTML = COUNTERS.map(([k, label]) =>
      `<div class="counter"><b>${counterText(d, k)}</b><span>${label}</span></div>`).join("");
  },
  venues(d) {
    const rows = Object.entries(d.occupancy || {}).filter(([, n]) => n > 0)
      .map(([v, n]) => [v, n, (NAMES.venues[v] || {}).capacity || 0])
      .sort((a, b) => b[1] / (b[2] || 1) - a[1] / (a[2] || 1)).slice(0, 15);
    $("venues").innerHTML = rows.length ? `<table><tr><th>场馆</th><th>站点</th><th class="n">在场/容量</th><th></th></tr>${rows.map(([v, n, cap]) => {
      const info = NAMES.venues[v] || {name: v, station: ""};
      const share = cap ? Math.min(n / cap, 1) : 0;
      return `<tr class="${cap && n > cap ? "over" : ""}"><td>${esc(info.name)}</td><td>${esc(NAMES.stations[info.station] || info.station)}</td><td class="n">${n}/${cap}</td><td class="barcell"><div class="bar"><i data-share="${(100 * share).toFixed(0)}"></i></div></td></tr>`;
    }).join("")}</table>` : `<p class="empty">暂无在场人员</p>`;
    // widths through the CSSOM: the page's policy allows no inline style attributes
    for (const bar of $("venues").querySelectorAll("i[data-share]")) bar.style.width = bar.dataset.share + "%";
  },
  alerts(d) {
    const open = (d.open || []).slice().sort((a, b) => (a.severity === "high" ? -1 : 1) - (b.severity === "high" ? -1 : 1));
    $("alerts").innerHTML = open.length ? `<table><tr><th>级别</th><th>类型</th><th>范围</th><th>原因</th></tr>${open.slice(0, 30).map((a) =>
      `<tr><td class="${esc(a.severity)}">${SEVERITY[a.severity] || esc(a.severity)}</td><td>${KINDS[a.kind] || esc(a.kind)}</td><td>${esc(scopeName(a.scope))}</td><td>${esc(a.display || a.reason)}</td></tr>`).join("")}</table>` : `<p class="empty">无告警</p>`;
  },
  activities(d) {
    const hot = (d.hottest || []).slice(0, 8);
    const cats = (d.category_heat || []).slice(0, 8);
    const table = (head, rows) => `<table><tr><th>${head}</th><th class="n">热度</th></tr>${rows.join("")}</table>`;
    $("activities").innerHTML = hot.length || cats.length
      ? table("类别", cats.map((c) => `<tr><td>${esc(NAMES.categories[c.category] || c.category)}</td><td class="n">${c.heat.toFixed(1)}</td></tr>`))
        + table("活动", hot.map((a) => `<tr><td>${esc(a.activity_id)}</td><td class="n">${a.heat.toFixed(1)}</td></tr>`))
      : `<p class="empty">暂无</p>`;
  },
  kiosks(d) {
    const off = d.offline || [];
    $("kiosks").innerHTML = `<p>终端 ${d.known ?? 0} 台，离线 <span class="${off.length ? "over" : ""}">${off.length}</span> 台${off.length ? "：" + off.slice(0, 12).map(esc).join("、") + (off.length > 12 ? "…" : "") : ""}</p>`;
  },
  processes(d) {
    const STATES = {running: "运行中", restarting: "重启中", gave_up: "反复退出，已停止重启", stopped: "已停止"};
    const bad = (d.processes || []).filter((p) => p.state !== "running");
    $("processes").innerHTML = bad.length
      ? bad.map((p) => `<p class="${p.state === "gave_up" ? "over" : "medium"}">进程 ${esc(p.name)}：${STATES[p.state] || esc(p.state)}（已重启 ${p.restarts} 次；${esc(p.last_exit || "")}）</p>`).join("")
      : `<p class="empty">进程 ${(d.processes || []).length} 个，均运行中</p>`;
  },
  pipeline(d) {
    $("pipeline").innerHTML = `<p>已处理事件 ${(d.applied ?? 0).toLocaleString()}，超宽限期 ${d.too_late ?? 0}，水位 ${esc(d.watermark || "—")}</p>`;
  },
};

const STATES = {live: ["实时", "live"], reconnecting: ["重连中…", "down"], down: ["连接中断，重连中…", "down"]};
followLive((view, doc) => {
  render[view](doc);
  if (doc.as_of) $("asof").textContent = "更新于 " + new Date(doc.as_of).toLocaleTimeString("zh-CN", {timeZone: "Asia/Shanghai"});
}, (state) => {
  const [text, cls] = STATES[state];
  $("status").textContent = text;
  $("status").className = cls;
}, {views: Object.keys(render)});
