"""Start-up steps shared by the console and `hiscrm serve`, once per process.

The first start of a fresh install sets up the sandbox demo workspace (two demo accounts with
simulated audience traffic), so a new user sees comments and DMs arrive and can reply at once.
"""
from __future__ import annotations

import gc
import logging

from .engine.engine import Engine
from .engine.settings import save_settings

log = logging.getLogger(__name__)


async def set_up_first_run(engine: Engine) -> None:
    """Create the demo workspace once; a failure is logged and retried at the next start."""
    settings = engine.settings
    if settings.first_run_done or not settings.sandbox.enabled:
        return
    try:
        from .platforms.sandbox.demo import setup_demo_workspace

        await setup_demo_workspace(engine)
    except Exception:
        log.exception("the demo workspace could not be set up; will try again next start")
        return
    settings.first_run_done = True
    try:
        save_settings(settings, engine.paths.settings_file)
    except OSError as exc:
        log.warning("could not save the settings: %s", exc)


def freeze_long_lived_objects() -> None:
    """Exclude what exists after start-up (modules, compiled statements, the services) from
    future garbage collections. A full collection walks every tracked object while holding
    the GIL, so every thread, the event loop (in the console: the window) included, stops
    for it: about 40 ms with this program loaded. Frozen, the walk covers only what was made
    since, a few ms."""
    gc.collect()
    gc.freeze()
