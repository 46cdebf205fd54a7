"""Start the desktop console: Qt and asyncio on one loop (qasync), window first, engine next.

    run_gui(paths, settings)   # called by `hiscrm` / `hiscrm gui`

Order matters for how fast the console feels: the window is shown and painted before the
engine is built, so the first paint never waits for the database, the keyring or the
browsers (DESIGN.md goal: < 1.5 s). Then the engine starts; its database is ready before the
browser pool, and the panes fill in. A database or settings problem is shown in a message
box and the console exits cleanly instead of printing a traceback.

Quitting (menu, Ctrl+Q, closing the window, the tray) stops the engine before the process
ends, so the outbox and the browsers shut down in order.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any

import qasync
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from app.bootstrap import freeze_long_lived_objects, set_up_first_run
from app.engine.paths import AppPaths
from app.engine.settings import Settings, SettingsError

from .collector import MainThreadCollector
from .main_window import MainWindow

log = logging.getLogger(__name__)


def run_gui(paths: AppPaths, settings: Settings) -> int:
    """Run the console until the operator quits; returns the process exit code."""
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("HisCRM Console")
    app.setOrganizationName("HisCRM")
    app.setDesktopFileName("hiscrm")  # packaging/linux/hiscrm.desktop: the launcher's badge and icon
    # Closing the window ends `console()`, which stops the engine, which ends the loop.
    app.setQuitOnLastWindowClosed(False)
    apply_look(app, settings)
    collector = MainThreadCollector(app)
    collector.start()
    with asyncio.Runner(loop_factory=qasync.QEventLoop) as runner:
        try:
            return runner.run(console(app, paths, settings))
        except RuntimeError as exc:
            # QApplication.quit() from elsewhere ends the Qt loop under the coroutine: the
            # runner cancels it on close, and its `finally` still stops the engine.
            log.info("Qt loop ended before the console did (%s)", exc)
            return 0
        finally:
            collector.stop()


async def console(app: QApplication, paths: AppPaths, settings: Settings,
                  *, start_browsers: bool = True, window: MainWindow | None = None) -> int:
    """Show the window (a new one, or `window`: scripts that drive the console pass their
    own), start the engine, and wait for the operator to quit."""
    quit_event = asyncio.Event()
    window = window or MainWindow(paths.config_dir)
    window.quit_requested.connect(quit_event.set)
    app.aboutToQuit.connect(quit_event.set)
    window.show()
    await asyncio.sleep(0)  # let Qt paint the window before the engine work starts

    engine = None
    previous_handlers = _quit_on_signals(quit_event)
    try:
        engine = await start_engine(window, paths, settings, start_browsers=start_browsers)
        if engine is None:
            return 1
        await quit_event.wait()
        return 0
    finally:
        window.save_state()
        window.detach_engine()
        if engine is not None:
            window.set_engine_state(lambda: QCoreApplication.translate("MainWindow", "Stopping…"))
            await engine.stop()
        window.close()
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)


def _quit_on_signals(quit_event: asyncio.Event) -> dict[int, Any]:
    """SIGTERM (a logout, `kill`) and Ctrl+C in a terminal quit the way the menu does, so the
    engine stops in order; returns the handlers they replaced."""
    loop = asyncio.get_running_loop()
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, lambda *_: loop.call_soon_threadsafe(quit_event.set))
        except ValueError:  # not the main thread: whoever runs us handles signals
            pass
    return previous


async def start_engine(window: MainWindow, paths: AppPaths, settings: Settings,
                       *, start_browsers: bool = True):
    """Build and start the engine; on failure tell the operator and return None."""
    from app.engine.engine import Engine
    from app.engine.store.db import DatabaseError

    loop = asyncio.get_running_loop()
    try:
        # Engine.create reads the keyring and imports the platforms: off the Qt thread.
        engine = await loop.run_in_executor(
            None, lambda: Engine.create(paths, settings, start_browsers=start_browsers))
        await engine.db.upgrade()  # data first: the panes can fill while browsers start
    except (DatabaseError, SettingsError) as exc:
        await show_fatal_error(window, str(exc))
        return None
    window.attach_engine(engine)
    window.set_engine_state(lambda: QCoreApplication.translate("MainWindow", "Starting browsers…"))
    try:
        await engine.start()
    except (DatabaseError, SettingsError) as exc:
        window.detach_engine()
        await engine.stop()
        await show_fatal_error(window, str(exc))
        return None
    window.set_engine_state(lambda: QCoreApplication.translate("MainWindow", "Ready"))
    freeze_long_lived_objects()
    await set_up_first_run(engine)  # the sandbox demo workspace, once
    return engine


async def show_fatal_error(window: MainWindow, text: str) -> None:
    """A message box (opened, not exec'd: no nested loop) that the operator closes."""
    box = QMessageBox(QMessageBox.Icon.Critical,
                      QCoreApplication.translate("MainWindow", "HisCRM Console cannot start"),
                      text, QMessageBox.StandardButton.Close, window)
    box.setTextFormat(Qt.TextFormat.PlainText)
    closed = asyncio.get_running_loop().create_future()

    def on_finished(_result: int) -> None:
        if not closed.done():
            closed.set_result(None)

    box.finished.connect(on_finished)
    window.set_engine_state(text)
    window.fatal_error_box = box  # for tests
    box.open()
    await closed


def apply_look(app: QApplication, settings: Settings) -> None:
    """Theme and language, when those modules are present (they are optional extras)."""
    try:
        from .i18n import install_translator
        from .theme import apply_theme
    except ImportError as exc:
        log.warning("theme/translations unavailable: %s", exc)
        return
    apply_theme(app, settings)
    install_translator(app, settings)
