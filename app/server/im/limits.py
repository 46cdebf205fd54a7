"""Per-connection limits of the IM namespace: how often a client may ask, and how big a
request may be. A client over a limit gets an `error` event for that request; the others
are served as before (one misbehaving client cannot starve the loop).

The 10 MB Socket.IO buffer (app.py) is for a worker's snapshot; an IM client's requests are
small, so the namespace refuses anything over MAX_REQUEST_BYTES before looking at it.
"""
from __future__ import annotations

import json
import time
from typing import Any

MAX_REQUEST_BYTES = 64 * 1024  # a reply of MAX_TEXT_LEN Chinese characters fits
RATE_PER_S = 100.0  # sustained requests per second and connection
BURST = 500  # requests at once: the original client asks topics of every channel on each channel list


class TokenBucket:
    """`allow()` is True while the connection keeps within `rate` requests a second on
    average with bursts up to `burst`."""

    def __init__(self, rate: float = RATE_PER_S, burst: int = BURST, clock=time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def allow(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


def too_big(args: tuple[Any, ...]) -> bool:
    """Whether a request's arguments exceed MAX_REQUEST_BYTES as JSON (the client sent JSON;
    python-socketio parsed it already, binary attachments count by their length)."""
    size = 0
    for arg in args:
        if isinstance(arg, (bytes, bytearray)):
            size += len(arg)
        else:
            try:
                size += len(json.dumps(arg, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass"))
            except (ValueError, RecursionError):
                return True
        if size > MAX_REQUEST_BYTES:
            return True
    return False
