"""The worker namespace `/worker`, master side (PROTOCOL.md §2 and the HisCRM additions):
remote workers register, hold accounts through RemoteHolder, beat, send their data and
relay logins and replies. `install(server)` adds it to the EmbeddedServer (app/server/app.py)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .link import WorkerLink

if TYPE_CHECKING:
    from ..app import EmbeddedServer

__all__ = ["WorkerLink", "install"]


def install(server: EmbeddedServer) -> None:
    server.worker_link = WorkerLink(server)
