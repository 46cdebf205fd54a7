"""User settings: declared fields with defaults, stored as JSON in the config directory.

A settings file that is not valid JSON or has wrong values is reported with a clear message
(SettingsError) and left untouched on disk, so the operator can fix it; unknown keys are
ignored with a warning rather than lost (they are kept when the file is saved again).

Each platform's own settings are a block under `platforms.<name>`, validated by the platform's
model when the engine is built (settings_service.py); files written before that kept the
sandbox's block at the top level as `sandbox`, which is read as `platforms.sandbox`.

The running engine's settings are changed through its SettingsService, never by writing this
file or the engine's Settings object directly.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import StartupError

log = logging.getLogger(__name__)


class SettingsError(StartupError):
    """The settings file cannot be used; the message says where and why."""

    exit_code = 2


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="allow")
    enabled: bool = False
    host: str = "127.0.0.1"  # secure by default: loopback only unless told otherwise
    port: int = Field(3000, ge=0, le=65535)
    token: str = ""  # generated on first start when empty
    # Several `hiscrm serve` on one PostgreSQL database share their IM clients through Redis
    redis_url: str = Field("", pattern=r"^$|^rediss?://")


class Settings(BaseModel):
    model_config = ConfigDict(extra="allow", validate_assignment=True)

    database_url: str = ""  # empty: the SQLite file in the data directory
    language: Literal["system", "zh_CN", "en"] = "system"
    theme: Literal["system", "light", "dark"] = "system"
    poll_interval_min_s: float = Field(15.0, ge=1, le=3600)
    poll_interval_max_s: float = Field(30.0, ge=1, le=3600)
    backoff_cap_s: float = Field(300.0, ge=1, le=86400)
    max_active_pages: int = Field(8, ge=1, le=500)
    hibernate_after_s: float = Field(120.0, ge=5, le=86400)
    max_parallel_polls: int = Field(0, ge=0, le=500)  # 0: one less than the CPU cores (pool/pacing.py)
    browser_executable: str = ""  # empty: Playwright's browser, else Debian's /usr/bin/chromium
    headless_browser: bool = True
    notifications: bool = True
    do_not_disturb: bool = False
    first_run_done: bool = False
    server: ServerSettings = Field(default_factory=ServerSettings)
    platforms: dict[str, dict[str, Any]] = Field(default_factory=dict)  # name -> its block, raw

    @model_validator(mode="before")
    @classmethod
    def _platform_blocks(cls, data: Any) -> Any:
        """The sandbox block moved from `sandbox` to `platforms.sandbox`: read old files."""
        if isinstance(data, dict) and "sandbox" in data:
            data = dict(data)
            old = data.pop("sandbox")
            platforms = dict(data.get("platforms") or {})
            platforms.setdefault("sandbox", old)
            data["platforms"] = platforms
        return data

    @model_validator(mode="after")
    def _poll_range(self) -> "Settings":
        if self.poll_interval_max_s < self.poll_interval_min_s:
            raise ValueError("poll_interval_max_s must not be smaller than poll_interval_min_s")
        return self


def load_settings(path: Path) -> Settings:
    """Read the settings file; a missing file gives the defaults."""
    if not path.exists():
        return Settings()
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SettingsError(f"{path}: not a readable JSON settings file ({exc})") from exc
    except RecursionError:
        raise SettingsError(f"{path}: not a settings file (JSON nested too deeply)") from None
    if not isinstance(raw, dict):
        raise SettingsError(f"{path}: expected a JSON object at the top level")
    try:  # JSON can spell half a UTF-16 pair (\ud800); such text cannot be stored or shown
        json.dumps(raw, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise SettingsError(f"{path}: contains text that is not valid Unicode (a lone \\u surrogate escape)") from None
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise SettingsError(f"{path}: invalid settings: {describe_errors(exc)}") from exc
    unknown = sorted(set(raw) - set(Settings.model_fields) - {"sandbox"})
    if unknown:
        log.warning("%s: ignoring unknown settings %s", path, ", ".join(unknown))
    return settings


def describe_errors(exc: ValidationError, prefix: str = "") -> str:
    """pydantic's errors as one line: `where: why; where: why`."""
    return "; ".join(
        f"{prefix}{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}" for e in exc.errors()
    )


def save_settings(settings: Settings, path: Path) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(settings.model_dump(), ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)
