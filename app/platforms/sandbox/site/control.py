"""The control API under /_control/: what tests, the demo and `hiscrm sandbox inject` use to
play the other side of the platform: scan QR codes, read SMS codes, inject audience traffic
(one comment or DM, or a big work's threads at once), switch faults on, end sessions, hold an
account for a verification or block it, and look at what the site holds (to check a reply
arrived).

It is not part of the imitated platform: the adapter never calls it. The site binds to
127.0.0.1 only, so the control API is reachable from this machine alone.
"""
from __future__ import annotations

import asyncio
import json
import random
from dataclasses import asdict, fields
from typing import Any

from aiohttp import web

from ..simulator import Arrival, AudienceSimulator
from . import wire
from .api import WORLD, origin, world_of
from .state import NOT_FOUND, Creator, Faults, World, WorldError, person_for

SIMULATOR = web.AppKey("simulator", dict)


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def control(handler):
    """Errors become HTTP 4xx with {"error": ...}; the body, if any, is parsed for the handler."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            body: dict[str, Any] = {}
            if request.can_read_body:
                body = await request.json()
                if not isinstance(body, dict):
                    raise WorldError(400, "the request body must be a JSON object")
            return await handler(request, body)
        except json.JSONDecodeError:
            return _json({"error": "the request body is not JSON"}, status=400)
        except WorldError as exc:
            return _json({"error": exc.message, "code": exc.code}, status=404 if exc.code == NOT_FOUND else 400)
        except (TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, status=400)

    return wrapper


def _creator(world: World, name: str) -> Creator:
    creator = world.creator_by_name(name)
    if creator is None:
        raise WorldError(NOT_FOUND, f"no creator named {name!r}")
    return creator


def _text(body: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key!r} must be a non-empty string")
    return value


# ---- logins ------------------------------------------------------------------------------
@control
async def list_logins(request: web.Request, body: dict) -> web.Response:
    world = world_of(request)
    world.expire_tickets()
    return _json([asdict(t) for t in world.tickets.values()])


@control
async def get_login(request: web.Request, body: dict) -> web.Response:
    return _json(asdict(world_of(request).ticket(request.match_info["token"])))


@control
async def scan_login(request: web.Request, body: dict) -> web.Response:
    return _json(asdict(world_of(request).scan(request.match_info["token"])))


@control
async def confirm_login(request: web.Request, body: dict) -> web.Response:
    ticket = world_of(request).confirm(request.match_info["token"], _text(body, "creator"))
    return _json(asdict(ticket))


@control
async def expire_sessions(request: web.Request, body: dict) -> web.Response:
    return _json({"expired": world_of(request).expire_sessions(_text(body, "creator", required=False))})


# ---- faults ------------------------------------------------------------------------------
@control
async def get_faults(request: web.Request, body: dict) -> web.Response:
    return _json(asdict(world_of(request).faults))


@control
async def set_faults(request: web.Request, body: dict) -> web.Response:
    """Change some faults: {"rate_limit": true, "delay_ms": 500, "send_answer_delay_ms": 20000,
    "fail_login": "reason", ...}."""
    world = world_of(request)
    known = {f.name for f in fields(Faults)}
    unknown = set(body) - known
    if unknown:
        raise ValueError(f"unknown faults {sorted(unknown)}; known: {sorted(known)}")
    merged = Faults(**{**asdict(world.faults), **body})
    if not (isinstance(merged.rate_limit, bool) and isinstance(merged.sms_required, bool)
            and isinstance(merged.delay_ms, int) and isinstance(merged.send_answer_delay_ms, int)
            and isinstance(merged.qr_ttl_s, (int, float))
            and (merged.fail_login is None or isinstance(merged.fail_login, str))):
        raise ValueError("rate_limit/sms_required are booleans, delay_ms/send_answer_delay_ms integers, "
                         "qr_ttl_s a number, fail_login a string or null")
    if merged.delay_ms < 0 or merged.send_answer_delay_ms < 0 or merged.qr_ttl_s <= 0:
        raise ValueError("delay_ms and send_answer_delay_ms must be >= 0 and qr_ttl_s > 0")
    world.faults = merged
    return _json(asdict(merged))


# ---- creators and what the site holds ----------------------------------------------------
@control
async def ensure_creator(request: web.Request, body: dict) -> web.Response:
    creator = world_of(request).ensure_creator(_text(body, "name"))
    return _json({**wire.user(creator.me, origin(request)), "unique_id": creator.unique_id})


@control
async def set_standing(request: web.Request, body: dict) -> web.Response:
    """{"standing": "ok" | "verify" | "blocked"}: hold the creator's account for a
    verification, block it, or clear it."""
    world = world_of(request)
    creator = _creator(world, request.match_info["name"])
    world.set_standing(creator, _text(body, "standing"))
    return _json({"name": creator.me.nickname, "standing": creator.standing})


@control
async def state(request: web.Request, body: dict) -> web.Response:
    world = world_of(request)
    return _json({
        "faults": asdict(world.faults),
        "creators": [
            {"name": c.me.nickname, "uid": c.me.uid, "works": len(c.works),
             "comments": sum(1 for x in c.comments.values() if not x.deleted),
             "conversations": len(c.conversations),
             "messages": sum(len(v.messages) for v in c.conversations.values())}
            for c in world.creators.values()
        ],
        "sessions": sum(1 for s in world.sessions.values() if not s.expired),
        "simulator": _simulator_status(request.app),
    })


@control
async def creator_works(request: web.Request, body: dict) -> web.Response:
    creator = _creator(world_of(request), request.match_info["name"])
    return _json([wire.work(creator, w, origin(request)) for w in creator.works.values()])


@control
async def creator_comments(request: web.Request, body: dict) -> web.Response:
    """Every live comment of the creator (optionally of one work), oldest first."""
    creator = _creator(world_of(request), request.match_info["name"])
    work_id = request.query.get("work_id")
    found = [c for c in creator.comments.values() if not c.deleted and (not work_id or c.work_id == work_id)]
    return _json([wire.comment(c, origin(request)) for c in sorted(found, key=lambda c: c.create_time)])


@control
async def creator_conversations(request: web.Request, body: dict) -> web.Response:
    creator = _creator(world_of(request), request.match_info["name"])
    return _json([
        {**wire.conversation(v, origin(request)), "messages": [wire.message(m, origin(request)) for m in v.messages]}
        for v in creator.conversations.values()
    ])


@control
async def delete_comment(request: web.Request, body: dict) -> web.Response:
    world = world_of(request)
    world.delete_comment(_creator(world, request.match_info["name"]), request.match_info["cid"])
    return _json({"deleted": request.match_info["cid"]})


# ---- audience traffic --------------------------------------------------------------------
@control
async def inject_comment(request: web.Request, body: dict) -> web.Response:
    """{"author", "text", optional "creator", "work_id", "reply_to", "as_reply"}."""
    creator, comment = world_of(request).inject_comment(
        _text(body, "creator", required=False), _author(body), _text(body, "text"),
        work_id=_text(body, "work_id", required=False), reply_to=_text(body, "reply_to", required=False),
        as_reply=bool(body.get("as_reply")),
    )
    return _json({"creator": creator.me.nickname, "comment": wire.comment(comment, origin(request))})


@control
async def inject_dm(request: web.Request, body: dict) -> web.Response:
    """{"author", "text", optional "creator"}; pushed to the creator's open pages at once."""
    creator, conv, message = world_of(request).inject_dm(
        _text(body, "creator", required=False), _author(body), _text(body, "text")
    )
    return _json({"creator": creator.me.nickname, "conversation_id": conv.conversation_id,
                  "message": wire.message(message, origin(request))})


