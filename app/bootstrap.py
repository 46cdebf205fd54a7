"""The composition root: how a process becomes a running HisCRM, for every mode.

    hiscrm serve / console:   lock = claim_home(paths)             one instance per home
                              engine = await open_engine(...)     phase 1: data ready
                              (the console attaches its window here: panes fill at once)
                              await start_engine(engine, ...)     phase 2: browsers, outbox,
                                                                  then the first-run set-up

The console (app/ui/app.py) and `hiscrm serve` (`serve` below) run these steps in this
order and nothing else builds an engine for a process; a remote worker (`worker` below:
phase 1 with its delta journal, then the engine alone, no first run) and the embedded
server are further modes composed from the same steps. Tests build theirs with
`Engine.create(...)`, the same object graph with parts injected.

The first start of a fresh install sets up the sandbox demo workspace (two demo accounts with
simulated audience traffic), so a new user sees comments and DMs arrive and can reply at once.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .engine.errors import StartupError
from .engine.home_lock import HomeInUse, HomeLock
from .engine.paths import AppPaths
from .engine.settings import Settings

if TYPE_CHECKING:
    from .engine.engine import Engine

log = logging.getLogger(__name__)

_claimed: dict[Path, HomeLock] = {}  # the homes this process claimed, for the engine it builds

__all__ = ["HomeInUse", "StartupError", "claim_home", "open_engine", "serve", "start_engine", "worker"]


def claim_home(paths: AppPaths) -> HomeLock:
    """Take the home's lock for the life of the process, before anything writes there;
    raises HomeInUse (naming the holder's pid) when another process runs on it. The engine
    built by `open_engine` on this home holds the same lock (the OS lock is per open file,
    so a second lock in this process would shut the engine out)."""
    lock = _claimed.get(paths.data_dir) or HomeLock(paths.data_dir)
    _claimed[paths.data_dir] = lock.acquire()
    return lock


async def open_engine(paths: AppPaths, settings: Settings, **options: Any) -> Engine:
    """Phase 1: build the engine (`options` go to Engine.create) and open its database,
    migrated. Building reads the keyring and imports the services and platforms: that runs on
    a worker thread, so a window on this loop keeps painting. A problem the operator can fix
    (settings, folders, the key file, the database, the home in use) is a StartupError."""
    def build() -> Engine:
        from .engine.engine import Engine

        options.setdefault("home_lock", _claimed.get(paths.data_dir))
        return Engine.create(paths, settings, **options)

    engine = await asyncio.get_running_loop().run_in_executor(None, build)
    try:
        await engine.open()
    except StartupError:
        await engine.db.close()
        raise
    return engine


async def start_engine(engine: Engine, *, started: Callable[[], None] | None = None,
                       require_server: bool = True) -> None:
    """Phase 2: the platforms, the browser pool, the outbox and, when the settings ask for
    it, the embedded server; then `started()` (the console says "Ready") and the first-run
    set-up. On failure the engine is stopped and StartupError raised; a server that cannot
    listen is a failure only when `require_server` (the console shows it in its settings)."""
    try:
        await engine.start()
        await switch_server(engine, required=require_server)
    except StartupError:
        await engine.stop()
        raise
    freeze_long_lived_objects()
    if started is not None:
        started()
    await set_up_first_run(engine)


async def switch_server(engine: Engine, *, required: bool) -> None:
    """The embedded server follows `settings.server` from now on (app/server/switch.py). When
    the settings ask for it at start and it cannot listen, `required` makes that a
    StartupError: `hiscrm serve --server` must not run without the server it was asked for."""
    from .server.switch import ServerSwitch

    switch = ServerSwitch(engine)
    engine.attach(switch)
    await switch.apply()
    if switch.error is not None and required:
        raise StartupError(f"the server cannot start: {switch.error}")


def running_servers(engine: Engine) -> list:
    """The embedded servers running for this engine (none, or the one the settings ask for)."""
    from .server.switch import ServerSwitch

    return [f.server for f in engine.front_ends if isinstance(f, ServerSwitch) and f.server is not None]


REPORT_INTERVAL_ENV = "HISCRM_REPORT_INTERVAL_S"  # seconds between serve's lines (tests: short)
HEARTBEAT_ENV = "HISCRM_WORKER_HEARTBEAT_S"  # seconds between a worker's heartbeats (tests: short)


def _stop_on_signals() -> asyncio.Event:
    """An event SIGINT/SIGTERM set (where the loop can take signal handlers)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows
            pass
    return stop


async def serve(paths: AppPaths, settings: Settings, *, start_browsers: bool = True,
                log_file: Path | None = None) -> int:
    """`hiscrm serve`: the engine without a window, until SIGINT/SIGTERM (the home already
    claimed by the caller). The terminal is told what runs and, each minute, what was stored
    (app/headless_report.py)."""
    from .headless_report import DEFAULT_INTERVAL_S, HeadlessReport

    stop = _stop_on_signals()
    try:
        engine = await open_engine(paths, settings, start_browsers=start_browsers)
        await start_engine(engine)
    except StartupError as exc:
        print(f"hiscrm: {exc}", file=sys.stderr)
        return exc.exit_code
    log.info("engine running headless; data in %s (Ctrl+C stops)", paths.data_dir)
    print(f"hiscrm: engine running headless, data in {paths.data_dir} (Ctrl+C stops)", flush=True)
    for server in running_servers(engine):
        print(f"hiscrm: server at {server.url} (the token: hiscrm token)", flush=True)
    interval = float(os.environ.get(REPORT_INTERVAL_ENV) or DEFAULT_INTERVAL_S)
    report = HeadlessReport(engine, log_file=log_file, interval_s=interval)
    try:
        await report.start()
        await stop.wait()
    finally:  # whatever the report met, the sessions are saved
        await report.stop()
        await engine.stop()
    return 0


async def worker(paths: AppPaths, settings: Settings, *, master_url: str, token: str,
                 worker_id: str | None = None, max_accounts: int = 10, version: str = "unknown") -> int:
    """`hiscrm worker`: the engine headless on its own home, holding the accounts a master
    assigns (app/worker), until SIGINT/SIGTERM. Every batch its pool stores goes first to
    the delta journal, which the link sends to the master; there is no first-run workspace
    and no server here. Exit code 2 when the master refuses the token."""
    from .engine.platform import PlatformError
    from .worker.answered import AnsweredReplies
    from .worker.identity import worker_id_for
    from .worker.journal import DeltaJournal
    from .worker.link import LinkOptions, MasterLink, Refused

    stop = _stop_on_signals()
    folder = paths.data_dir / "worker"
    try:
        worker_id = worker_id_for(folder, worker_id)
    except ValueError as exc:
        print(f"hiscrm: {exc}", file=sys.stderr)
        return 2
    journal = DeltaJournal(folder / "deltas.db")
    answered = AnsweredReplies(folder / "answered.db")
    try:
        try:
            engine = await open_engine(paths, settings, forward_batches=journal.append)
            await engine.start()
        except StartupError as exc:
            print(f"hiscrm: {exc}", file=sys.stderr)
            return exc.exit_code

        def runs_here(platform) -> bool:  # the sandbox needs its master's site (site_url)
            try:
                return bool(platform.home_url())
            except PlatformError:
                return False

        capabilities = tuple(p.name for p in engine.platforms.all() if runs_here(p))
        link = MasterLink(engine, journal, answered, LinkOptions(
            master_url, token, worker_id, max_accounts=max_accounts, capabilities=capabilities, version=version,
            heartbeat_s=float(os.environ.get(HEARTBEAT_ENV) or 10.0)))
        try:
            connecting = asyncio.ensure_future(link.start())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if connecting.done():
                try:
                    connecting.result()
                except Refused as exc:
                    print(f"hiscrm: {exc}", file=sys.stderr)
                    return 2
                print(f"hiscrm: worker {worker_id} attached to {master_url} ({', '.join(capabilities) or 'no platforms'};"
                      f" data in {paths.data_dir}; Ctrl+C stops)", flush=True)
                await stopping
            connecting.cancel()
            stopping.cancel()
        finally:
            await link.stop()
            await engine.stop()
    finally:
        journal.close()
        answered.close()
    return 0


async def set_up_first_run(engine: Engine) -> None:
    """Create the demo workspace once; a failure is logged and retried at the next start."""
    settings = engine.settings
    if settings.first_run_done or "sandbox" not in engine.platforms.names():
        return
    if not engine.settings_service.platform_config("sandbox").enabled:
        return
    try:
        from .platforms.sandbox.demo import setup_demo_workspace

        await setup_demo_workspace(engine)
    except Exception:
        log.exception("the demo workspace could not be set up; will try again next start")
        return
    try:
        engine.settings_service.update(first_run_done=True)
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
