"use strict";
// The staff console: a station's week per venue, forms that ask the platform to decide
// (POST /v1/commands with the session's CSRF token) and show its answer in place, booking
// requests, the demand board. What the role may not ask is not shown (NAMES.may).
const NAMES = JSON.parse(document.getElementById("names").textContent);
const CSRF = document.querySelector("input[name=csrf]").value;
const MAY = new Set(NAMES.may);
const TZ_OFFSET = "+08:00";  // Asia/Shanghai, no daylight saving
const DAYS = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];

// Every rejection reason of sanjiang.commands.decision.Reason, in Chinese
const REASONS = {
  not_found: "找不到该对象",
  duplicate_id: "编号已存在",
  venue_unknown: "不是本站点的场地",
  venue_not_bookable: "该场地不对外预约",
  venue_closed: "场地不开放",
  venue_taken: "场地已被占用",
  over_venue_capacity: "超出场地容量",
  outside_booking_rules: "不符合场地预约规则",
  in_the_past: "开始时间已过",
  already_registered: "该居民已报名",
  already_voted: "该居民已附议",
  not_published: "活动尚未发布",
  already_published: "活动已发布",
  activity_started: "活动已开始，不能再修改",
  activity_cancelled: "活动已取消",
  capacity_below_registered: "名额少于已报名人数",
  invalid_state: "当前状态不允许此操作",
  too_early: "时间未到",
  version_conflict: "内容已被他人修改，请刷新后重试",
  forbidden: "无权执行此操作",
  unknown_category: "项目不属于所选类别",
};
// errors the API answers before a decider sees the command
const ERRORS = {
  csrf_failed: "页面已过期，请刷新后重试",
  forbidden: "无权执行此操作",
  forbidden_scope: "无权操作该站点",
  invalid_token: "登录已过期，请重新登录",
  missing_credentials: "请先登录",
  decision_pending: "平台暂未答复，请稍后查看",
  validation_error: "填写的内容有误",
  invalid_request: "填写的内容有误",
  bad_identifier: "请填写居民卡号或二维码号",
  rate_limited: "操作过于频繁，请稍候再试",
};
const ACCEPTED = {
  "activity.design": "活动草稿已保存",
  "activity.design_series": "系列活动草稿已保存",
  "activity.publish": "活动已发布",
  "activity.update": "活动已修改",
  "activity.cancel": "活动已取消",
  "registration.register": "已报名",
  "registration.cancel": "报名已取消",
  "venue.close": "已登记闭馆",
  "venue.lift_closure": "已解除闭馆",
  "booking.approve": "预约已批准",
  "booking.reject": "预约已驳回",
  "booking.cancel": "预约已取消",
  "booking.check_in": "已登记入场",
  "booking.mark_no_show": "已标记未到场",
  "demand.accept": "需求已受理",
  "demand.dispatch": "需求已派单",
  "demand.answer": "答复已登记",
  "demand.link": "已关联活动",
  "demand.close": "需求已办结",
};

let station = NAMES.mine[0];
let weekStart = monday(today());
let week = {activities: [], bookings: [], closures: []};
let selected = null;  // what the detail shows: {kind: "activity" | "booking", id}
let editing = null;  // the activity whose edit form is open (the detail is then not redrawn)

