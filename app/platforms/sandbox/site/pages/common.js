// Shared by every creator page: JSON fetches, small DOM helpers, and the IM push websocket.
// Platform text is always set with textContent, never parsed as HTML.
"use strict";

const Sbx = (() => {
  const LAST_SYNC = "sbx.lastSync";

  // body[data-state]: loading | ready | error | login (session expired) | verify (the account
  // must pass a check first) | blocked (the account is banned)
  function setState(state, message) {
    document.body.dataset.state = state;
    const box = document.getElementById("page-error");
    if (box) {
      box.textContent = message || "";
      box.hidden = !message;
    }
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function avatar(url) {
    const img = el("img", "avatar");
    img.src = url;
    img.alt = "";
    return img;
  }

  function time(epochMs) {
    const node = el("time", "time", new Date(epochMs).toLocaleString());
    node.dateTime = new Date(epochMs).toISOString();
    return node;
  }

  function loginRequired() {
    setState("login", "登录已过期，请重新登录 Your session has expired: log in again.");
    const link = el("a", "relogin", "重新登录 Log in");
    link.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    document.getElementById("page-error").append(" ", link);
  }

  // GET when `body` is undefined, else POST it as JSON. Resolves to the JSON body;
  // rejects (after showing the banner) when the session is gone.
  async function api(path, body) {
    const init = body === undefined ? {} : {
      method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body),
    };
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      setState("error", "网络错误 network error");
      throw err;
    }
    const json = await response.json();
    if (response.status === 401 || json.status_code === 8) {
      loginRequired();
      throw new Error("login required");
    }
    const held = {2190: "verify", 2149: "blocked"}[json.status_code];
    if (held) {
      setState(held, json.status_msg);
      throw new Error(held);
    }
    return json;
  }

  // The contenteditable editor + send button pair used by every reply box.
  function editor(editorNode, sendButton, onSend) {
    const text = () => editorNode.innerText.replace(/\u00a0/g, " ").replace(/\n$/, "");
    const update = () => { sendButton.disabled = text().trim() === ""; };
    editorNode.addEventListener("input", update);
    sendButton.addEventListener("click", async () => {
      const value = text();
      if (!value.trim()) return;
      sendButton.disabled = true;
      try {
        await onSend(value);
      } finally {
        update();
      }
    });
    update();
    return {clear() { editorNode.textContent = ""; update(); }};
  }

  // IM push: every creator page keeps the websocket open. After a navigation, or when the
  // browser comes back (the console hibernates idle accounts), the new page asks the server
  // for what arrived since the last frame it saw (localStorage: it outlives the tab).
  function startPush() {
    let stopped = false;
    let current = null;
    window.addEventListener("pagehide", () => { stopped = true; if (current) current.close(); });
    const connect = () => {
      const since = localStorage.getItem(LAST_SYNC) || String(Date.now() - 2000);
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const ws = current = new WebSocket(`${scheme}://${location.host}/api/im/ws?since=${since}`);
      ws.onmessage = (event) => {
        const frame = JSON.parse(event.data);
        if (frame.server_time_ms) localStorage.setItem(LAST_SYNC, String(frame.server_time_ms));
        if (frame.type === "session_expired") {
          stopped = true;
          loginRequired();
        } else if (frame.type === "im_message") {
          const badge = document.getElementById("dm-badge");
          if (badge) badge.textContent = String(Number(badge.textContent || 0) + 1);
          window.dispatchEvent(new CustomEvent("sbx-push", {detail: frame}));
        }
      };
      ws.onclose = () => { if (!stopped) setTimeout(connect, 2000); };
    };
    connect();
  }

  return {setState, el, avatar, time, api, editor, startPush};
})();

document.addEventListener("DOMContentLoaded", () => {
  if (document.body.dataset.push === "on") Sbx.startPush();
});
