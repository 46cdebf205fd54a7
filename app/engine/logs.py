"""Logging: a rotating file in the log directory and stderr, with floods held back.

A fault that lasts (a full disk, a database server gone) makes every poll, every event
handler and every retry fail the same way, hundreds of times a minute; a log that repeats one
traceback that often hides everything else and fills the disk further. `RepeatFilter` lets
the first record of a kind through and holds back the same kind for a minute, then says how
many were held back. A disk-full error is told in one line, without its traceback.
"""
from __future__ import annotations

import errno
import logging
import logging.handlers
import time
from pathlib import Path
from typing import Callable, Hashable

from .errors import FolderError, describe_os_error

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REPEAT_WINDOW_S = 60.0
DISK_FULL = "the disk is full: nothing more is stored until space is freed"
#: `log.error(..., extra=SHOWN)`: the caller told the operator already (a line on stderr, a
#: message box); the record goes to the log file only, so stderr says it once.
SHOWN = {"shown_to_operator": True}


class RepeatFilter(logging.Filter):
    """At most one record per key and minute at WARNING and above (lower levels pass).

    The key is `extra={"error_key": ...}` when the caller gives one, else the logger, the
    level, the message template, the exception's type and first line, and the subject of
    messages that start with "%s:" (the engine names the account that way), so account A's
    failure never hides account B's."""

    def __init__(self, window_s: float = REPEAT_WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window_s = window_s
        self._clock = clock
        self._last: dict[Hashable, tuple[float, int]] = {}  # key -> (time let through, held back)

    def filter(self, record: logging.LogRecord) -> bool:
        decided = getattr(record, "_hiscrm_passes", None)
        if decided is None:  # the first handler decides; the others follow
            decided = record._hiscrm_passes = self._passes(record)  # type: ignore[attr-defined]
        return decided

    def _passes(self, record: logging.LogRecord) -> bool:
        _shorten_disk_full(record)
        if record.levelno < logging.WARNING:
            return True
        key = _key(record)
        now = self._clock()
        seen = self._last.get(key)
        if seen is not None and now - seen[0] < self.window_s:
            self._last[key] = (seen[0], seen[1] + 1)
            return False
        if seen is not None and seen[1]:
            record.msg = f"{record.msg} (the same happened {seen[1]} more times in the last minute)"
        self._last[key] = (now, 0)
        if len(self._last) > 10_000:  # keys of a long day: forget the old ones
            self._last = {k: v for k, v in self._last.items() if now - v[0] < self.window_s}
        return True


def _key(record: logging.LogRecord) -> Hashable:
    given = getattr(record, "error_key", None)
    if given is not None:
        return given
    exc = record.exc_info[1] if record.exc_info else None
    subject = (str(record.args[0]) if isinstance(record.msg, str) and record.msg.startswith("%s:")
               and isinstance(record.args, tuple) and record.args else None)
    return (record.name, record.levelno, str(record.msg), subject,
            type(exc).__name__ if exc else None, _first_line(exc) if exc else None)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def is_disk_full(exc: BaseException | None) -> bool:
    """ENOSPC, or SQLite's SQLITE_FULL ("database or disk is full"), anywhere in the chain."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        if "database or disk is full" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__ or getattr(exc, "orig", None)
    return False


def _shorten_disk_full(record: logging.LogRecord) -> None:
    if record.exc_info and is_disk_full(record.exc_info[1]):
        record.msg = f"{record.msg} ({DISK_FULL})"
        record.exc_info = None
        record.exc_text = None


def setup_logging(log_dir: Path, *, verbose: bool = False) -> Path:
    """Configure the root logger once; returns the log file's path."""
    log_file = log_dir / "hiscrm.log"
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=5_000_000, backupCount=5, encoding="utf-8"
        )
    except OSError as exc:
        raise FolderError(f"cannot write the log {log_file}: {describe_os_error(exc)}") from exc
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for handler in list(root.handlers):
        if getattr(handler, "_hiscrm", False):
            root.removeHandler(handler)
            handler.close()
    stderr_handler = logging.StreamHandler()
    stderr_handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
    stderr_handler.addFilter(lambda record: not getattr(record, "shown_to_operator", False))
    repeats = RepeatFilter()  # one for both handlers: they hold back the same records
    for handler in (file_handler, stderr_handler):
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler.addFilter(repeats)
        handler._hiscrm = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    return log_file
