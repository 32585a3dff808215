// Store board: sign in, page through the store's orders (filters and search), accept, pick
// (traceability codes), dispatch, cancel, fail and take parcels back; a map of the city with
// the store, where open orders go and where couriers are; the cold-chain log and what the
// courier collects at the door. Live over the realtime websocket (no page reloads).
"use strict";

const STATUS_LABEL = {
  created: "待接单", accepted: "已接单", picked: "已拣货", dispatched: "配送中",
  delivered: "已送达", completed: "已完成", cancelled: "已取消",
  delivery_failed: "配送失败", returning: "退回中", returned: "已退回",
};
const COLUMN_OF = {
  created: "created", accepted: "accepted", picked: "picked", dispatched: "dispatched",
  delivered: "done", completed: "done",
  cancelled: "exception", delivery_failed: "exception", returning: "exception", returned: "exception",
};
// Orders still to be delivered: the map shows where they go.
const OPEN_STATES = ["created", "accepted", "picked", "dispatched"];
const PAGE_SIZE = 50;
const SVG_NS = "http://www.w3.org/2000/svg";
const MAP_WIDTH = 400;
const MAP_PADDING = 12;
// The city proper (城区, 矿区) is a few kilometres across inside a city of fifty: "市区" frames
// it, with this margin in degrees, so its markers come apart.
const URBAN_DISTRICTS = ["140302", "140303"];
const URBAN_MARGIN = 0.03;

const state = {
  access: null, refresh: null, me: null, store: null, couriers: [], districts: null,
  // The board: the pages loaded so far under the current filter, and the next page's cursor
  // (null once the last page is in). `generation` drops answers to a superseded filter.
  orders: new Map(), next: null, filter: new URLSearchParams(), loading: false, generation: 0,
  // Every open order of the store, whatever the filter: the map's destinations and couriers.
  open: new Map(), zoom: "city",
  socket: null, retry: 0,
  // Typed-in codes and reasons (key: order id + drug id / action): what an action sends, and
  // what a card rebuilt for a newer copy of its order shows again.
  drafts: new Map(),
  // Each order's card as last built, with the `updated_at` it shows: a live event rebuilds
  // only the card that changed, so typing in another card keeps its focus.
  cards: new Map(),
};

function $(selector, root = document) { return root.querySelector(selector); }

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "onclick") node.addEventListener("click", value);
    else if (name === "oninput") node.addEventListener("input", value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function yuan(fen) { return "¥" + (fen / 100).toFixed(2); }
function cityTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false });
}
function cityDateTime(iso) {
  return new Date(iso).toLocaleString("zh-CN", {
    timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
  });
}
function newKey() {
  return (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).slice(0, 64);
}
function toast(text) {
  const node = $("#toast");
  node.textContent = text;
  node.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => node.classList.remove("show"), 2500);
}

async function api(path, { method = "GET", body, key } = {}, retried = false) {
  const headers = { "Accept-Language": "zh-CN" };
  if (state.access) headers.Authorization = "Bearer " + state.access;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (key) headers["Idempotency-Key"] = key;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401 && state.refresh && !retried && (await refreshTokens())) {
    return api(path, { method, body, key }, true);
  }
  const data = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new Error((data && data.detail) || "请求失败");
  return data;
}

async function refreshTokens() {
  const response = await fetch("/api/v1/auth/refresh", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: state.refresh }),
  });
  if (!response.ok) return false;
  saveTokens(await response.json());
  return true;
}

function saveTokens(pair) {
  state.access = pair.access_token;
  state.refresh = pair.refresh_token;
  sessionStorage.setItem("tokens", JSON.stringify({ access: state.access, refresh: state.refresh }));
}

async function login(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  $("#login-error").textContent = "";
  try {
    const pair = await api("/api/v1/auth/password-login", {
      method: "POST", body: { username: form.get("username"), password: form.get("password") },
    });
    saveTokens(pair);
    await start();
  } catch (error) {
    $("#login-error").textContent = error.message;
  }
}

