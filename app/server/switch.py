"""ServerSwitch: the embedded server follows the settings (`server.enabled`, host, port, token,
redis_url).

The console's settings switch and `hiscrm serve --server` both end here: turning it on
starts the server, changing its address restarts it, turning it off stops it. Whatever
happens is published as ServerStatusChanged (the console shows the address, or why the
server is not running, e.g. a port in use), never raised into the settings dialog.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ..engine.events import ServerStatusChanged, ServerTokenRenewed, SettingsChanged
from .app import EmbeddedServer, ServerOptions

if TYPE_CHECKING:
    from ..engine.engine import Engine

log = logging.getLogger(__name__)


class ServerSwitch:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.server: EmbeddedServer | None = None
        self.error: str | None = None
        self._lock = asyncio.Lock()
        self._unsubscribers = [engine.bus.subscribe(SettingsChanged, self._settings_changed),
                               engine.bus.subscribe(ServerTokenRenewed, self._token_renewed)]

    def _wanted(self) -> ServerOptions | None:
        server = self._engine.settings.server
        if not server.enabled:
            return None
        return ServerOptions(server.host, server.port, server.token, server.redis_url)

    async def apply(self, *, restart: bool = False) -> None:
        """Bring the server in line with the settings (start, restart or stop it); `restart`
        restarts a running server even when its settings did not change (a new token)."""
        async with self._lock:
            wanted = self._wanted()
            if self.server is not None and self.server.options == wanted and not restart:
                return
            await self._stop_server()
            self.error = None
            if wanted is not None:
                self._engine.server_token.configured = wanted.token
                server = EmbeddedServer(self._engine, wanted)
                try:
                    await server.start()
                except OSError as exc:
                    self.error = str(exc.strerror or exc)
                    log.error("the server could not start: %s", self.error)
                else:
                    self.server = server
            self._publish()

    async def _settings_changed(self, event: SettingsChanged) -> None:
        if "server" in event.changed:
            await self.apply()

    async def _token_renewed(self, event: ServerTokenRenewed) -> None:
        if self.server is not None:
            await self.apply(restart=True)

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribers:
            unsubscribe()
        async with self._lock:
            await self._stop_server()

    async def _stop_server(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None
            await server.stop()

    def _publish(self) -> None:
        if self.server is not None:
            self._engine.bus.publish(self.server.status())
        else:
            self._engine.bus.publish(ServerStatusChanged(running=False, error=self.error))
