// The DM inbox: conversations (newest activity first), the open conversation's messages,
// a message box; new messages arrive by the IM push (common.js) and are shown at once.
"use strict";

let openId = null;
let olderCursor = "0";  // the oldest message shown: older ones are loaded from it

function $(id) { return document.getElementById(id); }

function renderConversation(conv) {
  let row = document.querySelector(`.conversation[data-conversation-id="${CSS.escape(conv.conversation_id)}"]`);
  if (!row) {
    row = Sbx.el("div", "conversation");
    row.dataset.conversationId = conv.conversation_id;
    row.addEventListener("click", () => openConversation(conv.conversation_id, conv.peer.nickname));
  }
  row.replaceChildren();
  const info = Sbx.el("div");
  const last = conv.last_message;
  row.dataset.lastMsgId = last ? last.msg_id : "";
  info.append(Sbx.el("div", "name", conv.peer.nickname), Sbx.el("div", "preview", last ? last.content.text : ""));
  const badge = Sbx.el("span", "badge", String(conv.unread_count));
  badge.dataset.count = String(conv.unread_count);
  row.append(Sbx.avatar(conv.peer.avatar_url), info, badge);
  row.classList.toggle("active", conv.conversation_id === openId);
  return row;
}

function renderMessage(m) {
  const row = Sbx.el("div", "message" + (m.is_from_me ? " from-me" : ""));
  row.dataset.msgId = m.msg_id;
  row.append(Sbx.avatar(m.sender.avatar_url), Sbx.el("div", "bubble", m.content.text));
  return row;
}

function addMessage(m, atTop) {
  if (document.querySelector(`.message[data-msg-id="${m.msg_id}"]`)) return;
  if (atTop) $("messages").prepend(renderMessage(m));
  else $("messages").append(renderMessage(m));
}

async function loadConversations() {
  const body = await Sbx.api("/api/im/conversations");
  if (body.status_code !== 0) return Sbx.setState("error", body.status_msg);
  for (const conv of body.conversations) $("conversations").append(renderConversation(conv));
}

async function openConversation(id, name, before = "0") {
  Sbx.setState("loading");
  openId = id;
  for (const row of document.querySelectorAll(".conversation")) {
    row.classList.toggle("active", row.dataset.conversationId === id);
  }
  $("chat").hidden = false;
  $("chat-header").textContent = name;
  $("chat-header").dataset.conversationId = id;
  $("messages").replaceChildren();
  olderCursor = before;
  await loadOlder();
}

async function loadOlder() {
  Sbx.setState("loading");
  const id = openId;
  const body = await Sbx.api(`/api/im/messages?conversation_id=${encodeURIComponent(id)}&cursor=${encodeURIComponent(olderCursor)}&count=30`);
  if (id !== openId) return;
  if (body.status_code !== 0) return Sbx.setState("error", body.status_msg);
  for (const m of body.messages) addMessage(m, true);  // newest first: each older one on top
  olderCursor = body.cursor;
  $("load-older").hidden = !body.has_more;
  Sbx.setState("ready");
}

window.addEventListener("sbx-push", (event) => {
  const {conversation, message} = event.detail;
  $("conversations").prepend(renderConversation(conversation));
  if (message.conversation_id === openId) addMessage(message, false);
});

document.addEventListener("DOMContentLoaded", async () => {
  $("load-older").addEventListener("click", loadOlder);
  const box = Sbx.editor($("dm-editor"), $("dm-send"), async (text) => {
    $("dm-error").textContent = "";
    const body = await Sbx.api("/api/im/send", {conversation_id: openId, text});
    if (body.status_code !== 0) {
      $("dm-error").textContent = body.status_msg;
      return;
    }
    addMessage(body.message, false);
    box.clear();
  });
  await loadConversations();
  // A link can open a conversation, and start it before a given message (?before=MSG_ID).
  const params = new URLSearchParams(location.search);
  const wanted = params.get("conversation");
  const row = wanted && document.querySelector(`.conversation[data-conversation-id="${CSS.escape(wanted)}"]`);
  if (row) await openConversation(wanted, row.querySelector(".name").textContent, params.get("before") || "0");
  else Sbx.setState("ready");
});