// Every list answers {items, next}: follow `next` (an opaque cursor) until it is null.
async function everyPage(path) {
  const items = [];
  let cursor = null;
  do {
    const separator = path.includes("?") ? "&" : "?";
    const page = await api(cursor === null ? path : path + separator + "cursor=" + encodeURIComponent(cursor));
    items.push(...page.items);
    cursor = page.next;
  } while (cursor !== null);
  return items;
}

async function start() {
  state.me = await api("/api/v1/auth/me");
  if (!state.me.store_id) {
    $("#login-error").textContent = "仅门店员工可使用此工作台";
    return;
  }
  $("#login").hidden = true;
  $("#workspace").hidden = false;
  $("#logout").hidden = false;
  state.store = await api("/api/v1/pharmacy/store");
  $("#store-name").textContent = state.store.name_zh;
  document.title = state.store.name_zh + " · 药房配送工作台";
  // Only the pharmacist dispatches, so only they list the couriers (and filter by one).
  if (state.me.role === "pharmacist") state.couriers = await everyPage("/api/v1/pharmacy/couriers");
  $("[name=courier]").append(...state.couriers.map((c) => el("option", { value: c.account_id }, c.display_name)));
  $("[name=courier]").closest("label").hidden = state.me.role !== "pharmacist";
  const outlines = await fetch("/dashboard/assets/yangquan-districts.geojson");
  state.districts = await outlines.json();
  await Promise.all([reload(), refreshMap()]);
  new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) loadMore();
  }).observe($("#load-more"));
  connect();
}

// --- the board: pages under a filter -------------------------------------------------------

function filtering() { return [...state.filter.keys()].length > 0; }

async function reload() {
  state.generation += 1;
  state.orders.clear();
  state.cards.clear();
  state.next = null;
  state.loading = false;
  await loadPage(null);
}

async function loadMore() {
  if (state.next !== null && !state.loading) await loadPage(state.next);
}

async function loadPage(cursor) {
  const generation = state.generation;
  const query = new URLSearchParams(state.filter);
  query.set("limit", String(PAGE_SIZE));
  if (cursor !== null) query.set("cursor", cursor);
  state.loading = true;
  try {
    const page = await api("/api/v1/orders?" + query.toString());
    if (generation !== state.generation) return;
    for (const order of page.items) state.orders.set(order.id, order);
    state.next = page.next;
  } catch (error) {
    toast(error.message);
  } finally {
    if (generation === state.generation) state.loading = false;
  }
  render();
}

function applyFilters(event) {
  event.preventDefault();
  const filter = new URLSearchParams();
  for (const [name, value] of new FormData($("#filters"))) {
    if (String(value).trim()) filter.set(name, String(value).trim());
  }
  state.filter = filter;
  reload();
}

function render() {
  for (const column of document.querySelectorAll(".column")) {
    const cards = $(".cards", column);
    const mine = [...state.orders.values()].filter((o) => COLUMN_OF[o.status] === column.dataset.state);
    mine.sort((a, b) => b.created_at.localeCompare(a.created_at));
    const wanted = mine.map(cardOf);
    const shown = [...cards.children];
    if (wanted.length !== shown.length || wanted.some((node, i) => node !== shown[i])) cards.replaceChildren(...wanted);
    $(".count", column).textContent = "(" + mine.length + ")";
  }
  const more = $("#load-more");
  more.hidden = state.next === null;
  $("#loaded").textContent = "已加载 " + state.orders.size + " 个订单" + (state.next === null ? "（已全部加载）" : "");
}

function cardOf(order) {
  const built = state.cards.get(order.id);
  if (built && built.updatedAt === order.updated_at) return built.node;
  const node = card(order);
  if (built) built.node.replaceWith(node);
  state.cards.set(order.id, { updatedAt: order.updated_at, node });
  return node;
}

