"""The sandbox platform: a local imitation of a creator site (site/), its audience simulator
(simulator.py) and the adapter that drives it through Chromium like a real platform
(adapter.py). Registered under the "hiscrm.platforms" entry point as `PLATFORM`."""
from .adapter import SandboxPlatform

PLATFORM = SandboxPlatform()

__all__ = ["PLATFORM", "SandboxPlatform"]
