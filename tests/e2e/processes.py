"""The product's own commands as child processes, for the end-to-end tests of remote workers:
`hiscrm serve --server` (a master) and `hiscrm worker` (a remote worker), each on a home of
its own, driving the sandbox site the test runs. The test sees a master only as its clients
do: REST (`/api/v1`, `/api/im`), the `/admin` namespace for logins, IM clients on `/`.

Each child runs in a session of its own, so a SIGKILL takes its whole process group (a
worker's browser driver and Chromium too), as when the machine dies.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import aiohttp
import socketio

from app.bootstrap import HEARTBEAT_ENV
from app.server.worker_link.link import LIVENESS_ENV

from .harness import FAST, until

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2e-worker-token"
QUIET_KEYRING = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}  # secrets key in the home


class Child:
    """A `python -m app …` child in its own session; its log in `<home>.log`."""

    def __init__(self, home: Path, name: str) -> None:
        self.home = home
        self.name = name
        self.process: asyncio.subprocess.Process | None = None
        self._log: Any = None

    def settings(self, **extra: Any) -> None:
        (self.home / "config").mkdir(parents=True, exist_ok=True)
        (self.home / "config" / "settings.json").write_text(json.dumps({**FAST, "first_run_done": True, **extra}))

    async def spawn(self, *args: str, env: dict[str, str], ready: str) -> str:
        """Start it; the first stdout line that contains `ready` (the rest goes on being read)."""
        self._log = open(self.home.parent / f"{self.name}.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app", "--home", str(self.home), *args, cwd=ROOT, start_new_session=True,
            env={**os.environ, **QUIET_KEYRING, **env}, stdout=asyncio.subprocess.PIPE, stderr=self._log)
        lines = []
        async with asyncio.timeout(60):
            while True:
                line = (await self.process.stdout.readline()).decode()
                lines.append(line)
                if ready in line:
                    return line
                if not line:
                    raise AssertionError(f"{self.name} ended: {''.join(lines)}{self.log_text()}")

    def log_text(self) -> str:
        path = self.home.parent / f"{self.name}.log"
        return path.read_text() if path.exists() else ""

    def kill(self) -> None:
        """The machine died: the process and its children, at once."""
        os.killpg(self.process.pid, signal.SIGKILL)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 60)
            except TimeoutError:
                self.kill()
                await self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


class MasterProcess(Child):
    """`hiscrm serve --server --no-browsers`: every account is dealt to remote workers."""

    url = ""

    async def start(self, site_url: str, *, liveness_s: float, database_url: str | None = None,
                    redis_url: str | None = None) -> None:
        self.settings(platforms={"sandbox": {"site_url": site_url, "demo_traffic": False}})
        args = ["serve", "--server", "--no-browsers", "--port", "0", "--token", TOKEN]
        if database_url:
            args = ["--database-url", database_url, *args]
        if redis_url:
            args += ["--redis", redis_url]
        line = await self.spawn(*args, env={LIVENESS_ENV: str(liveness_s)}, ready="server at ")
        self.url = line.split("server at ", 1)[1].split()[0]


class WorkerProcess(Child):
    """`hiscrm worker --master URL` (the token from the environment, as ps must not show it)."""

    def __init__(self, home: Path, worker_id: str) -> None:
        super().__init__(home, worker_id)
        self.worker_id = worker_id

    async def start(self, master_url: str, site_url: str) -> None:
        self.settings(platforms={"sandbox": {"demo_traffic": False}})
        await self.spawn("worker", "--master", master_url, "--worker-id", self.worker_id, "--sandbox-url", site_url,
                         env={"HISCRM_MASTER_TOKEN": TOKEN, HEARTBEAT_ENV: "1"}, ready="attached to")


class MasterClient:
    """What a team's tools do with a master: its REST API and its /admin namespace."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"})
        self.admin = socketio.AsyncClient(reconnection=False)
        self.admin_events: list[tuple[str, Any]] = []
        self.admin.on("*", lambda event, data=None: self.admin_events.append((event, data)), namespace="/admin")

    async def __aenter__(self) -> MasterClient:
        await self.admin.connect(self.url, namespaces=["/admin"], auth={"token": TOKEN}, transports=["websocket"])
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.admin.disconnect()
        await self.http.close()

    async def get(self, path: str, **params: Any) -> Any:
        async with self.http.get(self.url + path, params=params) as response:
            assert response.status == 200, (path, response.status, await response.text())
            return await response.json()

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        async with self.http.post(self.url + path, json=body) as response:
            assert response.status in (200, 201), (path, response.status, await response.text())
            return await response.json()

    async def add_account(self, creator: str) -> str:
        return (await self.post("/api/v1/accounts", {"platform": "sandbox", "account_name": creator}))["data"]["id"]

    async def account(self, account_id: str) -> dict[str, Any]:
        return (await self.get(f"/api/v1/accounts/{account_id}"))["data"]

    async def worker_holds(self, account_id: str, worker_id: str) -> bool:
        """Bound to the worker, and the worker connected (it holds the account now)."""
        if (await self.account(account_id))["assigned_worker_id"] != worker_id:
            return False
        workers = (await self.get("/api/v1/workers"))["data"]
        return any(w["id"] == worker_id and w["status"] == "online" for w in workers)

    async def reply(self, account_id: str, request_id: str, text: str, *, video_id: str | None = None,
                    comment_id: str | None = None, conversation_id: str | None = None) -> str:
        body: dict[str, Any] = {"request_id": request_id, "account_id": account_id, "reply_content": text}
        if conversation_id is not None:
            body.update(target_type="direct_message", target_id=conversation_id)
        else:
            body.update(target_type="comment", video_id=video_id, target_id=comment_id)
        return (await self.post("/api/v1/replies", body))["reply_id"]

    async def reply_status(self, reply_id: str) -> dict[str, Any]:
        return (await self.get(f"/api/v1/replies/{reply_id}"))["data"]

    async def confirmed(self, reply_id: str) -> bool:
        reply = await self.reply_status(reply_id)
        assert reply["outbox_status"] not in ("failed", "uncertain", "blocked"), reply
        return reply["outbox_status"] == "confirmed"

    async def texts(self, account_id: str) -> list[str]:
        """Every comment and DM the master stored for the account (with repeats)."""
        texts, cursor = [], 0
        while True:
            page = await self.get("/api/im/unified-messages", account_id=account_id, cursor=cursor, count=100)
            texts += [m["content"] for m in page["data"]["messages"]]
            if not page["has_more"]:
                return texts
            cursor = page["cursor"]

    async def log_in(self, control: Any, account_id: str, creator: str) -> None:
        """The operator logs the account in from the master's admin socket; the worker
        holding it runs the page, the sandbox "phone" scans the QR code relayed back."""
        session_id = f"e2e-{account_id}"
        await self.admin.emit("master:login:start", {"account_id": account_id, "session_id": session_id},
                              namespace="/admin")
        shown = await until(lambda: self._admin("login:qrcode:ready", session_id), timeout=60,
                            what="the QR code relayed to the master")
        assert shown["qr_code_data"].startswith("data:image/png;base64,")
        token = parse_qs(urlparse(shown["qr_code_url"]).query)["token"][0]
        await control.scan(token)
        await control.confirm(token, creator)
        done = await until(lambda: self._admin("login:success", session_id) or self._admin("login:failed", session_id),
                           timeout=30, what="the relayed login")
        assert "error_message" not in done, done

    def _admin(self, event: str, session_id: str) -> Any:
        errors = [d for e, d in self.admin_events if e == "admin:error"]
        assert not errors, errors
        return next((d for e, d in self.admin_events if e == event and d.get("session_id") == session_id), None)