// --- small helpers ----------------------------------------------------------------------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else if (k === "text") node.textContent = v;
    else node[k] = v;
  }
  for (const child of children) node.append(child);
  return node;
}
function today() {
  // the local (Shanghai) date, whatever the browser's zone
  return new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
}
function addDays(day, n) {
  const d = new Date(day + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}
function monday(day) {
  const weekday = (new Date(day + "T00:00:00Z").getUTCDay() + 6) % 7;
  return addDays(day, -weekday);
}
const hhmm = (iso) => iso ? iso.slice(11, 16) : "";
const dayOf = (iso) => iso ? iso.slice(0, 10) : "";
const venueName = (id) => (NAMES.venues[id] || {}).name || id || "—";
const categoryName = (id) => NAMES.categories[id] || id;
function newId(prefix) {
  const t = new Date(Date.now() + 8 * 3600e3).toISOString().replace(/[-:T]/g, "").slice(2, 12);
  const r = Math.floor(Math.random() * 36 ** 3).toString(36).padStart(3, "0");
  return `${prefix}-${t}-${r}`;
}
function uuid7() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  let ms = Date.now();
  for (let i = 5; i >= 0; i--) { b[i] = ms % 256; ms = Math.floor(ms / 256); }
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
async function getJson(path) {
  const r = await fetch(path, {headers: {Accept: "application/json"}});
  if (r.status === 401) { location.href = "/login?next=/console"; throw new Error("401"); }
  if (!r.ok) throw new Error(`${r.status}`);
  return r.json();
}

// --- commands and their answers -----------------------------------------------------------
// a decision asked for: the platform's answer (accepted or rejected), or why there is none
async function decide(path, body) {
  let r;
  try {
    r = await fetch(path, {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": CSRF},
      body: JSON.stringify(body),
    });
  } catch (e) {
    return {status: "error", text: "无法连接平台，请检查网络后重试"};
  }
  const answer = await r.json().catch(() => ({}));
  if (answer.status === "accepted" || answer.status === "rejected") return answer;
  return {status: "error", text: ERRORS[answer.error] || `请求失败（${r.status}）`};
}

async function ask(command, expectedVersion) {
  const body = {station_id: station, command_id: uuid7(), command};
  if (expectedVersion != null) body.expected_version = expectedVersion;
  return decide("/v1/commands", body);
}

// a resident registered by staff, named by the card or QR number typed: the API turns the
// number into the resident as the check-in desk does (the pseudonym key stays there)
async function registerByCard(activity, identifier) {
  return decide(`/v1/console/stations/${station}/registrations`, {
    command_id: uuid7(), activity_id: activity.activity_id,
    registration_id: newId("reg"), identifier,
  });
}

function causeName(cause) {
  if (!cause) return "";
  const activity = week.activities.find((a) => a.activity_id === cause);
  if (activity) return `活动「${activity.title}」（${dayOf(activity.starts_at)} ${hhmm(activity.starts_at)}–${hhmm(activity.ends_at)}）`;
  const booking = week.bookings.find((b) => b.booking_id === cause);
  if (booking) return `预约 ${cause}（${dayOf(booking.starts_at)} ${hhmm(booking.starts_at)}–${hhmm(booking.ends_at)}）`;
  const closure = week.closures.find((c) => c.closure_id === cause);
  if (closure) return `闭馆「${closure.reason}」`;
  if (NAMES.venues[cause]) return venueName(cause);
  return cause;
}

// what was in the way, named: from the week shown, or asked for when not in it (an
// activity of another week, or one the warehouse has only just received)
async function lookUpCause(cause) {
  if (!cause || NAMES.venues[cause] || cause === "opening_hours") return;
  const known = (list, key) => list.some((x) => x[key] === cause);
  if (known(week.activities, "activity_id") || known(week.bookings, "booking_id") || known(week.closures, "closure_id")) return;
  for (const ms of [0, 500, 1000, 2000]) {
    await new Promise((done) => setTimeout(done, ms));
    try {
      const a = await getJson(`/v1/console/stations/${station}/activities/${encodeURIComponent(cause)}`);
      week.activities.push(a);
      return;
    } catch (e) { /* not an activity, or not there yet */ }
    // a booking or a closure: the week has it once the warehouse does
    try { await loadWeek(); } catch (e) { /* the next try */ }
    if (known(week.bookings, "booking_id") || known(week.closures, "closure_id")) return;
  }
}

// the reasons whose cause is an activity, booking or closure, named in the answer
const NAMED_CAUSES = new Set(["venue_taken", "venue_closed", "duplicate_id", "not_found", "activity_cancelled", "activity_started"]);

// the rejection in Chinese, naming what was in the way
function rejectionText(answer, kind) {
  const reason = REASONS[answer.reason] || "未被受理";
  const cause = answer.cause;
  switch (answer.reason) {
    case "version_conflict": return "内容已被他人修改，已载入最新内容，请核对后重试";
    case "already_registered": return cause ? `${reason}（报名号 ${cause}）` : reason;
    case "capacity_below_registered": return `${reason}，不能少于已报名的人数`;
    case "too_early":
      if (kind === "booking.check_in") return `${reason}：预约开始前 30 分钟起才能登记入场`;
      if (kind === "booking.mark_no_show") return `${reason}：预约开始 15 分钟后仍未到场才能标记`;
      return reason;
    case "venue_taken": return `${reason}：已被${causeName(cause)}占用`;
    case "venue_closed":
      return cause === "opening_hours" ? `${reason}：不在场地开放时间内` : `${reason}：${causeName(cause)}`;
    case "over_venue_capacity": {
      const v = NAMES.venues[cause];
      return v ? `${reason}：${v.name}最多容纳 ${v.capacity} 人` : reason;
    }
    case "outside_booking_rules":
      return `${reason}：${cause === "ahead" ? "超出可预约的日期范围" : "时长不符合规定"}`;
    case "duplicate_id": case "not_found": case "activity_cancelled": case "activity_started":
      return cause ? `${reason}：${causeName(cause)}` : reason;
    default: return reason;
  }
}

async function show(box, answer, kind, what) {
  if (answer.status === "rejected" && NAMED_CAUSES.has(answer.reason)) await lookUpCause(answer.cause);
  box.replaceChildren();
  box.className = "answer";
  if (answer.status === "accepted") {
    box.classList.add("ok");
    let text = `✔ ${ACCEPTED[kind] || "已受理"}`;
    if (what) text += `：${what}`;
    if (answer.outcome === "pending") text += "（待审批）";
    if (answer.outcome === "waitlisted") text = `✔ 名额已满，已候补（第 ${answer.position} 位）${what ? `：${what}` : ""}`;
    box.append(el("p", {text, "data-status": "accepted", "data-outcome": answer.outcome || "done"}));
  } else if (answer.status === "rejected") {
    box.classList.add("bad");
    box.append(el("p", {text: `✘ 未通过：${rejectionText(answer, kind)}`, "data-status": "rejected", "data-reason": answer.reason}));
  } else {
    box.classList.add("bad");
    box.append(el("p", {text: `✘ ${answer.text}`, "data-status": "error"}));
  }
}

// after a decision, the warehouse has it within a moment: look again a few times
function refreshSoon() {
  // the action is done: what was typed for it need not hold the panel still any longer
  if (document.activeElement && ["INPUT", "SELECT", "BUTTON"].includes(document.activeElement.tagName)) document.activeElement.blur();
  for (const ms of [400, 1200, 3000, 6000]) setTimeout(refreshAll, ms);
}

// --- the design form ------------------------------------------------------------------------
function fillDesignForm() {
  const form = document.getElementById("design-form");
  const categories = form.elements.category, programs = form.elements.program;
  categories.replaceChildren(...Object.entries(NAMES.categories).map(([id, name]) => el("option", {value: id, text: name})));
  const fillPrograms = () => {
    programs.replaceChildren(...Object.entries(NAMES.programs)
      .filter(([, p]) => p.category === categories.value)
      .map(([id, p]) => el("option", {value: id, text: p.name})));
  };
  categories.onchange = fillPrograms;
  fillPrograms();
  fillVenues(form.elements.venue_id);
  if (!form.elements.day.value) form.elements.day.value = addDays(today(), 1);
  form.onsubmit = async (e) => {
    e.preventDefault();
    const action = e.submitter ? e.submitter.value : "publish";
    await design(form, action === "publish");
  };
}

function fillVenues(select) {
  const keep = select.value;
  select.replaceChildren(...Object.entries(NAMES.venues)
    .filter(([, v]) => v.station === station)
    .map(([id, v]) => el("option", {value: id, text: `${v.name}（${v.capacity}人）`})));
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

async function design(form, publish) {
  const box = document.getElementById("design-answer");
  const f = form.elements;
  const weeks = Number(f.weeks.value || 1);
  const id = newId("act");
  const command = {
    kind: weeks > 1 ? "activity.design_series" : "activity.design",
    activity_id: id,
    title: f.title.value.trim(),
    category: f.category.value,
    program: f.program.value,
    venue_id: f.venue_id.value,
    starts_at: `${f.day.value}T${f.start.value}:00${TZ_OFFSET}`,
    ends_at: `${f.day.value}T${f.end.value}:00${TZ_OFFSET}`,
    capacity: Number(f.capacity.value),
    target_groups: [f.target.value],
    registration_required: f.registration_required.checked,
    demand_ids: f.demand_ids.value.split(/[,，\s]+/).filter(Boolean),
  };
  if (weeks > 1) command.weeks = weeks;
  box.replaceChildren(el("p", {text: "正在提交…", class: "dim"}));
  const designed = await ask(command);
  const when = `${venueName(command.venue_id)} ${f.day.value} ${f.start.value}–${f.end.value}`;
  if (designed.status !== "accepted" || !publish) {
    await show(box, designed, command.kind, `「${command.title}」${when}`);
    refreshSoon();
    return;
  }
  const ids = weeks > 1 ? Array.from({length: weeks}, (_, k) => `${id}-w${k + 1}`) : [id];
  let answer = null;
  for (const activityId of ids) {
    answer = await ask({kind: "activity.publish", activity_id: activityId});
    if (answer.status !== "accepted") break;
  }
  await show(box, answer, "activity.publish", `「${command.title}」${when}${weeks > 1 ? `，共 ${weeks} 周` : ""}`);
  if (answer.status !== "accepted") box.append(el("p", {class: "dim", text: "活动已保存为草稿，可调整后在周历中重新发布。"}));
  refreshSoon();
}

// --- the week calendar: 7 day columns × hours -------------------------------------------------
const HOUR_PX = 36;  // one hour's height
const FIRST_HOUR = 7, LAST_HOUR = 22;  // shown at least; widened to what the week holds
const WEEKDAY_KEYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

async function loadWeek() {
  week = await getJson(`/v1/console/stations/${station}/week?start=${weekStart}`);
  drawWeek();
  if (selected && !detailHeld()) redrawDetail();
}

// the detail is not drawn anew while staff type in it or edit the activity
function detailHeld() {
  const box = document.getElementById("detail");
  const active = document.activeElement;
  const typing = box.contains(active) && ["INPUT", "SELECT", "TEXTAREA"].includes(active.tagName);
  return typing || (editing !== null && selected && selected.id === editing);
}

// drawn again as the warehouse catches up (not over what staff are typing), or at once when
// ``force``d (after an edit is saved or given up)
function redrawDetail(force = false) {
  if (selected.kind === "booking") showBooking(selected.id);
  else showDetail(selected.id, force);
}

const minutesOf = (iso) => Number(iso.slice(11, 13)) * 60 + Number(iso.slice(14, 16));
const clock = (min) => `${String(Math.floor(min / 60)).padStart(2, "0")}:${String(min % 60).padStart(2, "0")}`;

// the part of [starts, ends) on a local day, in minutes from its midnight (null if none)
function onDay(startsAt, endsAt, day) {
  const first = dayOf(startsAt), last = dayOf(endsAt);
  if (day < first || day > last) return null;
  const from = day === first ? minutesOf(startsAt) : 0;
  const to = day === last ? minutesOf(endsAt) : 24 * 60;
  return to > from ? [from, to] : null;
}

// side by side what overlaps: each block gets a lane and the number of lanes of its cluster
function layOut(blocks) {
  blocks.sort((x, y) => x.from - y.from || y.to - x.to);
  let cluster = [], clusterEnd = -1;
  const close = () => {
    const lanes = [];
    for (const b of cluster) {
      let lane = lanes.findIndex((end) => end <= b.from);
      if (lane < 0) { lane = lanes.length; lanes.push(0); }
      lanes[lane] = b.to;
      b.lane = lane;
    }
    for (const b of cluster) b.lanes = lanes.length;
  };
  for (const b of blocks) {
    if (cluster.length && b.from >= clusterEnd) { close(); cluster = []; clusterEnd = -1; }
    cluster.push(b);
    clusterEnd = Math.max(clusterEnd, b.to);
  }
  if (cluster.length) close();
  return blocks;
}

function weekBlocks(venue, day) {
  const blocks = [];
  for (const a of week.activities) {
    const span = a.venue_id === venue && a.starts_at && onDay(a.starts_at, a.ends_at, day);
    if (span) blocks.push({from: span[0], to: span[1], node: activityItem(a)});
  }
  for (const b of week.bookings) {
    const span = b.venue_id === venue && onDay(b.starts_at, b.ends_at, day);
    if (span) blocks.push({from: span[0], to: span[1], node: bookingItem(b)});
  }
  for (const c of week.closures) {
    const span = c.venue_id === venue && onDay(c.starts_at, c.ends_at, day);
    if (span) blocks.push({from: span[0], to: span[1], node: closureItem(c)});
  }
  return blocks;
}

// the hours a venue is not open on a day, in minutes (from NAMES.hours)
function closedHours(venue, i) {
  const hours = (NAMES.hours || {})[venue];
  if (!hours) return [];
  const open = (hours[WEEKDAY_KEYS[i]] || []).map(([a, b]) => [minutesOf(`0000-00-00T${a}`), minutesOf(`0000-00-00T${b}`)]);
  const closed = [];
  let at = 0;
  for (const [a, b] of open) { if (a > at) closed.push([at, a]); at = Math.max(at, b); }
  if (at < 24 * 60 - 1) closed.push([at, 24 * 60]);
  return closed;
}

function drawWeek() {
  const venue = document.getElementById("venue").value;
  document.getElementById("week-label").textContent = `${weekStart} 至 ${addDays(weekStart, 6)}`;
  const days = Array.from({length: 7}, (_, i) => addDays(weekStart, i));
  const perDay = days.map((day) => layOut(weekBlocks(venue, day)));
  let first = FIRST_HOUR * 60, last = LAST_HOUR * 60;
  for (const blocks of perDay) {
    for (const b of blocks) { first = Math.min(first, b.from); last = Math.max(last, b.to); }
  }
  const firstHour = Math.floor(first / 60), lastHour = Math.ceil(last / 60);
  const y = (min) => ((min - firstHour * 60) / 60) * HOUR_PX;
  const height = (lastHour - firstHour) * HOUR_PX;

  const head = el("div", {class: "cal-head"}, el("div", {class: "corner"}));
  const body = el("div", {class: "cal-body", style: `height: ${height}px`});
  const ruler = el("div", {class: "hours"});
  for (let h = firstHour; h < lastHour; h++) ruler.append(el("div", {class: "hour", style: `top: ${y(h * 60)}px`, text: clock(h * 60)}));
  body.append(ruler);
  const now = new Date(Date.now() + 8 * 3600e3).toISOString();
  days.forEach((day, i) => {
    const isToday = day === today();
    head.append(el("div", {class: "day-head" + (isToday ? " today" : ""), text: `${DAYS[i]} ${day.slice(5)}`}));
    const column = el("div", {class: "day" + (isToday ? " today" : ""), "data-day": day});
    for (const [a, b] of closedHours(venue, i)) {
      const from = Math.max(a, firstHour * 60), to = Math.min(b, lastHour * 60);
      if (to > from) column.append(el("div", {class: "off", style: `top: ${y(from)}px; height: ${y(to) - y(from)}px`, title: "非开放时间"}));
    }
    for (const b of perDay[i]) {
      const top = y(b.from), tall = Math.max(y(b.to) - top, 16);
      b.node.style.cssText = `top: ${top}px; height: ${tall}px; left: calc(${(100 * b.lane) / b.lanes}% + 1px); width: calc(${100 / b.lanes}% - 2px);`;
      b.node.dataset.from = clock(b.from);
      b.node.dataset.to = clock(Math.min(b.to, 24 * 60 - 1));
      if (tall < 34) b.node.classList.add("short");
      column.append(b.node);
    }
    if (isToday) {
      const min = minutesOf(now);
      if (min >= firstHour * 60 && min <= lastHour * 60) column.append(el("div", {class: "now", style: `top: ${y(min)}px`, title: `现在 ${clock(min)}`}));
    }
    body.append(column);
  });
  document.getElementById("week").replaceChildren(el("div", {class: "cal"}, head, body));
}

function activityItem(a) {
  const kind = a.status === "draft" ? "draft" : a.status === "cancelled" ? "cancelled" : "activity";
  const when = `${hhmm(a.starts_at)}–${hhmm(a.ends_at)}`;
  const status = `${a.status_label} · 报名 ${a.registered}/${a.capacity}${a.waiting ? ` · 候补 ${a.waiting}` : ""}`;
  const item = el("button", {type: "button", class: `item ${kind}`, "data-id": a.activity_id, title: `${when} ${a.title}（${status}）`},
    el("b", {text: when}), ` ${a.title}`, el("small", {text: ` ${status}`}));
  item.onclick = () => showDetail(a.activity_id);
  return item;
}

function bookingItem(b) {
  const when = `${hhmm(b.starts_at)}–${hhmm(b.ends_at)}`;
  const item = el("button", {type: "button", class: `item booking ${b.status}`, "data-id": b.booking_id, title: `${when} 预约 ${b.booking_id} · ${b.attendees}人 · ${b.status_label}`},
    el("b", {text: when}), ` 预约 ${b.attendees}人`, el("small", {text: ` ${b.status_label} · ${b.booking_id}`}));
  item.onclick = () => showBooking(b.booking_id);
  return item;
}

function closureItem(c) {
  const item = el("div", {class: "item closure", "data-id": c.closure_id, title: `闭馆：${c.reason}（${dayOf(c.starts_at)} ${hhmm(c.starts_at)} 至 ${dayOf(c.ends_at)} ${hhmm(c.ends_at)}）`},
    el("b", {text: "闭馆"}), ` ${c.reason}`);
  if (MAY.has("venue.lift_closure")) {
    const lift = el("button", {type: "button", class: "secondary", text: "解除", "data-lift": c.closure_id});
    lift.onclick = async () => {
      const answer = await ask({kind: "venue.lift_closure", closure_id: c.closure_id});
      await show(document.getElementById("week-answer"), answer, "venue.lift_closure", `${venueName(c.venue_id)}（${c.reason}）`);
      refreshSoon();
    };
    item.append(" ", lift);
  }
  return item;
}

// --- the detail of what was clicked: an activity or a booking ---------------------------------
// its answers stay in place while the detail is drawn anew (one box, moved into each drawing)
const detailAnswer = el("div", {class: "answer", id: "detail-answer", role: "status", "aria-live": "polite"});

function select(kind, id) {
  if (!selected || selected.kind !== kind || selected.id !== id) {
    detailAnswer.replaceChildren();
    editing = null;
  }
  selected = {kind, id};
}

function closeDetail() {
  selected = null;
  editing = null;
  detailAnswer.replaceChildren();
  document.getElementById("detail").hidden = true;
}

function showBooking(bookingId) {
  select("booking", bookingId);
  const box = document.getElementById("detail");
  const b = week.bookings.find((x) => x.booking_id === bookingId);
  if (!b) { closeDetail(); return; }
  const what = `预约 ${b.booking_id}（${venueName(b.venue_id)} ${dayOf(b.starts_at)} ${hhmm(b.starts_at)}–${hhmm(b.ends_at)}）`;
  const act = (kind, extra = {}) => async () => {
    // the version read: a booking changed meanwhile is not acted on blindly
    const answer = await ask({kind, booking_id: b.booking_id, ...extra}, b.version);
    await show(detailAnswer, answer, kind, what);
    refreshSoon();
  };
  const actions = el("div", {class: "buttons"});
  const open = b.status === "pending" || b.status === "confirmed";
  const ended = b.ends_at.slice(0, 19) <= new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 19);
  if (b.status === "confirmed" && !ended && MAY.has("booking.check_in")) {
    actions.append(el("button", {type: "button", text: "登记入场", id: "booking-check-in", title: "预约开始前 30 分钟起可登记", onclick: act("booking.check_in")}));
  }
  if (b.status === "confirmed" && MAY.has("booking.mark_no_show")) {
    actions.append(el("button", {type: "button", class: "secondary", text: "标记未到场", id: "booking-no-show", title: "开始 15 分钟后仍未到场时标记", onclick: act("booking.mark_no_show")}));
  }
  if (open && !ended && MAY.has("booking.cancel")) {
    const reason = el("input", {placeholder: "取消原因", maxLength: 200, id: "booking-cancel-reason"});
    actions.append(reason, el("button", {type: "button", class: "danger", text: "取消预约", id: "booking-cancel",
      onclick: () => act("booking.cancel", {reason: reason.value.trim()})()}));
  }
  actions.append(el("button", {type: "button", class: "secondary", text: "关闭", onclick: closeDetail}));
  box.replaceChildren(
    el("h3", {text: `场地预约 ${b.booking_id} · ${b.status_label}`}),
    el("p", {text: `${venueName(b.venue_id)} · ${dayOf(b.starts_at)} ${hhmm(b.starts_at)}–${hhmm(b.ends_at)} · ${b.attendees} 人`}),
    actions,
    detailAnswer,
  );
  box.dataset.kind = "booking";
  box.dataset.id = b.booking_id;
  box.hidden = false;
}

async function showDetail(activityId, force = true) {
  select("activity", activityId);
  const box = document.getElementById("detail");
  let a;
  try {
    a = await getJson(`/v1/console/stations/${station}/activities/${encodeURIComponent(activityId)}`);
  } catch (e) { box.hidden = true; return; }
  if (!selected || selected.id !== activityId) return;  // another was chosen meanwhile
  // staff began typing while it was read: what they typed is not drawn over
  if (!force && box.dataset.id === activityId && !box.hidden && detailHeld()) return;
  const started = a.starts_at && a.starts_at.slice(0, 19) <= new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 19);
  const actions = el("div", {class: "buttons"});
  if (a.status === "draft" && MAY.has("activity.publish")) {
    const b = el("button", {type: "button", text: "发布", id: "detail-publish"});
    b.onclick = async () => {
      const answer = await ask({kind: "activity.publish", activity_id: a.activity_id});
      show(document.getElementById("week-answer"), answer, "activity.publish", `「${a.title}」`);
      refreshSoon();
    };
    actions.append(b);
  }
  const editable = a.status !== "cancelled" && !started && MAY.has("activity.update");
  if (editable) {
    const b = el("button", {type: "button", class: "secondary", text: "修改活动", id: "detail-edit"});
    b.onclick = () => { editing = a.activity_id; form.hidden = false; form.elements.title.focus(); };
    actions.append(b);
  }
  if (a.status !== "cancelled" && MAY.has("activity.cancel")) {
    const reason = el("input", {placeholder: "取消原因", maxLength: 200, id: "cancel-reason"});
    const b = el("button", {type: "button", class: "danger", text: "取消活动", id: "detail-cancel"});
    b.onclick = async () => {
      const answer = await ask({kind: "activity.cancel", activity_id: a.activity_id, reason: reason.value.trim()});
      show(document.getElementById("week-answer"), answer, "activity.cancel", `「${a.title}」，已报名居民将收到取消通知`);
      refreshSoon();
    };
    actions.append(reason, b);
    if (a.series_id) {
      const all = el("button", {type: "button", class: "danger", text: "取消整个系列（未开始的场次）", id: "detail-cancel-series"});
      all.onclick = () => cancelSeries(a.series_id, reason.value.trim(), a.title);
      actions.append(all);
    }
  }
  actions.append(el("button", {type: "button", class: "secondary", text: "关闭", onclick: closeDetail}));
  const form = editable ? editForm(a) : el("form", {hidden: true});
  form.hidden = editing !== a.activity_id;

  const desk = a.status === "published" && MAY.has("activity.design");  // staff of the station
  const deskAnswer = document.getElementById("week-answer");
  const cancellable = a.status !== "cancelled" && MAY.has("registration.cancel");
  const cancelButton = (rid) => {
    const b = el("button", {type: "button", class: "danger", text: "取消报名", "data-cancel-registration": rid});
    b.onclick = async () => {
      const answer = await ask({kind: "registration.cancel", registration_id: rid, reason: "工作人员代为取消"});
      await show(detailAnswer, answer, "registration.cancel", `报名号 ${rid}（${a.title}）`);
      refreshSoon();
    };
    return b;
  };
  const regs = el("table", {}, el("tr", {}, el("th", {text: "报名号"}), el("th", {text: "居民（匿名编号）"}), el("th", {text: "签到"}), el("th", {text: ""})));
  for (const r of a.registrations) {
    const cell = el("td", {text: r.checked_in ? "已签到" : "未签到"});
    if (desk && !r.checked_in) {
      const b = el("button", {type: "button", class: "secondary", text: "代签到", "data-checkin": r.registration_id});
      b.onclick = () => checkIn(a, {registration_id: r.registration_id}, deskAnswer, `报名号 ${r.registration_id}`);
      cell.append(" ", b);
    }
    const tools = el("td", {});
    if (cancellable && !r.checked_in) tools.append(cancelButton(r.registration_id));
    regs.append(el("tr", {"data-id": r.registration_id}, el("td", {text: r.registration_id}), el("td", {text: r.resident}), cell, tools));
  }
  const walkIn = el("form", {class: "buttons", id: "walk-in"});
  if (desk) {
    const card = el("input", {name: "identifier", placeholder: "居民卡号或二维码号", maxLength: 64, autocomplete: "off"});
    walkIn.append(el("b", {text: "签到台"}), card, el("button", {type: "submit", text: "现场签到"}));
    walkIn.onsubmit = (e) => {
      e.preventDefault();
      const identifier = card.value.trim();
      card.value = "";  // the number is not kept on the page
      if (identifier) checkIn(a, {identifier}, deskAnswer, "现场居民");
    };
  }
  // staff register a resident who asks at the desk or by phone (the waitlist once it is full)
  const registering = el("form", {class: "buttons", id: "register-form"});
  if (a.status === "published" && !started && MAY.has("registration.register")) {
    const card = el("input", {name: "identifier", placeholder: "居民卡号或二维码号", maxLength: 64, autocomplete: "off"});
    registering.append(el("b", {text: "代报名"}), card,
      el("button", {type: "submit", text: a.registered >= a.capacity || a.waiting ? "代报名（候补）" : "代报名"}));
    registering.onsubmit = async (e) => {
      e.preventDefault();
      const identifier = card.value.trim();
      card.value = "";  // the number is not kept on the page
      if (!identifier) { card.focus(); return; }
      detailAnswer.replaceChildren(el("p", {text: "正在提交…", class: "dim"}));
      const answer = await registerByCard(a, identifier);
      await show(detailAnswer, answer, "registration.register", `「${a.title}」`);
      refreshSoon();
    };
  }
  const waits = el("ol", {});
  for (const w of a.waitlist) {
    const li = el("li", {"data-id": w.registration_id, text: `${w.registration_id}（${w.resident}）`});
    if (cancellable) li.append(" ", cancelButton(w.registration_id));
    waits.append(li);
  }
  box.replaceChildren(
    el("h3", {text: `${a.title} · ${a.status_label}`}),
    el("p", {text: `${venueName(a.venue_id)} · ${dayOf(a.starts_at)} ${hhmm(a.starts_at)}–${hhmm(a.ends_at)} · ${categoryName(a.category)} · 名额 ${a.capacity} · 已报名 ${a.registered} · 候补 ${a.waiting} · 已签到 ${a.checked_in}${a.registration_required ? " · 仅限报名居民" : ""}`}),
    actions,
    form,
    detailAnswer,
    walkIn,
    registering,
    el("h4", {text: "报名名单"}), a.registrations.length ? regs : el("p", {class: "empty", text: "暂无报名"}),
    el("h4", {text: "候补名单"}), a.waitlist.length ? waits : el("p", {class: "empty", text: "无人候补"}),
  );
  box.dataset.kind = "activity";
  box.dataset.id = a.activity_id;
  box.hidden = false;
}

