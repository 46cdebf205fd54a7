"""The site's own JSON API, the one its pages call by XHR (and the IM websocket push).

Only the site's pages use these; the adapter never calls them directly, it watches the pages
do it. Logged-out calls answer HTTP 401 with status_code LOGIN_REQUIRED, like a real site.
"""
from __future__ import annotations

import asyncio
import base64
import io
import json
import time
from typing import Any

import segno
from aiohttp import WSMsgType, web

from . import wire
from .state import BAD_REQUEST, LOGIN_REQUIRED, Creator, World, WorldError

SESSION_COOKIE = "sbx_session"
PUSH_HEARTBEAT_S = 10.0
MAX_PAGE = 50
WORLD = web.AppKey("world", World)


def origin(request: web.Request) -> str:
    return str(request.url.origin())


def world_of(request: web.Request) -> World:
    return request.app[WORLD]


def current_creator(request: web.Request) -> Creator | None:
    return world_of(request).session_creator(request.cookies.get(SESSION_COOKIE))


def _json(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _login_required() -> web.Response:
    return _json(wire.error(LOGIN_REQUIRED, "用户未登录 login required"), status=401)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise WorldError(BAD_REQUEST, "the request body is not JSON") from None
    if not isinstance(body, dict):
        raise WorldError(BAD_REQUEST, "the request body must be a JSON object")
    return body


def _paging(request: web.Request, default: int) -> tuple[int, int]:
    """An offset cursor and a page size (lists that only grow at their end, or are read whole)."""
    try:
        cursor = max(0, int(request.query.get("cursor") or 0))
    except ValueError:
        raise WorldError(BAD_REQUEST, "cursor and count must be numbers") from None
    return cursor, _count(request, default)


def _id_paging(request: web.Request, default: int) -> tuple[str | None, int]:
    """The cursor of a list that changes anywhere (newest first, or a thread whose replies
    can be deleted): the id of the last row of the page before (none or "0": from the top),
    and a page size. An id, not an offset: rows added on top or deleted before it do not move
    it, so a reader continuing from it neither skips nor repeats rows."""
    cursor = request.query.get("cursor") or "0"
    if not cursor.isdigit():
        raise WorldError(BAD_REQUEST, "cursor must be an id")
    return (None if cursor == "0" else cursor), _count(request, default)


def _count(request: web.Request, default: int) -> int:
    try:
        return min(MAX_PAGE, max(1, int(request.query.get("count") or default)))
    except ValueError:
        raise WorldError(BAD_REQUEST, "cursor and count must be numbers") from None


def logged_in(handler):
    """Run `handler(request, creator)` for a logged-in browser; WorldError → JSON error."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        creator = current_creator(request)
        if creator is None:
            return _login_required()
        try:
            world_of(request).check_standing(creator)
            return await handler(request, creator)
        except WorldError as exc:
            return _json(wire.error(exc.code, exc.message))

    return wrapper


def world_errors(handler):
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except WorldError as exc:
            return _json(wire.error(exc.code, exc.message))

    return wrapper


# ---- QR login (the login page) and the "phone" that scans ---------------------------------
def qr_png(url: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=6, border=2)
    return buffer.getvalue()


@world_errors
async def new_qr(request: web.Request) -> web.Response:
    ticket = world_of(request).new_ticket()
    url = f"{origin(request)}/phone/scan?token={ticket.token}"
    return _json(wire.ok(token=ticket.token, qr_url=url, expires_at_ms=int(ticket.expires_at * 1000),
                         qr_png_base64=base64.b64encode(qr_png(url)).decode()))


@world_errors
async def login_status(request: web.Request) -> web.Response:
    ticket = world_of(request).ticket(request.query.get("token", ""))
    return _json(wire.ok(status=ticket.status, reason=ticket.reason, expires_at_ms=int(ticket.expires_at * 1000)))


@world_errors
async def login_sms(request: web.Request) -> web.Response:
    body = await _body(request)
    ticket = world_of(request).submit_sms(str(body.get("token", "")), str(body.get("code", "")))
    return _json(wire.ok(status=ticket.status, reason=ticket.reason))


@world_errors
async def phone_scan(request: web.Request) -> web.Response:
    body = await _body(request)
    ticket = world_of(request).scan(str(body.get("token", "")))
    return _json(wire.ok(status=ticket.status))


@world_errors
async def phone_confirm(request: web.Request) -> web.Response:
    body = await _body(request)
    ticket = world_of(request).confirm(str(body.get("token", "")), str(body.get("creator", "")))
    return _json(wire.ok(status=ticket.status, reason=ticket.reason, sms_code=ticket.sms_code))


# ---- creator data ------------------------------------------------------------------------
@logged_in
async def me(request: web.Request, creator: Creator) -> web.Response:
    return _json(wire.ok(user={**wire.user(creator.me, origin(request)), "unique_id": creator.unique_id}))


@logged_in
async def works(request: web.Request, creator: Creator) -> web.Response:
    cursor, count = _paging(request, 12)
    newest_first = list(reversed(creator.works.values()))
    page = newest_first[cursor:cursor + count]
    return _json(wire.ok(
        works=[wire.work(creator, w, origin(request)) for w in page],
        cursor=cursor + len(page), has_more=cursor + len(page) < len(newest_first), total=len(newest_first),
    ))


@logged_in
async def work_detail(request: web.Request, creator: Creator) -> web.Response:
    work = world_of(request).work(creator, request.query.get("work_id", ""))
    return _json(wire.ok(work=wire.work(creator, work, origin(request))))


@logged_in
async def comments(request: web.Request, creator: Creator) -> web.Response:
    world = world_of(request)
    work_id = request.query.get("work_id", "")
    after, count = _id_paging(request, 20)
    rest = world.first_level(creator, work_id, after=after)
    page = rest[:count]
    return _json(wire.ok(
        work_id=work_id,
        comments=[wire.comment(c, origin(request), thread=world.thread(creator, c.cid)) for c in page],
        cursor=page[-1].cid if page else (after or "0"), has_more=len(rest) > len(page),
        total=len(world.first_level(creator, work_id)),
    ))


@logged_in
async def replies(request: web.Request, creator: Creator) -> web.Response:
    world = world_of(request)
    root = world.live_comment(creator, request.query.get("cid", ""))
    after, count = _id_paging(request, 10)
    rest = world.thread(creator, root.cid, newest_first=request.query.get("order") == "newest", after=after)
    page = rest[:count]
    whole = world.thread(creator, root.cid)
    return _json(wire.ok(
        work_id=root.work_id, cid=root.cid, root=wire.comment(root, origin(request), thread=whole),
        comments=[wire.comment(c, origin(request)) for c in page],
        cursor=page[-1].cid if page else (after or "0"), has_more=len(rest) > len(page), total=len(whole),
    ))


@logged_in
async def post_reply(request: web.Request, creator: Creator) -> web.Response:
    body = await _body(request)
    reply_to = body.get("reply_to") or None
    comment = world_of(request).reply_as_creator(
        creator, str(body.get("work_id", "")), str(reply_to) if reply_to else None, body.get("text", "")
    )
    await _slow_send_answer(request)
    return _json(wire.ok(comment=wire.comment(comment, origin(request))))


@logged_in
async def conversations(request: web.Request, creator: Creator) -> web.Response:
    convs = sorted(creator.conversations.values(), key=lambda c: c.updated_at, reverse=True)
    return _json(wire.ok(conversations=[wire.conversation(c, origin(request)) for c in convs]))


@logged_in
async def messages(request: web.Request, creator: Creator) -> web.Response:
    world = world_of(request)
    conv = world.conversation(creator, request.query.get("conversation_id", ""))
    before, count = _id_paging(request, 30)
    older = world.messages_before(conv, before)  # newest first
    page = older[:count]
    if before is None:
        world.read_conversation(creator, conv)  # opening a conversation reads it
    return _json(wire.ok(
        conversation_id=conv.conversation_id,
        messages=[wire.message(m, origin(request)) for m in page],
        cursor=page[-1].msg_id if page else (before or "0"), has_more=len(older) > len(page),
    ))


@logged_in
async def send_message(request: web.Request, creator: Creator) -> web.Response:
    body = await _body(request)
    message = world_of(request).send_as_creator(creator, str(body.get("conversation_id", "")), body.get("text", ""))
    await _slow_send_answer(request)
    return _json(wire.ok(message=wire.message(message, origin(request))))


async def _slow_send_answer(request: web.Request) -> None:
    """The "slow send answer" fault: the reply is stored, its answer comes late (a busy
    platform, a lost connection); the sender cannot know whether it went out."""
    delay = world_of(request).faults.send_answer_delay_ms
    if delay:
        await asyncio.sleep(delay / 1000)


# ---- IM push -----------------------------------------------------------------------------
async def im_push(request: web.Request) -> web.StreamResponse:
    """The websocket every creator page keeps open. On connect it replays the inbound
    messages after `since` (epoch ms, the page's last sync), then pushes new ones as they
    arrive, and a notice for each new audience comment (comments are not replayed: the
    comments pages list them); `hello`/`ping` frames carry the server time the page syncs
    from next time."""
    world = world_of(request)
    creator = current_creator(request)
    if creator is None:
        return _login_required()
    ws = web.WebSocketResponse(heartbeat=30)
    try:
        await ws.prepare(request)
    except ConnectionResetError:  # the page closed while connecting (a hibernating context)
        return web.Response(status=499)  # nobody reads it; aiohttp drops it quietly
    queue = world.listen(creator.me.uid)
    reader = asyncio.create_task(_drain(ws))
    try:
        await _send_frame(ws, {"type": "hello", "server_time_ms": int(time.time() * 1000)})
        try:
            since = float(request.query.get("since") or 0) / 1000
        except ValueError:
            since = 0.0
        for m in world.messages_since(creator, since)[-200:]:
            await _send_frame(ws, _message_frame(world, creator, m.conversation_id, m.msg_id, origin(request)))
        while not ws.closed:
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, reader}, timeout=PUSH_HEARTBEAT_S, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                getter.cancel()
                break
            if getter not in done:
                getter.cancel()
                await _send_frame(ws, {"type": "ping", "server_time_ms": int(time.time() * 1000)})
                continue
            event = getter.result()
            if current_creator(request) is None:  # the session ended: tell the page and hang up
                await _send_frame(ws, {"type": "session_expired"})
                await ws.close(code=4401, message=b"session expired")
                break
            if event["type"] == "im_message":
                await _send_frame(ws, _message_frame(world, creator, event["conversation_id"], event["msg_id"],
                                                     origin(request)))
            elif event["type"] == "comment_notice":
                await _send_frame(ws, _comment_notice_frame(world, creator, event["work_id"], event["cid"],
                                                            origin(request)))
    except ConnectionResetError:
        pass
    finally:
        world.unlisten(creator.me.uid, queue)
        reader.cancel()
        await ws.close()
    return ws


async def _drain(ws: web.WebSocketResponse) -> None:
    async for msg in ws:
        if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
            break


async def _send_frame(ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
    await ws.send_str(json.dumps(frame, ensure_ascii=False))


def _message_frame(world: World, creator: Creator, conversation_id: str, msg_id: str, site: str) -> dict[str, Any]:
    conv = world.conversation(creator, conversation_id)
    message = next(m for m in conv.messages if m.msg_id == msg_id)
    return {"type": "im_message", "server_time_ms": int(time.time() * 1000),
            "conversation": wire.conversation(conv, site), "message": wire.message(message, site)}


def _comment_notice_frame(world: World, creator: Creator, work_id: str, cid: str, site: str) -> dict[str, Any]:
    """A new audience comment, with its work (the real platform's notice push carries both)."""
    return {"type": "comment_notice", "server_time_ms": int(time.time() * 1000),
            "work": wire.work(creator, world.work(creator, work_id), site),
            "comment": wire.comment(creator.comments[cid], site)}


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/login/qr", new_qr)
    app.router.add_get("/api/login/status", login_status)
    app.router.add_post("/api/login/sms", login_sms)
    app.router.add_post("/api/phone/scan", phone_scan)
    app.router.add_post("/api/phone/confirm", phone_confirm)
    app.router.add_get("/api/me", me)
    app.router.add_get("/api/works", works)
    app.router.add_get("/api/works/detail", work_detail)
    app.router.add_get("/api/comments", comments)
    app.router.add_get("/api/comments/replies", replies)
    app.router.add_post("/api/comments/reply", post_reply)
    app.router.add_get("/api/im/conversations", conversations)
    app.router.add_get("/api/im/messages", messages)
    app.router.add_post("/api/im/send", send_message)
    app.router.add_get("/api/im/ws", im_push)
