"""A browser fingerprint per account: stable, plausible, and different between accounts.

Platforms link accounts that look like the same browser, and distrust an account whose browser
changes every day. So each account gets its own operating system, screen size and scale,
derived deterministically from its id (the same id always gives the same fingerprint) and
stored with the account; locale and time zone default to a mainland-China desktop.

The user agent names the Chrome version that actually runs (filled in when a context opens):
a user agent claiming another version than the engine's client hints is an easy tell, and
real users' browsers update too.
"""
from __future__ import annotations

import hashlib
from typing import Any

DEFAULT_LOCALE = "zh-CN"
DEFAULT_TIMEZONE = "Asia/Shanghai"

# (name, user agent OS token) of common desktop systems, weighted by repetition.
_SYSTEMS = [
    ("windows", "Windows NT 10.0; Win64; x64"),
    ("windows", "Windows NT 10.0; Win64; x64"),
    ("windows", "Windows NT 10.0; Win64; x64"),
    ("macos", "Macintosh; Intel Mac OS X 10_15_7"),
]
# Common desktop window sizes (CSS pixels) and device scale factors.
_VIEWPORTS = [(1920, 1080), (1536, 864), (1440, 900), (1366, 768), (1600, 900), (1680, 1050)]
_SCALES = [1, 1, 1.25, 1.5, 2]

_UA_TEMPLATE = (
    "Mozilla/5.0 ({os}) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{version} Safari/537.36"
)


def fingerprint_for(account_id: str) -> dict[str, Any]:
    """The fingerprint of this account id (deterministic)."""
    digest = hashlib.sha256(account_id.encode("utf-8")).digest()
    system, os_token = _SYSTEMS[digest[0] % len(_SYSTEMS)]
    width, height = _VIEWPORTS[digest[1] % len(_VIEWPORTS)]
    scale = 2 if system == "macos" else _SCALES[digest[2] % len(_SCALES)]
    return {
        "system": system,
        "os_token": os_token,
        "viewport": {"width": width, "height": height},
        "device_scale_factor": scale,
        "locale": DEFAULT_LOCALE,
        "timezone": DEFAULT_TIMEZONE,
    }


def context_options(fingerprint: dict[str, Any], browser_version: str) -> dict[str, Any]:
    """Playwright `new_context` keyword arguments for this fingerprint.

    `browser_version` is the running browser's version (e.g. "156.0.8078.79"); the user agent
    reduces it the way Chrome does (major version, zeros after it)."""
    fp = fingerprint
    major = browser_version.split(".", 1)[0] or "120"
    return {
        "user_agent": _UA_TEMPLATE.format(os=fp["os_token"], version=f"{major}.0.0.0"),
        "viewport": dict(fp["viewport"]),
        "device_scale_factor": fp["device_scale_factor"],
        "locale": fp["locale"],
        "timezone_id": fp["timezone"],
    }


# A visible browser's window frame, tab strip and address bar around the page (logical px).
WINDOW_FRAME = (16, 140)


def fit_viewport(viewport: dict[str, int], screen: tuple[int, int]) -> dict[str, int]:
    """The viewport of a visible window that fits on a screen with `screen` (width, height)
    available: Chromium sizes a headed window to its viewport, and the fingerprint's may be
    larger than the operator's screen."""
    width = max(320, min(viewport["width"], screen[0] - WINDOW_FRAME[0]))
    height = max(240, min(viewport["height"], screen[1] - WINDOW_FRAME[1]))
    return {"width": width, "height": height}