// the edit form of an activity, filled with what the page read (its version is sent along: a
// change made by someone else meanwhile is answered 已被他人修改, not overwritten)
function editForm(a) {
  const startDay = dayOf(a.starts_at) || addDays(today(), 1);
  const spanDays = a.ends_at ? Math.round((Date.parse(dayOf(a.ends_at)) - Date.parse(dayOf(a.starts_at))) / 864e5) : 0;
  const venue = el("select", {name: "venue_id"});
  fillVenues(venue);
  if (a.venue_id) venue.value = a.venue_id;
  const form = el("form", {id: "edit-form", class: "edit", autocomplete: "off"},
    el("label", {}, "活动名称 ", el("input", {name: "title", required: true, maxLength: 80, value: a.title})),
    el("label", {}, "场地 ", venue),
    el("label", {}, "日期 ", el("input", {name: "day", type: "date", required: true, value: startDay})),
    el("label", {}, "开始 ", el("input", {name: "start", type: "time", required: true, value: hhmm(a.starts_at) || "09:00"})),
    el("label", {}, "结束 ", el("input", {name: "end", type: "time", required: true, value: hhmm(a.ends_at) || "10:00"})),
    el("label", {}, "名额 ", el("input", {name: "capacity", type: "number", min: 1, max: 5000, required: true, value: String(a.capacity)})),
    el("label", {class: "check"}, el("input", {name: "registration_required", type: "checkbox", checked: a.registration_required}), " 仅限报名居民参加"),
    el("div", {class: "buttons"},
      el("button", {type: "submit", text: "保存修改", id: "edit-save"}),
      el("button", {type: "button", class: "secondary", text: "放弃修改", onclick: () => { editing = null; redrawDetail(true); }}),
      el("span", {class: "dim", text: `（基于第 ${a.version} 版）`})),
  );
  form.onsubmit = async (e) => {
    e.preventDefault();
    const f = form.elements;
    const change = {};
    if (f.title.value.trim() !== a.title) change.title = f.title.value.trim();
    if (f.venue_id.value && f.venue_id.value !== a.venue_id) change.venue_id = f.venue_id.value;
    const startsAt = `${f.day.value}T${f.start.value}:00${TZ_OFFSET}`;
    const endsAt = `${addDays(f.day.value, spanDays)}T${f.end.value}:00${TZ_OFFSET}`;
    if (startsAt !== a.starts_at || endsAt !== a.ends_at) {
      if (endsAt <= startsAt) { await show(detailAnswer, {status: "error", text: "结束时间须晚于开始时间"}); return; }
      change.starts_at = startsAt;
      change.ends_at = endsAt;
    }
    if (Number(f.capacity.value) !== a.capacity) change.capacity = Number(f.capacity.value);
    if (f.registration_required.checked !== a.registration_required) change.registration_required = f.registration_required.checked;
    const said = describeChange(a, change);
    if (!said.length) { await show(detailAnswer, {status: "error", text: "没有修改任何内容"}); return; }
    detailAnswer.replaceChildren(el("p", {text: "正在提交…", class: "dim"}));
    const answer = await ask({kind: "activity.update", activity_id: a.activity_id, ...change}, a.version);
    // accepted, or changed by someone else: the form closes and the detail is read again;
    // another refusal keeps what was typed, to be adjusted
    if (answer.status === "accepted" || answer.reason === "version_conflict") editing = null;
    await show(detailAnswer, answer, "activity.update", `「${change.title || a.title}」${said.join("，")}`);
    if (editing === null) redrawDetail(true);
    refreshSoon();
  };
  return form;
}

