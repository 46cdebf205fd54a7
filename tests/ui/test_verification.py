"""An account the platform holds for a check (a slider, a face check): the notification and the
account's menu offer to finish it in a visible browser, and a login there brings it back.
Real Chromium against the sandbox site, which holds a creator's account for a verification
through its control API; the desktop's notification service over a private D-Bus."""
from __future__ import annotations

import asyncio

import pytest

from app.platforms.sandbox.demo import log_in_with_control
from app.ui.dialogs.login import LoginDialog
from app.ui.main_window import MainWindow

from .conftest import notification_server, run, wait_until

pytestmark = pytest.mark.browser
CREATOR = "creator-verify"
BUTTON = "Open a browser to verify"


def wait_for_status(engine, qloop, account_id: str, status: str, timeout: float = 20) -> None:
    async def poll() -> None:
        while (await engine.accounts.get(account_id)).login_status != status:
            await asyncio.sleep(0.05)

    run(qloop, poll(), timeout)


@pytest.fixture
def notifications(qloop, session_bus):
    """The desktop's notification service: (what it received, the buttons of each, the server)."""
    from dbus_fast.aio import MessageBus

    received: list[tuple[str, str]] = []
    buttons: list[dict[str, str]] = []
    server = notification_server(received, buttons)

    async def serve() -> MessageBus:
        bus = await MessageBus().connect()
        bus.export("/org/freedesktop/Notifications", server)
        await bus.request_name("org.freedesktop.Notifications")
        return bus

    bus = run(qloop, serve())
    yield received, buttons, server
    bus.disconnect()
    run(qloop, asyncio.sleep(0.05))


def test_a_held_account_is_offered_a_visible_browser_and_logs_in_there(
        xvfb_display, browser_engine, notifications, qloop, qtbot, tmp_path, language):
    language("en")
    engine = browser_engine
    received, buttons, server = notifications
    control = engine.platforms.get("sandbox").control
    account_id = run(qloop, engine.accounts.create("sandbox", "Held shop"))
    run(qloop, log_in_with_control(engine, control, account_id, creator=CREATOR), timeout=60)
    window = MainWindow(tmp_path)
    qtbot.addWidget(window)
    window.attach_engine(engine)
    try:
        # The site holds the account; the next look at it finds out.
        run(qloop, control.set_standing(CREATOR, "verify"))
        run(qloop, engine.wake_account(account_id))
        wait_until(qloop, lambda: buttons and BUTTON in buttons[-1], timeout=60)
        assert received[-1][0] == "Verification needed"
        wait_for_status(engine, qloop, account_id, "needs_verification")

        # The account's menu offers the same.
        wait_until(qloop, lambda: (c := window.channels_model.channel(account_id)) is not None
                   and c.login_status == "needs_verification")
        menu = window.build_channel_menu(window.channels_model.channel(account_id))
        assert [a.text() for a in menu.actions()][0] == "Finish the verification in a browser…"
        menu.deleteLater()

        # The operator presses the notification's button: a login in a visible browser.
        server.press(len(received), buttons[-1][BUTTON])
        wait_until(qloop, lambda: isinstance(window.dialogs.get("login"), LoginDialog)
                   and window.dialogs["login"].session_id is not None, timeout=20)
        dialog = window.dialogs["login"]
        assert dialog.account_id == account_id
        assert engine.logins.session(dialog.session_id).visible

        # There the operator passes the check and confirms the login on the phone.
        run(qloop, control.set_standing(CREATOR, "ok"))
        ticket = run(qloop, control.wait_for_qr(timeout_s=30))
        run(qloop, control.confirm(ticket["token"], CREATOR))
        wait_until(qloop, lambda: dialog.state == "success", timeout=60)
        wait_for_status(engine, qloop, account_id, "logged_in")
    finally:
        for dialog in list(window.dialogs.values()):
            dialog.reject()
        window.detach_engine()


def test_only_a_held_account_logs_in_again_in_a_visible_browser(window, engine, account, qloop):
    wait_until(qloop, lambda: window.channels_model.channel(account) is not None)
    menu = window.build_channel_menu(window.channels_model.channel(account))
    assert "Finish the verification in a browser…" not in [a.text() for a in menu.actions()]
    menu.deleteLater()
    dialog = window.log_in(account)  # the chat's "Log in again"
    wait_until(qloop, lambda: dialog.session_id is not None)
    assert not engine.logins.session(dialog.session_id).visible
    dialog.reject()

    run(qloop, engine.accounts.set_login_status(account, "needs_verification", error="held"))
    wait_until(qloop, lambda: window.channels_model.channel(account).login_status == "needs_verification")
    dialog = window.log_in(account)
    wait_until(qloop, lambda: dialog.session_id is not None)
    assert engine.logins.session(dialog.session_id).visible
