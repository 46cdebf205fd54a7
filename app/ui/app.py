"""Start the desktop console: Qt and asyncio on one loop (qasync), window first, engine next.

    run_gui(paths, settings)   # called by `hiscrm` / `hiscrm gui`

Order matters for how fast the console feels: the window is shown and painted before the
engine is built, so the first paint never waits for the database, the keyring or the
browsers (DESIGN.md goal: < 1.5 s). Then the engine starts in the composition root's two
phases (app/bootstrap.py): its database is ready first, the window attaches and the panes
fill in, then the browser pool starts. A database or settings problem is shown in a message
box and the console exits cleanly instead of printing a traceback.

A second console on the same home is refused (the home lock, taken by app.cli before this
runs): it shows why and brings the running console's window forward, through a local socket
named after the home that the running console listens on.

Quitting (menu, Ctrl+Q, closing the window, the tray) stops the engine before the process
ends, so the outbox and the browsers shut down in order.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import signal
import sys
from typing import Any

import qasync
from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QApplication, QMessageBox

from app.bootstrap import StartupError, open_engine
from app.bootstrap import start_engine as start_engine_phase
from app.engine.paths import AppPaths
from app.engine.settings import Settings, SettingsError, load_settings

from .collector import MainThreadCollector
from .look import apply_look  # noqa: F401 - also app.ui.app.apply_look for scripts and benchmarks
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
    summoner = WindowSummoner(paths, window)
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
        summoner.close()
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
    """Build and start the engine (data first, then the window attaches, then the browsers);
    on failure tell the operator and return None."""
    try:
        engine = await open_engine(paths, settings, start_browsers=start_browsers)
    except StartupError as exc:
        await show_fatal_error(window, str(exc))
        return None
    window.attach_engine(engine)
    window.set_engine_state(lambda: QCoreApplication.translate("MainWindow", "Starting browsers…"))
    try:
        await start_engine_phase(
            engine, started=lambda: window.set_engine_state(lambda: QCoreApplication.translate("MainWindow", "Ready")),
            require_server=False)
    except StartupError as exc:
        window.detach_engine()
        await show_fatal_error(window, str(exc))
        return None
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


class WindowSummoner(QObject):
    """Listens, while the console runs, for a second console started on the same home: it
    connects to a local socket named after the home, and this window comes forward."""

    # emitted when a second console asked for the window
    summoned = Signal()

    def __init__(self, paths: AppPaths, window: MainWindow | None = None) -> None:
        super().__init__(window)
        self._server = QLocalServer(self)
        name = summon_name(paths)
        QLocalServer.removeServer(name)  # a socket file left by a killed console (we hold the home lock)
        if not self._server.listen(name):
            log.info("cannot listen for a second console (%s)", self._server.errorString())
        self._server.newConnection.connect(self._on_connection)
        if window is not None:
            self.summoned.connect(lambda: bring_forward(window))

    def close(self) -> None:
        self._server.close()

    def _on_connection(self) -> None:
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.disconnected.connect(socket.deleteLater)
            socket.disconnectFromServer()
            log.info("a second console was started on this home; this window comes forward")
            self.summoned.emit()


def summon_name(paths: AppPaths) -> str:
    """The local socket's name for a home (the same for every console on it)."""
    return "hiscrm-" + hashlib.sha256(str(paths.data_dir.resolve()).encode()).hexdigest()[:24]


def summon_running_console(paths: AppPaths, timeout_ms: int = 2000) -> bool:
    """Ask the console running on this home to bring its window forward; True when it heard."""
    socket = QLocalSocket()
    socket.connectToServer(summon_name(paths))
    connected = socket.waitForConnected(timeout_ms)
    socket.abort()
    return connected


def bring_forward(window: MainWindow) -> None:
    window.showNormal()
    window.raise_()
    window.activateWindow()


def refuse_second_console(paths: AppPaths, holder_pid: int | None) -> None:
    """This home has a running console (or `hiscrm serve`): bring its window forward and say
    so in a message box, then return (the caller exits)."""
    app = QApplication.instance() or QApplication(sys.argv)
    try:
        apply_look(app, load_settings(paths.settings_file))
    except SettingsError:
        apply_look(app, Settings())
    summon_running_console(paths)
    text = QCoreApplication.translate(
        "MainWindow", "HisCRM is already running on this data folder (process {pid}): use that window, "
        "or quit it before starting another.\n\nData folder: {folder}").format(
        pid=holder_pid or "?", folder=str(paths.data_dir))
    box = QMessageBox(QMessageBox.Icon.Information,
                      QCoreApplication.translate("MainWindow", "HisCRM Console is already running"),
                      text, QMessageBox.StandardButton.Close)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.exec()


def show_startup_error(text: str) -> None:
    """A problem met before the window exists (the settings file, the home or log folder): a
    message box, so an operator who started the console from a menu sees it (stderr is
    nowhere to be seen there). The caller exits afterwards."""
    app = QApplication.instance() or QApplication(sys.argv)
    apply_look(app, Settings())
    box = QMessageBox(QMessageBox.Icon.Critical,
                      QCoreApplication.translate("MainWindow", "HisCRM Console cannot start"),
                      text, QMessageBox.StandardButton.Close)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.exec()
