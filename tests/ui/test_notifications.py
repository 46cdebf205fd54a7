"""Notifications and the unread count where the desktop has no system tray (offscreen Qt has
none): notifications go to the desktop's notification service over a real D-Bus session bus,
with platform text as plain text, and the window's title carries the unread count."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from PySide6.QtWidgets import QSystemTrayIcon, QWidget

from app.ui.main_window import MainWindow
from app.ui.tray import Tray

from .conftest import T0, comments, ingest, notification_server, run, wait_until


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