function describeChange(a, change) {
  const said = [];
  if ("title" in change) said.push(`名称改为「${change.title}」`);
  if ("venue_id" in change) said.push(`场地改为${venueName(change.venue_id)}`);
  if ("starts_at" in change) said.push(`时间改为 ${dayOf(change.starts_at)} ${hhmm(change.starts_at)}–${hhmm(change.ends_at)}`);
  if ("capacity" in change) said.push(`名额 ${a.capacity} → ${change.capacity}`);
  if ("registration_required" in change) said.push(change.registration_required ? "改为仅限报名居民" : "不再限报名居民");
  return said;
}

// a series' sessions are <series>-w1, -w2, …: each not yet started is cancelled, in order,
// until one does not exist
async function cancelSeries(seriesId, reason, title) {
  const box = document.getElementById("week-answer");
  let cancelled = 0, skipped = 0;
  for (let k = 1; k <= 26; k++) {
    const answer = await ask({kind: "activity.cancel", activity_id: `${seriesId}-w${k}`, reason});
    if (answer.status === "accepted") cancelled++;
    else if (answer.reason === "not_found") break;
    else if (answer.reason === "activity_started" || answer.reason === "activity_cancelled") skipped++;
    else { await show(box, answer, "activity.cancel"); refreshSoon(); return; }
  }
  await show(box, {status: "accepted"}, "activity.cancel", `「${title}」系列 ${cancelled} 场${skipped ? `（${skipped} 场已开始或已取消，未变）` : ""}`);
  refreshSoon();
}

