"""The exceptions a worker's answer names (`error_class`), so the master's outbox and login
sessions react to a remote worker's failure exactly as to the local pool's."""
from __future__ import annotations

from app.engine import platform as p

ERROR_CLASSES: dict[str, type[p.PlatformError]] = {
    cls.__name__: cls
    for cls in (p.SessionExpired, p.NeedsVerification, p.AccountBlocked, p.TransientError, p.ReplyBlocked,
                p.PermanentError, p.ReplyUncertain, p.LoginFailed, p.PlatformError)
}

# An original Node worker says only `status` and `error_code` (PROTOCOL.md §2.5).
_ORIGINAL_CODES: dict[str, type[p.PlatformError]] = {
    "REPLY_BLOCKED": p.ReplyBlocked,
    "QUOTA_EXCEEDED": p.ReplyBlocked,
    "LOGIN_EXPIRED": p.SessionExpired,
    "NETWORK_ERROR": p.TransientError,
    "TARGET_NOT_FOUND": p.PermanentError,
    "OPERATION_FAILED": p.PermanentError,
}


def error_for(error_class: str | None, error_code: str | None, message: str | None) -> p.PlatformError:
    """The exception a failed answer stands for. An unknown class is a PlatformError (the
    outbox retries it after looking); an original worker's unknown failure (UNKNOWN_ERROR)
    may have reached the platform, and that worker cannot look: ReplyUncertain."""
    text = message or error_code or "the worker reported a failure"
    if error_class:
        return ERROR_CLASSES.get(error_class, p.PlatformError)(text)
    return _ORIGINAL_CODES.get(error_code or "", p.ReplyUncertain)(text)
