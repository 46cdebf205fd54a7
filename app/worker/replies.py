"""The master's replies, sent through this worker's pool: `master:reply:request` →
`worker:reply:result`, and the outbox's look for an earlier copy, `master:reply:find` →
`worker:reply:found`.

Every reply goes out through the engine's holders (the local pool holds every account the
master assigned here), so it is typed into the page exactly as the console's pool does.
A request id that was answered as sent is answered again from disk (answered.py), and one
still being sent is joined: the same request twice is one send.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from pydantic import ValidationError

from ..engine.platform import ReplyBlocked
from . import wire
from .answered import AnsweredReplies

if TYPE_CHECKING:
    from ..engine.engine import Engine

log = logging.getLogger(__name__)

Emit = Callable[[str, dict[str, Any]], Awaitable[None]]


class ReplyDesk:
    def __init__(self, engine: "Engine", answered: AnsweredReplies, emit: Emit) -> None:
        self._engine = engine
        self._answered = answered
        self._emit = emit
        self._sending: dict[str, asyncio.Task[dict[str, Any]]] = {}

    async def request(self, payload: Any) -> None:
        """`master:reply:request`: send it (once) and answer `worker:reply:result`."""
        try:
            request = wire.ReplyRequest.model_validate(payload)
        except ValidationError as exc:
            await self._refuse_request(payload, wire.problem(exc))
            return
        result = await self.result_of(request)
        await self._emit("worker:reply:result", {**result, "timestamp": wire.now_ms()})

    async def result_of(self, request: wire.ReplyRequest) -> dict[str, Any]:
        """The reply's result: the stored one when it was sent before, else the running send's,
        else a new send's."""
        stored = await self._answered.result(request.request_id)
        if stored is not None:
            log.info("reply request %s was answered before; not sending it again", request.request_id)
            return stored
        task = self._sending.get(request.request_id)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._send(request), name=f"reply {request.request_id}")
            self._sending[request.request_id] = task
            task.add_done_callback(lambda _t, key=request.request_id: self._sending.pop(key, None))
        return await asyncio.shield(task)

    async def find(self, payload: Any) -> None:
        """`master:reply:find`: look for an earlier copy, answer `worker:reply:found`."""
        try:
            look = wire.ReplyFind.model_validate(payload)
        except ValidationError as exc:
            request_id = payload.get("request_id") if isinstance(payload, dict) else None
            await self._emit("worker:reply:found", {
                "request_id": request_id if isinstance(request_id, str) else None, "found": False,
                "error_class": "PermanentError", "error_message": f"bad master:reply:find: {wire.problem(exc)}"})
            return
        since = datetime.fromtimestamp(look.since / 1000, tz=timezone.utc)
        answer: dict[str, Any] = {"request_id": look.request_id}
        try:
            found = await self._engine.holders.find_reply(look.account_id, look.target.target(), look.text, since)
        except Exception as exc:  # noqa: BLE001 - every failure is an answer
            answer.update(found=False, error_class=wire.error_class(exc), error_message=wire.describe(exc))
        else:
            answer.update(found=found is not None, platform_reply_id=found and found.platform_id,
                          created=found.created.to_json() if found and found.created else None)
        await self._emit("worker:reply:found", answer)

    async def _send(self, request: wire.ReplyRequest) -> dict[str, Any]:
        base = {"reply_id": request.reply_id, "request_id": request.request_id, "platform": request.platform,
                "account_id": request.account_id}
        try:
            sent = await self._engine.holders.send_reply(
                request.account_id, request.target.target(), request.reply_content)
        except Exception as exc:  # noqa: BLE001 - every failure is an answer
            log.warning("reply %s not sent: %s", request.request_id, wire.describe(exc))
            return {**base, "status": "blocked" if isinstance(exc, ReplyBlocked) else "failed",
                    "platform_reply_id": None, "created": None, "error_code": wire.error_code(exc),
                    "error_message": wire.describe(exc), "error_class": wire.error_class(exc)}
        result = {**base, "status": "success", "platform_reply_id": sent.platform_id,
                  "created": sent.created.to_json() if sent.created else None,
                  "error_code": None, "error_message": None, "error_class": None}
        try:
            await self._answered.remember(request.request_id, result)
        except Exception:  # the disk failed: the reply is out all the same, and said so
            log.exception("reply %s was sent but could not be remembered", request.request_id)
        return result

    async def _refuse_request(self, payload: Any, why: str) -> None:
        fields = payload if isinstance(payload, dict) else {}
        keep = {k: fields.get(k) for k in ("reply_id", "request_id", "platform", "account_id")}
        log.warning("refused a malformed master:reply:request: %s", why)
        await self._emit("worker:reply:result", {
            **{k: v if isinstance(v, str) else None for k, v in keep.items()}, "status": "failed",
            "error_code": "UNKNOWN_ERROR", "error_message": f"bad master:reply:request: {why}",
            "error_class": "PermanentError", "created": None, "timestamp": wire.now_ms()})