function card(order) {
  return el("article", { class: "card", "data-testid": "order-" + order.id, "data-status": order.status },
    el("h3", {}, el("span", {}, "订单 " + order.id.slice(0, 8)), el("span", { class: "badge" }, STATUS_LABEL[order.status] || order.status)),
    el("div", { class: "meta" }, "下单：", cityDateTime(order.created_at)),
    el("div", { class: "meta" }, "患者：", order.patient_name || "—", order.fulfilment === "pickup" ? el("span", { class: "badge" }, "到店自取") : null,
      order.cold_chain ? el("span", { class: "badge cold" }, "冷链 2-8℃") : null),
    el("div", { class: "meta" }, "地址：", order.delivery_address || "—"),
    el("ul", {}, order.lines.map((line) => el("li", {}, line.drug_name_zh + " " + line.strength + " ×" + line.packs + " 盒",
      order.status === "accepted" ? "（已扫 " + line.scanned + "）" : ""))),
    el("div", { class: "meta" }, "金额：", yuan(order.total_fen)),
    order.courier ? el("div", { class: "meta" }, "配送员：", order.courier.display_name) : null,
    collect(order),
    coldChain(order),
    tracking(order),
    actions(order));
}

// What the courier takes at the door: the patient's cash share (the fund and, if chosen, the
// personal account pay the rest).
function collect(order) {
  if (!order.collect || order.fulfilment !== "delivery" || ["cancelled", "returned"].includes(order.status)) return null;
  const share = order.collect;
  return el("div", { class: "collect", "data-testid": "collect-" + order.id },
    "上门收取 ", el("strong", {}, yuan(share.cash_fen)), share.cash_fen > 0 ? "（现金、刷卡或微信/支付宝扫码）" : "（无需收款）",
    el("br"), "医保统筹 ", yuan(share.fund_fen),
    share.pay_from_personal_account ? ["，个人账户 ", yuan(share.account_fen)] : "，未使用个人账户");
}

function coldChain(order) {
  if (!order.cold_chain) return null;
  const readings = order.cold_chain_log;
  const outside = readings.filter((r) => !r.in_range);
  const alarm = outside.length || order.late_cold_chain_excursion
    ? el("div", { class: "alarm", role: "alert", "data-testid": "cold-alarm-" + order.id },
      "⚠ 温度超出 2-8℃：", outside.map((r) => cityTime(r.measured_at) + " " + r.celsius.toFixed(1) + "℃").join("，"),
      order.late_cold_chain_excursion ? "（交付后补传，请联系患者）" : "")
    : null;
  const log = el("details", { class: "templog", "data-testid": "templog-" + order.id },
    el("summary", {}, "温度记录（" + readings.length + " 条）"),
    readings.length
      ? el("ol", {}, readings.map((r) => el("li", { class: r.in_range ? null : "out" },
        cityTime(r.measured_at), " ", r.celsius.toFixed(1), "℃", r.late ? "（补传）" : "")))
      : el("div", { class: "meta" }, "暂无温度记录"));
  return el("div", {}, alarm, log);
}

function tracking(order) {
  if (!["dispatched", "delivered"].includes(order.status) || order.last_lat === null) {
    return order.status === "dispatched" && order.eta_at
      ? el("div", { class: "tracking", "data-testid": "tracking-" + order.id }, "预计送达 ", cityTime(order.eta_at))
      : null;
  }
  return el("div", { class: "tracking", "data-testid": "tracking-" + order.id },
    "配送员位置 ", order.last_lat.toFixed(4), ", ", order.last_lng.toFixed(4),
    "（", cityTime(order.last_located_at), " 更新）", el("br"), "预计送达 ", cityTime(order.eta_at));
}

// A step that needs a reason (cancel, delivery failed): the reason is typed on the card.
function withReason(order, verb, label, placeholder) {
  const draftKey = order.id + "/" + verb;
  const input = el("input", {
    placeholder, maxlength: "200", "data-testid": verb + "-reason-" + order.id,
    oninput: (event) => state.drafts.set(draftKey, event.target.value),
  });
  input.value = state.drafts.get(draftKey) || "";
  const button = el("button", {
    class: "secondary", "data-testid": verb + "-" + order.id,
    onclick: () => {
      const reason = (state.drafts.get(draftKey) || "").trim();
      if (!reason) return toast("请填写原因");
      state.drafts.delete(draftKey);
      return step(order, verb, { reason });
    },
  }, label);
  return [input, button];
}

