"""The settings dialog's Server section: switching the embedded server on, its live state,
the token (masked, Show, Copy, New token, which restarts the server) and a port in use."""
from __future__ import annotations

import socket

import aiohttp
import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialogButtonBox, QLineEdit, QMessageBox

from app.server.switch import ServerSwitch
from app.ui.dialogs.settings import SettingsDialog

from .conftest import run, wait_until


@pytest.fixture
def switch(engine, qloop):
    """The server follows the settings, as in the console (app/bootstrap.py)."""
    switch = ServerSwitch(engine)
    yield switch
    run(qloop, switch.stop())


async def status_code(url: str, token: str) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/api/v1/status", params={"token": token}) as response:
            return response.status


def save(dialog) -> None:
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()


def test_the_server_is_switched_on_shown_running_and_its_token_renewed(engine, qloop, switch, shown, language):
    dialog = shown(SettingsDialog(engine))
    section = dialog.server
    wait_until(qloop, lambda: section.token.text() != "")
    assert section.state.text() == "Not running" and not section.enabled.isChecked()
    assert section.token.echoMode() == QLineEdit.EchoMode.Password
    token = run(qloop, engine.server_token.get())
    assert section.token.text() == token and token not in section.client_url.text()  # masked
    section.show_token.click()
    assert section.token.echoMode() == QLineEdit.EchoMode.Normal and token in section.client_url.text()
    section.copy_token.click()
    assert QGuiApplication.clipboard().text() == token

    section.enabled.setChecked(True)
    section.port.setValue(0)  # any free port
    save(dialog)
    assert engine.settings.server.enabled
    wait_until(qloop, lambda: engine.server_status.running)
    url = switch.server.url
    assert run(qloop, status_code(url, token)) == 200

    again = shown(SettingsDialog(engine))
    section = again.server
    wait_until(qloop, lambda: section.token.text() == token)
    assert section.state.text() == f"Running at {url} · 0 IM clients, 0 workers"
    assert section.state.property("role") == "success"
    assert section.address_for_clients() == f"{url}/?token={token}"
    section.copy_url.click()
    assert QGuiApplication.clipboard().text() == f"{url}/?token={token}"

    first = switch.server
    section.new_token.click()
    box = again.confirm_box
    assert box is not None and "disconnected" in box.text()
    box.button(QMessageBox.StandardButton.Yes).click()
    wait_until(qloop, lambda: section.token.text() not in ("", token))
    new = section.token.text()
    wait_until(qloop, lambda: switch.server is not None and switch.server is not first)
    url = switch.server.url
    wait_until(qloop, lambda: section.state.text().startswith(f"Running at {url}"))
    assert run(qloop, status_code(url, token)) == 401 and run(qloop, status_code(url, new)) == 200


def test_a_port_in_use_is_shown_with_the_reason(engine, qloop, switch, shown, language):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        dialog = shown(SettingsDialog(engine))
        dialog.server.enabled.setChecked(True)
        dialog.server.port.setValue(taken.getsockname()[1])
        save(dialog)
        again = shown(SettingsDialog(engine))
        wait_until(qloop, lambda: "in use" in again.server.state.text())
        assert again.server.state.text().startswith("Not running: ")
        assert again.server.state.property("role") == "error"
        language("zh_CN")
        assert again.server.title() == "服务器" and again.server.state.text().startswith("未运行：")
    finally:
        taken.close()
