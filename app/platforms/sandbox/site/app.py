"""The sandbox site as an aiohttp application, and `SandboxSite`, which runs it on 127.0.0.1.

`SandboxSite(world_file=...)` keeps the world in a JSON file: loaded at start, saved a few
seconds after changes, at once when a login completes (before the browser gets its cookie),
and at stop. That keeps the demo accounts' sessions (and so their saved
browser logins) and their traffic across restarts of the console. It also remembers its port
and takes it again when it is free, so avatar URLs stored by an earlier run keep working.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

from aiohttp import web

from . import api, control, pages
from .state import Faults, World

log = logging.getLogger(__name__)
SAVE_EVERY_S = 5.0


@web.middleware
async def _faults_and_headers(request: web.Request, handler) -> web.StreamResponse:
    """The "slow pages" fault delays every page and API answer (not the control API)."""
    delay = request.app[api.WORLD].faults.delay_ms
    if delay and not request.path.startswith("/_control/"):
        await asyncio.sleep(delay / 1000)
    return await handler(request)


def create_app(world: World | None = None) -> web.Application:
    app = web.Application(middlewares=[_faults_and_headers], client_max_size=256 * 1024)
    app[api.WORLD] = world or World()
    api.add_routes(app)
    pages.add_routes(app)
    control.add_routes(app)
    return app


class SandboxSite:
    """Runs the site in the current event loop until `stop()`."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, world_file: Path | None = None,
                 faults: Faults | None = None) -> None:
        self.host = host
        self.port = port
        self.world_file = world_file
        self.world, remembered_port = self._load(faults)
        self._preferred_port = port or remembered_port
        self.app = create_app(self.world)
        if world_file:
            self.app[pages.SAVE_WORLD] = self.save_now
        self._runner: web.AppRunner | None = None
        self._saver: asyncio.Task[None] | None = None
        self._saved_version = self.world.version
        self._writing = asyncio.Lock()  # one writer of the file at a time

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> str:
        """Serve the site; returns its base URL."""
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await self._bind(self._preferred_port)
        self.port = self._runner.addresses[0][1]  # the real port when 0 was asked
        if self.world_file:
            self._saver = asyncio.get_running_loop().create_task(self._save_periodically())
        log.info("sandbox site on %s", self.base_url)
        return self.base_url

    async def _bind(self, port: int) -> None:
        try:
            await web.TCPSite(self._runner, self.host, port).start()
        except OSError:
            if port == 0 or port == self.port:  # asked for explicitly: say so
                raise
            log.info("sandbox port %s is taken; using a free one", port)
            await web.TCPSite(self._runner, self.host, 0).start()

    async def stop(self) -> None:
        if self._saver:
            self._saver.cancel()
            self._saver = None
        if self._runner:
            await self._runner.cleanup()
            self._runner = None
        self.save()

    # ---- persistence -------------------------------------------------------------------
    def _load(self, faults: Faults | None) -> tuple[World, int]:
        if not self.world_file or not self.world_file.exists():
            return World(faults), 0
        try:
            data = json.loads(self.world_file.read_text(encoding="utf-8"))
            return World.from_dict(data, faults), int(data.get("port", 0))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # A damaged file must not stop the console: keep it aside and start afresh.
            broken = self.world_file.with_suffix(".broken.json")
            log.warning("sandbox world %s is unreadable (%s); moved to %s", self.world_file, exc, broken)
            os.replace(self.world_file, broken)
            return World(faults), 0

    def _snapshot(self) -> str:
        """The world as JSON, taken on the loop (the world is not thread-safe)."""
        self._saved_version = self.world.version
        return json.dumps({**self.world.to_dict(), "port": self.port}, ensure_ascii=False)

    def _write(self, text: str) -> None:
        """Atomically (temp file + rename), so a crash never leaves half a world."""
        self.world_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.world_file.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.world_file)

    def save(self) -> None:
        if self.world_file:
            self._write(self._snapshot())

    async def save_now(self) -> None:
        """Save the world off the loop, now (what must survive a crash: a login)."""
        if self.world_file:
            async with self._writing:
                await asyncio.to_thread(self._write, self._snapshot())

    async def _save_periodically(self) -> None:
        while True:
            await asyncio.sleep(SAVE_EVERY_S)
            if self.world.version != self._saved_version:
                try:
                    await self.save_now()
                except OSError:
                    log.exception("could not save the sandbox world")