function actions(order) {
  const box = el("div", { class: "actions" });
  const pharmacist = state.me.role === "pharmacist";
  const carrying = order.courier && order.courier.account_id === state.me.id;
  if (pharmacist && order.status === "created") {
    box.append(el("button", { "data-testid": "accept-" + order.id, onclick: () => step(order, "accept", {}) }, "接单"));
  } else if (pharmacist && order.status === "accepted") {
    for (const line of order.lines) {
      const draftKey = order.id + "/" + line.drug_id;
      const area = el("textarea", {
        rows: Math.max(1, line.packs), placeholder: line.drug_name_zh + "：每盒一个20位追溯码，一行一个",
        "data-testid": "codes-" + order.id + "-" + line.drug_id,
        oninput: (event) => state.drafts.set(draftKey, event.target.value),
      });
      area.value = state.drafts.get(draftKey) || "";
      box.append(area);
    }
    box.append(el("button", { class: "secondary", "data-testid": "scan-" + order.id, onclick: () => scan(order) }, "提交追溯码"));
    box.append(el("button", { "data-testid": "pick-" + order.id, onclick: () => step(order, "pick", {}) }, "完成拣货"));
  } else if (pharmacist && order.status === "picked" && order.fulfilment === "delivery") {
    const select = el("select", { "data-testid": "courier-" + order.id },
      state.couriers.map((c) => el("option", { value: c.account_id }, c.display_name)));
    box.append(select);
    const seal = order.cold_chain ? el("input", { placeholder: "冷链封签号", "data-testid": "seal-" + order.id }) : null;
    if (seal) box.append(seal);
    box.append(el("button", {
      "data-testid": "dispatch-" + order.id,
      onclick: () => step(order, "dispatch", { courier_account_id: select.value, seal_id: seal ? seal.value || null : null }),
    }, "派送"));
  }
  // Before picking the store may still cancel (stock and prescription go back).
  if (pharmacist && ["created", "accepted"].includes(order.status)) box.append(...withReason(order, "cancel", "取消订单", "取消原因"));
  if ((pharmacist || carrying) && order.status === "dispatched") box.append(...withReason(order, "fail", "配送失败", "失败原因"));
  if ((pharmacist || carrying) && order.status === "delivery_failed") {
    box.append(el("button", { class: "secondary", "data-testid": "return-" + order.id, onclick: () => step(order, "return", {}) }, "开始退回"));
  }
  if (pharmacist && order.status === "returning") {
    box.append(el("button", { "data-testid": "returned-" + order.id, onclick: () => step(order, "returned", {}) }, "确认退回入库"));
  }
  return box.childElementCount ? box : null;
}

async function step(order, verb, body) {
  try {
    const updated = await api("/api/v1/orders/" + order.id + "/" + verb, { method: "POST", body, key: newKey() });
    upsert(updated, false);
  } catch (error) {
    toast(error.message);
  }
}

async function scan(order) {
  const boxes = [];
  for (const line of order.lines) {
    const typed = state.drafts.get(order.id + "/" + line.drug_id) || "";
    for (const code of typed.split(/\s+/).filter(Boolean)) boxes.push({ drug_id: line.drug_id, code });
  }
  if (!boxes.length) return toast("请先输入追溯码");
  try {
    const result = await api("/api/v1/orders/" + order.id + "/scans", { method: "POST", body: { boxes } });
    const refused = result.items.filter((item) => item.outcome === "rejected");
    for (const line of order.lines) state.drafts.delete(order.id + "/" + line.drug_id);
    toast(refused.length ? "有 " + refused.length + " 个追溯码被拒绝：" + refused.map((r) => r.code + "（" + r.reason + "）").join("，") : "追溯码已登记");
    upsert(await api("/api/v1/orders/" + order.id), false);
  } catch (error) {
    toast(error.message);
  }
}

function upsert(order, flash) {
  const known = state.orders.get(order.id) || state.open.get(order.id);
  // Answers to overlapping fetches can arrive out of order: an older copy never wins.
  if (known && Date.parse(known.updated_at) > Date.parse(order.updated_at)) return;
  // A new order joins the unfiltered board; under a filter the board shows what was asked for.
  if (state.orders.has(order.id) || !filtering()) state.orders.set(order.id, order);
  if (OPEN_STATES.includes(order.status)) state.open.set(order.id, order);
  else state.open.delete(order.id);
  render();
  drawMap();
  if (flash) {
    const node = document.querySelector('[data-testid="order-' + order.id + '"]');
    if (node) { node.classList.add("flash"); setTimeout(() => node.classList.remove("flash"), 1500); }
  }
}

