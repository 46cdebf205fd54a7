"""The engine in a child process, for the kill -9 test (test_crash_safety.py) and the crash
campaign (bench/crash_campaign.py); `EngineProcess` is the parent's handle on it.

    python -m tests.e2e.engine_process HOME SITE_URL

Runs the real engine on HOME against the sandbox site at SITE_URL and does what the test
asks, one JSON command per line on stdin, answering one JSON line on stdout each:

    {"login": "<creator>"}   add a sandbox account, log it in (the test scans the QR code)
                             → {"account": "<account id>"} or {"error": "..."}
    {"reply": {"topic": {account_id, kind, platform_id}, "text", "reply_to", "request_id"}}
                             → {"reply": "<reply id>"}

Replies carry request ids, so the test can queue the same replies again after a restart
without queueing any of them twice. SIGTERM or SIGINT (or the end of stdin) stops the engine
cleanly, as `hiscrm serve` does. A home that another engine process holds ends this one at
once (exit code 1, the holder's pid on stderr).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from app.engine.engine import Engine
from app.engine.home_lock import HomeInUse
from app.engine.im.types import TopicRef

from .harness import running_engine, until

ROOT = Path(__file__).resolve().parents[2]


async def login(engine: Engine, creator: str) -> dict[str, Any]:
    account_id = await engine.accounts.create("sandbox", creator)
    session_id = await engine.logins.start(account_id)
    session = await until(
        lambda: (s := engine.logins.session(session_id)) is not None and s.finished and s,
        timeout=45, what=f"the login of {creator}",
    )
    if session.state != "success":
        return {"error": f"login {session.state}: {session.message}"}
    return {"account": account_id}


async def reply(engine: Engine, item: dict[str, Any]) -> dict[str, Any]:
    reply_id = await engine.outbox.reply(
        TopicRef(**item["topic"]), item["text"], reply_to=item.get("reply_to"), request_id=item["request_id"]
    )
    return {"reply": reply_id}


async def serve(engine: Engine) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"ready": True}), flush=True)
    while line := await reader.readline():
        command = json.loads(line)
        answer = await (login(engine, command["login"]) if "login" in command else reply(engine, command["reply"]))
        print(json.dumps(answer), flush=True)


async def main(home: Path, site_url: str) -> None:
    try:
        async with running_engine(home, site_url) as engine:
            await run(engine)
    except HomeInUse as exc:  # another engine process runs on this home
        print(f"engine_process: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)


async def run(engine: Engine) -> None:
    commands = asyncio.ensure_future(serve(engine))
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, commands.cancel)
    try:
        await commands
    except asyncio.CancelledError:
        pass


class EngineProcess:
    """The engine in a child process of its own process group (its Chromium included),
    driven through this module's line protocol."""

    def __init__(self, home: Path, site_url: str, log_file: Path) -> None:
        self.args = [sys.executable, "-m", "tests.e2e.engine_process", str(home), site_url]
        self.log_file = log_file
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> float:
        """Start the child; returns the seconds it took to be ready for commands."""
        started = time.monotonic()
        with self.log_file.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.args, cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=log, start_new_session=True,
                # No desktop keyring: the engine keeps its key in the home (the test reads it).
                env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
            )
        assert await self._answer(30) == {"ready": True}
        return time.monotonic() - started

    async def ask(self, command: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        self.process.stdin.write(json.dumps(command, ensure_ascii=False).encode() + b"\n")
        await self.process.stdin.drain()
        return await self._answer(timeout)

    async def _answer(self, timeout: float) -> dict[str, Any]:
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        assert line, f"the engine process ended; see {self.log_file}"
        return json.loads(line)

    async def kill(self) -> None:
        """kill -9, the whole process group at once: no shutdown code runs anywhere."""
        os.killpg(self.process.pid, signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 20)
        except asyncio.TimeoutError:
            await self.kill()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
