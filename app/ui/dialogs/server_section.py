"""The settings dialog's "Server" section: the embedded server that remote IM clients and
workers attach to (PROTOCOL.md).

The switch, address and port are saved with the rest of the settings (`settings.server`;
the server follows them). The token is shown masked, with Show and Copy; "New token" makes
one at once (the engine restarts the server with it, so clients with the old one are cut
off). The state line follows ServerStatusChanged: running at which address with how many IM
clients and workers, or why it is not running (a port in use, ...).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from app.engine.events import ServerStatusChanged
from app.engine.settings import ServerSettings
from app.ui.dialogs.base import role_label, set_form_labels

if TYPE_CHECKING:
    from app.ui.dialogs.base import EngineDialog


class ServerSection(QGroupBox):
    def __init__(self, dialog: "EngineDialog") -> None:
        super().__init__()
        self._dialog = dialog
        self._engine = dialog.engine
        self._token = ""
        self._setup_ui()
        dialog.events.server_status_changed.connect(self.show_status)
        self._dialog.call(self._engine.server_token.get(), self._token_loaded)

    def _setup_ui(self) -> None:
        self.enabled = QCheckBox()
        self.host = QLineEdit()
        self.port = QSpinBox()
        self.port.setRange(0, 65535)
        self.host.textChanged.connect(lambda _text: self._show_address())
        self.port.valueChanged.connect(lambda _value: self._show_address())
        self.token = QLineEdit()
        self.token.setReadOnly(True)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.show_token = QPushButton()
        self.show_token.setCheckable(True)
        self.show_token.toggled.connect(self._reveal)
        self.copy_token = QPushButton()
        self.copy_token.clicked.connect(lambda: QGuiApplication.clipboard().setText(self._token))
        self.new_token = QPushButton()
        self.new_token.clicked.connect(self._ask_new_token)
        tokens = QWidget()
        row = QHBoxLayout(tokens)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.token, 1)
        for button in (self.show_token, self.copy_token, self.new_token):
            row.addWidget(button)
        self.client_url = QLineEdit()
        self.client_url.setReadOnly(True)
        self.copy_url = QPushButton()
        self.copy_url.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.address_for_clients()))
        address = QWidget()
        row = QHBoxLayout(address)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.client_url, 1)
        row.addWidget(self.copy_url)
        self.url_hint = role_label("hint")
        self.url_hint.setWordWrap(True)
        self.state = role_label("hint")
        self.state.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow(self.enabled)
        form.addRow(QLabel(), self.host)
        form.addRow(QLabel(), self.port)
        form.addRow(QLabel(), tokens)
        form.addRow(QLabel(), address)
        form.addRow(QLabel(), self.url_hint)
        form.addRow(QLabel(), self.state)

    # ---- Settings -----------------------------------------------------------------------
    def load(self, server: ServerSettings) -> None:
        self.enabled.setChecked(server.enabled)
        self.host.setText(server.host)
        self.port.setValue(server.port)
        self.show_status(self._engine.server_status)

    def edited(self) -> dict[str, Any]:
        """`settings.server` as edited (what the dialog does not show is kept)."""
        host = self.host.text().strip() or "127.0.0.1"
        return {**self._engine.settings.server.model_dump(), "enabled": self.enabled.isChecked(), "host": host,
                "port": self.port.value()}

    # ---- The token ------------------------------------------------------------------------
    def _token_loaded(self, token: str) -> None:
        self._token = token
        self.token.setText(token)
        self.token.setCursorPosition(0)
        self._show_address()

    def _reveal(self, shown: bool) -> None:
        self.token.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)
        self.show_token.setText(self.tr("Hide") if shown else self.tr("Show"))
        self._show_address()

    def _ask_new_token(self) -> None:
        if self._engine.server_token.configured:
            self._dialog.show_error(self.tr("The token is set in the settings file or on the command line "
                                            "(server.token, --token); change it there."))
            return
        self._dialog.confirm(
            self.tr("New token"),
            self.tr("IM clients and workers using the current token are disconnected and must be given "
                    "the new one."),
            self.tr("New token"),
            lambda: self._dialog.call(self._engine.server_token.renew(), self._token_loaded))

    # ---- Address and state ---------------------------------------------------------------
    def address(self) -> str:
        """Where clients reach the server: the running one's address, else the one edited."""
        status = self._engine.server_status
        if status.running and status.url:
            return status.url
        host = self.host.text().strip() or "127.0.0.1"
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port.value()}"

    def address_for_clients(self) -> str:
        """The address with the token, as the original IM client takes it (`websocket.url`)."""
        return f"{self.address()}/?token={self._token}"

    def _show_address(self) -> None:
        token = self._token if self.show_token.isChecked() else "•" * 8
        self.client_url.setText(f"{self.address()}/?token={token}")

    def show_status(self, status: ServerStatusChanged) -> None:
        if status.running:
            self.state.setText(self.tr("Running at {url} · {clients} IM clients, {workers} workers").format(
                url=status.url, clients=status.im_clients, workers=status.workers))
        elif status.error:
            self.state.setText(self.tr("Not running: {error}").format(error=status.error))
        else:
            self.state.setText(self.tr("Not running"))
        self.state.setProperty("role", "success" if status.running else "error" if status.error else "hint")
        self.state.style().polish(self.state)
        self._show_address()

    def retranslate(self) -> None:
        self.setTitle(self.tr("Server"))
        self.enabled.setText(self.tr("Let IM clients and workers on other computers connect to this console"))
        set_form_labels(self.layout(), "", self.tr("Address"), self.tr("Port"), self.tr("Token"),
                        self.tr("For IM clients"))
        self.host.setToolTip(self.tr("127.0.0.1: this computer only; 0.0.0.0: every network interface"))
        self.port.setSpecialValueText(self.tr("any free port"))
        self.show_token.setText(self.tr("Hide") if self.show_token.isChecked() else self.tr("Show"))
        self.copy_token.setText(self.tr("Copy"))
        self.new_token.setText(self.tr("New token"))
        self.copy_url.setText(self.tr("Copy"))
        self.url_hint.setText(self.tr("Give IM clients this address (with the token); workers start with "
                                      "hiscrm worker --master ADDRESS --token TOKEN. Saved changes restart "
                                      "the server."))
        self.show_status(self._engine.server_status)