// --- closures (managers) -------------------------------------------------------------------
function closureForm() {
  const form = document.getElementById("closure-form");
  const f = form.elements;
  f.from.value = f.from.value || addDays(today(), 1);
  f.to.value = f.to.value || addDays(today(), 1);
  form.onsubmit = async (e) => {
    e.preventDefault();
    const venue = document.getElementById("venue").value;
    const command = {
      kind: "venue.close", closure_id: newId("cls"), venue_id: venue,
      starts_at: `${f.from.value}T${f.start.value || "00:00"}:00${TZ_OFFSET}`,
      ends_at: `${f.to.value}T${f.end.value || "23:59"}:00${TZ_OFFSET}`,
      reason: f.reason.value.trim(),
    };
    const answer = await ask(command);
    await show(document.getElementById("week-answer"), answer, "venue.close", `${venueName(venue)} ${f.from.value} ${f.start.value || "00:00"} 至 ${f.to.value} ${f.end.value || "23:59"}（${command.reason}）`);
    refreshSoon();
  };
}

// --- the check-in desk: staff check a resident in (a fact, recorded for the station) ----------
async function checkIn(activity, who, box, label) {
  let r;
  try {
    r = await fetch(`/v1/console/stations/${station}/checkins`, {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": CSRF},
      body: JSON.stringify({checkin_id: uuid7(), venue_id: activity.venue_id, activity_id: activity.activity_id, ...who}),
    });
  } catch (e) {
    await show(box, {status: "error", text: "无法连接平台，请检查网络后重试"});
    return;
  }
  const answer = await r.json().catch(() => ({}));
  box.replaceChildren();
  box.className = "answer " + (r.status === 202 ? "ok" : "bad");
  box.append(el("p", r.status === 202
    ? {text: `✔ 已签到：${label}（${activity.title}）`, "data-status": "accepted"}
    : {text: `✘ 签到未记录：${ERRORS[answer.error] || (answer.error === "not_found" ? "找不到该报名" : `请求失败（${r.status}）`)}`, "data-status": "error"}));
  if (r.status === 202) refreshSoon();
}

