// One work's comments: first-level comments page by page (newest first), reply threads on
// demand ("查看N条回复", oldest first, or "最新回复" newest first), a box to comment on the work
// and a reply box under any comment. Like a real site's links, the URL can start the list
// after a given first-level comment (?cursor=CID) or show one comment with its thread after
// a given reply (?thread=CID&reply_cursor=REPLY_CID). Cursors are the last row shown.
"use strict";

const params = new URLSearchParams(location.search);
const workId = params.get("work") || "";
const threadCid = params.get("thread");
let cursor = params.get("cursor") || "0";  // the last comment listed: the next page is after it

function $(id) { return document.getElementById(id); }

function renderComment(c) {
  const row = Sbx.el("div", "comment");
  row.dataset.cid = c.cid;
  row.dataset.level = String(c.level);
  row.dataset.author = c.user.nickname;
  row.dataset.replyTotal = String(c.reply_total);
  row.dataset.newestReplyId = c.newest_reply_id;
  const body = Sbx.el("div", "body");
  const head = Sbx.el("div");
  head.append(Sbx.el("span", "author", c.user.nickname));
  if (c.is_author) head.append(Sbx.el("span", "label", "作者 "));
  if (c.reply_to_user && c.reply_to_reply_id !== "0") head.append(Sbx.el("span", "reply-to", "回复 @" + c.reply_to_user.nickname));
  const meta = Sbx.el("div", "meta");
  const replyButton = Sbx.el("button", "reply-btn link-button", "回复");
  replyButton.type = "button";
  replyButton.addEventListener("click", () => openReplyBox(row, c));
  meta.append(Sbx.time(c.create_time * 1000), replyButton);
  body.append(head, Sbx.el("div", "text", c.text), meta);
  if (c.level === 1) {
    const replies = Sbx.el("div", "replies");
    const view = Sbx.el("button", "view-replies link-button", `查看${c.reply_total}条回复`);
    view.type = "button";
    view.hidden = c.reply_total === 0;
    view.addEventListener("click", () => loadReplies(row, "0", "oldest"));
    const newest = Sbx.el("button", "newest-replies link-button", "最新回复 Newest replies");
    newest.type = "button";
    newest.hidden = c.reply_total === 0;
    newest.addEventListener("click", () => {
      row.querySelector(".replies").replaceChildren();
      loadReplies(row, "0", "newest");
    });
    const more = Sbx.el("button", "more-replies link-button", "展开更多回复 More replies");
    more.type = "button";
    more.hidden = true;
    body.append(view, newest, replies, more);
  }
  row.append(Sbx.avatar(c.user.avatar_url), body);
  return row;
}

async function loadComments() {
  Sbx.setState("loading");
  const body = await Sbx.api(`/api/comments?work_id=${encodeURIComponent(workId)}&cursor=${encodeURIComponent(cursor)}&count=20`);
  if (body.status_code !== 0) return Sbx.setState("error", body.status_msg);
  for (const c of body.comments) $("comments").append(renderComment(c));
  cursor = body.cursor;
  $("load-more").hidden = !body.has_more;
  $("end-marker").hidden = body.has_more;
  Sbx.setState("ready");
}

function fetchReplies(cid, from, order) {
  return Sbx.api(`/api/comments/replies?cid=${encodeURIComponent(cid)}&cursor=${encodeURIComponent(from)}&count=10&order=${order}`);
}

async function loadReplies(row, from, order) {
  Sbx.setState("loading");
  row.dataset.order = order;
  showReplies(row, await fetchReplies(row.dataset.cid, from, order), order);
}

// The thread link: the comment alone, with its replies after `from` (oldest first).
async function loadThread(cid, from) {
  Sbx.setState("loading");
  const body = await fetchReplies(cid, from, "oldest");
  if (body.status_code !== 0) return Sbx.setState("error", body.status_msg);
  const row = renderComment(body.root);
  $("comments").append(row);
  $("load-more").hidden = true;
  $("end-marker").hidden = false;
  row.dataset.order = "oldest";
  showReplies(row, body, "oldest");
}

function showReplies(row, body, order) {
  if (body.status_code !== 0) return Sbx.setState("error", body.status_msg);
  const replies = row.querySelector(".replies");
  for (const c of body.comments) {
    if (!replies.querySelector(`[data-cid="${c.cid}"]`)) replies.append(renderComment(c));
  }
  row.querySelector(".view-replies").hidden = true;
  const more = row.querySelector(".more-replies");
  more.hidden = !body.has_more;
  more.onclick = () => loadReplies(row, body.cursor, order);
  Sbx.setState("ready");
}

function openReplyBox(row, c) {
  const box = $("reply-box");
  row.querySelector(".body").append(box);
  box.dataset.replyTo = c.cid;
  $("reply-editor").dataset.placeholder = `回复 ${c.user.nickname}：`;
  $("reply-error").textContent = "";
  box.hidden = false;
  $("reply-editor").focus();
}

async function send(replyTo, text, errorNode) {
  errorNode.textContent = "";
  const body = await Sbx.api("/api/comments/reply", {work_id: workId, reply_to: replyTo, text});
  if (body.status_code !== 0) {
    errorNode.textContent = body.status_msg;
    return false;
  }
  const c = body.comment;
  if (c.level === 1) {
    $("comments").prepend(renderComment(c));
  } else {
    const root = document.querySelector(`.comment[data-cid="${c.reply_id}"] .replies`);
    if (root) root.append(renderComment(c));
  }
  return true;
}

document.addEventListener("DOMContentLoaded", async () => {
  $("load-more").addEventListener("click", loadComments);
  $("reply-cancel").addEventListener("click", () => { $("reply-box").hidden = true; });
  const top = Sbx.editor($("comment-editor"), $("comment-send"), async (text) => {
    if (await send(null, text, $("comment-error"))) top.clear();
  });
  const reply = Sbx.editor($("reply-editor"), $("reply-send"), async (text) => {
    if (await send($("reply-box").dataset.replyTo, text, $("reply-error"))) {
      reply.clear();
      $("reply-box").hidden = true;
    }
  });
  const detail = await Sbx.api(`/api/works/detail?work_id=${encodeURIComponent(workId)}`);
  if (detail.status_code !== 0) return Sbx.setState("error", detail.status_msg);
  $("work-title").textContent = detail.work.title;
  if (threadCid) await loadThread(threadCid, params.get("reply_cursor") || "0");
  else await loadComments();
});
