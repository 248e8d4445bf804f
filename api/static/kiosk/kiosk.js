"use strict";
// The kiosk page of a station's touch screen. Offline-first: every action is written to an
// IndexedDB outbox first (with the id and time it was made with here) and delivered in order
// when the API answers; the page says how many are waiting. A resident's card number is sealed
// with the platform's public key (RSA-OAEP-256, WebCrypto) the moment it is typed, for the one
// action it is for, and only the sealed text is kept: the clear number never reaches storage.
// The kiosk's credential is an HttpOnly cookie this script cannot read.

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const IDLE_MS = 60_000;          // back to the start screen after a minute without a touch
const DONE_MS = 12_000;          // a result stays this long
const HEARTBEAT_MS = 60_000;
const CONFIG_MS = 5 * 60_000;
const STARTED = Date.now();
const HEADERS = {"Content-Type": "application/json", "X-Sanjiang-Kiosk": "1"};

// --- ids, time and sealing -------------------------------------------------------------

function uuid7() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  let ms = Date.now();
  for (let i = 5; i >= 0; i--) { b[i] = ms % 256; ms = Math.floor(ms / 256); }
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const b64bytes = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
let sealKey = null;   // {kid, key: CryptoKey}

async function sealFor(identifier, actionId) {
  const seal = config.seal;
  if (!sealKey || sealKey.kid !== seal.kid) {
    const key = await crypto.subtle.importKey("spki", b64bytes(seal.spki), {name: "RSA-OAEP", hash: "SHA-256"}, false, ["encrypt"]);
    sealKey = {kid: seal.kid, key};
  }
  const label = new TextEncoder().encode(`sanjiang-kiosk-v1|${config.station.id}|${actionId}`);
  const sealed = await crypto.subtle.encrypt({name: "RSA-OAEP", label}, sealKey.key, new TextEncoder().encode(identifier));
  return `${seal.kid}.${b64url(new Uint8Array(sealed))}`;
}

// --- the outbox (IndexedDB) -------------------------------------------------------------

