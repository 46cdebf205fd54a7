"""A stand-in for creator.douyin.com served through Playwright routing at the real URLs:
small pages that reproduce the anatomy the fixtures' README describes (class names with
hashes, the login card, the work picker, comment rows and their reply boxes) and the JSON
fixtures as the APIs' bodies. Logged in = the `sessionid` cookie, as on the real site.

The "phone" side of a QR login is played through `window.__phone` on the login page.
"""
from __future__ import annotations

import base64
import copy
import html
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import segno

from .fixtures_io import CREATOR, body

CREATOR_HOST = "https://creator.douyin.com"
DOUYIN_ID = "test_creator"
SMS_CODE = "246810"
QR_PAYLOADS = ("https://example.invalid/qr/1", "https://example.invalid/qr/2")  # first code, refreshed one
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def qr_png(payload: str) -> bytes:
    import io

    out = io.BytesIO()
    segno.make(payload, error="m").save(out, kind="png", scale=4, border=2)
    return out.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


@dataclass
class FakeDouyin:
    """What the fake site serves; tests change these fields between steps."""

    works: dict[str, Any] = field(default_factory=lambda: body("janus_work_list.json"))
    comments: dict[str, Any] = field(default_factory=lambda: body("web_comment_list_select.json"))
    replies: dict[str, Any] = field(default_factory=lambda: body("web_comment_list_reply.json"))
    publish: dict[str, Any] = field(default_factory=lambda: body("comment_reply_publish.json"))
    api_v1: bool = False  # the pages call the V1 creator APIs (item/list, comment/list) instead
    works_page_size: int | None = None
    comments_page_size: int | None = None  # the comment list in pages of this size  # the works list in pages of this size
    qr_kind: str = "data"  # how the login card shows its QR: data (URL img), canvas, url (img), none
    sessions: set[str] = field(default_factory=lambda: {"fake-session"})  # the server's live sessions
    api_logged_out: bool = False  # the APIs answer "用户未登录" although the cookie is there
    api_refusal: dict[str, Any] | None = None  # the APIs answer this body instead (risk control)
    page_overlay: str = ""  # markup laid over every creator page (a verification check)
    comment_page_html: str | None = None  # replaces the comment page (markup drift)
    chat: dict[str, Any] = field(default_factory=lambda: chat_state())  # the chat page's React state
    chat_page_size: int | None = None  # a conversation opens at its newest messages, this many a page
    chat_render_delay_ms: int = 0  # the conversation list re-renders this late after a scroll (a busy machine)
    dms_sent: int = 0
    dm_refusal: str | None = None  # the chat page refuses to send with this note
    published: list[dict[str, Any]] = field(default_factory=list)  # what the reply box sent
    requests: list[str] = field(default_factory=list)  # every routed URL, in order
    www_page_html: str | None = None  # replaces the www.douyin.com page (markup drift)

    async def install(self, context) -> None:
        await context.route("https://example.invalid/**", self._image)
        await context.route("https://creator.douyin.com/**", self._creator)
        await context.route("https://www.douyin.com/**", self._www)

    async def _www(self, route) -> None:
        self.requests.append(route.request.url)
        if urlsplit(route.request.url).path != "/":
            return await route.fulfill(status=404, body="not found")
        profiles = body("page_state/im_store.json")["userInfoFromServerMap"]
        page = WWW_PAGE.replace("__PROFILES__", json.dumps(profiles, ensure_ascii=False))
        for kind, url in WWW_HEAVY.items():
            page = page.replace(f"__{kind.upper()}__", url)
        return await _page(route, self.www_page_html or page)

    async def _image(self, route) -> None:
        await route.fulfill(status=200, content_type="image/png", body=PIXEL)

    async def _creator(self, route) -> None:
        request = route.request
        url = urlsplit(request.url)
        self.requests.append(request.url)
        cookies = dict(part.strip().partition("=")[::2] for part in request.headers.get("cookie", "").split(";"))
        logged_in = cookies.get("sessionid") in self.sessions
        path = url.path
        if path == "/":
            if logged_in:
                return await _page(route, _redirect(f"{CREATOR_HOST}/creator-micro/home"))
            codes = [{"src": data_url(qr_png(p)), "url": f"{CREATOR_HOST}/passport/web/qrcode/{i}.png",
                      "matrix": [list(row) for row in segno.make(p, error="m").matrix]}
                     for i, p in enumerate(QR_PAYLOADS)]
            return await _page(route, LOGIN_PAGE.replace("__QR__", json.dumps({"kind": self.qr_kind, "codes": codes}))
                               .replace("__CODE__", SMS_CODE))
        if path.startswith("/passport/web/qrcode/"):
            index = int(path.rsplit("/", 1)[1].split(".")[0])
            return await route.fulfill(status=200, content_type="image/png", body=qr_png(QR_PAYLOADS[index]))
        if path.startswith("/creator-micro/"):
            if not logged_in:  # the single-page app sends a logged-out visitor to the login card
                return await _page(route, _redirect(f"{CREATOR_HOST}/"))
            v1 = json.dumps(self.api_v1)
            pages = {"/creator-micro/home": HOME_PAGE, "/creator-micro/content/manage": WORKS_PAGE.replace("__V1__", v1),
                     "/creator-micro/interactive/comment": self.comment_page_html or COMMENT_PAGE.replace("__V1__", v1),
                     "/creator-micro/data/following/chat": CHAT_PAGE.replace(
                         "__STATE__", json.dumps(self.chat, ensure_ascii=False)).replace(
                         "__PAGE__", json.dumps(self.chat_page_size)).replace(
                         "__RENDER_DELAY__", str(self.chat_render_delay_ms)).replace(
                         "__REFUSAL__", json.dumps(self.dm_refusal, ensure_ascii=False))}
            if path not in pages:
                return await route.fulfill(status=404, body="not found")
            return await _page(route, pages[path].replace("</body>", self.page_overlay + "</body>", 1))
        if not logged_in or self.api_logged_out:
            return await _json(route, {"status_code": 8, "status_msg": "用户未登录"})
        if self.api_refusal is not None and path != "/aweme/v1/creator/comment/reply/":
            return await _json(route, self.api_refusal)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if path == "/aweme/v1/creator/item/list/":
            return await _json(route, body("creator_item_list.json"))
        if path == "/aweme/v1/creator/comment/list/":
            if query.get("item_id", "").startswith("@jFAKEitem0001/"):
                return await _json(route, body("creator_comment_list.json"))
            return await _json(route, {"status_code": 0, "comment_info_list": [], "cursor": 0, "has_more": False})
        if path == "/aweme/v1/creator/comment/reply/list/":
            if query.get("comment_id", "").startswith("@jFAKEcmt0003/"):
                return await _json(route, body("creator_comment_reply_list.json"))
            return await _json(route, {"status_code": 0, "comment_info_list": [], "cursor": 0, "has_more": False})
        if path.startswith("/janus/douyin/creator/pc/work_list"):
            return await _json(route, self._works_page(int(query.get("max_cursor") or 0)))
        if path.endswith("/aweme/v1/web/comment/list/select/"):
            if query.get("aweme_id") != "7400000000000000001":
                return await _json(route, {"status_code": 0, "comments": [], "cursor": 0, "has_more": 0, "total": 0})
            return await _json(route, self._comments_page(int(query.get("cursor") or 0)))
        if path.endswith("/aweme/v1/web/comment/list/reply/"):
            return await _json(route, self.replies)
        if path == "/__fake/im/send" and request.method == "POST":
            return await _json(route, self._store_dm(json.loads(request.post_data or "{}")))
        if path == "/aweme/v1/creator/im/user_detail/":
            return await _json(route, body("creator_im_user_detail.json"))
        if path == "/aweme/v1/creator/comment/reply/" and request.method == "POST":
            self.published.append(json.loads(request.post_data or "{}"))
            return await _json(route, self.publish)
        return await route.fulfill(status=404, body="not found")

    def _works_page(self, offset: int) -> dict[str, Any]:
        """The works from `offset`, `works_page_size` at a time (all when it is None)."""
        if self.works_page_size is None:
            return self.works
        end = offset + self.works_page_size
        page = dict(self.works, aweme_list=self.works["aweme_list"][offset:end], items=self.works["items"][offset:end])
        return dict(page, has_more=end < len(self.works["aweme_list"]), max_cursor=end)

    def _comments_page(self, offset: int) -> dict[str, Any]:
        """Work 0001's comments from `offset`, `comments_page_size` at a time (has_more 0/1)."""
        if self.comments_page_size is None:
            return self.comments
        end = offset + self.comments_page_size
        return dict(self.comments, comments=self.comments["comments"][offset:end], cursor=end,
                    has_more=int(end < len(self.comments["comments"])))

    def _store_dm(self, sent: dict[str, Any]) -> dict[str, Any]:
        conversation = next(c for c in self.chat["conversations"] if c["id"] == sent["conversationId"])
        self.dms_sent += 1
        message = {"serverId": str(7440000000000009000 + self.dms_sent), "conversationId": conversation["id"],
                   "sender": self.chat["self"], "isFromMe": True, "type": 7,
                   "content": {"text": sent["text"], "aweType": 700},
                   "createdAt": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")}
        conversation["messages"].append(message)
        return message

    def comment_by(self, cid: str) -> dict[str, Any]:
        return next(c for c in self.comments["comments"] if c["cid"] == cid)

    def add_comment(self, like: str, cid: str) -> None:
        """Serve a copy of comment `like` (same author, same text) as a new comment `cid`."""
        self.comments = copy.deepcopy(self.comments)
        twin = dict(copy.deepcopy(self.comment_by(like)), cid=cid)
        self.comments["comments"].insert(0, twin)

    def remove_comment(self, cid: str) -> None:
        """Serve the comments without `cid` (deleted by its author or by us)."""
        self.comments = copy.deepcopy(self.comments)
        self.comments["comments"].remove(self.comment_by(cid))

    def with_comment(self, cid: str, **changes: Any) -> None:
        """Serve the comment `cid` changed (e.g. another author for the same text)."""
        self.comments = copy.deepcopy(self.comments)
        comment = self.comment_by(cid)
        user = changes.pop("user", None)
        comment.update(changes)
        if user:
            comment["user"].update(user)


def chat_state() -> dict[str, Any]:
    """The conversations the chat page lists, newest first, each with its message rows'
    props: 测试用户01's from the chat fixture, the others' last message from imStore."""
    store = body("page_state/im_store.json")
    profiles = store["userInfoFromServerMap"]
    conversations = []
    for conv in store["converSationListOrigin"]:
        peer = profiles[conv["toParticipantUserId"]] if conv.get("toParticipantUserId") in profiles else next(
            p for uid, p in profiles.items() if uid in conv["id"].split(":")[2:])
        if "100000000001" in conv["id"].split(":"):
            messages = body("page_state/creator_chat_messages.json")
        else:
            last = dict(conv["lastMessage"], content=json.loads(conv["lastMessage"]["content"]))
            last["isFromMe"] = last["sender"] == "1000000000000001"
            if not last["isFromMe"]:
                last.update(nickname=peer["nickname"], avatar=peer["avatar_thumb"]["url_list"][0])
            messages = [last]
        conversations.append({"id": conv["id"], "nickname": peer["nickname"], "messages": messages})
    return {"self": "1000000000000001", "conversations": conversations}


async def _page(route, markup: str) -> None:
    await route.fulfill(status=200, content_type="text/html; charset=utf-8", body=markup)


def _redirect(url: str) -> str:
    return f'<!doctype html><html><body><script>location.replace({json.dumps(url)})</script></body></html>'


async def _json(route, value: Any) -> None:
    await route.fulfill(status=200, content_type="application/json; charset=utf-8",
                        body=json.dumps(value, ensure_ascii=False))


LOGIN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>抖音创作者中心</title></head><body>
<div class="login-card-Tq81Lz">
  <div class="login-card-double-header-item-aB12cD">我是创作者</div>
  <div class="login-card-double-header-item-aB12cD">我是MCN机构</div>
  <div class="douyin_login_comp_tab_item-Zx98Yw">扫码登录</div>
  <div class="douyin_login_comp_tab_item-Zx98Yw">验证码登录</div>
  <div id="animate_qrcode_container"><div class="qrcode-Qw12Er" id="qrbox"></div></div>
  <div id="status"></div>
  <div id="sms" style="display:none">
    <div class="verify-title-Hh21Ab">身份验证</div>
    <input class="code-input-Kk01Az" placeholder="请输入验证码" maxlength="6">
    <span class="send-code-Ll02Bz" id="send">获取验证码</span>
    <div class="submit-Mm03Cz" id="submit">登录</div>
    <div id="sms-error"></div>
  </div>
</div>
<script>
const QR = __QR__;
function showQr(i) {  // as an <img> with a data: URL, a <canvas>, or an <img> loaded from a URL
  const box = document.getElementById('qrbox'), code = QR.codes[i];
  if (QR.kind === 'none') return;  // a redesigned card: the QR is somewhere we do not look
  if (QR.kind === 'canvas') {
    const c = document.createElement('canvas'), n = code.matrix.length, s = 4, b = 2, g = c.getContext('2d');
    c.className = 'qrcode-canvas-Ab34Cd'; c.width = c.height = (n + 2 * b) * s;
    g.fillStyle = '#fff'; g.fillRect(0, 0, c.width, c.height); g.fillStyle = '#000';
    code.matrix.forEach((row, y) => row.forEach((v, x) => { if (v) g.fillRect((x + b) * s, (y + b) * s, s, s); }));
    box.replaceChildren(c);
  } else {
    const im = document.createElement('img');
    im.className = 'qrcode_img-Ab34Cd'; im.src = QR.kind === 'url' ? code.url : code.src;
    box.replaceChildren(im);
  }
}
showQr(0);
const status = document.getElementById('status');
const sms = document.getElementById('sms');
const input = sms.querySelector('input');
window.__phone = {
  codeSent: false,
  refresh() { showQr(1); },
  expire() {  // the code timed out: an overlay asks to refresh it
    const o = document.createElement('div');
    o.className = 'qrcode-expired-Vv77Ww';
    o.innerHTML = '<p>二维码已失效</p><span class="refresh-Uu66Tt">点击刷新</span>';
    o.querySelector('span').onclick = () => { o.remove(); showQr(1); };
    document.getElementById('animate_qrcode_container').appendChild(o);
  },
  scan() { status.textContent = '扫码成功，请在手机上确认'; },
  confirm(needSms) {
    if (needSms) { document.getElementById('animate_qrcode_container').style.display = 'none'; sms.style.display = 'block'; }
    else finish();
  },
  slider() {
    const s = document.createElement('div');
    s.className = 'captcha-verify-container-Pp09Xy'; s.style.cssText = 'width:300px;height:60px';
    s.textContent = '请完成下列验证后继续'; document.body.appendChild(s);
  },
};
function finish() {
  document.cookie = 'sessionid=fake-session; path=/; domain=.douyin.com; secure; max-age=86400';
  location.href = '/creator-micro/home';
}
document.getElementById('send').onclick = async () => { window.__phone.codeSent = true; };
document.getElementById('submit').onclick = () => {
  if (input.value === "__CODE__") finish();
  else { input.value = ''; document.getElementById('sms-error').textContent = '验证码错误'; }
};
</script></body></html>"""

HOME_PAGE = f"""<!doctype html><html><head><meta charset="utf-8"></head><body>
<div class="header-Bc12De"><div id="header-avatar"><img src="https://example.invalid/avatar/100.jpg"></div></div>
<div class="container-Hx12Ab">
  <div class="avatar-Op90Qr"><img src="https://example.invalid/avatar/100.jpg"></div>
  <div class="name-Qp34Zx">{html.escape(CREATOR)}</div>
  <div class="unique_id-Mn56Op">抖音号：{DOUYIN_ID}</div>
  <div id="guide_home_fans"><span class="number-Aa11Bb">12</span></div>
</div></body></html>"""

_WORKS_JS = """
// The APIs as the creator centre calls them: janus + V2 web comments, or (older versions,
// API_V1) the V1 creator item and comment lists, whose comments are keyed by @j… ids.
const API_V1 = __V1__;
const BASE = '/web/api/third_party/aweme/api/comment/read/aweme/v1/web/comment/list/';
async function getJson(url) { const r = await fetch(url); return await r.json(); }
async function loadWorks(cursor) {
  if (!API_V1) return await getJson('/janus/douyin/creator/pc/work_list?status=0&count=12&max_cursor=' + (cursor || 0)
    + '&scene=star_atlas&device_platform=android&aid=1128');
  const b = await getJson('/aweme/v1/creator/item/list/?cursor=' + (cursor || '') + '&aid=2906');
  return {has_more: b.has_more, max_cursor: b.cursor, aweme_list: (b.item_info_list || []).map(i => (
    {aweme_id: i.item_id_plain, item_id: i.item_id, desc: i.title, statistics: {comment_count: i.comment_count}}))};
}
function v1Comment(c) {
  return {cid: c.comment_id, text: c.text, user: {nickname: c.user_info.screen_name}, reply_comment_total: Number(c.reply_count)};
}
async function loadComments(work, cursor) {
  if (!API_V1) return await getJson(BASE + 'select/?aweme_id=' + work.aweme_id + '&cursor=' + cursor
    + '&count=10&comment_select_options=0&sort_options=0&channel_id=618&app_id=2906&aid=2906');
  const b = await getJson('/aweme/v1/creator/comment/list/?cursor=' + cursor + '&count=10&item_id='
    + encodeURIComponent(work.item_id) + '&sort=TIME&aid=2906');
  return {comments: (b.comment_info_list || []).map(v1Comment), cursor: b.cursor, has_more: b.has_more};
}
async function loadReplies(work, c) {
  if (!API_V1) return await getJson(BASE + 'reply/?comment_id=' + c.cid + '&item_id=' + work.aweme_id + '&cursor=0&count=10');
  const b = await getJson('/aweme/v1/creator/comment/reply/list/?cursor=0&count=10&comment_id='
    + encodeURIComponent(c.cid) + '&aid=2906');
  return {comments: (b.comment_info_list || []).map(v1Comment)};
}
function esc(s) { const d = document.createElement('div'); d.textContent = s; return d.innerHTML; }
function fiber(node, props) {  // what React leaves on a rendered node: its fiber, whose parent has the props
  node['__reactFiber$fake01'] = {memoizedProps: {className: node.className}, return: {memoizedProps: props, return: null}};
}
"""

WORKS_PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
.video-card-Ab12Cd { height: 1000px; border-bottom: 1px solid #ccc; }
</style></head><body>
<div class="content-manage-Zz12Yy" id="works"></div><div id="end"></div>
<script>""" + _WORKS_JS + """
let cursor = 0, more = true, loading = false;
async function next() {  // one page per scroll to the bottom, as the creator centre does
  if (!more || loading) return;
  loading = true;
  const body = await loadWorks(cursor);
  const list = document.getElementById('works');
  for (const w of body.aweme_list || []) {
    const card = document.createElement('div');
    card.className = 'video-card-Ab12Cd';
    card.innerHTML = '<div class="info-title-Ef34Gh">' + esc(w.desc) + '</div>';
    list.appendChild(card);
  }
  cursor = body.max_cursor; more = body.has_more; loading = false;
  if (!more) document.getElementById('end').textContent = '没有更多了';
}
window.addEventListener('scroll', () => {
  if (window.innerHeight + window.scrollY >= document.body.scrollHeight - 50) next();
});
next();
</script></body></html>"""

COMMENT_PAGE = """<!doctype html><html><head><meta charset="utf-8"></head><body>
<div class="container-Root01"><button class="semi-button" id="pick"><span class="semi-button-content">选择作品</span></button>
<div class="semi-modal-content" role="dialog" id="picker" style="display:none"></div>
<div role="tabpanel" id="list" style="height:400px;overflow-y:auto"></div>
<div class="comment-input-Bb88Cc"><div contenteditable="true" class="input-Gg66Hh" placeholder="有爱评论，说点好听的~"></div>
  <button class="douyin-creator-interactive-button" id="top-send"><span class="douyin-creator-interactive-button-content">发送</span></button></div>
</div>
<script>""" + _WORKS_JS + """
const list = document.getElementById('list');
let work = null;
document.getElementById('pick').onclick = async () => {
  const body = await loadWorks(0);
  for (let page = body; page.has_more; ) {  // the picker lists every work
    page = await loadWorks(page.max_cursor);
    body.aweme_list = body.aweme_list.concat(page.aweme_list);
  }
  const picker = document.getElementById('picker');
  picker.innerHTML = '';
  for (const w of body.aweme_list || []) {
    const card = document.createElement('div');
    card.className = 'container-Lkxos9';
    card.innerHTML = '<div class="title-LUOP3b">' + esc(w.desc) + '</div><div class="right-os7ZB9"><span>评论</span><span>'
      + w.statistics.comment_count + '</span></div>';
    card.onclick = () => { picker.style.display = 'none'; openWork(w); };
    picker.appendChild(card);
  }
  picker.style.display = 'block';
};
document.getElementById('top-send').onclick = () => { window.__topLevelSent = true; };  // must never be used
let cursor = 0, more = false, loading = false;
async function openWork(w) {
  work = w; cursor = 0; more = true;
  list.innerHTML = '';
  await nextComments();
}
async function nextComments() {  // one page per scroll to the bottom of the list
  if (!more || loading) return;
  loading = true;
  const body = await loadComments(work, cursor);
  for (const c of body.comments || []) list.appendChild(row(c));
  cursor = body.cursor; more = !!body.has_more; loading = false;
  if (!more) { const end = document.createElement('div'); end.textContent = '没有更多评论'; list.appendChild(end); }
}
list.addEventListener('scroll', () => {
  if (list.scrollTop + list.clientHeight >= list.scrollHeight - 20) nextComments();
});
function row(c) {
  const item = document.createElement('div');
  item.className = 'comment-item-Xy12Zw';
  item.style.minHeight = '500px';  // a page of comments fills the list: it scrolls
  item.innerHTML = '<div class="username-Ab12Cd">' + esc(c.user.nickname) + '</div>'
    + '<div class="comment-content-text-JvmAKq">' + esc(c.text) + '</div>'
    + '<div class="operations-WFV7Am"><span class="item-Op01">回复</span><span class="item-Op01">删除</span></div>'
    + (c.reply_comment_total ? '<div class="load-more-Qq11Rr">查看' + c.reply_comment_total + '条回复</div>' : '')
    + '<div class="replies-Kk22Ll"></div>';
  // the row's own id: an @i/… id unlike either API's (stable for the comment)
  fiber(item.querySelector('.comment-content-text-JvmAKq'),
        {comment: {cid: '@i/' + btoa(c.cid), text: c.text, user: {nickname: c.user.nickname}}, level: 1});
  item.querySelector('.operations-WFV7Am span').onclick = () => openBox(item, c);
  const more = item.querySelector('.load-more-Qq11Rr');
  if (more) more.onclick = async () => {
    const body = await loadReplies(work, c);
    for (const reply of body.comments || []) item.querySelector('.replies-Kk22Ll').appendChild(row(reply));
    more.textContent = '收起';
  };
  return item;
}
function openBox(item, c) {
  for (const old of document.querySelectorAll('.reply-box-Ty55Ui')) old.remove();
  const box = document.createElement('div');
  box.className = 'reply-box-Ty55Ui';
  box.innerHTML = '<div contenteditable="true" class="input-Gg66Hh" placeholder="回复 ' + esc(c.user.nickname) + '："></div>'
    + '<button class="douyin-creator-interactive-button" disabled><span class="douyin-creator-interactive-button-content">发送</span></button>';
  item.insertBefore(box, item.querySelector('.replies-Kk22Ll'));
  const editor = box.querySelector('[contenteditable]');
  const send = box.querySelector('button');
  editor.addEventListener('input', () => { send.disabled = !editor.textContent.trim(); });
  send.onclick = async () => {
    await fetch('/aweme/v1/creator/comment/reply/?aid=2906', {method: 'POST', headers: {'content-type': 'application/json'},
      body: JSON.stringify({aweme_id: work.aweme_id, reply_to_comment_id: c.cid, text: editor.textContent})});
    box.remove();
  };
}
</script></body></html>"""

CHAT_PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
.ReactVirtualized__Grid { height: 220px; width: 360px; overflow-y: auto; position: relative; }
.ReactVirtualized__Grid__innerScrollContainer { position: relative; }
.ReactVirtualized__Grid__innerScrollContainer > div { position: absolute; left: 0; height: 100px; width: 340px; }
.box-Rt45Yu { position: absolute; left: 420px; top: 0; width: 500px; }
.paged { height: 120px; overflow-y: auto; }
.paged .msg-item-Ws56Ed { height: 150px; }
</style></head><body>
<div role="tablist"><div role="tab">全部</div><div role="tab">未读</div></div>
<div class="ReactVirtualized__Grid" id="grid"><div class="ReactVirtualized__Grid__innerScrollContainer" id="inner"></div></div>
<div class="box-Rt45Yu"><div class="box-header-name-Hq12Wx" id="header"></div>
  <div class="box-content-jSgLQF" id="pane"><div></div></div>
  <div contenteditable="true" class="editor-Pp34Qq" id="editor"></div>
  <button class="semi-button" id="send"><span class="semi-button-content">发送</span></button>
  <div id="notes"></div></div>
<script>
const STATE = __STATE__;
const REFUSAL = __REFUSAL__;
const PAGE = __PAGE__;  // older messages load as the pane is scrolled to its top, PAGE at a time
const pane = document.getElementById('pane');
if (PAGE) pane.className += ' paged';
let shown = 0, loadingOlder = false;
const ROW = 105, SHOWN = 2;  // react-virtualized renders only the rows in view
const grid = document.getElementById('grid'), inner = document.getElementById('inner');
inner.style.height = (STATE.conversations.length * ROW) + 'px';
let open = null;
fetch('/aweme/v1/creator/im/user_detail/?aid=2906&app_name=aweme_creator_platform&device_platform=web', {method: 'POST', body: '{}'});
function fiber(node, props) {  // what React leaves on a rendered node
  node['__reactFiber$fake01'] = {memoizedProps: {className: node.className}, return: {memoizedProps: props, return: null}};
}
function renderRows() {
  const first = Math.floor(grid.scrollTop / ROW);
  inner.innerHTML = '';
  STATE.conversations.slice(first, first + SHOWN + 1).forEach((c, i) => {
    const row = document.createElement('div');
    row.style.top = ((first + i) * ROW) + 'px';
    const last = c.messages[c.messages.length - 1];
    row.innerHTML = '<div class="item-header-name-Zx90Cv"></div><div class="item-content-Lm12Nb"></div>';
    row.firstChild.textContent = c.nickname;
    row.lastChild.textContent = (last.content && last.content.text) || '';
    row.onclick = () => openConversation(c);
    inner.appendChild(row);
  });
}
const RENDER_DELAY = __RENDER_DELAY__;
grid.addEventListener('scroll', () => RENDER_DELAY ? setTimeout(renderRows, RENDER_DELAY) : renderRows());
function openConversation(c) {
  open = c;
  document.getElementById('header').textContent = c.nickname;
  shown = PAGE || c.messages.length;
  renderMessages();
  pane.scrollTop = pane.scrollHeight;  // at the newest
}
pane.addEventListener('scroll', () => {
  if (pane.scrollTop > 0 || !open || shown >= open.messages.length || loadingOlder) return;
  loadingOlder = true;
  setTimeout(() => {  // the IM SDK fetches the older page
    const height = pane.scrollHeight;
    shown += PAGE; renderMessages(); pane.scrollTop = pane.scrollHeight - height; loadingOlder = false;
  }, 100);
});
function renderMessages() {
  const c = open, list = pane.firstChild;
  list.innerHTML = '';
  for (const m of c.messages.slice(-shown)) {
    const row = document.createElement('div');
    row.className = 'msg-item-Ws56Ed';
    row.textContent = (m.content && (m.content.text || m.content.tips)) || '';
    fiber(row, {message: m, isSelf: m.isFromMe});
    list.appendChild(row);
  }
}
document.getElementById('send').onclick = async () => {
  const editor = document.getElementById('editor');
  const text = editor.textContent.trim();
  if (!open || !text) return;
  if (REFUSAL) {
    document.getElementById('notes').innerHTML = '<div class="error-tip-Gh78Jk" role="alert"></div>';
    document.getElementById('notes').firstChild.textContent = REFUSAL;
    return;
  }
  // the IM server (over its socket on the real site) stores it and assigns the id
  const r = await fetch('/__fake/im/send', {method: 'POST', body: JSON.stringify({conversationId: open.id, text})});
  open.messages.push(await r.json());
  editor.textContent = '';
  setTimeout(() => openConversation(open), 200);  // the IM socket echoes the message a moment later
};
renderRows();
</script></body></html>"""

# www.douyin.com as the realtime reader sees it: the top bar's IM entry, whose React fibers
# lead up to the MobX stores, and the websocket's pushes into their buffers (played through
# `window.__ws`): a DM stays in msgListToPush for 0.8 s, a notice until just after its toast renders.
# Like the real feed it also plays a video, shows its cover and uses a web font (WWW_HEAVY).
WWW_HEAVY = {"media": "https://www.douyin.com/aweme/v1/play/?video_id=v0200fake&ratio=720p",
             "image": "https://www.douyin.com/fake/cover.jpeg", "font": "https://www.douyin.com/fake/font.woff2"}
WWW_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>抖音</title><style>
@font-face { font-family: feed; src: url(__FONT__) format('woff2'); } body { font-family: feed; }
</style></head><body>
<header class="header-Ka12Lm"><div data-e2e="im-entry" class="im-entry-Qw34Er">私信</div></header>
<div id="pushListBoxId"></div>
<div class="feed"><img src="__IMAGE__"><video src="__MEDIA__" autoplay muted preload="auto"></video></div>
<script>
const imStore = {msgListToPush: [], converSationListOrigin: [], userInfoFromServerMap: __PROFILES__,
                 __internal_ctx: {token: 'FAKE-IM-TOKEN', deviceId: 'FAKE-DEVICE'}};
const noticeStore = {noticePushList: [], noticeUnreadCountMap: {'7': 0}};
const entry = document.querySelector('[data-e2e="im-entry"]');
entry['__reactFiber$fake02'] = {memoizedProps: {className: entry.className}, return: {
  memoizedProps: {children: []}, return: {memoizedProps: {imStore}, return: {memoizedProps: {noticeStore, imStore}, return: null}}}};
window.__ws = {
  dm(message) {
    imStore.msgListToPush.push(Object.assign({__internal_ctx: {token: 'FAKE-IM-TOKEN'}}, message));
    setTimeout(() => { imStore.msgListToPush = []; }, 800);  // the IM SDK takes it within a second
  },
  notice(notice) {
    noticeStore.noticePushList.push(notice);
    noticeStore.noticeUnreadCountMap['7'] += 1;
    setTimeout(() => {  // the toast renders, and its effect takes the notice out of the buffer
      const toast = document.createElement('div');
      toast.textContent = notice.comment && notice.comment.comment ? notice.comment.comment.text : '';
      document.getElementById('pushListBoxId').appendChild(toast);
      setTimeout(() => noticeStore.noticePushList.splice(noticeStore.noticePushList.indexOf(notice), 1), 20);
    }, 20);  // sooner than the reader's timer: only reading as the toast renders sees it
  },
  drift() { delete imStore.msgListToPush; },  // a deploy renamed the buffer
};
</script></body></html>"""