@control
async def inject_thread_bulk(request: web.Request, body: dict) -> web.Response:
    """{"creator", "work_id", "threads": N, "replies": M}: N new first-level comments on the
    work, each with M replies (a big work or a long thread at once, for crawl tests)."""
    world = world_of(request)
    creator = _creator(world, _text(body, "creator"))
    work_id = _text(body, "work_id")
    threads, replies = int(body.get("threads", 1)), int(body.get("replies", 0))
    if not (0 < threads <= 5000 and 0 <= replies <= 5000):
        raise ValueError("threads is 1 to 5000, replies 0 to 5000")
    made = []
    for i in range(threads):
        root = world.add_comment(creator, work_id, person_for(f"viewer {i % 50}"), f"bulk comment {i}")
        for j in range(replies):
            world.add_comment(creator, work_id, person_for(f"viewer {j % 50}"), f"bulk reply {i}.{j}",
                              reply_to=root.cid)
        made.append(root.cid)
    return _json({"work_id": work_id, "threads": made})


def _author(body: dict[str, Any]) -> str:
    author = _text(body, "author")
    if len(author) > 64:
        raise ValueError("'author' must be at most 64 characters")
    return author


# ---- the in-site audience simulator ------------------------------------------------------
def _simulator_status(app: web.Application) -> dict[str, Any] | None:
    running = app[SIMULATOR].get("current")
    if running is None:
        return None
    sim, task, settings = running
    return {**settings, "running": not task.done(), **asdict(sim.stats)}


