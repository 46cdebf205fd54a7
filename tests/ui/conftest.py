"""Fixtures for the console's widgets: one qasync loop on the test's QApplication and a real
engine on a temporary SQLite file (no browsers), filled through the DataStore.

The widgets run engine coroutines as tasks on the loop, so a test drives them inside
`run(qloop, ...)` / `wait_until(qloop, ...)`, which run the Qt and asyncio loop together.
"""
from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable

import pytest
import qasync
import shiboken6
from PySide6 import QtCore

from app.engine.engine import Engine
from app.engine.im.types import TopicRef
from app.engine.paths import app_paths
from app.engine.records import Batch
from app.engine.outbox import ReplyStateError
from app.engine.settings import Settings
from app.ui.bridge import EngineBridge
from app.ui.collector import MainThreadCollector
from app.ui.i18n import install_translator
from app.ui.theme import apply_theme

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


def run(loop: qasync.QEventLoop, coro: Awaitable[Any], timeout: float = 20) -> Any:
    """Run `coro` on the loop, processing Qt events (and so the loop's callbacks) meanwhile."""
    task = loop.create_task(asyncio.wait_for(coro, timeout))
    waiter = QtCore.QEventLoop()
    task.add_done_callback(lambda _task: waiter.quit())
    while not task.done():
        waiter.exec()
    return task.result()


def wait_until(loop: qasync.QEventLoop, predicate: Callable[[], Any], timeout: float = 10) -> None:
    """Run the loop until `predicate()` is true (fails the test after `timeout` seconds)."""
    deadline = time.monotonic() + timeout

    async def poll() -> None:
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {predicate}")
            await asyncio.sleep(0.01)

    run(loop, poll(), timeout + 5)


def settle(loop: qasync.QEventLoop, seconds: float = 0.3) -> None:
    """Let queued events, debounce timers and tasks run for a while."""
    run(loop, asyncio.sleep(seconds))


@pytest.fixture(scope="session", autouse=True)
def collector(qapp):
    """Garbage collection on the Qt thread, as in the console (app/ui/collector.py)."""
    collector = MainThreadCollector(qapp)
    collector.start()
    yield collector
    collector.stop()


@pytest.fixture
def qloop(qapp):
    """The asyncio loop on Qt's, marked running for the whole test (as it is in the console):
    whenever Qt processes events (a wait, a click, a paint) the loop's callbacks run with
    the loop current, exactly as under `run_gui`."""
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        run(loop, asyncio.wait(pending, timeout=5))
    # What stop() + aboutToQuit do for an already-running loop, minus stop()'s
    # QApplication.exit(), which would end the next test's waits at once.
    loop._QEventLoop__is_running = False
    loop._after_run_forever()
    asyncio.events._set_running_loop(None)
    loop.close()
    asyncio.set_event_loop(None)


def quiet_settings() -> Settings:
    settings = Settings()
    settings.platforms["sandbox"] = {"enabled": False}  # no local site: these tests fill data by ingest
    settings.first_run_done = True
    return settings


@pytest.fixture
def engine(home, qloop):
    engine = Engine.create(app_paths(home), quiet_settings(), start_browsers=False)
    run(qloop, engine.start())
    yield engine
    run(qloop, engine.stop())


@pytest.fixture
def bridge(engine, qloop):
    """The engine's events as Qt signals; models made in a test hang under it (parent), so
    Qt objects are deleted here on the Qt thread, not by a garbage collection elsewhere."""
    bridge = EngineBridge(engine.bus)
    yield bridge
    bridge.close()
    bridge.deleteLater()
    settle(qloop, 0.05)


@pytest.fixture
def account(engine, qloop) -> str:
    return run(qloop, engine.accounts.create("sandbox", "Shop A"))


def comments(video: str, count: int, *, start: int = 0, prefix: str = "c", author: str = "Bob",
             at: datetime = T0) -> list[dict[str, Any]]:
    """`count` audience comments on `video`, one minute apart."""
    return [
        {
            "platform_comment_id": f"{prefix}{i}",
            "platform_content_id": video,
            "author_id": f"u-{author}",
            "author_name": author,
            "text": f"comment {i}",
            "created_at": at + timedelta(minutes=i),
        }
        for i in range(start, start + count)
    ]


def ingest(loop, engine, account_id: str, **records: list[dict[str, Any]]):
    result = run(loop, engine.store.ingest(Batch(account_id, **records)))
    assert not result.rejected, result.rejected
    return result


def open_first_topic(loop, window, topics: int = 1) -> None:
    """Open the newest topic of the open account as the operator would (Alt+Down): the
    console opens none by itself, so nothing is marked read that nobody chose."""
    wait_until(loop, lambda: window.topics_pane.model is not None
               and window.topics_pane.model.rowCount() == topics)
    window.topics_pane.move(1)
    wait_until(loop, lambda: window.chat.topic is not None)