// --- the map: district outlines, the store, destinations, couriers -------------------------

async function refreshMap() {
  const query = OPEN_STATES.map((s) => "status=" + s).join("&");
  const open = await everyPage("/api/v1/orders?limit=200&" + query);
  state.open = new Map(open.map((order) => [order.id, order]));
  drawMap();
}

// An equirectangular projection of the framed extent (east-west shrunk by the cosine of its
// latitude), a few dozen kilometres across: good enough to see who is where. What falls
// outside the frame is clipped by the picture's edge.
function projection(features, margin) {
  let minLng = Infinity, maxLng = -Infinity, minLat = Infinity, maxLat = -Infinity;
  for (const feature of features) {
    for (const polygon of feature.geometry.coordinates) {
      for (const [lng, lat] of polygon[0]) {
        minLng = Math.min(minLng, lng); maxLng = Math.max(maxLng, lng);
        minLat = Math.min(minLat, lat); maxLat = Math.max(maxLat, lat);
      }
    }
  }
  minLng -= margin; maxLng += margin; minLat -= margin; maxLat += margin;
  const shrink = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);
  const scale = (MAP_WIDTH - 2 * MAP_PADDING) / ((maxLng - minLng) * shrink);
  const height = Math.ceil((maxLat - minLat) * scale + 2 * MAP_PADDING);
  const point = (lng, lat) => [
    +((lng - minLng) * shrink * scale + MAP_PADDING).toFixed(1),
    +((maxLat - lat) * scale + MAP_PADDING).toFixed(1),
  ];
  return { point, height };
}

function zoomTo(zoom) {
  state.zoom = zoom;
  for (const button of document.querySelectorAll("[data-zoom]")) button.classList.toggle("chosen", button.dataset.zoom === zoom);
  drawMap();
}

function drawMap() {
  if (!state.districts || !state.store) return;
  const features = state.districts.features;
  const framed = state.zoom === "urban" ? features.filter((f) => URBAN_DISTRICTS.includes(f.properties.adcode)) : features;
  const { point, height } = projection(framed, state.zoom === "urban" ? URBAN_MARGIN : 0);
  const root = svg("svg", { viewBox: "0 0 " + MAP_WIDTH + " " + height, role: "img", "aria-label": "阳泉市配送地图", "data-testid": "map-svg" });
  const outlines = svg("g", { class: "districts" });
  const names = svg("g", { class: "names" });
  for (const feature of features) {
    const rings = feature.geometry.coordinates.map((polygon) => polygon[0]);
    const d = rings.map((ring) => "M" + ring.map(([lng, lat]) => point(lng, lat).join(",")).join("L") + "Z").join("");
    outlines.append(svg("path", { class: "district", d, "data-adcode": feature.properties.adcode }, svg("title", {}, feature.properties.name)));
    const largest = rings.reduce((a, b) => (b.length > a.length ? b : a));
    const [x, y] = largest.reduce(([sx, sy], [lng, lat]) => {
      const [px, py] = point(lng, lat);
      return [sx + px / largest.length, sy + py / largest.length];
    }, [0, 0]);
    names.append(svg("text", { class: "district-name", x: x.toFixed(1), y: y.toFixed(1) }, feature.properties.name));
  }
  root.append(outlines, names);

  // The store first, destinations over it (many share their district's centre with it), the
  // couriers on top.
  const markers = svg("g", { class: "markers" });
  const [sx, sy] = point(state.store.location.lng, state.store.location.lat);
  markers.append(svg("rect", { class: "marker store", x: sx - 6, y: sy - 6, width: 12, height: 12, "data-testid": "map-store" },
    svg("title", {}, state.store.name_zh)));
  for (const order of state.open.values()) {
    if (order.fulfilment !== "delivery") continue;
    const [x, y] = point(order.destination.lng, order.destination.lat);
    markers.append(svg("circle", { class: "marker destination", cx: x, cy: y, r: 4, "data-testid": "map-destination-" + order.id },
      svg("title", {}, "订单 " + order.id.slice(0, 8) + " · " + (STATUS_LABEL[order.status] || order.status))));
  }
  const couriers = couriersOut();
  for (const courier of couriers) {
    const [x, y] = point(courier.lng, courier.lat);
    markers.append(svg("circle", { class: "marker courier", cx: x, cy: y, r: 6, "data-testid": "map-courier-" + courier.id },
      svg("title", {}, courier.name + " · 预计 " + cityTime(courier.eta) + " 送达")));
    if (courier.eta) markers.append(svg("text", { class: "eta", x: x + 8, y: y - 6 }, courier.name + " " + cityTime(courier.eta)));
  }
  root.append(markers);
  $("#map").replaceChildren(root);
  $("#couriers-out").replaceChildren(...(couriers.length
    ? couriers.map((c) => el("li", { "data-testid": "courier-out-" + c.id },
      c.name, " · 位置 ", cityTime(c.at), " 更新 · ", c.orders.map((o) => "订单 " + o.id.slice(0, 8) + " 预计 " + cityTime(o.eta_at) + " 送达").join("；")))
    : [el("li", {}, "暂无配送中的配送员")]));
}

