"""The /admin namespace with a real python-socketio client: the token at connect and in
admin:auth, status and sessions, and a whole QR + SMS login of a sandbox account driven
from the admin socket (real Chromium), its steps pushed back under the admin's session id."""
from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import socketio

from app.server.app import EmbeddedServer, ServerOptions
from tests.engine.pool.harness import make_rig


class Admin:
    """An admin socket that records what it is sent, event by event."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self._changed = asyncio.Event()
        self.sio.on("*", self._record, namespace="/admin")

    async def _record(self, event: str, data: Any = None) -> None:
        self.events.append((event, data))
        self._changed.set()

    async def connect(self, server: EmbeddedServer, token: str) -> None:
        await self.sio.connect(server.url, namespaces=["/admin"], auth={"token": token}, transports=["websocket"])

    async def next(self, event: str, timeout: float = 30.0, **match: Any) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                for name, data in self.events:
                    if name == event and all(data.get(k) == v for k, v in match.items()):
                        return data
                self._changed.clear()
                await self._changed.wait()

    async def ask(self, event: str, data: Any, answer: str) -> Any:
        await self.sio.emit(event, data, namespace="/admin")
        return await self.next(answer)


@pytest.fixture
async def served(tmp_path):
    async with make_rig(tmp_path) as rig:
        server = EmbeddedServer(rig.engine, ServerOptions(port=0))
        await server.start()
        try:
            yield rig, server
        finally:
            await server.stop()


@pytest.mark.browser
@pytest.mark.timeout(90)
async def test_an_admin_logs_an_account_in_through_the_admin_namespace(served):
    rig, server = served
    refused = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(server.url, namespaces=["/admin"], auth={"token": "wrong"},
                              transports=["websocket"])

    admin = Admin()
    await admin.connect(server, server.token)
    try:
        await admin.next("admin:connected")
        failed = await admin.ask("admin:auth", {"token": "anything non-empty", "userId": "u1"}, "admin:auth:failed")
        assert failed["error"] == "invalid token"
        ok = await admin.ask("admin:auth", {"token": server.token, "userId": "u1"}, "admin:auth:success")
        assert ok["userId"] == "u1"

        await rig.control.set_faults(sms_required=True)
        account_id = await rig.accounts.create("sandbox", "creator-a")
        ack = await admin.ask("master:login:start", {"account_id": account_id, "session_id": "adm-1"},
                              "admin:login:start:ack")
        assert (ack["session_id"], ack["status"], ack["worker_id"]) == ("adm-1", "sent", "local")
        qr = await admin.next("login:qrcode:ready", session_id="adm-1")
        assert qr["qr_code_data"].startswith("data:image/png;base64,") and qr["expires_at"] > 1e9
        listed = await admin.ask("admin:login_sessions:list", {}, "admin:login_sessions:list:response")
        assert [(s["session_id"], s["account_id"]) for s in listed["sessions"]] == [("adm-1", account_id)]
        status = await admin.ask("admin:status:request", {}, "admin:status:response")
        assert status["loginSessions"] == {"total": 1, "active": 1} and status["accounts"]["total"] == 1

        token = parse_qs(urlparse(qr["qr_code_url"]).query)["token"][0]
        await rig.control.scan(token)
        await rig.control.confirm(token, "creator-a")
        sms = await admin.next("login:status:update", session_id="adm-1", status="sms_input_required")
        assert sms["step"] == "verification_code"
        code = (await rig.control.login(token))["sms_code"]
        answered = await admin.ask("master:login:user_input",
                                   {"session_id": "adm-1", "input_type": "verification_code", "value": code},
                                   "admin:login:user_input:ack")
        assert answered["status"] == "received"
        success = await admin.next("login:success", session_id="adm-1")
        assert success["account_id"] == account_id and success["logged_in_at"] > 1e9
        assert (await rig.accounts.get(account_id)).login_status == "logged_in"
        steps = [d["status"] for e, d in admin.events if e == "login:status:update"]
        assert steps.index("qrcode_ready") < steps.index("scanning") < steps.index("sms_input_required")
        assert steps[-1] == "success"
    finally:
        await admin.sio.disconnect()


@pytest.mark.browser
@pytest.mark.timeout(60)
async def test_bad_admin_requests_get_an_error_and_the_socket_keeps_serving(served):
    _rig, server = served
    admin = Admin()
    await admin.connect(server, server.token)
    try:
        error = await admin.ask("master:login:start", {"session_id": 42}, "admin:error")
        assert error["error"] == "invalid payload" and "account_id" in error["message"]
        admin.events.clear()
        error = await admin.ask("master:login:start", {"account_id": "acc-nobody"}, "admin:error")
        assert error["error"] == "Account not found"
        admin.events.clear()
        error = await admin.ask("master:login:user_input",
                                {"session_id": "nope", "input_type": "verification_code", "value": "1"},
                                "admin:error")
        assert "not waiting" in error["error"]
        admin.events.clear()
        error = await admin.ask("admin:whatever", "x" * 10_000, "admin:error")
        assert error["error"] == "unknown event"
        admin.events.clear()
        await admin.ask("master:login:start", ["not", "an", "object"], "admin:error")
        status = await admin.ask("admin:status:request", None, "admin:status:response")
        assert status["workers"]["online"] == 1
    finally:
        await admin.sio.disconnect()


@pytest.mark.browser
@pytest.mark.timeout(60)
async def test_a_refused_login_is_pushed_as_failed_with_its_reason(served):
    rig, server = served
    admin = Admin()
    await admin.connect(server, server.token)
    try:
        await rig.control.set_faults(fail_login="账号存在风险")
        account_id = await rig.accounts.create("sandbox", "creator-b")
        ack = await admin.ask("master:login:start", {"account_id": account_id}, "admin:login:start:ack")
        session_id = ack["session_id"]  # none chosen: the engine's
        qr = await admin.next("login:qrcode:ready", session_id=session_id)
        token = parse_qs(urlparse(qr["qr_code_url"]).query)["token"][0]
        await rig.control.scan(token)
        await rig.control.confirm(token, "creator-b")
        failed = await admin.next("login:failed", session_id=session_id)
        assert "账号存在风险" in failed["error_message"] and failed["error_type"]
        update = await admin.next("login:status:update", session_id=session_id, status="failed")
        assert update["error_message"] == failed["error_message"]
        assert (await rig.accounts.get(account_id)).login_status == "not_logged_in"
    finally:
        await admin.sio.disconnect()


@pytest.mark.browser
@pytest.mark.timeout(60)
async def test_an_admin_cancels_a_login_in_progress(served):
    rig, server = served
    admin = Admin()
    await admin.connect(server, server.token)
    try:
        account_id = await rig.accounts.create("sandbox", "creator-c")
        await admin.ask("master:login:start", {"account_id": account_id, "session_id": "adm-2"},
                        "admin:login:start:ack")
        await admin.next("login:qrcode:ready", session_id="adm-2")
        ack = await admin.ask("master:login:cancel", {"session_id": "adm-2"}, "admin:login:cancel:ack")
        assert (ack["session_id"], ack["account_id"], ack["status"]) == ("adm-2", account_id, "cancelled")
        failed = await admin.next("login:failed", session_id="adm-2")
        assert failed["error_type"] == "cancelled"
        assert (await rig.accounts.get(account_id)).login_status == "not_logged_in"
        listed = await admin.ask("admin:login_sessions:list", {}, "admin:login_sessions:list:response")
        assert [(s["session_id"], s["finished"]) for s in listed["sessions"]] == [("adm-2", True)]
        admin.events.clear()
        error = await admin.ask("master:login:cancel", {"session_id": "adm-none"}, "admin:error")
        assert error["error"] == "Login session not found"
    finally:
        await admin.sio.disconnect()
