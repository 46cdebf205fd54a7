"""The site's HTML pages (static files in pages/) and its images.

Creator pages need a live session: without one they redirect to /login?next=<page>, the way a
real creator site bounces a logged-out browser. Platform text never goes into the HTML: the
pages fetch it as JSON and render it with textContent.
"""
from __future__ import annotations

import colorsys
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


def _color(key: str, saturation: float, lightness: float) -> str:
    """A colour that is always the same for `key`, as #rrggbb: SVG Tiny (what Qt draws the
    kept avatar with) has no hsl(), and would paint it black."""
    hue = int(hashlib.md5(key.encode()).hexdigest()[:4], 16) % 360 / 360
    return "#" + "".join(f"{round(c * 255):02x}" for c in colorsys.hls_to_rgb(hue, lightness, saturation))


def avatar_svg(uid: str) -> str:
    """A round avatar with a figure, its colour from the user id."""
    color = _color(uid, 0.55, 0.55)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
        f'<circle cx="32" cy="32" r="32" fill="{color}"/>'
        '<circle cx="32" cy="25" r="11" fill="#fff" opacity=".9"/>'
        '<path d="M12 54c4-11 12-16 20-16s16 5 20 16" fill="#fff" opacity=".9"/></svg>'
    )


async def avatar(request: web.Request) -> web.Response:
    return web.Response(text=avatar_svg(request.match_info["uid"]), content_type="image/svg+xml",
                        headers={"Cache-Control": "max-age=86400"})


async def cover(request: web.Request) -> web.Response:
    color = _color(request.match_info["work_id"], 0.50, 0.45)
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="90" height="120" viewBox="0 0 90 120">'
        f'<rect width="90" height="120" fill="{color}"/>'
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
