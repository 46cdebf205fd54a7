"""A small client for the sandbox site's control API (site/control.py), used by the tests, the
demo workspace and `hiscrm sandbox inject`. It plays the audience and the creator's phone;
it is never used to read or send an account's data (the adapter goes through the pages)."""
from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

import aiohttp


class SandboxControlError(Exception):
    """The control API refused a request (the message is the site's reason)."""


class SandboxControl:
    def __init__(self, base_url: str, *, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "SandboxControl":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None, **query: str) -> Any:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        url = f"{self.base_url}/_control/{path}"
        try:
            async with self._session.request(method, url, json=body, params=query or None) as response:
                result = await response.json(content_type=None)
                if response.status >= 400:
                    raise SandboxControlError(result.get("error") if isinstance(result, dict) else str(result))
                return result
        except aiohttp.ClientError as exc:
            raise SandboxControlError(f"the sandbox site at {self.base_url} is not reachable: {exc}") from exc

    @staticmethod
    def _name(creator: str) -> str:
        return quote(creator, safe="")

    # ---- the phone: QR logins ----------------------------------------------------------
    async def logins(self) -> list[dict[str, Any]]:
        return await self._call("GET", "logins")

    async def login(self, token: str) -> dict[str, Any]:
        return await self._call("GET", f"logins/{token}")

    async def scan(self, token: str) -> dict[str, Any]:
        return await self._call("POST", f"logins/{token}/scan")

    async def confirm(self, token: str, creator: str) -> dict[str, Any]:
        return await self._call("POST", f"logins/{token}/confirm", {"creator": creator})

    async def wait_for_qr(self, *, timeout_s: float = 15.0, exclude: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
        """The newest QR ticket still waiting for a scan (a login page is showing it)."""
        deadline = time.monotonic() + timeout_s
        while True:
            waiting = [t for t in await self.logins() if t["status"] == "waiting" and t["token"] not in exclude]
            if waiting:
                return max(waiting, key=lambda t: t["expires_at"])
            if time.monotonic() > deadline:
                raise SandboxControlError("no login page is showing a QR code")
            await asyncio.sleep(0.2)

    async def expire_sessions(self, creator: str | None = None) -> int:
        return (await self._call("POST", "sessions/expire", {"creator": creator}))["expired"]

    # ---- faults ------------------------------------------------------------------------
    async def faults(self) -> dict[str, Any]:
        return await self._call("GET", "faults")

    async def set_faults(self, **faults: Any) -> dict[str, Any]:
        """E.g. set_faults(rate_limit=True), set_faults(delay_ms=800), set_faults(sms_required=True)."""
        return await self._call("POST", "faults", faults)

    # ---- what the site holds -----------------------------------------------------------
    async def state(self) -> dict[str, Any]:
        return await self._call("GET", "state")

    async def creator_names(self) -> list[str]:
        """The names of the site's creators (the accounts one can log in as)."""
        return [c["name"] for c in (await self.state())["creators"]]

    async def ensure_creator(self, name: str) -> dict[str, Any]:
        """The creator of that name, created if the site has none (tests, the demo)."""
        return await self._call("POST", "creators", {"name": name})

    async def works(self, creator: str) -> list[dict[str, Any]]:
        return await self._call("GET", f"creators/{self._name(creator)}/works")

    async def comments(self, creator: str, work_id: str | None = None) -> list[dict[str, Any]]:
        query = {"work_id": work_id} if work_id else {}
        return await self._call("GET", f"creators/{self._name(creator)}/comments", **query)

    async def conversations(self, creator: str) -> list[dict[str, Any]]:
        return await self._call("GET", f"creators/{self._name(creator)}/conversations")

    async def set_standing(self, creator: str, standing: str) -> dict[str, Any]:
        """"ok", "verify" (the site holds the account for a verification) or "blocked"."""
        return await self._call("POST", f"creators/{self._name(creator)}/standing", {"standing": standing})

    async def delete_comment(self, creator: str, cid: str) -> None:
        await self._call("POST", f"creators/{self._name(creator)}/comments/{cid}/delete")

    # ---- the audience ------------------------------------------------------------------
    async def inject_comment(self, author: str, text: str, *, creator: str | None = None,
                             work_id: str | None = None, reply_to: str | None = None,
                             as_reply: bool = False) -> dict[str, Any]:
        return await self._call("POST", "inject/comment", {
            "author": author, "text": text, "creator": creator, "work_id": work_id,
            "reply_to": reply_to, "as_reply": as_reply,
        })

    async def inject_bulk(self, creator: str, work_id: str, *, threads: int, replies: int = 0) -> list[str]:
        """`threads` new comments on the work, each with `replies` replies; their ids."""
        answer = await self._call("POST", "inject/bulk", {"creator": creator, "work_id": work_id,
                                                         "threads": threads, "replies": replies})
        return answer["threads"]

    async def inject_dm(self, author: str, text: str, *, creator: str | None = None) -> dict[str, Any]:
        return await self._call("POST", "inject/dm", {"author": author, "text": text, "creator": creator})

    async def start_simulator(self, *, comments_per_s: float, dms_per_s: float,
                              creators: list[str] | None = None, duration_s: float | None = None) -> dict[str, Any]:
        """Run the audience simulator inside the site (for the named creators, else any)."""
        return await self._call("POST", "simulator", {"comments_per_s": comments_per_s, "dms_per_s": dms_per_s,
                                                      "creators": creators, "duration_s": duration_s})

    async def stop_simulator(self) -> None:
        await self._call("DELETE", "simulator")
