"""The worker protocol's envelope (PROTOCOL.md §2): every enveloped message is a `message`
event `{type, version: "v1", payload: {}, timestamp: <ms>, requestId?}`. Both sides require
the four fields, a number timestamp and "v1"; an invalid one is answered
`{type: "<type>:error", payload: {success: false, error}}`."""
from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError

VERSION = "v1"
MAX_TYPE_LEN = 64


class Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str = Field(min_length=1, max_length=MAX_TYPE_LEN)
    version: str
    payload: dict[str, Any]
    timestamp: StrictInt | StrictFloat
    requestId: str | None = Field(None, max_length=128)


def now_ms() -> int:
    return int(time.time() * 1000)


def envelope(type_: str, payload: dict[str, Any], request_id: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": type_, "version": VERSION, "payload": payload, "timestamp": now_ms()}
    if request_id is not None:
        message["requestId"] = request_id
    return message


def error_envelope(type_: str, error: str, request_id: str | None = None) -> dict[str, Any]:
    return envelope(f"{type_}:error", {"success": False, "error": error}, request_id)


def parse(data: Any) -> Envelope:
    """The envelope, or ValueError saying what is wrong with it (for `<type>:error`)."""
    if not isinstance(data, dict):
        raise ValueError(f"a message is an object {{type, version, payload, timestamp}}, not {type(data).__name__}")
    try:
        parsed = Envelope.model_validate(data)
    except ValidationError as exc:
        raise ValueError(describe(exc)) from None
    if parsed.version != VERSION:
        raise ValueError(f"version must be {VERSION!r}")
    return parsed


def type_of(data: Any) -> str:
    """The message's type as far as it can be read (to name its error), else "message"."""
    value = data.get("type") if isinstance(data, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= MAX_TYPE_LEN else "message"


def describe(error: ValidationError) -> str:
    """A validation error in one line: `field: problem; …` (no input echoed back)."""
    parts = []
    for problem in error.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(p) for p in problem["loc"]) or "payload"
        parts.append(f"{where}: {problem['msg']}")
    return "; ".join(parts)
