"""The engine in a child process, for the kill -9 test (test_crash_safety.py).

    python -m tests.e2e.engine_process HOME SITE_URL PLAN_JSON

Starts the real engine on HOME against the sandbox site at SITE_URL, queues the replies of
PLAN_JSON (a list of {"topic": {account_id, kind, platform_id}, "text", "reply_to",
"request_id"}) and runs until SIGTERM. Queueing with the plan's request ids makes a restart
with the same plan harmless: a reply queued before the crash is not queued twice.
"""
from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

from app.engine.im.types import TopicRef

from .harness import running_engine


async def main(home: Path, site_url: str, plan_file: Path) -> None:
    plan = json.loads(plan_file.read_text(encoding="utf-8"))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with running_engine(home, site_url) as engine:
        for item in plan:
            await engine.outbox.reply(
                TopicRef(**item["topic"]), item["text"], reply_to=item.get("reply_to"), request_id=item["request_id"]
            )
        print("queued", flush=True)
        await stop.wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])))