// --- booking requests -----------------------------------------------------------------------
async function loadBookings() {
  if (!MAY.has("booking.approve")) return;
  const {bookings} = await getJson(`/v1/console/stations/${station}/bookings`);
  const box = document.getElementById("bookings");
  if (!bookings.length) { box.replaceChildren(el("p", {class: "empty", text: "暂无待审批的预约"})); return; }
  const table = el("table", {}, el("tr", {},
    ...["预约号", "场地", "时间", "人数", "状态", ""].map((t) => el("th", {text: t}))));
  for (const b of bookings) {
    const reason = el("input", {placeholder: "驳回原因", maxLength: 200});
    const approve = el("button", {type: "button", text: "批准", "data-approve": b.booking_id});
    const reject = el("button", {type: "button", class: "danger", text: "驳回", "data-reject": b.booking_id});
    const box2 = document.getElementById("booking-answer");
    approve.onclick = async () => {
      show(box2, await ask({kind: "booking.approve", booking_id: b.booking_id}), "booking.approve", `${b.booking_id}（${venueName(b.venue_id)} ${dayOf(b.starts_at)} ${hhmm(b.starts_at)}–${hhmm(b.ends_at)}）`);
      refreshSoon();
    };
    reject.onclick = async () => {
      if (!reason.value.trim()) { reason.focus(); reason.placeholder = "请填写驳回原因"; return; }
      show(box2, await ask({kind: "booking.reject", booking_id: b.booking_id, reason: reason.value.trim()}), "booking.reject", b.booking_id);
      refreshSoon();
    };
    table.append(el("tr", {"data-id": b.booking_id},
      el("td", {text: b.booking_id}), el("td", {text: venueName(b.venue_id)}),
      el("td", {text: `${dayOf(b.starts_at)} ${hhmm(b.starts_at)}–${hhmm(b.ends_at)}`}),
      el("td", {text: String(b.attendees)}), el("td", {text: b.status_label}),
      el("td", {class: "actions"}, approve, reason, reject)));
  }
  box.replaceChildren(table);
}

