"""EmbeddedServer: one aiohttp application with python-socketio attached, in the engine's loop.

    server = EmbeddedServer(engine, ServerOptions(host="127.0.0.1", port=3000))
    await server.start()      # listening; server.url says where (port 0: a free port)
    ...
    await server.stop()

Its parts each install themselves on the server (`install(server)`): the IM client namespace
`/` (im_clients.py), the worker namespace `/worker`, `/admin`, and the REST routes. Every
part calls the engine's services, as the console does; nothing here computes data itself.

Socket.IO settings follow PROTOCOL.md §1 (path `/socket.io/`, ping 25 s / 60 s, payloads up
to 10 MB because an original worker's snapshot is that big). With a Redis URL, python-socketio's
Redis manager lets several `hiscrm serve` processes share their clients' broadcasts. How a
broadcast reaches thousands of sockets (one encoding, slices, bounded queues, no per-socket
deflate) is fanout.py's; how a crowd connecting at once is let in a few per turn of the
loop, pacing.py's.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import engineio
import socketio
from aiohttp import web

from ..engine.events import ServerStatusChanged
from ..engine.server_token import tokens_match
from . import fanout, pacing, websocket
from .auth import REFUSED, presented_token
from .peers import Peers

if TYPE_CHECKING:
    from ..engine.engine import Engine

log = logging.getLogger(__name__)

MAX_PAYLOAD = 10_000_000  # bytes: the original master's limit, which its workers' snapshots use
# What the transport takes before it drops the connection: above MAX_PAYLOAD, so that a
# message a little too big is answered with an error (its handler sees `packet_size()`),
# not a silently closed socket that the original worker would send the same snapshot to again.
TRANSPORT_LIMIT = 2 * MAX_PAYLOAD
CLOSE_WAIT_S = 2.0  # a stopping server waits this long at most for its goodbyes to be written

_PACKET_SIZE: ContextVar[int] = ContextVar("hiscrm_packet_size", default=0)


def packet_size() -> int:
    """The size (characters) of the Socket.IO packet whose handler is running."""
    return _PACKET_SIZE.get()


class _SizedServer(socketio.AsyncServer):
    """An AsyncServer whose event handlers can ask how big their packet was (packet_size):
    the size is known only here, before the packet is decoded, and the handler task inherits
    the context variable set for it."""

    async def _handle_eio_message(self, eio_sid, data):
        token = _PACKET_SIZE.set(len(data) if isinstance(data, (str, bytes)) else 0)
        try:
            await super()._handle_eio_message(eio_sid, data)
        finally:
            _PACKET_SIZE.reset(token)

    def _engineio_server_class(self):
        return _QueueingEngineIO


class _QueueingEngineIO(fanout.QueueingEngine, engineio.AsyncServer):
    """Engine.IO with fanout.SocketQueue as every socket's outgoing queue, and WebSockets that
    leave no reference cycles when their client goes (websocket.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        websocket.install_on(self)


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"  # loopback unless told otherwise
    port: int = 3000
    token: str = ""  # empty: the engine's token (generated once, app/engine/server_token.py)
    redis_url: str = ""  # shared broadcasts between several server processes (redis://host:port/db)


class EmbeddedServer:
    def __init__(self, engine: Engine, options: ServerOptions) -> None:
        self.engine = engine
        self.options = options
        self.token = ""  # known from start()
        self.sio = _SizedServer(
            async_mode="aiohttp",
            cors_allowed_origins="*",  # the original's; every connection still needs the token
            max_http_buffer_size=TRANSPORT_LIMIT,
            ping_interval=25,
            ping_timeout=60,
            client_manager=fanout.manager(options.redis_url),
            serializer=fanout.WirePacket,
            logger=False,
            engineio_logger=False,
        )
        self.peers = Peers(options.redis_url)  # the other server processes on the same Redis
        self.web = web.Application(client_max_size=TRANSPORT_LIMIT,
                                   middlewares=[pacing.HandshakePacer().middleware(), fanout.no_deflate])
        self.sio.attach(self.web)
        self.sio.on("connect", self._guard, namespace="*")
        self._runner: web.AppRunner | None = None
        self.port = options.port
        self.im_clients = 0  # connected IM clients (namespace `/`), kept by im_clients.py
        self.workers = 0  # connected remote workers
        self._cleanups: list[Callable[[], Any]] = []
        for install in _parts():
            install(self)

    def admits(self, environ: dict, auth: object = None) -> bool:
        """Whether a Socket.IO handshake presents the token (every namespace's connect asks;
        a refusal raises socketio.exceptions.ConnectionRefusedError(auth.REFUSED))."""
        return tokens_match(presented_token(environ, auth), self.token)

    def on_stop(self, cleanup: Callable[[], Any]) -> None:
        """A part's cleanup (unsubscribing from the bus, ...), run by stop(), newest first."""
        self._cleanups.append(cleanup)

    def status(self) -> ServerStatusChanged:
        """The running server as the console shows it (address, clients, workers)."""
        return ServerStatusChanged(running=True, url=self.url, im_clients=self.im_clients, workers=self.workers)

    async def _guard(self, namespace: str, sid: str, environ: dict, auth: object = None) -> object:
        """The connect handler of a namespace that has none of its own (`/` is always open in
        python-socketio): the token is asked there too."""
        if not self.admits(environ, auth):
            raise socketio.exceptions.ConnectionRefusedError(REFUSED)
        own = self.sio.namespace_handlers.get(namespace)
        if own is not None:  # python-socketio asks this catch-all first: the namespace's own still runs
            return await own.trigger_event("connect", sid, environ, auth)
        return None

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def url(self) -> str:
        host = self.options.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}"

    async def start(self) -> None:
        """Listen; OSError (with the address) when the port is taken or not allowed."""
        self.token = await self.engine.server_token.get()
        await self.peers.start()
        self._runner = web.AppRunner(self.web, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.options.host, self.options.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            await self.peers.stop()
            raise OSError(exc.errno, f"cannot listen on {self.options.host}:{self.options.port}: {exc.strerror}") from exc
        server = site._server  # aiohttp keeps the asyncio server here; its socket has the real port
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        log.info("server listening on %s", self.url)

    async def stop(self) -> None:
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        for cleanup in reversed(self._cleanups):
            try:
                result = cleanup()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("server part cleanup %r failed", cleanup)
        # Socket.IO's shutdown stops only its own tasks: the connections are closed here, so
        # clients reconnect at once (to the next server) and the web server's shutdown does
        # not wait for their websockets until they time out. Each close waits until its
        # goodbye is written, but not for long: a socket whose client already went never
        # drains.
        closing = [asyncio.ensure_future(c.close()) for c in list(self.sio.eio.sockets.values())]
        if closing:
            await asyncio.wait(closing, timeout=CLOSE_WAIT_S)
        await self.sio.shutdown()
        await runner.cleanup()
        await self.peers.stop()
        log.info("server stopped")


def _parts():
    """The parts of the server, each `install(server)`; imported here so that a console that
    never switches the server on never imports them."""
    from . import admin, im_clients, rest, worker_link

    return [im_clients.install, worker_link.install, rest.install, admin.install]