const DB_NAME = "sanjiang-kiosk";
let dbPromise = null;
function db() {
  dbPromise ||= new Promise((resolve, reject) => {
    const open = indexedDB.open(DB_NAME, 1);
    open.onupgradeneeded = () => {
      const store = open.result.createObjectStore("outbox", {keyPath: "seq", autoIncrement: true});
      store.createIndex("id", "id", {unique: true});
      open.result.createObjectStore("config");
    };
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  return dbPromise;
}

async function tx(stores, mode, work) {
  const database = await db();
  return new Promise((resolve, reject) => {
    const t = database.transaction(stores, mode);
    let result;
    Promise.resolve(work(t)).then((r) => { result = r; });
    t.oncomplete = () => resolve(result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}
const req = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });

const outbox = {
  put: (entry) => tx(["outbox"], "readwrite", (t) => req(t.objectStore("outbox").add(entry))),
  first: () => tx(["outbox"], "readonly", (t) => new Promise((resolve) => {
    const c = t.objectStore("outbox").openCursor();
    c.onsuccess = () => resolve(c.result ? c.result.value : null);
  })),
  remove: (seq) => tx(["outbox"], "readwrite", (t) => req(t.objectStore("outbox").delete(seq))),
  count: () => tx(["outbox"], "readonly", (t) => req(t.objectStore("outbox").count())),
};
const saved = {
  get: (key) => tx(["config"], "readonly", (t) => req(t.objectStore("config").get(key))),
  set: (key, value) => tx(["config"], "readwrite", (t) => req(t.objectStore("config").put(value, key))),
};

// --- delivery ------------------------------------------------------------------------------

const outcomes = new Map();   // action id -> what the platform answered (for the done screen)
let delivering = false;
let retryTimer = null;
let backoff = 1000;
let online = null;

function setOnline(state) {
  if (online === state) return;
  online = state;
  $("net").textContent = state ? "在线" : "离线（操作会保存，联网后自动提交）";
  $("net").className = "net " + (state ? "online" : "offline");
}

async function showPending() {
  const n = await outbox.count();
  const el = $("pending");
  el.dataset.count = String(n);
  el.textContent = n ? `待发送 ${n} 项` : "待发送 0 项";
  el.classList.toggle("waiting", n > 0);
  return n;
}

// whether an answer is final (kept out of the outbox) or the action must be sent again
const FINAL = (status) => (status >= 200 && status < 300) || [400, 403, 404, 409, 413, 422].includes(status);

async function deliver() {
  if (delivering) return;
  delivering = true;
  clearTimeout(retryTimer);
  try {
    for (;;) {
      const entry = await outbox.first();
      if (!entry) break;
      let response;
      try {
        response = await fetch(entry.url, {method: "POST", headers: HEADERS, body: JSON.stringify(entry.body), credentials: "same-origin", cache: "no-store"});
      } catch (e) {
        setOnline(false);
        throw e;
      }
      setOnline(true);
      if (response.status === 401) { showUnpaired(); throw new Error("not paired"); }
      if (!FINAL(response.status)) throw new Error(`HTTP ${response.status}`);
      let answer = {};
      try { answer = await response.json(); } catch (e) { answer = {}; }
      outcomes.set(entry.id, {status: response.status, answer});
      await outbox.remove(entry.seq);
      await showPending();
      showOutcome(entry.id);
    }
    backoff = 1000;
  } catch (e) {
    retryTimer = setTimeout(deliver, backoff);
    backoff = Math.min(backoff * 2, 10_000);
  } finally {
    delivering = false;
    await showPending();
  }
}

async function enqueue(id, url, body, flow) {
  await outbox.put({id, url, body, flow, made_at: new Date().toISOString()});
  await showPending();
  deliver();
}

// --- configuration (the station, the sealing key, the week's activities) ----------------

let config = null;

async function loadConfig() {
  try {
    const response = await fetch("/v1/kiosk/config", {credentials: "same-origin", cache: "no-store"});
    setOnline(true);
    if (response.status === 401) { showUnpaired(); return; }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    config = await response.json();
    await saved.set("config", config);
  } catch (e) {
    if (!config) config = (await saved.get("config")) || null;
    if (e instanceof TypeError) setOnline(false);
  }
  if (config) {
    $("station").textContent = config.station.name;
    if (!$("unpaired").classList.contains("hidden")) home();
  } else if (online === false) {
    $("station").textContent = "离线，等待连接…";
  }
}

async function heartbeat() {
  if (!config) return;
  const body = {event_id: uuid7(), type: "kiosk.heartbeat", occurred_at: new Date().toISOString(),
    payload: {app_version: config.app_version, outbox_pending: Number($("pending").dataset.count || 0), uptime_s: Math.floor((Date.now() - STARTED) / 1000)}};
  try {
    const response = await fetch("/v1/kiosk/events", {method: "POST", headers: HEADERS, body: JSON.stringify(body), credentials: "same-origin"});
    setOnline(true);
    if (response.status === 401) showUnpaired();
    deliver();
  } catch (e) { setOnline(false); }
}

// --- screens -------------------------------------------------------------------------------

const SCREENS = ["home", "card-screen", "choose-screen", "demand-screen", "done-screen", "unpaired"];
let flow = null;        // what the resident is doing: {kind, id, sealed, choice, stars}
let doneTimer = null;

function show(id) {
  for (const s of SCREENS) $(s).classList.toggle("hidden", s !== id);
  $("back").classList.toggle("hidden", id === "home" || id === "unpaired");
  stopCamera();
}

function home() {
  flow = null;
  clearTimeout(doneTimer);
  $("card").value = "";
  $("summary").value = "";
  show("home");
}

// the API says this kiosk is not (or no longer) paired: its key was revoked, or never given.
// It stops taking actions (what it had queued stays, delivered after a new pairing).
function showUnpaired() {
  config = null;
  saved.set("config", null);
  $("station").textContent = "未配对";
  show("unpaired");
}

const TITLES = {checkin: "签到：请刷卡，或输入卡号", checkout: "签退：请刷卡，或输入卡号",
  register: "报名：请刷卡，或输入卡号", rate: "评价：请刷卡，或输入卡号",
  demand: "提需求：请刷卡，或输入卡号", lookup: "查进度：请刷卡，或输入卡号"};

function startFlow(kind) {
  if (!config) { showUnpaired(); return; }
  flow = {kind, id: uuid7()};
  $("card-title").textContent = TITLES[kind];
  $("card").value = "";
  $("card-error").classList.add("hidden");
  show("card-screen");
  $("card").focus();
}

async function cardEntered() {
  const typed = $("card").value.trim();
  $("card").value = "";        // the clear number is not kept anywhere past this line
  if (typed.length < 4 || typed.length > 64) {
    $("card-error").textContent = "卡号不正确，请重新输入";
    $("card-error").classList.remove("hidden");
    return;
  }
  flow.sealed = await sealFor(typed, flow.id);
  if (flow.kind === "checkout") return submit();
  if (flow.kind === "lookup") return lookup();
  choose();
}

const fmtTime = (iso) => iso ? iso.slice(5, 16).replace("T", " ") : "";
const today = () => new Date().toLocaleDateString("sv", {timeZone: config.tz});

function activityChoice(a, note) {
  return `<button type="button" class="choice" data-choice="${esc(a.activity_id)}"><b>${esc(a.title)}</b>`
    + `<span>${esc(fmtTime(a.starts_at))}–${esc((a.ends_at || "").slice(11, 16))} · ${esc(a.venue_name)}</span>${note ? `<span>${note}</span>` : ""}</button>`;
}

function choose() {
  const now = Date.now();
  const acts = config.activities || [];
  const starts = (a) => Date.parse(a.starts_at);
  const ends = (a) => Date.parse(a.ends_at);
  let title = "", items = [];
  $("stars").classList.add("hidden");
  $("stars-label").classList.add("hidden");
  $("summary-box").classList.add("hidden");
  $("choose-ok").classList.add("hidden");
  if (flow.kind === "checkin") {
    title = "请选择您参加的活动或去的场所";
    const nowOn = acts.filter((a) => starts(a) - 3600_000 <= now && ends(a) > now);
    items = nowOn.map((a) => activityChoice(a, "正在进行"))
      .concat(config.venues.map((v) => `<button type="button" class="choice" data-venue="${esc(v.id)}"><b>${esc(v.name)}</b><span>自由活动</span></button>`));
  } else if (flow.kind === "register") {
    title = "请选择要报名的活动";
    const coming = acts.filter((a) => a.open && starts(a) > now);
    items = coming.map((a) => activityChoice(a, a.registered >= a.capacity ? '<em class="full">已满，可排候补</em>' : `余 ${a.capacity - a.registered} 位`));
    if (!items.length) items = ['<p class="hint">本周暂无可报名的活动</p>'];
  } else if (flow.kind === "rate") {
    title = "请选择要评价的活动，再点星星";
    const held = acts.filter((a) => starts(a) <= now).reverse();
    items = held.map((a) => activityChoice(a, ""));
    if (!items.length) items = ['<p class="hint">最近没有可评价的活动</p>'];
    $("stars").classList.remove("hidden");
  } else if (flow.kind === "demand") {
    title = "您需要哪一类服务？";
    items = config.categories.map((c) => `<button type="button" class="choice" data-category="${esc(c.id)}"><b>${esc(c.name)}</b></button>`);
    $("summary-box").classList.remove("hidden");
  }
  $("choose-title").textContent = title;
  $("choices").innerHTML = items.join("");
  for (const b of $("stars").querySelectorAll("button")) b.classList.remove("on");
  show("choose-screen");
}

const STAR_WORDS = ["", "很不满意", "不满意", "一般", "满意", "非常满意"];

function picked(button) {
  for (const b of $("choices").querySelectorAll(".choice")) b.classList.toggle("selected", b === button);
  flow.choice = {...button.dataset};
  if (flow.kind === "checkin" || flow.kind === "register") return submit();
  updateOk();
}

function starred(n) {
  flow.stars = n;
  for (const b of $("stars").querySelectorAll("button")) b.classList.toggle("on", Number(b.dataset.stars) <= n);
  $("stars-label").textContent = `${n} 星：${STAR_WORDS[n]}`;
  $("stars-label").classList.remove("hidden");
  updateOk();
}

function updateOk() {
  const ready = flow.kind === "rate" ? flow.choice && flow.stars : flow.kind === "demand" ? flow.choice : false;
  $("choose-ok").classList.toggle("hidden", !ready);
}

function actionOf() {
  const at = new Date().toISOString();
  const f = flow;
  if (f.kind === "checkin") {
    const activity = f.choice.choice ? (config.activities || []).find((a) => a.activity_id === f.choice.choice) : null;
    const payload = activity ? {venue_id: activity.venue_id, activity_id: activity.activity_id} : {venue_id: f.choice.venue};
    return ["/v1/kiosk/events", {event_id: f.id, type: "checkin.recorded", occurred_at: at, payload, resident_sealed: f.sealed}];
  }
  if (f.kind === "checkout") {
    return ["/v1/kiosk/events", {event_id: f.id, type: "checkout.recorded", occurred_at: at, payload: {}, resident_sealed: f.sealed}];
  }
  if (f.kind === "rate") {
    return ["/v1/kiosk/events", {event_id: f.id, type: "evaluation.submitted", occurred_at: at,
      payload: {activity_id: f.choice.choice, rating: f.stars}, resident_sealed: f.sealed}];
  }
  if (f.kind === "register") {
    return ["/v1/kiosk/commands", {command_id: f.id, made_at: at, resident_sealed: f.sealed,
      command: {kind: "registration.register", registration_id: "kr-" + f.id.replace(/-/g, ""), activity_id: f.choice.choice}}];
  }
  // the id's random end (its start is the time): short enough to read out, unique enough
  const demandId = "D-" + f.id.replace(/-/g, "").slice(-10).toUpperCase();
  f.demandId = demandId;
  return ["/v1/kiosk/commands", {command_id: f.id, made_at: at, resident_sealed: f.sealed,
    command: {kind: "demand.submit", demand_id: demandId, category: f.choice.category, summary: $("summary").value.trim()}}];
}

const DONE_WORDS = {checkin: "签到成功，欢迎！", checkout: "签退成功，慢走！", rate: "感谢您的评价！",
  register: "报名已提交", demand: "需求已提交，感谢！"};

async function submit() {
  const [url, body] = actionOf();
  const f = flow;
  f.submitted = true;
  await enqueue(f.id, url, body, f.kind);
  $("done").className = "done";
  $("done").textContent = DONE_WORDS[f.kind];
  $("done-detail").innerHTML = (f.demandId ? `<p>需求编号：<b id="demand-number">${esc(f.demandId)}</b>（可凭编号查询进度）</p>` : "")
    + '<p class="hint" id="delivery">正在提交…</p>';
  show("done-screen");
  clearTimeout(doneTimer);
  doneTimer = setTimeout(home, DONE_MS);
  showOutcome(f.id);
  setTimeout(() => { if (flow === f && !outcomes.has(f.id)) showOutcome(f.id); }, 3000);
}

const REASONS = {activity_full: "活动已满", not_found: "没有找到该活动", already_registered: "您已经报过名了",
  no_open_visit: "没有找到您今天的签到记录", too_old: "记录已过期", bad_seal: "卡号读取失败，请重试"};

function showOutcome(id) {
  if (!flow || flow.id !== id || !flow.submitted) return;
  const el = $("delivery");
  if (!el) return;
  const outcome = outcomes.get(id);
  if (!outcome) {
    if (online === false || delivering) el.textContent = "已保存在本机，联网后自动提交，您可以离开了。";
    return;
  }
  const a = outcome.answer || {};
  if (outcome.status >= 400 || a.status === "rejected") {
    $("done").className = "done refused";
    $("done").textContent = "未能办理";
    el.textContent = REASONS[a.reason || a.error] || a.detail || "请咨询工作人员";
  } else if (a.outcome === "waitlisted") {
    $("done").textContent = "活动已满，已为您排候补";
    el.textContent = `候补第 ${a.position} 位，有空位会自动为您报上。`;
  } else {
    el.textContent = flow.kind === "register" ? "报名成功，请准时参加。" : "已提交。";
  }
}

async function lookup() {
  const id = flow.id, sealed = flow.sealed;
  $("done").className = "done";
  $("done").textContent = "我的报名和需求";
  $("done-detail").innerHTML = '<p class="hint">查询中…</p>';
  show("done-screen");
  try {
    const response = await fetch("/v1/kiosk/lookup", {method: "POST", headers: HEADERS, credentials: "same-origin",
      body: JSON.stringify({lookup_id: id, resident_sealed: sealed})});
    setOnline(true);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const found = await response.json();
    const regs = found.registrations.map((r) => `<tr><td>${esc(r.title)}</td><td>${esc(fmtTime(r.starts_at))}</td><td>${esc(r.status_label)}</td></tr>`).join("");
    const dems = found.demands.map((d) => `<tr><td>${esc(d.demand_id)}</td><td>${esc(d.category_name)}</td><td>${esc(d.status_label)}${d.answer ? "：" + esc(d.answer) : ""}</td></tr>`).join("");
    $("done-detail").innerHTML = `<h2>报名</h2>${regs ? `<table><tr><th>活动</th><th>时间</th><th>状态</th></tr>${regs}</table>` : '<p class="hint">最近 30 天没有报名</p>'}`
      + `<h2>需求</h2>${dems ? `<table><tr><th>编号</th><th>类别</th><th>进度</th></tr>${dems}</table>` : '<p class="hint">最近 30 天没有提交需求</p>'}`;
  } catch (e) {
    if (e instanceof TypeError) setOnline(false);
    $("done-detail").innerHTML = '<p class="error">暂时查不到（网络不通），请稍后再试。</p>';
  }
  clearTimeout(doneTimer);
  doneTimer = setTimeout(home, DONE_MS * 2);
}

async function demandById() {
  const id = $("demand-id").value.trim().toUpperCase();
  if (!id) return;
  const out = $("demand-result");
  try {
    const response = await fetch(`/v1/kiosk/demands/${encodeURIComponent(id)}`, {credentials: "same-origin", cache: "no-store"});
    setOnline(true);
    if (response.status === 404) { out.innerHTML = '<p class="error">没有找到这个编号的需求</p>'; return; }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const d = await response.json();
    out.innerHTML = `<table><tr><th>类别</th><td>${esc(d.category_name)}</td></tr><tr><th>进度</th><td>${esc(d.status_label)}</td></tr>`
      + `<tr><th>附议</th><td>${esc(d.supporters)} 人</td></tr>${d.answer ? `<tr><th>答复</th><td>${esc(d.answer)}</td></tr>` : ""}</table>`;
  } catch (e) {
    if (e instanceof TypeError) setOnline(false);
    out.innerHTML = '<p class="error">暂时查不到（网络不通），请稍后再试。</p>';
  }
}

// --- camera (where the browser has BarcodeDetector) -------------------------------------

let stream = null;
async function scan() {
  const video = $("camera");
  try {
    const detector = new BarcodeDetector({formats: ["qr_code", "code_128", "ean_13"]});
    stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: "user"}});
    video.srcObject = stream;
    video.classList.remove("hidden");
    await video.play();
    const tick = async () => {
      if (!stream) return;
      const codes = await detector.detect(video).catch(() => []);
      if (codes.length) { $("card").value = codes[0].rawValue; stopCamera(); cardEntered(); return; }
      requestAnimationFrame(tick);
    };
    tick();
  } catch (e) {
    stopCamera();
    $("card-error").textContent = "无法使用摄像头，请输入卡号";
    $("card-error").classList.remove("hidden");
  }
}
function stopCamera() {
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  $("camera").classList.add("hidden");
}

