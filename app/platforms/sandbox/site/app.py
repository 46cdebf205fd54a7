"""The sandbox site as an aiohttp application, and `SandboxSite`, which runs it on 127.0.0.1.

`SandboxSite(world_file=...)` keeps the world on disk: a JSON snapshot (world.json) plus a
journal beside it (world.journal, one JSON line per change, written and fsynced the moment the
change happens, before the request that made it is answered). That keeps the demo accounts'
sessions (and so their saved browser logins) and their traffic across restarts of the
console, and across a kill -9 too: the crash tests must measure the engine, not a simulated
platform that forgets what its audience wrote in the last seconds. Loading reads the snapshot
and replays the journal; every few seconds (and at start and stop) the journal is folded into
a new snapshot. The site also remembers its port and takes it again when it is free, so
avatar URLs stored by an earlier run keep working.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

from aiohttp import web

from . import api, control, pages
from .state import Faults, World

log = logging.getLogger(__name__)
SAVE_EVERY_S = 5.0  # how often the journal is folded into the snapshot (when it has entries)


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
        self._runner: web.AppRunner | None = None
        self._saver: asyncio.Task[None] | None = None
        self._saved_version = self.world.version
        self._journal: Any = None  # the open journal file while the site runs

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
            self.save()  # fold what the last run journaled into a snapshot, with this port
            self._open_journal()
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
        self.world.journal = None
        self._close_journal()
        self.save()

    # ---- persistence -------------------------------------------------------------------
    @property
    def _journal_file(self) -> Path:
        return self.world_file.with_suffix(".journal")

    @property
    def _folding_file(self) -> Path:
        """The journal being folded into a new snapshot (replayed too until that is safe)."""
        return self.world_file.with_suffix(".journal.old")

    def _load(self, faults: Faults | None) -> tuple[World, int]:
        if not self.world_file:
            return World(faults), 0
        world, port = World(faults), 0
        if self.world_file.exists():
            try:
                data = json.loads(self.world_file.read_text(encoding="utf-8"))
                world, port = World.from_dict(data, faults), int(data.get("port", 0))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                # A damaged file must not stop the console: keep it aside and start afresh.
                broken = self.world_file.with_suffix(".broken.json")
                log.warning("sandbox world %s is unreadable (%s); moved to %s", self.world_file, exc, broken)
                os.replace(self.world_file, broken)
        for journal in (self._folding_file, self._journal_file):
            self._replay(world, journal)
        return world, port

    @staticmethod
    def _replay(world: World, journal: Path) -> None:
        """Apply a journal's entries; a line cut off by a crash (the last one) ends it."""
        if not journal.exists():
            return
        with journal.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                try:
                    world.replay(json.loads(line))
                except (ValueError, KeyError, TypeError) as exc:
                    log.warning("sandbox journal %s: line %d unreadable (%s); the rest is skipped",
                                journal, number, exc)
                    return

    def _open_journal(self) -> None:
        self.world_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._journal_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._journal = os.fdopen(fd, "a", encoding="utf-8")
        self.world.journal = self._append

    def _close_journal(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def _append(self, entry: dict[str, Any]) -> None:
        """Journal one change durably (the world calls this as the change happens)."""
        self._journal.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())

    def _snapshot(self) -> str:
        """The world as JSON, taken on the loop (the world is not thread-safe)."""
        self._saved_version = self.world.version
        return json.dumps({**self.world.to_dict(), "port": self.port}, ensure_ascii=False)

    def _write(self, text: str) -> None:
        """Atomically (temp file + fsync + rename), so a crash never leaves half a world; then
        the journal folded into it is no longer needed."""
        self.world_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.world_file.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.world_file)
        self._folding_file.unlink(missing_ok=True)

    def _start_folding(self) -> str:
        """On the loop: the snapshot, and a fresh journal for the changes after it."""
        text = self._snapshot()
        reopen = self._journal is not None
        self._close_journal()
        if self._journal_file.exists():
            if self._folding_file.exists():  # the last fold failed: keep both until one works
                with self._folding_file.open("a", encoding="utf-8") as folding:
                    folding.write(self._journal_file.read_text(encoding="utf-8"))
                    folding.flush()
                    os.fsync(folding.fileno())
                self._journal_file.unlink()
            else:
                os.replace(self._journal_file, self._folding_file)
        if reopen:
            self._open_journal()
        return text

    def save(self) -> None:
        if self.world_file:
            self._write(self._start_folding())

    async def _save_periodically(self) -> None:
        while True:
            await asyncio.sleep(SAVE_EVERY_S)
            if self.world.version != self._saved_version:
                try:
                    await asyncio.to_thread(self._write, self._start_folding())
                except OSError:
                    log.exception("could not save the sandbox world")
