"""The first-run demo workspace: two sandbox accounts, logged in through the real login flow,
with a gentle stream of simulated audience traffic, so a new user sees comments and DMs
arrive and can answer them within a minute, without any real account.

The QR code is "scanned" through the sandbox's control API: it is our own local site, so the
demo plays the phone itself. Everything else is the engine's normal path (LoginManager →
worker pool → the adapter driving the login page in Chromium).
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from .control_client import SandboxControl

if TYPE_CHECKING:
    from app.engine.engine import Engine

    from .site import SandboxSite

log = logging.getLogger(__name__)

DEMO_ACCOUNTS = ("演示账号 A", "Demo account B")
# About one comment every 6 s and one DM every 12 s across the demo accounts.
DEMO_COMMENTS_PER_S = 0.16
DEMO_DMS_PER_S = 0.08
LOGIN_TIMEOUT_S = 90.0


async def setup_demo_workspace(engine: "Engine") -> list[str]:
    """Create (or reuse) the demo accounts, log them in, start the demo traffic; returns the
    account ids. Raises RuntimeError when the sandbox is off or a login does not succeed."""
    platform = engine.platforms.get("sandbox")
    control: SandboxControl | None = getattr(platform, "control", None)
    if control is None:
        raise RuntimeError("the sandbox site is not running (settings: platforms.sandbox.enabled)")
    existing = {a.display_name: a for a in await engine.accounts.list() if a.platform == "sandbox"}
    account_ids, logins = [], []
    for name in DEMO_ACCOUNTS:
        account = existing.get(name)
        account_id = account.id if account else await engine.accounts.create("sandbox", name)
        if account is None or account.login_status != "logged_in":
            logins.append(log_in_with_control(engine, control, account_id, creator=name))
        account_ids.append(account_id)
    await asyncio.gather(*logins)
    if platform.config.demo_traffic:
        await control.start_simulator(comments_per_s=DEMO_COMMENTS_PER_S, dms_per_s=DEMO_DMS_PER_S,
                                      creators=list(DEMO_ACCOUNTS))
    return account_ids


async def log_in_with_control(engine: "Engine", control: SandboxControl, account_id: str, *, creator: str,
                              timeout_s: float = LOGIN_TIMEOUT_S) -> None:
    """Log a sandbox account in through `engine.logins`, confirming its QR code as `creator`
    through the control API (the demo's stand-in for a phone)."""
    from app.engine.events import LoginProgress

    done: asyncio.Future[LoginProgress] = asyncio.get_running_loop().create_future()
    confirming: set[str] = set()

    async def on_progress(event: LoginProgress) -> None:
        if event.account_id != account_id or done.done():
            return
        if event.state in ("qr_ready", "qr_refreshed") and event.qr_url:
            token = parse_qs(urlsplit(event.qr_url).query).get("token", [""])[0]
            if token and token not in confirming:
                confirming.add(token)
                try:
                    await control.confirm(token, creator)
                except Exception as exc:  # an expired code: the page shows a fresh one
                    log.info("demo: confirming a QR code failed (%s); waiting for the next", exc)
        elif event.state in ("success", "failed", "timeout", "expired", "cancelled"):
            done.set_result(event)

    unsubscribe = engine.bus.subscribe(LoginProgress, on_progress)
    try:
        await engine.logins.start(account_id)
        async with asyncio.timeout(timeout_s):
            final = await done
    finally:
        unsubscribe()
    if final.state != "success":
        raise RuntimeError(f"demo login of {creator!r} ended {final.state}: {final.message}")


def resume_demo_traffic(site: "SandboxSite") -> None:
    """At start-up: keep the demo accounts lively again (the simulator does not survive a
    restart), when the demo workspace was set up before."""
    from .site.control import start_simulator

    creators = [name for name in DEMO_ACCOUNTS if site.world.creator_by_name(name)]
    if creators:
        start_simulator(site.app, comments_per_s=DEMO_COMMENTS_PER_S, dms_per_s=DEMO_DMS_PER_S, creators=creators)
