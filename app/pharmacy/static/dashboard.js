// Store board: sign in, list the store's orders by state, accept, pick (traceability codes),
// dispatch, and follow deliveries live over the realtime websocket (no page reloads).
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

// Typed-in codes survive live re-renders of the board (key: order id + drug id).
const state = { access: null, refresh: null, me: null, orders: new Map(), couriers: [], socket: null, retry: 0, drafts: new Map() };

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

function yuan(fen) { return "¥" + (fen / 100).toFixed(2); }
function cityTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit" });
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
  $("#board").hidden = false;
  $("#logout").hidden = false;
  $("#store-name").textContent = state.me.display_name;
  if (state.me.role === "pharmacist") state.couriers = await everyPage("/api/v1/pharmacy/couriers");
  // The board opens with the newest 200 orders (one page); live events bring the rest.
  const page = await api("/api/v1/orders?limit=200");
  for (const order of page.items) state.orders.set(order.id, order);
  render();
  connect();
}

function render() {
  for (const column of document.querySelectorAll(".column")) {
    const cards = $(".cards", column);
    cards.replaceChildren();
    const mine = [...state.orders.values()].filter((o) => COLUMN_OF[o.status] === column.dataset.state);
    mine.sort((a, b) => b.created_at.localeCompare(a.created_at));
    for (const order of mine) cards.append(card(order));
    $(".count", column).textContent = "(" + mine.length + ")";
  }
}

function card(order) {
  const node = el("article", { class: "card", "data-testid": "order-" + order.id, "data-status": order.status },
    el("h3", {}, el("span", {}, "订单 " + order.id.slice(0, 8)), el("span", { class: "badge" }, STATUS_LABEL[order.status] || order.status)),
    el("div", { class: "meta" }, "患者：", order.patient_name || "—", order.fulfilment === "pickup" ? el("span", { class: "badge" }, "到店自取") : null,
      order.cold_chain ? el("span", { class: "badge cold" }, "冷链 2-8℃") : null),
    el("div", { class: "meta" }, "地址：", order.delivery_address || "—"),
    el("ul", {}, order.lines.map((line) => el("li", {}, line.drug_name_zh + " " + line.strength + " ×" + line.packs + " 盒",
      order.status === "accepted" ? "（已扫 " + line.scanned + "）" : ""))),
    el("div", { class: "meta" }, "金额：", yuan(order.total_fen)),
    order.courier ? el("div", { class: "meta" }, "配送员：", order.courier.display_name) : null,
    tracking(order),
    actions(order));
  return node;
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

function actions(order) {
  if (state.me.role !== "pharmacist") return null;
  const box = el("div", { class: "actions" });
  if (order.status === "created") {
    box.append(el("button", { "data-testid": "accept-" + order.id, onclick: () => step(order, "accept", {}) }, "接单"));
  } else if (order.status === "accepted") {
    for (const line of order.lines) {
      const draftKey = order.id + "/" + line.drug_id;
      const area = el("textarea", {
        rows: Math.max(1, line.packs), placeholder: line.drug_name_zh + "：每盒一个20位追溯码，一行一个",
        "data-drug": line.drug_id, "data-testid": "codes-" + order.id + "-" + line.drug_id,
        oninput: (event) => state.drafts.set(draftKey, event.target.value),
      });
      area.value = state.drafts.get(draftKey) || "";
      box.append(area);
    }
    box.append(el("button", { class: "secondary", "data-testid": "scan-" + order.id, onclick: () => scan(order, box) }, "提交追溯码"));
    box.append(el("button", { "data-testid": "pick-" + order.id, onclick: () => step(order, "pick", {}) }, "完成拣货"));
  } else if (order.status === "picked" && order.fulfilment === "delivery") {
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

async function scan(order, box) {
  const boxes = [];
  for (const area of box.querySelectorAll("textarea")) {
    for (const code of area.value.split(/\s+/).filter(Boolean)) boxes.push({ drug_id: area.dataset.drug, code });
  }
  if (!boxes.length) return toast("请先输入追溯码");
  try {
    const result = await api("/api/v1/orders/" + order.id + "/scans", { method: "POST", body: { boxes } });
    const refused = result.items.filter((item) => item.outcome === "rejected");
    for (const area of box.querySelectorAll("textarea")) state.drafts.delete(order.id + "/" + area.dataset.drug);
    toast(refused.length ? "有 " + refused.length + " 个追溯码被拒绝：" + refused.map((r) => r.code + "（" + r.reason + "）").join("，") : "追溯码已登记");
    upsert(await api("/api/v1/orders/" + order.id), false);
  } catch (error) {
    toast(error.message);
  }
}

function upsert(order, flash) {
  const known = state.orders.get(order.id);
  // Answers to overlapping fetches can arrive out of order: an older copy never wins.
  if (known && Date.parse(known.updated_at) > Date.parse(order.updated_at)) return;
  state.orders.set(order.id, order);
  render();
  if (flash) {
    const node = document.querySelector('[data-testid="order-' + order.id + '"]');
    if (node) { node.classList.add("flash"); setTimeout(() => node.classList.remove("flash"), 1500); }
  }
}

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
  const saved = JSON.parse(sessionStorage.getItem("tokens") || "null");
  if (saved) {
    state.access = saved.access;
    state.refresh = saved.refresh;
    start().catch(() => sessionStorage.removeItem("tokens"));
  }
});
