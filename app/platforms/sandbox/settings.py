"""The sandbox's block of the settings file (`platforms.sandbox`)."""
from __future__ import annotations

from pydantic import Field

from app.engine.platform import PlatformSettings


class SandboxSettings(PlatformSettings):
    enabled: bool = True  # off: the local site is not started and there is no demo workspace
    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535)  # 0 = a free port
    demo_traffic: bool = True  # the audience simulator keeps the first-run workspace lively
    # Drive the sandbox site at this address instead of starting one: a remote worker
    # (`hiscrm worker`) drives the site its master runs, where the master's accounts live.
    site_url: str = Field("", max_length=2048, pattern=r"^(https?://\S+)?$")