// --- the demand board -----------------------------------------------------------------------
async function loadDemands() {
  const {demands} = await getJson(`/v1/console/stations/${station}/demands`);
  const box = document.getElementById("demands");
  if (!demands.length) { box.replaceChildren(el("p", {class: "empty", text: "近半年暂无需求"})); return; }
  const table = el("table", {}, el("tr", {},
    ...["编号", "类别", "内容", "附议", "状态", "派单", "答复", "关联活动", "办理"].map((t) => el("th", {text: t}))));
  const answerBox = document.getElementById("demand-answer");
  for (const d of demands) {
    const act = (kind, extra, what) => async () => {
      show(answerBox, await ask({kind, demand_id: d.demand_id, ...extra}), kind, what || d.demand_id);
      refreshSoon();
    };
    const tools = el("td", {class: "actions"});
    if (d.status === "submitted" && MAY.has("demand.accept")) {
      tools.append(el("button", {type: "button", text: "受理", onclick: act("demand.accept", {})}));
    }
    if (d.status !== "closed") {
      if (MAY.has("demand.dispatch") && (d.status === "submitted" || d.status === "accepted")) {
        const unit = el("input", {placeholder: "承办单位", maxLength: 80});
        const due = el("input", {type: "date", value: addDays(today(), 7)});
        const b = el("button", {type: "button", text: "派单"});
        b.onclick = () => {
          if (!unit.value.trim()) { unit.focus(); return; }
          return act("demand.dispatch", {dispatch_id: newId("dsp"), unit: unit.value.trim(), due_at: `${due.value}T17:00:00${TZ_OFFSET}`})();
        };
        tools.append(el("span", {class: "tool"}, unit, due, b));
      }
      if (MAY.has("demand.answer") && d.status !== "answered") {
        const text = el("input", {placeholder: "答复内容", maxLength: 200});
        const b = el("button", {type: "button", text: "答复"});
        b.onclick = () => (text.value.trim() ? act("demand.answer", {answer: text.value.trim()})() : text.focus());
        tools.append(el("span", {class: "tool"}, text, b));
      }
      if (MAY.has("demand.link")) {
        const ids = el("input", {placeholder: "活动编号", maxLength: 200});
        const b = el("button", {type: "button", text: "关联"});
        b.onclick = () => {
          const list = ids.value.split(/[,，\s]+/).filter(Boolean);
          return list.length ? act("demand.link", {activity_ids: list})() : ids.focus();
        };
        tools.append(el("span", {class: "tool"}, ids, b));
      }
      if (MAY.has("demand.close")) {
        tools.append(el("button", {type: "button", class: "secondary", text: "办结", onclick: act("demand.close", {})}));
      }
    }
    const dispatch = d.dispatch ? `${d.dispatch.unit} · 限 ${dayOf(d.dispatch.due_at)}${d.dispatch.overdue ? "（已逾期）" : ""}` : "—";
    table.append(el("tr", {"data-id": d.demand_id, class: d.dispatch && d.dispatch.overdue ? "overdue" : ""},
      el("td", {text: d.demand_id}), el("td", {text: categoryName(d.category)}),
      el("td", {text: d.summary || "—"}), el("td", {class: "n", text: String(d.supporters)}),
      el("td", {text: d.status_label}), el("td", {text: dispatch}), el("td", {text: d.answer || "—"}),
      el("td", {text: d.activities.map((a) => a.title).join("、") || "—"}), tools));
  }
  box.replaceChildren(table);
}

