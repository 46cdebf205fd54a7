"""The original wire's units and words, for every part of the server (PROTOCOL.md §6):
times in milliseconds (columns, `read_at`, `expires_at`: seconds), and our login states in
the original's words where it had one."""
from __future__ import annotations

import time
from datetime import datetime

from ..engine.store.models import LoginStatus

_LOGIN_STATUS = {LoginStatus.LOGGING_IN.value: "pending_login"}


def ms(at: datetime | None) -> int:
    """Milliseconds since the epoch; 0 for "never" (not now: PROTOCOL.md §8 defect 19)."""
    return int(at.timestamp() * 1000) if at is not None else 0


def seconds(at: datetime | None) -> int | None:
    return int(at.timestamp()) if at is not None else None


def now_ms() -> int:
    return int(time.time() * 1000)


def login_status(status: str) -> str:
    return _LOGIN_STATUS.get(status, status)