def start_simulator(app: web.Application, *, comments_per_s: float, dms_per_s: float,
                    creators: list[str] | None = None, duration_s: float | None = None) -> None:
    """Run the audience simulator inside the site (replacing a running one); its traffic goes
    to the named creators, or to any creator of the site."""
    stop_simulator(app)
    world = app[WORLD]
    rng = random.Random()

    async def inject(arrival: Arrival) -> None:
        creator = rng.choice(creators) if creators else None
        if arrival.kind == "comment":
            world.inject_comment(creator, arrival.author, arrival.text, as_reply=arrival.as_reply, rng=rng)
        else:
            world.inject_dm(creator, arrival.author, arrival.text, rng=rng)

    sim = AudienceSimulator(inject, comments_per_s=comments_per_s, dms_per_s=dms_per_s, rng=rng)
    task = asyncio.get_running_loop().create_task(sim.run(duration_s))
    app[SIMULATOR]["current"] = (sim, task, {"comments_per_s": comments_per_s, "dms_per_s": dms_per_s,
                                             "creators": creators, "duration_s": duration_s})


def stop_simulator(app: web.Application) -> None:
    running = app[SIMULATOR].pop("current", None)
    if running:
        running[1].cancel()


@control
async def post_simulator(request: web.Request, body: dict) -> web.Response:
    """{"comments_per_s", "dms_per_s", optional "creators" (names), "duration_s"}."""
    duration = body.get("duration_s")
    creators = body.get("creators")
    if creators is not None and (not isinstance(creators, list) or not all(isinstance(c, str) for c in creators)):
        raise ValueError("'creators' must be a list of creator names")
    for name in creators or ():
        world_of(request).ensure_creator(name)
    start_simulator(
        request.app, comments_per_s=float(body.get("comments_per_s", 0)), dms_per_s=float(body.get("dms_per_s", 0)),
        creators=creators or None, duration_s=float(duration) if duration is not None else None,
    )
    return _json(_simulator_status(request.app))


@control
async def delete_simulator(request: web.Request, body: dict) -> web.Response:
    stop_simulator(request.app)
    return _json({"running": False})


async def _stop_simulator_on_cleanup(app: web.Application) -> None:
    stop_simulator(app)


def add_routes(app: web.Application) -> None:
    app[SIMULATOR] = {}
    app.on_cleanup.append(_stop_simulator_on_cleanup)
    r = app.router
    r.add_get("/_control/state", state)
    r.add_get("/_control/logins", list_logins)
    r.add_get("/_control/logins/{token}", get_login)
    r.add_post("/_control/logins/{token}/scan", scan_login)
    r.add_post("/_control/logins/{token}/confirm", confirm_login)
    r.add_post("/_control/sessions/expire", expire_sessions)
    r.add_get("/_control/faults", get_faults)
    r.add_post("/_control/faults", set_faults)
    r.add_post("/_control/creators", ensure_creator)
    r.add_post("/_control/creators/{name}/standing", set_standing)
    r.add_get("/_control/creators/{name}/works", creator_works)
    r.add_get("/_control/creators/{name}/comments", creator_comments)
    r.add_get("/_control/creators/{name}/conversations", creator_conversations)
    r.add_post("/_control/creators/{name}/comments/{cid}/delete", delete_comment)
    r.add_post("/_control/inject/comment", inject_comment)
    r.add_post("/_control/inject/dm", inject_dm)
    r.add_post("/_control/inject/bulk", inject_thread_bulk)
    r.add_post("/_control/simulator", post_simulator)
    r.add_delete("/_control/simulator", delete_simulator)
