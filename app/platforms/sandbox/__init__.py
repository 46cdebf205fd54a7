"""The sandbox platform: a local imitation of a creator site (site/), its audience simulator
(simulator.py) and the adapter that drives it through Chromium like a real platform
(adapter.py). Registered under the "hiscrm.platforms" entry point as the class
`SandboxPlatform`: each engine makes its own instance."""
from .adapter import SandboxPlatform
from .settings import SandboxSettings

__all__ = ["SandboxPlatform", "SandboxSettings"]