def video_ref(account_id: str, video: str = "v1") -> TopicRef:
    return TopicRef(account_id, "content", video)


def dm_ref(account_id: str, conversation: str = "d1") -> TopicRef:
    return TopicRef(account_id, "conversation", conversation)


def cancel_when_possible(loop, engine, reply_id: str, timeout: float = 10) -> None:
    """Cancel a reply; while the dispatcher is sending it (no browsers here, so it soon goes
    back to the queue), try again."""
    deadline = time.monotonic() + timeout

    async def cancel() -> None:
        while True:
            try:
                await engine.outbox.cancel(reply_id)
                return
            except ReplyStateError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)

    run(loop, cancel(), timeout + 5)


@pytest.fixture
def language(qapp):
    """Switch the application's language (and theme) for a test; English and light after."""

    def switch(name: str) -> str:
        shown = install_translator(qapp, Settings(language=name))
        qapp.processEvents()  # widgets hear of the change through posted LanguageChange events
        return shown

    yield switch
    install_translator(qapp, Settings(language="en"))
    apply_theme(qapp, Settings(theme="light"))


@pytest.fixture
def shown(qapp):
    """Show a dialog for the test; close it afterwards unless it closed (and deleted) itself.
    (No main window here: a closing dialog must not end the application.)"""
    qapp.setQuitOnLastWindowClosed(False)
    dialogs = []

    def show(dialog):
        dialog.show()
        dialogs.append(dialog)
        return dialog

    yield show
    for dialog in dialogs:
        if shiboken6.isValid(dialog):
            dialog.close()


@pytest.fixture
def window(engine, qloop, qtbot, tmp_path, language):
    """The console's main window on `engine`, shown, in English (plural forms come from
    hiscrm_en.qm, as in the console); dialogs it opened are closed afterwards."""
    from app.ui.main_window import MainWindow

    language("en")
    window = MainWindow(tmp_path)
    qtbot.addWidget(window)
    window.attach_engine(engine)
    window.show()
    qtbot.waitExposed(window)
    yield window
    for dialog in list(window.dialogs.values()):
        if shiboken6.isValid(dialog):
            dialog.reject()
    window.detach_engine()


@pytest.fixture
def browser_engine(home, qloop):
    """The engine with its browser pool and the sandbox site, as the console runs it."""
    settings = Settings(headless_browser=True)  # Chromium found by the app's own discovery
    settings.platforms["sandbox"] = {"demo_traffic": False}
    engine = Engine.create(app_paths(home), settings, start_browsers=True)
    run(qloop, engine.start(), timeout=60)
    yield engine
    run(qloop, engine.stop(), timeout=60)


@pytest.fixture
def session_bus(monkeypatch):
    """A private D-Bus session bus (skipped where dbus-daemon is not installed)."""
    daemon = shutil.which("dbus-daemon")
    if not daemon:
        pytest.skip("dbus-daemon is not installed")
    process = subprocess.Popen([daemon, "--session", "--nofork", "--print-address=1"],
                               stdout=subprocess.PIPE, text=True)
    address = process.stdout.readline().strip()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    yield address
    process.terminate()
    process.wait(timeout=10)


def notification_server(received: list[tuple[str, str]], actions: list[dict[str, str]] | None = None):
    """A freedesktop notification server that parses markup, as GNOME's and KDE's do. It
    lists each notification's buttons ({label: action key}) in `actions`; `press(id, key)`
    is the operator pressing one (the server's ActionInvoked signal)."""
    from dbus_fast.service import ServiceInterface, method, signal

    class Server(ServiceInterface):
        def __init__(self) -> None:
            super().__init__("org.freedesktop.Notifications")

        @method()
        def GetCapabilities(self) -> "as":  # noqa: F821,N802
            return ["body", "body-markup", "actions"]

        @method()
        def GetServerInformation(self) -> "ssss":  # noqa: F821,N802
            return ["test-server", "hiscrm", "1.0", "1.2"]

        @method()
        def Notify(self, app_name: "s", replaces_id: "u", app_icon: "s", summary: "s",  # noqa: F821,N802
                   body: "s", actions: "as", hints: "a{sv}", expire_timeout: "i") -> "u":  # noqa: F821
            received.append((summary, body))
            if actions_seen is not None:  # pairs of (key, label)
                actions_seen.append(dict(zip(actions[1::2], actions[0::2])))
            return len(received)

        @method()
        def CloseNotification(self, id_: "u"):  # noqa: F821,N802
            pass

        @signal()
        def ActionInvoked(self, notification_id, action_key) -> "us":  # noqa: F821,N802
            return [notification_id, action_key]

        def press(self, notification_id: int, action_key: str) -> None:
            self.ActionInvoked(notification_id, action_key)

    actions_seen = actions
    return Server()
