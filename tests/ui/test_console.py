"""The whole console on its first run, as `make run` starts it: the sandbox workspace logs its
two demo accounts in through Chromium, audience traffic shows up in the panes, and a reply
typed in the chat pane goes out through the browser and is confirmed."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.engine.paths import app_paths
from app.engine.settings import Settings, load_settings
from app.ui.app import console
from app.ui.main_window import MainWindow
from app.ui.models.keyed import ObjectRole

from .conftest import run, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def items(model) -> list:
    return [model.index(row, 0).data(ObjectRole) for row in range(model.rowCount())] if model else []


def test_first_run_shows_live_sandbox_traffic_and_a_reply_is_confirmed(home, qapp, qloop, qtbot):
    qapp.setQuitOnLastWindowClosed(False)
    paths = app_paths(home).ensure()
    settings = Settings(language="en")
    settings.platforms["sandbox"] = {"demo_traffic": False}  # the test plays the audience
    window = MainWindow(paths.config_dir)
    session = qloop.create_task(console(qapp, paths, settings, window=window))
    try:
        wait_until(qloop, lambda: settings.first_run_done, timeout=120)
        assert load_settings(paths.settings_file).first_run_done  # the next start skips the demo set-up
        channels = items(window.channels_model)
        assert len(channels) == 2 and {c.login_status for c in channels} == {"logged_in"}

        engine = window.engine
        control = engine.platforms.get("sandbox").control
        target = channels[0]
        run(qloop, control.inject_dm("王小明", "你好，想问一下商务合作怎么联系？", creator=target.name))
        window.open_channel(target.account_id)
        wait_until(qloop, lambda: any(t.last_message_preview and "商务合作" in t.last_message_preview
                                      for t in items(window.topics_pane.model)), timeout=20)
        row = next(i for i, t in enumerate(items(window.topics_pane.model)) if "商务合作" in t.last_message_preview)
        window.topics_pane.list.setCurrentIndex(window.topics_pane.model.index(row, 0))
        wait_until(qloop, lambda: any(m.text == "你好，想问一下商务合作怎么联系？" for m in items(window.chat.model)))

        qtbot.keyClicks(window.chat.reply_box.input, "Please email us at biz@example.com")
        qtbot.keyClick(window.chat.reply_box.input, Qt.Key.Key_Return)
        ours = lambda: next((m for m in items(window.chat.model)  # noqa: E731
                             if m.text == "Please email us at biz@example.com"), None)
        wait_until(qloop, lambda: ours() is not None)  # shown at once, before it is sent
        wait_until(qloop, lambda: ours().reply_status == "confirmed", timeout=60)
        # The site has the reply exactly once.
        [conversation] = [c for c in run(qloop, control.conversations(target.name))
                          if c["peer"]["nickname"] == "王小明"]
        sent = [m["content"]["text"] for m in conversation["messages"] if m["is_from_me"]]
        assert sent.count("Please email us at biz@example.com") == 1
    finally:
        window.quit_requested.emit()
        assert run(qloop, session, timeout=60) == 0


def test_a_second_console_brings_the_running_window_forward(home, qapp, qloop, qtbot):
    """A second start on the same home is refused (the home lock); the running console's
    window comes forward instead of a second one appearing."""
    from app.ui.app import WindowSummoner, summon_running_console

    paths = app_paths(home).ensure()
    window = MainWindow(paths.config_dir)
    summoner = WindowSummoner(paths, window)
    try:
        with qtbot.waitSignal(summoner.summoned, timeout=5000):
            assert summon_running_console(paths)
        wait_until(qloop, window.isVisible)
    finally:
        summoner.close()
        window.close()
    assert not summon_running_console(app_paths(home / "other"), timeout_ms=500)  # per home


def test_a_settings_file_the_console_cannot_read_is_told_in_a_message_box(home, qapp):
    """Started from a menu, the console has no terminal: what stops it before its window
    exists is shown in a box (and still printed, with the exit code for a settings problem)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.cli import main

    settings_file = app_paths(str(home)).ensure().settings_file
    settings_file.write_text("[" * 2000, encoding="utf-8")  # nested too deep to be settings
    shown: list[str] = []

    def read_and_close() -> None:
        box = QApplication.activeModalWidget()
        if box is None:
            QTimer.singleShot(50, read_and_close)
            return
        shown.append(box.text())
        box.close()

    QTimer.singleShot(0, read_and_close)
    assert main(["--home", str(home)]) == 2
    assert len(shown) == 1 and str(settings_file) in shown[0]
