"""Checks for platform input the records' types cannot express, shared by every record.

Platform pages are untrusted input: a parser bug or a hostile page can produce text that breaks
a database (NUL, lone surrogates), a terminal or a log (control characters), or times that make
no sense (the original subtracted 8 hours, guessed units, and stored "now" for bad dates). Each
function raises ValueError with a message an operator can act on; pydantic turns it into the
record's rejection reason.
"""
from __future__ import annotations

import math
import re
import time
from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MILLISECOND = timedelta(milliseconds=1)
EARLIEST = datetime(2005, 1, 1, tzinfo=timezone.utc)  # older than any platform we serve
FUTURE_SLACK = timedelta(days=1)  # clocks drift; anything later is a unit or parser bug
# Epoch numbers below this are seconds, above it milliseconds: as seconds 1e11 is the year
# 5138, as milliseconds it is 1973, so every plausible time falls clearly on one side.
MILLIS_THRESHOLD = 100_000_000_000

_BAD_CHAR = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")
_NUMBER = re.compile(r"\s*-?\d+(\.\d+)?\s*")


def clean_text(value: str) -> str:
    """Normalise newlines to \\n; refuse control characters (except \\n and \\t) and lone
    surrogates, which cannot be stored or shown safely."""
    if value.isprintable():  # the common case, checked in C: none of the characters below
        return value
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    bad = _BAD_CHAR.search(value)
    if bad:
        code = ord(bad.group())
        what = "an unpaired surrogate" if 0xD800 <= code <= 0xDFFF else "a control character"
        raise ValueError(f"contains {what} (U+{code:04X}) at position {bad.start()}")
    return value


def utc_instant(value: object) -> datetime:
    """An aware UTC datetime, to the millisecond, from an aware datetime, an ISO 8601 string
    with a time zone, or epoch seconds/milliseconds (told apart by magnitude)."""
    if isinstance(value, datetime):  # the common case first: parsers hand over datetimes
        instant = _aware(value)
    else:
        if isinstance(value, str) and _NUMBER.fullmatch(value):
            value = float(value)
        if isinstance(value, bool):
            raise ValueError("expected a time, got a boolean")
        if isinstance(value, (int, float)):
            if not math.isfinite(value):
                raise ValueError(f"expected a time, got {value}")
            millis = value if abs(value) >= MILLIS_THRESHOLD else value * 1000
            try:
                instant = EPOCH + timedelta(milliseconds=round(millis))
            except OverflowError:
                raise ValueError(f"time {value} is out of range") from None
        elif isinstance(value, str):
            try:
                instant = datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"not an ISO 8601 time: {value[:40]!r}") from None
            instant = _aware(instant)
        else:
            raise ValueError(f"expected a time, got {type(value).__name__}")
    if instant.microsecond % 1000:
        instant = instant.replace(microsecond=instant.microsecond // 1000 * 1000)
    if instant < EARLIEST:
        raise ValueError(f"time {instant.isoformat()} is before {EARLIEST.year}")
    if instant.timestamp() > time.time() + FUTURE_SLACK.total_seconds():
        raise ValueError(f"time {instant.isoformat()} is more than a day in the future")
    return instant


def to_millis(instant: datetime) -> int:
    """Exact epoch milliseconds of an aware datetime (no float rounding)."""
    return (instant - EPOCH) // MILLISECOND


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is timezone.utc:
        return instant
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("time has no time zone (naive datetimes are ambiguous)")
    return instant.astimezone(timezone.utc)
