"""Notifications and the unread count where the desktop has no system tray (offscreen Qt has
none): notifications go to the desktop's notification service over a real D-Bus session bus,
with platform text as plain text, and the window's title carries the unread count."""
from __future__ import annotations

import asyncio
import shutil
from datetime import timedelta
import subprocess

import pytest
from PySide6.QtWidgets import QSystemTrayIcon, QWidget

from app.ui.main_window import MainWindow
from app.ui.tray import Tray

from .conftest import T0, comments, ingest, run, wait_until


def test_the_window_title_carries_the_unread_count(engine, qloop, qtbot, tmp_path, account, language):
    language("en")
    window = MainWindow(tmp_path)
    qtbot.addWidget(window)
    window.attach_engine(engine)
    # The unread messages are in a second, quieter account, whose topics nobody opens.
    ingest(qloop, engine, account, comments=comments("v1", 1, at=T0 + timedelta(days=1)))
    run(qloop, engine.views.mark_all_read())
    other = run(qloop, engine.accounts.create("sandbox", "Shop B"))
    ingest(qloop, engine, other, comments=comments("w1", 3))
    wait_until(qloop, lambda: window.windowTitle() == "(3) HisCRM Console")
    run(qloop, engine.views.mark_all_read())
    wait_until(qloop, lambda: window.windowTitle() == "HisCRM Console")
    language("zh_CN")
    ingest(qloop, engine, other, comments=comments("w1", 1, start=3))
    wait_until(qloop, lambda: window.windowTitle() == "(1) HisCRM 控制台")
    window.detach_engine()


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


def notification_server(received: list[tuple[str, str]]):
    """A freedesktop notification server that parses markup, as GNOME's and KDE's do."""
    from dbus_fast.service import ServiceInterface, method

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
            return len(received)

        @method()
        def CloseNotification(self, id_: "u"):  # noqa: F821,N802
            pass

    return Server()


def test_notifications_reach_the_desktop_service_as_plain_text_without_a_tray(
        engine, account, qloop, qtbot, session_bus, language):
    from dbus_fast.aio import MessageBus

    language("en")
    received: list[tuple[str, str]] = []

    async def serve() -> MessageBus:
        bus = await MessageBus().connect()
        bus.export("/org/freedesktop/Notifications", notification_server(received))
        await bus.request_name("org.freedesktop.Notifications")
        return bus

    bus = run(qloop, serve())
    window = QWidget()
    qtbot.addWidget(window)
    tray = Tray(engine, window)
    assert not QSystemTrayIcon.isSystemTrayAvailable() and not tray.available
    try:
        ingest(qloop, engine, account, comments=[{
            "platform_comment_id": "c1", "platform_content_id": "v1", "author_id": "u1",
            "author_name": "Ann", "text": "<b>50% off?</b> & free shipping",
            "created_at": comments("v1", 1)[0]["created_at"]}])
        wait_until(qloop, lambda: received)
        assert received == [("Shop A", "&lt;b&gt;50% off?&lt;/b&gt; &amp; free shipping")]
        assert tray.delivered == ["desktop"]
    finally:
        tray.close()
        bus.disconnect()
        run(qloop, asyncio.sleep(0.05))