// Each courier out on a delivery, at the newest position any of their parcels reported.
function couriersOut() {
  const byCourier = new Map();
  for (const order of state.open.values()) {
    if (order.status !== "dispatched" || !order.courier || order.last_lat === null) continue;
    const id = order.courier.account_id;
    const known = byCourier.get(id);
    const entry = known || { id, name: order.courier.display_name, orders: [], at: null, lat: null, lng: null, eta: null };
    entry.orders.push(order);
    if (entry.at === null || order.last_located_at > entry.at) {
      Object.assign(entry, { at: order.last_located_at, lat: order.last_lat, lng: order.last_lng });
    }
    if (order.eta_at && (entry.eta === null || order.eta_at < entry.eta)) entry.eta = order.eta_at;
    byCourier.set(id, entry);
  }
  return [...byCourier.values()];
}

// --- live updates -----------------------------------------------------------------------------

function connect() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + location.host + "/ws");
  state.socket = socket;
  socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "auth", token: state.access })));
  socket.addEventListener("message", async (message) => {
    const frame = JSON.parse(message.data);
    if (frame.type === "ready") { state.retry = 0; setLive(true); return; }
    if (frame.type === "ping") { socket.send(JSON.stringify({ type: "pong" })); return; }
    if (frame.type === "order.updated" || frame.type === "delivery.location") {
      try {
        upsert(await api("/api/v1/orders/" + frame.order_id), true);
        if (frame.type === "delivery.location") toast("配送位置已更新，预计 " + (frame.eta_local || "") + " 送达");
      } catch (error) {
        toast(error.message);
      }
    }
  });
  socket.addEventListener("close", async (event) => {
    setLive(false);
    if (event.code === 4401 && !(await refreshTokens())) return;
    state.retry = Math.min(state.retry + 1, 6);
    setTimeout(connect, 500 * 2 ** state.retry);
  });
}

function setLive(on) {
  const node = $("#live");
  node.textContent = on ? "实时更新中" : "未连接";
  node.className = "live " + (on ? "on" : "off");
}

function logout() {
  sessionStorage.removeItem("tokens");
  location.reload();
}

document.addEventListener("DOMContentLoaded", () => {
  $("#login-form").addEventListener("submit", login);
  $("#logout").addEventListener("click", logout);
  $("#filters").addEventListener("submit", applyFilters);
  // The form clears its fields after the reset event: read them once it has.
  $("#filters").addEventListener("reset", () => setTimeout(() => { state.filter = new URLSearchParams(); reload(); }));
  $("#load-more").addEventListener("click", loadMore);
  for (const button of document.querySelectorAll("[data-zoom]")) button.addEventListener("click", () => zoomTo(button.dataset.zoom));
  const saved = JSON.parse(sessionStorage.getItem("tokens") || "null");
  if (saved) {
    state.access = saved.access;
    state.refresh = saved.refresh;
    start().catch(() => sessionStorage.removeItem("tokens"));
  }
});