// --- KPIs and heat of the station -----------------------------------------------------------
const KPI_LABELS = {venue_utilization: "场馆使用率", project_precision: "项目精准率",
  resident_participation: "居民参与率", service_satisfaction: "服务满意率"};
const pct = (x) => (x === null || x === undefined ? "—" : (100 * x).toFixed(1) + "%");
const FONT = '"Noto Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif';
let heatChart = null;

async function loadOverview() {
  const o = await getJson(`/v1/console/stations/${station}/overview`);
  const light = (k, v) => (v === null || v === undefined ? "" : v >= o.targets[k] ? "green" : v >= o.targets[k] * o.yellow_from ? "yellow" : "red");
  document.getElementById("kpis").replaceChildren(...Object.entries(KPI_LABELS).map(([k, label]) => {
    const today = o.kpis.today[k], week = o.kpis.last_7_days[k];
    return el("div", {class: `kpi ${light(k, today)}`, "data-kpi": k},
      el("span", {class: "name", text: label}),
      el("span", {class: "value", text: pct(today)}),
      el("span", {class: "sub", text: `近7日 ${pct(week)} · 目标 ${pct(o.targets[k])}`}));
  }));
  document.getElementById("station-heat").textContent = o.heat.station.toFixed(1);
  if (!heatChart) heatChart = echarts.init(document.getElementById("heat"));
  const rows = [...o.heat.activities].reverse();
  heatChart.setOption({
    textStyle: {fontFamily: FONT},
    title: {text: rows.length ? "" : "暂无热度数据", left: "center", top: "middle", textStyle: {color: "#6b7785", fontSize: 14, fontFamily: FONT}},
    grid: {left: 8, right: 30, top: 10, bottom: 10, containLabel: true},
    xAxis: {type: "value", name: "热度"},
    yAxis: {type: "category", data: rows.map((a) => a.title)},
    series: [{type: "bar", data: rows.map((a) => a.heat), itemStyle: {color: "#c8102e"}, label: {show: true, position: "right"}}],
  }, true);
}

// --- the audit trail (managers) ---------------------------------------------------------------
const MANAGER = NAMES.role === "manager" || NAMES.role === "admin";
const KIND_LABELS = {
  "activity.design": "设计活动", "activity.design_series": "设计系列活动", "activity.update": "修改活动",
  "activity.publish": "发布活动", "activity.cancel": "取消活动", "activity.release_no_shows": "释放未到名额",
  "registration.register": "报名", "registration.cancel": "取消报名", "booking.request": "申请预约",
  "booking.approve": "批准预约", "booking.reject": "驳回预约", "booking.cancel": "取消预约",
  "booking.check_in": "预约入场", "booking.mark_no_show": "预约未到", "venue.close": "闭馆",
  "venue.lift_closure": "解除闭馆", "demand.submit": "提交需求", "demand.vote": "附议需求",
  "demand.accept": "受理需求", "demand.dispatch": "需求派单", "demand.answer": "答复需求",
  "demand.link": "关联活动", "demand.close": "办结需求", "demand.mark_overdue": "标记逾期",
};
async function loadAudit() {
  if (!MANAGER) return;
  const rows = await getJson(`/v1/console/stations/${station}/audit?days=7&limit=200`);
  const box = document.getElementById("audit");
  if (!rows.length) { box.replaceChildren(el("p", {class: "empty", text: "近7日暂无指令"})); return; }
  const table = el("table", {}, el("tr", {}, ...["时间", "指令", "操作人", "角色", "结果", "原因"].map((t) => el("th", {text: t}))));
  for (const r of rows) {
    table.append(el("tr", {},
      el("td", {text: (r.at || "").slice(0, 19).replace("T", " ")}),
      el("td", {text: KIND_LABELS[r.kind] || r.kind}),
      el("td", {text: r.actor}), el("td", {text: r.role || "—"}),
      el("td", {class: r.accepted ? "" : "no", text: r.accepted ? "通过" : "未通过"}),
      el("td", {text: r.accepted ? "—" : (REASONS[r.reason] || r.reason || "—")})));
  }
  box.replaceChildren(table);
}

// --- the page -------------------------------------------------------------------------------
// a panel is drawn again unless staff are typing in it (a reason, a unit, an answer)
const busy = (id) => document.getElementById(id).contains(document.activeElement) && document.activeElement.tagName === "INPUT";
async function refreshAll() {
  const loads = [loadWeek()];
  if (!busy("bookings")) loads.push(loadBookings());
  if (!busy("demands")) loads.push(loadDemands());
  loads.push(loadAudit());
  await Promise.all(loads.map((p) => p.catch(() => null)));
}

function chooseStation(id) {
  station = id;
  closeDetail();
  const venue = document.getElementById("venue");
  fillVenues(venue);
  fillVenues(document.getElementById("design-form").elements.venue_id);
  refreshAll();
  loadOverview().catch(() => null);
}

function start() {
  for (const node of document.querySelectorAll("[data-may]")) node.hidden = !MAY.has(node.dataset.may);
  for (const node of document.querySelectorAll("[data-managers]")) node.hidden = !MANAGER;
  window.addEventListener("resize", () => heatChart && heatChart.resize());
  document.fonts.ready.then(() => heatChart && heatChart.resize());
  const select = document.getElementById("station");
  select.replaceChildren(...NAMES.mine.map((id) => el("option", {value: id, text: NAMES.stations[id] || id})));
  select.onchange = () => chooseStation(select.value);
  document.getElementById("venue").onchange = drawWeek;
  document.getElementById("prev-week").onclick = () => { weekStart = addDays(weekStart, -7); loadWeek(); };
  document.getElementById("next-week").onclick = () => { weekStart = addDays(weekStart, 7); loadWeek(); };
  document.getElementById("this-week").onclick = () => { weekStart = monday(today()); loadWeek(); };
  fillDesignForm();
  closureForm();
  const clock = document.getElementById("clock");
  const tick = () => { clock.textContent = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 16).replace("T", " "); };
  tick();
  setInterval(tick, 10000);
  chooseStation(station);
  setInterval(refreshAll, 15000);
  setInterval(() => loadOverview().catch(() => null), 60000);  // KPIs move slowly
}

start();
