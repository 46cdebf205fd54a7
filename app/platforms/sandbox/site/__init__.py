"""The sandbox site: a local imitation of a creator platform (see app.py)."""
from .app import SandboxSite, create_app
from .state import Faults, World

__all__ = ["Faults", "SandboxSite", "World", "create_app"]
