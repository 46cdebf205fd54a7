"""A master that speaks the worker contract (/work/briefs/worker-protocol.md), for the
worker's tests: a real python-socketio AsyncServer on 127.0.0.1 (port 0), `/worker` only.

It records what the worker sends, answers as the contract says (register ack with the
accounts the test deals, delta acks unless told to hold them back, heartbeat and storage
acks) and lets the test send the master's events to the worker.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import socketio
from aiohttp import web

NS = "/worker"


def envelope(type_: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": type_, "version": "v1", "payload": payload, "timestamp": int(time.time() * 1000)}


@dataclass
class FakeMaster:
    token: str = "secret-token"
    accounts: list[dict[str, Any]] = field(default_factory=list)  # dealt at every registration
    acked_seq: int = 0  # the highest delta seq applied (told at registration)
    hold_acks: bool = False  # receive deltas but do not answer them
    received: list[tuple[str, Any]] = field(default_factory=list)  # (type or event, payload), in order
    sid: str | None = None
    url: str = ""

    def __post_init__(self) -> None:
        self.sio = socketio.AsyncServer(async_mode="aiohttp", max_http_buffer_size=10_000_000, logger=False,
                                        engineio_logger=False)
        self.app = web.Application()
        self.sio.attach(self.app)
        self._runner: web.AppRunner | None = None
        self.sio.on("connect", self._connect, namespace=NS)
        self.sio.on("disconnect", self._disconnect, namespace=NS)
        self.sio.on("join_room", self._join, namespace=NS)
        self.sio.on("message", self._message, namespace=NS)
        for event in ("worker:reply:result", "worker:reply:found", "worker:login:status"):
            self.sio.on(event, self._direct(event), namespace=NS)

    async def start(self, port: int = 0) -> "FakeMaster":
        self._runner = web.AppRunner(self.app, shutdown_timeout=0.5)  # a crash closes at once
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self.sio.shutdown()
            await self._runner.cleanup()
            self._runner = None

    async def crash(self) -> None:
        """Gone without a goodbye: the sockets close under the worker (a master killed)."""
        runner, self._runner = self._runner, None
        await runner.cleanup()

    # ---- What the worker sent

    def of(self, kind: str) -> list[Any]:
        return [payload for k, payload in self.received if k == kind]

    async def until(self, predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
        """Wait until predicate() (sync or async) is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; received "
                                     f"{[k for k, _ in self.received]}")
            await asyncio.sleep(0.02)

    # ---- What the master sends

    async def send(self, type_: str, payload: dict[str, Any]) -> None:
        await self.sio.emit("message", envelope(type_, payload), to=self.sid, namespace=NS)

    async def emit(self, event: str, payload: Any) -> None:
        await self.sio.emit(event, payload, to=self.sid, namespace=NS)

    async def drop_worker(self) -> None:
        """Close the worker's connection from this side (a network cut, a master restart)."""
        await self.sio.disconnect(self.sid, namespace=NS)

    # ---- Handlers

    async def _connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        if not isinstance(auth, dict) or auth.get("token") != self.token:
            raise socketio.exceptions.ConnectionRefusedError("a valid token is required")
        self.sid = sid
        self.received.append(("connect", None))

    async def _disconnect(self, sid: str, *reason: Any) -> None:
        self.received.append(("disconnect", None))

    async def _join(self, sid: str, data: Any) -> bool:
        self.received.append(("join_room", data))
        await self.sio.enter_room(sid, data["room"], namespace=NS)
        return True

    async def _message(self, sid: str, data: Any) -> None:
        kind, payload = data["type"], data["payload"]
        self.received.append((kind, payload))
        if kind == "worker:register":
            await self.send("worker:register:ack", {"success": True, "assigned_accounts": self.accounts,
                                                    "acked_seq": self.acked_seq})
        elif kind == "worker:heartbeat":
            await self.send("worker:heartbeat:ack", {"success": True})
        elif kind == "worker:account:storage":
            await self.send("worker:account:storage:ack", {"account_id": payload["account_id"], "success": True})
        elif kind == "worker:data:delta" and not self.hold_acks:
            seq = payload["seq"]
            if seq > self.acked_seq:
                self.acked_seq = seq
            await self.send("worker:data:delta:ack", {"seq": seq, "success": True,
                                                      "stats": {"added": 0, "updated": 0, "rejected": 0}})

    def _direct(self, event: str):
        async def handler(sid: str, data: Any) -> None:
            self.received.append((event, data))
        return handler