// --- wiring ----------------------------------------------------------------------------------

let idleTimer = null;
function touched() {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => { if (!$("unpaired").classList.contains("hidden")) return; home(); }, IDLE_MS);
}

function tick() {
  const now = new Date();
  $("clock").textContent = now.toLocaleTimeString("zh-CN", {timeZone: (config && config.tz) || "Asia/Shanghai", hour: "2-digit", minute: "2-digit"});
}

document.addEventListener("click", (e) => {
  const t = e.target.closest("button");
  if (!t) return;
  if (t.dataset.flow) startFlow(t.dataset.flow);
  else if (t.dataset.key) {
    const card = $("card");
    card.value = t.dataset.key === "del" ? card.value.slice(0, -1) : t.dataset.key === "clear" ? "" : card.value + t.dataset.key;
  } else if ("home" in t.dataset) home();
  else if (t.id === "card-ok") cardEntered();
  else if (t.id === "scan") scan();
  else if (t.classList.contains("choice")) picked(t);
  else if (t.dataset.stars) starred(Number(t.dataset.stars));
  else if (t.id === "choose-ok") submit();
  else if (t.id === "by-number") { if (config) { $("demand-result").innerHTML = ""; $("demand-id").value = ""; show("demand-screen"); } }
  else if (t.id === "demand-ok") demandById();
});
$("card").addEventListener("keydown", (e) => { if (e.key === "Enter") cardEntered(); });
$("demand-id").addEventListener("keydown", (e) => { if (e.key === "Enter") demandById(); });
for (const kind of ["pointerdown", "keydown"]) document.addEventListener(kind, touched, {passive: true});
window.addEventListener("online", deliver);
if ("BarcodeDetector" in window && navigator.mediaDevices) $("scan").classList.remove("hidden");

async function start() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/kiosk/sw.js", {scope: "/kiosk"}).catch(() => {});
  }
  config = (await saved.get("config")) || null;
  if (config) $("station").textContent = config.station.name;
  home();
  await showPending();
  await loadConfig();
  if (!config) showUnpaired();
  tick();
  setInterval(tick, 10_000);
  setInterval(loadConfig, CONFIG_MS);
  setInterval(heartbeat, HEARTBEAT_MS);
  heartbeat();
  deliver();
  touched();
}
start();
