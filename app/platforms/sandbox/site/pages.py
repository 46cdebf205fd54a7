"""The site's HTML pages (static files in pages/) and its images.

Creator pages need a live session: without one they redirect to /login?next=<page>, the way a
real creator site bounces a logged-out browser. Platform text never goes into the HTML: the
pages fetch it as JSON and render it with textContent.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from .api import SESSION_COOKIE, current_creator, world_of
from .state import WorldError

PAGES_DIR = Path(__file__).with_name("pages")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; connect-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _page(name: str) -> web.FileResponse:
    return web.FileResponse(PAGES_DIR / name, headers={"Cache-Control": "no-store", **SECURITY_HEADERS})


def public_page(name: str):
    async def handler(request: web.Request) -> web.StreamResponse:
        return _page(name)

    return handler


def creator_page(name: str):
    async def handler(request: web.Request) -> web.StreamResponse:
        if current_creator(request) is None:
            raise web.HTTPFound(f"/login?next={quote(request.path_qs, safe='')}")
        return _page(name)

    return handler


async def complete_login(request: web.Request) -> web.StreamResponse:
    """The login page comes here once its QR ticket is confirmed: set the session cookie (the
    session is in the world's journal by now: a real platform never forgets a session it
    handed out, and one lost in a crash left the first run's demo accounts expired for good)."""
    try:
        session = world_of(request).complete_login(request.query.get("token", ""))
    except WorldError as exc:
        raise web.HTTPFound(f"/login?error={quote(exc.message)}") from None
    target = request.query.get("next") or "/creator/home"
    if not target.startswith("/") or target.startswith("//"):  # only our own pages
        target = "/creator/home"
    response = web.HTTPFound(target)
    response.set_cookie(SESSION_COOKIE, session.token, httponly=True, samesite="Lax", max_age=30 * 86400)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    world_of(request).sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
    response = web.HTTPFound("/login")
    response.del_cookie(SESSION_COOKIE)
    raise response


def _hue(key: str) -> int:
    return int(hashlib.md5(key.encode()).hexdigest()[:4], 16) % 360


async def avatar(request: web.Request) -> web.Response:
    """A generated round avatar (colour from the user id)."""
    hue = _hue(request.match_info["uid"])
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
        f'<circle cx="32" cy="32" r="32" fill="hsl({hue},55%,55%)"/>'
        '<circle cx="32" cy="25" r="11" fill="#fff" opacity=".9"/>'
        '<path d="M12 54c4-11 12-16 20-16s16 5 20 16" fill="#fff" opacity=".9"/></svg>'
    )
    return web.Response(text=svg, content_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


async def cover(request: web.Request) -> web.Response:
    hue = _hue(request.match_info["work_id"])
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="90" height="120" viewBox="0 0 90 120">'
        f'<rect width="90" height="120" fill="hsl({hue},50%,45%)"/>'
        '<path d="M35 45v30l25-15z" fill="#fff" opacity=".85"/></svg>'
    )
    return web.Response(text=svg, content_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


async def root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/creator/home" if current_creator(request) else "/login")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", root)
    app.router.add_get("/login", public_page("login.html"))
    app.router.add_get("/login/complete", complete_login)
    app.router.add_get("/logout", logout)
    app.router.add_get("/phone/scan", public_page("phone.html"))
    for path, name in (("home", "home"), ("works", "works"), ("comments", "comments"), ("inbox", "inbox")):
        app.router.add_get(f"/creator/{path}", creator_page(f"{name}.html"))
    app.router.add_get("/avatars/{uid}.svg", avatar)
    app.router.add_get("/covers/{work_id}.svg", cover)
    app.router.add_static("/static", PAGES_DIR, append_version=False)
